import { afterEach, describe, expect, it } from "vitest";
import { fireEvent, render, screen } from "@testing-library/svelte";
import Integrity from "./IntegrityPage.svelte";
import { setBackend } from "../../lib/backend";
import { fakeCommands, ok } from "../../test/fakeCommands";

afterEach(() => setBackend(null));

describe("Integrity page", () => {
  it("runs the checks and lists every finding, the saved reports and the drills", async () => {
    setBackend(
      fakeCommands({
        environments: () => ok([{ name: "staging", label: "Staging", tier: "staging" as const, hosts: [] }]),
        integrityCheck: (env) =>
          ok({
            id: "r1",
            environment: env,
            database: "newfinity",
            backupId: null,
            ok: false,
            startedAt: "",
            checks: [
              { name: "foreign keys", ok: false, detail: "2 checked", seconds: 0.42 },
              { name: "app", ok: true, detail: "5 requests", seconds: 12.5 },
            ],
            findings: [
              { check: "foreign keys", subject: "orders.fk", problem: "3 row(s) reference a missing row" },
              { check: "storage objects", subject: "files #4", problem: "object is missing" },
            ],
          }),
        integrityReports: () => ok([{ id: "r1", environment: "staging", ok: false, findings: 2, json: "/x/r1.json", html: "/x/r1.html" }]),
        drillsList: () => ok([{ id: "d1", environment: "staging", backupId: "b1", startedAt: "2026", seconds: 12, ok: true, reportId: "r0", note: "fine" }]),
      }),
    );
    render(Integrity);
    await fireEvent.click(await screen.findByTestId("integrity-run"));
    const findings = await screen.findAllByTestId("integrity-finding");
    expect(findings).toHaveLength(2);
    const rows = screen.getAllByTestId("integrity-check").map((r) => r.textContent);
    expect(rows[1]).toContain("12.5 s");
    expect(rows[0]).toContain("0.4 s");
    expect((await screen.findByTestId("integrity-reports")).textContent).toContain("2 finding(s)");
    expect(screen.getByTestId("integrity-drills").textContent).toContain("recovery time 12 s");
  });
});
