import { afterEach, describe, expect, it } from "vitest";
import { fireEvent, render, screen } from "@testing-library/svelte";
import Audit from "./AuditPage.svelte";
import { setBackend } from "../../lib/backend";
import { fakeCommands, ok } from "../../test/fakeCommands";

afterEach(() => setBackend(null));

describe("Audit", () => {
  it("lists entries with a short hash and shows chain problems", async () => {
    const limits: number[] = [];
    setBackend(
      fakeCommands({
        auditList: (limit) => {
          limits.push(limit);
          return ok([
            { seq: 1, at: "2026-11-29T10:00:00Z", actor: "ops", action: "credential.set", environment: "production", target: "prod/db", outcome: "ok", hash: "abcdef0123456789abcdef" },
          ]);
        },
        auditVerify: () => ok({ ok: false, entries: 1, problems: ["entry 1: hash does not match its content"] }),
      }),
    );
    render(Audit);
    const row = await screen.findByTestId("audit-row-1");
    expect(limits).toEqual([200]);
    expect(row.textContent).toContain("abcdef012345");
    expect(row.textContent).not.toContain("abcdef0123456789abcdef");

    await fireEvent.click(screen.getByTestId("audit-verify"));
    const result = await screen.findByTestId("audit-result");
    expect(result.getAttribute("data-ok")).toBe("false");
    expect(result.textContent).toContain("entry 1: hash does not match its content");
  });
});
