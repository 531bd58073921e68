//! `NFOPS_START_PAGE=<page id>` opens the window on that page (`metrics`,
//! `uptime`, ...) instead of the Overview: for kiosk screens and for
//! `bench/app`, which measures the app with the Metrics page open.

use tauri::{AppHandle, Manager};

/// Points the main window at `#/<page>` when `NFOPS_START_PAGE` is set.
pub fn apply(app: &AppHandle) {
    let Ok(page) = std::env::var("NFOPS_START_PAGE") else {
        return;
    };
    if page.is_empty() || !page.chars().all(|c| c.is_ascii_lowercase()) {
        tracing::warn!(
            category = "application",
            "NFOPS_START_PAGE must be a page id like metrics; ignored"
        );
        return;
    }
    let Some(window) = app.get_webview_window("main") else {
        return;
    };
    match window.url() {
        Ok(mut url) => {
            url.set_fragment(Some(&format!("/{page}")));
            if let Err(e) = window.navigate(url) {
                tracing::warn!(
                    category = "error",
                    "could not open the start page {page}: {e}"
                );
            }
        }
        Err(e) => tracing::warn!(
            category = "error",
            "could not open the start page {page}: {e}"
        ),
    }
}
