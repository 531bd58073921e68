// Chart export: the SVG as the backend drew it, or a PNG rasterised here by
// the webview (it has the fonts and the SVG renderer; the backend stays free
// of a rasteriser). The backend writes the file and says where.

import { backend } from "../../lib/backend";

/** A file name for a chart: `<scope>-<chart id>-<yyyymmdd-hhmm>`. */
export function exportName(scope: string, chartId: string, at: Date): string {
  const pad = (n: number) => String(n).padStart(2, "0");
  const stamp = `${at.getFullYear()}${pad(at.getMonth() + 1)}${pad(at.getDate())}-${pad(at.getHours())}${pad(at.getMinutes())}`;
  return `${scope || "chart"}-${chartId}-${stamp}`;
}

/** The SVG at `scale` × its viewBox size, as PNG bytes. */
export async function svgToPng(svg: string, width: number, height: number, scale = 2): Promise<Uint8Array> {
  const img = new Image();
  const loaded = new Promise<void>((resolve, reject) => {
    img.onload = () => resolve();
    img.onerror = () => reject(new Error("the chart's SVG could not be loaded as an image"));
  });
  img.src = `data:image/svg+xml;charset=utf-8,${encodeURIComponent(svg)}`;
  await loaded;
  const canvas = document.createElement("canvas");
  canvas.width = Math.round(width * scale);
  canvas.height = Math.round(height * scale);
  const ctx = canvas.getContext("2d");
  if (!ctx) throw new Error("no 2D canvas to draw the PNG on");
  ctx.drawImage(img, 0, 0, canvas.width, canvas.height);
  const blob = await new Promise<Blob | null>((resolve) => canvas.toBlob(resolve, "image/png"));
  if (!blob) throw new Error("the canvas gave no PNG");
  return new Uint8Array(await blob.arrayBuffer());
}

/** Exports `svg` as `format`; resolves with the saved file's path. */
export async function exportChart(name: string, svg: string, format: "svg" | "png", width: number, height: number): Promise<string> {
  const data = format === "svg" ? new TextEncoder().encode(svg) : await svgToPng(svg, width, height);
  return backend.chartExport(name, format, data);
}
