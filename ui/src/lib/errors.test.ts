import { describe, expect, it } from "vitest";
import { errorTitle } from "./errors";
import { UI_CODES, type ErrorCode } from "./backend";

describe("errorTitle", () => {
  it("titles every code the backend sends, secrets codes included", () => {
    const codes: ErrorCode[] = ["config.invalid", "keyring.denied", "secrets.not_recipient", "secrets.conflict", "backup.key_mismatch"];
    for (const code of codes) {
      expect(errorTitle(code), `${code} comes with a title from Rust`).not.toBe("Something went wrong");
    }
  });

  it("titles the codes the UI makes itself", () => {
    expect(errorTitle(UI_CODES.ipcFailed)).toBe("Backend not reachable");
    expect(errorTitle(UI_CODES.badReply)).toBe("Unexpected reply from the backend");
  });

  it("gives unknown codes (and object property names) a generic title", () => {
    expect(errorTitle("no.such.code")).toBe("Something went wrong");
    expect(errorTitle("constructor"), "a code is never looked up on the prototype").toBe("Something went wrong");
  });
});
