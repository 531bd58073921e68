import { describe, expect, it } from "vitest";
import { applyPromotionEvent, healthWords, newLivePromotion, p95Line, parseGate } from "./model";
import type { EnvironmentStatus } from "../../lib/backend";

describe("promotion progress", () => {
  it("parses gate lines and ignores other messages", () => {
    expect(parseGate("gate metrics baseline: FAILED — no data")).toEqual({ name: "metrics baseline", passed: false, detail: "no data" });
    expect(parseGate("prod-app-1: pm2 reload")).toBeNull();
  });

  it("keeps one line per gate (the latest)", () => {
    let p = newLivePromotion();
    p = applyPromotionEvent(p, { event: "jobStarted", jobId: "a", steps: ["gates"] });
    p = applyPromotionEvent(p, { event: "stepMessage", index: 0, message: "gate backup: FAILED — none" });
    p = applyPromotionEvent(p, { event: "stepMessage", index: 0, message: "gate backup: passed — taken now" });
    expect(p.gates).toEqual([{ name: "backup", passed: true, detail: "taken now" }]);
  });
});

describe("promotion sides and chart", () => {
  it("words a side's health from its backend probe", () => {
    expect(healthWords(undefined), "still probing").toBe("…");
    expect(healthWords(null), "the probe itself failed").toBe("unknown");
    const status = (state: "ok" | "failed") =>
      ({ probes: [{ kind: "backend", state, summary: "200 in 12 ms" }] }) as unknown as EnvironmentStatus;
    expect(healthWords(status("ok"))).toBe("healthy: 200 in 12 ms");
    expect(healthWords(status("failed"))).toBe("unhealthy: 200 in 12 ms");
  });

  it("draws p95 across the chart, skipping samples without a time or a p95", () => {
    const s = (atSecs: number | null, p95Ms: number | null) => ({ atSecs, p95Ms, release: "v2", healthOk: true, errorRatio: 0, problem: null });
    const line = p95Line([s(0, 10), s(5, null), s(10, 20), s(null, 30)]);
    expect(line.max).toBe(20);
    expect(line.points).toBe("0.0,32.5 300.0,5.0");
  });
});
