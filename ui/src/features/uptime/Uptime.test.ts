import { afterEach, describe, expect, it } from "vitest";
import { fireEvent, render, screen } from "@testing-library/svelte";
import Uptime from "./UptimePage.svelte";
import { setBackend, type UptimeReport } from "../../lib/backend";
import { fakeCommands, ok } from "../../test/fakeCommands";

afterEach(() => setBackend(null));

const report: UptimeReport = {
  environment: "production",
  start: 0,
  end: 900,
  probes: [
    {
      name: "health",
      check: "http",
      target: "http://127.0.0.1:17000/health",
      intervalSeconds: 30,
      failuresBeforeDown: 3,
      status: "down",
      consecutiveFailures: 4,
      checks: 8,
      failures: 4,
      uptimePercent: 50,
      meanLatencyMs: 7.4,
      last: { at: "2026-01-01T00:00:00Z", ok: false, latencyMs: null, detail: "connection failed: Connection refused" },
    },
  ],
  charts: [],
};

describe("Uptime", () => {
  it("shows each probe's status, uptime and last failure, and checks on request", async () => {
    const asked: string[] = [];
    let checks = 0;
    setBackend(
      fakeCommands({
        environments: () => ok([{ name: "production", label: "Production", tier: "production", hosts: [] }]),
        uptimeReport: (env, range) => {
          asked.push(`${env} ${range}`);
          return ok(report);
        },
        uptimeCheck: () => {
          checks += 1;
          return ok(null);
        },
      }),
    );
    render(Uptime);
    const row = await screen.findByTestId("uptime-probe-health");
    expect(asked[0]).toBe("production 1h");
    expect(row.getAttribute("data-status")).toBe("down");
    expect(screen.getByTestId("uptime-percent-health").textContent).toContain("50.00 %");
    expect(row.textContent).toContain("Connection refused");
    await fireEvent.click(screen.getByTestId("uptime-check"));
    await screen.findByTestId("uptime-probe-health");
    expect(checks).toBe(1);
    await new Promise((r) => setTimeout(r, 0));
    expect(asked.length).toBeGreaterThanOrEqual(2);
  });

  it("says how to add probes when an environment has none", async () => {
    setBackend(
      fakeCommands({
        environments: () => ok([{ name: "staging", label: "Staging", tier: "staging", hosts: [] }]),
      }),
    );
    render(Uptime);
    expect((await screen.findByTestId("uptime-none")).textContent).toContain("health_url");
  });
});
