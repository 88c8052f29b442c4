//! What a capacity search found, from its results folder alone: each mode's probes replayed
//! through the search (so each probe's purpose is known and a search in progress says what it
//! would do next), its capacity, the interval around it, and its change against the baseline
//! mode's capacity. Written as capacity.json (schemas/capacity.schema.json) after every probe
//! and by every report.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::search::{self, Config, Probe, Purpose, Status, Step};
use super::verdict::{self, Miss};
use crate::pg::mode::SyncCommit;
use crate::sweep::folder::{CellResult, LoadKey};
use crate::sweep::plan::{Capacity, Plan};

pub const SCHEMA: &str = "pgsyncbench/capacity";
pub const SCHEMA_VERSION: u32 = 1;
pub const FILE: &str = "capacity.json";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CapacityResult {
    pub schema: String,
    pub schema_version: u32,
    pub objective: Capacity,
    /// Achieved over offered throughput a probe had to reach (before the Poisson allowance).
    pub keep_up: f64,
    pub baseline: SyncCommit,
    pub loads: Vec<LoadCapacity>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoadCapacity {
    pub load: LoadKey,
    /// In durability order.
    pub modes: Vec<ModeCapacity>,
}

/// How a mode's search stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Found,
    AtClosedLoop,
    NonePassed,
    NoThroughput,
    /// A cell of this remote mode ran without an attached synchronous standby: its commits
    /// waited for nobody, so the search stopped there and the mode has no capacity figure.
    NoSyncStandby,
    /// Not finished (interrupted, or still running).
    Searching,
}

impl std::fmt::Display for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            State::Found => "found",
            State::AtClosedLoop => {
                "passed at the closed-loop rate: the clients, not the server, were the limit"
            }
            State::NonePassed => "no rate passed",
            State::NoThroughput => "the closed loop completed no transaction",
            State::NoSyncStandby => "no synchronous standby attached: not measured as synchronous",
            State::Searching => "search not finished",
        })
    }
}

impl From<Status> for State {
    fn from(s: Status) -> State {
        match s {
            Status::Found => State::Found,
            Status::AtClosedLoop => State::AtClosedLoop,
            Status::NonePassed => State::NonePassed,
            Status::NoThroughput => State::NoThroughput,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModeCapacity {
    pub mode: SyncCommit,
    pub state: State,
    /// The rate found: the highest that passed every run, in TPS.
    pub capacity_tps: Option<u32>,
    /// The interval the capacity lies in: [highest passing, lowest failing).
    pub highest_passing: Option<u32>,
    pub lowest_failing: Option<u32>,
    /// Capacity against the baseline mode's, in percent (None for the baseline itself, or
    /// when either has none).
    pub vs_baseline_pct: Option<f64>,
    /// The closed-loop cell that bounded the search.
    pub closed_loop: Option<ClosedLoop>,
    /// Every rate probe, in the order it ran.
    pub probes: Vec<ProbeRecord>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClosedLoop {
    pub cell: String,
    pub tps: f64,
    /// The objective's percentile at full speed, ms.
    pub latency_ms: Option<f64>,
    pub sync_standby_attached: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbeRecord {
    pub cell: String,
    /// 1-based place of the cell in the folder's run order.
    pub position: usize,
    pub rate: u32,
    /// Why the search ran it (None when it is not a step the search would take, e.g. a cell
    /// added by hand).
    pub purpose: Option<Purpose>,
    pub passed: bool,
    /// The objective's percentile over the measured window, ms.
    pub latency_ms: Option<f64>,
    pub mean_ms: Option<f64>,
    pub achieved_tps: f64,
    pub needed_tps: f64,
    /// Measured transactions (the percentile's sample).
    pub transactions: u64,
    pub schedule_lag_p99_ms: Option<f64>,
    pub skipped: u64,
    pub failed: u64,
    pub sync_standby_attached: bool,
    pub misses: Vec<Miss>,
}

impl CapacityResult {
    pub fn mode(&self, load: &LoadKey, mode: SyncCommit) -> Option<&ModeCapacity> {
        self.loads
            .iter()
            .find(|l| &l.load == load)?
            .modes
            .iter()
            .find(|m| m.mode == mode)
    }
}

pub fn config(spec: &Capacity) -> Config {
    Config {
        resolution_pct: spec.resolution_pct,
        repeats: spec.repeats,
    }
}

/// The loads a plan searches, in the order they run (scale outermost, as sweeps).
pub fn loads(plan: &Plan) -> Vec<LoadKey> {
    let mut out = Vec::new();
    for &scale in &plan.scales {
        for &workload in &plan.workloads {
            for &clients in &plan.clients {
                for &threads in &plan.threads {
                    for &rtt_ms in &plan.rtt_ms {
                        out.push(LoadKey {
                            workload,
                            scale,
                            clients,
                            threads,
                            rtt_ms,
                        });
                    }
                }
            }
        }
    }
    out
}

/// One mode's search replayed from its cells (in run order): where it stands, and its next step.
pub fn mode_search(
    spec: &Capacity,
    mode: SyncCommit,
    cells: &[&CellResult],
) -> (ModeCapacity, Step) {
    let cfg = config(spec);
    let mut bound: Option<f64> = None;
    let mut closed_loop = None;
    let mut probes: Vec<Probe> = Vec::new();
    let mut records = Vec::new();
    let mut unsynced = false;
    for cell in cells {
        let attached = !mode.waits_for_standby() || cell.sync_standby_attached;
        let v = verdict::judge(cell, spec);
        match cell.cell.rate {
            None => {
                if closed_loop.is_none() {
                    bound = Some(cell.run.summary.tps);
                    closed_loop = Some(ClosedLoop {
                        cell: cell.cell.id(),
                        tps: cell.run.summary.tps,
                        latency_ms: v.latency_ms,
                        sync_standby_attached: cell.sync_standby_attached,
                    });
                }
            }
            Some(rate) => {
                let purpose = match search::next(bound, &probes, &cfg) {
                    Step::Probe { rate: r, purpose } if r == rate => Some(purpose),
                    _ => None,
                };
                let s = &cell.run.summary;
                records.push(ProbeRecord {
                    cell: cell.cell.id(),
                    position: 0,
                    rate,
                    purpose,
                    passed: v.passed() && attached,
                    latency_ms: v.latency_ms,
                    mean_ms: s.latency_ms.map(|l| l.mean),
                    achieved_tps: s.tps,
                    needed_tps: v.needed_tps.unwrap_or(0.0),
                    transactions: s.transactions,
                    schedule_lag_p99_ms: s.schedule_lag_ms.map(|l| l.p99),
                    skipped: s.skipped,
                    failed: s.failed,
                    sync_standby_attached: cell.sync_standby_attached,
                    misses: v.misses.clone(),
                });
                probes.push(Probe {
                    rate,
                    passed: v.passed(),
                });
            }
        }
        if !attached {
            unsynced = true;
            break;
        }
    }
    let step = search::next(bound, &probes, &cfg);
    let (passing, failing) = search::bracket(&probes);
    let mut m = ModeCapacity {
        mode,
        state: State::Searching,
        capacity_tps: None,
        highest_passing: passing,
        lowest_failing: failing,
        vs_baseline_pct: None,
        closed_loop,
        probes: records,
    };
    if unsynced {
        m.state = State::NoSyncStandby;
        m.highest_passing = None;
        m.lowest_failing = None;
    } else if let Step::Done(out) = step {
        m.state = out.status.into();
        m.capacity_tps = out.capacity;
        m.highest_passing = out.highest_passing;
        m.lowest_failing = out.lowest_failing;
    }
    (m, step)
}

/// The search's state for every load and mode of `plan` (which must hold a capacity search),
/// from `cells` in run order.
pub fn of(plan: &Plan, cells: &[CellResult]) -> Option<CapacityResult> {
    let spec = plan.capacity?;
    let modes: BTreeSet<SyncCommit> = plan.modes.iter().copied().chain([plan.baseline]).collect();
    let mut by: BTreeMap<(LoadKey, SyncCommit), Vec<&CellResult>> = BTreeMap::new();
    for c in cells {
        by.entry((c.cell.group().load(), c.cell.mode))
            .or_default()
            .push(c);
    }
    let position: BTreeMap<String, usize> = cells
        .iter()
        .enumerate()
        .map(|(i, c)| (c.cell.id(), i + 1))
        .collect();
    let loads = loads(plan)
        .into_iter()
        .map(|load| {
            let mut ms: Vec<ModeCapacity> = modes
                .iter()
                .map(|&mode| {
                    let cells = by.get(&(load, mode)).map(Vec::as_slice).unwrap_or(&[]);
                    let mut m = mode_search(&spec, mode, cells).0;
                    for p in &mut m.probes {
                        p.position = position.get(&p.cell).copied().unwrap_or(0);
                    }
                    m
                })
                .collect();
            let base = ms
                .iter()
                .find(|m| m.mode == plan.baseline)
                .and_then(|m| m.capacity_tps)
                .filter(|&b| b > 0);
            for m in ms.iter_mut().filter(|m| m.mode != plan.baseline) {
                m.vs_baseline_pct = base
                    .zip(m.capacity_tps)
                    .map(|(b, c)| (f64::from(c) / f64::from(b) - 1.0) * 100.0);
            }
            LoadCapacity { load, modes: ms }
        })
        .collect();
    Some(CapacityResult {
        schema: SCHEMA.into(),
        schema_version: SCHEMA_VERSION,
        objective: spec,
        keep_up: verdict::KEEP_UP,
        baseline: plan.baseline,
        loads,
    })
}

/// Writes capacity.json into `dir`.
pub fn write(dir: &Path, result: &CapacityResult) -> std::io::Result<()> {
    crate::load::run_result::write_json_file(&dir.join(FILE), result)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::engine::Outcome;
    use crate::load::metrics::Stats;
    use crate::load::run_result::{RunOptions, RunResult, TargetInfo};
    use crate::load::workload::Builtin;
    use crate::sweep::folder::CellKey;
    use crate::sweep::plan::PlanFile;

    fn plan() -> Plan {
        PlanFile::parse(
            "modes = [\"off\", \"on\"]\nclients = [4]\nthreads = [1]\nscales = [1]\n\
             capacity = { slo_ms = 20, repeats = 1, resolution_pct = 10 }",
            "t",
        )
        .unwrap()
        .into_plan("t")
        .unwrap()
    }

    /// A cell of `seconds` at `tps`, every transaction `latency_ms` long.
    fn cell(key: CellKey, tps: f64, latency_ms: f64, attached: bool, skipped: u64) -> CellResult {
        let seconds = 10.0;
        let mut total = Stats::default();
        for _ in 0..(tps * seconds) as u64 {
            total.record((latency_ms * 1000.0) as u64);
        }
        total.skipped = skipped;
        let outcome = Outcome {
            total,
            timeline: Vec::new(),
            measured: std::time::Duration::from_secs_f64(seconds),
            connection_time: std::time::Duration::ZERO,
            started_at: std::time::UNIX_EPOCH,
            interrupted: false,
            clients_lost: 0,
            clients_aborted: 0,
            abandoned: 0,
            reconnects: 0,
            ledgers: Vec::new(),
            session_synchronous_commit: BTreeMap::new(),
        };
        let options = RunOptions {
            rate: key.rate.map(f64::from),
            ..RunOptions::builtin(Builtin::TpcbLike)
        };
        let target = TargetInfo {
            connection: String::new(),
            patroni: None,
            leader: None,
            server_version: "15".into(),
            synchronous_commit: key.mode.to_string(),
            synchronous_standby_names: String::new(),
            sync_standby_attached: Some(attached),
        };
        CellResult {
            schema: crate::sweep::folder::CELL_SCHEMA.into(),
            schema_version: crate::sweep::folder::SCHEMA_VERSION,
            run: RunResult::new(options, target, &outcome),
            cell: key,
            sync_standby_attached: attached,
            apply_seconds: 0.5,
            samples: Vec::new(),
            cluster: None,
        }
    }

    /// Runs every mode's search as the runner does, modes in turn, against a server that keeps
    /// `capacity` TPS of `mode` within 5 ms and misses beyond it.
    fn searched(
        plan: &Plan,
        capacity: impl Fn(SyncCommit) -> u32,
        attached: bool,
    ) -> Vec<CellResult> {
        let spec = plan.capacity.unwrap();
        let load = loads(plan)[0];
        let mut cells: Vec<CellResult> = Vec::new();
        loop {
            let mut ran = false;
            for &mode in &plan.modes {
                let mine: Vec<&CellResult> = cells.iter().filter(|c| c.cell.mode == mode).collect();
                let (m, step) = mode_search(&spec, mode, &mine);
                if m.state != State::Searching {
                    continue;
                }
                let rate = match step {
                    Step::ClosedLoop => None,
                    Step::Probe { rate, .. } => Some(rate),
                    Step::Done(_) => unreachable!(),
                };
                let repetition = 1 + mine.iter().filter(|c| c.cell.rate == rate).count() as u32;
                let key = CellKey {
                    workload: load.workload,
                    scale: load.scale,
                    clients: load.clients,
                    threads: load.threads,
                    rtt_ms: load.rtt_ms,
                    mode,
                    repetition,
                    rate,
                };
                let cap = capacity(mode);
                let c = match rate {
                    None => cell(key, f64::from(cap) * 1.5, 30.0, attached, 0),
                    Some(r) if r <= cap => cell(key, f64::from(r), 5.0, attached, 0),
                    Some(r) => cell(key, f64::from(r) * 0.9, 50.0, attached, 3),
                };
                cells.push(c);
                ran = true;
            }
            if !ran {
                return cells;
            }
        }
    }

    #[test]
    fn the_folder_replays_each_search_to_its_capacity_and_compares_it_with_the_baseline() {
        let plan = plan();
        let cap = |m: SyncCommit| if m == SyncCommit::Off { 600 } else { 300 };
        let cells = searched(&plan, cap, true);
        let r = of(&plan, &cells).unwrap();
        let load = loads(&plan)[0];
        let off = r.mode(&load, SyncCommit::Off).unwrap();
        let on = r.mode(&load, SyncCommit::On).unwrap();
        for (m, truth) in [(off, 600), (on, 300)] {
            assert_eq!(m.state, State::Found, "{m:?}");
            let c = m.capacity_tps.unwrap();
            let f = m.lowest_failing.unwrap();
            let bound = m.closed_loop.as_ref().unwrap().tps;
            assert!(
                c <= truth && f > truth && f64::from(f - c) <= 0.1 * bound,
                "{m:?}"
            );
            assert_eq!(m.highest_passing, Some(c));
            // Every probe has the purpose the search gave it, and its place in the folder.
            assert!(m.probes.iter().all(|p| p.purpose.is_some()), "{m:?}");
            assert_eq!(m.probes[0].purpose, Some(Purpose::Bound));
            assert_eq!(m.probes.last().unwrap().purpose, Some(Purpose::Verify));
            assert!(m.probes.windows(2).all(|w| w[0].position < w[1].position));
            assert!(m.probes.iter().all(|p| p.passed == (p.rate <= truth)));
            assert!(m.probes.iter().filter(|p| !p.passed).all(|p| {
                p.misses
                    .iter()
                    .any(|x| matches!(x, Miss::Skipped { transactions: 3 }))
            }));
        }
        assert_eq!(off.vs_baseline_pct, None);
        let expected = (f64::from(on.capacity_tps.unwrap()) / f64::from(off.capacity_tps.unwrap())
            - 1.0)
            * 100.0;
        assert!((on.vs_baseline_pct.unwrap() - expected).abs() < 1e-9);
        // Positions count the closed-loop cells too: 1-based places in the folder.
        let places: Vec<usize> = r.loads[0]
            .modes
            .iter()
            .flat_map(|m| m.probes.iter().map(|p| p.position))
            .collect();
        assert!(places.iter().all(|&p| p >= 1 && p <= cells.len()));
        // A search cut short reads as still searching, with the bracket it had.
        let partial = of(&plan, &cells[..5]).unwrap();
        assert!(
            partial.loads[0]
                .modes
                .iter()
                .all(|m| m.state == State::Searching && m.capacity_tps.is_none())
        );
    }

    #[test]
    fn a_remote_mode_without_a_sync_standby_has_no_capacity_and_no_change() {
        let plan = plan();
        let cells = searched(&plan, |_| 400, false);
        let r = of(&plan, &cells).unwrap();
        let load = loads(&plan)[0];
        let on = r.mode(&load, SyncCommit::On).unwrap();
        assert_eq!(on.state, State::NoSyncStandby);
        assert_eq!((on.capacity_tps, on.vs_baseline_pct), (None, None));
        // The search stopped at its first cell: the closed loop, never a rate.
        assert!(on.probes.is_empty());
        assert!(!on.closed_loop.as_ref().unwrap().sync_standby_attached);
        // off waits for nobody: its search is whole.
        let off = r.mode(&load, SyncCommit::Off).unwrap();
        assert_eq!(off.state, State::Found);
        assert_eq!(
            cells
                .iter()
                .filter(|c| c.cell.mode == SyncCommit::On)
                .count(),
            1
        );
    }
}
