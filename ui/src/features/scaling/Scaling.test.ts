import { afterEach, describe, expect, it } from "vitest";
import { fireEvent, render, screen } from "@testing-library/svelte";
import Scaling from "./ScalingPage.svelte";
import { setBackend } from "../../lib/backend";
import { fakeCommands, ok } from "../../test/fakeCommands";

afterEach(() => setBackend(null));

describe("Scaling", () => {
  it("plans first and applies only on the second click", async () => {
    const applied: number[] = [];
    setBackend(
      fakeCommands({
        environments: () => ok([{ name: "staging", label: "Staging", tier: "staging", hosts: ["stg-app-1"] }]),
        scalePlan: (env, n) =>
          ok({ environment: env, app: "nf-api", instancesPerHost: n, hosts: [{ host: "stg-app-1", current: 2, target: n }], changes: n !== 2 }),
        scaleApply: (env, n) => {
          applied.push(n);
          return ok({ environment: env, app: "nf-api", instancesPerHost: n, hosts: [{ host: "stg-app-1", current: 2, target: n }], changes: true });
        },
      }),
    );
    render(Scaling);
    await screen.findByTestId("scaling-hosts");
    await fireEvent.input(screen.getByTestId("scale-instances"), { target: { value: "3" } });
    await fireEvent.click(screen.getByTestId("scale-plan"));
    const planView = await screen.findByTestId("scale-plan-view");
    expect(planView.textContent).toContain("2 → 3");
    expect(applied).toEqual([]);
    await fireEvent.click(screen.getByTestId("scale-apply"));
    expect((await screen.findByTestId("scale-done")).textContent).toContain("stg-app-1 now 3");
    expect(applied).toEqual([3]);
  });
});
