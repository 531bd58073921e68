// The one door between the UI and the Rust backend.
//
// Components import from here, never from `./bindings` (generated) or from
// `@tauri-apps/api`. Every call either resolves with data or rejects with a
// `BackendError { code, message, hint }`; the UI branches on `code` only.

import { Channel } from "@tauri-apps/api/core";
import { commands, ERROR_TITLES } from "./bindings";
import type {
  AppInfo,
  AuditEntry,
  AuditVerification,
  BackupCatalog,
  BackupRunResult,
  BackupStaleness,
  ForgetView,
  CredentialStatus,
  DrillRecord,
  DrillStaleness,
  EnvironmentStatus,
  EnvironmentSummary,
  IntegrityReport,
  JobEvent,
  ReportListing,
  RestorePlanView,
  RestoreResult,
  MetricsBoard,
  PushPlan,
  PushResult,
  RecipientChange,
  SecretsDiff,
  SecretsListing,
  UptimeReport,
  ScalingView,
  ScalePlan,
  CapacityForecast,
  LogTail,
  PromotionChoices,
  PromotionPlanView,
  PromotionResult,
  PromotionHistoryItem,
  UpdateStatus,
  UpdateInfo,
  DownloadEvent,
  ScannedHostKey,
  EnvironmentDraft,
  ConfigPreview,
  Cockpit,
  Pulse,
  EnvProviderModesView,
} from "./bindings";

export type { UpdateStatus, UpdateInfo, DownloadEvent };
export type {
  DrillRecord,
  DrillStaleness,
  IntegrityReport,
  ReportListing,
  RestorePlanView,
  RestoreResult,
  LogTail,
  LogLine,
  ScalingView,
  ScalePlan,
  CapacityForecast,
  HostInstances,
  UptimeProbe,
  UptimeReport,
  UptimeSample,
  PromotionChoices,
  PromotionPlanView,
  PromotionResult,
  PromotionHistoryItem,
  HostChangeView,
  SampleView,
  BackupCatalog,
  BackupEntry,
  BackupRunResult,
  BackupStaleness,
  ForgetView,
  JobEvent,
  ChartPlot,
  MetricsBoard,
  MetricsChart,
  MetricsSeries,
  PushPlan,
  PushResult,
  RecipientChange,
  SecretsDiff,
  SecretsListing,
  SecretsRecipient,
  AppInfo,
  AuditEntry,
  AuditVerification,
  CredentialStatus,
  EnvironmentStatus,
  EnvironmentSummary,
  ProbeKind,
  ProbeResult,
  ProbeState,
  Tier,
  ScannedHostKey,
  EnvironmentDraft,
  HostDraft,
  DatabaseDraft,
  StorageDraft,
  CacheDraft,
  MonitoringDraft,
  SshAuth,
  ConfigPreview,
  DiffLine,
  Cockpit,
  BackupFact,
  DrillFact,
  PromotionFact,
  Change,
  Pulse,
  Spark,
  OpenAlert,
  EnvProviderModesView,
  HostModesView,
  ProviderModeView,
} from "./bindings";

/** Every error code the backend sends, with its short title (from Rust's `ErrorCode::title`). */
export { ERROR_TITLES } from "./bindings";

/** The backend's error codes as a string union (the UI adds `UI_CODES` of its own). */
export type ErrorCode = keyof typeof ERROR_TITLES;

/**
 * The one error shape the backend sends. Declared here rather than imported
 * so the UI does not depend on the name the Rust side gives it.
 */
export type WireError = { code: string; message: string; hint: string | null };

/** The command set the adapter drives: the generated `commands` or a stand-in of the same shape. */
export type Commands = typeof commands;

/** Codes the UI itself produces, when no answer of the backend's came back. */
export const UI_CODES = {
  /** The IPC bridge is missing (page opened outside the desktop app) or the call threw. */
  ipcFailed: "ipc.failed",
  /** The backend answered with something that is not `{ code, message, hint }`. */
  badReply: "ipc.bad_reply",
} as const;

/** A failure the UI can show: stable `code`, operator-facing `message`, optional `hint`. */
export class BackendError extends Error {
  readonly code: string;
  readonly hint: string | null;

  constructor(wire: WireError) {
    super(wire.message);
    this.name = "BackendError";
    this.code = wire.code;
    this.hint = wire.hint;
  }
}

/** A command's answer as tauri-specta's `typedError` wraps it. */
type Outcome<T> = { status: "ok"; data: T } | { status: "error"; error: unknown };

/** The data inside a command's answer, whether the command is wrapped in a result or not. */
type DataOf<R> = R extends { status: "error"; error: unknown } ? never : R extends { status: "ok"; data: infer T } ? T : R;

function isOutcome(r: unknown): r is Outcome<unknown> {
  if (typeof r !== "object" || r === null || !("status" in r)) return false;
  return (r.status === "ok" && "data" in r) || (r.status === "error" && "error" in r);
}

function isWireError(e: unknown): e is WireError {
  if (typeof e !== "object" || e === null) return false;
  const o = e as Record<string, unknown>;
  return typeof o.code === "string" && typeof o.message === "string" && (o.hint === null || o.hint === undefined || typeof o.hint === "string");
}

/** Turns anything a call rejected with into a `BackendError`. */
export function toBackendError(e: unknown, command = "the call"): BackendError {
  if (e instanceof BackendError) return e;
  if (isWireError(e)) return new BackendError({ code: e.code, message: e.message, hint: e.hint ?? null });
  if (e instanceof Error) {
    return new BackendError({
      code: UI_CODES.ipcFailed,
      message: `The desktop backend could not be reached for ${command}.`,
      hint: "This page must run inside the NewFinity Ops app (start it with `make run`).",
    });
  }
  return new BackendError({
    code: UI_CODES.badReply,
    message: `The desktop backend rejected ${command}: ${String(e)}`,
    hint: "The UI and the backend may come from different builds; rebuild the app.",
  });
}

/** Returns the data of an ok result; throws the error of an error result as a `BackendError`. */
export function unwrap<T>(result: Outcome<T>, command = "the call"): T {
  if (result.status === "ok") return result.data;
  throw toBackendError(result.error, command);
}

// Commands that return `Result` in Rust come wrapped in `{ status, ... }`;
// plain ones come bare. Both end here as data or a thrown `BackendError`.
async function call<R>(command: string, run: () => Promise<R>): Promise<DataOf<R>> {
  let answer: R;
  try {
    answer = await run();
  } catch (e) {
    throw toBackendError(e, command);
  }
  return (isOutcome(answer) ? unwrap(answer, command) : answer) as DataOf<R>;
}

let active: Commands = commands;

/**
 * Swaps the command set behind the adapter. For tests (and the screenshot
 * demo build) only; `null` restores the real generated commands.
 */
export function setBackend(fake: Commands | null): void {
  active = fake ?? commands;
}

/**
 * A channel for a job's live events. The real one needs the Tauri bridge;
 * under a stand-in command set (tests, demo) a plain object the stand-in can
 * call `onmessage` on does the same.
 */
function channel<T>(onEvent: (event: T) => void): Channel<T> {
  if (active !== commands) return { onmessage: onEvent } as unknown as Channel<T>;
  const c = new Channel<T>();
  c.onmessage = onEvent;
  return c;
}

/** What the UI can ask of the backend. Each method resolves with data or rejects with `BackendError`. */
export const backend = {
  appInfo: (): Promise<AppInfo> => call("app_info", () => active.appInfo()),
  overview: (): Promise<EnvironmentStatus[]> => call("overview", () => active.overview()),
  probeEnvironment: (name: string): Promise<EnvironmentStatus> =>
    call("probe_environment", () => active.probeEnvironment(name)),
  environments: (): Promise<EnvironmentSummary[]> => call("environments", () => active.environments()),
  credentialsList: (): Promise<CredentialStatus[]> => call("credentials_list", () => active.credentialsList()),
  credentialSet: async (name: string, value: string): Promise<void> => {
    await call("credential_set", () => active.credentialSet(name, value));
  },
  /** `confirm`: a production or region environment's name, typed, when the credential is the age identity. */
  credentialDelete: async (name: string, confirm: string | null = null): Promise<void> => {
    await call("credential_delete", () => active.credentialDelete(name, confirm));
  },
  auditList: (limit: number): Promise<AuditEntry[]> => call("audit_list", () => active.auditList(limit)),
  auditVerify: (): Promise<AuditVerification> => call("audit_verify", () => active.auditVerify()),
  secretsIdentity: (): Promise<string> => call("secrets_identity", () => active.secretsIdentity()),
  secretsList: (env: string): Promise<SecretsListing> => call("secrets_list", () => active.secretsList(env)),
  /** One value, on an explicit click (audited). Callers keep it in one row only and drop it on navigation. */
  secretReveal: (env: string, key: string): Promise<string> =>
    call("secret_reveal", () => active.secretReveal(env, key)),
  secretSet: (env: string, key: string, value: string): Promise<boolean> =>
    call("secret_set", () => active.secretSet(env, key, value)),
  secretUnset: async (env: string, key: string): Promise<void> => {
    await call("secret_unset", () => active.secretUnset(env, key));
  },
  secretsDiff: (first: string, second: string): Promise<SecretsDiff> =>
    call("secrets_diff", () => active.secretsDiff(first, second)),
  secretsRecipientAdd: (env: string, name: string, key: string): Promise<RecipientChange> =>
    call("secrets_recipient_add", () => active.secretsRecipientAdd(env, name, key)),
  secretsRecipientRemove: (env: string, who: string): Promise<RecipientChange> =>
    call("secrets_recipient_remove", () => active.secretsRecipientRemove(env, who)),
  secretsHistory: (env: string): Promise<AuditEntry[]> => call("secrets_history", () => active.secretsHistory(env)),
  secretsPushPlan: (env: string): Promise<PushPlan> => call("secrets_push_plan", () => active.secretsPushPlan(env)),
  /** `confirm`: the environment's name as typed (production and region tiers refuse without it). */
  secretsPush: (env: string, confirm: string | null = null): Promise<PushResult> =>
    call("secrets_push", () => active.secretsPush(env, confirm)),
  /** The backup catalog of `env`, listed from its destination, and whether it is stale. */
  backupsList: (env: string): Promise<BackupCatalog> => call("backups_list", () => active.backupsList(env)),
  /** Takes a backup of `env`; `onEvent` gets its live progress (throttled). */
  backupRun: (env: string, onEvent: (event: JobEvent) => void): Promise<BackupRunResult> =>
    call("backup_run", () => active.backupRun(env, channel(onEvent))),
  /** Asks the running backup of `env` to stop; false when none runs. */
  backupCancel: (env: string): Promise<boolean> => call("backup_cancel", () => active.backupCancel(env)),
  /** The retention plan of `env` (local and offsite): what forget would delete and why. */
  backupForgetPlan: (env: string): Promise<ForgetView> => call("backup_forget_plan", () => active.backupForgetPlan(env)),
  /** Deletes what the reviewed plan forgets (`forgetIds` from it); refused when the plan changed. */
  backupForgetApply: (env: string, forgetIds: string[], confirm: string | null = null): Promise<ForgetView> =>
    call("backup_forget_apply", () => active.backupForgetApply(env, forgetIds, confirm)),
  /** Per environment: is its newest good backup older than the policy allows? */
  backupsStaleness: (): Promise<BackupStaleness[]> => call("backups_staleness", () => active.backupsStaleness()),
  /** Charts of `env` (null: this machine) over `range` (`15m`..`7d`), drawn for `theme`. */
  metricsBoard: (env: string | null, host: string | null, range: string, theme: "light" | "dark"): Promise<MetricsBoard> =>
    call("metrics_board", () => active.metricsBoard(env, host, range, theme)),
  /** The plan of restoring `backup` into `env` (all tables, or `tables`), with its preflight;
   * `otherEnvironment`: the user allows a backup taken of another environment;
   * `withoutStorage`: the environment's buckets are left as they are. */
  restorePlan: (
    env: string,
    backup: string,
    tables: string[] | null,
    otherEnvironment = false,
    withoutStorage = false,
  ): Promise<RestorePlanView> =>
    call("restore_plan", () => active.restorePlan(env, backup, tables, otherEnvironment, withoutStorage)),
  /** Runs a restore; `confirm` is the environment's name as typed; `onEvent` gets live progress. */
  restoreRun: (
    env: string,
    backup: string,
    tables: string[] | null,
    scope: { cache: boolean; workers: boolean; checks: boolean; otherEnvironment?: boolean; withoutStorage?: boolean },
    confirm: string | null,
    onEvent: (event: JobEvent) => void,
  ): Promise<RestoreResult> =>
    call("restore_run", () =>
      active.restoreRun(
        env,
        backup,
        tables,
        scope.cache,
        scope.workers,
        scope.checks,
        { otherEnvironment: scope.otherEnvironment ?? false, withoutStorage: scope.withoutStorage ?? false },
        confirm,
        channel(onEvent),
      ),
    ),
  /** Asks the running restore of `env` to stop; false when none runs. */
  restoreCancel: (env: string): Promise<boolean> => call("restore_cancel", () => active.restoreCancel(env)),
  /** Runs the integrity checks of `env` (against `backup` when given); the report is saved. */
  integrityCheck: (env: string, backup: string | null): Promise<IntegrityReport> =>
    call("integrity_check", () => active.integrityCheck(env, backup)),
  /** Saved integrity reports, newest first. */
  integrityReports: (): Promise<ReportListing[]> => call("integrity_reports", () => active.integrityReports()),
  /** Restore drills (of `env`, or all), newest first. */
  drillsList: (env: string | null): Promise<DrillRecord[]> => call("drills_list", () => active.drillsList(env)),
  /** Per environment: newest good backup, last drill and promotion, uptime over 24 h, the day's changes. */
  cockpit: (): Promise<Cockpit[]> => call("cockpit", () => active.cockpit()),
  /** The last hour of `env` as sparklines drawn for `theme`, and its open alerts. */
  pulse: (env: string, theme: "light" | "dark"): Promise<Pulse> => call("pulse", () => active.pulse(env, theme)),
  /** Per environment with backend hosts: each outside provider's mode (mock, test, live) on every host. */
  providerModes: (): Promise<EnvProviderModesView[]> => call("provider_modes", () => active.providerModes()),
  /** The SSH host key `address:port` presents, for the operator to confirm (records nothing). */
  setupScanHostKey: (address: string, port: number): Promise<ScannedHostKey> =>
    call("setup_scan_host_key", () => active.setupScanHostKey(address, port)),
  /** The Overview's probes of a draft environment, before it is saved. */
  setupProbe: (draft: EnvironmentDraft): Promise<EnvironmentStatus> => call("setup_probe", () => active.setupProbe(draft)),
  /** The form of environment `name` as environments.toml has it. */
  setupDraft: (name: string): Promise<EnvironmentDraft> => call("setup_draft", () => active.setupDraft(name)),
  /** What saving `draft` (or removing environment `remove`) would change; writes nothing. */
  configPreview: (draft: EnvironmentDraft | null, remove: string | null): Promise<ConfigPreview> =>
    call("config_preview", () => active.configPreview(draft, remove)),
  /** Saves, if the file is still the previewed one (`base`); returns its path. */
  configSave: (draft: EnvironmentDraft | null, remove: string | null, base: string): Promise<string> =>
    call("config_save", () => active.configSave(draft, remove, base)),
  /** Runs a restore drill of `env` (newest good backup into a scratch database, checked, dropped). */
  drillRun: (env: string, onEvent: (event: JobEvent) => void): Promise<DrillRecord> =>
    call("drill_run", () => active.drillRun(env, channel(onEvent))),
  /** Asks the running drill of `env` to stop; false when none runs. */
  drillCancel: (env: string): Promise<boolean> => call("drill_cancel", () => active.drillCancel(env)),
  /** Per environment: is its last successful restore drill older than its limit (or missing)? */
  drillsStaleness: (): Promise<DrillStaleness[]> => call("drills_staleness", () => active.drillsStaleness()),
  uptimeReport: (env: string, range: string, theme: "light" | "dark"): Promise<UptimeReport> =>
    call("uptime_report", () => active.uptimeReport(env, range, theme)),
  scalingInstances: (env: string, range: string, theme: "light" | "dark"): Promise<ScalingView> =>
    call("scaling_instances", () => active.scalingInstances(env, range, theme)),
  scalePlan: (env: string, instances: number): Promise<ScalePlan> =>
    call("scale_plan", () => active.scalePlan(env, instances)),
  /** `confirm`: the environment's name as typed (scaling down production or region refuses without it). */
  scaleApply: (env: string, instances: number, confirm: string | null = null): Promise<ScalePlan> =>
    call("scale_apply", () => active.scaleApply(env, instances, confirm)),
  capacityForecast: (env: string, range: string, theme: "light" | "dark"): Promise<CapacityForecast> =>
    call("capacity_forecast", () => active.capacityForecast(env, range, theme)),
  logsTail: (env: string, level: string | null, category: string | null, host: string | null, lines: number): Promise<LogTail> =>
    call("logs_tail", () => active.logsTail(env, level, category, host, lines)),
  /** Saves a chart export; resolves with the file's path. */
  chartExport: (name: string, format: "svg" | "png", data: Uint8Array): Promise<string> =>
    call("chart_export", () => active.chartExport(name, format, Array.from(data))),
  uptimeCheck: async (env: string): Promise<void> => {
    await call("uptime_check", () => active.uptimeCheck(env));
  },
  /** The dry run of promoting `from` to `to` (reads the hosts; changes nothing). */
  promotionPlan: (from: string, to: string, choices: PromotionChoices): Promise<PromotionPlanView> =>
    call("promotion_plan", () => active.promotionPlan(from, to, choices)),
  /** Promotes; `confirm` is the target's name as typed; `onEvent` gets live progress per step and gate. */
  promote: (
    from: string,
    to: string,
    confirm: string,
    choices: PromotionChoices,
    onEvent: (event: JobEvent) => void,
  ): Promise<PromotionResult> => call("promote", () => active.promote(from, to, confirm, choices, channel(onEvent))),
  /** Asks the running promotion to stop (what changed is rolled back); false when none runs. */
  promoteCancel: (): Promise<boolean> => call("promote_cancel", () => active.promoteCancel()),
  /** Past promotions, newest first. */
  promotionHistory: (): Promise<PromotionHistoryItem[]> => call("promotion_history", () => active.promotionHistory()),
  /** This copy's version and package, the last check's result, the daily-check switch. */
  updateStatus: (): Promise<UpdateStatus> => call("update_status", () => active.updateStatus()),
  /** Asks the update server now; null when this is the newest version. */
  updateCheck: (): Promise<UpdateInfo | null> => call("update_check", () => active.updateCheck()),
  /** Downloads and verifies the found update; `onEvent` gets progress (throttled). */
  updateDownload: async (onEvent: (event: DownloadEvent) => void): Promise<void> => {
    await call("update_download", () => active.updateDownload(channel(onEvent)));
  },
  /** Installs the downloaded update (refused while jobs run, or for a copy not installed from a package). */
  updateInstall: async (): Promise<void> => {
    await call("update_install", () => active.updateInstall());
  },
  /** Restarts the app on the installed version. */
  updateRelaunch: async (): Promise<void> => {
    await call("update_relaunch", () => active.updateRelaunch());
  },
  updateSetDailyCheck: async (on: boolean): Promise<void> => {
    await call("update_set_daily_check", () => active.updateSetDailyCheck(on));
  },
};
