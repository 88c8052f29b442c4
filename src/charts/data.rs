//! What the charts show, gathered from a results folder by the report's own rules
//! (`crate::analysis::stats`): which cells count for their mode, the figure shown for a mode (the geometric
//! mean over repetitions) and its change against the baseline, so that a chart and the report's
//! table never disagree.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;

use super::ChartError;
use crate::analysis::stats::{self, Bootstrap, Change, Excluded, Metric, ModeRuns};
use crate::load::metrics::decode_histogram;
use crate::load::workload::Builtin;
use crate::pg::mode::SyncCommit;
use crate::sweep::folder::{CellResult, GroupKey, Results};

/// A figure as shown for a mode, and the spread of the repetitions behind it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spread {
    /// The geometric mean over repetitions, as the report's table shows it.
    pub value: f64,
    pub min: f64,
    pub max: f64,
    /// Repetitions that count.
    pub n: usize,
}

impl Spread {
    /// The highest point a bar or whisker of this spread reaches.
    pub fn top(&self) -> f64 {
        self.max.max(self.value)
    }
}

/// One mode of one group.
pub struct ModeData<'a> {
    pub mode: SyncCommit,
    /// Every finished cell, in repetition order (each gets its timeline).
    pub cells: Vec<&'a CellResult>,
    /// The repetitions that count, as the report sorts them.
    pub runs: ModeRuns,
    /// Cells left out because this mode waits for a standby and none was attached.
    pub no_standby: usize,
    /// The latencies (µs) of the cells that count, in one histogram.
    pub merged: Histogram<u64>,
    /// Against the baseline, per [`Metric::ALL`]; None for the baseline itself or when the
    /// report has no change either.
    pub changes: Option<[Change; 4]>,
}

impl ModeData<'_> {
    pub fn shown(&self, metric: Metric) -> Option<Spread> {
        let value = self.runs.figures()?.get(metric);
        let reps = self.runs.reps.values().map(|f| f.get(metric));
        Some(Spread {
            value,
            min: reps.clone().fold(f64::INFINITY, f64::min),
            max: reps.fold(f64::NEG_INFINITY, f64::max),
            n: self.runs.reps.len(),
        })
    }

    pub fn change(&self, metric: Metric) -> Option<&Change> {
        let i = Metric::ALL.iter().position(|&m| m == metric)?;
        self.changes.as_ref().map(|c| &c[i])
    }
}

pub struct Group<'a> {
    pub key: GroupKey,
    /// In durability order (off .. remote_apply), only modes that have cells.
    pub modes: Vec<ModeData<'a>>,
}

impl Group<'_> {
    pub fn mode(&self, mode: SyncCommit) -> Option<&ModeData<'_>> {
        self.modes.iter().find(|m| m.mode == mode)
    }

    /// The most repetitions any mode counts.
    pub fn repetitions(&self) -> usize {
        self.modes
            .iter()
            .map(|m| m.runs.reps.len())
            .max()
            .unwrap_or(0)
    }
}

/// The groups of a results set, sorted by key.
pub fn groups(results: &Results) -> Result<Vec<Group<'_>>, ChartError> {
    let baseline = results.manifest.plan.baseline;
    let mut by_group: BTreeMap<GroupKey, BTreeMap<SyncCommit, Vec<&CellResult>>> = BTreeMap::new();
    for cell in &results.cells {
        by_group
            .entry(cell.cell.group())
            .or_default()
            .entry(cell.cell.mode)
            .or_default()
            .push(cell);
    }
    by_group
        .into_iter()
        .map(|(key, modes)| {
            let mut modes = modes
                .into_iter()
                .map(|(mode, mut cells)| {
                    cells.sort_by_key(|c| c.cell.repetition);
                    mode_data(mode, cells)
                })
                .collect::<Result<Vec<_>, _>>()?;
            let base = modes
                .iter()
                .find(|m| m.mode == baseline)
                .map(|m| m.runs.clone());
            for m in modes.iter_mut().filter(|m| m.mode != baseline) {
                m.changes = base
                    .as_ref()
                    .and_then(|b| stats::versus_baseline(b, &m.runs, Bootstrap::default()));
            }
            Ok(Group { key, modes })
        })
        .collect()
}

fn mode_data(mode: SyncCommit, cells: Vec<&CellResult>) -> Result<ModeData<'_>, ChartError> {
    let mut runs = ModeRuns::default();
    let mut no_standby = 0;
    let mut merged = crate::load::metrics::new_histogram();
    for c in &cells {
        match runs.add(c) {
            Ok(()) => {}
            Err(Excluded::NoSyncStandby) => {
                no_standby += 1;
                continue;
            }
            // No transaction succeeded: an empty histogram adds nothing.
            Err(Excluded::NoTransactions) => continue,
        }
        let h = decode_histogram(&c.run.histogram.data).map_err(|e| ChartError::Histogram {
            cell: c.cell.id(),
            reason: e.to_string(),
        })?;
        merged.add(&h).map_err(|e| ChartError::Histogram {
            cell: c.cell.id(),
            reason: format!("{e:?}"),
        })?;
    }
    Ok(ModeData {
        mode,
        cells,
        runs,
        no_standby,
        merged,
        changes: None,
    })
}

/// Groups that differ only in their client count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ScalingKey {
    pub workload: Builtin,
    pub scale: i64,
    pub threads: usize,
    pub rtt_ms: u32,
}

impl ScalingKey {
    pub fn of(g: &GroupKey) -> ScalingKey {
        ScalingKey {
            workload: g.workload,
            scale: g.scale,
            threads: g.threads,
            rtt_ms: g.rtt_ms,
        }
    }
}

/// For every set of groups that ran at two or more client counts, those groups by clients.
pub fn scaling<'g, 'a>(groups: &'g [Group<'a>]) -> Vec<(ScalingKey, Vec<&'g Group<'a>>)> {
    let mut sets: BTreeMap<ScalingKey, Vec<&Group>> = BTreeMap::new();
    for g in groups {
        sets.entry(ScalingKey::of(&g.key)).or_default().push(g);
    }
    sets.into_iter()
        .filter(|(_, gs)| gs.len() >= 2)
        .map(|(k, mut gs)| {
            gs.sort_by_key(|g| g.key.clients);
            (k, gs)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shown_figure_is_the_geometric_mean_with_the_spread_around_it() {
        let mut runs = ModeRuns::default();
        runs.reps
            .insert(1, stats::Figures::new(100.0, 2.0, 1.0, 4.0));
        runs.reps
            .insert(2, stats::Figures::new(400.0, 8.0, 1.0, 4.0));
        let m = ModeData {
            mode: SyncCommit::On,
            cells: Vec::new(),
            runs,
            no_standby: 0,
            merged: crate::load::metrics::new_histogram(),
            changes: None,
        };
        let tps = m.shown(Metric::Tps).unwrap();
        assert!((tps.value - 200.0).abs() < 1e-9, "{tps:?}");
        assert_eq!((tps.min, tps.max, tps.n), (100.0, 400.0, 2));
        assert_eq!(m.shown(Metric::Mean).unwrap().top(), 8.0);
        assert!(m.change(Metric::Tps).is_none());
    }
}
