import { afterEach, describe, expect, it, vi } from "vitest";
import { fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import Secrets from "./SecretsPage.svelte";
import { setBackend } from "../../lib/backend";
import { fakeCommands, ok } from "../../test/fakeCommands";

afterEach(() => setBackend(null));

const VALUE = "planted-Value-in-the-UI";

describe("Secrets page", () => {
  it("masks values, reveals one on click in its row only, and never logs it", async () => {
    const reveals: string[] = [];
    setBackend(
      fakeCommands({
        environments: () => ok([{ name: "staging", label: "Staging", tier: "staging", hosts: ["stg-app-1"] }]),
        secretsList: (env) =>
          ok({ environment: env, keys: ["A_KEY", "DB_PASSWORD"], recipients: [{ name: "me", key: "age1me" }], file: "s/staging.env.age", exists: true }),
        secretReveal: (_env, key) => {
          reveals.push(key);
          return ok(VALUE);
        },
      }),
    );
    const logged = (["log", "info", "warn", "error", "debug"] as const).map((m) => vi.spyOn(console, m));
    render(Secrets);
    const row = await screen.findByTestId("secret-row-DB_PASSWORD");
    expect(document.body.innerHTML, "values are masked until revealed").not.toContain(VALUE);
    await fireEvent.click(row.querySelector("[data-testid=secret-reveal]")!);
    await waitFor(() => expect(row.textContent).toContain(VALUE));
    expect(reveals, "one value, fetched on click").toEqual(["DB_PASSWORD"]);
    expect(screen.getByTestId("secret-row-A_KEY").textContent, "only in that row").not.toContain(VALUE);
    await fireEvent.click(row.querySelector("[data-testid=secret-reveal]")!);
    expect(document.body.innerHTML, "hidden again").not.toContain(VALUE);
    for (const spy of logged) expect(JSON.stringify(spy.mock.calls)).not.toContain(VALUE);
  });

  it("shows a push plan by key names, then the job's result", async () => {
    setBackend(
      fakeCommands({
        environments: () => ok([{ name: "staging", label: "Staging", tier: "staging", hosts: ["stg-app-1"] }]),
        secretsList: (env) => ok({ environment: env, keys: ["NEW"], recipients: [], file: "f", exists: true }),
        secretsPushPlan: (env) =>
          ok({ environment: env, keys: 1, hosts: [{ host: "stg-app-1", path: "/a/.env", added: ["NEW"], removed: [], changed: [], apps: ["nf-api"] }] }),
        secretsPush: (env) =>
          ok({
            plan: { environment: env, keys: 1, hosts: [] },
            state: "succeeded",
            jobId: "j1",
            error: null,
            steps: [{ name: "write .env on stg-app-1", state: "completed", evidence: "sha256 ok" }],
          }),
      }),
    );
    render(Secrets);
    await fireEvent.click(await screen.findByTestId("secrets-plan"));
    await waitFor(() => expect(screen.getByTestId("secrets-push-plan").textContent).toContain("add NEW"));
    await fireEvent.click(screen.getByTestId("secrets-push"));
    await waitFor(() => expect(screen.getByTestId("secrets-push-result").textContent).toContain("succeeded"));
  });
});
