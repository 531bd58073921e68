//! The desktop shell: wires Tauri to the domain. Commands are thin; the work
//! happens in `nfops-ops` and the crates below it. Each feature is a folder
//! with `commands.rs` (the `#[tauri::command]`s, a few lines each) and
//! `dto.rs` (its wire types, converted explicitly from and into the domain's).
//!
//! The shell may depend on every domain crate; no domain crate may depend on it
//! (or on `tauri`).

mod failure;
mod jobs;

// `<feature>/{commands,dto}.rs`, declared here so no feature needs a mod.rs.
mod app {
    pub mod commands;
    pub mod dto;
    pub mod start_page;
}
mod audit {
    pub mod commands;
    pub mod dto;
}
mod backups {
    pub mod commands;
    pub mod dto;
}
mod credentials {
    pub mod commands;
    pub mod dto;
}
mod exports {
    pub mod commands;
}
mod logs {
    pub mod commands;
    pub mod dto;
}
mod metrics {
    pub mod commands;
    pub mod dto;
}
mod overview {
    pub mod commands;
    pub mod dto;
}
mod setup {
    pub mod commands;
    pub mod dto;
}
mod promote {
    pub mod commands;
    pub mod dto;
}
mod restore {
    pub mod commands;
    pub mod dto;
}
mod scaling {
    pub mod commands;
    pub mod dto;
}
mod secrets {
    pub mod commands;
    pub mod dto;
}
/// Public for `tests/updater.rs`, which drives `engine` on a mock app.
#[doc(hidden)]
pub mod updates {
    pub(crate) mod commands;
    pub(crate) mod daily;
    pub(crate) mod dto;
    pub mod engine;
    pub(crate) mod state;
}
mod uptime {
    pub mod commands;
    pub mod dto;
    pub mod watch;
}

use nfops_ops::Console;

/// What every command reaches through `tauri::State`.
pub struct AppState {
    /// The console, or why it could not start (state folder unwritable, ...).
    console: Result<Console, failure::Failure>,
    /// Keeps the log writer flushing for the life of the app.
    _log_guard: Option<nfops_core::logging::WorkerGuard>,
}

impl AppState {
    fn console(&self) -> Result<&Console, failure::Failure> {
        self.console.as_ref().map_err(Clone::clone)
    }
}

/// The typed command set; also the source of `ui/src/lib/bindings.ts`.
pub fn specta_builder() -> tauri_specta::Builder<tauri::Wry> {
    // Wire types only serialize, so one TypeScript type per Rust type is exact.
    tauri_specta::Builder::<tauri::Wry>::new()
        .disable_serde_phases()
        .constant("ERROR_TITLES", failure::error_titles())
        .commands(tauri_specta::collect_commands![
            app::commands::app_info,
            overview::commands::environments,
            overview::commands::overview,
            overview::commands::probe_environment,
            overview::commands::cockpit,
            overview::commands::pulse,
            overview::commands::provider_modes,
            setup::commands::setup_scan_host_key,
            setup::commands::setup_probe,
            setup::commands::setup_draft,
            setup::commands::config_preview,
            setup::commands::config_save,
            credentials::commands::credentials_list,
            credentials::commands::credential_set,
            credentials::commands::credential_delete,
            audit::commands::audit_list,
            audit::commands::audit_verify,
            backups::commands::backups_list,
            backups::commands::backup_run,
            backups::commands::backup_cancel,
            backups::commands::backups_staleness,
            backups::commands::backup_forget_plan,
            backups::commands::backup_forget_apply,
            secrets::commands::secrets_identity,
            secrets::commands::secrets_identity_import,
            secrets::commands::secrets_list,
            secrets::commands::secret_reveal,
            secrets::commands::secret_set,
            secrets::commands::secret_unset,
            secrets::commands::secrets_diff,
            secrets::commands::secrets_recipient_add,
            secrets::commands::secrets_recipient_remove,
            secrets::commands::secrets_history,
            secrets::commands::secrets_push_plan,
            secrets::commands::secrets_push,
            metrics::commands::metrics_board,
            restore::commands::restore_plan,
            restore::commands::restore_run,
            restore::commands::restore_cancel,
            restore::commands::integrity_check,
            restore::commands::integrity_reports,
            restore::commands::drills_list,
            restore::commands::drill_run,
            restore::commands::drill_cancel,
            restore::commands::drills_staleness,
            uptime::commands::uptime_report,
            uptime::commands::uptime_check,
            scaling::commands::scaling_instances,
            scaling::commands::scale_plan,
            scaling::commands::scale_apply,
            scaling::commands::capacity_forecast,
            logs::commands::logs_tail,
            promote::commands::promotion_plan,
            promote::commands::promote,
            promote::commands::promote_cancel,
            promote::commands::promotion_history,
            exports::commands::chart_export,
            updates::commands::update_status,
            updates::commands::update_check,
            updates::commands::update_download,
            updates::commands::update_install,
            updates::commands::update_relaunch,
            updates::commands::update_set_daily_check,
        ])
}

/// Writes the TypeScript bindings to `path`.
pub fn export_bindings(path: &std::path::Path) -> Result<(), String> {
    specta_builder()
        .export(specta_typescript::Typescript::default().header("// generated by tauri-specta from src-tauri; do not edit (make bindings)\n// @ts-nocheck"), path)
        .map_err(|e| e.to_string())
}

async fn open_console() -> AppState {
    let paths = nfops_core::paths::Paths::resolve(None).ok();
    let log_guard = paths
        .as_ref()
        .and_then(|p| nfops_core::logging::init(&p.log_dir, "desktop").ok());
    // Said once (a moved or left-behind older data folder); the CLI prints them.
    for notice in paths.iter().flat_map(|p| &p.notices) {
        tracing::warn!(category = "application", "{notice}");
    }
    let console = Console::open(None)
        .await
        .map(|c| c.with_process_kind(nfops_ops::ProcessKind::App))
        .map_err(|e| {
            tracing::error!(category = "error", code = %e.code(), "console could not start: {e}");
            failure::Failure::from(e)
        });
    AppState {
        console,
        _log_guard: log_guard,
    }
}

/// Starts the desktop app.
pub fn run() {
    let builder = specta_builder();
    let state = tauri::async_runtime::block_on(open_console());
    tracing::info!(
        category = "application",
        version = env!("CARGO_PKG_VERSION"),
        "desktop console started"
    );
    let result = tauri::Builder::default()
        .manage(state)
        .manage(jobs::RunningJobs::default())
        .manage(updates::state::UpdateState::default())
        .plugin(tauri_plugin_notification::init())
        // Reads plugins.updater (pubkey, endpoints) from tauri.conf.json.
        .plugin(tauri_plugin_updater::Builder::new().build())
        .invoke_handler(builder.invoke_handler())
        .setup(move |app| {
            builder.mount_events(app);
            uptime::watch::start(app.handle());
            updates::daily::start(app.handle());
            app::start_page::apply(app.handle());
            Ok(())
        })
        .run(tauri::generate_context!());
    if let Err(e) = result {
        tracing::error!(
            category = "error",
            "desktop console stopped with an error: {e}"
        );
        eprintln!("NewFinity Ops could not start its window: {e}");
        std::process::exit(1);
    }
}

#[cfg(test)]
mod tests {
    /// CI fails when the committed bindings differ from what the Rust side
    /// generates; `make bindings` (NFOPS_WRITE_BINDINGS=1) rewrites them.
    #[test]
    fn typescript_bindings_are_up_to_date() {
        let committed =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("ui/src/lib/bindings.ts");
        if std::env::var_os("NFOPS_WRITE_BINDINGS").is_some() {
            super::export_bindings(&committed).expect("export bindings");
            return;
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let fresh = dir.path().join("bindings.ts");
        super::export_bindings(&fresh).expect("export bindings");
        let want = std::fs::read_to_string(&fresh).expect("read fresh");
        let have = std::fs::read_to_string(&committed).unwrap_or_default();
        assert!(
            have == want,
            "ui/src/lib/bindings.ts is stale: run `make bindings` and commit it"
        );
    }

    /// Every command the app registers has its `allow-` permission generated
    /// (build.rs) and granted (capabilities/main.json): a command missing
    /// from either is refused at run time with "not allowed", which no
    /// compile step catches (seen with the six update commands).
    #[test]
    fn every_registered_command_is_permitted_and_granted() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let read = |p: &str| std::fs::read_to_string(root.join(p)).expect(p);
        let lib = read("src-tauri/lib.rs");
        let build = read("src-tauri/build.rs");
        let caps = read("capabilities/main.json");
        let start = lib.find("collect_commands![").expect("the command list");
        let list = &lib[start..start + lib[start..].find(']').expect("its end")];
        let names: Vec<&str> = list
            .split(',')
            .filter_map(|p| p.trim().rsplit("::").next())
            .filter(|n| !n.is_empty() && !n.contains('!'))
            .collect();
        assert!(names.len() > 40, "the list was read: {names:?}");
        for n in names {
            assert!(
                build.contains(&format!("\"{n}\"")),
                "{n} is missing from build.rs"
            );
            let allow = format!("\"allow-{}\"", n.replace('_', "-"));
            assert!(
                caps.contains(&allow),
                "{allow} is missing from capabilities/main.json"
            );
        }
    }
}
