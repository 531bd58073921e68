import { describe, expect, it } from "vitest";
import { filterEntries, matchScore, paletteEntries } from "./palette";

describe("the palette's matching", () => {
  it("matches letters in order, word starts first, and refuses what is not there", () => {
    expect(matchScore("", "Go to Backups")).toBe(0);
    expect(matchScore("back", "Back up now")).toBe(0);
    expect(matchScore("back", "Go to Backups")).toBe(0);
    expect(matchScore("ackup", "Go to Backups"), "inside a word").toBe(1);
    expect(matchScore("gtb", "Go to Backups"), "a spread match still matches").not.toBeNull();
    expect(matchScore("gtb", "Go to Backups")!).toBeGreaterThan(1);
    expect(matchScore("xyz", "Go to Backups")).toBeNull();
    expect(matchScore("BACK", "back up now"), "case does not matter").toBe(0);
  });

  it("lists pages, environments (production marked), actions and the chosen environment's backups", () => {
    const entries = paletteEntries(
      [
        { name: "production", label: "Production", tier: "production", hosts: [] },
        { name: "staging", label: "Staging", tier: "staging", hosts: [] },
      ],
      { env: "staging", entries: [{ id: "20261207-1000", state: "complete" } as never] },
    );
    const labels = entries.map((e) => e.label);
    expect(labels).toContain("Go to Restore");
    expect(labels).toContain("Switch to Production (production)");
    expect(labels).toContain("Switch to Staging");
    expect(labels).toContain("Back up now");
    expect(labels).toContain("Backup 20261207-1000 of staging (complete)");
    const best = filterEntries(entries, "stag");
    expect(best[0]?.label).toBe("Switch to Staging");
    expect(filterEntries(entries, "zzzz")).toEqual([]);
  });
});
