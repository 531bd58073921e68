// Pure helpers of the Uptime page.

/** An uptime percentage for people: two decimals, since 99.9 % and 99.99 % differ by hours a year. */
export function formatUptime(percent: number | null): string {
  if (percent === null || !Number.isFinite(percent)) return "no checks";
  return `${percent.toFixed(2)} %`;
}
