// Made-up answers for the demo build only (see start.ts).

import type { CredentialStatus, EnvironmentStatus, ProbeResult } from "../lib/backend";
import { answerAppInfo, appInfo, err, fakeCommands, ok } from "../test/fakeCommands";

const now = () => new Date().toISOString();

function probe(p: Partial<ProbeResult> & Pick<ProbeResult, "kind" | "target">): ProbeResult {
  return { state: "ok", summary: "", error: null, latencyMs: 3, ...p };
}

function staging(): EnvironmentStatus {
  return {
    name: "staging",
    label: "Staging",
    tier: "staging",
    checkedAt: now(),
    probes: [
      probe({ kind: "backend", target: "http://127.0.0.1:18080/health", summary: "200 OK", latencyMs: 4 }),
      probe({ kind: "release", target: "app-1", summary: "v2", latencyMs: 38 }),
      probe({ kind: "database", target: "127.0.0.1:13306/newfinity", summary: "MariaDB 10.11.6", latencyMs: 6 }),
      probe({ kind: "cache", target: "127.0.0.1:16379", summary: "PONG", latencyMs: 1 }),
      probe({ kind: "storage", target: "http://127.0.0.1:19000 (nf-staging)", summary: "versioning on", latencyMs: 9 }),
      probe({ kind: "monitoring", target: "http://127.0.0.1:19090", summary: "Prometheus up", latencyMs: 5 }),
    ],
  };
}

function production(): EnvironmentStatus {
  return {
    name: "production",
    label: "Production",
    tier: "production",
    checkedAt: now(),
    probes: [
      probe({ kind: "backend", target: "http://127.0.0.1:28080/health", summary: "200 OK", latencyMs: 5 }),
      probe({ kind: "release", target: "app-1", summary: "v1", latencyMs: 41 }),
      probe({ kind: "release", target: "app-2", summary: "v1", latencyMs: 44 }),
      probe({ kind: "database", target: "127.0.0.1:23306/newfinity", summary: "MariaDB 10.11.6", latencyMs: 7 }),
      probe({
        kind: "cache",
        target: "127.0.0.1:17379",
        state: "failed",
        summary: "unreachable",
        latencyMs: 2,
        error: {
          code: "service.unreachable",
          message: "Redis at 127.0.0.1:17379 refused the connection",
          hint: "Is Redis running? For the local stack, start it with `make run`.",
        },
      }),
      probe({ kind: "storage", target: "http://127.0.0.1:19000 (nf-production)", summary: "versioning on", latencyMs: 8 }),
      probe({ kind: "monitoring", target: "", state: "notConfigured", summary: "not configured", latencyMs: 0 }),
    ],
  };
}

// `?demo&config-error` shows the banner a broken environments.toml raises.
function demoConfigError() {
  if (!new URLSearchParams(window.location.search).has("config-error")) return null;
  return {
    code: "config.invalid",
    message: "/home/ops/.config/nfops/environments.toml:21:1: unknown field `password`",
    hint: "Secrets never go in this file: name a keyring entry with `password_credential` and set it with `nfops credentials set`.",
  };
}

export function demoCommands() {
  const creds: CredentialStatus[] = [
    { name: "prod/db", state: "set", changedAt: "2026-11-20T09:14:03Z", usedBy: ["production"] },
    { name: "prod/ssh", state: "set", changedAt: "2026-11-20T09:12:44Z", usedBy: ["production"] },
    { name: "staging/db", state: "missing", changedAt: null, usedBy: ["staging"] },
  ];
  return fakeCommands({
    appInfo: () => answerAppInfo(appInfo({ environmentCount: 2, configError: demoConfigError() })),
    overview: () => ok([staging(), production()]),
    probeEnvironment: (name) =>
      name === "staging" ? ok(staging()) : name === "production" ? ok(production()) : err("config.unknown_environment", `no environment named '${name}'`),
    credentialsList: () => ok(creds.map((c) => ({ ...c }))),
    credentialSet: (name) => {
      const c = creds.find((x) => x.name === name);
      if (c) Object.assign(c, { state: "set", changedAt: now() });
      return ok(null);
    },
    credentialDelete: (name) => {
      const c = creds.find((x) => x.name === name);
      if (c) Object.assign(c, { state: "missing", changedAt: null });
      return ok(null);
    },
    auditList: () =>
      ok([
        { seq: 3, at: "2026-11-20T09:14:03Z", actor: "ops@laptop", action: "credential.set", environment: "production", target: "prod/db", outcome: "ok", hash: "9f2c4e1a7b3d5f60c8e2a4b6d8f0a1c3" },
        { seq: 2, at: "2026-11-20T09:12:44Z", actor: "ops@laptop", action: "credential.set", environment: "production", target: "prod/ssh", outcome: "ok", hash: "4b1d9e7c2a6f8e0d3c5b7a9e1f2d4c6b" },
        { seq: 1, at: "2026-11-20T09:10:00Z", actor: "ops@laptop", action: "app.start", environment: null, target: null, outcome: "ok", hash: "0e7a3c5b9d1f2e4a6c8b0d2f4e6a8c0b" },
      ]),
    auditVerify: () => ok({ ok: true, entries: 3, problems: [] }),
  });
}
