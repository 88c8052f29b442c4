//! What the charts show: the analysis of the results folder (src/analysis/mod.rs), the same
//! one the report's tables come from, so a chart and a table never disagree; plus what only a
//! chart needs, each mode's counted latencies merged in one histogram.

use std::collections::BTreeMap;
use std::ops::Deref;

use hdrhistogram::Histogram;

use super::ChartError;
use crate::analysis::{self, Analysis};
use crate::load::metrics::decode_histogram;
use crate::load::workload::Builtin;
use crate::pg::mode::SyncCommit;
use crate::sweep::folder::{GroupKey, LoadKey};

pub use crate::analysis::Spread;

/// One mode of one group, as analysed, with its counted cells' latencies (µs) in one histogram.
pub struct ModeData<'a> {
    data: &'a analysis::ModeData<'a>,
    pub merged: Histogram<u64>,
}

impl<'a> Deref for ModeData<'a> {
    type Target = analysis::ModeData<'a>;

    fn deref(&self) -> &Self::Target {
        self.data
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
        self.modes.iter().map(|m| m.counted()).max().unwrap_or(0)
    }
}

/// The analysis' groups, with the modes that ran and their histograms.
pub fn groups<'a>(analysis: &'a Analysis<'a>) -> Result<Vec<Group<'a>>, ChartError> {
    analysis
        .groups
        .iter()
        .map(|g| {
            let modes = g
                .ran()
                .map(|m| {
                    Ok(ModeData {
                        data: m,
                        merged: merged(m)?,
                    })
                })
                .collect::<Result<Vec<_>, ChartError>>()?;
            Ok(Group { key: g.key, modes })
        })
        .collect()
}

/// The counted cells' histograms added up.
fn merged(m: &analysis::ModeData<'_>) -> Result<Histogram<u64>, ChartError> {
    let mut merged = crate::load::metrics::new_histogram();
    for c in m.cells.iter().filter(|c| analysis::cell_figures(c).is_ok()) {
        let h = decode_histogram(&c.run.histogram.data).map_err(|e| ChartError::Histogram {
            cell: c.cell.id(),
            reason: e.to_string(),
        })?;
        merged.add(&h).map_err(|e| ChartError::Histogram {
            cell: c.cell.id(),
            reason: format!("{e:?}"),
        })?;
    }
    Ok(merged)
}

/// Groups that differ only in their client count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ScalingKey {
    pub workload: Builtin,
    pub scale: i64,
    pub threads: usize,
    pub rtt_ms: u32,
    pub rate: Option<u32>,
}

impl ScalingKey {
    pub fn of(g: &GroupKey) -> ScalingKey {
        ScalingKey {
            workload: g.workload,
            scale: g.scale,
            threads: g.threads,
            rtt_ms: g.rtt_ms,
            rate: g.rate,
        }
    }
}

/// For every load with groups at offered rates, those groups by rate.
pub fn offered<'g, 'a>(groups: &'g [Group<'a>]) -> Vec<(LoadKey, Vec<&'g Group<'a>>)> {
    let mut sets: BTreeMap<LoadKey, Vec<&Group>> = BTreeMap::new();
    for g in groups.iter().filter(|g| g.key.rate.is_some()) {
        sets.entry(g.key.load()).or_default().push(g);
    }
    sets.into_iter()
        .map(|(k, mut gs)| {
            gs.sort_by_key(|g| g.key.rate);
            (k, gs)
        })
        .collect()
}

/// For every set of groups that ran at two or more client counts, those groups by clients.
pub fn scaling<'g, 'a>(
    groups: impl IntoIterator<Item = &'g Group<'a>>,
) -> Vec<(ScalingKey, Vec<&'g Group<'a>>)>
where
    'a: 'g,
{
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
