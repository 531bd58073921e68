import { afterEach, describe, expect, it } from "vitest";
import { fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import Overview from "./OverviewPage.svelte";
import { setBackend, type EnvironmentStatus } from "../../lib/backend";
import { err, fakeCommands, ok } from "../../test/fakeCommands";

afterEach(() => setBackend(null));

function production(cacheFails: boolean): EnvironmentStatus {
  return {
    name: "production",
    label: "Production",
    tier: "production",
    checkedAt: "2026-11-29T10:11:12Z",
    probes: [
      { kind: "backend", target: "http://127.0.0.1:28080/health", state: "ok", summary: "200 OK", error: null, latencyMs: 4, since: null },
      { kind: "release", target: "app-1", state: "ok", summary: "v1", error: null, latencyMs: 40, since: "2026-01-01T00:00:00Z" },
      { kind: "release", target: "app-2", state: "ok", summary: "v1", error: null, latencyMs: 41, since: null },
      cacheFails
        ? {
            kind: "cache",
            target: "127.0.0.1:17379",
            state: "failed",
            summary: "unreachable",
            error: {
              code: "service.unreachable",
              message: "Redis at 127.0.0.1:17379 refused the connection",
              hint: "Start the local stack with make run.",
            },
            latencyMs: 2,
            since: null,
          }
        : { kind: "cache", target: "127.0.0.1:17379", state: "ok", summary: "PONG", error: null, latencyMs: 1, since: null },
      { kind: "monitoring", target: "", state: "notConfigured", summary: "", error: null, latencyMs: 0, since: null },
    ],
  };
}

describe("Overview", () => {
  it("shows each provider's mode on the card, once for hosts that agree, and what production refuses", async () => {
    const live = { provider: "payments", label: "Payments", mode: "live", evidence: "PAYMENT_SECRET_KEY matches PAYMENT_SECRET_KEY=sk_live_*" };
    const mock = { provider: "email", label: "Email", mode: "mock", evidence: "EMAIL_PROVIDER matches EMAIL_PROVIDER=mock" };
    setBackend(
      fakeCommands({
        overview: () => ok([production(false)]),
        providerModes: () =>
          ok([
            {
              environment: "production",
              liveRequired: true,
              hosts: [
                { host: "app-1", modes: [live, mock], error: null },
                { host: "app-2", modes: [live, mock], error: null },
              ],
              refusals: ["Email would run in mock mode on production host app-1 (EMAIL_PROVIDER matches EMAIL_PROVIDER=mock); a production environment needs live providers"],
            },
          ]),
      }),
    );
    render(Overview);
    const box = await screen.findByTestId("env-providers-production");
    const rows = box.querySelectorAll('[data-testid="env-providers-production-row"]');
    expect(rows, "two hosts saying the same make one row").toHaveLength(1);
    expect(rows[0]!.textContent).toContain("2 hosts");
    expect(box.querySelector('[data-provider="payments"]')!.className).toContain("good");
    expect(box.querySelector('[data-provider="email"]')!.className, "a mock on production is a fault").toContain("bad");
    expect(screen.getByTestId("env-provider-refusals-production").textContent).toContain("mock mode on production host app-1");
  });

  it("warns when an environment's newest good backup is older than its policy allows", async () => {
    setBackend(
      fakeCommands({
        overview: () => ok([production(false)]),
        backupsStaleness: () =>
          ok([
            { environment: "production", stale: true, maxStalenessHours: 26, newestGood: "b1", ageHours: 30, error: null },
            { environment: "staging", stale: false, maxStalenessHours: 26, newestGood: "b2", ageHours: 2, error: null },
          ]),
      }),
    );
    render(Overview);
    const warn = await screen.findByTestId("overview-backups-stale");
    expect(warn.textContent).toContain("production is 30 h old, more than the 26 h");
    expect(warn.textContent, "a fresh environment is not named").not.toContain("staging");
  });

  it("warns when an environment's last successful drill is too old, or there is none", async () => {
    setBackend(
      fakeCommands({
        overview: () => ok([production(false)]),
        drillsStaleness: () =>
          ok([
            { environment: "production", stale: true, maxAgeDays: 30, lastOk: "d1", lastOkAt: "2026-10-01T00:00:00Z", ageDays: 45 },
            { environment: "staging", stale: true, maxAgeDays: 30, lastOk: null, lastOkAt: null, ageDays: null },
            { environment: "preview", stale: false, maxAgeDays: 30, lastOk: "d2", lastOkAt: "2026-11-28T00:00:00Z", ageDays: 1 },
          ]),
      }),
    );
    render(Overview);
    const warn = await screen.findByTestId("overview-drills-stale");
    const text = (env: string) => warn.querySelector(`[data-env="${env}"]`)?.textContent?.replace(/\s+/g, " ");
    expect(text("production")).toContain(
      "The last successful restore drill of production is 45 d old, more than the 30 days allowed",
    );
    expect(text("production"), "the warning carries its fix").toContain("Run a restore drill of production");
    expect(text("staging")).toContain("staging has no successful restore drill yet");
    expect(warn.textContent, "a freshly drilled environment is not named").not.toContain("preview");
  });

  it("shows no drill warning when every environment was drilled recently", async () => {
    setBackend(
      fakeCommands({
        overview: () => ok([production(false)]),
        drillsStaleness: () =>
          ok([{ environment: "production", stale: false, maxAgeDays: 30, lastOk: "d1", lastOkAt: "2026-11-28T00:00:00Z", ageDays: 1 }]),
      }),
    );
    render(Overview);
    await screen.findAllByText(/Production/);
    expect(screen.queryByTestId("overview-drills-stale")).toBeNull();
  });

  it("shows no backup warning when every environment is fresh", async () => {
    setBackend(
      fakeCommands({
        overview: () => ok([production(false)]),
        backupsStaleness: () =>
          ok([{ environment: "production", stale: false, maxStalenessHours: 26, newestGood: "b1", ageHours: 1, error: null }]),
      }),
    );
    render(Overview);
    await screen.findAllByText(/Production/);
    expect(screen.queryByTestId("overview-backups-stale")).toBeNull();
  });

  it("shows a failed probe with its message, hint and data-state", async () => {
    setBackend(fakeCommands({ overview: () => ok([production(true)]) }));
    render(Overview, { props: { configPath: "/etc/nfops/environments.toml" } });

    const row = await screen.findByTestId("probe-production-cache");
    expect(row.getAttribute("data-state"), "e2e tests read the state from data-state").toBe("failed");
    const error = row.querySelector('[data-testid="probe-error"]');
    expect(error?.textContent).toContain("Redis at 127.0.0.1:17379 refused the connection");
    expect(error?.textContent, "the hint tells the operator what to do").toContain("Start the local stack with make run.");

    expect(screen.getByTestId("probe-production-backend").getAttribute("data-state")).toBe("ok");
    expect(screen.getByTestId("probe-production-monitoring").getAttribute("data-state")).toBe("notConfigured");
    expect(screen.getByTestId("probe-production-release-app-1"), "release probes are one row per host").toBeTruthy();
    expect(screen.getByTestId("probe-production-release-app-2")).toBeTruthy();
    expect(screen.getByTestId("env-card-production").textContent).toContain("production");
  });

  it("keeps earlier results on screen when a refresh fails", async () => {
    let calls = 0;
    setBackend(
      fakeCommands({
        overview: () => (++calls === 1 ? ok([production(false)]) : err("state.error", "the console's local state database failed", null)),
      }),
    );
    render(Overview, { props: {} });
    await screen.findByTestId("env-card-production");

    await fireEvent.click(screen.getByTestId("refresh-all"));
    await screen.findByText("the console's local state database failed");
    expect(screen.getByTestId("env-card-production"), "a failed refresh must not clear the last good results").toBeTruthy();
  });

  it("replaces only one card on a per-card refresh", async () => {
    setBackend(
      fakeCommands({
        overview: () => ok([production(true)]),
        probeEnvironment: () => ok(production(false)),
      }),
    );
    render(Overview, { props: {} });
    const row = await screen.findByTestId("probe-production-cache");
    expect(row.getAttribute("data-state")).toBe("failed");

    await fireEvent.click(screen.getByRole("button", { name: "Refresh Production" }));
    await waitFor(() => expect(screen.getByTestId("probe-production-cache").getAttribute("data-state")).toBe("ok"));
  });

  it("offers to add an environment when the file defines none", async () => {
    setBackend(fakeCommands({ overview: () => ok([]) }));
    render(Overview, { props: { configPath: "/etc/nfops/environments.toml" } });
    const empty = await screen.findByTestId("overview-empty");
    expect(empty.textContent).toContain("/etc/nfops/environments.toml");
    await fireEvent.click(screen.getByTestId("overview-add-env"));
    expect(window.location.hash).toBe("#/settings");
    window.location.hash = "";
  });

  it("shows each environment's cockpit facts: backup, drill, promotion, uptime, the day's changes", async () => {
    const hoursAgo = (h: number) => new Date(Date.now() - h * 3_600_000).toISOString();
    setBackend(
      fakeCommands({
        overview: () => ok([production(false)]),
        cockpit: () =>
          ok([
            {
              environment: "production",
              backup: { id: "b1", ageHours: 5, verified: true, offsite: "failed" },
              backupError: null,
              drill: { startedAt: hoursAgo(72), ok: false, seconds: 41.5 },
              promotion: { release: "v7", state: "rolled_back", startedAt: hoursAgo(3), actor: "alice" },
              uptime24h: 98.5,
              changes: [{ at: hoursAgo(3), actor: "alice", action: "promote.run", target: "v7", outcome: "failed" }],
            },
          ]),
      }),
    );
    render(Overview);
    const facts = await screen.findByTestId("cockpit-production");
    const text = (id: string) => facts.querySelector(`[data-testid=${id}]`)?.textContent?.replace(/\s+/g, " ").trim();
    expect(text("cockpit-backup")).toBe("5 h ago, verified, offsite copy failed");
    expect(text("cockpit-drill")).toBe("3 d ago, recovery time 42 s, failed");
    expect(facts.querySelector("[data-testid=cockpit-drill]")?.getAttribute("data-state")).toBe("failed");
    expect(text("cockpit-promotion")).toBe("v7 rolled back 3 h ago by alice");
    expect(text("cockpit-uptime")).toBe("98.50 %");
    const changes = screen.getByTestId("cockpit-changes");
    expect(changes.getAttribute("data-count")).toBe("1");
    expect(changes.textContent).toContain("promote.run v7 by alice (failed)");
  });

  it("shows a code-based title, the message and the hint when the overview fails", async () => {
    setBackend(fakeCommands({ overview: () => err("keyring.unavailable", "no keyring answered", "Install gnome-keyring.") }));
    render(Overview, { props: {} });
    const alert = await screen.findByRole("alert");
    expect(alert.getAttribute("data-code")).toBe("keyring.unavailable");
    expect(alert.textContent).toContain("No OS keyring available");
    expect(alert.textContent).toContain("no keyring answered");
    expect(alert.textContent).toContain("Install gnome-keyring.");
  });

  it("shows the last hour as sparklines with their newest value, and the open alerts, firing first", async () => {
    setBackend(
      fakeCommands({
        overview: () => ok([production(false)]),
        pulse: (name) =>
          ok({
            environment: name,
            monitored: true,
            sparks: [
              { id: "requests", title: "Requests", latest: "12.5/s", svg: '<svg viewBox="0 0 220 36"></svg>', error: null, query: "sum(rate(x[2m]))" },
              { id: "errors", title: "5xx share", latest: null, svg: '<svg viewBox="0 0 220 36"></svg>', error: null, query: "q" },
              { id: "p95", title: "p95 latency", latest: null, svg: null, error: { code: "service.unhealthy", message: "Prometheus refused q", hint: null }, query: "q" },
              { id: "cpu", title: "CPU busy", latest: "4.0 %", svg: '<svg viewBox="0 0 220 36"></svg>', error: null, query: "q" },
            ],
            alerts: [
              { name: "TargetDown", state: "firing", severity: "critical", labels: ["host=prod-app-2", "job=app"], summary: "app on prod-app-2 has not answered", activeAt: "2026-12-07T09:00:00Z" },
              { name: "SlowResponses", state: "pending", severity: "warning", labels: [], summary: null, activeAt: null },
            ],
            alertsError: null,
          }),
      }),
    );
    render(Overview);
    const strip = await screen.findByTestId("pulse-production");
    const spark = (id: string) => strip.querySelector(`[data-testid="spark-${id}"]`) as HTMLElement;
    expect(spark("requests").textContent).toContain("12.5/s");
    expect(spark("requests").querySelector("img")?.getAttribute("src")).toMatch(/^data:image\/svg\+xml/);
    expect(spark("errors").getAttribute("data-state"), "no data is not 0 %").toBe("empty");
    expect(spark("errors").textContent).toContain("no data");
    expect(spark("p95").getAttribute("data-state")).toBe("failed");
    expect(spark("p95").textContent).toContain("Prometheus refused q");
    const alerts = screen.getByTestId("alerts-production");
    expect(alerts.getAttribute("data-firing")).toBe("1");
    expect(alerts.textContent?.replace(/\s+/g, " ")).toContain("1 firing, 1 pending");
    const [first, second] = Array.from(alerts.querySelectorAll('[data-testid="alert"]'));
    expect(first?.textContent).toContain("app on prod-app-2 has not answered");
    expect(first?.textContent).toContain("host=prod-app-2");
    expect(second?.getAttribute("data-state")).toBe("pending");
  });

  it("says when the alert list cannot be read, and shows no pulse without monitoring", async () => {
    let monitored = true;
    let answered = 0;
    setBackend(
      fakeCommands({
        overview: () => ok([production(false)]),
        pulse: (name) => {
          answered++;
          return ok({
            environment: name,
            monitored,
            sparks: [],
            alerts: [],
            alertsError: monitored ? { code: "service.unreachable", message: "Prometheus did not answer", hint: null } : null,
          });
        },
      }),
    );
    const { unmount } = render(Overview);
    expect((await screen.findByTestId("alerts-production")).textContent).toContain("Alerts could not be read: Prometheus did not answer");
    unmount();
    monitored = false;
    const before = answered;
    render(Overview);
    await screen.findByTestId("env-card-production");
    await waitFor(() => expect(answered, "the unmonitored pulse was asked for and answered").toBeGreaterThan(before));
    await new Promise((r) => setTimeout(r, 20));
    expect(screen.queryByTestId("pulse-production")).toBeNull();
    expect(screen.queryByTestId("alerts-production")).toBeNull();
  });

  it("says since when a host runs its release", async () => {
    setBackend(fakeCommands({ overview: () => ok([production(false)]) }));
    render(Overview);
    const row = await screen.findByTestId("probe-production-release-app-1");
    const since = row.querySelector('[data-testid="probe-since"]');
    expect(since?.textContent).toMatch(/^since \d+ d ago$/);
    expect(screen.getByTestId("probe-production-release-app-2").querySelector('[data-testid="probe-since"]'), "unknown: not shown").toBeNull();
  });
});
