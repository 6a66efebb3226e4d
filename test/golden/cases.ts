// Golden configs: each directory here is a case, <case>/input/*.yaml the Gateway API objects
// (read as `waygate render` reads files: validated against the CRDs and defaulted) and
// <case>/http.conf the config they render to. test/unit/render.test.ts only compares;
// `npm run golden:update` (scripts/update-goldens.ts) rewrites the expected files, for a
// reviewer to read in the diff.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { buildHttpModel } from '../../operator/src/dataplane/build.ts';
import { defaultControllerName, supportedFeatures } from '../../operator/src/features.ts';
import { buildGraph } from '../../operator/src/graph/graph.ts';
import { renderConfig } from '../../operator/src/render/render.ts';
import { formatLoadError, loadFiles } from '../../operator/src/sources/files.ts';
import { Store } from '../../operator/src/store.ts';

export const goldenDir = import.meta.dirname;

/** The cases: directories with an input/ folder, sorted. */
export function goldenCases(): string[] {
  return readdirSync(goldenDir, { withFileTypes: true })
    .filter((e) => e.isDirectory() && existsSync(join(goldenDir, e.name, 'input')))
    .map((e) => e.name)
    .sort();
}

export const expectedPath = (name: string) => join(goldenDir, name, 'http.conf');

/** Renders a case's http.conf. A fixture the API server would refuse is an error, not a smaller golden. */
export function renderCase(name: string): string {
  const { objects, errors } = loadFiles([join(goldenDir, name, 'input')]);
  if (errors.length) throw new Error(`golden case ${name}: ${errors.map(formatLoadError).join('; ')}`);
  const store = new Store();
  for (const o of objects) store.upsert(o);
  const graph = buildGraph(store.snapshot(), { controllerName: defaultControllerName, supportedFeatures });
  return renderConfig(buildHttpModel(graph)).files['http.conf'];
}
