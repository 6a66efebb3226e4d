// `waygate render [--status] PATH...`: the nginx config (or every object's status) for a
// set of YAML files, without a cluster or nginx. For review, CI diffs and bug reports.
import { Reason } from '../graph/conditions.ts';
import { desiredStatuses } from '../graph/status.ts';
import { buildConfiguration } from '../pipeline.ts';
import { formatLoadError, loadFiles } from '../sources/files.ts';
import { LocalStatus } from '../status/view.ts';
import { Store } from '../store.ts';

export interface RenderOutput {
  stdout: string;
  stderr: string;
  exitCode: number;
}

export function renderCommand(paths: readonly string[], opts: { status: boolean; controllerName: string; supportedFeatures: readonly string[] }): RenderOutput {
  if (!paths.length) return { stdout: '', stderr: 'usage: waygate render [--status] PATH...\n', exitCode: 2 };
  const { objects, errors } = loadFiles(paths);
  const stderr = errors.map((e) => `error: ${formatLoadError(e)}\n`).join('');
  // Unreadable files and broken YAML fail the command; objects the API server would
  // refuse are reported and left out, as `kubectl apply` would leave them out.
  const fatal = errors.some((e) => !e.object);
  const store = new Store();
  for (const o of objects) store.upsert(o);
  const graphOpts = { controllerName: opts.controllerName, supportedFeatures: opts.supportedFeatures };
  // The whole pipeline even for --status: rules nginx cannot express are reported too.
  const { graph, config } = buildConfiguration(store.snapshot(), graphOpts);
  let stdout: string;
  if (opts.status) {
    const local = new LocalStatus(opts.controllerName);
    local.apply(desiredStatuses(graph, graphOpts, { ok: false, reason: Reason.Pending, message: 'render mode does not program nginx' }));
    stdout = local.toYaml(objects);
  } else {
    stdout = Object.entries(config.files).map(([name, text]) => `# ==== ${name} ====\n${text}`).join('\n');
  }
  return { stdout, stderr, exitCode: fatal ? 1 : 0 };
}
