// The pages of the console and hash routing between them (`#/audit`).

export type PageId =
  | "overview"
  | "promote"
  | "backups"
  | "restore"
  | "integrity"
  | "metrics"
  | "uptime"
  | "scaling"
  | "logs"
  | "secrets"
  | "audit"
  | "settings";

export type Page = { id: PageId; title: string; built: boolean };

export const PAGES: readonly Page[] = [
  { id: "overview", title: "Overview", built: true },
  { id: "promote", title: "Promote", built: true },
  { id: "backups", title: "Backups", built: true },
  { id: "restore", title: "Restore", built: true },
  { id: "integrity", title: "Integrity", built: true },
  { id: "metrics", title: "Metrics", built: true },
  { id: "uptime", title: "Uptime", built: true },
  { id: "scaling", title: "Scaling", built: true },
  { id: "logs", title: "Logs", built: true },
  { id: "secrets", title: "Secrets", built: true },
  { id: "audit", title: "Audit", built: true },
  { id: "settings", title: "Settings", built: true },
];

export const DEFAULT_PAGE: PageId = "overview";

/** The page a location hash points at; unknown or empty hashes go to the default page. */
export function pageFromHash(hash: string): PageId {
  const id = hash.replace(/^#\/?/, "");
  return PAGES.find((p) => p.id === id)?.id ?? DEFAULT_PAGE;
}

export function hrefFor(id: PageId): string {
  return `#/${id}`;
}
