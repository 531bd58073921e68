// A stand-in for the generated `commands`, for tests (and the demo build).
// It answers like tauri-specta's bindings do: `{ status, data | error }`.

import type { AppInfo, Commands, UpdateStatus, WireError } from "../lib/backend";

type Ok<T> = { status: "ok"; data: T };
type Err = { status: "error"; error: WireError };

export function ok<T>(data: T): Promise<Ok<T>> {
  return Promise.resolve({ status: "ok", data });
}

export function err(code: string, message: string, hint: string | null = null): Promise<Err> {
  return Promise.resolve({ status: "error", error: { code, message, hint } });
}

export function appInfo(overrides: Partial<AppInfo> = {}): AppInfo {
  return {
    version: "0.1.0",
    configPath: "/home/ops/.config/nfops/environments.toml",
    configError: null,
    stateDir: "/home/ops/.local/share/nfops",
    logDir: "/home/ops/.local/state/nfops/logs",
    environmentCount: 0,
    ...overrides,
  };
}

/**
 * An `appInfo` answer. The adapter takes bare and `{ status, data }` answers
 * alike, so the cast only spares this fake from following whichever of the
 * two shapes the generated bindings declare for `app_info`.
 */
export function answerAppInfo(info: AppInfo = appInfo()): ReturnType<Commands["appInfo"]> {
  return Promise.resolve(info) as unknown as ReturnType<Commands["appInfo"]>;
}

/** A dev build's Updates status: nothing found yet, Install off. */
export function updateStatus(overrides: Partial<UpdateStatus> = {}): UpdateStatus {
  return {
    currentVersion: "0.1.0",
    packageKind: null,
    installBlocked: "This copy was not installed from a package (a development or cargo build)",
    endpoints: ["https://downloads.example.com/nfops/latest.json"],
    dailyCheck: true,
    dailyCheckOff: null,
    lastCheck: null,
    available: null,
    downloaded: false,
    installed: false,
    ...overrides,
  };
}

/** Every command answers ok with nothing in it, unless overridden. */
export function fakeCommands(overrides: Partial<Commands> = {}): Commands {
  const base: Commands = {
    appInfo: () => answerAppInfo(),
    overview: () => ok([]),
    probeEnvironment: (name) => err("config.unknown_environment", `no environment named '${name}'`),
    environments: () => ok([]),
    credentialsList: () => ok([]),
    credentialSet: () => ok(null),
    credentialDelete: () => ok(null),
    auditList: () => ok([]),
    auditVerify: () => ok({ ok: true, entries: 0, problems: [] }),
    backupsList: (env) =>
      ok({ environment: env, entries: [], stale: true, maxStalenessHours: 26, newestGood: null, newestGoodAgeHours: null }),
    backupRun: (env) => err("input.invalid", `no database in ${env}`),
    backupCancel: () => ok(false),
    backupsStaleness: () => ok([]),
    backupForgetPlan: (env) => ok({ environment: env, applied: false, decisions: [], removed: [], offsite: null, forgetIds: [] }),
    backupForgetApply: (env) => ok({ environment: env, applied: true, decisions: [], removed: [], offsite: null, forgetIds: [] }),
    secretsIdentity: () => ok("age1fake"),
    secretsIdentityImport: () => ok("age1fake"),
    secretsList: (env) => ok({ environment: env, keys: [], recipients: [], file: `${env}.env.age`, exists: false }),
    secretReveal: () => err("input.invalid", "no such key"),
    secretSet: () => ok(false),
    secretUnset: () => ok(null),
    secretsDiff: () => ok({ onlyInFirst: [], onlyInSecond: [], different: [], same: [] }),
    secretsRecipientAdd: () => ok({ recipients: [], rotate: [] }),
    secretsRecipientRemove: () => ok({ recipients: [], rotate: [] }),
    secretsHistory: () => ok([]),
    secretsPushPlan: (env) => ok({ environment: env, keys: 0, hosts: [] }),
    uptimeReport: (env) => ok({ environment: env, start: 0, end: 0, probes: [], charts: [] }),
    uptimeCheck: () => ok(null),
    chartExport: (name, format) => ok(`/exports/${name}.${format}`),
    logsTail: () => ok({ source: "pm2", lines: [], failedHosts: [] }),
    scalingInstances: (env) => ok({ environment: env, app: "nf-api", backendOnline: 0, hosts: [], chart: { id: "instances", title: "Backend instances (PM2)", unit: "count", queries: [], svg: null, plot: null, series: [], omitted: 0, error: null, failedQuery: null } }),
    scalePlan: (env, n) => ok({ environment: env, app: "nf-api", instancesPerHost: n, hosts: [], changes: false }),
    scaleApply: (env, n) => ok({ environment: env, app: "nf-api", instancesPerHost: n, hosts: [], changes: false }),
    capacityForecast: (env) => ok({ environment: env, instances: 0, cpuNow: null, cpuFullAt: null, cpuLimit: 80, requestsNow: null, requestsAtHorizon: null, horizon: 0, suggestedInstances: null, charts: [] }),
    metricsBoard: () => ok({ source: "local", sourceDetail: "no environment picked: showing this machine", start: 0, end: 0, charts: [] }),
    promotionPlan: () => err("input.invalid", "no promotion in this stand-in"),
    promote: () => err("input.invalid", "no promotion in this stand-in"),
    promotionHistory: () => ok([]),
    promoteCancel: () => ok(false),
    secretsPush: (env) => ok({ plan: { environment: env, keys: 0, hosts: [] }, state: "noop", jobId: null, error: null, steps: [] }),
    restorePlan: (env) => err("input.invalid", `environment '${env}' has no backup`),
    restoreRun: (env) => err("input.invalid", `environment '${env}' has no backup`),
    restoreCancel: () => ok(false),
    integrityCheck: (env) => err("input.invalid", `environment '${env}' has no database`),
    integrityReports: () => ok([]),
    drillsList: () => ok([]),
    drillsStaleness: () => ok([]),
    drillRun: (env) => err("input.invalid", `environment '${env}' has no complete backup to drill with`),
    drillCancel: () => ok(false),
    cockpit: () => ok([]),
    pulse: (name) => ok({ environment: name, monitored: false, sparks: [], alerts: [], alertsError: null }),
    providerModes: () => ok([]),
    setupScanHostKey: (address, port) => err("ssh.connect", `cannot read the SSH host key of ${address}:${port}: connection refused`),
    setupProbe: (draft) => ok({ name: draft.name, label: draft.label ?? draft.name, tier: draft.tier, checkedAt: "2026-12-07T10:00:00Z", probes: [] }),
    setupDraft: (name) => err("config.unknown_environment", `no environment named '${name}'`),
    configPreview: () => ok({ path: "/home/ops/.config/org.ogcnewfinity.ops/environments.toml", exists: false, diff: [], invalid: null, base: "b0" }),
    configSave: () => ok("/home/ops/.config/org.ogcnewfinity.ops/environments.toml"),
    updateStatus: () => ok(updateStatus()),
    updateCheck: () => ok(null),
    updateDownload: () => ok(null),
    updateInstall: () => ok(null),
    updateRelaunch: () => Promise.resolve(),
    updateSetDailyCheck: () => ok(null),
  };
  return { ...base, ...overrides };
}
