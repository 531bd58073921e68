// The command palette's entries and how typing narrows them. Pure: the
// component (components/CommandPalette.svelte) renders and runs them.
//
// An entry never runs an operation by itself: "Back up now" takes the
// operator to the Backups page with the button focused, so the run is still
// their Enter or click, with the page's own confirmation.

import type { BackupEntry, EnvironmentSummary } from "./backend";
import { PAGES, type PageId } from "./routes";

export type PaletteEntry =
  | { kind: "page"; id: string; label: string; page: PageId }
  | { kind: "environment"; id: string; label: string; env: string; production: boolean }
  | { kind: "action"; id: string; label: string; page: PageId; focus: string }
  | { kind: "backup"; id: string; label: string; env: string; backup: string };

/** What each action is called and the control it focuses on its page. */
export const ACTIONS: readonly { id: string; label: string; page: PageId; focus: string }[] = [
  { id: "backup-now", label: "Back up now", page: "backups", focus: "backup-now" },
  { id: "restore", label: "Open the restore wizard", page: "restore", focus: "restore-env" },
  { id: "integrity-run", label: "Run the integrity checks", page: "integrity", focus: "integrity-run" },
  { id: "drill", label: "Run a restore drill", page: "integrity", focus: "drill-run" },
  { id: "promote", label: "Plan a promotion to production", page: "promote", focus: "promote-plan" },
  { id: "uptime-check", label: "Check uptime now", page: "uptime", focus: "uptime-check" },
  { id: "shortcuts", label: "Keyboard shortcuts", page: "settings", focus: "shortcuts" },
];

/** Every entry for the environments and (the chosen environment's) backups known now. */
export function paletteEntries(
  envs: readonly EnvironmentSummary[],
  backupsOf: { env: string; entries: readonly BackupEntry[] } | null,
): PaletteEntry[] {
  const out: PaletteEntry[] = PAGES.map((p) => ({ kind: "page", id: `page-${p.id}`, label: `Go to ${p.title}`, page: p.id }));
  for (const e of envs) {
    const production = e.tier === "production" || e.tier === "region";
    out.push({ kind: "environment", id: `env-${e.name}`, label: `Switch to ${e.label || e.name}${production ? " (production)" : ""}`, env: e.name, production });
  }
  for (const a of ACTIONS) out.push({ kind: "action", ...a, id: `action-${a.id}` });
  for (const b of backupsOf?.entries ?? []) {
    out.push({ kind: "backup", id: `backup-${b.id}`, label: `Backup ${b.id} of ${backupsOf?.env} (${b.state})`, env: backupsOf?.env ?? "", backup: b.id });
  }
  return out;
}

/**
 * How well `query` matches `label`: null when its characters do not all
 * appear in order (case-insensitive); otherwise lower is better: a match at
 * the start of a word beats one inside it, and a tight match beats a spread.
 */
export function matchScore(query: string, label: string): number | null {
  const q = query.trim().toLowerCase();
  if (q === "") return 0;
  const l = label.toLowerCase();
  const whole = l.indexOf(q);
  if (whole >= 0) return whole === 0 || l[whole - 1] === " " ? 0 : 1;
  let score = 2;
  let at = -1;
  for (const ch of q) {
    if (ch === " ") continue;
    const next = l.indexOf(ch, at + 1);
    if (next < 0) return null;
    score += next - at - 1;
    at = next;
  }
  return score;
}

/** The entries `query` matches, best first; ties keep the list's order. */
export function filterEntries(entries: readonly PaletteEntry[], query: string): PaletteEntry[] {
  return entries
    .map((e, i) => ({ e, i, s: matchScore(query, e.label) }))
    .filter((x): x is { e: PaletteEntry; i: number; s: number } => x.s !== null)
    .sort((a, b) => a.s - b.s || a.i - b.i)
    .map((x) => x.e);
}
