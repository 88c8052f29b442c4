//! An axis whose tick marks sit exactly at given values (client counts, percentile nines),
//! linear or base-2 logarithmic. plotters' own numeric axes choose "round" ticks instead.

use std::ops::Range;

use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};

#[derive(Debug, Clone)]
pub struct TickedAxis {
    range: Range<f64>,
    ticks: Vec<f64>,
    log2: bool,
}

impl TickedAxis {
    pub fn linear(range: Range<f64>, ticks: Vec<f64>) -> TickedAxis {
        TickedAxis {
            range,
            ticks,
            log2: false,
        }
    }

    /// Positive values only; used when they span a wide ratio (1, 4, 16, 64 clients).
    pub fn log2(range: Range<f64>, ticks: Vec<f64>) -> TickedAxis {
        TickedAxis {
            range,
            ticks,
            log2: true,
        }
    }

    fn position(&self, v: f64) -> f64 {
        if self.log2 {
            v.max(f64::MIN_POSITIVE).log2()
        } else {
            v
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log2_axis_spaces_doublings_evenly() {
        let a = TickedAxis::log2(1.0..16.0, vec![1.0, 2.0, 4.0, 8.0, 16.0]);
        let px: Vec<i32> = [1.0, 2.0, 4.0, 8.0, 16.0]
            .iter()
            .map(|v| a.map(v, (0, 400)))
            .collect();
        assert_eq!(px, [0, 100, 200, 300, 400]);
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
