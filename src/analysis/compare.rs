//! Two sweeps side by side: each (group, mode) both have, each metric's change from base to new
//! with its 95% interval, and a verdict that counts a change only when the whole interval lies
//! beyond the threshold. Regressions decide the exit code; src/report/compare.rs writes the table.

use std::collections::BTreeSet;
use std::fmt;

use super::stats::{Bootstrap, Change, Direction, Metric};
use super::{Analysis, between_sweeps};
use crate::pg::mode::SyncCommit;
use crate::sweep::folder::{GroupKey, Results};

pub const DEFAULT_THRESHOLD_PCT: f64 = 5.0;

#[derive(Debug, thiserror::Error)]
pub enum CompareError {
    #[error("{0} holds no finished cell: give a folder with at least one cell result")]
    NoCells(String),
    #[error(
        "no cell of {new} matches one of {base} (same workload, scale, clients, threads, RTT and mode): compare sweeps of the same plan"
    )]
    NothingMatched { base: String, new: String },
    #[error(
        "the cells that match have too few seconds with transactions to compare (at least 2 a side): measure longer"
    )]
    TooFewSamples,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Regressed,
    Improved,
    /// The interval reaches into ±threshold.
    Unchanged,
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Verdict::Regressed => "regressed",
            Verdict::Improved => "improved",
            Verdict::Unchanged => "no change",
        })
    }
}

pub fn verdict(metric: Metric, change: &Change, threshold_pct: f64) -> Verdict {
    match (change.beyond(threshold_pct), metric.higher_is_better()) {
        (None, _) => Verdict::Unchanged,
        (Some(Direction::Up), true) | (Some(Direction::Down), false) => Verdict::Improved,
        (Some(Direction::Up), false) | (Some(Direction::Down), true) => Verdict::Regressed,
    }
}

#[derive(Debug, Clone)]
pub struct Row {
    pub group: GroupKey,
    pub mode: SyncCommit,
    pub metric: Metric,
    pub base: f64,
    pub new: f64,
    pub change: Change,
    pub verdict: Verdict,
}

#[derive(Debug, Clone)]
pub struct Comparison {
    pub base_dir: String,
    pub new_dir: String,
    pub threshold_pct: f64,
    pub rows: Vec<Row>,
    /// (group, mode) with counted cells on one side only.
    pub only_base: Vec<(GroupKey, SyncCommit)>,
    pub only_new: Vec<(GroupKey, SyncCommit)>,
    /// Cells left out on either side, and why.
    pub excluded: Vec<String>,
    /// Differences in how the two sweeps ran that may explain a change.
    pub notes: Vec<String>,
}

impl Comparison {
    pub fn regressions(&self) -> usize {
        self.rows
            .iter()
            .filter(|r| r.verdict == Verdict::Regressed)
            .count()
    }

    pub fn improvements(&self) -> usize {
        self.rows
            .iter()
            .filter(|r| r.verdict == Verdict::Improved)
            .count()
    }
}

pub fn compare(
    base: &Results,
    new: &Results,
    threshold_pct: f64,
) -> Result<Comparison, CompareError> {
    let name = |r: &Results| r.dir.display().to_string();
    for r in [base, new] {
        if r.cells.is_empty() {
            return Err(CompareError::NoCells(name(r)));
        }
    }
    let (sb, sn) = (Analysis::of(base), Analysis::of(new));
    let keys = |a: &Analysis| -> BTreeSet<(GroupKey, SyncCommit)> {
        a.groups
            .iter()
            .flat_map(|g| {
                g.modes
                    .iter()
                    .filter(|m| m.counted() > 0)
                    .map(move |m| (g.key, m.mode))
            })
            .collect()
    };
    let (kb, kn) = (keys(&sb), keys(&sn));
    let mut rows = Vec::new();
    let mut notes = Vec::new();
    for (group, mode) in kb.intersection(&kn) {
        let (Some(rb), Some(rn)) = (sb.runs(group, *mode), sn.runs(group, *mode)) else {
            continue;
        };
        let (Some(fb), Some(fnew), Some(changes)) = (
            rb.figures(),
            rn.figures(),
            between_sweeps(rb, rn, Bootstrap::default()),
        ) else {
            notes.push(format!(
                "{group} {mode}: too few seconds with transactions for an interval, not compared"
            ));
            continue;
        };
        for (metric, change) in Metric::ALL.into_iter().zip(changes) {
            rows.push(Row {
                group: *group,
                mode: *mode,
                metric,
                base: fb.get(metric),
                new: fnew.get(metric),
                verdict: verdict(metric, &change, threshold_pct),
                change,
            });
        }
    }
    if rows.is_empty() && kb.intersection(&kn).next().is_some() {
        return Err(CompareError::TooFewSamples);
    }
    if rows.is_empty() {
        return Err(CompareError::NothingMatched {
            base: name(base),
            new: name(new),
        });
    }
    let excluded = [("base", &sb), ("new", &sn)]
        .iter()
        .flat_map(|(side, s)| {
            s.excluded
                .iter()
                .map(move |e| format!("{side} {}: left out, {}", e.id, e.why))
        })
        .collect();
    Ok(Comparison {
        base_dir: name(base),
        new_dir: name(new),
        threshold_pct,
        rows,
        only_base: kb.difference(&kn).copied().collect(),
        only_new: kn.difference(&kb).copied().collect(),
        excluded,
        notes: several_clusters(base, new)
            .into_iter()
            .chain(notes)
            .chain(differences(base, new))
            .collect(),
    })
}

/// A loud note for each side whose cells ran on more than one cluster.
fn several_clusters(base: &Results, new: &Results) -> Vec<String> {
    [("base", base), ("new", new)]
        .iter()
        .filter_map(|(side, r)| {
            let clusters = r.clusters();
            (clusters.len() > 1).then(|| {
                format!(
                    "WARNING: the {side} folder {} mixes cells from {} clusters (system identifiers {}): its figures measure the clusters as much as the modes",
                    r.dir.display(),
                    clusters.len(),
                    clusters
                        .iter()
                        .map(|(id, n)| format!("{id} ×{n}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })
        })
        .collect()
}

/// What differs between the sweeps' setups, beyond what is being compared.
fn differences(base: &Results, new: &Results) -> Vec<String> {
    let (b, n) = (&base.manifest, &new.manifest);
    let mut out = Vec::new();
    let mut differ = |what: &str, x: String, y: String| {
        if x != y {
            out.push(format!("{what} differs: {x} (base) vs {y} (new)"));
        }
    };
    differ(
        "PostgreSQL",
        b.environment.postgres_version.clone(),
        n.environment.postgres_version.clone(),
    );
    differ(
        "Patroni",
        format!("{:?}", b.environment.patroni_version),
        format!("{:?}", n.environment.patroni_version),
    );
    differ(
        "host CPUs",
        b.environment.host_cpus.to_string(),
        n.environment.host_cpus.to_string(),
    );
    differ(
        "measured seconds per cell",
        b.plan.duration.to_string(),
        n.plan.duration.to_string(),
    );
    differ(
        "warmup seconds",
        b.plan.warmup.to_string(),
        n.plan.warmup.to_string(),
    );
    differ(
        "query protocol",
        b.plan.protocol.as_str().into(),
        n.plan.protocol.as_str().into(),
    );
    differ(
        "pgsyncbench",
        b.harness.version.clone(),
        n.harness.version.clone(),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::stats::Method;

    fn change(low: f64, high: f64) -> Change {
        Change {
            ratio: (low + high) / 2.0,
            low,
            high,
            method: Method::Paired { pairs: 2 },
        }
    }

    #[test]
    fn latency_up_and_tps_down_are_regressions() {
        let up = change(1.10, 1.30);
        let down = change(0.70, 0.90);
        assert_eq!(verdict(Metric::P99, &up, 5.0), Verdict::Regressed);
        assert_eq!(verdict(Metric::Tps, &up, 5.0), Verdict::Improved);
        assert_eq!(verdict(Metric::Mean, &down, 5.0), Verdict::Improved);
        assert_eq!(verdict(Metric::Tps, &down, 5.0), Verdict::Regressed);
        // Significant, but the interval reaches into the threshold.
        assert_eq!(
            verdict(Metric::P50, &change(1.02, 1.30), 5.0),
            Verdict::Unchanged
        );
        assert_eq!(
            verdict(Metric::P50, &change(1.02, 1.30), 1.0),
            Verdict::Regressed
        );
    }
}
