import { afterEach, describe, expect, it } from "vitest";
import { exportChart, exportName } from "./chartExport";
import { setBackend } from "../../lib/backend";
import { fakeCommands, ok } from "../../test/fakeCommands";

afterEach(() => setBackend(null));

describe("chart export", () => {
  it("names files by scope, chart and local time", () => {
    expect(exportName("production", "cpu", new Date(2026, 0, 2, 3, 4))).toBe("production-cpu-20260102-0304");
    expect(exportName("", "cpu", new Date(2026, 10, 29, 23, 5))).toBe("chart-cpu-20261129-2305");
  });

  it("sends the SVG text as bytes and returns where it was saved", async () => {
    let sent: number[] = [];
    setBackend(
      fakeCommands({
        chartExport: (name, format, data) => {
          sent = data;
          return ok(`/x/${name}.${format}`);
        },
      }),
    );
    const path = await exportChart("p-cpu", "<svg></svg>", "svg", 640, 260);
    expect(path).toBe("/x/p-cpu.svg");
    expect(new TextDecoder().decode(new Uint8Array(sent))).toBe("<svg></svg>");
  });
});
