fn main() {
    // Every app command gets an `allow-<command>` permission; the capability
    // in capabilities/main.json grants exactly the ones the UI uses.
    let commands = &[
        "app_info",
        "environments",
        "overview",
        "probe_environment",
        "credentials_list",
        "credential_set",
        "credential_delete",
        "audit_list",
        "audit_verify",
        "backups_list",
        "backup_run",
        "backup_cancel",
        "secrets_identity",
        "secrets_identity_import",
        "secrets_list",
        "secret_reveal",
        "secret_set",
        "secret_unset",
        "secrets_diff",
        "secrets_recipient_add",
        "secrets_recipient_remove",
        "secrets_history",
        "secrets_push_plan",
        "secrets_push",
        "metrics_board",
        "uptime_report",
        "uptime_check",
        "scaling_instances",
        "scale_plan",
        "scale_apply",
        "capacity_forecast",
        "logs_tail",
        "chart_export",
    ];
    tauri_build::try_build(
        tauri_build::Attributes::new()
            .app_manifest(tauri_build::AppManifest::new().commands(commands)),
    )
    .expect("tauri build script failed");
}
