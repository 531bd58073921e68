import { afterEach, describe, expect, it } from "vitest";
import { fireEvent, render, screen } from "@testing-library/svelte";
import Logs from "./LogsPage.svelte";
import { setBackend } from "../../lib/backend";
import { fakeCommands, ok } from "../../test/fakeCommands";

afterEach(() => setBackend(null));

describe("Logs", () => {
  it("asks with the picked filters and shows lines and unreadable hosts", async () => {
    const asked: (string | null)[][] = [];
    setBackend(
      fakeCommands({
        environments: () => ok([{ name: "production", label: "Production", tier: "production", hosts: ["prod-app-1", "prod-app-2"] }]),
        logsTail: (env, level, category, host) => {
          asked.push([env, level, category, host]);
          return ok({
            source: "pm2",
            lines: [{ ts: "2026-01-01T00:00:00Z", level: "error", category: "error", msg: "db down", app: "nf-api", host: "prod-app-1", raw: "{}" }],
            failedHosts: [{ host: "prod-app-2", error: { code: "ssh.connect", message: "SSH to host 'prod-app-2' timed out", hint: null } }],
          });
        },
      }),
    );
    render(Logs);
    expect((await screen.findByTestId("logs-lines")).getAttribute("data-count")).toBe("1");
    expect(asked[0]).toEqual(["production", null, null, null]);
    expect(screen.getByTestId("logs-failed-prod-app-2").textContent).toContain("timed out");
    await fireEvent.change(screen.getByTestId("logs-level"), { target: { value: "warn" } });
    await new Promise((r) => setTimeout(r, 0));
    expect(asked.at(-1)).toEqual(["production", "warn", null, null]);
  });
});
