// The setup flow's model: the parts of an environment in the order the
// flow asks for them, what a new part starts with, and which probes answer
// for which part. Credentials are only ever names here; their values go to
// the keyring the moment the operator tests or moves on.

import type {
  CacheDraft,
  DatabaseDraft,
  EnvironmentDraft,
  EnvironmentStatus,
  HostDraft,
  MonitoringDraft,
  ProbeKind,
  ProbeResult,
  StorageDraft,
} from "../../lib/backend";

export type Part = "environment" | "hosts" | "database" | "storage" | "cache" | "monitoring" | "review";

export const PARTS: readonly { id: Part; title: string; probe: ProbeKind | null }[] = [
  { id: "environment", title: "Environment", probe: "backend" },
  { id: "hosts", title: "Hosts (SSH)", probe: "release" },
  { id: "database", title: "Database", probe: "database" },
  { id: "storage", title: "Storage (S3)", probe: "storage" },
  { id: "cache", title: "Cache (Redis)", probe: "cache" },
  { id: "monitoring", title: "Monitoring", probe: "monitoring" },
  { id: "review", title: "Review and save", probe: null },
];

export function emptyDraft(): EnvironmentDraft {
  return {
    name: "",
    tier: "staging",
    label: null,
    healthUrl: null,
    hosts: [],
    database: null,
    storage: null,
    cache: null,
    monitoring: null,
  };
}

export function newHost(env: string, index: number): HostDraft {
  return {
    name: `${env || "app"}-${index + 1}`,
    address: "",
    port: 22,
    user: "deploy",
    sshAuth: "key",
    sshKeyCredential: `${env || "env"}/ssh/deploy`,
    hostKey: null,
    appDir: "/srv/app",
    roles: [],
  };
}

export function newDatabase(env: string): DatabaseDraft {
  return { host: "127.0.0.1", port: 3306, name: "", user: "", passwordCredential: `${env}/db`, via: null };
}

export function newStorage(env: string): StorageDraft {
  return {
    endpoint: "",
    region: null,
    pathStyle: true,
    buckets: [],
    accessKeyCredential: `${env}/s3/access-key`,
    secretKeyCredential: `${env}/s3/secret-key`,
  };
}

export function newCache(env: string): CacheDraft {
  return { host: "127.0.0.1", port: 6379, db: null, keyPrefix: `${env}:`, passwordCredential: null, via: null };
}

export function newMonitoring(): MonitoringDraft {
  return { prometheusUrl: "", selector: null };
}

/** The probes that answer for `part` in a draft's status. */
export function probesFor(part: Part, status: EnvironmentStatus | null): ProbeResult[] {
  const kind = PARTS.find((p) => p.id === part)?.probe;
  if (!kind || !status) return [];
  return status.probes.filter((p) => p.kind === kind);
}

/** Whether every probe of `part` came back ok (a part not configured counts as nothing to test). */
export function partOk(part: Part, status: EnvironmentStatus | null): boolean {
  const probes = probesFor(part, status).filter((p) => p.state !== "notConfigured");
  return probes.length > 0 && probes.every((p) => p.state === "ok");
}

/** A comma- or space-separated list typed into one field. */
export function listOf(text: string): string[] {
  return text
    .split(/[\s,]+/)
    .map((s) => s.trim())
    .filter((s) => s !== "");
}

/** Why the Environment part cannot go on yet, or null. */
export function environmentProblem(d: EnvironmentDraft, taken: readonly string[]): string | null {
  if (!/^[A-Za-z0-9_-]+$/.test(d.name)) return "Name it with letters, digits, '-' and '_' (e.g. staging).";
  if (taken.includes(d.name)) return `An environment named ${d.name} exists already: edit it in Settings instead.`;
  return null;
}
