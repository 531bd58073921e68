import { afterEach, describe, expect, it } from "vitest";
import { BackendError, backend, setBackend, toBackendError, unwrap, UI_CODES } from "./backend";
import { err, fakeCommands, ok } from "../test/fakeCommands";

afterEach(() => setBackend(null));

describe("unwrap", () => {
  it("returns the data of an ok result", () => {
    expect(unwrap({ status: "ok", data: [1, 2] }), "ok results pass their data through untouched").toEqual([1, 2]);
  });

  it("throws the wire error of an error result as a BackendError with code, message and hint", () => {
    const run = () =>
      unwrap({ status: "error", error: { code: "keyring.denied", message: "the keyring is locked", hint: "Unlock it." } });
    expect(run).toThrow(BackendError);
    try {
      run();
    } catch (e) {
      const be = e as BackendError;
      expect(be.code, "the UI branches on the code, so it must survive intact").toBe("keyring.denied");
      expect(be.message).toBe("the keyring is locked");
      expect(be.hint).toBe("Unlock it.");
    }
  });
});

describe("backend adapter", () => {
  it("resolves with the data of an ok command", async () => {
    setBackend(fakeCommands({ auditVerify: () => ok({ ok: true, entries: 7, problems: [] }) }));
    await expect(backend.auditVerify()).resolves.toEqual({ ok: true, entries: 7, problems: [] });
  });

  it("rejects with a BackendError carrying the backend's code, message and hint", async () => {
    setBackend(fakeCommands({ overview: () => err("config.invalid", "environments.toml:3:7: expected `=`", "Check the quotes.") }));
    const e = await backend.overview().catch((x: unknown) => x);
    expect(e).toBeInstanceOf(BackendError);
    expect((e as BackendError).code).toBe("config.invalid");
    expect((e as BackendError).message).toBe("environments.toml:3:7: expected `=`");
    expect((e as BackendError).hint).toBe("Check the quotes.");
  });

  it("turns a thrown IPC failure into a coded BackendError instead of leaking a TypeError", async () => {
    setBackend(fakeCommands({ appInfo: () => Promise.reject(new TypeError("window.__TAURI_INTERNALS__ is undefined")) }));
    const e = await backend.appInfo().catch((x: unknown) => x);
    expect(e, "components only ever see BackendError").toBeInstanceOf(BackendError);
    expect((e as BackendError).code).toBe(UI_CODES.ipcFailed);
  });

  it("codes an error value that is not { code, message, hint } as a bad reply", async () => {
    setBackend(fakeCommands({ credentialsList: () => Promise.resolve({ status: "error", error: "command not found" as never }) }));
    const e = await backend.credentialsList().catch((x: unknown) => x);
    expect((e as BackendError).code).toBe(UI_CODES.badReply);
  });

  it("unwraps a command answered in a result wrapper and a bare one alike", async () => {
    const info = { version: "9.9.9", configPath: "/c", configError: null, stateDir: "/s", logDir: "/l", environmentCount: 0 };
    const wrapped = () => Promise.resolve({ status: "ok", data: info }) as never;
    setBackend(fakeCommands({ appInfo: wrapped }));
    await expect(backend.appInfo()).resolves.toEqual(info);
    setBackend(fakeCommands({ appInfo: () => Promise.resolve(info) as never }));
    await expect(backend.appInfo()).resolves.toEqual(info);
    const failing = () => Promise.resolve({ status: "error", error: { code: "state.error", message: "no state", hint: null } }) as never;
    setBackend(fakeCommands({ appInfo: failing }));
    await expect(backend.appInfo()).rejects.toMatchObject({ code: "state.error", message: "no state" });
  });

  it("passes arguments through to the command", async () => {
    const calls: string[] = [];
    setBackend(
      fakeCommands({
        probeEnvironment: (name) => {
          calls.push(name);
          return err("config.unknown_environment", `no environment named '${name}'`);
        },
      }),
    );
    await expect(backend.probeEnvironment("moon")).rejects.toMatchObject({ code: "config.unknown_environment" });
    expect(calls).toEqual(["moon"]);
  });
});

describe("toBackendError", () => {
  it("keeps a BackendError as it is", () => {
    const be = new BackendError({ code: "io.error", message: "disk full", hint: null });
    expect(toBackendError(be)).toBe(be);
  });

  it("accepts a wire error with the hint left out", () => {
    expect(toBackendError({ code: "internal", message: "bug" })).toMatchObject({ code: "internal", hint: null });
  });
});
