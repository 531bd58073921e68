import { describe, expect, it } from "vitest";
import { applyPromotionEvent, newLivePromotion, parseGate } from "./model";

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
