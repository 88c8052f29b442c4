//! The results folder of a sweep (schemas/manifest.schema.json, schemas/cell-result.schema.json):
//!
//! ```text
//! manifest.json            plan, order of cells, seed, harness, command line, environment
//! cells/<cell-id>.json     one cell: its key, the engine's result (with histogram), samples
//! cells/<cell-id>.hlog     the cell's interval log
//! summary.csv              one row per finished cell
//! ```
//!
//! Every file is rewritten after each cell, so an interrupted sweep keeps what it finished.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::load::run_result::RunResult;
use crate::load::workload::Builtin;
use crate::pg::mode::SyncCommit;
pub use crate::sweep::plan::Plan;

pub const MANIFEST_SCHEMA: &str = "pgsyncbench/manifest";
pub const CELL_SCHEMA: &str = "pgsyncbench/cell-result";
/// 2: offered rates (`rates`, cell ids ending `_R<rate>`) and capacity searches; folders of
/// version 1 still load, and read as closed-loop sweeps.
pub const SCHEMA_VERSION: u32 = 2;
pub const MANIFEST_FILE: &str = "manifest.json";
pub const CELLS_DIR: &str = "cells";
pub const SUMMARY_FILE: &str = "summary.csv";

/// What identifies a cell; repetitions of the same group and mode differ only in `repetition`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct CellKey {
    pub workload: Builtin,
    pub scale: i64,
    pub clients: usize,
    pub threads: usize,
    /// Added replication round-trip time in milliseconds (0 when none was injected).
    #[serde(default)]
    pub rtt_ms: u32,
    pub mode: SyncCommit,
    /// 1-based.
    pub repetition: u32,
    /// Offered load: transactions per second over all clients, on pgbench's Poisson
    /// schedule (`-R`); absent for a closed-loop cell (as fast as the clients can).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<u32>,
}

impl CellKey {
    /// File-name-safe id, e.g. `tpcb-like_s10_c8_j2_rtt0_remote_apply_r1`, and with an offered
    /// rate `tpcb-like_s10_c8_j2_rtt0_remote_apply_r1_R500`.
    pub fn id(&self) -> String {
        let mut id = format!(
            "{}_s{}_c{}_j{}_rtt{}_{}_r{}",
            self.workload.name(),
            self.scale,
            self.clients,
            self.threads,
            self.rtt_ms,
            self.mode,
            self.repetition
        );
        if let Some(r) = self.rate {
            let _ = write!(id, "_R{r}");
        }
        id
    }

    /// The comparison group: everything but mode and repetition.
    pub fn group(&self) -> GroupKey {
        GroupKey {
            workload: self.workload,
            scale: self.scale,
            clients: self.clients,
            threads: self.threads,
            rtt_ms: self.rtt_ms,
            rate: self.rate,
        }
    }
}

/// Cells whose modes compare: the same load, at the same offered rate (or all closed loop).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct GroupKey {
    pub workload: Builtin,
    pub scale: i64,
    pub clients: usize,
    pub threads: usize,
    pub rtt_ms: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<u32>,
}

impl GroupKey {
    /// The load without its offered rate: what a latency-against-offered-load curve shares.
    pub fn load(&self) -> LoadKey {
        LoadKey {
            workload: self.workload,
            scale: self.scale,
            clients: self.clients,
            threads: self.threads,
            rtt_ms: self.rtt_ms,
        }
    }
}

impl std::fmt::Display for GroupKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.load())?;
        if let Some(r) = self.rate {
            write!(f, ", offered {r} TPS")?;
        }
        Ok(())
    }
}

/// Groups that differ only in their offered rate (or cells of a capacity search's load).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct LoadKey {
    pub workload: Builtin,
    pub scale: i64,
    pub clients: usize,
    pub threads: usize,
    pub rtt_ms: u32,
}

impl LoadKey {
    /// File-name-safe, as cell ids spell it: `tpcb-like_s10_c8_j2_rtt0`.
    pub fn id(&self) -> String {
        format!(
            "{}_s{}_c{}_j{}_rtt{}",
            self.workload.name(),
            self.scale,
            self.clients,
            self.threads,
            self.rtt_ms
        )
    }
}

impl std::fmt::Display for LoadKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
        write!(
            f,
            "{}, scale {}, {}, {}",
            self.workload.name(),
            self.scale,
            plural(self.clients, "client"),
            plural(self.threads, "thread")
        )?;
        if self.rtt_ms > 0 {
            write!(f, ", +{} ms RTT", self.rtt_ms)?;
        }
        Ok(())
    }
}

/// One standby as pg_stat_replication showed it at a sample.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StandbySample {
    pub name: String,
    pub sync_state: String,
    /// Milliseconds; null when PostgreSQL reports no lag value (idle standby).
    pub write_lag_ms: Option<f64>,
    pub flush_lag_ms: Option<f64>,
    pub replay_lag_ms: Option<f64>,
}

/// Taken on the leader beside the load, at least once a second.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// Seconds since the cell's measurement started (negative during warmup).
    pub t: f64,
    pub standbys: Vec<StandbySample>,
    /// Sessions waiting on wait_event SyncRep.
    pub syncrep_waiting: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CellResult {
    pub schema: String,
    pub schema_version: u32,
    pub cell: CellKey,
    /// Whether a synchronous standby was attached while the cell ran (at start and end).
    pub sync_standby_attached: bool,
    /// Seconds the mode took to become live on the leader.
    pub apply_seconds: f64,
    pub run: RunResult,
    pub samples: Vec<Sample>,
    /// The cluster the cell ran on (absent in folders from before it was recorded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<ClusterIdentity>,
}

/// Which cluster something ran on. Every member of one cluster shares the system identifier,
/// and every new cluster (initdb) gets another: a new lab in the same folder is a new cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterIdentity {
    /// pg_control_system().system_identifier, as text (it is a 64-bit unsigned number).
    pub system_identifier: Option<String>,
    /// Patroni's scope (its cluster name).
    pub scope: Option<String>,
    pub patroni_url: Option<String>,
    pub members: Vec<String>,
}

impl ClusterIdentity {
    /// Whether both name the same cluster: the system identifiers agree when both are known,
    /// otherwise the scopes.
    pub fn same_cluster(&self, other: &ClusterIdentity) -> Option<bool> {
        match (&self.system_identifier, &other.system_identifier) {
            (Some(a), Some(b)) => Some(a == b),
            _ => match (&self.scope, &other.scope) {
                (Some(a), Some(b)) if a != b => Some(false),
                _ => None,
            },
        }
    }
}

impl std::fmt::Display for ClusterIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "system identifier {}",
            self.system_identifier.as_deref().unwrap_or("unknown")
        )?;
        if let Some(s) = &self.scope {
            write!(f, ", scope {s}")?;
        }
        if let Some(u) = &self.patroni_url {
            write!(f, ", Patroni {u}")?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Harness {
    pub version: String,
    /// `git describe --always --dirty` of the harness source, when known.
    pub git_revision: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Member {
    pub name: String,
    pub role: String,
    pub state: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Environment {
    pub postgres_version: String,
    pub patroni_version: Option<String>,
    pub patroni_url: Option<String>,
    /// True when the sweep ran on a lab cluster it started.
    pub lab: bool,
    pub members: Vec<Member>,
    /// Relevant server settings from pg_settings (WAL, checkpoints, memory, replication).
    pub settings: BTreeMap<String, String>,
    pub synchronous_standby_names: String,
    pub host_cpus: usize,
    pub host_memory_bytes: u64,
    pub host_os: String,
    /// The cluster the sweep started on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<ClusterIdentity>,
    /// The lab's zones and their round trips as measured, when the lab has zones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<Network>,
}

/// Where a zoned lab's processes sat and what the round trips between zones measured.
pub use crate::lab::network::Recorded as Network;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub schema: String,
    pub schema_version: u32,
    pub created_at: String,
    pub harness: Harness,
    /// The command line, with any password removed.
    pub command_line: Vec<String>,
    pub plan: Plan,
    /// Seed of the mode shuffles; each repetition's order derives from it.
    pub seed: u64,
    /// Cell ids in the order they run (interleaved repetitions, shuffled modes).
    pub order: Vec<String>,
    pub environment: Environment,
}

#[derive(Debug, thiserror::Error)]
pub enum ResultsError {
    #[error(
        "{0} holds no pgsyncbench results ({MANIFEST_FILE} not found): give a folder a sweep wrote"
    )]
    NoResults(String),
    #[error("cannot read {path}: {reason}")]
    Read { path: String, reason: String },
    #[error("cannot write {path}: {reason}")]
    Write { path: String, reason: String },
    #[error(
        "{path} is in results format {found}, newer than the {SCHEMA_VERSION} this pgsyncbench reads: use the pgsyncbench that wrote it, or a newer one"
    )]
    Newer { path: String, found: u32 },
}

/// A results folder as read back: the manifest and every finished cell, in run order.
#[derive(Debug, Clone)]
pub struct Results {
    pub dir: PathBuf,
    pub manifest: Manifest,
    pub cells: Vec<CellResult>,
}

impl Results {
    pub fn load(dir: &Path) -> Result<Results, ResultsError> {
        let manifest_path = dir.join(MANIFEST_FILE);
        if !manifest_path.is_file() {
            return Err(ResultsError::NoResults(dir.display().to_string()));
        }
        let manifest: Manifest = read_json(&manifest_path)?;
        supported(&manifest_path, manifest.schema_version)?;
        let mut cells = Vec::new();
        for id in &manifest.order {
            let path = dir.join(CELLS_DIR).join(format!("{id}.json"));
            if path.is_file() {
                let cell = read_json::<CellResult>(&path)?;
                supported(&path, cell.schema_version)?;
                cells.push(cell);
            }
        }
        Ok(Results {
            dir: dir.to_path_buf(),
            manifest,
            cells,
        })
    }

    /// The clusters the cells ran on, by system identifier, with how many cells each; cells
    /// that recorded none are left out. More than one means the folder mixes clusters.
    pub fn clusters(&self) -> Vec<(String, usize)> {
        let mut seen: BTreeMap<String, usize> = BTreeMap::new();
        for c in &self.cells {
            if let Some(id) = c.cluster.as_ref().and_then(|c| c.system_identifier.clone()) {
                *seen.entry(id).or_default() += 1;
            }
        }
        seen.into_iter().collect()
    }

    pub fn cell_path(dir: &Path, key: &CellKey, ext: &str) -> PathBuf {
        dir.join(CELLS_DIR).join(format!("{}.{ext}", key.id()))
    }
}

/// Every version up to this one's reads (older files lack only what later versions added).
fn supported(path: &Path, version: u32) -> Result<(), ResultsError> {
    if version > SCHEMA_VERSION {
        return Err(ResultsError::Newer {
            path: path.display().to_string(),
            found: version,
        });
    }
    Ok(())
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T, ResultsError> {
    let fail = |reason: String| ResultsError::Read {
        path: path.display().to_string(),
        reason,
    };
    let text = std::fs::read_to_string(path).map_err(|e| fail(e.to_string()))?;
    serde_json::from_str(&text).map_err(|e| fail(e.to_string()))
}

pub fn write_manifest(dir: &Path, manifest: &Manifest) -> Result<(), ResultsError> {
    write(dir, &dir.join(MANIFEST_FILE), manifest)
}

pub fn write_cell(dir: &Path, cell: &CellResult) -> Result<(), ResultsError> {
    write(dir, &Results::cell_path(dir, &cell.cell, "json"), cell)
}

fn write<T: Serialize>(dir: &Path, path: &Path, value: &T) -> Result<(), ResultsError> {
    let fail = |e: std::io::Error| ResultsError::Write {
        path: path.display().to_string(),
        reason: e.to_string(),
    };
    std::fs::create_dir_all(dir.join(CELLS_DIR)).map_err(fail)?;
    crate::load::run_result::write_json_file(path, value).map_err(fail)
}

/// summary.csv: one row per cell, in run order. When any cell ran at an offered rate, four
/// columns follow: the offered rate (empty for closed loop), skipped transactions, and the
/// schedule lag's mean and p99; folders without rates keep the columns they always had.
pub fn summary_csv(cells: &[CellResult]) -> String {
    let paced = cells.iter().any(|c| c.cell.rate.is_some());
    let mut out = String::from(
        "workload,scale,clients,threads,rtt_ms,mode,repetition,transactions,failed,tps,latency_mean_ms,latency_stddev_ms,latency_p50_ms,latency_p90_ms,latency_p99_ms,latency_p99_9_ms,latency_max_ms,sync_standby_attached",
    );
    if paced {
        out.push_str(",offered_tps,skipped,schedule_lag_mean_ms,schedule_lag_p99_ms");
    }
    out.push('\n');
    for c in cells {
        let k = &c.cell;
        let s = &c.run.summary;
        let _ = write!(
            out,
            "{},{},{},{},{},{},{},{},{},{:.3}",
            k.workload.name(),
            k.scale,
            k.clients,
            k.threads,
            k.rtt_ms,
            k.mode,
            k.repetition,
            s.transactions,
            s.failed,
            s.tps
        );
        match &s.latency_ms {
            Some(l) => {
                for v in [l.mean, l.stddev, l.p50, l.p90, l.p99, l.p99_9, l.max] {
                    let _ = write!(out, ",{v:.3}");
                }
            }
            None => out.push_str(",,,,,,,"),
        }
        let _ = write!(out, ",{}", c.sync_standby_attached);
        if paced {
            let rate = k.rate.map(|r| r.to_string()).unwrap_or_default();
            let _ = write!(out, ",{rate},{}", s.skipped);
            match &s.schedule_lag_ms {
                Some(l) => {
                    let _ = write!(out, ",{:.3},{:.3}", l.mean, l.p99);
                }
                None => out.push_str(",,"),
            }
        }
        out.push('\n');
    }
    out
}

pub fn write_summary(dir: &Path, cells: &[CellResult]) -> Result<(), ResultsError> {
    let path = dir.join(SUMMARY_FILE);
    let tmp = dir.join(format!("{SUMMARY_FILE}.partial"));
    std::fs::write(&tmp, summary_csv(cells))
        .and_then(|()| std::fs::rename(&tmp, &path))
        .map_err(|e| ResultsError::Write {
            path: path.display().to_string(),
            reason: e.to_string(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cell_ids_are_file_names_that_say_what_ran() {
        let k = CellKey {
            workload: Builtin::TpcbLike,
            scale: 10,
            clients: 8,
            threads: 2,
            rtt_ms: 0,
            mode: SyncCommit::RemoteApply,
            repetition: 1,
            rate: None,
        };
        assert_eq!(k.id(), "tpcb-like_s10_c8_j2_rtt0_remote_apply_r1");
        let mut other = k.clone();
        other.repetition = 2;
        other.mode = SyncCommit::Off;
        assert_eq!(k.group(), other.group());
        assert_eq!(
            k.group().to_string(),
            "tpcb-like, scale 10, 8 clients, 2 threads"
        );
        let one = CellKey {
            clients: 1,
            threads: 1,
            rtt_ms: 5,
            ..k
        };
        assert_eq!(
            one.group().to_string(),
            "tpcb-like, scale 10, 1 client, 1 thread, +5 ms RTT"
        );
        // An offered rate ends the id and belongs to the group: modes compare at one rate.
        let paced = CellKey {
            rate: Some(500),
            ..k.clone()
        };
        assert_eq!(paced.id(), "tpcb-like_s10_c8_j2_rtt0_remote_apply_r1_R500");
        assert_ne!(paced.group(), k.group());
        assert_eq!(
            paced.group().to_string(),
            "tpcb-like, scale 10, 8 clients, 2 threads, offered 500 TPS"
        );
        // Keys written before rates existed read as closed loop, and write back unchanged.
        let old = serde_json::json!({"workload": "tpcb-like", "scale": 10, "clients": 8,
            "threads": 2, "rtt_ms": 0, "mode": "remote_apply", "repetition": 1});
        let read: CellKey = serde_json::from_value(old.clone()).unwrap();
        assert_eq!(read, k);
        assert_eq!(serde_json::to_value(&read).unwrap(), old);
    }

    #[test]
    fn results_of_a_newer_format_are_refused_by_name() {
        let e = supported(Path::new("x/manifest.json"), SCHEMA_VERSION + 1).unwrap_err();
        assert!(
            e.to_string()
                .contains("x/manifest.json is in results format"),
            "{e}"
        );
        assert!(supported(Path::new("m"), 1).is_ok());
    }

    #[test]
    fn a_folder_without_manifest_is_not_results() {
        let e = Results::load(Path::new("/nonexistent/folder")).unwrap_err();
        assert!(
            e.to_string().contains("holds no pgsyncbench results"),
            "{e}"
        );
    }
}
