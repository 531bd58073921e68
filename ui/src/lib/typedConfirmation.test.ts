import { describe, expect, it } from "vitest";
import { BackendError } from "./backend";
import { showTypedRequestsWith, withTypedConfirmation } from "./typedConfirmation";

const refusal = () =>
  new BackendError({ code: "confirmation.required", message: "push secrets in 'production' needs its name", hint: "type it" });

describe("withTypedConfirmation", () => {
  it("passes nothing when the backend does not ask (non-production tiers)", async () => {
    const seen: (string | null)[] = [];
    const r = await withTypedConfirmation(async (c) => {
      seen.push(c);
      return 1;
    }, () => "never");
    expect(r).toBe(1);
    expect(seen).toEqual([null]);
  });

  it("sends exactly what the operator typed after a confirmation.required refusal", async () => {
    const seen: (string | null)[] = [];
    const r = await withTypedConfirmation(async (c) => {
      seen.push(c);
      if (c !== "production") throw refusal();
      return "done";
    }, () => " production ");
    expect(r).toBe("done");
    expect(seen).toEqual([null, "production"]);
  });

  it("keeps the refusal when the operator cancels", async () => {
    await expect(withTypedConfirmation(async () => { throw refusal(); }, () => null)).rejects.toMatchObject({
      code: "confirmation.required",
    });
  });

  it("asks the app's dialog by default and keeps the refusal when no dialog is mounted", async () => {
    await expect(withTypedConfirmation(async () => { throw refusal(); })).rejects.toMatchObject({
      code: "confirmation.required",
    });
    const asked: string[] = [];
    const off = showTypedRequestsWith((r) => {
      asked.push(r.message);
      r.answer("production");
    });
    const seen: (string | null)[] = [];
    const r = await withTypedConfirmation(async (c) => {
      seen.push(c);
      if (c !== "production") throw refusal();
      return "pushed";
    });
    off();
    expect(r).toBe("pushed");
    expect(seen).toEqual([null, "production"]);
    expect(asked[0]).toContain("needs its name");
  });
});
