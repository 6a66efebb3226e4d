// Finding the object that breaks a configuration when the failure names none. Used by the
// pipeline (a render error with no object) and by the controller (nginx rejected a version
// with an error that carries no file:line, e.g. a hash that cannot be built). The search
// leaves out the most suspicious objects first (the most recently changed), and bisects
// for the shortest prefix of that order whose removal makes the configuration pass: its
// last element is a culprit. Repeated until the configuration passes, it finds every
// culprit in O(culprits * log n) tests, and never blames an object whose removal was not
// needed.

export interface CulpritSearch<T> {
  /** Objects found to break the configuration, in the order found. */
  culprits: T[];
  /** Tests run. */
  tests: number;
}

/**
 * The search as a coroutine: it yields the set of objects to leave out and receives
 * whether the configuration without them passes. `suspects` are ordered most suspicious
 * first. Assumes leaving out more objects never makes a passing configuration fail. Finds
 * no culprit when even leaving out every suspect fails (the fault is not in the
 * suspects: the caller reports it as global).
 */
function* search<T>(suspects: readonly T[], maxCulprits: number): Generator<ReadonlySet<T>, T[], boolean> {
  const culprits: T[] = [];
  let remaining = [...suspects];
  while (culprits.length < maxCulprits) {
    const base = new Set(culprits);
    if (yield base) break;
    if (!(yield new Set([...base, ...remaining]))) break; // not the suspects' fault
    // The shortest k such that leaving out remaining[0..k) passes, k in [1, remaining.length].
    let lo = 1;
    let hi = remaining.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (yield new Set([...base, ...remaining.slice(0, mid)])) hi = mid;
      else lo = mid + 1;
    }
    const culprit = remaining[lo - 1]!;
    culprits.push(culprit);
    remaining = remaining.filter((s) => s !== culprit);
  }
  return culprits;
}

/** Finds culprits with an asynchronous test (nginx -t of a probe configuration). */
export async function findCulprits<T>(suspects: readonly T[], passes: (excluded: ReadonlySet<T>) => Promise<boolean>, maxCulprits = 16): Promise<CulpritSearch<T>> {
  const it = search(suspects, maxCulprits);
  let tests = 0;
  for (let step = it.next(); ; ) {
    if (step.done) return { culprits: step.value, tests };
    tests++;
    step = it.next(await passes(step.value));
  }
}

/** Finds culprits with a synchronous test (the pure render stage). */
export function findCulpritsSync<T>(suspects: readonly T[], passes: (excluded: ReadonlySet<T>) => boolean, maxCulprits = 16): CulpritSearch<T> {
  const it = search(suspects, maxCulprits);
  let tests = 0;
  for (let step = it.next(); ; ) {
    if (step.done) return { culprits: step.value, tests };
    tests++;
    step = it.next(passes(step.value));
  }
}
