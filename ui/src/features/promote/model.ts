// The Promote feature's model: the live view of a promotion folded from its
// job events (the apply job, then the rollback job when there is one), the
// gate lines the gates step reports, and what the page draws of each side.

import type { EnvironmentStatus, JobEvent, PromotionChoices, SampleView } from "../../lib/backend";

export type LiveStep = { name: string; state: string; detail: string };
export type LiveJob = { kind: "apply" | "rollback"; steps: LiveStep[]; state: string };
export type LiveGate = { name: string; passed: boolean; detail: string };
export type LivePromotion = { jobs: LiveJob[]; gates: LiveGate[] };

export const DEFAULT_CHOICES: PromotionChoices = {
  skipBackup: false,
  backupMaxAgeHours: 24,
  changeWindow: null,
  approver: null,
  requireApprover: false,
  verifySecs: 30,
};

export function newLivePromotion(): LivePromotion {
  return { jobs: [], gates: [] };
}

/** `gate backup: passed — verified backup … is 2.0h old` → a gate line. */
export function parseGate(message: string): LiveGate | null {
  const m = /^gate (.+?): (passed|FAILED) — (.*)$/s.exec(message);
  if (!m) return null;
  return { name: m[1] ?? "", passed: m[2] === "passed", detail: m[3] ?? "" };
}

/** Folds one event into the live view (returns a new object). */
export function applyPromotionEvent(p: LivePromotion, e: JobEvent): LivePromotion {
  const jobs = p.jobs.map((j) => ({ ...j, steps: j.steps.map((s) => ({ ...s })) }));
  const job = jobs[jobs.length - 1];
  switch (e.event) {
    case "jobStarted": {
      const kind = e.steps.some((s) => s.startsWith("roll back") || s === "verify rollback") ? "rollback" : "apply";
      jobs.push({ kind, state: "running", steps: e.steps.map((name) => ({ name, state: "pending", detail: "" })) });
      return { ...p, jobs };
    }
    case "stepStarted":
      if (job?.steps[e.index]) job.steps[e.index]!.state = "running";
      return { ...p, jobs };
    case "stepMessage": {
      if (job?.steps[e.index]) job.steps[e.index]!.detail = e.message;
      const gate = parseGate(e.message);
      const gates = gate ? [...p.gates.filter((g) => g.name !== gate.name), gate] : p.gates;
      return { jobs, gates };
    }
    case "stepFinished":
      if (job?.steps[e.index]) {
        job.steps[e.index]!.state = e.state;
        job.steps[e.index]!.detail = e.evidence ?? e.error?.message ?? "";
      }
      return { ...p, jobs };
    case "jobFinished":
      if (job) job.state = e.state;
      return { ...p, jobs };
    default:
      return p;
  }
}

/** Words for a promotion's final state. */
export function stateWords(state: string): string {
  switch (state) {
    case "succeeded":
      return "promoted";
    case "rolled_back":
      return "rolled back";
    case "rollback_failed":
      return "rollback did not finish";
    case "refused":
      return "refused (nothing changed)";
    case "running":
      return "running";
    case "interrupted":
      return "interrupted (hosts may differ: plan again)";
    default:
      return "failed (nothing changed)";
  }
}

/** A side's health line from its probe (undefined: still probing; null: the probe failed). */
export function healthWords(status: EnvironmentStatus | null | undefined): string {
  if (status === undefined) return "…";
  if (status === null) return "unknown";
  const b = status.probes.find((p) => p.kind === "backend");
  return b ? `${b.state === "ok" ? "healthy" : "unhealthy"}: ${b.summary}` : "no backend probe";
}

/** p95 (ms) of the verification samples as the points of a 300×60 SVG polyline. */
export function p95Line(samples: SampleView[]): { points: string; max: number } {
  const pts = samples
    .filter((s) => s.p95Ms !== null && s.atSecs !== null)
    .map((s) => ({ at: s.atSecs ?? 0, p95: s.p95Ms ?? 0 }));
  const max = Math.max(1, ...pts.map((s) => s.p95));
  const last = Math.max(1, ...pts.map((s) => s.at));
  return {
    max,
    points: pts.map((s) => `${((s.at / last) * 300).toFixed(1)},${(60 - (s.p95 / max) * 55).toFixed(1)}`).join(" "),
  };
}
