// Short titles for error codes. The UI branches on `code`, never on message
// text; the message and hint from the backend are always shown beneath.
// The backend's codes and titles come from Rust (`ErrorCode::title`) through
// the generated bindings; only the codes the UI makes itself are listed here.

import { ERROR_TITLES, UI_CODES } from "./backend";

const UI_TITLES: Record<string, string> = {
  [UI_CODES.ipcFailed]: "Backend not reachable",
  [UI_CODES.badReply]: "Unexpected reply from the backend",
};

function own(titles: Record<string, string>, code: string): string | undefined {
  return Object.hasOwn(titles, code) ? titles[code] : undefined;
}

/** A one-line title for an error code; unknown codes get a generic one. */
export function errorTitle(code: string): string {
  return own(ERROR_TITLES, code) ?? own(UI_TITLES, code) ?? "Something went wrong";
}
