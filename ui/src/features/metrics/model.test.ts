import { describe, expect, it } from "vitest";
import { formatValue, nearest, svgSource, timeAt } from "./model";

describe("metrics helpers", () => {
  it("formats values like the backend's axes", () => {
    expect(formatValue("percent", 42.123)).toBe("42.1 %");
    expect(formatValue("bytes_per_second", 1_234_567)).toBe("1.23 MB/s");
    expect(formatValue("seconds", 0.012)).toBe("12 ms");
    expect(formatValue("count", null)).toBe("–");
  });

  it("maps the pointer to a time only inside the plot", () => {
    const plot = { viewWidth: 100, viewHeight: 50, left: 10, top: 0, width: 80, height: 40, xMin: 0, xMax: 800, yMin: 0, yMax: 1 };
    expect(timeAt(plot, 0.5)).toBe(400);
    expect(timeAt(plot, 0.05)).toBeNull();
  });

  it("finds the nearest point", () => {
    const s = { name: "a", color: "#000", points: [[0, 1], [10, 2], [20, null]] as [number, number | null][] };
    expect(nearest(s, 12)).toEqual([10, 2]);
    expect(nearest(s, 19)).toEqual([20, null]);
    expect(nearest({ ...s, points: [] }, 1)).toBeNull();
  });

  it("refuses anything script-like", () => {
    expect(svgSource("<svg><script>alert(1)</script></svg>")).toBeNull();
    expect(svgSource('<svg onload="x()"></svg>')).toBeNull();
    expect(svgSource("<svg></svg>")).toMatch(/^data:image\/svg\+xml/);
  });
});
