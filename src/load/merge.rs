//! Several load generators' results of one run, combined exactly (`pgsyncbench merge`): the
//! histograms added, each second's intervals aligned on wall time and their histograms added,
//! counts and TPS summed, every percentile recomputed from a merged histogram (never averaged),
//! means and deviations combined from the parts' exact ones. Inputs that did not run together
//! against the same target under the same mode are refused.
//!
//! Owns the combination and its checks; reading files and printing belong to the command.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;

use crate::load::metrics::{self, IntervalLatency, LatencySummary, TimelinePoint};
use crate::load::run_result::{EncodedHistogram, LagSummary, RunResult, SCHEMA_VERSION};

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum MergeError {
    #[error("give at least two generators' results to merge")]
    TooFew,
    #[error(
        "{input} was not run with --generator NAME: its result lacks the per-second histograms a merge needs"
    )]
    NoGenerator { input: String },
    #[error(
        "{first} and {second} both come from generator '{name}': each generator must have its own name"
    )]
    SameGenerator {
        name: String,
        first: String,
        second: String,
    },
    #[error("{input} does not belong with {first}: {what} differs ({theirs} vs {ours})")]
    Differs {
        input: String,
        first: String,
        what: &'static str,
        ours: String,
        theirs: String,
    },
    #[error(
        "{input} did not run together with {first}: it started {gap:.1} s apart, longer than the run"
    )]
    NotTogether {
        input: String,
        first: String,
        gap: f64,
    },
    #[error("{input} holds a histogram that does not decode: {reason}")]
    Histogram { input: String, reason: String },
}

/// One generator's result and the name it is known by (its file).
pub struct Input {
    pub name: String,
    pub result: RunResult,
}

pub fn merge(inputs: &[Input]) -> Result<RunResult, MergeError> {
    let [first, rest @ ..] = inputs else {
        return Err(MergeError::TooFew);
    };
    if rest.is_empty() {
        return Err(MergeError::TooFew);
    }
    check_together(first, inputs)?;
    let starts: Vec<f64> = inputs.iter().map(|i| started_secs(&i.result)).collect();
    let t0 = starts.iter().copied().fold(f64::INFINITY, f64::min);

    let decode = |input: &Input, text: &str| {
        metrics::decode_histogram(text).map_err(|e| MergeError::Histogram {
            input: input.name.clone(),
            reason: e.to_string(),
        })
    };
    let mut hist = metrics::new_histogram();
    let mut service = metrics::new_histogram();
    let mut lag = metrics::new_histogram();
    let mut seconds: BTreeMap<i64, Second> = BTreeMap::new();
    for (input, start) in inputs.iter().zip(&starts) {
        let r = &input.result;
        add(&mut hist, &decode(input, &r.histogram.data)?);
        if let Some(h) = &r.service_histogram {
            add(&mut service, &decode(input, &h.data)?);
        }
        if let Some(h) = &r.lag_histogram {
            add(&mut lag, &decode(input, &h.data)?);
        }
        for p in &r.timeline {
            let Some(text) = &p.histogram else {
                return Err(MergeError::NoGenerator {
                    input: input.name.clone(),
                });
            };
            // The interval's end on the wall clock, in whole seconds from the first start.
            let k = (start + p.t - t0).round() as i64;
            seconds
                .entry(k)
                .or_insert_with(Second::new)
                .add(p, &decode(input, text)?);
        }
    }

    let results: Vec<&RunResult> = inputs.iter().map(|i| &i.result).collect();
    let mut merged = first.result.clone();
    merged.schema_version = SCHEMA_VERSION;
    merged.started_at = earliest_start(&results);
    merged.target.sync_standby_attached = all_attached(&results);
    merged.session_synchronous_commit =
        sum_maps(results.iter().map(|r| &r.session_synchronous_commit));
    merged.failures = sum_maps(results.iter().map(|r| &r.failures));

    let o = &mut merged.options;
    o.clients = results.iter().map(|r| r.options.clients).sum();
    o.threads = results.iter().map(|r| r.options.threads).sum();
    o.rate = results.iter().map(|r| r.options.rate).sum();
    o.generator = None;
    o.merged_from = inputs
        .iter()
        .filter_map(|i| i.result.options.generator.clone())
        .collect();

    let s = &mut merged.summary;
    let sum = |f: fn(&RunResult) -> u64| results.iter().map(|r| f(r)).sum::<u64>();
    s.transactions = sum(|r| r.summary.transactions);
    s.failed = sum(|r| r.summary.failed);
    s.skipped = sum(|r| r.summary.skipped);
    s.late = sum(|r| r.summary.late);
    s.retried = sum(|r| r.summary.retried);
    s.retries = sum(|r| r.summary.retries);
    s.clients_lost = results.iter().map(|r| r.summary.clients_lost).sum();
    s.clients_aborted = results.iter().map(|r| r.summary.clients_aborted).sum();
    s.abandoned = results.iter().map(|r| r.summary.abandoned).sum();
    s.interrupted = results.iter().any(|r| r.summary.interrupted);
    s.tps = results.iter().map(|r| r.summary.tps).sum();
    s.connection_time_ms = results
        .iter()
        .map(|r| r.summary.connection_time_ms)
        .fold(0.0, f64::max);
    let end = results
        .iter()
        .zip(&starts)
        .map(|(r, start)| start + r.summary.measured_seconds)
        .fold(f64::NEG_INFINITY, f64::max);
    s.measured_seconds = end - t0;
    s.latency_ms = latency(&hist, &results);
    s.service_latency_ms = (!service.is_empty())
        .then(|| metrics::summarize(&service, service.mean(), service.stdev()))
        .flatten();
    s.schedule_lag_ms = lag_summary(&lag, &results);

    merged.timeline = seconds.into_iter().map(|(k, s)| s.point(k)).collect();
    merged.histogram = EncodedHistogram::of(&hist);
    merged.service_histogram = (!service.is_empty()).then(|| EncodedHistogram::of(&service));
    merged.lag_histogram = (!lag.is_empty()).then(|| EncodedHistogram::of(&lag));
    Ok(merged)
}

/// The inputs ran together: generators named and distinct, one target, one mode, one load.
fn check_together(first: &Input, inputs: &[Input]) -> Result<(), MergeError> {
    let mut names: BTreeMap<&str, &str> = BTreeMap::new();
    let f = &first.result;
    for input in inputs {
        let r = &input.result;
        let Some(name) = r.options.generator.as_deref() else {
            return Err(MergeError::NoGenerator {
                input: input.name.clone(),
            });
        };
        if let Some(other) = names.insert(name, &input.name) {
            return Err(MergeError::SameGenerator {
                name: name.to_string(),
                first: other.to_string(),
                second: input.name.clone(),
            });
        }
        let differs = |what: &'static str, ours: String, theirs: String| {
            (ours != theirs).then(|| MergeError::Differs {
                input: input.name.clone(),
                first: first.name.clone(),
                what,
                ours,
                theirs,
            })
        };
        let target = |r: &RunResult| {
            r.target
                .patroni
                .clone()
                .unwrap_or(r.target.connection.clone())
        };
        let workload = |r: &RunResult| {
            format!(
                "{:?} {:?}",
                r.options.builtin,
                r.options
                    .scripts
                    .iter()
                    .map(|s| (&s.name, s.weight))
                    .collect::<Vec<_>>()
            )
        };
        let length = |r: &RunResult| {
            format!(
                "-T {:?} -t {:?} warmup {}",
                r.options.duration, r.options.transactions_per_client, r.options.warmup
            )
        };
        let checks = [
            differs("the target", target(f), target(r)),
            differs(
                "synchronous_commit",
                f.target.synchronous_commit.clone(),
                r.target.synchronous_commit.clone(),
            ),
            differs("the workload", workload(f), workload(r)),
            differs(
                "the query protocol",
                f.options.protocol.as_str().into(),
                r.options.protocol.as_str().into(),
            ),
            differs("the length of the run", length(f), length(r)),
            differs(
                "the latency limit",
                format!("{:?}", f.options.latency_limit_ms),
                format!("{:?}", r.options.latency_limit_ms),
            ),
            differs(
                "fixed rate or not",
                f.options.rate.is_some().to_string(),
                r.options.rate.is_some().to_string(),
            ),
        ];
        if let Some(e) = checks.into_iter().flatten().next() {
            return Err(e);
        }
        let gap = (started_secs(r) - started_secs(f)).abs();
        if gap > f.summary.measured_seconds.max(1.0) {
            return Err(MergeError::NotTogether {
                input: input.name.clone(),
                first: first.name.clone(),
                gap,
            });
        }
    }
    Ok(())
}

/// One wall-clock second over every generator.
struct Second {
    hist: Histogram<u64>,
    transactions: u64,
    failed: u64,
    skipped: u64,
    tps: f64,
    duration: f64,
    latency_sum_ms: f64,
    lag_sum_ms: f64,
    lag_n: u64,
}

impl Second {
    fn new() -> Second {
        Second {
            hist: metrics::new_histogram(),
            transactions: 0,
            failed: 0,
            skipped: 0,
            tps: 0.0,
            duration: 0.0,
            latency_sum_ms: 0.0,
            lag_sum_ms: 0.0,
            lag_n: 0,
        }
    }

    fn add(&mut self, p: &TimelinePoint, h: &Histogram<u64>) {
        add(&mut self.hist, h);
        self.transactions += p.transactions;
        self.failed += p.failed;
        self.skipped += p.skipped;
        self.tps += p.tps;
        self.duration = self.duration.max(p.duration);
        if let Some(l) = &p.latency {
            self.latency_sum_ms += l.mean * p.transactions as f64;
        }
        if let Some(lag) = p.lag_mean {
            self.lag_sum_ms += lag * p.transactions as f64;
            self.lag_n += p.transactions;
        }
    }

    fn point(self, k: i64) -> TimelinePoint {
        let h = &self.hist;
        let ms = |us: u64| us as f64 / 1000.0;
        let n = self.transactions;
        TimelinePoint {
            t: k as f64,
            duration: self.duration,
            transactions: n,
            failed: self.failed,
            tps: self.tps,
            latency: (n > 0 && !h.is_empty()).then(|| IntervalLatency {
                mean: self.latency_sum_ms / n as f64,
                p50: ms(h.value_at_quantile(0.5)),
                p99: ms(h.value_at_quantile(0.99)),
                max: ms(h.max()),
            }),
            skipped: self.skipped,
            lag_mean: (self.lag_n > 0).then(|| self.lag_sum_ms / self.lag_n as f64),
            histogram: Some(metrics::encode_histogram(h)),
        }
    }
}

fn add(into: &mut Histogram<u64>, h: &Histogram<u64>) {
    into.add(h)
        .expect("auto-resizing histograms of equal precision always merge");
}

/// Mean and standard deviation of the whole from the parts' exact ones; percentiles from the
/// merged histogram.
fn latency(h: &Histogram<u64>, results: &[&RunResult]) -> Option<LatencySummary> {
    let parts: Vec<(f64, LatencySummary)> = results
        .iter()
        .filter_map(|r| Some((r.summary.transactions as f64, r.summary.latency_ms?)))
        .collect();
    let n: f64 = parts.iter().map(|(n, _)| n).sum();
    if n == 0.0 || h.is_empty() {
        return None;
    }
    let mean = parts.iter().map(|(k, l)| k * l.mean).sum::<f64>() / n;
    let square = parts
        .iter()
        .map(|(k, l)| k * (l.stddev * l.stddev + l.mean * l.mean))
        .sum::<f64>()
        / n;
    let stddev = (square - mean * mean).max(0.0).sqrt();
    metrics::summarize(h, mean * 1000.0, stddev * 1000.0)
}

fn lag_summary(h: &Histogram<u64>, results: &[&RunResult]) -> Option<LagSummary> {
    let parts: Vec<(f64, f64)> = results
        .iter()
        .filter_map(|r| {
            Some((
                r.summary.transactions as f64,
                r.summary.schedule_lag_ms?.mean,
            ))
        })
        .collect();
    let n: f64 = parts.iter().map(|(n, _)| n).sum();
    if h.is_empty() || n == 0.0 {
        return None;
    }
    let ms = |us: u64| us as f64 / 1000.0;
    Some(LagSummary {
        mean: parts.iter().map(|(k, m)| k * m).sum::<f64>() / n,
        p50: ms(h.value_at_quantile(0.5)),
        p99: ms(h.value_at_quantile(0.99)),
        max: ms(h.max()),
    })
}

fn started_secs(r: &RunResult) -> f64 {
    humantime::parse_rfc3339_weak(&r.started_at)
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0.0, |d| d.as_secs_f64())
}

fn earliest_start(results: &[&RunResult]) -> String {
    results
        .iter()
        .min_by(|a, b| started_secs(a).total_cmp(&started_secs(b)))
        .map(|r| r.started_at.clone())
        .unwrap_or_default()
}

/// Attached only if every generator saw a synchronous standby; unknown if any could not tell.
fn all_attached(results: &[&RunResult]) -> Option<bool> {
    results
        .iter()
        .map(|r| r.target.sync_standby_attached)
        .try_fold(true, |all, a| a.map(|a| all && a))
}

fn sum_maps<'a>(maps: impl Iterator<Item = &'a BTreeMap<String, u64>>) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for m in maps {
        for (k, v) in m {
            *out.entry(k.clone()).or_default() += v;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::engine::Outcome;
    use crate::load::metrics::Stats;
    use crate::load::run_result::{RunOptions, TargetInfo};
    use crate::load::workload::Builtin;
    use std::time::{Duration, UNIX_EPOCH};

    /// A generator's result: `seconds` intervals of latencies `base + i` µs, starting at
    /// `start_ms` after the epoch.
    fn generator(name: &str, start_ms: u64, base: u64, per_second: u64, seconds: u64) -> Input {
        let mut total = Stats::default();
        let mut timeline = Vec::new();
        for s in 0..seconds {
            let mut tick = Stats::default();
            for i in 0..per_second {
                tick.record(base + s * 10 + i);
            }
            let mut p = tick.timeline_point((s + 1) as f64, 1.0);
            p.histogram = Some(metrics::encode_histogram(&tick.hist));
            timeline.push(p);
            total.merge(&tick);
        }
        let outcome = Outcome {
            total,
            timeline,
            measured: Duration::from_secs(seconds),
            connection_time: Duration::from_millis(5),
            started_at: UNIX_EPOCH + Duration::from_millis(start_ms),
            interrupted: false,
            clients_lost: 0,
            clients_aborted: 0,
            abandoned: 0,
            reconnects: 0,
            ledgers: Vec::new(),
            session_synchronous_commit: BTreeMap::from([("on".to_string(), 2)]),
        };
        let options = RunOptions {
            clients: 2,
            duration: Some(seconds),
            generator: Some(name.into()),
            ..RunOptions::builtin(Builtin::TpcbLike)
        };
        let target = TargetInfo {
            connection: "host=db port=5432 user=u dbname=d".into(),
            patroni: Some("http://db:8008".into()),
            leader: Some("node1".into()),
            server_version: "15".into(),
            synchronous_commit: "on".into(),
            synchronous_standby_names: "*".into(),
            sync_standby_attached: Some(true),
        };
        Input {
            name: format!("{name}.json"),
            result: RunResult::new(options, target, &outcome),
        }
    }

    #[test]
    fn merged_figures_are_those_of_all_transactions_together() {
        let a = generator("a", 1_000_000, 1000, 100, 3);
        let b = generator("b", 1_000_040, 5000, 50, 3);
        let m = merge(&[a, b]).unwrap();
        assert_eq!(m.summary.transactions, 450);
        assert_eq!(m.options.clients, 4);
        assert_eq!(m.options.merged_from, ["a", "b"]);
        assert_eq!(m.session_synchronous_commit["on"], 4);
        // One histogram and exact sums of every latency, built directly.
        let mut all = Stats::default();
        for (base, n) in [(1000, 100), (5000, 50)] {
            for s in 0..3 {
                for i in 0..n {
                    all.record(base + s * 10 + i);
                }
            }
        }
        let want = all.latency().unwrap();
        let got = m.summary.latency_ms.unwrap();
        assert_eq!(
            (got.p50, got.p99, got.max, got.min),
            (want.p50, want.p99, want.max, want.min)
        );
        assert!((got.mean - want.mean).abs() < 1e-9 && (got.stddev - want.stddev).abs() < 1e-9);
        // Seconds aligned on the wall clock (40 ms apart), each with both generators' share.
        assert_eq!(m.timeline.len(), 3);
        for (k, p) in m.timeline.iter().enumerate() {
            assert_eq!(p.t, (k + 1) as f64);
            assert_eq!(p.transactions, 150);
            assert_eq!(p.tps, 150.0);
            let mut second = Stats::default();
            for (base, n) in [(1000u64, 100u64), (5000, 50)] {
                for i in 0..n {
                    second.record(base + k as u64 * 10 + i);
                }
            }
            let l = p.latency.unwrap();
            let w = second.latency().unwrap();
            assert_eq!((l.p50, l.p99, l.max), (w.p50, w.p99, w.max));
            assert!((l.mean - w.mean).abs() < 1e-9);
        }
        assert_eq!(m.summary.tps, 150.0);
    }

    #[test]
    fn results_that_do_not_belong_together_are_refused() {
        let a = || generator("a", 1_000_000, 1000, 10, 2);
        assert_eq!(merge(&[a()]), Err(MergeError::TooFew));
        let e = merge(&[a(), a()]).unwrap_err();
        assert!(matches!(e, MergeError::SameGenerator { .. }), "{e}");
        let mut other_mode = generator("b", 1_000_000, 1000, 10, 2);
        other_mode.result.target.synchronous_commit = "local".into();
        let e = merge(&[a(), other_mode]).unwrap_err().to_string();
        assert!(
            e.contains("synchronous_commit differs (local vs on)"),
            "{e}"
        );
        let mut other_target = generator("b", 1_000_000, 1000, 10, 2);
        other_target.result.target.patroni = Some("http://elsewhere:8008".into());
        assert!(
            merge(&[a(), other_target])
                .unwrap_err()
                .to_string()
                .contains("the target differs")
        );
        let later = generator("b", 1_010_000, 1000, 10, 2);
        assert!(matches!(
            merge(&[a(), later]).unwrap_err(),
            MergeError::NotTogether { .. }
        ));
        let mut unnamed = generator("b", 1_000_000, 1000, 10, 2);
        unnamed.result.options.generator = None;
        assert!(matches!(
            merge(&[a(), unnamed]).unwrap_err(),
            MergeError::NoGenerator { .. }
        ));
    }
}
