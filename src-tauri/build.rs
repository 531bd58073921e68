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
    ];
    tauri_build::try_build(
        tauri_build::Attributes::new()
            .app_manifest(tauri_build::AppManifest::new().commands(commands)),
    )
    .expect("tauri build script failed");
}
