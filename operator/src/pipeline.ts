// The pure pipeline between the store and the files: graph -> model -> render, with one
// object's failure kept that object's. A rule the data plane cannot express comes back as
// a model problem: the graph is built again with that rule marked (so its route reports
// it, with the field, and attachment and status agree with what nginx gets). If rendering
// itself fails, the routes without which it succeeds are found (isolate.ts) and rejected.
import { buildHttpModel, defaultBuildOptions, type BuildOptions } from './dataplane/build.ts';
import type { HttpModel, ModelProblem } from './dataplane/model.ts';
import { buildStreamModel } from './dataplane/stream.ts';
import type { StreamModel } from './dataplane/stream-model.ts';
import { buildGraph } from './graph/graph.ts';
import type { Graph, GraphOptions } from './graph/types.ts';
import { findCulpritsSync } from './isolate.ts';
import { renderConfig, type RenderedConfig } from './render/render.ts';
import type { Snapshot } from './store.ts';

export interface PipelineOptions extends GraphOptions {
  build?: BuildOptions;
  /** Order of suspicion for a failure no object claims: higher = changed more recently. */
  recency?: (key: string) => number;
}

export interface PipelineResult {
  graph: Graph;
  model: HttpModel;
  stream: StreamModel;
  config: RenderedConfig;
  /** Graph options the result was built with (incl. rejections found here). */
  graphOptions: GraphOptions;
}

/** Passes of the graph: each pass can only add problems, and they rarely chain. */
const MAX_PASSES = 4;

function withModelProblems(opts: GraphOptions, problems: readonly ModelProblem[]): GraphOptions {
  const byRoute = new Map<string, Map<number, string>>();
  for (const [route, rules] of opts.modelProblems ?? []) byRoute.set(route, new Map(rules));
  for (const p of problems) {
    let rules = byRoute.get(p.route);
    if (!rules) byRoute.set(p.route, (rules = new Map()));
    rules.set(p.rule, `${p.field}: nginx configuration cannot express this rule: ${p.message}`);
  }
  return { ...opts, modelProblems: byRoute };
}

/** Graph options with whole routes rejected (they are left out and report `message`). */
export function withRejectedRoutes<O extends GraphOptions>(opts: O, snapshot: Snapshot, keys: Iterable<string>, message: string): O {
  const rejected = new Map(opts.rejected ?? []);
  for (const key of keys) {
    const [kind, ns, name] = key.split('/');
    const obj = snapshot.get(kind as 'HTTPRoute')?.find((o) => o.metadata.namespace === ns && o.metadata.name === name);
    rejected.set(key, { generation: obj?.metadata.generation, message });
  }
  return { ...opts, rejected };
}

function routesBySuspicion(graph: Graph, recency?: (key: string) => number): string[] {
  const keys = [...graph.routes, ...graph.streamRoutes].filter((r) => !r.problem).map((r) => r.key);
  return recency ? keys.sort((a, b) => recency(b) - recency(a)) : keys;
}

export function buildConfiguration(snapshot: Snapshot, opts: PipelineOptions): PipelineResult {
  const build = opts.build ?? defaultBuildOptions;
  let graphOptions: GraphOptions = opts;
  for (let pass = 1; ; pass++) {
    const graph = buildGraph(snapshot, graphOptions);
    const model = buildHttpModel(graph, build);
    const stream = buildStreamModel(graph, build);
    // A stream route the model could not express is rejected; the next pass leaves it out.
    if (stream.problems.length && pass < MAX_PASSES) {
      for (const p of stream.problems) graphOptions = withRejectedRoutes(graphOptions, snapshot, [p.route], `nginx configuration cannot express this route: ${p.message}`);
      continue;
    }
    // Another pass leaves the failed rules out and lets their routes report them. The
    // model of the last pass serves everything else even if new problems appeared.
    if (model.problems.length && pass < MAX_PASSES) {
      graphOptions = withModelProblems(graphOptions, model.problems);
      continue;
    }
    try {
      return { graph, model, stream, config: renderConfig(model, stream), graphOptions };
    } catch (err) {
      const renders = (excluded: ReadonlySet<string>) => {
        try {
          const o = withRejectedRoutes(graphOptions, snapshot, excluded, '');
          const g = buildGraph(snapshot, o);
          renderConfig(buildHttpModel(g, build), buildStreamModel(g, build));
          return true;
        } catch {
          return false;
        }
      };
      const { culprits } = findCulpritsSync(routesBySuspicion(graph, opts.recency), renders);
      if (!culprits.length || pass >= MAX_PASSES) throw err;
      graphOptions = withRejectedRoutes(graphOptions, snapshot, culprits, `the nginx configuration for this route could not be rendered: ${(err as Error).message}`);
    }
  }
}
