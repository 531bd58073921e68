// The Metrics feature's model: ranges, the chart theme, value formatting and
// the hover readout (also used by the Uptime and Scaling charts).

import type { ChartPlot, MetricsSeries } from "../../lib/backend";

/** The time ranges of the picker, as the backend parses them. */
export const RANGES = [
  { id: "15m", label: "15 min" },
  { id: "1h", label: "1 hour" },
  { id: "6h", label: "6 hours" },
  { id: "24h", label: "24 hours" },
  { id: "7d", label: "7 days" },
] as const;

/** How often the page refreshes its charts. */
export const REFRESH_MS = 30_000;

/** The theme charts are drawn for (the backend draws them), following the OS. */
export function chartTheme(): "light" | "dark" {
  return window.matchMedia?.("(prefers-color-scheme: dark)").matches ? "dark" : "light";
}

/**
 * Calls `redraw` when the OS switches between light and dark (charts are
 * drawn in Rust for one theme, so they are asked for again); returns the
 * unsubscribe function for onMount.
 */
export function onThemeChange(redraw: () => void): () => void {
  const query = window.matchMedia?.("(prefers-color-scheme: dark)");
  if (!query) return () => undefined;
  query.addEventListener("change", redraw);
  return () => query.removeEventListener("change", redraw);
}

function si(v: number, suffix: string): string {
  const a = Math.abs(v);
  const [scaled, prefix] = a >= 1e9 ? [v / 1e9, "G"] : a >= 1e6 ? [v / 1e6, "M"] : a >= 1e3 ? [v / 1e3, "k"] : [v, ""];
  const digits = Math.abs(scaled) >= 100 || Number.isInteger(scaled) ? 0 : Math.abs(scaled) >= 10 ? 1 : 2;
  const sep = prefix || suffix ? " " : "";
  return `${scaled.toFixed(digits)}${sep}${prefix}${suffix}`;
}

/** A value for people, like the backend's axis labels. */
export function formatValue(unit: string, v: number | null): string {
  if (v === null || !Number.isFinite(v)) return "–";
  switch (unit) {
    case "percent":
      return `${v.toFixed(1)} %`;
    case "bytes_per_second":
      return `${si(v, "B")}/s`;
    case "per_second":
      return `${si(v, "")}/s`;
    case "seconds":
      return Math.abs(v) < 1 ? `${Math.round(v * 1000)} ms` : `${v.toFixed(2)} s`;
    default:
      return si(v, "");
  }
}

/**
 * The time under the pointer: `fraction` is the pointer's x across the
 * image (0..1); null when it is outside the plot area.
 */
export function timeAt(plot: ChartPlot, fraction: number): number | null {
  const x = fraction * plot.viewWidth;
  const left = plot.left ?? 0;
  const width = plot.width ?? 0;
  if (width <= 0 || x < left || x > left + width) return null;
  return (plot.xMin ?? 0) + ((x - left) / width) * ((plot.xMax ?? 0) - (plot.xMin ?? 0));
}

/** The point of `series` nearest to time `t` (binary search; points are in time order). */
export function nearest(series: MetricsSeries, t: number): [number, number | null] | null {
  const pts = series.points;
  const at = (i: number): number => pts[i]?.[0] ?? 0;
  if (pts.length === 0) return null;
  let lo = 0;
  let hi = pts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (at(mid) < t) lo = mid + 1;
    else hi = mid;
  }
  const best = lo > 0 && Math.abs(at(lo - 1) - t) < Math.abs(at(lo) - t) ? lo - 1 : lo;
  return [at(best), pts[best]?.[1] ?? null];
}

/** An `<img>` source for our own SVG; null when it holds anything script-like. */
export function svgSource(svg: string | null): string | null {
  if (!svg || /<script|javascript:|\son\w+=/i.test(svg)) return null;
  return `data:image/svg+xml;charset=utf-8,${encodeURIComponent(svg)}`;
}
