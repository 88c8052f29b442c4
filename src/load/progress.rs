//! What a run shows while it runs: pgbench-style `-P` lines, or a progress bar on a terminal.

use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use crate::load::engine::{Observer, Phase, Tick};
use crate::load::metrics::Stats;

/// `progress: 5.0 s, 1473.2 tps, lat 5.417 ms stddev 1.290, 0 failed`, every `every` seconds.
pub struct ProgressLines {
    every: Duration,
    window: Stats,
    window_len: Duration,
    warmup_transactions: u64,
    out: Box<dyn std::io::Write>,
}

impl ProgressLines {
    pub fn new(every: Duration, out: Box<dyn std::io::Write>) -> ProgressLines {
        ProgressLines {
            every,
            window: Stats::default(),
            window_len: Duration::ZERO,
            warmup_transactions: 0,
            out,
        }
    }
}

impl Observer for ProgressLines {
    fn tick(&mut self, tick: &Tick<'_>) {
        self.window.merge(tick.stats);
        self.window_len += tick.duration;
        self.warmup_transactions += tick.warmup_transactions;
        if self.window_len + Duration::from_millis(50) < self.every {
            return;
        }
        let secs = self.window_len.as_secs_f64().max(1e-9);
        let at = tick.since_start.as_secs_f64();
        let line = if tick.phase == Phase::Warmup {
            format!(
                "progress: {at:.1} s, {:.1} tps (warmup, not measured)",
                self.warmup_transactions as f64 / secs
            )
        } else {
            let tps = self.window.transactions() as f64 / secs;
            let lat = match (self.window.mean_us(), self.window.stddev_us()) {
                (Some(m), Some(sd)) => {
                    format!("lat {:.3} ms stddev {:.3}", m / 1000.0, sd / 1000.0)
                }
                _ => "lat NaN ms stddev NaN".to_string(),
            };
            format!(
                "progress: {at:.1} s, {tps:.1} tps, {lat}, {} failed",
                self.window.failed()
            )
        };
        let _ = writeln!(self.out, "{line}");
        self.window.clear();
        self.window_len = Duration::ZERO;
        self.warmup_transactions = 0;
    }
}

/// A bar over the run's seconds (or transactions with `-t`), with the current rate.
pub struct Bar {
    bar: ProgressBar,
    by_transactions: bool,
}

impl Bar {
    /// `total` is seconds of warmup plus measurement, or the number of transactions with `-t`.
    pub fn new(total: u64, by_transactions: bool) -> Bar {
        let bar = ProgressBar::new(total);
        let unit = if by_transactions { "txns" } else { "s" };
        bar.set_style(
            ProgressStyle::with_template(&format!(
                "{{elapsed_precise}} [{{bar:30}}] {{pos}}/{{len}} {unit}  {{msg}}"
            ))
            .expect("the template is valid")
            .progress_chars("=> "),
        );
        Bar {
            bar,
            by_transactions,
        }
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

impl Observer for Bar {
    fn tick(&mut self, tick: &Tick<'_>) {
        let secs = tick.duration.as_secs_f64().max(1e-9);
        if self.by_transactions {
            self.bar
                .inc(tick.stats.transactions() + tick.stats.failed());
        } else {
            self.bar
                .set_position(tick.since_start.as_secs_f64().round() as u64);
        }
        let msg = match tick.phase {
            Phase::Warmup => format!("{:.0} tps (warmup)", tick.warmup_transactions as f64 / secs),
            Phase::Measure => format!(
                "{:.0} tps, p99 {:.2} ms, {} failed",
                tick.stats.transactions() as f64 / secs,
                tick.stats.hist.value_at_quantile(0.99) as f64 / 1000.0,
                tick.stats.failed()
            ),
        };
        self.bar.set_message(msg);
    }
}
