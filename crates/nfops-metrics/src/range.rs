//! Time ranges of the charts: 15 minutes to 7 days, and the query step and
//! rate window that go with each.

use nfops_core::{Error, ErrorCode, Result};

/// How far back a chart looks, in seconds. Always between 15 minutes and 7 days.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeRange {
    seconds: u64,
}

/// Points a chart aims for: enough for a smooth line, few enough to stay light.
const TARGET_POINTS: u64 = 240;
/// Never ask Prometheus for a finer step than this.
const MIN_STEP: u64 = 5;

impl TimeRange {
    pub const MIN_SECONDS: u64 = 15 * 60;
    pub const MAX_SECONDS: u64 = 7 * 24 * 3600;

    /// Parses `15m`, `1h`, `6h`, `24h`, `7d`, `90s` (a number and one unit).
    ///
    /// Errors: `input.invalid` for another form or a range outside 15m..7d.
    pub fn parse(s: &str) -> Result<Self> {
        let s = s.trim();
        let bad = || {
            Error::new(
                ErrorCode::InvalidInput,
                format!("'{}' is not a time range", crate::bounded(s, 40)),
            )
            .hint("Use a number and a unit: 15m, 1h, 6h, 24h, 7d (between 15 minutes and 7 days).")
        };
        let split = s.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
        let (n, unit) = s.split_at(split);
        let n: u64 = n.parse().map_err(|_| bad())?;
        let mult = match unit {
            "s" => 1,
            "m" => 60,
            "h" => 3600,
            "d" => 86400,
            _ => return Err(bad()),
        };
        Self::from_seconds(n.saturating_mul(mult))
    }

    /// Errors: `input.invalid` outside 15 minutes..7 days.
    pub fn from_seconds(seconds: u64) -> Result<Self> {
        if !(Self::MIN_SECONDS..=Self::MAX_SECONDS).contains(&seconds) {
            return Err(Error::new(
                ErrorCode::InvalidInput,
                format!("a time range of {seconds} s is outside 15 minutes..7 days"),
            )
            .hint("Pick a range between 15m and 7d."));
        }
        Ok(Self { seconds })
    }

    pub fn seconds(self) -> u64 {
        self.seconds
    }

    /// Query resolution: about [`TARGET_POINTS`] points over the range.
    pub fn step(self) -> u64 {
        self.seconds.div_ceil(TARGET_POINTS).max(MIN_STEP)
    }

    /// Window of `rate()`: four steps, and at least a minute so a few
    /// scrapes fall inside it even at a 15 s scrape interval.
    pub fn rate_window(self) -> u64 {
        (self.step() * 4).max(60)
    }

    /// `(start, end)` in unix seconds ending at `now`, aligned to the step so
    /// successive refreshes ask for the same buckets (Prometheus caches them).
    pub fn window(self, now: f64) -> (f64, f64) {
        let step = self.step() as f64;
        let end = (now / step).floor() * step;
        (end - self.seconds as f64, end)
    }
}

impl Default for TimeRange {
    fn default() -> Self {
        Self { seconds: 3600 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_picker_ranges() {
        for (s, secs) in [
            ("15m", 900),
            ("1h", 3600),
            ("6h", 21600),
            ("24h", 86400),
            ("7d", 604800),
        ] {
            assert_eq!(TimeRange::parse(s).expect(s).seconds(), secs, "{s}");
        }
        for bad in ["", "1", "h", "1w", "5m", "8d", "-1h", "1.5h"] {
            assert!(TimeRange::parse(bad).is_err(), "'{bad}' must be refused");
        }
    }

    #[test]
    fn steps_keep_charts_near_240_points() {
        let r = TimeRange::parse("7d").expect("7d");
        assert_eq!(r.step(), 2520);
        assert_eq!(r.rate_window(), 10080);
        let r = TimeRange::parse("15m").expect("15m");
        assert_eq!(
            r.step(),
            5,
            "a short range never goes below the minimum step"
        );
        assert_eq!(r.rate_window(), 60);
        let (start, end) = r.window(1000.0 + 3.0);
        assert_eq!(
            (start, end),
            (100.0, 1000.0),
            "the end is aligned to the step"
        );
    }
}
