// Destructive actions on production and region tiers are refused by the
// backend without the environment's name typed as confirmation
// (`confirmation.required`). This runs an action without it first (other
// tiers need nothing), and on that refusal asks the operator to type the
// name, then runs it again with what was typed. The backend checks it; the
// UI never fills the name in by itself.
import { BackendError } from "./backend";

export const CONFIRMATION_REQUIRED = "confirmation.required";

/** Asks for the typed name; `null` when the operator cancels. */
export type AskTyped = (message: string) => string | null;

const askWithPrompt: AskTyped = (message) =>
  typeof window !== "undefined" && typeof window.prompt === "function" ? window.prompt(message) : null;

export async function withTypedConfirmation<T>(
  action: (confirm: string | null) => Promise<T>,
  ask: AskTyped = askWithPrompt,
): Promise<T> {
  try {
    return await action(null);
  } catch (e) {
    if (!(e instanceof BackendError) || e.code !== CONFIRMATION_REQUIRED) throw e;
    const typed = ask(`${e.message}\n\n${e.hint ?? ""}`.trim());
    if (typed === null) throw e;
    return await action(typed.trim());
  }
}
