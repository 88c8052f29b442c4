//! What a scenario run records: per variant its load, audit, availability, the actions as
//! they were done, and how the cluster's leader and synchronous standbys changed
//! (schemas/scenario-result.schema.json).
//!
//! Plain data for the report, the charts and the command's summary; no behaviour beyond
//! describing itself.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::audit::AuditCounts;
use super::availability::{Gap, Recovery};
use super::spec::{ActionKind, ClusterSettings, WorkloadSpec};
use crate::cluster::patroni::{HistoryEntry, Timing};
use crate::load::run_result::RunResult;

pub const SCHEMA: &str = "pgsyncbench/scenario-result";
pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScenarioResult {
    pub schema: String,
    pub schema_version: u32,
    pub scenario: String,
    pub description: String,
    pub patroni: String,
    pub lab: bool,
    /// A zoned lab's zones and the round trips measured when it started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<crate::lab::network::Recorded>,
    pub started_at: String,
    pub runs: Vec<VariantResult>,
}

impl ScenarioResult {
    pub fn passed(&self) -> bool {
        self.runs.iter().all(|r| r.passed)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ActionRecord {
    /// Planned time, and when it was done (seconds since the load started): the fault is in
    /// place from `t` on.
    pub at: f64,
    pub t: f64,
    pub action: ActionKind,
    pub members: Vec<String>,
    pub leader_before: Option<String>,
    pub ok: bool,
    pub detail: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FaultRecovery {
    pub action: ActionKind,
    pub t: f64,
    pub leader_before: Option<String>,
    #[serde(flatten)]
    pub recovery: Recovery,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LeaderSeen {
    pub t: f64,
    pub leader: Option<String>,
    pub timeline: Option<u64>,
}

impl std::fmt::Display for LeaderSeen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (timeline ", self.leader.as_deref().unwrap_or("none"))?;
        match self.timeline {
            Some(t) => write!(f, "{t}")?,
            None => f.write_str("?")?,
        }
        write!(f, ") at {:.1} s", self.t)
    }
}

impl VariantResult {
    /// Each standby's largest replication lag over the run, in bytes (None: never known).
    pub fn max_lag(&self) -> BTreeMap<String, Option<u64>> {
        let mut out: BTreeMap<String, Option<u64>> = BTreeMap::new();
        for seen in &self.lag {
            for (member, bytes) in &seen.bytes {
                let slot = out.entry(member.clone()).or_default();
                *slot = (*slot).max(*bytes);
            }
        }
        out
    }

    /// `node2 12.3 MB, node3 0.0 MB` (the largest lag of each standby), or None without lags.
    pub fn max_lag_text(&self) -> Option<String> {
        let lags = self.max_lag();
        (!lags.is_empty()).then(|| {
            lags.iter()
                .map(|(m, b)| match b {
                    Some(b) => format!("{m} {:.1} MB", *b as f64 / 1_048_576.0),
                    None => format!("{m} unknown"),
                })
                .collect::<Vec<_>>()
                .join(", ")
        })
    }

    /// The leader history as one line: `node1 (timeline 1) at 0.0 s → node2 ...`.
    pub fn leader_history(&self, arrow: &str) -> String {
        self.leaders
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(arrow)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SyncSeen {
    pub t: f64,
    /// Members Patroni lists as synchronous standbys.
    pub sync_standbys: Vec<String>,
    /// synchronous_standby_names on the primary (None when no primary answered).
    pub synchronous_standby_names: Option<String>,
}

/// Each standby's replication lag in bytes at one moment, as Patroni judged it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LagSeen {
    pub t: f64,
    pub bytes: BTreeMap<String, Option<u64>>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PrimariesSeen {
    pub t: f64,
    pub members: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Availability {
    pub longest_write_gap: Gap,
    pub faults: Vec<FaultRecovery>,
    pub reconnects: usize,
    /// Failed transactions by SQLSTATE class (first two characters), `connection` apart.
    pub failure_classes: BTreeMap<String, u64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Check {
    pub check: String,
    pub expected: String,
    pub observed: String,
    pub passed: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VariantResult {
    pub label: String,
    pub cluster: ClusterSettings,
    /// Patroni's timing in force when the variant started (GET /config, as Patroni adjusts
    /// it); absent in results written before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patroni_timing: Option<Timing>,
    pub workload: WorkloadSpec,
    /// The load as `run --json` reports it (summary, failures, timeline, histogram).
    pub run: RunResult,
    pub audit: AuditCounts,
    pub availability: Availability,
    pub actions: Vec<ActionRecord>,
    /// Leader and timeline whenever they changed.
    pub leaders: Vec<LeaderSeen>,
    /// Synchronous standbys whenever they changed.
    pub sync_standbys: Vec<SyncSeen>,
    /// Moments when more than one member claimed to be primary.
    pub split_brain: Vec<PrimariesSeen>,
    pub max_primaries: u32,
    /// The standbys' replication lag over the run (absent in results from before it was kept).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lag: Vec<LagSeen>,
    /// Why Patroni would not promote a member, as its logs said during the run (lab only):
    /// each distinct reason with the member and how often.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub promotion_refusals: Vec<String>,
    /// Leaders that demoted themselves (lost the DCS, say), as Patroni logged it (lab only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub demotions: Vec<String>,
    /// Members rewound with pg_rewind when they rejoined, as Patroni logged it (lab only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rewinds: Vec<String>,
    /// Patroni's timeline history at the end.
    pub history: Vec<HistoryEntry>,
    /// Whether the cluster was whole again (leader and every member streaming) before the audit.
    pub settled: bool,
    pub checks: Vec<Check>,
    pub passed: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("cannot read {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot read {}: {source}", path.display())]
    Json {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
}

/// Scenario result files in a folder are named `scenario-<name>.json`.
pub const PREFIX: &str = "scenario-";

/// Every scenario result in `dir`, by file name.
pub fn load_dir(dir: &Path) -> Result<Vec<ScenarioResult>, ReadError> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(Vec::new());
    };
    let mut paths: Vec<_> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension().is_some_and(|e| e == "json")
                && p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with(PREFIX))
        })
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|p| {
            let text = std::fs::read_to_string(p).map_err(|e| ReadError::Io {
                path: p.clone(),
                source: e,
            })?;
            serde_json::from_str(&text).map_err(|e| ReadError::Json {
                path: p.clone(),
                source: e,
            })
        })
        .collect()
}
