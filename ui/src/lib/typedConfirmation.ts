// Destructive actions on production and region tiers are refused by the
// backend without the environment's name typed as confirmation
// (`confirmation.required`). This runs an action without it first (other
// tiers need nothing), and on that refusal asks the operator to type the
// name, then runs it again with what was typed. The backend checks it; the
// UI never fills the name in by itself.
import { BackendError } from "./backend";

export const CONFIRMATION_REQUIRED = "confirmation.required";

/** Asks for the typed name; `null` when the operator cancels. */
export type AskTyped = (message: string) => string | null | Promise<string | null>;

/** One open question for the app's confirmation dialog. */
export interface TypedRequest {
  message: string;
  answer: (typed: string | null) => void;
}

let dialog: ((request: TypedRequest) => void) | null = null;

/** The app's dialog registers here (once, in App.svelte); returns the unregister. */
export function showTypedRequestsWith(show: (request: TypedRequest) => void): () => void {
  dialog = show;
  return () => {
    if (dialog === show) dialog = null;
  };
}

// Without a mounted dialog nothing is confirmed: the refusal stands.
const askWithDialog: AskTyped = (message) =>
  dialog ? new Promise((answer) => dialog?.({ message, answer })) : null;

export async function withTypedConfirmation<T>(
  action: (confirm: string | null) => Promise<T>,
  ask: AskTyped = askWithDialog,
): Promise<T> {
  try {
    return await action(null);
  } catch (e) {
    if (!(e instanceof BackendError) || e.code !== CONFIRMATION_REQUIRED) throw e;
    const typed = await ask(`${e.message}\n\n${e.hint ?? ""}`.trim());
    if (typed === null) throw e;
    return await action(typed.trim());
  }
}
