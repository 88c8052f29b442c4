//! Latency statistics: one `Stats` per client per interval, merged into per-second ticks and a
//! total. Latencies are microseconds in an auto-resizing HdrHistogram with 3 significant digits;
//! mean and standard deviation come from exact sums, not from the histogram's buckets.

use std::collections::BTreeMap;

use base64::Engine as _;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::{Deserializer, Serializer, V2DeflateSerializer};
use serde::{Deserialize, Serialize};

/// Significant digits of every latency histogram.
pub const SIGFIG: u8 = 3;

/// Why a transaction failed: its SQLSTATE, or that the connection was lost without one.
pub const CONNECTION_LOST: &str = "connection";

pub fn new_histogram() -> Histogram<u64> {
    // Auto-resizing: an outlier grows the histogram instead of failing.
    Histogram::new(SIGFIG).expect("3 significant digits is a valid precision")
}

/// Latencies and failures of successful and failed transactions over some span of time.
/// `hist` is the latency a user sees: from the first statement sent, or at a fixed rate
/// (`-R`) from the scheduled start. At a fixed rate, `service` (from the actual start) and
/// `lag` (how late the start was) are kept too.
#[derive(Debug, Clone)]
pub struct Stats {
    pub hist: Histogram<u64>,
    sum_us: f64,
    sum_sq_us: f64,
    pub failures: BTreeMap<String, u64>,
    pub service: Histogram<u64>,
    pub lag: Histogram<u64>,
    lag_sum_us: f64,
    /// Transactions not sent because they were already later than `--latency-limit`.
    pub skipped: u64,
    /// Transactions that completed later than `--latency-limit`.
    pub late: u64,
    /// Transactions run more than once (`--max-tries`), and the extra runs in all.
    pub retried: u64,
    pub retries: u64,
}

impl Default for Stats {
    fn default() -> Self {
        Stats {
            hist: new_histogram(),
            sum_us: 0.0,
            sum_sq_us: 0.0,
            failures: BTreeMap::new(),
            service: new_histogram(),
            lag: new_histogram(),
            lag_sum_us: 0.0,
            skipped: 0,
            late: 0,
            retried: 0,
            retries: 0,
        }
    }
}

/// Records into an auto-resizing histogram; only a value beyond any resize is clamped.
fn record_into(h: &mut Histogram<u64>, v: u64) {
    if h.record(v).is_err() {
        h.saturating_record(v);
    }
}

impl Stats {
    pub fn record(&mut self, latency_us: u64) {
        record_into(&mut self.hist, latency_us);
        let v = latency_us as f64;
        self.sum_us += v;
        self.sum_sq_us += v * v;
    }

    /// A transaction of a fixed-rate run: latency from its scheduled start, its service time
    /// from its actual start, and the lag between the two.
    pub fn record_paced(&mut self, latency_us: u64, service_us: u64, lag_us: u64) {
        self.record(latency_us);
        record_into(&mut self.service, service_us);
        record_into(&mut self.lag, lag_us);
        self.lag_sum_us += lag_us as f64;
    }

    /// A transaction that needed `tries` runs.
    pub fn record_tries(&mut self, tries: u32) {
        if tries > 1 {
            self.retried += 1;
            self.retries += u64::from(tries - 1);
        }
    }

    /// Mean schedule lag (µs) of a fixed-rate run's transactions.
    pub fn lag_mean_us(&self) -> Option<f64> {
        let n = self.lag.len();
        (n > 0).then(|| self.lag_sum_us / n as f64)
    }

    pub fn record_failure(&mut self, kind: &str) {
        match self.failures.get_mut(kind) {
            Some(n) => *n += 1,
            None => {
                self.failures.insert(kind.to_string(), 1);
            }
        }
    }

    pub fn merge(&mut self, other: &Stats) {
        self.hist
            .add(&other.hist)
            .expect("auto-resizing histograms of equal precision always merge");
        self.sum_us += other.sum_us;
        self.sum_sq_us += other.sum_sq_us;
        for (kind, n) in &other.failures {
            *self.failures.entry(kind.clone()).or_default() += n;
        }
        if !other.lag.is_empty() {
            self.service
                .add(&other.service)
                .expect("auto-resizing histograms of equal precision always merge");
            self.lag
                .add(&other.lag)
                .expect("auto-resizing histograms of equal precision always merge");
        }
        self.lag_sum_us += other.lag_sum_us;
        self.skipped += other.skipped;
        self.late += other.late;
        self.retried += other.retried;
        self.retries += other.retries;
    }

    /// Empties the stats, keeping the histogram's allocation.
    pub fn clear(&mut self) {
        self.hist.reset();
        self.sum_us = 0.0;
        self.sum_sq_us = 0.0;
        self.failures.clear();
        self.service.reset();
        self.lag.reset();
        self.lag_sum_us = 0.0;
        self.skipped = 0;
        self.late = 0;
        self.retried = 0;
        self.retries = 0;
    }

    pub fn transactions(&self) -> u64 {
        self.hist.len()
    }

    pub fn failed(&self) -> u64 {
        self.failures.values().sum()
    }

    pub fn mean_us(&self) -> Option<f64> {
        let n = self.transactions();
        (n > 0).then(|| self.sum_us / n as f64)
    }

    /// Population standard deviation, as pgbench reports it.
    pub fn stddev_us(&self) -> Option<f64> {
        let n = self.transactions() as f64;
        self.mean_us()
            .map(|mean| (self.sum_sq_us / n - mean * mean).max(0.0).sqrt())
    }

    pub fn latency(&self) -> Option<LatencySummary> {
        summarize(&self.hist, self.mean_us()?, self.stddev_us()?)
    }

    /// At a fixed rate, the service time's figures (mean and deviation from its histogram:
    /// the exact sums are kept for the latency users see).
    pub fn service_latency(&self) -> Option<LatencySummary> {
        let h = &self.service;
        if h.is_empty() {
            return None;
        }
        summarize(h, h.mean(), h.stdev())
    }
}

/// Latency figures of a histogram, with a mean and deviation worked out elsewhere (exactly).
pub fn summarize(h: &Histogram<u64>, mean_us: f64, stddev_us: f64) -> Option<LatencySummary> {
    let ms = |us: u64| us as f64 / 1000.0;
    Some(LatencySummary {
        mean: mean_us / 1000.0,
        stddev: stddev_us / 1000.0,
        min: ms(h.min()),
        p50: ms(h.value_at_quantile(0.50)),
        p90: ms(h.value_at_quantile(0.90)),
        p95: ms(h.value_at_quantile(0.95)),
        p99: ms(h.value_at_quantile(0.99)),
        p99_9: ms(h.value_at_quantile(0.999)),
        max: ms(h.max()),
    })
}

/// Latency figures in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LatencySummary {
    pub mean: f64,
    pub stddev: f64,
    pub min: f64,
    pub p50: f64,
    pub p90: f64,
    pub p95: f64,
    pub p99: f64,
    pub p99_9: f64,
    pub max: f64,
}

/// One interval of the per-second timeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimelinePoint {
    /// End of the interval, seconds since measurement started.
    pub t: f64,
    /// Length of the interval in seconds (the last one may be shorter or longer than 1).
    pub duration: f64,
    pub transactions: u64,
    pub failed: u64,
    pub tps: f64,
    /// Latency in milliseconds; absent when no transaction completed in the interval.
    pub latency: Option<IntervalLatency>,
    /// Transactions skipped for `--latency-limit` (fixed rate only).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub skipped: u64,
    /// Mean schedule lag in milliseconds (fixed rate only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lag_mean: Option<f64>,
    /// The interval's latency histogram (HdrHistogram V2 + DEFLATE, base64, µs), kept by a
    /// generator (`--generator`) so that `merge` recomputes each second's percentiles.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub histogram: Option<String>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct IntervalLatency {
    pub mean: f64,
    pub p50: f64,
    pub p99: f64,
    pub max: f64,
}

impl Stats {
    pub fn timeline_point(&self, end: f64, duration: f64) -> TimelinePoint {
        let n = self.transactions();
        TimelinePoint {
            t: end,
            duration,
            transactions: n,
            failed: self.failed(),
            tps: if duration > 0.0 {
                n as f64 / duration
            } else {
                0.0
            },
            latency: self.latency().map(|l| IntervalLatency {
                mean: l.mean,
                p50: l.p50,
                p99: l.p99,
                max: l.max,
            }),
            skipped: self.skipped,
            lag_mean: self.lag_mean_us().map(|us| us / 1000.0),
            histogram: None,
        }
    }
}

/// Serializes a histogram as V2 + DEFLATE, base64: the "compressed" form HdrHistogram's
/// implementations in other languages decode.
pub fn encode_histogram(h: &Histogram<u64>) -> String {
    let mut bytes = Vec::new();
    V2DeflateSerializer::new()
        .serialize(h, &mut bytes)
        .expect("serializing into memory cannot fail");
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("histogram is not valid base64: {0}")]
    Base64(#[from] base64::DecodeError),
    #[error("histogram is not a valid HdrHistogram V2 encoding: {0:?}")]
    Hdr(hdrhistogram::serialization::DeserializeError),
}

pub fn decode_histogram(text: &str) -> Result<Histogram<u64>, DecodeError> {
    let bytes = base64::engine::general_purpose::STANDARD.decode(text.trim())?;
    let mut h: Histogram<u64> = Deserializer::new()
        .deserialize(&mut bytes.as_slice())
        .map_err(DecodeError::Hdr)?;
    h.auto(true);
    Ok(h)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats_of(values: &[u64]) -> Stats {
        let mut s = Stats::default();
        for &v in values {
            s.record(v);
        }
        s
    }

    #[test]
    fn mean_and_stddev_are_exact() {
        let s = stats_of(&[1000, 2000, 3000, 4000]);
        assert_eq!(s.mean_us(), Some(2500.0));
        // population stddev of 1,2,3,4 ms is sqrt(1.25) ms
        assert!((s.stddev_us().unwrap() - 1250f64.sqrt() * 1000f64.sqrt()).abs() < 1e-6);
    }

    #[test]
    fn empty_stats_have_no_latency() {
        assert!(Stats::default().latency().is_none());
    }

    #[test]
    fn merge_adds_counts_sums_and_failures() {
        let mut a = stats_of(&[100, 200]);
        a.record_failure("40001");
        let mut b = stats_of(&[300]);
        b.record_failure("40001");
        b.record_failure(CONNECTION_LOST);
        a.merge(&b);
        assert_eq!(a.transactions(), 3);
        assert_eq!(a.mean_us(), Some(200.0));
        assert_eq!(a.failures["40001"], 2);
        assert_eq!(a.failures[CONNECTION_LOST], 1);
        assert_eq!(a.failed(), 3);
        assert_eq!(a.hist.max(), 300);
    }

    #[test]
    fn an_outlier_grows_the_histogram_instead_of_failing() {
        let mut s = stats_of(&[50]);
        s.record(3_600_000_000); // one hour
        s.record(u64::MAX);
        assert_eq!(s.transactions(), 3);
        assert!(s.hist.max() >= 3_600_000_000);
    }

    #[test]
    fn percentiles_are_within_three_significant_digits() {
        let values: Vec<u64> = (1..=10_000).collect();
        let l = stats_of(&values).latency().unwrap();
        assert!((l.p50 - 5.0).abs() / 5.0 < 0.001, "p50 {}", l.p50);
        assert!((l.p99 - 9.9).abs() / 9.9 < 0.001, "p99 {}", l.p99);
        assert!((l.max - 10.0).abs() / 10.0 < 0.001);
        assert_eq!(l.min, 0.001);
    }

    #[test]
    fn histogram_round_trips_through_base64_v2_deflate() {
        let s = stats_of(&[10, 20, 30, 1_000_000]);
        let text = encode_histogram(&s.hist);
        let back = decode_histogram(&text).unwrap();
        assert_eq!(back, s.hist);
        // V2 compressed cookie 0x1c849304, as base64 of its first bytes
        assert!(text.starts_with("HISTF"), "{text}");
    }

    #[test]
    fn garbage_is_not_a_histogram() {
        assert!(decode_histogram("not base64!").is_err());
        assert!(decode_histogram("AAAA").is_err());
    }
}
