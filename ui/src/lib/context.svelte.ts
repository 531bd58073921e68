// The one environment every page works on, chosen in the header switcher and
// remembered across launches (localStorage, which the Tauri webview keeps in
// the app's data folder). Pages read `context.env` and follow it; none has a
// picker of its own. The choice is a name only: nothing about an environment
// but its name is stored.

import type { EnvironmentSummary, Tier } from "./backend";

const KEY = "nfops.environment";

type Context = {
  /** The environments of the config, once loaded. */
  envs: EnvironmentSummary[];
  /** The chosen environment's name; "" until the list is known (or empty). */
  env: string;
};

export const context: Context = $state({ envs: [], env: "" });

function remembered(): string | null {
  try {
    return globalThis.localStorage?.getItem(KEY) ?? null;
  } catch {
    return null; // storage disabled: the choice lasts this session only
  }
}

/** Makes `name` the environment of every page, and remembers it. */
export function chooseEnvironment(name: string): void {
  if (!context.envs.some((e) => e.name === name)) return;
  context.env = name;
  try {
    globalThis.localStorage?.setItem(KEY, name);
  } catch {
    // Not remembered; still chosen for this session.
  }
}

/**
 * Takes a (re)loaded list: keeps the current choice if it is still there,
 * else the remembered one, else the first environment that is not
 * production (so a fresh console never opens on production by itself),
 * else the first.
 */
export function settleEnvironments(envs: EnvironmentSummary[]): void {
  context.envs = envs;
  const has = (name: string | null) => name !== null && envs.some((e) => e.name === name);
  if (has(context.env)) return;
  const saved = remembered();
  context.env = has(saved)
    ? (saved as string)
    : (envs.find((e) => !isProductionTier(e.tier))?.name ?? envs[0]?.name ?? "");
}

/** The chosen environment's summary, if any. */
export function currentEnvironment(): EnvironmentSummary | undefined {
  return context.envs.find((e) => e.name === context.env);
}

/** Production and its regions serve users: acting there gets the marker. */
export function isProductionTier(tier: Tier): boolean {
  return tier === "production" || tier === "region";
}

/** Whether acting on the chosen environment touches production (or a region). */
export function actsOnProduction(): boolean {
  const e = currentEnvironment();
  return e !== undefined && isProductionTier(e.tier);
}

/** Clears the choice and the list; tests call it between cases. */
export function forgetContext(): void {
  context.envs = [];
  context.env = "";
  try {
    globalThis.localStorage?.removeItem(KEY);
  } catch {
    // nothing remembered
  }
}
