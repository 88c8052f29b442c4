//! An axis whose tick marks sit exactly at given values (client counts, percentile nines,
//! 1-2-5 latencies), linear or logarithmic. plotters' own numeric axes choose ticks themselves.

use std::ops::Range;

use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};

#[derive(Debug, Clone)]
pub struct TickedAxis {
    range: Range<f64>,
    ticks: Vec<f64>,
    log: bool,
}

impl TickedAxis {
    pub fn linear(range: Range<f64>, ticks: Vec<f64>) -> TickedAxis {
        TickedAxis {
            range,
            ticks,
            log: false,
        }
    }

    /// Positive values only; for values that span a wide ratio (1 to 64 clients, 1 to 200 ms).
    pub fn log(range: Range<f64>, ticks: Vec<f64>) -> TickedAxis {
        TickedAxis {
            range,
            ticks,
            log: true,
        }
    }

    fn position(&self, v: f64) -> f64 {
        if self.log {
            v.max(f64::MIN_POSITIVE).ln()
        } else {
            v
        }
    }

    /// The value `fraction` of the axis length away from `v` (positive: to the right or up).
    pub fn shifted(&self, v: f64, fraction: f64) -> f64 {
        let (a, b) = (
            self.position(self.range.start),
            self.position(self.range.end),
        );
        let p = self.position(v) + fraction * (b - a);
        if self.log { p.exp() } else { p }
    }

    /// Where `v` falls between the range's ends, 0 to 1.
    fn fraction(&self, v: f64) -> f64 {
        let (a, b) = (
            self.position(self.range.start),
            self.position(self.range.end),
        );
        if b == a {
            0.5
        } else {
            (self.position(v) - a) / (b - a)
        }
    }
}

impl Ranged for TickedAxis {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        let span = f64::from(limit.1 - limit.0);
        limit.0 + (self.fraction(*value) * span).round() as i32
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        let max = hint.max_num_points().max(1);
        if self.ticks.len() <= max {
            return self.ticks.clone();
        }
        // Too many to label legibly: keep every k-th, always including the last.
        let step = self.ticks.len().div_ceil(max);
        let mut kept: Vec<f64> = self.ticks.iter().copied().step_by(step).collect();
        let last = *self.ticks.last().expect("ticks is not empty here");
        if kept.last() != Some(&last) {
            kept.pop();
            kept.push(last);
        }
        kept
    }

    fn range(&self) -> Range<f64> {
        self.range.clone()
    }
}

/// Ticks at 1, 2, 5 times powers of ten within `lo..=hi` (for a log axis); with fewer than three
/// of those, every integer multiple of the power instead.
pub fn one_two_five(lo: f64, hi: f64) -> Vec<f64> {
    let within = |mantissas: &[f64]| -> Vec<f64> {
        let (first, last) = (lo.log10().floor() as i32, hi.log10().ceil() as i32);
        (first..=last)
            .flat_map(|e| mantissas.iter().map(move |m| m * 10f64.powi(e)))
            .filter(|v| *v >= lo && *v <= hi)
            .collect()
    };
    let coarse = within(&[1.0, 2.0, 5.0]);
    if coarse.len() >= 3 {
        coarse
    } else {
        within(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_axis_spaces_doublings_evenly() {
        let a = TickedAxis::log(1.0..16.0, vec![1.0, 2.0, 4.0, 8.0, 16.0]);
        let px: Vec<i32> = [1.0, 2.0, 4.0, 8.0, 16.0]
            .iter()
            .map(|v| a.map(v, (0, 400)))
            .collect();
        assert_eq!(px, [0, 100, 200, 300, 400]);
        assert!((a.shifted(2.0, 0.25) - 4.0).abs() < 1e-9);
        let lin = TickedAxis::linear(0.0..10.0, vec![]);
        assert!((lin.shifted(5.0, -0.1) - 4.0).abs() < 1e-9);
    }

    #[test]
    fn one_two_five_ticks_cover_a_range() {
        assert_eq!(
            one_two_five(0.4, 60.0),
            [0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0]
        );
        // A narrow range gets finer steps rather than a single tick.
        assert_eq!(one_two_five(3.5, 9.5), [4.0, 5.0, 6.0, 7.0, 8.0, 9.0]);
    }

    #[test]
    fn ticks_are_exactly_the_given_values_or_a_thinned_subset() {
        let a = TickedAxis::linear(0.0..10.0, (0..=10).map(f64::from).collect());
        assert_eq!(a.key_points(20usize).len(), 11);
        let few = a.key_points(4usize);
        assert!(few.len() <= 4, "{few:?}");
        assert_eq!(few.last(), Some(&10.0));
        assert_eq!(few[0], 0.0);
    }
}
