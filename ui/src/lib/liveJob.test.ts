import { describe, expect, it } from "vitest";
import { applyEvent, newLiveJob, rateAndEta } from "./liveJob";

describe("live job view", () => {
  it("works out rate and ETA from two samples", () => {
    expect(rateAndEta({ done: 0, at: 0 }, { done: 1000, at: 2000 }, 5000)).toEqual({ perSec: 500, etaSecs: 8 });
    expect(rateAndEta({ done: 0, at: 0 }, { done: 1000, at: 2000 }, null)).toEqual({ perSec: 500, etaSecs: null });
    expect(rateAndEta({ done: 5, at: 0 }, { done: 5, at: 0 }, 10), "no time passed: no rate").toEqual({ perSec: 0, etaSecs: null });
    expect(rateAndEta({ done: 0, at: 0 }, { done: 900, at: 1000 }, 800).etaSecs, "past the estimate: no ETA").toBeNull();
  });

  it("folds job events into the live view and keeps the first failure", () => {
    let j = newLiveJob();
    j = applyEvent(j, { event: "jobStarted", jobId: "j", steps: ["a", "b"] });
    j = applyEvent(j, { event: "stepStarted", index: 1, name: "b" });
    j = applyEvent(j, { event: "stepFinished", index: 1, state: "failed", evidence: null, error: null });
    j = applyEvent(j, { event: "jobFinished", jobId: "j", state: "failed", error: null });
    expect(j.failure?.step).toBe("b");
    expect(j.state).toBe("failed");
    expect(j.finished).toEqual({ 1: "failed" });
  });
});
