//! Gate results and the gates that need nothing but their inputs.
//!
//! Every gate fails closed: no data, an error or a timeout is a failure.

use chrono::{NaiveTime, Timelike};
use nfops_core::{Error, ErrorCode, Result};
use serde::{Deserialize, Serialize};

/// How one gate ended; kept with the promotion.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GateResult {
    pub name: String,
    pub passed: bool,
    /// What was checked, or why it failed.
    pub detail: String,
}

impl GateResult {
    pub fn pass(name: &str, detail: impl Into<String>) -> Self {
        Self {
            name: name.to_owned(),
            passed: true,
            detail: detail.into(),
        }
    }

    pub fn fail(name: &str, detail: impl Into<String>) -> Self {
        Self {
            name: name.to_owned(),
            passed: false,
            detail: detail.into(),
        }
    }

    /// Passed with `Ok`'s evidence, failed with the error's message.
    pub fn from_result(name: &str, r: Result<String>) -> Self {
        match r {
            Ok(d) => Self::pass(name, d),
            Err(e) => Self::fail(name, e.message().to_owned()),
        }
    }
}

/// Parses a UTC change window `HH:MM-HH:MM` (may wrap midnight).
///
/// Errors: `input.invalid` with the expected form.
pub fn parse_window(text: &str) -> Result<(NaiveTime, NaiveTime)> {
    let bad = || {
        Error::new(
            ErrorCode::InvalidInput,
            format!("change window '{text}' is not HH:MM-HH:MM (UTC)"),
        )
        .hint("For example 22:00-02:00 allows promotions from 22:00 to 02:00 UTC.")
    };
    let (a, b) = text.trim().split_once('-').ok_or_else(bad)?;
    let start = NaiveTime::parse_from_str(a.trim(), "%H:%M").map_err(|_| bad())?;
    let end = NaiveTime::parse_from_str(b.trim(), "%H:%M").map_err(|_| bad())?;
    Ok((start, end))
}

/// The change-window gate at time `now` (UTC).
pub fn window_gate(window: Option<&str>, now: chrono::DateTime<chrono::Utc>) -> GateResult {
    const NAME: &str = "change window";
    let Some(w) = window else {
        return GateResult::pass(NAME, "no change window set");
    };
    match parse_window(w) {
        Err(e) => GateResult::fail(NAME, e.message().to_owned()),
        Ok((start, end)) => {
            let t = NaiveTime::from_hms_opt(now.hour(), now.minute(), 0).unwrap_or(start);
            let inside = if start <= end {
                t >= start && t < end
            } else {
                t >= start || t < end
            };
            let hm = now.format("%H:%M");
            if inside {
                GateResult::pass(NAME, format!("{hm} UTC is inside {w}"))
            } else {
                GateResult::fail(NAME, format!("{hm} UTC is outside the change window {w}"))
            }
        }
    }
}

/// The second-approver gate.
pub fn approver_gate(required: bool, approver: Option<&str>, actor: &str) -> GateResult {
    const NAME: &str = "second approver";
    match approver.map(str::trim).filter(|a| !a.is_empty()) {
        Some(a) if a == actor => GateResult::fail(
            NAME,
            format!("the approver ({a}) must be someone other than the operator"),
        ),
        Some(a) => GateResult::pass(NAME, format!("approved by {a} (recorded in the audit log)")),
        None if required => {
            GateResult::fail(NAME, "a second approver is required and none was named")
        }
        None => GateResult::pass(NAME, "not required"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn change_windows_include_start_exclude_end_and_may_wrap() {
        let at = |h, m| chrono::Utc.with_ymd_and_hms(2026, 1, 1, h, m, 0).unwrap();
        assert!(window_gate(Some("09:00-17:00"), at(9, 0)).passed);
        assert!(!window_gate(Some("09:00-17:00"), at(17, 0)).passed);
        assert!(window_gate(Some("22:00-02:00"), at(1, 30)).passed);
        assert!(!window_gate(Some("22:00-02:00"), at(12, 0)).passed);
        assert!(
            !window_gate(Some("9-5"), at(12, 0)).passed,
            "bad windows fail closed"
        );
        assert!(window_gate(None, at(12, 0)).passed);
    }

    #[test]
    fn approvers_are_someone_else() {
        assert!(!approver_gate(true, None, "ann").passed);
        assert!(!approver_gate(true, Some("ann"), "ann").passed);
        assert!(approver_gate(true, Some("bob"), "ann").passed);
        assert!(approver_gate(false, None, "ann").passed);
    }
}
