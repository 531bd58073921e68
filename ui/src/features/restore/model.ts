// The Restore feature's model: what the wizard's inputs mean before anything
// is asked of the backend.

import type { RestorePlanView } from "../../lib/backend";

/** `"users, orders,"` → `["users", "orders"]`: the tables of a partial restore as typed. */
export function tableList(text: string): string[] {
  return text
    .split(",")
    .map((t) => t.trim())
    .filter((t) => t.length > 0);
}

/** The run button is armed only for a ready plan and, on production, the environment's name typed exactly. */
export function mayRun(plan: RestorePlanView | null, typed: string, env: string): boolean {
  return !!plan && plan.ready && (!plan.needsTypedConfirmation || typed === env);
}
