//! The result of one run, as written to `--json` (schema: schemas/run-result.schema.json).
//! Bump `SCHEMA_VERSION` on any incompatible change.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::load::engine::{EngineConfig, Outcome, StopAfter};
use crate::load::metrics::{self, LatencySummary, TimelinePoint};
use crate::load::workload::{Builtin, Protocol, Scripts, Workload};
use crate::pg::mode::SyncCommit;

/// 2: scripts, fixed rate (`-R`), latency limit and retries; version 1 results still load.
pub const SCHEMA_VERSION: u32 = 2;
pub const SCHEMA_ID: &str = "pgsyncbench/run-result";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    pub schema: String,
    pub schema_version: u32,
    pub tool: Tool,
    /// RFC 3339, when the measured load started.
    pub started_at: String,
    pub target: TargetInfo,
    /// Benchmark sessions by the synchronous_commit each reported after its setup (sessions
    /// opened again after a lost connection included). Empty in results written before it
    /// was recorded.
    #[serde(default)]
    pub session_synchronous_commit: BTreeMap<String, u64>,
    pub options: RunOptions,
    pub summary: Summary,
    /// Failed transactions by SQLSTATE (`connection` when the session was lost).
    pub failures: BTreeMap<String, u64>,
    pub timeline: Vec<TimelinePoint>,
    /// Latency: from the first statement, or at a fixed rate from the scheduled start.
    pub histogram: EncodedHistogram,
    /// At a fixed rate: service time (from the actual start) and schedule lag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_histogram: Option<EncodedHistogram>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lag_histogram: Option<EncodedHistogram>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tool {
    pub name: String,
    pub version: String,
}

impl Default for Tool {
    fn default() -> Self {
        Tool {
            name: env!("CARGO_PKG_NAME").into(),
            version: env!("CARGO_PKG_VERSION").into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetInfo {
    /// `host=... port=... user=... dbname=...`, without password.
    pub connection: String,
    /// Patroni REST URL (without credentials) when the run went through Patroni.
    pub patroni: Option<String>,
    /// The Patroni member that led the cluster when the run started.
    pub leader: Option<String>,
    pub server_version: String,
    /// `synchronous_commit` as the sessions ran with it.
    pub synchronous_commit: String,
    /// `synchronous_standby_names` on the server at the start.
    pub synchronous_standby_names: String,
    /// Whether a synchronous standby was attached (pg_stat_replication sync_state sync or
    /// quorum) when the measurement started. Null when it could not be read.
    pub sync_standby_attached: Option<bool>,
}

/// A script of a run and its weight (`-f FILE@W`, `-b NAME@W`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScriptInfo {
    /// The file, or `<builtin: ...>`.
    pub name: String,
    pub weight: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunOptions {
    /// The built-in run on the fast path; null when `scripts` ran instead.
    pub builtin: Option<Builtin>,
    /// Script files and weighted built-ins; empty for a single built-in.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scripts: Vec<ScriptInfo>,
    pub protocol: Protocol,
    pub clients: usize,
    pub threads: usize,
    /// Seconds of measured load requested (`-T`); null with `-t`.
    pub duration: Option<u64>,
    /// Transactions per client requested (`-t`); null with `-T`.
    pub transactions_per_client: Option<u64>,
    pub warmup: u64,
    pub scale: i64,
    /// The mode this run asked for with `--sync-commit`; null when it used the server's.
    pub sync_commit: Option<SyncCommit>,
    pub seed: u64,
    /// Transactions per second over all clients (`-R`); null when as fast as possible.
    #[serde(default)]
    pub rate: Option<f64>,
    /// `--latency-limit` in milliseconds.
    #[serde(default)]
    pub latency_limit_ms: Option<f64>,
    /// `--max-tries` (1: no retries; 0: without limit).
    #[serde(default = "one_try")]
    pub max_tries: u32,
    /// This load generator's name when several ran together (`--generator`; `merge` joins
    /// their results).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generator: Option<String>,
    /// The generators a merged result combines (`merge`); clients and threads are their sums.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub merged_from: Vec<String>,
}

fn one_try() -> u32 {
    1
}

impl RunOptions {
    /// Options of a closed-loop run of a built-in, every other setting at its default.
    pub fn builtin(builtin: Builtin) -> RunOptions {
        RunOptions {
            builtin: Some(builtin),
            scripts: Vec::new(),
            protocol: Protocol::Simple,
            clients: 1,
            threads: 1,
            duration: None,
            transactions_per_client: None,
            warmup: 0,
            scale: 1,
            sync_commit: None,
            seed: 0,
            rate: None,
            latency_limit_ms: None,
            max_tries: 1,
            generator: None,
            merged_from: Vec::new(),
        }
    }

    /// The engine's settings for this load: no session setup, no audit, clients end when
    /// their connection is lost, 10 s for the last transactions to finish. Callers change
    /// what differs. `scripts` are the loaded scripts when `self.scripts` names some.
    pub fn engine_config(&self, scripts: Option<std::sync::Arc<Scripts>>) -> EngineConfig {
        let workload = match (scripts, self.builtin) {
            (Some(s), _) => Workload::Scripts(s),
            (None, b) => Workload::Builtin {
                builtin: b.unwrap_or(Builtin::TpcbLike),
                scale: self.scale,
            },
        };
        EngineConfig {
            workload,
            protocol: self.protocol,
            clients: self.clients,
            threads: self.threads,
            stop: self.stop(),
            warmup_secs: self.warmup,
            rate: self.rate,
            latency_limit: self
                .latency_limit_ms
                .map(|ms| std::time::Duration::from_secs_f64(ms / 1000.0)),
            max_tries: self.max_tries,
            start_at: None,
            interval_histograms: self.generator.is_some(),
            session_setup: Vec::new(),
            expect_synchronous_commit: self.sync_commit,
            seed: self.seed,
            drain_timeout: std::time::Duration::from_secs(10),
            audit_run_id: None,
            reconnect: false,
        }
    }

    pub fn stop(&self) -> StopAfter {
        match (self.duration, self.transactions_per_client) {
            (_, Some(t)) => StopAfter::Transactions(t),
            (Some(d), None) => StopAfter::Duration(std::time::Duration::from_secs(d)),
            (None, None) => StopAfter::Duration(std::time::Duration::ZERO),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub transactions: u64,
    pub failed: u64,
    /// Measured seconds: from the end of warmup to the end of the last client.
    pub measured_seconds: f64,
    /// Transactions per second, excluding connection time.
    pub tps: f64,
    pub connection_time_ms: f64,
    /// Null when no transaction succeeded.
    pub latency_ms: Option<LatencySummary>,
    /// The run was stopped early (Ctrl-C).
    pub interrupted: bool,
    /// Clients whose connection was lost; their later transactions never ran.
    pub clients_lost: usize,
    /// Transactions still waiting when the run gave up on them.
    pub abandoned: usize,
    /// Clients their script stopped (pgbench's "client N aborted").
    #[serde(default)]
    pub clients_aborted: usize,
    /// Transactions skipped because they were already later than `--latency-limit`.
    #[serde(default)]
    pub skipped: u64,
    /// Completed transactions over `--latency-limit`.
    #[serde(default)]
    pub late: u64,
    /// Transactions run more than once (`--max-tries`), and the extra runs in all.
    #[serde(default)]
    pub retried: u64,
    #[serde(default)]
    pub retries: u64,
    /// At a fixed rate: how late transactions started (pgbench's "schedule lag").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule_lag_ms: Option<LagSummary>,
    /// At a fixed rate: latency from the actual start, without the lag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_latency_ms: Option<LatencySummary>,
}

/// Schedule lag in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LagSummary {
    pub mean: f64,
    pub p50: f64,
    pub p99: f64,
    pub max: f64,
}

impl LagSummary {
    fn of(stats: &metrics::Stats) -> Option<LagSummary> {
        let h = &stats.lag;
        let ms = |us: u64| us as f64 / 1000.0;
        Some(LagSummary {
            mean: stats.lag_mean_us()? / 1000.0,
            p50: ms(h.value_at_quantile(0.5)),
            p99: ms(h.value_at_quantile(0.99)),
            max: ms(h.max()),
        })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EncodedHistogram {
    /// Always `HdrHistogram V2 DEFLATE base64`.
    pub encoding: String,
    /// Always `us`: values are microseconds.
    pub unit: String,
    pub significant_digits: u8,
    pub data: String,
}

impl EncodedHistogram {
    pub fn of(h: &hdrhistogram::Histogram<u64>) -> EncodedHistogram {
        EncodedHistogram {
            encoding: "HdrHistogram V2 DEFLATE base64".into(),
            unit: "us".into(),
            significant_digits: metrics::SIGFIG,
            data: metrics::encode_histogram(h),
        }
    }
}

impl RunResult {
    pub fn new(options: RunOptions, target: TargetInfo, outcome: &Outcome) -> RunResult {
        let total = &outcome.total;
        let secs = outcome.measured.as_secs_f64();
        let paced = options.rate.is_some();
        RunResult {
            schema: SCHEMA_ID.into(),
            schema_version: SCHEMA_VERSION,
            tool: Tool::default(),
            started_at: humantime::format_rfc3339_millis(outcome.started_at).to_string(),
            target,
            session_synchronous_commit: outcome.session_synchronous_commit.clone(),
            options,
            summary: Summary {
                transactions: total.transactions(),
                failed: total.failed(),
                measured_seconds: secs,
                tps: if secs > 0.0 {
                    total.transactions() as f64 / secs
                } else {
                    0.0
                },
                connection_time_ms: outcome.connection_time.as_secs_f64() * 1000.0,
                latency_ms: total.latency(),
                interrupted: outcome.interrupted,
                clients_lost: outcome.clients_lost,
                abandoned: outcome.abandoned,
                clients_aborted: outcome.clients_aborted,
                skipped: total.skipped,
                late: total.late,
                retried: total.retried,
                retries: total.retries,
                schedule_lag_ms: LagSummary::of(total),
                service_latency_ms: total.service_latency(),
            },
            failures: total.failures.clone(),
            timeline: outcome.timeline.clone(),
            histogram: EncodedHistogram::of(&total.hist),
            service_histogram: paced.then(|| EncodedHistogram::of(&total.service)),
            lag_histogram: paced.then(|| EncodedHistogram::of(&total.lag)),
        }
    }
}

/// Writes pretty JSON through a temporary file and a rename, so a reader never sees half a file.
pub fn write_json_file<T: Serialize>(path: &std::path::Path, value: &T) -> std::io::Result<()> {
    let mut text = serde_json::to_string_pretty(value).map_err(std::io::Error::other)?;
    text.push('\n');
    let tmp = path.with_extension("json.partial");
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::metrics::Stats;

    fn result() -> RunResult {
        let mut total = Stats::default();
        total.record(1500);
        let outcome = Outcome {
            total,
            timeline: Vec::new(),
            measured: std::time::Duration::from_secs(1),
            connection_time: std::time::Duration::from_millis(3),
            started_at: std::time::UNIX_EPOCH,
            interrupted: false,
            clients_lost: 0,
            clients_aborted: 0,
            abandoned: 0,
            reconnects: 0,
            ledgers: Vec::new(),
            session_synchronous_commit: BTreeMap::from([("local".to_string(), 2)]),
        };
        let options = RunOptions {
            protocol: Protocol::Prepared,
            clients: 2,
            duration: Some(1),
            sync_commit: Some(SyncCommit::Local),
            seed: 1,
            ..RunOptions::builtin(Builtin::TpcbLike)
        };
        let target = TargetInfo {
            connection: "host=h".into(),
            patroni: None,
            leader: None,
            server_version: "15".into(),
            synchronous_commit: "local".into(),
            synchronous_standby_names: String::new(),
            sync_standby_attached: None,
        };
        RunResult::new(options, target, &outcome)
    }

    #[test]
    fn the_sessions_modes_are_recorded_and_results_written_before_them_still_load() {
        let r = result();
        let mut v = serde_json::to_value(&r).unwrap();
        assert_eq!(
            v["session_synchronous_commit"],
            serde_json::json!({"local": 2})
        );
        assert_eq!(serde_json::from_value::<RunResult>(v.clone()).unwrap(), r);
        v.as_object_mut()
            .unwrap()
            .remove("session_synchronous_commit");
        let old: RunResult = serde_json::from_value(v).unwrap();
        assert!(old.session_synchronous_commit.is_empty());
        assert_eq!(
            RunResult {
                session_synchronous_commit: r.session_synchronous_commit.clone(),
                ..old
            },
            r
        );
    }
}
