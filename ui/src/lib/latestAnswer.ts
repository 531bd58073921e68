// A loader that only ever shows the answer to the newest question.
//
// Pages that re-ask the backend when the operator changes a pick (environment,
// host, range, filters) or on a timer must never let a slow answer to an older
// pick overwrite a newer one, and a slow backend must not get a pile of
// overlapping requests. One request runs at a time; a pick made meanwhile
// bumps the generation, the stale answer is dropped, and the loader asks
// again once for the newest pick.

export type LatestAnswerOptions<T> = {
  /** Asks the backend; reads the page's current picks when called. */
  fetch: () => Promise<T>;
  /** Shows an answer; only called for the newest pick. */
  apply: (answer: T) => void;
  /** Shows a failure; only called for the newest pick. */
  fail: (error: unknown) => void;
  /** Told when a request starts (true) and ends (false), stale or not. */
  busy?: (busy: boolean) => void;
  /** When false (e.g. no environment picked yet) nothing is asked. */
  enabled?: () => boolean;
};

export type LatestAnswer = {
  /** Asks again for the same picks (timer, follow mode); skipped while a request runs. */
  load: () => Promise<void>;
  /** The picks changed: answers in flight are now stale, ask for the new ones. */
  repick: () => Promise<void>;
};

export function latestAnswer<T>(options: LatestAnswerOptions<T>): LatestAnswer {
  let generation = 0;
  let inFlight = false;

  async function load(): Promise<void> {
    if (inFlight || (options.enabled && !options.enabled())) return;
    inFlight = true;
    options.busy?.(true);
    const mine = generation;
    try {
      const answer = await options.fetch();
      if (mine === generation) options.apply(answer);
    } catch (e) {
      if (mine === generation) options.fail(e);
    } finally {
      inFlight = false;
      options.busy?.(false);
      if (mine !== generation) void load();
    }
  }

  function repick(): Promise<void> {
    generation += 1;
    return load();
  }

  return { load, repick };
}
