//! What the charts show, gathered from a results folder: per group and mode, the spread of the
//! repetitions and their merged histogram; per workload/scale/threads/RTT, the groups by clients.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;

use super::ChartError;
use crate::metrics::decode_histogram;
use crate::mode::SyncCommit;
use crate::results::{CellResult, GroupKey, Results};
use crate::workload::Builtin;

/// Mean, minimum and maximum of one figure over repetitions.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spread {
    pub mean: f64,
    pub min: f64,
    pub max: f64,
    pub n: usize,
}

impl Spread {
    pub fn of(values: impl IntoIterator<Item = f64>) -> Option<Spread> {
        let mut n = 0;
        let (mut sum, mut min, mut max) = (0.0, f64::INFINITY, f64::NEG_INFINITY);
        for v in values.into_iter().filter(|v| v.is_finite()) {
            n += 1;
            sum += v;
            min = min.min(v);
            max = max.max(v);
        }
        (n > 0).then(|| Spread {
            mean: sum / n as f64,
            min,
            max,
            n,
        })
    }

    /// The highest point a bar or whisker of this spread reaches.
    pub fn top(&self) -> f64 {
        self.max.max(self.mean)
    }
}

/// One mode of one group, over its repetitions.
pub struct ModeData<'a> {
    pub mode: SyncCommit,
    pub cells: Vec<&'a CellResult>,
    pub tps: Option<Spread>,
    /// Mean latency in ms; None when no repetition completed a transaction.
    pub latency_mean: Option<Spread>,
    pub latency_p99: Option<Spread>,
    /// All repetitions' latencies (µs) in one histogram.
    pub merged: Histogram<u64>,
    /// A mode that waits for a standby ran at least once without a synchronous standby: its
    /// figures do not show what that mode costs.
    pub missing_sync_standby: bool,
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

    pub fn repetitions(&self) -> usize {
        self.modes.iter().map(|m| m.cells.len()).max().unwrap_or(0)
    }
}

/// The groups of a results set, sorted by key.
pub fn groups(results: &Results) -> Result<Vec<Group<'_>>, ChartError> {
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
            let modes = modes
                .into_iter()
                .map(|(mode, mut cells)| {
                    cells.sort_by_key(|c| c.cell.repetition);
                    mode_data(mode, cells)
                })
                .collect::<Result<_, _>>()?;
            Ok(Group { key, modes })
        })
        .collect()
}

fn mode_data(mode: SyncCommit, cells: Vec<&CellResult>) -> Result<ModeData<'_>, ChartError> {
    let mut merged = crate::metrics::new_histogram();
    for c in &cells {
        let h = decode_histogram(&c.run.histogram.data).map_err(|e| ChartError::Histogram {
            cell: c.cell.id(),
            reason: e.to_string(),
        })?;
        merged.add(&h).map_err(|e| ChartError::Histogram {
            cell: c.cell.id(),
            reason: format!("{e:?}"),
        })?;
    }
    let latency = |f: fn(&crate::metrics::LatencySummary) -> f64| {
        Spread::of(
            cells
                .iter()
                .filter_map(|c| c.run.summary.latency_ms.as_ref().map(f)),
        )
    };
    Ok(ModeData {
        mode,
        tps: Spread::of(cells.iter().map(|c| c.run.summary.tps)),
        latency_mean: latency(|l| l.mean),
        latency_p99: latency(|l| l.p99),
        merged,
        missing_sync_standby: mode.waits_for_standby()
            && cells.iter().any(|c| !c.sync_standby_attached),
        cells,
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

/// Change of `value` against `base` in percent; None when there is no meaningful base.
pub fn change_pct(value: f64, base: f64) -> Option<f64> {
    (base.is_finite() && base != 0.0 && value.is_finite()).then(|| (value - base) / base * 100.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_ignores_non_finite_values() {
        let s = Spread::of([2.0, 4.0, f64::NAN, 3.0]).unwrap();
        assert_eq!((s.mean, s.min, s.max, s.n), (3.0, 2.0, 4.0, 3));
        assert!(Spread::of([]).is_none());
    }

    #[test]
    fn change_needs_a_base() {
        assert_eq!(change_pct(5.37, 1.95).map(|p| p.round()), Some(175.0));
        assert_eq!(change_pct(1.0, 0.0), None);
    }
}
