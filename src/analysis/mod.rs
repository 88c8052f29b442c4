//! What a results folder says, once for every reader (report, charts, compare): the cells
//! sorted into groups and modes, which of them count for their mode and why the others do not,
//! each mode's figures (geometric means over repetitions) and its change against the baseline,
//! and the warnings a reader must see before trusting a figure.
//!
//! `stats` below is pure mathematics and imports nothing of the project; this module is the
//! domain glue around it. Owns every figure and change shown. Must not render.

pub mod compare;
pub mod stats;
mod warnings;

use std::collections::{BTreeMap, BTreeSet};

pub use warnings::Warning;

use crate::load::metrics::TimelinePoint;
use crate::load::run_result::Summary;
use crate::pg::mode::SyncCommit;
use crate::sweep::folder::{CellResult, GroupKey, Results};
use stats::{Bootstrap, Change, Figures, Metric, Sampled, bootstrap, paired, welch};

/// A run's overall figures; None when it has no positive value to take a ratio of (no
/// transaction succeeded).
pub fn summary_figures(s: &Summary) -> Option<Figures> {
    let l = s.latency_ms.as_ref()?;
    Figures::new(s.tps, l.mean, l.p50, l.p99).positive()
}

/// One second of a run's timeline; None for an interval without transactions, which has no
/// latency to resample.
pub fn second_figures(p: &TimelinePoint) -> Option<Figures> {
    if p.transactions == 0 || p.duration <= 0.0 {
        return None;
    }
    let l = p.latency.as_ref()?;
    Figures::new(p.tps, l.mean, l.p50, l.p99).positive()
}

/// Why a finished cell does not count in the figures of its mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Excluded {
    /// A remote_write/on/remote_apply cell that ran without an attached synchronous standby:
    /// its commits waited for nobody, so its figures are not that mode's.
    NoSyncStandby,
    /// No transaction succeeded: nothing to take a ratio of.
    NoTransactions,
}

impl std::fmt::Display for Excluded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Excluded::NoSyncStandby => "no synchronous standby was attached",
            Excluded::NoTransactions => "no transaction succeeded",
        })
    }
}

/// Whether a cell's figures stand for its mode, and if so what they are.
pub fn cell_figures(cell: &CellResult) -> Result<Figures, Excluded> {
    if cell.cell.mode.waits_for_standby() && !cell.sync_standby_attached {
        return Err(Excluded::NoSyncStandby);
    }
    summary_figures(&cell.run.summary).ok_or(Excluded::NoTransactions)
}

/// The cells of one group and mode that count, by repetition.
#[derive(Debug, Clone, Default)]
pub struct ModeRuns {
    /// Repetition → overall figures.
    pub reps: BTreeMap<u32, Figures>,
    /// Every counted cell's per-second samples, pooled.
    pub seconds: Vec<Figures>,
}

impl ModeRuns {
    pub fn add(&mut self, cell: &CellResult) -> Result<(), Excluded> {
        let f = cell_figures(cell)?;
        self.reps.insert(cell.cell.repetition, f);
        self.seconds
            .extend(cell.run.timeline.iter().filter_map(second_figures));
        Ok(())
    }

    /// The figures shown for the mode: geometric means over repetitions, so that shown figures
    /// divide into the changes the intervals are centred on.
    pub fn figures(&self) -> Option<Figures> {
        Figures::geometric_mean(&self.reps.values().copied().collect::<Vec<_>>())
    }

    fn sampled(&self) -> Option<Sampled<'_>> {
        Some(Sampled {
            point: self.figures()?,
            seconds: &self.seconds,
        })
    }

    fn column(figures: &[Figures], m: Metric) -> Vec<f64> {
        figures.iter().map(|f| f.get(m)).collect()
    }
}

fn per_metric(f: impl Fn(Metric) -> Option<Change>) -> Option<[Change; 4]> {
    let out = Metric::ALL.map(f);
    out.iter()
        .all(Option::is_some)
        .then(|| out.map(Option::unwrap))
}

/// A mode against the baseline of the same sweep: paired t over the repetitions both have when
/// there are two or more, else a bootstrap over all their seconds.
pub fn versus_baseline(base: &ModeRuns, mode: &ModeRuns, cfg: Bootstrap) -> Option<[Change; 4]> {
    let pairs: Vec<(Figures, Figures)> = base
        .reps
        .iter()
        .filter_map(|(rep, b)| mode.reps.get(rep).map(|m| (*b, *m)))
        .collect();
    if pairs.len() >= 2 {
        let (b, m): (Vec<Figures>, Vec<Figures>) = pairs.into_iter().unzip();
        return per_metric(|k| paired(&ModeRuns::column(&b, k), &ModeRuns::column(&m, k)));
    }
    bootstrap(base.sampled()?, mode.sampled()?, cfg)
}

/// The same group and mode in two independent sweeps: Welch's t when both have two or more
/// repetitions, else a bootstrap over their seconds.
pub fn between_sweeps(base: &ModeRuns, new: &ModeRuns, cfg: Bootstrap) -> Option<[Change; 4]> {
    if base.reps.len() >= 2 && new.reps.len() >= 2 {
        let b: Vec<Figures> = base.reps.values().copied().collect();
        let n: Vec<Figures> = new.reps.values().copied().collect();
        return per_metric(|k| welch(&ModeRuns::column(&b, k), &ModeRuns::column(&n, k)));
    }
    bootstrap(base.sampled()?, new.sampled()?, cfg)
}

/// A cell that did not count, and why.
#[derive(Debug, Clone)]
pub struct ExcludedCell {
    pub id: String,
    pub mode: SyncCommit,
    pub why: Excluded,
}

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
#[derive(Debug, Clone)]
pub struct ModeData<'a> {
    pub mode: SyncCommit,
    /// Every finished cell, in repetition order.
    pub cells: Vec<&'a CellResult>,
    /// The repetitions that count.
    pub runs: ModeRuns,
    /// Cells left out because this mode waits for a standby and none was attached.
    pub no_standby: usize,
    /// Against the baseline, per [`Metric::ALL`]; None for the baseline itself or when either
    /// side has too little for an interval.
    pub changes: Option<[Change; 4]>,
}

impl ModeData<'_> {
    /// Repetitions whose figures count.
    pub fn counted(&self) -> usize {
        self.runs.reps.len()
    }

    /// Finished cells, counted or not.
    pub fn finished(&self) -> usize {
        self.cells.len()
    }

    pub fn figures(&self) -> Option<Figures> {
        self.runs.figures()
    }

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

/// The modes of one group: the plan's, any that ran, and the baseline, in durability order.
#[derive(Debug, Clone)]
pub struct Group<'a> {
    pub key: GroupKey,
    pub modes: Vec<ModeData<'a>>,
}

impl<'a> Group<'a> {
    pub fn mode(&self, mode: SyncCommit) -> Option<&ModeData<'a>> {
        self.modes.iter().find(|m| m.mode == mode)
    }

    /// The modes that have finished cells.
    pub fn ran(&self) -> impl Iterator<Item = &ModeData<'a>> {
        self.modes.iter().filter(|m| !m.cells.is_empty())
    }

    /// The most repetitions any mode counts.
    pub fn repetitions(&self) -> usize {
        self.modes.iter().map(ModeData::counted).max().unwrap_or(0)
    }
}

/// A results folder analysed.
pub struct Analysis<'a> {
    pub results: &'a Results,
    /// Sorted by key.
    pub groups: Vec<Group<'a>>,
    /// What a capacity search found, when the folder holds one.
    pub capacity: Option<crate::capacity::CapacityResult>,
    /// Finished cells that do not count for their mode, in run order.
    pub excluded: Vec<ExcludedCell>,
    /// In order of weight: what would make a figure wrong first, noise last.
    pub warnings: Vec<Warning>,
}

impl<'a> Analysis<'a> {
    pub fn of(results: &'a Results) -> Analysis<'a> {
        let plan = &results.manifest.plan;
        let mut cells: BTreeMap<GroupKey, BTreeMap<SyncCommit, Vec<&CellResult>>> = BTreeMap::new();
        for cell in &results.cells {
            cells
                .entry(cell.cell.group())
                .or_default()
                .entry(cell.cell.mode)
                .or_default()
                .push(cell);
        }
        let mut excluded = Vec::new();
        let groups = cells
            .into_iter()
            .map(|(key, mut by_mode)| {
                let shown: BTreeSet<SyncCommit> = plan
                    .modes
                    .iter()
                    .copied()
                    .chain(by_mode.keys().copied())
                    .chain([plan.baseline])
                    .collect();
                let mut modes: Vec<ModeData> = shown
                    .into_iter()
                    .map(|mode| {
                        let mut cells = by_mode.remove(&mode).unwrap_or_default();
                        cells.sort_by_key(|c| c.cell.repetition);
                        mode_data(mode, cells, &mut excluded)
                    })
                    .collect();
                let base = modes
                    .iter()
                    .find(|m| m.mode == plan.baseline)
                    .map(|m| m.runs.clone())
                    .unwrap_or_default();
                for m in modes.iter_mut().filter(|m| m.mode != plan.baseline) {
                    m.changes = versus_baseline(&base, &m.runs, Bootstrap::default());
                }
                Group { key, modes }
            })
            .collect::<Vec<_>>();
        // Run order, as the results list their cells.
        let order: BTreeMap<String, usize> = results
            .cells
            .iter()
            .enumerate()
            .map(|(i, c)| (c.cell.id(), i))
            .collect();
        excluded.sort_by_key(|e: &ExcludedCell| order.get(&e.id).copied());
        let warnings = warnings::of(results, &excluded, &groups);
        Analysis {
            results,
            groups,
            capacity: crate::capacity::result::of(plan, &results.cells),
            excluded,
            warnings,
        }
    }
}

/// Whether a group's modes are compared with the baseline: every group of a sweep; of a
/// capacity search only its closed-loop cells, as each mode probes rates of its own.
pub fn compares(results: &Results, group: &GroupKey) -> bool {
    results.manifest.plan.capacity.is_none() || group.rate.is_none()
}

impl Analysis<'_> {
    /// The groups whose modes are compared with the baseline ([`compares`]).
    pub fn compared(&self) -> impl Iterator<Item = &Group<'_>> {
        self.groups
            .iter()
            .filter(|g| compares(self.results, &g.key))
    }

    /// The repetitions of `mode` in `group` that count.
    pub fn runs(&self, group: &GroupKey, mode: SyncCommit) -> Option<&ModeRuns> {
        self.groups
            .iter()
            .find(|g| &g.key == group)?
            .mode(mode)
            .map(|m| &m.runs)
    }
}

fn mode_data<'a>(
    mode: SyncCommit,
    cells: Vec<&'a CellResult>,
    excluded: &mut Vec<ExcludedCell>,
) -> ModeData<'a> {
    let mut runs = ModeRuns::default();
    let mut no_standby = 0;
    for c in &cells {
        if let Err(why) = runs.add(c) {
            if why == Excluded::NoSyncStandby {
                no_standby += 1;
            }
            excluded.push(ExcludedCell {
                id: c.cell.id(),
                mode,
                why,
            });
        }
    }
    ModeData {
        mode,
        cells,
        runs,
        no_standby,
        changes: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use stats::Method;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    fn seconds(tps: &[f64], lat: f64) -> Vec<Figures> {
        tps.iter()
            .enumerate()
            .map(|(i, t)| {
                let wobble = 1.0 + 0.02 * ((i % 5) as f64 - 2.0);
                Figures::new(*t, lat * wobble, lat * 0.9 * wobble, lat * 3.0 * wobble)
            })
            .collect()
    }

    fn runs(reps: &[(u32, f64)], seconds_tps: &[f64]) -> ModeRuns {
        ModeRuns {
            reps: reps
                .iter()
                .map(|&(r, lat)| (r, Figures::new(8000.0 / lat, lat, lat * 0.9, lat * 3.0)))
                .collect(),
            seconds: seconds(seconds_tps, 5.0),
        }
    }

    #[test]
    fn versus_baseline_pairs_repetitions_and_falls_back_to_the_bootstrap() {
        let secs = [1000.0, 1010.0, 990.0];
        let base = runs(&[(1, 2.0), (2, 2.2)], &secs);
        let slow = runs(&[(1, 4.0), (2, 4.4)], &secs);
        let [tps, lat, ..] = versus_baseline(&base, &slow, Bootstrap::default()).unwrap();
        assert_eq!(lat.method, Method::Paired { pairs: 2 });
        assert!(close(lat.percent(), 100.0, 1e-9) && close(tps.percent(), -50.0, 1e-9));
        // Only repetition 2 on both sides: one pair, so the seconds decide the interval.
        let one = runs(&[(2, 4.4)], &secs);
        let c = versus_baseline(&base, &one, Bootstrap::default()).unwrap();
        assert!(c[1].method.is_bootstrap());
        // Point estimate: 4.4 over the geometric mean of 2.0 and 2.2.
        assert!(close(c[1].ratio, 4.4 / (2.0f64 * 2.2).sqrt(), 1e-9));
        assert!(versus_baseline(&base, &ModeRuns::default(), Bootstrap::default()).is_none());
    }

    #[test]
    fn between_sweeps_is_welch_with_two_repetitions_a_side() {
        let secs = [1000.0, 1010.0, 990.0];
        let base = runs(&[(1, 2.0), (2, 2.2)], &secs);
        let new = runs(&[(1, 2.6), (2, 2.86)], &secs);
        let c = between_sweeps(&base, &new, Bootstrap::default()).unwrap();
        assert!(matches!(
            c[1].method,
            Method::Welch {
                base: 2,
                new: 2,
                ..
            }
        ));
        assert!(close(c[1].percent(), 30.0, 1e-9));
        let single = runs(&[(1, 2.6)], &secs);
        assert!(
            between_sweeps(&base, &single, Bootstrap::default()).unwrap()[1]
                .method
                .is_bootstrap()
        );
    }

    #[test]
    fn the_shown_figure_is_the_geometric_mean_with_the_spread_around_it() {
        let mut runs = ModeRuns::default();
        runs.reps.insert(1, Figures::new(100.0, 2.0, 1.0, 4.0));
        runs.reps.insert(2, Figures::new(400.0, 8.0, 1.0, 4.0));
        let m = ModeData {
            mode: SyncCommit::On,
            cells: Vec::new(),
            runs,
            no_standby: 0,
            changes: None,
        };
        let tps = m.shown(Metric::Tps).unwrap();
        assert!((tps.value - 200.0).abs() < 1e-9, "{tps:?}");
        assert_eq!((tps.min, tps.max, tps.n), (100.0, 400.0, 2));
        assert_eq!(m.shown(Metric::Mean).unwrap().top(), 8.0);
        assert!(m.change(Metric::Tps).is_none());
    }
}
