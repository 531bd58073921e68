import { afterEach, describe, expect, it } from "vitest";
import { fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import Promote from "./PromotePage.svelte";
import { setBackend, type JobEvent, type PromotionPlanView, type PromotionResult } from "../../lib/backend";
import { fakeCommands, ok } from "../../test/fakeCommands";

afterEach(() => setBackend(null));

const ENVS = [
  { name: "staging", label: "Staging", tier: "staging" as const, hosts: ["stg-app-1"] },
  { name: "production", label: "Production", tier: "production" as const, hosts: ["prod-app-1", "prod-app-2"] },
];

function plan(o: Partial<PromotionPlanView> = {}): PromotionPlanView {
  return {
    fromEnv: "staging",
    toEnv: "production",
    release: "v2",
    digest: "8dc2291b8f8c0000",
    releaseDescription: null,
    sourceHost: "stg-app-1",
    sourceHosts: [{ host: "stg-app-1", from: "v2", to: "v2", artifactPresent: true }],
    hosts: [
      { host: "prod-app-1", from: "v1", to: "v2", artifactPresent: true },
      { host: "prod-app-2", from: "v1", to: "v2", artifactPresent: false },
    ],
    frontend: null,
    configDiff: [
      { key: "NF_ENV", change: "changed", oldValue: null, newValue: null, public: false },
      { key: "LOG_LEVEL", change: "changed", oldValue: "warn", newValue: "debug", public: true },
    ],
    secretParity: { missingOnTarget: [], onlyOnTarget: [], sameValue: ["REDIS_PASSWORD"], differentValue: ["DB_PASSWORD"] },
    providersSource: [],
    providersTarget: [],
    providersLiveRequired: true,
    pendingMigrations: ["002_orders_note"],
    gates: [{ name: "backup", text: "a verified production backup newer than 24h" }],
    expectedSecs: 70,
    rollbackAutomatic: ["the current symlink of every production host"],
    rollbackManual: ["database migrations 002_orders_note stay applied"],
    blockers: [],
    ...o,
  };
}

type FakeChannel = { onmessage: (e: JobEvent) => void };

describe("Promote page", () => {
  it("shows both sides and the plan, and arms the button only after the target's name is typed", async () => {
    setBackend(fakeCommands({ environments: () => ok(ENVS), promotionPlan: () => ok(plan()) }));
    render(Promote);
    const rows = await screen.findAllByTestId("plan-host");
    expect(rows).toHaveLength(2);
    expect(rows[1]!.textContent).toContain("copied from stg-app-1");
    expect(screen.getByTestId("promote-side-source").textContent).toContain("v2");
    expect(screen.getByTestId("promote-side-target").textContent).toContain("v1");
    expect(screen.getByTestId("plan-migrations").textContent).toContain("002_orders_note");
    expect(screen.getByTestId("plan-config").textContent).toContain("NF_ENV");
    const values = screen.getAllByTestId("plan-config-values");
    expect(values, "only the public setting shows values").toHaveLength(1);
    expect(values[0]!.textContent).toContain("warn → debug");
    expect(screen.getByTestId("plan-secrets").textContent).toContain("REDIS_PASSWORD");
    expect(screen.getByTestId("plan-rollback").textContent).toContain("stay applied");
    const button = screen.getByTestId("promote-button") as HTMLButtonElement;
    expect(button.disabled, "not armed before the confirmation").toBe(true);
    await fireEvent.input(screen.getByTestId("promote-confirm"), { target: { value: "staging" } });
    expect(button.disabled, "the wrong name does not arm it").toBe(true);
    await fireEvent.input(screen.getByTestId("promote-confirm"), { target: { value: "production" } });
    expect(button.disabled).toBe(false);
  });

  it("shows each provider's mode per side, a test key on one production host in the fault tone", async () => {
    const mode = (provider: string, label: string, m: string, evidence: string) => ({ provider, label, mode: m, evidence });
    const live = [mode("payments", "Payments", "live", "PAYMENT_SECRET_KEY matches PAYMENT_SECRET_KEY=sk_live_*")];
    setBackend(
      fakeCommands({
        environments: () => ok(ENVS),
        promotionPlan: () =>
          ok(
            plan({
              providersSource: [
                { host: "stg-app-1", modes: [mode("payments", "Payments", "test", "PAYMENT_SECRET_KEY matches PAYMENT_SECRET_KEY=sk_test_*")], error: null },
              ],
              providersTarget: [
                { host: "prod-app-1", modes: live, error: null },
                { host: "prod-app-2", modes: [mode("payments", "Payments", "test", "PAYMENT_SECRET_KEY matches PAYMENT_SECRET_KEY=sk_test_*")], error: null },
              ],
              blockers: ["Payments would run in test mode on production host prod-app-2 (…); a production environment needs live providers"],
            }),
          ),
      }),
    );
    render(Promote);
    const section = await screen.findByTestId("plan-providers");
    const source = screen.getByTestId("plan-providers-source");
    expect(source.querySelector('[data-mode="test"]')!.className, "test mode on staging is a note").toContain("warn");
    const rows = screen.getByTestId("plan-providers-target").querySelectorAll('[data-testid="plan-providers-target-row"]');
    expect(rows, "hosts that differ get a row each").toHaveLength(2);
    const bad = rows[1]!.querySelector('[data-mode="test"]') as HTMLElement;
    expect(bad.className, "on production it is a fault").toContain("bad");
    expect(bad.title).toContain("sk_test_*");
    expect(rows[0]!.querySelector('[data-mode="live"]')!.className).toContain("good");
    expect(section.textContent).toContain("production · prod-app-2");
    expect(source.textContent, "each side names its environment").toContain("staging · stg-app-1");
    expect(screen.getByTestId("plan-blockers").textContent).toContain("test mode on production host prod-app-2");
  });

  it("never arms a blocked plan and says why", async () => {
    setBackend(
      fakeCommands({
        environments: () => ok(ENVS),
        promotionPlan: () => ok(plan({ blockers: ["release v2 on host 'stg-app-1' does not match its CHECKSUM: server.js: FAILED"] })),
      }),
    );
    render(Promote);
    const b = await screen.findByTestId("plan-blockers");
    expect(b.textContent).toContain("server.js: FAILED");
    expect((screen.getByTestId("promote-confirm") as HTMLInputElement).disabled).toBe(true);
    expect((screen.getByTestId("promote-button") as HTMLButtonElement).disabled).toBe(true);
  });

  it("shows live progress per gate and host, then the rollback and its outcome", async () => {
    let confirmSent = "";
    let cancels = 0;
    const result: PromotionResult = {
      id: "p1",
      state: "rolled_back",
      summary: "Rolled back automatically after step 'switch prod-app-1' failed",
      gates: [],
      apply: [],
      rollback: [],
      finalHosts: [
        { host: "prod-app-1", release: "v1", problem: null },
        { host: "prod-app-2", release: "v1", problem: null },
      ],
      baselineP95Ms: 5,
      verification: [],
      rollbackVerification: [],
      error: null,
      durationMs: 30000,
    };
    let finish: () => void = () => {};
    setBackend(
      fakeCommands({
        environments: () => ok(ENVS),
        promotionPlan: () => ok(plan()),
        promoteCancel: () => {
          cancels += 1;
          return ok(true);
        },
        promote: (_f, _t, confirm, _c, channel) => {
          confirmSent = confirm;
          const ch = channel as unknown as FakeChannel;
          ch.onmessage({ event: "jobStarted", jobId: "a", steps: ["gates", "switch prod-app-1", "verify"] });
          ch.onmessage({ event: "stepStarted", index: 0, name: "gates" });
          ch.onmessage({ event: "stepMessage", index: 0, message: "gate backup: passed — verified backup b1 is 1.0h old" });
          ch.onmessage({ event: "stepFinished", index: 0, state: "completed", evidence: "all passed", error: null });
          ch.onmessage({ event: "stepStarted", index: 1, name: "switch prod-app-1" });
          ch.onmessage({
            event: "stepFinished",
            index: 1,
            state: "failed",
            evidence: null,
            error: { code: "service.unhealthy", message: "release v3-broken answered HTTP 500", hint: null },
          });
          ch.onmessage({ event: "jobFinished", jobId: "a", state: "failed", error: null });
          ch.onmessage({ event: "jobStarted", jobId: "b", steps: ["roll back prod-app-1", "verify rollback"] });
          return new Promise((resolve) => {
            finish = () => resolve({ status: "ok", data: result } as never);
          });
        },
      }),
    );
    render(Promote);
    await screen.findAllByTestId("plan-host");
    await fireEvent.input(screen.getByTestId("promote-confirm"), { target: { value: "production" } });
    await fireEvent.click(screen.getByTestId("promote-button"));
    const gate = await screen.findByTestId("live-gate");
    expect(gate.dataset.passed).toBe("true");
    const failed = (await screen.findAllByTestId("live-step")).find((s) => s.dataset.step === "switch prod-app-1")!;
    expect(failed.dataset.state).toBe("failed");
    expect(failed.textContent).toContain("HTTP 500");
    const jobs = screen.getAllByTestId("live-job");
    expect(jobs.map((j) => j.dataset.kind)).toEqual(["apply", "rollback"]);
    expect(confirmSent).toBe("production");
    await fireEvent.click(screen.getByTestId("promote-cancel"));
    await waitFor(() => expect(cancels, "Cancel asks the backend to stop").toBe(1));
    finish();
    const r = await screen.findByTestId("promote-result");
    expect(r.dataset.state).toBe("rolled_back");
    expect(r.textContent).toContain("rolled back");
    await waitFor(() => expect(screen.getAllByTestId("final-host")).toHaveLength(2));
    expect(screen.queryByTestId("promote-cancel"), "no Cancel once it ended").toBeNull();
  });

  it("lists past promotions with their outcome", async () => {
    setBackend(
      fakeCommands({
        environments: () => ok(ENVS),
        promotionPlan: () => ok(plan()),
        promotionHistory: () =>
          ok([
            {
              id: "p1",
              fromEnv: "staging",
              toEnv: "production",
              release: "v2",
              previous: [["prod-app-1", "v1"]],
              state: "succeeded",
              summary: "production runs v2",
              actor: "ops",
              approver: "bob",
              gates: [],
              finalHosts: [],
              startedAt: "2026-06-01T10:00:00Z",
              durationMs: 42000,
            },
          ]),
      }),
    );
    render(Promote);
    const row = await screen.findByTestId("history-row");
    expect(row.dataset.state).toBe("succeeded");
    expect(row.textContent).toContain("v1 → v2");
    expect(row.textContent).toContain("42 s");
    expect(row.textContent).toContain("approved by bob");
  });
});
