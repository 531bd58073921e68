import { describe, expect, it } from "vitest";
import { fireEvent, render, screen } from "@testing-library/svelte";
import MetricsChart from "./MetricsChart.svelte";
import type { MetricsChart as Chart } from "../../lib/backend";

const chart: Chart = {
  id: "cpu",
  title: "CPU busy",
  unit: "percent",
  queries: ["q"],
  svg: '<svg viewBox="0 0 640 260"></svg>',
  plot: { viewWidth: 640, viewHeight: 260, left: 0, top: 0, width: 640, height: 260, xMin: 0, xMax: 100, yMin: 0, yMax: 100 },
  series: [{ name: "app-1", color: "#2563eb", points: [[0, 10], [50, 40], [100, 70]] }],
  omitted: 0,
  error: null,
  failedQuery: null,
};

describe("a chart's hover readout", () => {
  it("follows the pointer, and moves to its left side near the right edge", async () => {
    render(MetricsChart, { props: { chart } });
    const plot = screen.getByRole("img", { name: "CPU busy chart" });
    plot.getBoundingClientRect = () => ({ left: 0, top: 0, width: 500, height: 200, right: 500, bottom: 200, x: 0, y: 0, toJSON: () => ({}) });

    await fireEvent.pointerMove(plot, { clientX: 150, clientY: 50 });
    let readout = screen.getByTestId("chart-readout");
    expect(readout.style.left).toBe("calc(30% + 12px)");
    expect(readout.textContent).toContain("app-1: 40");

    await fireEvent.pointerMove(plot, { clientX: 450, clientY: 50 });
    readout = screen.getByTestId("chart-readout");
    expect(readout.style.left).toBe("");
    expect(readout.style.right).toBe("calc(10% + 12px)");
    expect(readout.textContent).toContain("app-1: 70");

    await fireEvent.pointerLeave(plot);
    expect(screen.queryByTestId("chart-readout")).toBeNull();
  });
});
