//! The uptime watch of the desktop app: every environment's probes run in
//! the background for the life of the app, and a probe going down (after its
//! N failures in a row) or recovering becomes a desktop notification.
//!
//! Notifications are sent from Rust through the notification plugin, so the
//! UI needs no notification permission. `NFOPS_UPTIME_WATCH=0` turns the
//! watch off (e.g. a demo machine that must stay quiet).
//!
//! The same switch covers the Redis sampler: every 30 s each environment
//! with a cache gets an `INFO` sample, the history of the Redis charts.

use nfops_core::jobs::CancellationToken;
use nfops_metrics::uptime::Transition;
use tauri::{AppHandle, Manager};
use tauri_plugin_notification::NotificationExt;

use crate::AppState;

/// Spawns the watch; it ends with the app's runtime.
pub fn start(app: &AppHandle) {
    if std::env::var("NFOPS_UPTIME_WATCH").as_deref() == Ok("0") {
        tracing::info!(
            category = "application",
            "uptime watch is off (NFOPS_UPTIME_WATCH=0)"
        );
        return;
    }
    let Ok(console) = app.state::<AppState>().console().cloned() else {
        return; // the console did not start; the pages show why
    };
    let sampler = console.clone();
    tauri::async_runtime::spawn(async move {
        loop {
            let names: Vec<String> = sampler
                .config()
                .map(|c| {
                    c.environments()
                        .filter(|(_, e)| e.cache.is_some())
                        .map(|(n, _)| n.to_owned())
                        .collect()
                })
                .unwrap_or_default();
            for name in names {
                if let Err(e) = sampler.cache_sample(&name).await {
                    tracing::debug!(category = "application", environment = %name, code = %e.code(), "redis sample failed: {e}");
                }
            }
            tokio::time::sleep(std::time::Duration::from_secs(30)).await;
        }
    });
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        let result = console
            .uptime_watch(None, CancellationToken::new(), |event| {
                let Some(transition) = event.transition else {
                    return;
                };
                let (title, body) = match transition {
                    Transition::WentDown => (
                        format!("{} · {} is DOWN", event.environment, event.probe),
                        format!(
                            "{} failed {} times in a row: {}",
                            event.target, event.state.consecutive_failures, event.sample.detail
                        ),
                    ),
                    Transition::Recovered => (
                        format!("{} · {} recovered", event.environment, event.probe),
                        format!("{} answers again: {}", event.target, event.sample.detail),
                    ),
                };
                if let Err(e) = app
                    .notification()
                    .builder()
                    .title(&title)
                    .body(&body)
                    .show()
                {
                    tracing::warn!(
                        category = "error",
                        "desktop notification failed ({title}): {e}"
                    );
                }
            })
            .await;
        if let Err(e) = result {
            tracing::error!(category = "error", code = %e.code(), "uptime watch stopped: {e}");
        }
    });
}
