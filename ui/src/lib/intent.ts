// "Do this there": a button on one page (an Overview warning, the command
// palette) that needs another page, for an environment. The environment
// becomes the header's, the page opens, and the page takes the intent when
// it mounts. A `run` intent is an explicit click on a button that names the
// operation and the environment ("Back up staging now"); a `focus` intent
// only puts the keyboard on a control, whose own click (and confirmation)
// still decides.

import { chooseEnvironment } from "./context.svelte";
import { hrefFor, type PageId } from "./routes";

export type Intent =
  | { kind: "run"; page: PageId; action: "backup-now" | "drill-run"; env: string }
  | { kind: "focus"; page: PageId; selector: string; env?: string };

let pending: Intent | null = null;

/** Chooses the intent's environment and opens its page. */
export function goAndDo(intent: Intent): void {
  pending = intent;
  if (intent.env) chooseEnvironment(intent.env);
  const href = hrefFor(intent.page);
  if (globalThis.location.hash !== href) {
    globalThis.location.hash = href;
  } else {
    // Already there: tell the page as a navigation would.
    globalThis.dispatchEvent(new HashChangeEvent("hashchange"));
  }
}

/** The pending `run` intent for `page` and `action`, taken (once) if there is one. */
export function takeRun(page: PageId, action: "backup-now" | "drill-run"): { env: string } | null {
  const i = pending;
  if (i?.kind !== "run" || i.page !== page || i.action !== action) return null;
  pending = null;
  return { env: i.env };
}

/** The CSS selector of the pending `focus` intent for `page`, taken (once) if there is one. */
export function takeFocus(page: PageId): string | null {
  const i = pending;
  if (i?.kind !== "focus" || i.page !== page) return null;
  pending = null;
  return i.selector;
}

/** Drops any pending intent; tests call it between cases. */
export function forgetIntent(): void {
  pending = null;
}
