// Small display helpers; pure so tests and components agree.

function pad(n: number): string {
  return n.toString().padStart(2, "0");
}

/** `HH:MM:SS` in local time, or the raw text when it is not a date. */
export function clockTime(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** `YYYY-MM-DD HH:MM:SS` in local time, or the raw text when it is not a date. */
export function dateTime(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${clockTime(iso)}`;
}

/** Latency for a probe row: whole milliseconds, or seconds past one second. */
export function latency(ms: number): string {
  if (ms >= 1000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.round(ms)} ms`;
}

/** The first 12 hex digits of a hash: enough to tell entries apart by eye. */
export function shortHash(hash: string): string {
  return hash.slice(0, 12);
}

/** `1.2 MB`, `340 KB`, `12 B` (decimal units, as the CLI prints). */
export function bytes(n: number | null): string {
  if (n === null) return "—";
  if (n >= 1e9) return `${(n / 1e9).toFixed(1)} GB`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)} MB`;
  if (n >= 1e3) return `${Math.round(n / 1e3)} KB`;
  return `${n} B`;
}

/** `42 s`, `3 min`, `1 h 5 min`. */
export function duration(secs: number | null): string {
  if (secs === null) return "—";
  if (secs < 60) return `${secs.toFixed(secs < 10 ? 1 : 0)} s`;
  const min = Math.round(secs / 60);
  return min < 60 ? `${min} min` : `${Math.floor(min / 60)} h ${min % 60} min`;
}

/** `just now`, `5 h`, `3 d`. */
export function age(hours: number | null): string {
  if (hours === null) return "—";
  if (hours < 1 / 60) return "just now";
  if (hours < 1) return `${Math.round(hours * 60)} min`;
  if (hours < 48) return `${Math.round(hours)} h`;
  return `${Math.round(hours / 24)} d`;
}

/** How long ago `iso` was: `just now`, `5 min ago`, `3 d ago`; the raw text when it is not a date. */
export function ago(iso: string, now: number = Date.now()): string {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return iso;
  const a = age(Math.max(0, now - t) / 3_600_000);
  return a === "just now" ? a : `${a} ago`;
}
