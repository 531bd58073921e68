import { afterEach, describe, expect, it } from "vitest";
import { fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import App from "../../App.svelte";
import { setBackend, type EnvironmentDraft } from "../../lib/backend";
import { answerAppInfo, appInfo, err, fakeCommands, ok } from "../../test/fakeCommands";

afterEach(() => {
  setBackend(null);
  window.location.hash = "";
});

const NOT_FOUND = { code: "config.not_found", message: "no environments file at /x/environments.toml", hint: null };
const FP = "SHA256:Ut3PDueAekGRmFh0vVPCODLIJBZMv2TKjD6LCNWvN9w";

async function type(testid: string, value: string): Promise<void> {
  await fireEvent.input(screen.getByTestId(testid), { target: { value } });
}

describe("first run", () => {
  it("sets up an environment from nothing: fingerprint confirmed, secrets to the keyring, diff, save", async () => {
    let written = false;
    const keyring: [string, string][] = [];
    const probed: EnvironmentDraft[] = [];
    const saved: [EnvironmentDraft | null, string][] = [];
    setBackend(
      fakeCommands({
        appInfo: () => answerAppInfo(appInfo({ configError: written ? null : NOT_FOUND })),
        credentialSet: (name, value) => {
          keyring.push([name, value]);
          return ok(null);
        },
        setupScanHostKey: (address, port) =>
          address === "127.0.0.1" && port === 17050 ? ok({ fingerprint: FP, algorithm: "ssh-ed25519" }) : err("ssh.connect", "refused"),
        setupProbe: (draft) => {
          probed.push(structuredClone(draft));
          return ok({
            name: draft.name,
            label: draft.name,
            tier: draft.tier,
            checkedAt: "2026-12-07T10:00:00Z",
            probes: [
              { kind: "backend", target: draft.healthUrl ?? "", state: "ok", summary: "200 OK", error: null, latencyMs: 3, since: null },
              ...draft.hosts.map((h) => ({ kind: "release" as const, target: h.name, state: "ok" as const, summary: "v1", error: null, latencyMs: 9, since: null })),
            ],
          });
        },
        configPreview: (draft) =>
          ok({ path: "/x/environments.toml", exists: false, diff: [{ op: "+", text: `[environments.${draft?.name}]` }], invalid: null, base: "b0" }),
        configSave: (draft, _remove, base) => {
          saved.push([draft, base]);
          written = true;
          return ok("/x/environments.toml");
        },
      }),
    );
    render(App);
    await screen.findByTestId("first-run");
    expect(screen.getByTestId("page-title").textContent).toBe("Set up NewFinity Ops");
    expect(screen.queryByTestId("config-error"), "no error banner: the setup is the answer").toBeNull();

    expect((screen.getByTestId("setup-next") as HTMLButtonElement).disabled, "a name first").toBe(true);
    await type("setup-env-name", "staging");
    await type("setup-health-url", "http://127.0.0.1:17001/health");
    await fireEvent.click(screen.getByTestId("setup-test"));
    await screen.findByTestId("setup-test-ok");
    await fireEvent.click(screen.getByTestId("setup-next"));

    await fireEvent.click(await screen.findByTestId("setup-host-add"));
    await type("setup-host-name-0", "stg-app-1");
    await type("setup-host-address-0", "127.0.0.1");
    await type("setup-host-port-0", "17050");
    await type("setup-host-key-0", "-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n-----END OPENSSH PRIVATE KEY-----");
    await fireEvent.click(screen.getByTestId("setup-host-scan-0"));
    expect((await screen.findByTestId("setup-host-fingerprint-0")).textContent).toBe(FP);
    await fireEvent.click(screen.getByTestId("setup-host-trust-0"));
    await screen.findByTestId("setup-host-pinned-0");
    await fireEvent.click(screen.getByTestId("setup-test"));
    await screen.findByTestId("setup-test-ok");
    expect(keyring, "the key went to the keyring before the test, newline-terminated").toEqual([
      ["staging/ssh/deploy", "-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n-----END OPENSSH PRIVATE KEY-----\n"],
    ]);
    expect((screen.getByTestId("setup-host-key-0") as HTMLTextAreaElement).value, "the field is emptied").toBe("");
    expect(JSON.stringify(probed), "no secret in what is probed").not.toContain("PRIVATE KEY");
    expect(probed.at(-1)?.hosts[0]?.hostKey).toBe(FP);

    // Database and storage left out; a cache with a password typed under the proposed name.
    await fireEvent.click(screen.getByTestId("setup-next"));
    await fireEvent.click(screen.getByTestId("setup-next"));
    await fireEvent.click(await screen.findByTestId("setup-next"));
    await fireEvent.click(await screen.findByTestId("setup-cache-on"));
    await type("setup-cache-password", "redis-pass");
    await fireEvent.click(screen.getByTestId("setup-next"));
    expect(keyring.at(-1)).toEqual(["staging/redis", "redis-pass"]);
    await fireEvent.click(await screen.findByTestId("setup-next"));
    expect((await screen.findByTestId("setup-diff")).textContent).toContain("[environments.staging]");
    await fireEvent.click(screen.getByTestId("setup-save"));

    await waitFor(() => expect(screen.getByTestId("page-title").textContent).toBe("Overview"));
    expect(saved).toHaveLength(1);
    expect(saved[0]?.[1], "saved against the previewed file").toBe("b0");
    expect(saved[0]?.[0]?.hosts[0]).toMatchObject({ name: "stg-app-1", port: 17050, sshKeyCredential: "staging/ssh/deploy", hostKey: FP });
    expect(saved[0]?.[0]?.cache?.passwordCredential, "the file names the credential the password went to").toBe("staging/redis");
    expect(JSON.stringify(saved), "no secret in what is saved").not.toContain("PRIVATE KEY");
    expect(JSON.stringify(saved)).not.toContain("redis-pass");
  });

  it("leaves the other pages reachable (Settings: updates, credentials) with a way back to the setup", async () => {
    setBackend(fakeCommands({ appInfo: () => answerAppInfo(appInfo({ configError: NOT_FOUND })) }));
    render(App);
    await screen.findByTestId("first-run");
    window.location.hash = "#/settings";
    window.dispatchEvent(new HashChangeEvent("hashchange"));
    await waitFor(() => expect(screen.getByTestId("page-title").textContent).toBe("Settings"));
    expect(screen.queryByTestId("setup"), "the setup stays on the Overview").toBeNull();
    expect(screen.getByTestId("first-run-note").querySelector("a")?.getAttribute("href")).toBe("#/overview");
    expect(await screen.findByTestId("settings-environments")).toBeTruthy();
  });

  it("forgets a confirmed host key when the address changes, and shows a scan's failure", async () => {
    setBackend(
      fakeCommands({
        appInfo: () => answerAppInfo(appInfo({ configError: NOT_FOUND })),
        setupScanHostKey: (address) => (address === "10.0.0.1" ? ok({ fingerprint: FP, algorithm: "ssh-ed25519" }) : err("ssh.connect", `cannot read the SSH host key of ${address}:22: connection refused`)),
      }),
    );
    render(App);
    await screen.findByTestId("setup-env-name");
    await type("setup-env-name", "prod");
    await fireEvent.click(await screen.findByTestId("setup-tier-production"));
    await fireEvent.click(screen.getByTestId("setup-next"));
    await fireEvent.click(await screen.findByTestId("setup-host-add"));
    await type("setup-host-address-0", "10.0.0.1");
    await fireEvent.click(screen.getByTestId("setup-host-scan-0"));
    await fireEvent.click(await screen.findByTestId("setup-host-trust-0"));
    await screen.findByTestId("setup-host-pinned-0");
    await type("setup-host-address-0", "10.0.0.2");
    await waitFor(() => expect(screen.queryByTestId("setup-host-pinned-0")).toBeNull());
    await fireEvent.click(screen.getByTestId("setup-host-scan-0"));
    expect((await screen.findByRole("alert")).textContent).toContain("10.0.0.2:22: connection refused");
  });
});
