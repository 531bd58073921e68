import { afterEach, describe, expect, it } from "vitest";
import { fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import App from "../../App.svelte";
import { setBackend, type EnvironmentSummary } from "../../lib/backend";
import { err, fakeCommands, ok } from "../../test/fakeCommands";

const ENVS: EnvironmentSummary[] = [
  { name: "production", label: "Production", tier: "production", hosts: ["prod-app-1"] },
  { name: "staging", label: "Staging", tier: "staging", hosts: ["stg-app-1"] },
];

afterEach(() => {
  setBackend(null);
  window.location.hash = "";
});

describe("an Overview warning's button", () => {
  it("runs the drill it names, on the environment it names, with progress on the Integrity page", async () => {
    const drilled: string[] = [];
    setBackend(
      fakeCommands({
        environments: () => ok(ENVS),
        drillsStaleness: () =>
          ok([{ environment: "production", stale: true, maxAgeDays: 30, lastOk: null, lastOkAt: null, ageDays: null }]),
        drillRun: (env, channel) => {
          drilled.push(env);
          channel.onmessage({ event: "stepStarted", index: 0, name: "Restore into the scratch database" } as never);
          return ok({ id: "j1", environment: env, backupId: "b1", startedAt: "2026-12-07T10:00:00Z", seconds: 12.5, ok: true, reportId: "r1", note: "checked" });
        },
      }),
    );
    render(App);
    const button = await screen.findByTestId("overview-drill-run");
    expect(button.textContent).toBe("Run a restore drill of production");
    expect(drilled, "nothing runs before the click").toEqual([]);
    await fireEvent.click(button);

    await waitFor(() => expect(screen.getByTestId("page-title").textContent).toBe("Integrity"));
    await waitFor(() => expect(screen.getByTestId("drill-result").getAttribute("data-ok")).toBe("true"));
    expect(drilled).toEqual(["production"]);
    expect(screen.getByTestId("env-switch-production").getAttribute("aria-pressed"), "the header follows").toBe("true");
    expect(screen.getByTestId("production-marker")).toBeTruthy();
  });

  it("backs up the environment it names, once", async () => {
    const ran: string[] = [];
    setBackend(
      fakeCommands({
        environments: () => ok(ENVS),
        backupsStaleness: () =>
          ok([{ environment: "staging", stale: true, maxStalenessHours: 26, newestGood: null, ageHours: null, error: null }]),
        backupRun: (env) => {
          ran.push(env);
          return ok({ state: "succeeded", backupId: "b9", failedStep: null, error: null, upload: null, offsite: null } as never);
        },
      }),
    );
    render(App);
    await fireEvent.click(await screen.findByTestId("overview-backup-now"));
    await waitFor(() => expect(screen.getByTestId("backup-result").textContent).toContain("b9"));
    expect(ran).toEqual(["staging"]);
    // Coming back to Backups later runs nothing again.
    window.location.hash = "#/overview";
    window.dispatchEvent(new HashChangeEvent("hashchange"));
    await screen.findByTestId("overview-backup-now");
    window.location.hash = "#/backups";
    window.dispatchEvent(new HashChangeEvent("hashchange"));
    await screen.findByTestId("backups-env");
    expect(ran).toEqual(["staging"]);
  });

  it("opens the restore wizard on the environment whose database is gone, with nothing run", async () => {
    const planned: string[] = [];
    setBackend(
      fakeCommands({
        environments: () => ok(ENVS),
        overview: () =>
          ok([
            {
              name: "staging",
              label: "Staging",
              tier: "staging",
              checkedAt: "2026-12-07T10:00:00Z",
              probes: [
                {
                  kind: "database",
                  target: "127.0.0.1:3306",
                  state: "failed",
                  summary: "",
                  error: { code: "service.unhealthy", message: "database 'newfinity' does not exist at 127.0.0.1:3306", hint: null },
                  latencyMs: 3,
                  since: null,
                },
                {
                  kind: "cache",
                  target: "127.0.0.1:6379",
                  state: "failed",
                  summary: "",
                  error: { code: "service.unreachable", message: "Redis at 127.0.0.1:6379 refused the connection", hint: null },
                  latencyMs: 3,
                  since: null,
                },
                {
                  kind: "database",
                  target: "replica stg-db-2",
                  state: "failed",
                  summary: "",
                  error: { code: "service.unhealthy", message: "replica stg-db-2 is 900 s behind", hint: null },
                  latencyMs: 3,
                  since: null,
                },
              ],
            },
            {
              name: "production",
              label: "Production",
              tier: "production",
              checkedAt: "2026-12-07T10:00:00Z",
              probes: [
                {
                  kind: "database",
                  target: "127.0.0.1:3307",
                  state: "failed",
                  summary: "",
                  error: { code: "service.unreachable", message: "database at 127.0.0.1:3307 is unreachable: connection refused", hint: null },
                  latencyMs: 3,
                  since: null,
                },
              ],
            },
          ]),
        restorePlan: (env) => {
          planned.push(env);
          return err("input.invalid", "not in this test");
        },
      }),
    );
    render(App);
    const buttons = await screen.findAllByTestId("probe-open-restore");
    expect(buttons, "a lagging replica, an unreachable cache or database is not a restore").toHaveLength(1);
    expect(screen.getByTestId("env-card-production").querySelector('[data-testid="probe-open-restore"]')).toBeNull();
    const open = buttons[0] as HTMLElement;
    expect(open.textContent).toBe("Open restore wizard for staging");
    await fireEvent.click(open);

    await waitFor(() => expect(screen.getByTestId("page-title").textContent).toBe("Restore"));
    expect(screen.getByTestId("env-switch-staging").getAttribute("aria-pressed"), "the header follows").toBe("true");
    const start = await screen.findByTestId("restore-env");
    expect(start.getAttribute("data-env")).toBe("staging");
    await waitFor(() => expect(document.activeElement, "the keyboard lands on the wizard's first step").toBe(start));
    expect(planned, "opening the wizard plans and runs nothing").toEqual([]);
  });
});
