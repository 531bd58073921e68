import { describe, expect, it } from "vitest";
import { fireEvent, render, screen } from "@testing-library/svelte";
import EnvPicker from "./EnvPicker.svelte";
import type { EnvironmentSummary } from "../lib/backend";

const ENVS: EnvironmentSummary[] = [
  { name: "staging", label: "Staging", tier: "staging", hosts: [] },
  { name: "production", label: "Production", tier: "production", hosts: [] },
];

describe("EnvPicker", () => {
  it("as buttons: one per environment, testid `<testid>-<name>`, the picked one pressed", async () => {
    const picked: string[] = [];
    render(EnvPicker, { envs: ENVS, value: "staging", testid: "logs-env", onpick: (n: string) => picked.push(n) });
    const staging = screen.getByTestId("logs-env-staging");
    const production = screen.getByTestId("logs-env-production");
    expect(staging.getAttribute("aria-pressed")).toBe("true");
    expect(production.getAttribute("aria-pressed")).toBe("false");
    expect(production.textContent).toBe("Production");
    expect(production.dataset.env).toBe("production");
    await fireEvent.click(production);
    expect(picked).toEqual(["production"]);
  });

  it("adds extra choices after the environments; an empty name is `local` in its testid", () => {
    render(EnvPicker, { envs: ENVS, value: "", testid: "metrics-env", extra: [{ name: "", label: "This machine" }], onpick: () => {} });
    const local = screen.getByTestId("metrics-env-local");
    expect(local.textContent).toBe("This machine");
    expect(local.getAttribute("aria-pressed"), "this machine is the pick").toBe("true");
  });

  it("as a wizard choice: every button has the same testid, data-env tells them apart, none pressed", async () => {
    const picked: string[] = [];
    render(EnvPicker, { envs: ENVS, value: "", testid: "restore-env", sameTestid: true, pressed: false, onpick: (n: string) => picked.push(n) });
    const buttons = screen.getAllByTestId("restore-env");
    expect(buttons.map((b) => b.dataset.env)).toEqual(["staging", "production"]);
    expect(buttons[0]!.hasAttribute("aria-pressed")).toBe(false);
    await fireEvent.click(buttons[1]!);
    expect(picked).toEqual(["production"]);
  });

  it("as a select: the testid is the select's, its value the pick, labelled Environment", async () => {
    const picked: string[] = [];
    render(EnvPicker, { envs: ENVS, value: "production", testid: "backups-env", look: "select", onpick: (n: string) => picked.push(n) });
    const select = screen.getByTestId("backups-env") as HTMLSelectElement;
    expect(select.value).toBe("production");
    expect(screen.getByLabelText("Environment")).toBe(select);
    await fireEvent.change(select, { target: { value: "staging" } });
    expect(picked).toEqual(["staging"]);
  });

  it("disables every choice while the page is busy", () => {
    render(EnvPicker, { envs: ENVS, value: "", testid: "restore-env", sameTestid: true, disabled: true, onpick: () => {} });
    expect(screen.getAllByTestId("restore-env").every((b) => (b as HTMLButtonElement).disabled)).toBe(true);
  });
});
