import { afterEach, describe, expect, it, vi } from "vitest";
import { fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import Settings from "./SettingsPage.svelte";
import { setBackend, type CredentialStatus } from "../../lib/backend";
import { appInfo, fakeCommands, ok } from "../../test/fakeCommands";

afterEach(() => setBackend(null));

const SECRET = "s3cr3t-Value-that-must-not-show";

describe("Settings credentials", () => {
  it("sends a value once, clears the input at once and never renders or logs it", async () => {
    const creds: CredentialStatus[] = [{ name: "prod/db", state: "missing", changedAt: null, usedBy: ["production"] }];
    const sent: [string, string][] = [];
    setBackend(
      fakeCommands({
        credentialsList: () => ok(creds.map((c) => ({ ...c }))),
        credentialSet: (name, value) => {
          sent.push([name, value]);
          creds[0] = { ...creds[0]!, state: "set", changedAt: "2026-11-29T10:00:00Z" };
          return ok(null);
        },
      }),
    );
    const logged = (["log", "info", "warn", "error", "debug"] as const).map((m) => vi.spyOn(console, m));

    render(Settings, { props: { info: appInfo() } });
    const row = await screen.findByTestId("cred-row-prod/db");
    expect(row.textContent).toContain("missing");
    expect(row.textContent).toContain("production");

    await fireEvent.click(screen.getByTestId("cred-set"));
    const input = screen.getByLabelText(/Value for/) as HTMLInputElement;
    expect(input.type, "the value is typed into a password field").toBe("password");
    await fireEvent.input(input, { target: { value: SECRET } });
    await fireEvent.click(screen.getByTestId("cred-save"));

    expect(input.value, "the field is emptied as soon as it is submitted").toBe("");
    expect(sent, "the value goes to the backend exactly once").toEqual([["prod/db", SECRET]]);
    await waitFor(() => expect(screen.getByTestId("cred-row-prod/db").textContent).toContain("set"));
    expect(document.body.innerHTML, "the value is never rendered").not.toContain(SECRET);
    for (const spy of logged) {
      const text = JSON.stringify(spy.mock.calls);
      expect(text, "the value is never logged").not.toContain(SECRET);
    }
  });

  it("adds a credential by name, clearing the value at once", async () => {
    const creds: CredentialStatus[] = [];
    const sent: [string, string][] = [];
    setBackend(
      fakeCommands({
        credentialsList: () => ok(creds.map((c) => ({ ...c }))),
        credentialSet: (name, value) => {
          sent.push([name, value]);
          creds.push({ name, state: "set", changedAt: "2026-11-29T10:00:00Z", usedBy: [] });
          return ok(null);
        },
      }),
    );
    render(Settings, { props: { info: appInfo() } });
    const name = (await screen.findByTestId("credential-add-name")) as HTMLInputElement;
    const value = screen.getByTestId("credential-add-value") as HTMLInputElement;
    expect(value.type, "the value is typed into a password field").toBe("password");
    await fireEvent.input(name, { target: { value: "  staging/new-token " } });
    await fireEvent.input(value, { target: { value: SECRET } });
    await fireEvent.click(screen.getByTestId("credential-add-save"));
    expect(value.value, "the field is emptied as soon as it is submitted").toBe("");
    expect(sent, "the trimmed name and the value go to the backend once").toEqual([["staging/new-token", SECRET]]);
    await screen.findByTestId("cred-row-staging/new-token");
    expect(document.body.innerHTML, "the value is never rendered").not.toContain(SECRET);
  });

  it("asks before removing a credential", async () => {
    const removed: string[] = [];
    setBackend(
      fakeCommands({
        credentialsList: () => ok([{ name: "prod/ssh", state: "set", changedAt: "2026-11-29T10:00:00Z", usedBy: ["production"] }]),
        credentialDelete: (name) => {
          removed.push(name);
          return ok(null);
        },
      }),
    );
    render(Settings, { props: { info: appInfo() } });
    await screen.findByTestId("cred-row-prod/ssh");

    await fireEvent.click(screen.getByTestId("cred-remove"));
    expect(removed, "nothing is removed before the confirmation").toEqual([]);
    await fireEvent.click(screen.getByTestId("cred-remove-confirm"));
    await waitFor(() => expect(removed).toEqual(["prod/ssh"]));
  });

  it("shows agent-authenticated hosts as ssh-agent, with nothing to set or remove", async () => {
    setBackend(
      fakeCommands({
        credentialsList: () =>
          ok([
            { name: "prod/db", state: "set", changedAt: "2026-11-29T10:00:00Z", usedBy: ["production"] },
            { name: "ssh-agent", state: "agent", changedAt: null, usedBy: ["production", "staging"] },
          ]),
      }),
    );
    render(Settings, { props: { info: appInfo() } });
    const row = await screen.findByTestId("cred-row-ssh-agent");
    expect(row.querySelector(".state")?.textContent).toBe("ssh-agent");
    expect(row.textContent).toContain("production, staging");
    expect(row.querySelector('[data-testid="cred-set"]'), "no keyring key is asked for").toBeNull();
    expect(row.querySelector('[data-testid="cred-remove"]')).toBeNull();
    expect(screen.getByTestId("cred-row-prod/db").querySelector('[data-testid="cred-set"]')).not.toBeNull();
  });

  it("shows the config path, state dir and log dir", async () => {
    render(Settings, { props: { info: appInfo({ stateDir: "/var/lib/nfops", logDir: "/var/log/nfops" }) } });
    expect(screen.getByTestId("settings-config-path").textContent).toBe("/home/ops/.config/nfops/environments.toml");
    expect(document.body.textContent).toContain("/var/lib/nfops");
    expect(document.body.textContent).toContain("/var/log/nfops");
  });
});
