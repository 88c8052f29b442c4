//! Changes between two sets of measurements as a ratio (new over base) with a 95% confidence
//! interval, on TPS and on mean, p50 and p99 latency.
//!
//! Ratios are worked on in log space: a slowdown of 2x and a speedup of 2x are then the same
//! distance from "no change", and a mean of logs is a geometric mean, which is what a ratio of
//! repetitions calls for.
//!
//! - Repetitions of two modes of one sweep ran interleaved, so repetition i of each is a pair:
//!   Student's t on the mean of the paired log ratios ([`paired`]).
//! - Repetitions of two separate sweeps are independent: Welch's t on the log values ([`welch`]).
//! - With fewer than two repetitions there is no spread between runs to measure, so the interval
//!   comes from resampling per-second samples ([`bootstrap`]); it shows the noise within the runs,
//!   not how much a rerun would differ.

use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use statrs::distribution::{ContinuousCDF, StudentsT};

pub const CONFIDENCE: f64 = 0.95;

/// The figures a change is reported on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Metric {
    Tps,
    Mean,
    P50,
    P99,
}

impl Metric {
    pub const ALL: [Metric; 4] = [Metric::Tps, Metric::Mean, Metric::P50, Metric::P99];

    fn index(self) -> usize {
        self as usize
    }

    pub fn name(self) -> &'static str {
        match self {
            Metric::Tps => "TPS",
            Metric::Mean => "mean latency",
            Metric::P50 => "p50 latency",
            Metric::P99 => "p99 latency",
        }
    }

    /// More TPS is better; more latency is worse.
    pub fn higher_is_better(self) -> bool {
        self == Metric::Tps
    }
}

/// One value per [`Metric`]: TPS, and latencies in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Figures([f64; 4]);

impl Figures {
    pub fn new(tps: f64, mean_ms: f64, p50_ms: f64, p99_ms: f64) -> Figures {
        Figures([tps, mean_ms, p50_ms, p99_ms])
    }

    pub fn get(&self, m: Metric) -> f64 {
        self.0[m.index()]
    }

    /// The geometric mean of each figure; None for an empty list.
    pub fn geometric_mean(list: &[Figures]) -> Option<Figures> {
        if list.is_empty() {
            return None;
        }
        let mut out = [0.0; 4];
        for (i, v) in out.iter_mut().enumerate() {
            let mean_log = list.iter().map(|f| f.0[i].ln()).sum::<f64>() / list.len() as f64;
            *v = mean_log.exp();
        }
        Some(Figures(out))
    }

    /// Itself when every value is positive and finite (a ratio can be taken of it).
    pub fn positive(self) -> Option<Figures> {
        self.0
            .iter()
            .all(|v| v.is_finite() && *v > 0.0)
            .then_some(self)
    }
}

/// How an interval was computed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Method {
    /// Student's t on the mean log ratio of `pairs` paired repetitions (pairs − 1 degrees of freedom).
    Paired { pairs: usize },
    /// Welch's t on log values of independent repetitions.
    Welch { base: usize, new: usize, df: f64 },
    /// Percentile bootstrap over per-second samples.
    Bootstrap {
        base_seconds: usize,
        new_seconds: usize,
    },
}

impl Method {
    pub fn is_bootstrap(&self) -> bool {
        matches!(self, Method::Bootstrap { .. })
    }
}

/// A change from base to new, as a ratio with its 95% confidence interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Change {
    /// new / base.
    pub ratio: f64,
    pub low: f64,
    pub high: f64,
    pub method: Method,
}

/// Which way an interval lies from "no change".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Up,
    Down,
}

impl Change {
    pub fn percent(&self) -> f64 {
        to_percent(self.ratio)
    }

    pub fn low_percent(&self) -> f64 {
        to_percent(self.low)
    }

    pub fn high_percent(&self) -> f64 {
        to_percent(self.high)
    }

    /// The interval includes 0%: the data do not show a change.
    pub fn is_noise(&self) -> bool {
        self.low <= 1.0 && self.high >= 1.0
    }

    /// Which way the change goes when its whole interval lies beyond ±`threshold_pct`.
    pub fn beyond(&self, threshold_pct: f64) -> Option<Direction> {
        if self.low_percent() > threshold_pct {
            Some(Direction::Up)
        } else if self.high_percent() < -threshold_pct {
            Some(Direction::Down)
        } else {
            None
        }
    }
}

fn to_percent(ratio: f64) -> f64 {
    (ratio - 1.0) * 100.0
}

/// The two-sided t quantile for [`CONFIDENCE`].
fn t_quantile(df: f64) -> f64 {
    let t = StudentsT::new(0.0, 1.0, df).expect("degrees of freedom are positive");
    t.inverse_cdf(0.5 + CONFIDENCE / 2.0)
}

fn mean(xs: &[f64]) -> f64 {
    xs.iter().sum::<f64>() / xs.len() as f64
}

/// Sample variance (n − 1).
fn variance(xs: &[f64]) -> f64 {
    let m = mean(xs);
    xs.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (xs.len() - 1) as f64
}

fn logs(xs: &[f64]) -> Option<Vec<f64>> {
    xs.iter()
        .all(|v| v.is_finite() && *v > 0.0)
        .then(|| xs.iter().map(|v| v.ln()).collect())
}

/// Paired repetitions: `base[i]` and `new[i]` ran as a pair. Needs at least two pairs of
/// positive values.
pub fn paired(base: &[f64], new: &[f64]) -> Option<Change> {
    let n = base.len();
    if n < 2 || new.len() != n {
        return None;
    }
    let (lb, ln) = (logs(base)?, logs(new)?);
    let d: Vec<f64> = ln.iter().zip(&lb).map(|(a, b)| a - b).collect();
    let m = mean(&d);
    let half = t_quantile((n - 1) as f64) * (variance(&d) / n as f64).sqrt();
    Some(Change {
        ratio: m.exp(),
        low: (m - half).exp(),
        high: (m + half).exp(),
        method: Method::Paired { pairs: n },
    })
}

/// Independent repetitions: Welch's interval on the difference of mean logs, with the
/// Welch–Satterthwaite degrees of freedom. Needs at least two positive values on each side.
pub fn welch(base: &[f64], new: &[f64]) -> Option<Change> {
    let (nb, nn) = (base.len(), new.len());
    if nb < 2 || nn < 2 {
        return None;
    }
    let (lb, ln) = (logs(base)?, logs(new)?);
    let d = mean(&ln) - mean(&lb);
    let (vb, vn) = (variance(&lb) / nb as f64, variance(&ln) / nn as f64);
    let se2 = vb + vn;
    // Without spread the formula for df is 0/0; the interval is then a point anyway.
    let df = if se2 > 0.0 {
        se2 * se2 / (vb * vb / (nb - 1) as f64 + vn * vn / (nn - 1) as f64)
    } else {
        (nb + nn - 2) as f64
    };
    let half = t_quantile(df) * se2.sqrt();
    Some(Change {
        ratio: d.exp(),
        low: (d - half).exp(),
        high: (d + half).exp(),
        method: Method::Welch {
            base: nb,
            new: nn,
            df,
        },
    })
}

#[derive(Debug, Clone, Copy)]
pub struct Bootstrap {
    pub resamples: usize,
    /// Fixed, so the same folders always give the same report.
    pub seed: u64,
}

impl Default for Bootstrap {
    fn default() -> Self {
        Bootstrap {
            resamples: 2000,
            seed: 0x7067_7379_6e63,
        }
    }
}

/// One side of a bootstrap: its overall figures and its per-second samples.
#[derive(Debug, Clone, Copy)]
pub struct Sampled<'a> {
    pub point: Figures,
    pub seconds: &'a [Figures],
}

/// Bootstrap of every metric at once: seconds are drawn with replacement on each side (whole
/// seconds, so a second's TPS and latencies stay together), and each resample gives the ratio
/// of the two sides' means. The 2.5th and 97.5th percentiles of those ratios, divided by the
/// ratio of the observed per-second means, give the interval's factors around the point
/// estimate from the overall figures. Moving the percentile interval there keeps the estimate
/// inside its own interval: the overall p99 is not the mean of per-second p99s. Needs at least
/// two seconds on each side.
pub fn bootstrap(base: Sampled, new: Sampled, cfg: Bootstrap) -> Option<[Change; 4]> {
    let (nb, nn) = (base.seconds.len(), new.seconds.len());
    if nb < 2 || nn < 2 || cfg.resamples < 2 {
        return None;
    }
    let observed = mean_ratio(base.seconds, new.seconds);
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(cfg.seed);
    let mut ratios: [Vec<f64>; 4] = Default::default();
    for r in &mut ratios {
        r.reserve_exact(cfg.resamples);
    }
    for _ in 0..cfg.resamples {
        let sb = resampled_sum(base.seconds, &mut rng);
        let sn = resampled_sum(new.seconds, &mut rng);
        for (i, r) in ratios.iter_mut().enumerate() {
            // Both sides' sums over their own counts: the counts cancel only when equal.
            r.push((sn[i] / nn as f64) / (sb[i] / nb as f64));
        }
    }
    let method = Method::Bootstrap {
        base_seconds: nb,
        new_seconds: nn,
    };
    Some(std::array::from_fn(|i| {
        let r = &mut ratios[i];
        r.sort_by(f64::total_cmp);
        let lo = quantile(r, (1.0 - CONFIDENCE) / 2.0);
        let hi = quantile(r, 0.5 + CONFIDENCE / 2.0);
        let point = new.point.0[i] / base.point.0[i];
        Change {
            ratio: point,
            low: point * lo / observed[i],
            high: point * hi / observed[i],
            method,
        }
    }))
}

fn mean_ratio(base: &[Figures], new: &[Figures]) -> [f64; 4] {
    let sum = |xs: &[Figures], i: usize| xs.iter().map(|f| f.0[i]).sum::<f64>() / xs.len() as f64;
    std::array::from_fn(|i| sum(new, i) / sum(base, i))
}

fn resampled_sum(xs: &[Figures], rng: &mut Xoshiro256PlusPlus) -> [f64; 4] {
    let mut s = [0.0; 4];
    for _ in 0..xs.len() {
        let f = &xs[rng.random_range(0..xs.len())];
        for (acc, v) in s.iter_mut().zip(f.0) {
            *acc += v;
        }
    }
    s
}

/// Linear interpolation between order statistics of a sorted, non-empty slice.
fn quantile(sorted: &[f64], q: f64) -> f64 {
    let pos = q * (sorted.len() - 1) as f64;
    let (i, frac) = (pos.floor() as usize, pos.fract());
    match sorted.get(i + 1) {
        Some(next) => sorted[i] + (next - sorted[i]) * frac,
        None => sorted[i],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    #[test]
    fn t_quantiles_match_the_textbook() {
        // Two-sided 95%: 12.706 at 1 df, 2.776 at 4, 1.96 in the limit.
        assert!(close(t_quantile(1.0), 12.706, 1e-3), "{}", t_quantile(1.0));
        assert!(close(t_quantile(4.0), 2.776, 1e-3));
        assert!(close(t_quantile(1e6), 1.960, 1e-3));
    }

    #[test]
    fn paired_identical_runs_show_no_change() {
        let c = paired(&[10.0, 11.0, 12.0], &[10.0, 11.0, 12.0]).unwrap();
        assert_eq!(c.percent(), 0.0);
        assert_eq!((c.low_percent(), c.high_percent()), (0.0, 0.0));
        assert!(c.is_noise());
        assert_eq!(c.beyond(5.0), None);
    }

    #[test]
    fn paired_twice_as_slow_is_plus_100_percent() {
        let c = paired(&[2.0, 3.0, 5.0], &[4.0, 6.0, 10.0]).unwrap();
        assert!(close(c.percent(), 100.0, 1e-9));
        assert!(close(c.low_percent(), 100.0, 1e-9) && close(c.high_percent(), 100.0, 1e-9));
        assert!(!c.is_noise());
        assert_eq!(c.beyond(5.0), Some(Direction::Up));
        assert_eq!(c.method, Method::Paired { pairs: 3 });
    }

    #[test]
    fn paired_interval_is_the_t_interval_of_log_ratios() {
        // Log ratios ln 1.1 and ln 1.3: mean m, sd s = |ln1.3 - ln1.1| / sqrt 2, n 2, t(1 df).
        let c = paired(&[1.0, 1.0], &[1.1, 1.3]).unwrap();
        let (a, b) = (1.1f64.ln(), 1.3f64.ln());
        let m = (a + b) / 2.0;
        let half = 12.7062 * ((b - a).abs() / 2f64.sqrt()) / 2f64.sqrt();
        assert!(close(c.ratio, m.exp(), 1e-12));
        assert!(close(c.low, (m - half).exp(), 1e-4), "{c:?}");
        assert!(close(c.high, (m + half).exp(), 1e-3), "{c:?}");
        // Wide with two pairs: the interval includes 0.
        assert!(c.is_noise());
    }

    #[test]
    fn paired_needs_two_positive_pairs() {
        assert!(paired(&[1.0], &[2.0]).is_none());
        assert!(paired(&[1.0, 2.0], &[2.0]).is_none());
        assert!(paired(&[1.0, 0.0], &[2.0, 1.0]).is_none());
    }

    #[test]
    fn welch_matches_a_hand_computation() {
        // logs of base: 0, ln 2 (mean ln2/2, var (ln2)^2/2); new identical spread, shifted ×3.
        let c = welch(&[1.0, 2.0], &[3.0, 6.0]).unwrap();
        assert!(close(c.percent(), 200.0, 1e-9));
        let l2 = 2f64.ln();
        let se = (2.0 * (l2 * l2 / 2.0) / 2.0).sqrt();
        // Equal variances and sizes: df = n1 + n2 - 2 = 2, t = 4.303.
        let Method::Welch { df, .. } = c.method else {
            panic!("{c:?}")
        };
        assert!(close(df, 2.0, 1e-9));
        assert!(close(c.low, (3f64.ln() - 4.3027 * se).exp(), 1e-3), "{c:?}");
        assert!(
            close(c.high, (3f64.ln() + 4.3027 * se).exp(), 1e-2),
            "{c:?}"
        );
    }

    #[test]
    fn welch_without_spread_is_a_point() {
        let c = welch(&[5.0, 5.0], &[5.0, 5.0, 5.0]).unwrap();
        assert_eq!((c.low, c.ratio, c.high), (1.0, 1.0, 1.0));
        assert!(c.is_noise());
        assert!(welch(&[5.0], &[5.0, 5.0]).is_none());
    }

    fn seconds(tps: &[f64], lat: f64) -> Vec<Figures> {
        tps.iter()
            .enumerate()
            .map(|(i, t)| {
                let wobble = 1.0 + 0.02 * ((i % 5) as f64 - 2.0);
                Figures::new(*t, lat * wobble, lat * 0.9 * wobble, lat * 3.0 * wobble)
            })
            .collect()
    }

    fn mean_of(xs: &[Figures]) -> Figures {
        let m = |k| xs.iter().map(|f: &Figures| f.get(k)).sum::<f64>() / xs.len() as f64;
        Figures::new(
            m(Metric::Tps),
            m(Metric::Mean),
            m(Metric::P50),
            m(Metric::P99),
        )
    }

    #[test]
    fn bootstrap_of_identical_runs_is_centred_on_zero() {
        let s = seconds(&[1000.0, 1040.0, 980.0, 1010.0, 995.0, 1020.0, 970.0], 5.0);
        let side = Sampled {
            point: mean_of(&s),
            seconds: &s,
        };
        for c in bootstrap(side, side, Bootstrap::default()).unwrap() {
            assert_eq!(c.percent(), 0.0);
            assert!(c.low_percent() < 0.0 && c.high_percent() > 0.0, "{c:?}");
            assert!(c.high_percent() < 5.0 && c.low_percent() > -5.0, "{c:?}");
            assert!(c.is_noise());
        }
    }

    #[test]
    fn bootstrap_sees_a_twofold_slowdown() {
        let base = seconds(&[1000.0, 1040.0, 980.0, 1010.0, 995.0, 1020.0, 970.0], 5.0);
        let new: Vec<Figures> = base
            .iter()
            .map(|f| {
                Figures::new(
                    f.get(Metric::Tps) / 2.0,
                    f.get(Metric::Mean) * 2.0,
                    f.get(Metric::P50) * 2.0,
                    f.get(Metric::P99) * 2.0,
                )
            })
            .collect();
        let changes = bootstrap(
            Sampled {
                point: mean_of(&base),
                seconds: &base,
            },
            Sampled {
                point: mean_of(&new),
                seconds: &new,
            },
            Bootstrap::default(),
        )
        .unwrap();
        let [tps, mean_lat, p50, p99] = changes;
        assert!(close(tps.percent(), -50.0, 1e-9));
        assert_eq!(tps.beyond(5.0), Some(Direction::Down));
        for c in [mean_lat, p50, p99] {
            assert!(close(c.percent(), 100.0, 1e-9), "{c:?}");
            assert!(c.low_percent() > 80.0 && c.high_percent() < 120.0, "{c:?}");
            assert_eq!(c.beyond(5.0), Some(Direction::Up));
        }
        assert_eq!(
            tps.method,
            Method::Bootstrap {
                base_seconds: 7,
                new_seconds: 7
            }
        );
    }

    #[test]
    fn bootstrap_is_deterministic_and_centred_on_the_overall_figures() {
        let base = seconds(&[1000.0, 1100.0, 900.0, 1050.0], 4.0);
        let new = seconds(&[800.0, 850.0, 790.0, 900.0], 5.0);
        let bp = Figures::new(1000.0, 4.0, 3.6, 20.0);
        let np = Figures::new(800.0, 5.0, 4.5, 30.0);
        let run = || {
            bootstrap(
                Sampled {
                    point: bp,
                    seconds: &base,
                },
                Sampled {
                    point: np,
                    seconds: &new,
                },
                Bootstrap::default(),
            )
            .unwrap()
        };
        let (a, b) = (run(), run());
        assert_eq!(a, b);
        // p99's point comes from the overall figures (30/20), not from the seconds (5/4).
        let p99 = a[3];
        assert!(close(p99.percent(), 50.0, 1e-9));
        assert!(p99.low <= p99.ratio && p99.ratio <= p99.high, "{p99:?}");
    }

    #[test]
    fn bootstrap_needs_two_seconds_a_side() {
        let one = seconds(&[1000.0], 4.0);
        let two = seconds(&[1000.0, 1010.0], 4.0);
        let point = Figures::new(1000.0, 4.0, 3.6, 12.0);
        let (one, two) = (
            Sampled {
                point,
                seconds: &one,
            },
            Sampled {
                point,
                seconds: &two,
            },
        );
        assert!(bootstrap(one, two, Bootstrap::default()).is_none());
        assert!(bootstrap(two, two, Bootstrap::default()).is_some());
    }

    #[test]
    fn quantiles_interpolate() {
        let xs = [1.0, 2.0, 3.0, 4.0, 5.0];
        assert_eq!(quantile(&xs, 0.0), 1.0);
        assert_eq!(quantile(&xs, 0.5), 3.0);
        assert_eq!(quantile(&xs, 0.125), 1.5);
        assert_eq!(quantile(&xs, 1.0), 5.0);
    }

    #[test]
    fn a_change_counts_only_beyond_the_threshold() {
        let c = |low, high| Change {
            ratio: (low + high) / 2.0,
            low,
            high,
            method: Method::Paired { pairs: 2 },
        };
        assert_eq!(c(1.06, 1.2).beyond(5.0), Some(Direction::Up));
        assert_eq!(c(1.04, 1.2).beyond(5.0), None);
        assert!(!c(1.04, 1.2).is_noise());
        assert_eq!(c(0.8, 0.94).beyond(5.0), Some(Direction::Down));
        assert_eq!(c(0.8, 0.96).beyond(5.0), None);
        assert!(c(0.9, 1.1).is_noise());
    }

    #[test]
    fn geometric_mean_of_figures() {
        let g = Figures::geometric_mean(&[
            Figures::new(100.0, 1.0, 1.0, 2.0),
            Figures::new(400.0, 4.0, 1.0, 8.0),
        ])
        .unwrap();
        assert!(close(g.get(Metric::Tps), 200.0, 1e-9));
        assert!(close(g.get(Metric::Mean), 2.0, 1e-12));
        assert!(close(g.get(Metric::P99), 4.0, 1e-12));
        assert!(Figures::geometric_mean(&[]).is_none());
    }
}
