//! Runs a capacity search on a cluster: load by load, every mode's search one probe at a time,
//! the modes taking turns in an order shuffled each round from the recorded seed (so slow drift
//! of the machine does not favour one mode). Every probe is a sweep cell, run as sweep cells
//! run (mode switched through Patroni and proven live, CHECKPOINT, warmup, measurement), and
//! written at once with the manifest's order, summary.csv and capacity.json: an interrupted
//! search keeps every probe, and continues from them.

use std::path::Path;
use std::time::{Duration, Instant};

use rand::seq::SliceRandom;

use super::result::{self, mode_search};
use super::search::Step;
use crate::interrupt::Interrupt;
use crate::pg::mode::SyncCommit;
use crate::sweep::folder::{self, CellKey, CellResult, Manifest, Results};
use crate::sweep::runner::{self, SweepError, SweepProgress, SweepTarget, Timing};

/// Runs every mode's search of every load of `manifest.plan` to its end, from the cells `dir`
/// holds already; `manifest.order` grows by each probe.
pub async fn run(
    dir: &Path,
    manifest: &mut Manifest,
    at: &SweepTarget<'_>,
    progress: &mut dyn SweepProgress,
    interrupt: &Interrupt,
) -> Result<Timing, SweepError> {
    let started = Instant::now();
    let mut timing = Timing::default();
    let plan = manifest.plan.clone();
    let spec = plan
        .capacity
        .expect("a capacity search's plan has its objective");
    let mut done: Vec<CellResult> = Results::load(dir)?.cells;
    let mut loaded_scale: Option<i64> = None;
    let mut rtt: Option<u32> = None;
    for (load_index, load) in result::loads(&plan).into_iter().enumerate() {
        for round in 1u32.. {
            let mut modes: Vec<(SyncCommit, Step)> = plan
                .modes
                .iter()
                .filter_map(|&mode| {
                    let cells: Vec<&CellResult> = done
                        .iter()
                        .filter(|c| c.cell.group().load() == load && c.cell.mode == mode)
                        .collect();
                    let (m, step) = mode_search(&spec, mode, &cells);
                    (m.state == result::State::Searching).then_some((mode, step))
                })
                .collect();
            if modes.is_empty() {
                break;
            }
            modes.shuffle(&mut runner::shuffler(
                manifest.seed,
                load.scale,
                round,
                load_index as u64 + 1,
            ));
            for (mode, step) in modes {
                if interrupt.happened() {
                    return Err(SweepError::Interrupted);
                }
                if loaded_scale != Some(load.scale) {
                    let t = Instant::now();
                    runner::ensure_scale(at, load.scale, progress).await?;
                    timing.init += t.elapsed();
                    loaded_scale = Some(load.scale);
                }
                if rtt != Some(load.rtt_ms) {
                    (at.set_rtt)(load.rtt_ms).map_err(|e| SweepError::Rtt {
                        rtt_ms: load.rtt_ms,
                        source: e,
                    })?;
                    rtt = Some(load.rtt_ms);
                }
                let rate = match step {
                    Step::ClosedLoop => None,
                    Step::Probe { rate, .. } => Some(rate),
                    Step::Done(_) => unreachable!("finished searches are left out"),
                };
                let repetition = 1 + done
                    .iter()
                    .filter(|c| {
                        c.cell.group().load() == load && c.cell.mode == mode && c.cell.rate == rate
                    })
                    .count() as u32;
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
                let index = done.len();
                progress.cell_started(index, 0, &key);
                let cell = runner::run_cell(dir, &plan, &key, at, progress, interrupt).await?;
                timing.load += Duration::from_secs_f64(cell.run.summary.measured_seconds)
                    + Duration::from_secs(plan.warmup);
                if cell.run.summary.interrupted {
                    return Err(SweepError::Interrupted);
                }
                folder::write_cell(dir, &cell)?;
                manifest.order.push(key.id());
                folder::write_manifest(dir, manifest)?;
                progress.cell_finished(index, 0, &cell);
                done.push(cell);
                folder::write_summary(dir, &done)?;
                if let Some(r) = result::of(&plan, &done) {
                    result::write(dir, &r).map_err(|e| {
                        SweepError::Results(folder::ResultsError::Write {
                            path: dir.join(result::FILE).display().to_string(),
                            reason: e.to_string(),
                        })
                    })?;
                }
                let cells: Vec<&CellResult> = done
                    .iter()
                    .filter(|c| c.cell.group().load() == load && c.cell.mode == mode)
                    .collect();
                progress.note(&describe(&spec, mode, &cells));
            }
        }
    }
    if rtt.is_some_and(|r| r > 0) {
        (at.set_rtt)(0).map_err(|e| SweepError::Rtt {
            rtt_ms: 0,
            source: e,
        })?;
    }
    timing.total = started.elapsed();
    Ok(timing)
}

/// One line on the mode's last probe and where its search stands.
fn describe(
    spec: &crate::sweep::plan::Capacity,
    mode: SyncCommit,
    cells: &[&CellResult],
) -> String {
    let (m, step) = mode_search(spec, mode, cells);
    let label = spec.percentile_label();
    let last = match m.probes.last() {
        Some(p) if cells.last().is_some_and(|c| c.cell.rate.is_some()) => format!(
            "{mode} at {} TPS: {} {}, {:.1} TPS achieved: {}",
            p.rate,
            label,
            p.latency_ms
                .map(|v| format!("{v:.2} ms"))
                .unwrap_or_else(|| "-".into()),
            p.achieved_tps,
            if p.passed {
                "pass".to_string()
            } else {
                format!(
                    "fail ({})",
                    p.misses
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            }
        ),
        _ => match &m.closed_loop {
            Some(c) => format!("{mode} closed loop: {:.1} TPS bounds the search", c.tps),
            None => format!("{mode}: no closed-loop cell yet"),
        },
    };
    let next = match step {
        _ if m.state == result::State::NoSyncStandby => {
            "no synchronous standby was attached: the search of this mode stops here, without a capacity".to_string()
        }
        Step::ClosedLoop => "next: the closed loop".into(),
        Step::Probe { rate, purpose } => format!("next: {rate} TPS ({purpose})"),
        Step::Done(_) => match m.capacity_tps {
            Some(c) => format!(
                "capacity {c} TPS at {label} <= {} ms ({})",
                spec.slo_ms, m.state
            ),
            None => format!("no capacity ({})", m.state),
        },
    };
    format!("capacity search: {last}; {next}")
}
