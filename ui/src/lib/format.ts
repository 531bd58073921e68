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
