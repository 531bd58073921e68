import { afterEach, describe, expect, it } from "vitest";
import { setBackend, type EnvironmentSummary } from "./backend";
import { loadEnvironments, refreshEnvironments } from "./environments";
import { err, fakeCommands, ok } from "../test/fakeCommands";

afterEach(() => setBackend(null));

const STAGING: EnvironmentSummary = { name: "staging", label: "Staging", tier: "staging", hosts: [] };
const PRODUCTION: EnvironmentSummary = { name: "production", label: "Production", tier: "production", hosts: [] };

describe("the shared environments list", () => {
  it("is asked of the backend once, however many pages read it", async () => {
    let calls = 0;
    setBackend(fakeCommands({ environments: () => (calls++, ok([STAGING])) }));
    const [a, b] = await Promise.all([loadEnvironments(), loadEnvironments()]);
    const c = await loadEnvironments();
    expect([a, b, c]).toEqual([[STAGING], [STAGING], [STAGING]]);
    expect(calls, "every page reads the one load").toBe(1);
  });

  it("re-reads on refresh, and pages opened afterwards see the new list", async () => {
    let list = [STAGING];
    setBackend(fakeCommands({ environments: () => ok(list) }));
    expect(await loadEnvironments()).toEqual([STAGING]);
    list = [STAGING, PRODUCTION];
    expect(await loadEnvironments(), "no refresh: the list loaded before").toEqual([STAGING]);
    expect(await refreshEnvironments()).toEqual([STAGING, PRODUCTION]);
    expect(await loadEnvironments()).toEqual([STAGING, PRODUCTION]);
  });

  it("does not keep a failure: the next reader asks again", async () => {
    let fail = true;
    setBackend(fakeCommands({ environments: () => (fail ? err("config.invalid", "bad config") : ok([STAGING])) }));
    await expect(loadEnvironments()).rejects.toMatchObject({ code: "config.invalid" });
    fail = false;
    expect(await loadEnvironments(), "the config was fixed: the next page gets the list").toEqual([STAGING]);
  });
});
