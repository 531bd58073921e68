import { afterEach, describe, expect, it } from "vitest";
import { fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import App from "../App.svelte";
import { setBackend, type EnvironmentSummary } from "../lib/backend";
import { fakeCommands, ok } from "../test/fakeCommands";

const ENVS: EnvironmentSummary[] = [
  { name: "production", label: "Production", tier: "production", hosts: ["prod-app-1"] },
  { name: "staging", label: "Staging", tier: "staging", hosts: ["stg-app-1"] },
];

afterEach(() => {
  setBackend(null);
  window.location.hash = "";
});

async function openPalette(): Promise<HTMLInputElement> {
  await fireEvent.keyDown(window, { key: "k", ctrlKey: true });
  const input = (await screen.findByTestId("palette-input")) as HTMLInputElement;
  await waitFor(() => expect(document.activeElement).toBe(input));
  return input;
}

describe("the command palette", () => {
  it("opens with Ctrl+K, goes to a page with the keyboard alone, and runs nothing", async () => {
    let ran = 0;
    setBackend(
      fakeCommands({
        environments: () => ok(ENVS),
        backupRun: () => {
          ran += 1;
          return ok({} as never);
        },
      }),
    );
    render(App);
    await screen.findByTestId("env-switch-staging");

    let input = await openPalette();
    await fireEvent.input(input, { target: { value: "back up" } });
    const first = screen.getAllByTestId("palette-entry")[0];
    expect(first?.textContent).toContain("Back up now");
    expect(first?.getAttribute("aria-selected")).toBe("true");
    await fireEvent.keyDown(input, { key: "Enter" });

    await waitFor(() => expect(screen.getByTestId("page-title").textContent).toBe("Backups"));
    expect(screen.queryByTestId("palette")).toBeNull();
    await waitFor(() => expect(document.activeElement?.getAttribute("data-testid")).toBe("backup-now"));
    expect(ran, "the palette only puts the keyboard on the button").toBe(0);

    // Environments too: arrow down to the second match, Enter.
    input = await openPalette();
    await fireEvent.input(input, { target: { value: "switch" } });
    await fireEvent.keyDown(input, { key: "ArrowDown" });
    const second = screen.getAllByTestId("palette-entry")[1];
    expect(second?.textContent).toContain("Switch to Staging");
    await fireEvent.keyDown(input, { key: "ArrowUp" });
    await fireEvent.keyDown(input, { key: "Enter" });
    await waitFor(() => expect(screen.getByTestId("env-switch-production").getAttribute("aria-pressed")).toBe("true"));
    expect(screen.getByTestId("production-marker")).toBeTruthy();
  });

  it("closes with Escape and gives the focus back", async () => {
    setBackend(fakeCommands({ environments: () => ok(ENVS) }));
    render(App);
    const nav = screen.getByTestId("nav-audit");
    nav.focus();
    const input = await openPalette();
    await fireEvent.input(input, { target: { value: "nothing like this" } });
    expect(screen.getByTestId("palette-list").textContent).toContain("Nothing matches");
    await fireEvent.keyDown(input, { key: "Escape" });
    expect(screen.queryByTestId("palette")).toBeNull();
    expect(document.activeElement).toBe(nav);
  });
});
