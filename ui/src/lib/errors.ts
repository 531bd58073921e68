// Short titles for error codes. The UI branches on `code`, never on message
// text; the message and hint from the backend are always shown beneath.

import { UI_CODES } from "./backend";

const TITLES: Record<string, string> = {
  "config.invalid": "environments.toml has an error",
  "config.not_found": "No environments file",
  "config.unknown_environment": "Unknown environment",
  "input.invalid": "Invalid input",
  "keyring.unavailable": "No OS keyring available",
  "keyring.denied": "The OS keyring refused access",
  "credential.missing": "A credential is missing",
  "ssh.connect": "SSH connection failed",
  "ssh.auth": "SSH key refused",
  "ssh.command": "Remote command failed",
  "service.unreachable": "Service unreachable",
  "service.unhealthy": "Service unhealthy",
  "state.error": "Local state database failed",
  "audit.tampered": "Audit log chain is broken",
  "job.cancelled": "Cancelled",
  "job.check_failed": "Check failed",
  "io.error": "File or disk error",
  internal: "Internal error (a bug in NewFinity Ops)",
  [UI_CODES.ipcFailed]: "Backend not reachable",
  [UI_CODES.badReply]: "Unexpected reply from the backend",
};

/** A one-line title for an error code; unknown codes get a generic one. */
export function errorTitle(code: string): string {
  return TITLES[code] ?? "Something went wrong";
}
