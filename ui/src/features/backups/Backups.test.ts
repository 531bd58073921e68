import { afterEach, describe, expect, it } from "vitest";
import { fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import Backups from "./BackupsPage.svelte";
import { setBackend, type BackupEntry, type JobEvent } from "../../lib/backend";
import { err, fakeCommands, ok } from "../../test/fakeCommands";

afterEach(() => setBackend(null));

const STAGING = [{ name: "staging", label: "Staging", tier: "staging" as const, hosts: [] }];

function entry(o: Partial<BackupEntry>): BackupEntry {
  return {
    id: "20260601T100000Z-abcd",
    state: "complete",
    finishedAt: "2026-06-01T10:00:42Z",
    durationSecs: 42.5,
    tables: 7,
    rows: 4130,
    storedBytes: 310_000,
    problem: null,
    verifiedAt: "2026-06-01T10:00:43Z",
    verifyOk: true,
    verifyNote: "verified by the backup run",
    offsiteState: "copied",
    ageHours: 3,
    storageObjects: 1240,
    ...o,
  };
}

function catalog(entries: BackupEntry[], stale = false) {
  return { environment: "staging", entries, stale, maxStalenessHours: 26, newestGood: entries[0]?.id ?? null, newestGoodAgeHours: 30 };
}

/** A channel as the adapter hands it to a stand-in: `onmessage` only. */
type FakeChannel = { onmessage: (e: JobEvent) => void };

describe("Backups page", () => {
  it("lists complete backups with size, duration, tables, verified badge, offsite and age; incomplete ones apart", async () => {
    setBackend(
      fakeCommands({
        environments: () => ok(STAGING),
        backupsList: () =>
          ok(
            catalog([
              entry({}),
              entry({ id: "20260531T100000Z-0001", verifyOk: null, verifiedAt: null, offsiteState: null, storageObjects: null }),
              entry({ id: "20260530T100000Z-dead", state: "incomplete", finishedAt: null, durationSecs: null, tables: null, rows: null, storedBytes: null, problem: "no manifest", verifyOk: null, offsiteState: null, ageHours: null, storageObjects: null }),
            ]),
          ),
      }),
    );
    render(Backups);
    const found = await screen.findAllByTestId("backup-row");
    expect(found).toHaveLength(3);
    const rows = found as [HTMLElement, HTMLElement, HTMLElement];
    expect(rows[0].textContent).toContain("310 KB");
    expect(rows[0].textContent).toContain("43 s");
    expect(rows[0].textContent).toContain("7");
    expect(rows[0].textContent).toContain("copied");
    expect(rows[0].textContent).toContain("3 h");
    expect(rows[0].querySelector("[data-testid=storage-objects]")!.textContent).toContain("1,240 objects");
    expect(rows[1].querySelector("[data-testid=storage-objects]")!.textContent).toContain("no snapshot");
    expect(rows[0].querySelector("[data-testid=verified-badge]")!.textContent).toContain("verified");
    expect(rows[1].querySelector("[data-testid=verified-badge]")!.textContent).toContain("not verified");
    expect(rows[2].dataset.state).toBe("incomplete");
    expect(rows[2].textContent, "an incomplete folder is never shown as a backup").toContain("incomplete: no manifest");
    expect(rows[2].querySelector("[data-testid=verified-badge]"), "no badge for an incomplete folder").toBeNull();
    expect(screen.queryByTestId("backups-stale")).toBeNull();
  });

  it("warns when the newest good backup is older than the policy allows", async () => {
    setBackend(fakeCommands({ environments: () => ok(STAGING), backupsList: () => ok(catalog([entry({ ageHours: 30 })], true)) }));
    render(Backups);
    const warn = await screen.findByTestId("backups-stale");
    expect(warn.textContent).toContain("30 h old");
    expect(warn.textContent).toContain("26 h");
  });

  it("runs a backup with live progress, offers Cancel while it runs, then lists the new backup", async () => {
    let lists = 0;
    let release: () => void = () => {};
    const cancels: string[] = [];
    let channel: FakeChannel | null = null;
    setBackend(
      fakeCommands({
        environments: () => ok(STAGING),
        backupsList: () => ok(catalog(lists++ === 0 ? [] : [entry({ id: "new-1" })])),
        backupCancel: (env) => {
          cancels.push(env);
          return ok(true);
        },
        backupRun: (_env, onEvent) => {
          channel = onEvent as unknown as FakeChannel;
          return new Promise((resolve) => {
            release = () =>
              resolve({
                status: "ok",
                data: { backupId: "new-1", state: "succeeded", jobId: "j", error: null, failedStep: null, steps: [], offsite: null, upload: null },
              });
          });
        },
      }),
    );
    render(Backups);
    await screen.findByTestId("backups-empty");
    await fireEvent.click(screen.getByTestId("backup-now"));
    await waitFor(() => expect(channel).not.toBeNull());
    channel!.onmessage({ event: "jobStarted", jobId: "j", steps: ["dump", "manifest", "verify", "publish"] });
    channel!.onmessage({ event: "stepStarted", index: 0, name: "dump" });
    channel!.onmessage({ event: "stepProgress", index: 0, done: 1200, total: 4130, unit: "rows" });
    channel!.onmessage({ event: "stepMessage", index: 0, message: "3/7 parts, 1 MB of SQL" });
    await waitFor(() => expect(screen.getByTestId("backup-progress-count").textContent).toContain("4,130 rows"));
    expect(screen.getByTestId("backup-progress-message").textContent).toBe("3/7 parts, 1 MB of SQL");
    expect((screen.getByTestId("backup-now") as HTMLButtonElement).disabled, "one run at a time").toBe(true);
    await fireEvent.click(screen.getByTestId("backup-cancel"));
    expect(cancels).toEqual(["staging"]);
    release();
    await waitFor(() => expect(screen.getByTestId("backup-result").textContent).toContain("complete and verified"));
    await waitFor(() => expect(screen.getAllByTestId("backup-row")[0]?.dataset.id).toBe("new-1"));
    expect(screen.queryByTestId("backup-cancel")).toBeNull();
  });

  it("names the failed step and the reason", async () => {
    setBackend(
      fakeCommands({
        environments: () => ok(STAGING),
        backupRun: (_env, onEvent) => {
          const c = onEvent as unknown as FakeChannel;
          c.onmessage({ event: "jobStarted", jobId: "j", steps: ["dump", "manifest"] });
          c.onmessage({ event: "stepStarted", index: 0, name: "dump" });
          const error = { code: "service.unreachable", message: "staging database is unreachable", hint: "Start it." };
          c.onmessage({ event: "stepFinished", index: 0, state: "failed", evidence: null, error });
          return ok({ backupId: "x", state: "failed", jobId: "j", error, failedStep: "dump", steps: [], offsite: null, upload: null });
        },
      }),
    );
    render(Backups);
    await fireEvent.click(await screen.findByTestId("backup-now"));
    const r = await screen.findByTestId("backup-result");
    expect(r.textContent).toContain('failed at step "dump"');
    expect(screen.getByTestId("backup-failure-reason").textContent).toBe("staging database is unreachable");
  });

  it("shows a failed offsite copy after a good backup, and the copy steps after the run's", async () => {
    setBackend(
      fakeCommands({
        environments: () => ok(STAGING),
        backupsList: () => ok(catalog([entry({ id: "b-3", offsiteState: "failed" })])),
        backupRun: (_env, onEvent) => {
          const c = onEvent as unknown as FakeChannel;
          c.onmessage({ event: "jobStarted", jobId: "j1", steps: ["dump", "manifest", "verify", "publish"] });
          c.onmessage({ event: "jobFinished", jobId: "j1", state: "succeeded", error: null });
          c.onmessage({ event: "jobStarted", jobId: "j2", steps: ["upload", "verify copy"] });
          c.onmessage({ event: "stepStarted", index: 0, name: "upload" });
          const error = { code: "service.unreachable", message: "the S3 server at s3://nf-backups-offsite is unreachable", hint: "Start it." };
          c.onmessage({ event: "stepFinished", index: 0, state: "failed", evidence: null, error });
          c.onmessage({ event: "jobFinished", jobId: "j2", state: "failed", error });
          return ok({
            backupId: "b-3",
            state: "succeeded",
            jobId: "j1",
            error: null,
            failedStep: null,
            steps: [],
            offsite: { state: "failed", location: null, error },
            upload: null,
          });
        },
      }),
    );
    render(Backups);
    await fireEvent.click(await screen.findByTestId("backup-now"));
    const r = await screen.findByTestId("backup-offsite-result");
    expect(r.dataset.state).toBe("failed");
    expect(screen.getByTestId("backup-offsite-reason").textContent).toContain("unreachable");
    const steps = [...screen.getByTestId("backup-progress").querySelectorAll("li")].map((li) => [li.dataset.step, li.classList[0]]);
    expect(steps).toEqual([
      ["dump", "pending"],
      ["manifest", "pending"],
      ["verify", "pending"],
      ["publish", "pending"],
      ["upload", "failed"],
      ["verify copy", "pending"],
    ]);
    await waitFor(() => expect(screen.getByTestId("offsite-badge").textContent).toContain("offsite copy failed"));
  });

  it("shows the upload to an S3 destination and the offsite copy as steps of their own", async () => {
    setBackend(
      fakeCommands({
        environments: () => ok(STAGING),
        backupRun: (_env, onEvent) => {
          const c = onEvent as unknown as FakeChannel;
          c.onmessage({ event: "jobStarted", jobId: "j1", steps: ["dump", "publish"] });
          for (const job of ["j2", "j3"]) {
            c.onmessage({ event: "jobStarted", jobId: job, steps: ["upload", "verify copy"] });
            c.onmessage({ event: "stepFinished", index: 0, state: "completed", evidence: "ok", error: null });
            c.onmessage({ event: "stepFinished", index: 1, state: "completed", evidence: "ok", error: null });
          }
          const copied = { state: "copied", location: "s3://b/p/staging/b-5/", error: null };
          return ok({ backupId: "b-5", state: "succeeded", jobId: "j1", error: null, failedStep: null, steps: [], offsite: copied, upload: copied });
        },
      }),
    );
    render(Backups);
    await fireEvent.click(await screen.findByTestId("backup-now"));
    await screen.findByTestId("backup-offsite-result");
    const steps = [...screen.getByTestId("backup-progress").querySelectorAll("li")].map((li) => [li.dataset.step, li.classList[0]]);
    expect(steps).toEqual([
      ["dump", "pending"],
      ["publish", "pending"],
      ["upload", "completed"],
      ["verify copy", "completed"],
      ["upload", "completed"],
      ["verify copy", "completed"],
    ]);
    expect(screen.getByTestId("backup-result").textContent).toContain("at s3://b/p/staging/b-5/");
  });

  it("says there is no backup when the upload to the S3 destination failed", async () => {
    const error = { code: "service.unreachable", message: "the S3 server at s3://nf-backups is unreachable", hint: null };
    setBackend(
      fakeCommands({
        environments: () => ok(STAGING),
        backupRun: () =>
          ok({
            backupId: "b-4",
            state: "succeeded",
            jobId: "j",
            error: null,
            failedStep: null,
            steps: [],
            offsite: null,
            upload: { state: "failed", location: null, error },
          }),
      }),
    );
    render(Backups);
    await fireEvent.click(await screen.findByTestId("backup-now"));
    const r = await screen.findByTestId("backup-result");
    expect(r.dataset.state).toBe("upload-failed");
    expect(r.textContent).toContain("there is no backup b-4");
    expect(screen.getByTestId("backup-failure-reason").textContent).toContain("unreachable");
  });

  it("shows the forget plan first, then deletes exactly what it showed", async () => {
    const applied: string[][] = [];
    const decision = (id: string, keep: boolean, reasons: string[]) => ({ id, at: "2026-06-01T10:00:00Z", keep, ageDays: 40, reasons });
    const plan = {
      environment: "staging",
      applied: false,
      decisions: [decision("b-2", true, ["daily 1 of 1"]), decision("b-1", false, ["no daily, weekly or monthly slot keeps it"])],
      removed: [],
      offsite: {
        location: "s3://nf-backups-offsite/p",
        decisions: [decision("b-2", true, ["daily 1 of 1"]), decision("b-1", false, ["no daily, weekly or monthly slot keeps it"])],
        incomplete: ["b-0"],
        removed: [],
      },
      forgetIds: ["b-1", "offsite:b-1"],
    };
    setBackend(
      fakeCommands({
        environments: () => ok(STAGING),
        backupForgetPlan: () => ok(plan),
        backupForgetApply: (_env, ids) => {
          applied.push(ids);
          return ok({ ...plan, applied: true, removed: ["b-1"], offsite: { ...plan.offsite, removed: ["b-1"] } });
        },
      }),
    );
    render(Backups);
    await fireEvent.click(await screen.findByTestId("forget-plan"));
    const panel = await screen.findByTestId("forget-panel");
    expect(applied, "showing the plan deletes nothing").toEqual([]);
    const local = screen.getByTestId("forget-local").querySelectorAll("[data-testid=forget-decision]");
    expect([...local].map((r) => [(r as HTMLElement).dataset.id, (r as HTMLElement).dataset.keep])).toEqual([
      ["b-2", "true"],
      ["b-1", "false"],
    ]);
    expect(panel.textContent).toContain("no daily, weekly or monthly slot keeps it");
    expect(screen.getByTestId("forget-offsite").textContent).toContain("forget");
    expect(panel.textContent).toContain("left alone: b-0");
    await fireEvent.click(screen.getByTestId("forget-apply"));
    await waitFor(() => expect(screen.getByTestId("forget-result").textContent).toContain("Removed 1 backup(s)"));
    expect(applied).toEqual([["b-1", "offsite:b-1"]]);
    expect(screen.getByTestId("forget-result").textContent).toContain("1 offsite copy(ies)");
  });

  it("shows an error panel when the backend refuses", async () => {
    setBackend(fakeCommands({ environments: () => ok(STAGING), backupsList: () => err("config.invalid", "bad config") }));
    render(Backups);
    const panel = await screen.findByRole("alert");
    expect(panel.dataset.code).toBe("config.invalid");
  });
});
