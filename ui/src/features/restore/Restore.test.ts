import { afterEach, describe, expect, it } from "vitest";
import { fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import Restore from "./RestorePage.svelte";
import { setBackend, type JobEvent, type RestorePlanView } from "../../lib/backend";
import { fakeCommands, ok } from "../../test/fakeCommands";

afterEach(() => setBackend(null));

const PROD = [{ name: "production", label: "Production", tier: "production" as const, hosts: [] }];

function plan(o: Partial<RestorePlanView> = {}): RestorePlanView {
  return {
    backupId: "b1",
    environment: "production",
    database: "newfinity",
    summary: "Restore backup b1 into newfinity",
    whole: true,
    tables: [{ name: "users", backupRows: 500, currentRows: 510 }],
    tablesRemoved: ["extra"],
    views: [],
    triggers: [],
    routines: [],
    events: [],
    inventory: ["sequence `s`: next value 115", "view `v`: owner a@%, SQL SECURITY DEFINER"],
    ownerChanges: ["view `v` owned by a@% would be owned by ops@%"],
    objectsLost: ["event `e` exists now and is not in the backup: it is dropped"],
    storage: [{ bucket: "nf-production-assets", prefix: null, rolledBack: ["a"], hidden: ["c"], unchanged: 3 }],
    preflight: [{ name: "key", ok: true, detail: "your key is a recipient" }],
    ready: true,
    serverVersion: "10.11",
    backupServerVersion: "10.11",
    estimatedSeconds: 5,
    steps: [{ name: "swap", description: "one RENAME TABLE" }],
    cache: "db 0, keys under 'nf:production:'",
    hosts: ["prod-app-1"],
    needsTypedConfirmation: true,
    ...o,
  };
}

const backupEntry = {
  id: "b1",
  state: "complete",
  storageObjects: null,
  finishedAt: null,
  durationSecs: 1,
  tables: 7,
  rows: 10,
  storedBytes: 1,
  problem: null,
  verifiedAt: null,
  verifyOk: true,
  verifyNote: null,
  offsiteState: null,
  ageHours: 1,
};

type FakeChannel = { onmessage: (e: JobEvent) => void };

describe("Restore wizard", () => {
  it("walks env → backup → scope → plan, runs only after the production name is typed, and shows the report", async () => {
    const runs: Array<{ confirm: string | null; cache: boolean }> = [];
    setBackend(
      fakeCommands({
        environments: () => ok(PROD),
        backupsList: (env) => ok({ environment: env, entries: [backupEntry], stale: false, maxStalenessHours: 26, newestGood: "b1", newestGoodAgeHours: 1 }),
        restorePlan: () => ok(plan()),
        restoreRun: (_env, _b, _t, cache, _w, _c, _o, confirm, ch) => {
          runs.push({ confirm, cache });
          const c = ch as unknown as FakeChannel;
          c.onmessage({ event: "jobStarted", jobId: "j", steps: ["check backup", "swap"] });
          c.onmessage({ event: "stepFinished", index: 0, state: "completed", evidence: "ok", error: null });
          return ok({
            jobId: "j",
            state: "succeeded",
            databaseState: "restored",
            stateDetail: "backup b1 is live",
            error: null,
            failedStep: null,
            steps: [{ name: "swap", state: "completed", evidence: "7 tables" }],
            seconds: 4,
            report: { id: "r1", environment: "production", database: "newfinity", backupId: "b1", ok: true, startedAt: "", checks: [{ name: "tables", ok: true, detail: "7 equal", seconds: 1.2 }], findings: [] },
          });
        },
      }),
    );
    render(Restore);
    await fireEvent.click(await screen.findByTestId("restore-env"));
    expect(await screen.findByTestId("restore-verified")).toBeTruthy();
    await fireEvent.click(screen.getByTestId("restore-backup"));
    await fireEvent.click(screen.getByTestId("restore-next"));
    await fireEvent.click(screen.getByTestId("restore-cache"));
    await fireEvent.click(screen.getByTestId("restore-preflight"));
    expect((await screen.findByTestId("restore-plan-tables")).textContent).toContain("users");
    expect(screen.getByTestId("restore-plan-storage").textContent).toContain("1 object(s) rolled back, 1 hidden");
    expect(screen.getByTestId("restore-plan-inventory").textContent).toContain("sequence `s`: next value 115");
    expect(screen.getByTestId("restore-plan-owner-changes").textContent).toContain("would be owned by ops@%");
    expect(screen.getByTestId("restore-plan-objects-lost").textContent).toContain("event `e` exists now");
    const run = screen.getByTestId("restore-run") as HTMLButtonElement;
    expect(run.disabled, "production needs the typed name").toBe(true);
    await fireEvent.input(screen.getByTestId("restore-confirm"), { target: { value: "prod" } });
    expect(run.disabled).toBe(true);
    await fireEvent.input(screen.getByTestId("restore-confirm"), { target: { value: "production" } });
    expect(run.disabled).toBe(false);
    await fireEvent.click(run);
    const res = await screen.findByTestId("restore-result");
    expect(res.dataset.db).toBe("restored");
    expect(runs).toEqual([{ confirm: "production", cache: false }]);
    expect(screen.getByTestId("restore-report").textContent).toContain("7 equal");
  });

  it("does not offer the run when the preflight fails", async () => {
    setBackend(
      fakeCommands({
        environments: () => ok(PROD),
        backupsList: (env) => ok({ environment: env, entries: [backupEntry], stale: false, maxStalenessHours: 26, newestGood: "b1", newestGoodAgeHours: 1 }),
        restorePlan: () => ok(plan({ ready: false, needsTypedConfirmation: false, preflight: [{ name: "key", ok: false, detail: "not a recipient" }] })),
      }),
    );
    render(Restore);
    await fireEvent.click(await screen.findByTestId("restore-env"));
    await fireEvent.click(await screen.findByTestId("restore-backup"));
    await fireEvent.click(screen.getByTestId("restore-next"));
    await fireEvent.click(screen.getByTestId("restore-preflight"));
    await waitFor(() => expect(screen.getByTestId("restore-preflight-list").textContent).toContain("not a recipient"));
    expect((screen.getByTestId("restore-run") as HTMLButtonElement).disabled).toBe(true);
  });
});
