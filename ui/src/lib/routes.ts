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

export type Page = { id: PageId; title: string };

export const PAGES: readonly Page[] = [
  { id: "overview", title: "Overview" },
  { id: "promote", title: "Promote" },
  { id: "backups", title: "Backups" },
  { id: "restore", title: "Restore" },
  { id: "integrity", title: "Integrity" },
  { id: "metrics", title: "Metrics" },
  { id: "uptime", title: "Uptime" },
  { id: "scaling", title: "Scaling" },
  { id: "logs", title: "Logs" },
  { id: "secrets", title: "Secrets" },
  { id: "audit", title: "Audit" },
  { id: "settings", title: "Settings" },
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
