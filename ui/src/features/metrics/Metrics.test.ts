import { afterEach, describe, expect, it } from "vitest";
import { render, screen, waitFor } from "@testing-library/svelte";
import Metrics from "./MetricsPage.svelte";
import { setBackend, type MetricsBoard, type MetricsChart } from "../../lib/backend";
import { fakeCommands, ok } from "../../test/fakeCommands";

afterEach(() => setBackend(null));

const plot = { viewWidth: 640, viewHeight: 260, left: 72, top: 8, width: 560, height: 230, xMin: 0, xMax: 60, yMin: 0, yMax: 100 };

function chart(over: Partial<MetricsChart>): MetricsChart {
  return { id: "cpu", title: "CPU busy", unit: "percent", queries: ["q"], svg: null, plot: null, series: [], omitted: 0, error: null, failedQuery: null, ...over };
}

describe("Metrics", () => {
  it("draws each chart as an image and shows a failed chart's query and reason", async () => {
    const asked: (string | null)[][] = [];
    const board: MetricsBoard = {
      source: "prometheus",
      sourceDetail: "http://127.0.0.1:9090",
      start: 0,
      end: 60,
      charts: [
        chart({ svg: '<svg viewBox="0 0 640 260"></svg>', plot, series: [{ name: "prod-app-1", color: "#2563eb", points: [[0, 10], [30, 20]] }] }),
        chart({
          id: "db-qps",
          title: "DB queries per second",
          error: { code: "service.unhealthy", message: "Prometheus refused rate(x[: bad_data: parse error", hint: null },
          failedQuery: "rate(x[",
        }),
      ],
    };
    setBackend(
      fakeCommands({
        environments: () => ok([{ name: "production", label: "Production", tier: "production", hosts: ["prod-app-1"] }]),
        metricsBoard: (env, host, range, theme) => {
          asked.push([env, host, range, theme]);
          return ok(board);
        },
      }),
    );
    render(Metrics);
    const cpu = await screen.findByTestId("chart-cpu");
    expect(asked[0]).toEqual(["production", null, "1h", "light"]);
    expect(cpu.getAttribute("data-state")).toBe("ok");
    expect(cpu.querySelector("img")?.getAttribute("src")).toMatch(/^data:image\/svg\+xml/);
    const failed = screen.getByTestId("chart-db-qps");
    expect(failed.getAttribute("data-state")).toBe("failed");
    expect(failed.textContent).toContain("parse error");
    expect(screen.getByTestId("chart-query").textContent).toBe("rate(x[");
  });
});

describe("Metrics and the OS theme", () => {
  it("draws the charts again in the OS's theme when it switches", async () => {
    let dark = false;
    const listeners: (() => void)[] = [];
    const original = window.matchMedia;
    window.matchMedia = ((q: string) => ({
      get matches() {
        return q.includes("dark") && dark;
      },
      media: q,
      addEventListener: (_: string, f: () => void) => listeners.push(f),
      removeEventListener: () => undefined,
    })) as unknown as typeof window.matchMedia;
    try {
      const themes: string[] = [];
      setBackend(
        fakeCommands({
          environments: () => ok([]),
          metricsBoard: (_env, _host, _range, theme) => {
            themes.push(theme);
            return ok({ source: "local", sourceDetail: "this machine", start: 0, end: 60, charts: [] });
          },
        }),
      );
      render(Metrics);
      await waitFor(() => expect(themes).toEqual(["light"]));
      dark = true;
      for (const f of listeners) f();
      await waitFor(() => expect(themes).toEqual(["light", "dark"]));
    } finally {
      window.matchMedia = original;
    }
  });
});
