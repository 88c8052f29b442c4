//! Warnings about a results folder: what a reader must know before trusting a figure, in order
//! of weight (what would make a figure wrong first, noise last).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use super::stats::Metric;
use super::{Excluded, ExcludedCell, Group};
use crate::pg::mode::SyncCommit;
use crate::sweep::folder::{GroupKey, Results};

/// Something the reader must know before trusting a figure.
#[derive(Debug, Clone, PartialEq)]
pub enum Warning {
    NoSyncStandby {
        cell: String,
        mode: SyncCommit,
    },
    NoTransactions {
        cell: String,
    },
    Missing {
        planned: usize,
        missing: Vec<String>,
    },
    NoBaseline {
        group: GroupKey,
        baseline: SyncCommit,
    },
    /// Both sides have figures but too few seconds with transactions for an interval.
    NoInterval {
        group: GroupKey,
        mode: SyncCommit,
    },
    Failures {
        cell: String,
        failed: u64,
        transactions: u64,
        by_kind: BTreeMap<String, u64>,
    },
    ClientsLost {
        cell: String,
        lost: usize,
        clients: usize,
    },
    Interrupted {
        cell: String,
    },
    Noise {
        group: GroupKey,
        baseline: SyncCommit,
        items: Vec<(SyncCommit, Metric)>,
    },
    /// Cells of one folder ran on different clusters (system identifier, cells).
    SeveralClusters {
        clusters: Vec<(String, usize)>,
    },
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Warning::NoSyncStandby { cell, mode } => write!(
                f,
                "{cell} ran {mode} without an attached synchronous standby: its commits waited for no \
                 standby, so it is left out of the {mode} figures and changes"
            ),
            Warning::SeveralClusters { clusters } => {
                let each: Vec<String> = clusters
                    .iter()
                    .map(|(id, n)| format!("system identifier {id}: {n} cells"))
                    .collect();
                write!(
                    f,
                    "THE CELLS OF THIS FOLDER RAN ON {} DIFFERENT CLUSTERS ({}): changes between \
                     cells of different clusters measure the clusters as much as the modes",
                    clusters.len(),
                    each.join("; ")
                )
            }
            Warning::NoTransactions { cell } => write!(
                f,
                "{cell}: no transaction succeeded; it is left out of the figures"
            ),
            Warning::Missing { planned, missing } => write!(
                f,
                "{} of {planned} planned cells have no results (the sweep was interrupted or is still \
                 running): {}",
                missing.len(),
                missing.join(", ")
            ),
            Warning::NoBaseline { group, baseline } => write!(
                f,
                "{group}: no {baseline} cell counts, so this group shows no changes against the baseline"
            ),
            Warning::NoInterval { group, mode } => write!(
                f,
                "{group}: {mode} and the baseline have too few seconds with transactions for an \
                 interval (at least 2 on each side), so no change is shown"
            ),
            Warning::Failures {
                cell,
                failed,
                transactions,
                by_kind,
            } => {
                let total = failed + transactions;
                let share = if total > 0 {
                    *failed as f64 * 100.0 / total as f64
                } else {
                    0.0
                };
                let kinds: Vec<String> = by_kind.iter().map(|(k, n)| format!("{k}: {n}")).collect();
                write!(
                    f,
                    "{cell}: {failed} failed transactions ({share:.2}% of {total}), by SQLSTATE: {}",
                    kinds.join(", ")
                )
            }
            Warning::ClientsLost {
                cell,
                lost,
                clients,
            } => write!(
                f,
                "{cell}: {lost} of {clients} clients lost their connection; the figures count only what \
                 the others ran"
            ),
            Warning::Interrupted { cell } => write!(
                f,
                "{cell}: the run was interrupted before its planned duration"
            ),
            Warning::Noise {
                group,
                baseline,
                items,
            } => {
                let items: Vec<String> = items
                    .iter()
                    .map(|(m, k)| format!("{m} {}", k.name()))
                    .collect();
                write!(
                    f,
                    "{group}: noise against {baseline} (the interval includes 0) for {}",
                    items.join(", ")
                )
            }
        }
    }
}

/// Warnings in order of weight: what would make a figure wrong first, noise last.
pub(super) fn of(results: &Results, excluded: &[ExcludedCell], groups: &[Group]) -> Vec<Warning> {
    let mut out = Vec::new();
    let clusters = results.clusters();
    if clusters.len() > 1 {
        out.push(Warning::SeveralClusters { clusters });
    }
    for e in excluded {
        out.push(match e.why {
            Excluded::NoSyncStandby => Warning::NoSyncStandby {
                cell: e.id.clone(),
                mode: e.mode,
            },
            Excluded::NoTransactions => Warning::NoTransactions { cell: e.id.clone() },
        });
    }
    let done: BTreeSet<String> = results.cells.iter().map(|c| c.cell.id()).collect();
    let missing: Vec<String> = results
        .manifest
        .order
        .iter()
        .filter(|id| !done.contains(*id))
        .cloned()
        .collect();
    if !missing.is_empty() {
        out.push(Warning::Missing {
            planned: results.manifest.order.len(),
            missing,
        });
    }
    let baseline = results.manifest.plan.baseline;
    let compared = || groups.iter().filter(|g| super::compares(results, &g.key));
    for g in compared() {
        let base = g.mode(baseline);
        if base.is_none_or(|m| m.figures().is_none()) {
            out.push(Warning::NoBaseline {
                group: g.key,
                baseline,
            });
            continue;
        }
        for m in &g.modes {
            if m.mode != baseline && m.figures().is_some() && m.changes.is_none() {
                out.push(Warning::NoInterval {
                    group: g.key,
                    mode: m.mode,
                });
            }
        }
    }
    for c in &results.cells {
        let s = &c.run.summary;
        let id = c.cell.id();
        if s.failed > 0 {
            out.push(Warning::Failures {
                cell: id.clone(),
                failed: s.failed,
                transactions: s.transactions,
                by_kind: c.run.failures.clone(),
            });
        }
        if s.clients_lost > 0 {
            out.push(Warning::ClientsLost {
                cell: id.clone(),
                lost: s.clients_lost,
                clients: c.cell.clients,
            });
        }
        if s.interrupted {
            out.push(Warning::Interrupted { cell: id });
        }
    }
    for g in compared() {
        let items: Vec<(SyncCommit, Metric)> = g
            .modes
            .iter()
            .filter_map(|m| m.changes.as_ref().map(|c| (m.mode, c)))
            .flat_map(|(mode, c)| {
                Metric::ALL
                    .into_iter()
                    .zip(c)
                    .filter(|(_, ch)| ch.is_noise())
                    .map(move |(k, _)| (mode, k))
            })
            .collect();
        if !items.is_empty() {
            out.push(Warning::Noise {
                group: g.key,
                baseline,
                items,
            });
        }
    }
    out
}
