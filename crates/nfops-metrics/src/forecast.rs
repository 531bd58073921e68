//! Capacity forecast: a least-squares line through a metric's recent
//! history, carried forward with a band of ±2 residual standard deviations,
//! and when that line crosses a capacity limit.
//!
//! A straight line is the honest model for a few hours to days of data:
//! Holt-Winters needs several full seasons (days) before its seasonal terms
//! mean anything, which a fresh install does not have.

use serde::Serialize;

/// A fitted trend `y = intercept + slope * t` (t in unix seconds).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Trend {
    pub slope: f64,
    pub intercept: f64,
    /// Standard deviation of the residuals.
    pub sigma: f64,
    /// Points the fit used.
    pub points: usize,
}

impl Trend {
    /// The least-squares line through the finite points; `None` with fewer
    /// than 3 of them or when all share one time.
    pub fn fit(points: &[(f64, f64)]) -> Option<Trend> {
        let pts: Vec<(f64, f64)> = points
            .iter()
            .copied()
            .filter(|(t, y)| t.is_finite() && y.is_finite())
            .collect();
        if pts.len() < 3 {
            return None;
        }
        let n = pts.len() as f64;
        let t0 = pts[0].0; // centred for precision: unix seconds are large
        let mt = pts.iter().map(|p| p.0 - t0).sum::<f64>() / n;
        let my = pts.iter().map(|p| p.1).sum::<f64>() / n;
        let sxx: f64 = pts.iter().map(|p| (p.0 - t0 - mt).powi(2)).sum();
        if sxx <= f64::EPSILON {
            return None;
        }
        let sxy: f64 = pts.iter().map(|p| (p.0 - t0 - mt) * (p.1 - my)).sum();
        let slope = sxy / sxx;
        let intercept = my - slope * (mt + t0);
        let ss: f64 = pts
            .iter()
            .map(|p| (p.1 - (intercept + slope * p.0)).powi(2))
            .sum();
        Some(Trend {
            slope,
            intercept,
            sigma: (ss / (n - 2.0).max(1.0)).sqrt(),
            points: pts.len(),
        })
    }

    pub fn at(&self, t: f64) -> f64 {
        self.intercept + self.slope * t
    }

    /// `(t, low, high)` every `step` seconds from `from` to `to`: the trend
    /// ±2σ, never below 0 (rates and percentages are not negative).
    pub fn band(&self, from: f64, to: f64, step: f64) -> Vec<(f64, f64, f64)> {
        let mut out = Vec::new();
        let mut t = from;
        while t <= to + 1e-9 && step > 0.0 {
            let y = self.at(t);
            out.push((
                t,
                (y - 2.0 * self.sigma).max(0.0),
                (y + 2.0 * self.sigma).max(0.0),
            ));
            t += step;
        }
        out
    }

    /// When the upper edge of the band (trend + 2σ) reaches `limit`, if
    /// after `now` and before `horizon`: the cautious estimate of when
    /// capacity runs out. `Some(now)` when it is already above.
    pub fn reaches(&self, limit: f64, now: f64, horizon: f64) -> Option<f64> {
        let high_now = self.at(now) + 2.0 * self.sigma;
        if high_now >= limit {
            return Some(now);
        }
        if self.slope <= 0.0 {
            return None;
        }
        let t = (limit - 2.0 * self.sigma - self.intercept) / self.slope;
        (t > now && t <= horizon).then_some(t)
    }
}

/// Instances needed so that `load` (a utilisation in percent, measured with
/// `current` instances) falls to `target` percent, assuming the load spreads
/// evenly: `ceil(current * load / target)`, at least 1.
pub fn suggest_instances(current: u32, load: f64, target: f64) -> u32 {
    if !(load.is_finite() && target > 0.0) || current == 0 {
        return current.max(1);
    }
    let need = (f64::from(current) * load / target).ceil();
    (need as u32).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fits_a_known_line_and_finds_its_crossing() {
        let t0 = 1.7e9;
        let pts: Vec<(f64, f64)> = (0..60)
            .map(|i| (t0 + f64::from(i) * 60.0, 20.0 + 0.01 * f64::from(i) * 60.0))
            .collect();
        let f = Trend::fit(&pts).expect("fit");
        assert!((f.slope - 0.01).abs() < 1e-9, "slope {}", f.slope);
        assert!(f.sigma < 1e-6, "an exact line has no residual");
        // 20 + 0.01 * (t - t0) = 80  →  t = t0 + 6000
        let at = f
            .reaches(80.0, t0 + 3540.0, t0 + 100_000.0)
            .expect("crosses");
        assert!((at - (t0 + 6000.0)).abs() < 1e-3, "{}", at - t0);
        assert_eq!(
            f.reaches(80.0, t0 + 3540.0, t0 + 5000.0),
            None,
            "beyond the horizon"
        );
    }

    #[test]
    fn noise_widens_the_band_and_a_flat_trend_never_runs_out() {
        let pts: Vec<(f64, f64)> = (0..100)
            .map(|i| (f64::from(i), if i % 2 == 0 { 9.0 } else { 11.0 }))
            .collect();
        let f = Trend::fit(&pts).expect("fit");
        assert!((f.sigma - 1.0).abs() < 0.05, "sigma {}", f.sigma);
        let band = f.band(100.0, 110.0, 5.0);
        assert_eq!(band.len(), 3);
        assert!(band
            .iter()
            .all(|(_, lo, hi)| hi - lo > 3.5 && hi - lo < 4.5));
        assert_eq!(
            f.reaches(50.0, 100.0, 10_000.0),
            None,
            "a near-flat line does not reach 50 within the horizon"
        );
        assert_eq!(
            f.reaches(12.0, 100.0, 1e9),
            Some(100.0),
            "the upper band is already above 12"
        );
    }

    #[test]
    fn too_few_points_give_no_trend() {
        assert_eq!(Trend::fit(&[(0.0, 1.0), (1.0, 2.0)]), None);
        assert_eq!(Trend::fit(&[(5.0, 1.0), (5.0, 2.0), (5.0, 3.0)]), None);
    }

    #[test]
    fn suggestions_scale_with_load() {
        assert_eq!(suggest_instances(2, 90.0, 60.0), 3);
        assert_eq!(suggest_instances(2, 10.0, 60.0), 1);
        assert_eq!(suggest_instances(4, 60.0, 60.0), 4);
        assert_eq!(suggest_instances(0, 50.0, 60.0), 1);
    }
}
