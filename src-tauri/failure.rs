//! The one error shape that crosses IPC, and the titles of its codes.

use std::collections::BTreeMap;

use nfops_core::ErrorCode;
use serde::Serialize;
use specta::Type;

/// The one error shape the UI sees: branch on `code`, show `message` and `hint`.
/// `code` stays a string on the wire because the UI adds codes of its own
/// (the IPC bridge failing); the codes Rust sends are `ERROR_TITLES`' keys.
#[derive(Debug, Clone, Serialize, Type)]
pub struct Failure {
    pub code: String,
    pub message: String,
    pub hint: Option<String>,
}

impl From<nfops_core::Error> for Failure {
    fn from(e: nfops_core::Error) -> Self {
        tracing::debug!(category = "application", code = %e.code(), causes = ?e.causes(), "command failed: {}", e.message());
        Self::from(e.to_wire())
    }
}

impl From<nfops_core::WireError> for Failure {
    fn from(w: nfops_core::WireError) -> Self {
        Self {
            code: w.code,
            message: w.message,
            hint: w.hint,
        }
    }
}

/// Every Rust error code with its short title, exported to TypeScript as the
/// constant `ERROR_TITLES`: the UI's code union and titles come from here, so
/// a new code in `nfops-core` reaches the UI by `make bindings` alone.
pub fn error_titles() -> BTreeMap<&'static str, &'static str> {
    ErrorCode::ALL
        .iter()
        .map(|c| (c.as_str(), c.title()))
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_error_code_has_a_title_for_the_ui() {
        let titles = super::error_titles();
        assert_eq!(
            titles.len(),
            nfops_core::ErrorCode::ALL.len(),
            "each code needs its own entry, or the UI falls back to a generic title"
        );
        assert!(
            titles.contains_key("secrets.not_recipient"),
            "secrets codes were missing from the hand copy this replaces"
        );
        assert!(titles.values().all(|t| !t.is_empty()));
    }
}
