// The nginx agent's public API, for the sidecar entrypoint (main.ts) and for the operator
// (standalone mode runs the agent in-process; readVerdict reads the agent's judgement).
export { startAgent, type Agent, type AgentOptions } from './agent.ts';
export { readVerdict, verdictPath, type Verdict } from './verdict.ts';
export { isVersionName, nextVersion, versionDir, versionsDir, type SourceRange, type VersionMeta } from './versions.ts';
export { ensurePrivateDir, privateDirProblem, privateTempDir } from './private-dir.ts';
