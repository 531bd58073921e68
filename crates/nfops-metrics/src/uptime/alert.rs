//! When a probe is down: only after `failures_before_down` failed checks in
//! a row, so one lost packet never pages anyone; recovered on the first good
//! check after that.

use serde::Serialize;

/// What the console believes about a probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ProbeStatus {
    /// Never checked, or failing fewer times in a row than the threshold
    /// since the console started watching.
    Unknown,
    Up,
    Down,
}

impl ProbeStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ProbeStatus::Unknown => "unknown",
            ProbeStatus::Up => "up",
            ProbeStatus::Down => "down",
        }
    }

    pub fn parse(s: &str) -> Self {
        match s {
            "up" => ProbeStatus::Up,
            "down" => ProbeStatus::Down,
            _ => ProbeStatus::Unknown,
        }
    }
}

/// A change worth a notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Transition {
    /// The threshold of failures in a row was just reached.
    WentDown,
    /// The first good check after a down.
    Recovered,
}

/// A probe's alerting state. Invariant: `status == Down` implies at least
/// `threshold` failures were seen in a row since the last good check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AlertState {
    pub status: ProbeStatus,
    pub consecutive_failures: u32,
}

impl Default for AlertState {
    fn default() -> Self {
        Self {
            status: ProbeStatus::Unknown,
            consecutive_failures: 0,
        }
    }
}

impl AlertState {
    /// The state after one more check; `threshold` is taken as at least 1.
    pub fn advance(self, ok: bool, threshold: u32) -> (AlertState, Option<Transition>) {
        if ok {
            let transition = (self.status == ProbeStatus::Down).then_some(Transition::Recovered);
            return (
                AlertState {
                    status: ProbeStatus::Up,
                    consecutive_failures: 0,
                },
                transition,
            );
        }
        let failures = self.consecutive_failures.saturating_add(1);
        if failures >= threshold.max(1) {
            let transition = (self.status != ProbeStatus::Down).then_some(Transition::WentDown);
            return (
                AlertState {
                    status: ProbeStatus::Down,
                    consecutive_failures: failures,
                },
                transition,
            );
        }
        (
            AlertState {
                status: self.status,
                consecutive_failures: failures,
            },
            None,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(checks: &[bool], threshold: u32) -> Vec<Option<Transition>> {
        let mut s = AlertState::default();
        checks
            .iter()
            .map(|&ok| {
                let (next, t) = s.advance(ok, threshold);
                s = next;
                t
            })
            .collect()
    }

    #[test]
    fn down_is_raised_only_after_n_failures_in_a_row() {
        use Transition::*;
        assert_eq!(
            run(&[true, false, false, true, false, false, false, false], 3),
            vec![None, None, None, None, None, None, Some(WentDown), None],
            "two failures then a success reset the count; the third in a row raises once"
        );
    }

    #[test]
    fn recovery_is_raised_once_after_a_down_only() {
        use Transition::*;
        assert_eq!(
            run(&[false, false, true, true, false, true], 2),
            vec![None, Some(WentDown), Some(Recovered), None, None, None],
            "a single failure below the threshold must not produce a recovery"
        );
    }

    #[test]
    fn a_threshold_of_zero_acts_as_one() {
        assert_eq!(run(&[false], 0), vec![Some(Transition::WentDown)]);
    }
}
