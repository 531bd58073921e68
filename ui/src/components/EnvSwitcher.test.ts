import { afterEach, describe, expect, it } from "vitest";
import { fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import App from "../App.svelte";
import { setBackend, type EnvironmentSummary } from "../lib/backend";
import { forgetEnvironments } from "../lib/environments";
import { context } from "../lib/context.svelte";
import { fakeCommands, ok } from "../test/fakeCommands";

const ENVS: EnvironmentSummary[] = [
  { name: "production", label: "Production", tier: "production", hosts: ["prod-app-1"] },
  { name: "staging", label: "Staging", tier: "staging", hosts: ["staging-app-1"] },
  { name: "eu", label: "EU", tier: "region", hosts: ["eu-app-1"] },
];

afterEach(() => {
  setBackend(null);
  window.location.hash = "";
});

function go(page: string): void {
  window.location.hash = `#/${page}`;
  window.dispatchEvent(new HashChangeEvent("hashchange"));
}

/** App with the three environments; records each environment the Backups page lists. */
function app(): string[] {
  const listed: string[] = [];
  setBackend(
    fakeCommands({
      environments: () => ok(ENVS),
      backupsList: (env) => {
        listed.push(env);
        return ok({ environment: env, entries: [], stale: false, maxStalenessHours: 26, newestGood: null, newestGoodAgeHours: null });
      },
    }),
  );
  render(App);
  return listed;
}

describe("the header's environment switcher", () => {
  it("opens on an environment that is not production, and pages follow what the header picks", async () => {
    const listed = app();
    const staging = await screen.findByTestId("env-switch-staging");
    expect(staging.getAttribute("aria-pressed"), "a fresh console never opens on production").toBe("true");
    expect(screen.queryByTestId("production-marker")).toBeNull();

    go("backups");
    await waitFor(() => expect(listed).toEqual(["staging"]));
    expect(screen.getByTestId("backups-env").getAttribute("data-env")).toBe("staging");

    await fireEvent.click(screen.getByTestId("env-switch-production"));
    await waitFor(() => expect(listed).toEqual(["staging", "production"]));
    expect(screen.getByTestId("backups-env").getAttribute("data-env")).toBe("production");
    expect(screen.getByTestId("production-marker").textContent).toContain("production");

    // Another page opens on the same environment, with no second pick.
    go("integrity");
    await waitFor(() => expect(screen.getByTestId("integrity-env").getAttribute("data-env")).toBe("production"));
    expect(screen.getByTestId("production-marker"), "the marker stays on every page").toBeTruthy();
  });

  it("marks a region as production too, and the Promote page whatever the header says", async () => {
    app();
    await fireEvent.click(await screen.findByTestId("env-switch-eu"));
    expect(screen.getByTestId("production-marker").textContent).toContain("region");
    await fireEvent.click(screen.getByTestId("env-switch-staging"));
    expect(screen.queryByTestId("production-marker")).toBeNull();
    go("promote");
    await waitFor(() => expect(screen.getByTestId("production-marker").textContent).toContain("production"));
  });

  it("remembers the choice across launches, and drops it when the environment is gone", async () => {
    app();
    await fireEvent.click(await screen.findByTestId("env-switch-eu"));
    expect(localStorage.getItem("nfops.environment")).toBe("eu");

    // A relaunch: the list is read again and the remembered name comes back.
    context.env = "";
    forgetEnvironments();
    document.body.innerHTML = "";
    app();
    await waitFor(() => expect(screen.getByTestId("env-switch-eu").getAttribute("aria-pressed")).toBe("true"));

    // The config lost `eu`: the console falls back to a non-production one.
    context.env = "";
    forgetEnvironments();
    document.body.innerHTML = "";
    setBackend(fakeCommands({ environments: () => ok(ENVS.filter((e) => e.name !== "eu")) }));
    render(App);
    await waitFor(() => expect(screen.getByTestId("env-switch-staging").getAttribute("aria-pressed")).toBe("true"));
  });
});
