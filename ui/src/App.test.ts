import { afterEach, describe, expect, it } from "vitest";
import { render, screen, waitFor } from "@testing-library/svelte";
import App from "./App.svelte";
import { setBackend } from "./lib/backend";
import { answerAppInfo, appInfo, fakeCommands } from "./test/fakeCommands";

afterEach(() => {
  setBackend(null);
  window.location.hash = "";
});

const CONFIG_ERROR = {
  code: "config.invalid",
  message: "/etc/nfops/environments.toml:12:5: unknown field `pasword`",
  hint: "Credentials are named with `*_credential` keys.",
};

describe("App shell", () => {
  it("shows the config error banner with message and hint on every page", async () => {
    setBackend(fakeCommands({ appInfo: () => answerAppInfo(appInfo({ configError: CONFIG_ERROR })) }));
    render(App);

    const banner = await screen.findByTestId("config-error");
    expect(banner.textContent, "the message carries file:line:column").toContain("environments.toml:12:5");
    expect(banner.textContent).toContain("Credentials are named with `*_credential` keys.");

    window.location.hash = "#/audit";
    window.dispatchEvent(new HashChangeEvent("hashchange"));
    await waitFor(() => expect(screen.getByTestId("page-title").textContent).toBe("Audit"));
    expect(screen.getByTestId("config-error"), "the banner stays on other pages").toBeTruthy();
  });

  it("shows no banner when the config is fine, and the version and config path in the header", async () => {
    setBackend(fakeCommands());
    render(App);
    await waitFor(() => expect(screen.getByTestId("app-version").textContent).toBe("v0.1.0"));
    expect(screen.getByTestId("config-path").textContent).toBe("/home/ops/.config/nfops/environments.toml");
    expect(screen.queryByTestId("config-error")).toBeNull();
  });

  it("has a nav item for every page", () => {
    setBackend(fakeCommands());
    render(App);
    for (const id of ["overview", "promote", "backups", "restore", "integrity", "metrics", "secrets", "audit", "settings"]) {
      expect(screen.getByTestId(`nav-${id}`).getAttribute("href")).toBe(`#/${id}`);
    }
  });
});
