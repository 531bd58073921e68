// The environments of environments.toml, asked of the backend once per app
// session and shared by every page that picks one. A failed load is not kept,
// so the next page that asks tries again; `refreshEnvironments` re-reads the
// list when the config may have changed (the Overview's Refresh).

import { backend, type EnvironmentSummary } from "./backend";
import { settleEnvironments } from "./context.svelte";

let list: Promise<EnvironmentSummary[]> | null = null;

/** The environments, from the one shared load (started on first use). */
export function loadEnvironments(): Promise<EnvironmentSummary[]> {
  if (list) return list;
  const asked: Promise<EnvironmentSummary[]> = backend.environments().then(
    (envs) => {
      // Every load settles the one context, so the header follows a re-read.
      if (list === asked) settleEnvironments(envs);
      return envs;
    },
  ).catch((e: unknown) => {
    // A newer refresh may have replaced this load meanwhile: keep that one.
    if (list === asked) list = null;
    throw e;
  });
  list = asked;
  return asked;
}

/** Reads the list again; pages opened afterwards see the new one. */
export function refreshEnvironments(): Promise<EnvironmentSummary[]> {
  list = null;
  return loadEnvironments();
}

/** Drops the shared list; tests call it between cases, each with its own backend. */
export function forgetEnvironments(): void {
  list = null;
}
