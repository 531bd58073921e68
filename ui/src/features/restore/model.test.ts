import { describe, expect, it } from "vitest";
import { mayRun, tableList } from "./model";
import type { RestorePlanView } from "../../lib/backend";

function plan(ready: boolean, needsTypedConfirmation: boolean): RestorePlanView {
  return { ready, needsTypedConfirmation } as RestorePlanView;
}

describe("restore model", () => {
  it("reads the typed tables, ignoring blanks and spaces", () => {
    expect(tableList(" users, orders,, ")).toEqual(["users", "orders"]);
    expect(tableList("")).toEqual([]);
  });

  it("arms the run only for a ready plan and, where asked, the exact name", () => {
    expect(mayRun(null, "production", "production"), "no plan: nothing to run").toBe(false);
    expect(mayRun(plan(false, false), "", "staging"), "a failed preflight never runs").toBe(false);
    expect(mayRun(plan(true, false), "", "staging")).toBe(true);
    expect(mayRun(plan(true, true), "Production", "production"), "the name must match exactly").toBe(false);
    expect(mayRun(plan(true, true), "production", "production")).toBe(true);
  });
});
