import { describe, expect, it } from "vitest";
import { render, screen } from "@testing-library/svelte";
import JobProgress from "./JobProgress.svelte";
import { applyEvent, newLiveJob, type LiveJob } from "../lib/liveJob";

function running(): LiveJob {
  let j = newLiveJob();
  j = applyEvent(j, { event: "jobStarted", jobId: "j", steps: ["dump", "verify", "publish"] });
  j = applyEvent(j, { event: "stepStarted", index: 0, name: "dump" });
  j = applyEvent(j, { event: "stepFinished", index: 0, state: "completed", evidence: "7 tables", error: null });
  j = applyEvent(j, { event: "stepStarted", index: 1, name: "verify" });
  j = applyEvent(j, { event: "stepProgress", index: 1, done: 1000, total: 4000, unit: "rows" });
  return applyEvent(j, { event: "stepMessage", index: 1, message: "2/7 tables" });
}

describe("JobProgress", () => {
  it("lists every step with its state and shows the running step's count, share and message", () => {
    render(JobProgress, { live: running(), testid: "restore-progress" });
    const box = screen.getByTestId("restore-progress");
    expect(box.dataset.state).toBe("running");
    const steps = [...box.querySelectorAll("li")].map((li) => [li.dataset.step, li.classList[0]]);
    expect(steps).toEqual([
      ["dump", "completed"],
      ["verify", "running"],
      ["publish", "pending"],
    ]);
    expect(screen.getByTestId("restore-progress-count").textContent).toBe("1,000 / 4,000 rows");
    expect(box.textContent).toContain("(25%)");
    expect((box.querySelector("progress") as HTMLProgressElement).value).toBe(25);
    expect(screen.getByTestId("restore-progress-message").textContent).toBe("2/7 tables");
    expect(screen.queryByTestId("restore-progress-rate"), "no rate unless the page measured one").toBeNull();
  });

  it("shows rate and ETA when given", () => {
    render(JobProgress, { live: running(), testid: "backup-progress", speed: { perSec: 500, etaSecs: 90 } });
    expect(screen.getByTestId("backup-progress-rate").textContent).toContain("500 rows/s, ETA 1 min 30 s");
  });

  it("shows only the steps once the job finished", () => {
    const done = applyEvent(running(), { event: "jobFinished", jobId: "j", state: "failed", error: null });
    render(JobProgress, { live: done, testid: "backup-progress" });
    expect(screen.getByTestId("backup-progress").dataset.state).toBe("failed");
    expect(screen.queryByTestId("backup-progress-count")).toBeNull();
  });
});
