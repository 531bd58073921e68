import { afterEach, describe, expect, it } from "vitest";
import { fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import UpdatesSection from "./UpdatesSection.svelte";
import { setBackend, type DownloadEvent, type UpdateInfo, type UpdateStatus } from "../../lib/backend";
import { err, fakeCommands, ok, updateStatus } from "../../test/fakeCommands";

afterEach(() => setBackend(null));

const OFFER: UpdateInfo = {
  version: "0.2.0",
  currentVersion: "0.1.0",
  notes: "Faster restores.",
  date: "2026-12-07T08:00:00Z",
  sizeBytes: 12_345_678,
};

describe("Settings → Updates", () => {
  it("shows the offer with notes and size; Install stays off with the reason on a dev build", async () => {
    let status: UpdateStatus = updateStatus();
    setBackend(
      fakeCommands({
        updateStatus: () => ok(status),
        updateCheck: () => {
          status = { ...status, available: OFFER };
          return ok(OFFER);
        },
      }),
    );
    render(UpdatesSection);
    expect((await screen.findByTestId("update-current")).textContent).toBe("0.1.0");
    await fireEvent.click(screen.getByTestId("update-check"));
    await screen.findByTestId("update-available");
    expect(screen.getByTestId("update-version").textContent).toBe("0.2.0");
    expect(screen.getByTestId("update-notes").textContent).toBe("Faster restores.");
    expect(screen.getByTestId("update-size").textContent).toBe("12.3 MB");
    expect((screen.getByTestId("update-install") as HTMLButtonElement).disabled).toBe(true);
    expect(screen.getByTestId("update-install-blocked").textContent).toContain("not installed from a package");
  });

  it("downloads with progress, installs, then offers Relaunch; a busy refusal is shown", async () => {
    let status: UpdateStatus = updateStatus({ packageKind: "deb", installBlocked: null, available: OFFER });
    let installs = 0;
    const events: DownloadEvent[] = [];
    setBackend(
      fakeCommands({
        updateStatus: () => ok(status),
        updateDownload: (channel) => {
          const c = channel as unknown as { onmessage: (e: DownloadEvent) => void };
          const e = { downloadedBytes: 6_000_000, totalBytes: 12_345_678 };
          events.push(e);
          c.onmessage(e);
          status = { ...status, downloaded: true };
          return ok(null);
        },
        updateInstall: () => {
          installs += 1;
          if (installs === 1) return err("update.busy", "cannot install the update while jobs run: a backup of staging");
          status = { ...status, installed: true };
          return ok(null);
        },
      }),
    );
    render(UpdatesSection);
    await fireEvent.click(await screen.findByTestId("update-download"));
    await waitFor(() => expect((screen.getByTestId("update-install") as HTMLButtonElement).disabled).toBe(false));
    expect(events).toHaveLength(1);
    await fireEvent.click(screen.getByTestId("update-install"));
    expect((await screen.findByRole("alert")).textContent).toContain("a backup of staging");
    await fireEvent.click(screen.getByTestId("update-install"));
    await screen.findByTestId("update-relaunch");
    expect(screen.getByTestId("update-installed").textContent).toContain("0.2.0");
  });

  it("saves the daily-check switch", async () => {
    let daily = true;
    setBackend(
      fakeCommands({
        updateStatus: () => ok(updateStatus({ dailyCheck: daily })),
        updateSetDailyCheck: (on) => {
          daily = on;
          return ok(null);
        },
      }),
    );
    render(UpdatesSection);
    const box = (await screen.findByTestId("update-daily")) as HTMLInputElement;
    expect(box.checked).toBe(true);
    await fireEvent.click(box);
    await waitFor(() => expect(daily).toBe(false));
  });

  it("shows the daily check off, and why, when this run turned it off", async () => {
    setBackend(
      fakeCommands({
        updateStatus: () =>
          ok(updateStatus({ dailyCheck: true, dailyCheckOff: "off for this run: the app was started with NFOPS_UPDATE_CHECK=0" })),
      }),
    );
    render(UpdatesSection);
    const box = (await screen.findByTestId("update-daily")) as HTMLInputElement;
    expect(box.checked).toBe(false);
    expect(box.disabled).toBe(true);
    expect(screen.getByTestId("update-daily-off").textContent).toContain("NFOPS_UPDATE_CHECK=0");
  });
});
