// The live view of a job (backup, restore) folded from the events its
// channel sends; `JobProgress.svelte` draws it. Pure, so tests drive it directly.

import type { JobEvent, WireError } from "./backend";

/** What the page shows while a job runs. */
export type LiveJob = {
  steps: string[];
  /** Index of the running step, -1 before the first. */
  current: number;
  done: number;
  total: number | null;
  unit: string;
  /** The step's latest message (e.g. "3/7 parts, 12 MB of SQL"). */
  message: string;
  finished: Record<number, string>;
  /** The step that failed and why, once one did. */
  failure: { step: string; error: WireError | null } | null;
  state: string;
  /** Steps of the jobs before the current one (a run, then its offsite copy). */
  offset: number;
};

export function newLiveJob(): LiveJob {
  return { steps: [], current: -1, done: 0, total: null, unit: "", message: "", finished: {}, failure: null, state: "running", offset: 0 };
}

/** Folds one event into the live view (returns a new object). A second
 * job on the same channel (the offsite copy after a run) appends its steps. */
export function applyEvent(job: LiveJob, e: JobEvent): LiveJob {
  switch (e.event) {
    case "jobStarted":
      return { ...job, offset: job.steps.length, steps: [...job.steps, ...e.steps], state: "running" };
    case "stepStarted":
      return { ...job, current: e.index + job.offset, done: 0, total: null, unit: "", message: "" };
    case "stepProgress":
      return { ...job, done: e.done ?? 0, total: e.total, unit: e.unit };
    case "stepMessage":
      return { ...job, message: e.message };
    case "stepFinished": {
      const i = e.index + job.offset;
      const finished = { ...job.finished, [i]: e.state };
      const failure = e.state === "failed" && !job.failure ? { step: job.steps[i] ?? `step ${i + 1}`, error: e.error } : job.failure;
      return { ...job, finished, failure };
    }
    case "jobFinished":
      return { ...job, state: e.state };
  }
}

/** Rate and time left of a step, from two progress samples (`at` in ms). */
export function rateAndEta(
  first: { done: number; at: number },
  last: { done: number; at: number },
  total: number | null,
): { perSec: number; etaSecs: number | null } {
  const secs = (last.at - first.at) / 1000;
  if (secs <= 0 || last.done <= first.done) return { perSec: 0, etaSecs: null };
  const perSec = (last.done - first.done) / secs;
  const etaSecs = total !== null && total > last.done ? (total - last.done) / perSec : null;
  return { perSec, etaSecs };
}
