//! What a sweep's results folder says: headline tables of each group with changes against the
//! baseline, warnings, charts, the cells as they ran, the method and the environment. Built from
//! the stored results alone, then written as Markdown or as one self-contained HTML page.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::Path;

use crate::analysis::stats::{self, Bootstrap, Change, Excluded, Figures, Metric, Sorted};
use crate::pg::mode::SyncCommit;
use crate::report::doc::{Align, Block, Cell, Doc, Table, Tone};
use crate::sweep::folder::{CellResult, GroupKey, Results};

pub use crate::charts::ChartFile;

/// report.md: charts are linked by their SVG's path relative to the results folder.
pub fn render_markdown(results: &Results, charts: &[ChartFile]) -> String {
    Report::of(results).markdown(charts)
}

/// report.html: each chart's SVG text is inlined, so the page needs no other file.
pub fn render_html(results: &Results, charts: &[(ChartFile, String)]) -> String {
    Report::of(results).html(charts)
}

/// One mode of one group.
#[derive(Debug, Clone)]
pub struct ModeRow {
    pub mode: SyncCommit,
    /// Repetitions whose figures count.
    pub counted: usize,
    /// Finished cells, counted or not.
    pub finished: usize,
    pub figures: Option<Figures>,
    /// Against the baseline; None for the baseline itself or when either side has nothing.
    pub changes: Option<[Change; 4]>,
}

#[derive(Debug, Clone)]
pub struct GroupReport {
    pub group: GroupKey,
    pub rows: Vec<ModeRow>,
}

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

/// A results folder analysed, ready to render.
pub struct Report<'a> {
    results: &'a Results,
    pub groups: Vec<GroupReport>,
    pub warnings: Vec<Warning>,
}

impl<'a> Report<'a> {
    pub fn of(results: &'a Results) -> Report<'a> {
        let sorted = Sorted::of(results);
        let groups = group_reports(results, &sorted);
        let warnings = warnings(results, &sorted, &groups);
        Report {
            results,
            groups,
            warnings,
        }
    }

    pub fn markdown(&self, charts: &[ChartFile]) -> String {
        let figures = charts
            .iter()
            .map(|c| self.figure(c, None))
            .collect::<Vec<_>>();
        self.document(figures).markdown()
    }

    pub fn html(&self, charts: &[(ChartFile, String)]) -> String {
        let figures = charts
            .iter()
            .map(|(c, svg)| self.figure(c, Some(svg.clone())))
            .collect::<Vec<_>>();
        self.document(figures).html()
    }

    pub fn figure(&self, chart: &ChartFile, svg: Option<String>) -> Block {
        Block::Figure {
            title: chart.title.clone(),
            path: relative_path(&self.results.dir, &chart.svg),
            svg,
        }
    }

    pub fn document(&self, figures: Vec<Block>) -> Doc {
        let m = &self.results.manifest;
        let mut doc = Doc::new(format!("pgsyncbench report: {}", m.plan.name));
        doc.push(Block::Paragraph(format!(
            "Sweep started {} with pgsyncbench {}{}: {} of {} planned cells finished. Each mode is \
             compared with the baseline, {}: a change is the mode's figure over the baseline's, with \
             its 95% confidence interval in brackets; \"noise\" marks an interval that includes 0.",
            m.created_at,
            m.harness.version,
            m.harness
                .git_revision
                .as_ref()
                .map(|g| format!(" ({g})"))
                .unwrap_or_default(),
            self.results.cells.len(),
            m.order.len(),
            m.plan.baseline
        )));
        doc.push(Block::Heading(2, "Results".into()));
        if self.groups.is_empty() {
            doc.push(Block::Paragraph("No cell has finished yet.".into()));
        }
        for g in &self.groups {
            doc.push(Block::Heading(3, g.group.to_string()));
            doc.push(Block::Table(self.headline(g)));
            if g.rows.iter().any(|r| {
                r.changes
                    .as_ref()
                    .is_some_and(|c| c[0].method.is_bootstrap())
            }) {
                doc.push(Block::Paragraph(
                    "† Fewer than two repetitions pair with the baseline's: the interval comes from \
                     resampling per-second samples and leaves out how much a rerun would differ."
                        .into(),
                ));
            }
        }
        doc.push(Block::Heading(2, "Warnings".into()));
        if self.warnings.is_empty() {
            doc.push(Block::Paragraph("None.".into()));
        } else {
            doc.push(Block::List(
                self.warnings.iter().map(ToString::to_string).collect(),
            ));
        }
        if !figures.is_empty() {
            doc.push(Block::Heading(2, "Charts".into()));
            doc.blocks.extend(figures);
        }
        doc.push(Block::Heading(2, "Cells".into()));
        doc.push(Block::Paragraph(
            "In the order they ran. Replication lag is the largest replay lag of a synchronous standby \
             while the cell was measured; SyncRep is the mean number of sessions waiting for a standby."
                .into(),
        ));
        doc.push(Block::Table(cells_table(self.results)));
        self.method(&mut doc);
        environment(&mut doc, self.results);
        doc
    }

    fn headline(&self, g: &GroupReport) -> Table {
        let mut t = Table::new(&[
            ("mode", Align::Left),
            ("runs", Align::Right),
            ("TPS", Align::Right),
            ("mean ms", Align::Right),
            ("p50 ms", Align::Right),
            ("p99 ms", Align::Right),
            ("Δ TPS", Align::Right),
            ("Δ mean", Align::Right),
            ("Δ p50", Align::Right),
            ("Δ p99", Align::Right),
        ]);
        let plan = &self.results.manifest.plan;
        for r in &g.rows {
            let runs = if r.counted as u32 == plan.repeat {
                r.counted.to_string()
            } else {
                format!("{} of {}", r.counted, plan.repeat)
            };
            let runs_tone = if r.counted < r.finished {
                Tone::Warn
            } else {
                Tone::Plain
            };
            let mut row = vec![Cell::from(r.mode.as_str()), Cell::new(runs, runs_tone)];
            for m in Metric::ALL {
                row.push(match &r.figures {
                    Some(f) if m == Metric::Tps => format!("{:.1}", f.get(m)).into(),
                    Some(f) => fmt_ms(f.get(m)).into(),
                    None => Cell::new("—", Tone::Muted),
                });
            }
            for (i, _) in Metric::ALL.iter().enumerate() {
                row.push(if r.mode == plan.baseline {
                    Cell::new("baseline", Tone::Muted)
                } else {
                    match &r.changes {
                        Some(c) => change_cell(&c[i]),
                        None => Cell::new("—", Tone::Muted),
                    }
                });
            }
            t.row(row);
        }
        t
    }

    fn method(&self, doc: &mut Doc) {
        let m = &self.results.manifest;
        let p = &m.plan;
        let list = |v: Vec<String>| v.join(", ");
        doc.push(Block::Heading(2, "Method".into()));
        let mut t = Table::new(&[("plan", Align::Left), ("value", Align::Left)]);
        let rows: Vec<(&str, String)> = vec![
            ("name", p.name.clone()),
            (
                "workloads",
                list(p.workloads.iter().map(|w| w.name().to_string()).collect()),
            ),
            (
                "modes",
                list(p.modes.iter().map(|m| m.to_string()).collect()),
            ),
            ("baseline", p.baseline.to_string()),
            (
                "scales",
                list(p.scales.iter().map(ToString::to_string).collect()),
            ),
            (
                "clients",
                list(p.clients.iter().map(ToString::to_string).collect()),
            ),
            (
                "threads",
                list(p.threads.iter().map(ToString::to_string).collect()),
            ),
            (
                "added replication RTT (ms)",
                list(p.rtt_ms.iter().map(ToString::to_string).collect()),
            ),
            ("measured seconds per cell", p.duration.to_string()),
            ("warmup seconds per cell", p.warmup.to_string()),
            ("repetitions", p.repeat.to_string()),
            ("query protocol", p.protocol.as_str().to_string()),
            (
                "Patroni synchronous_mode",
                p.synchronous_mode
                    .map(|s| format!("{s:?}").to_lowercase())
                    .unwrap_or_else(|| "left as it was".into()),
            ),
            (
                "Patroni synchronous_mode_strict",
                p.strict
                    .map(|s| s.to_string())
                    .unwrap_or_else(|| "left as it was".into()),
            ),
            ("seed of the mode order", m.seed.to_string()),
        ];
        for (k, v) in rows {
            t.row(vec![k.into(), v.into()]);
        }
        doc.push(Block::Table(t));
        doc.push(Block::Paragraph(
            "Repetitions are interleaved: every mode of repetition 1 runs, then every mode of \
             repetition 2, each repetition in its own order of modes shuffled from the seed, so that \
             slow drift of the machine does not pass for the effect of a mode. Before each cell the \
             mode is applied through Patroni and verified live on the leader; the load warms up, then \
             is measured."
                .into(),
        ));
        doc.push(Block::Paragraph(format!(
            "Statistics. A mode's figures are geometric means over its counted repetitions. A cell \
             does not count when it ran remote_write, on or remote_apply without an attached \
             synchronous standby, or when no transaction succeeded. With two or more repetitions \
             present for both the mode and the baseline, repetition i of the mode is paired with \
             repetition i of the baseline (they ran close in time): the interval is Student's t \
             (n − 1 degrees of freedom) on the mean of the pairs' log ratios, exponentiated. With \
             fewer (marked †), it is a bootstrap over per-second samples: {} resamples of whole \
             seconds on each side (seconds without transactions skipped, fixed seed), the 2.5th and \
             97.5th percentiles of the ratio of means, centred on the change of the overall figures. \
             Every interval is 95%.",
            Bootstrap::default().resamples
        )));
        doc.push(Block::Heading(3, "Order of cells".into()));
        let done: BTreeSet<String> = self.results.cells.iter().map(|c| c.cell.id()).collect();
        let width = m.order.len().to_string().len();
        let order: Vec<String> = m
            .order
            .iter()
            .enumerate()
            .map(|(i, id)| {
                let mark = if done.contains(id) {
                    ""
                } else {
                    "  (no result)"
                };
                format!("{:>width$}  {id}{mark}", i + 1)
            })
            .collect();
        doc.push(Block::Pre(order.join("\n")));
        doc.push(Block::Heading(3, "Command line".into()));
        doc.push(Block::Pre(shell_words(&m.command_line)));
    }
}

fn group_reports(results: &Results, sorted: &Sorted) -> Vec<GroupReport> {
    let plan = &results.manifest.plan;
    let mut finished: BTreeMap<(GroupKey, SyncCommit), usize> = BTreeMap::new();
    for c in &results.cells {
        *finished.entry((c.cell.group(), c.cell.mode)).or_default() += 1;
    }
    let empty = stats::ModeRuns::default();
    sorted
        .groups
        .iter()
        .map(|(group, modes)| {
            let shown: BTreeSet<SyncCommit> = plan
                .modes
                .iter()
                .copied()
                .chain(modes.keys().copied())
                .chain([plan.baseline])
                .collect();
            let base = modes.get(&plan.baseline).unwrap_or(&empty);
            let rows = shown
                .into_iter()
                .map(|mode| {
                    let runs = modes.get(&mode).unwrap_or(&empty);
                    ModeRow {
                        mode,
                        counted: runs.reps.len(),
                        finished: finished.get(&(*group, mode)).copied().unwrap_or(0),
                        figures: runs.figures(),
                        changes: (mode != plan.baseline)
                            .then(|| stats::versus_baseline(base, runs, Bootstrap::default()))
                            .flatten(),
                    }
                })
                .collect();
            GroupReport {
                group: *group,
                rows,
            }
        })
        .collect()
}

/// Warnings in order of weight: what would make a figure wrong first, noise last.
pub fn warnings(results: &Results, sorted: &Sorted, groups: &[GroupReport]) -> Vec<Warning> {
    let mut out = Vec::new();
    let clusters = results.clusters();
    if clusters.len() > 1 {
        out.push(Warning::SeveralClusters { clusters });
    }
    for e in &sorted.excluded {
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
    for g in groups {
        let base = g.rows.iter().find(|r| r.mode == baseline);
        if base.is_none_or(|r| r.figures.is_none()) {
            out.push(Warning::NoBaseline {
                group: g.group,
                baseline,
            });
            continue;
        }
        for r in &g.rows {
            if r.mode != baseline && r.figures.is_some() && r.changes.is_none() {
                out.push(Warning::NoInterval {
                    group: g.group,
                    mode: r.mode,
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
    for g in groups {
        let items: Vec<(SyncCommit, Metric)> = g
            .rows
            .iter()
            .filter_map(|r| r.changes.as_ref().map(|c| (r.mode, c)))
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
                group: g.group,
                baseline,
                items,
            });
        }
    }
    out
}

fn cells_table(results: &Results) -> Table {
    let mut t = Table::new(&[
        ("#", Align::Right),
        ("cell", Align::Left),
        ("sync standby", Align::Left),
        ("TPS", Align::Right),
        ("mean ms", Align::Right),
        ("p99 ms", Align::Right),
        ("failed", Align::Right),
        ("mode live after s", Align::Right),
        ("replication lag max ms", Align::Right),
        ("SyncRep waiting", Align::Right),
    ]);
    let position: BTreeMap<String, usize> = results
        .manifest
        .order
        .iter()
        .enumerate()
        .map(|(i, id)| (id.clone(), i + 1))
        .collect();
    for c in &results.cells {
        let id = c.cell.id();
        let s = &c.run.summary;
        let lat = |f: fn(&crate::load::metrics::LatencySummary) -> f64| {
            s.latency_ms
                .as_ref()
                .map(|l| Cell::from(fmt_ms(f(l))))
                .unwrap_or_else(|| Cell::new("—", Tone::Muted))
        };
        let standby = match (c.sync_standby_attached, c.cell.mode.waits_for_standby()) {
            (true, _) => Cell::from("attached"),
            (false, true) => Cell::new("none: not synchronous", Tone::Warn),
            (false, false) => Cell::new("none", Tone::Muted),
        };
        let (lag, waiting) = replication(c);
        t.row(vec![
            position
                .get(&id)
                .map(ToString::to_string)
                .unwrap_or_default()
                .into(),
            id.into(),
            standby,
            format!("{:.1}", s.tps).into(),
            lat(|l| l.mean),
            lat(|l| l.p99),
            if s.failed > 0 {
                Cell::new(s.failed.to_string(), Tone::Warn)
            } else {
                Cell::from("0")
            },
            format!("{:.1}", c.apply_seconds).into(),
            lag.map(fmt_ms)
                .map(Cell::from)
                .unwrap_or_else(|| Cell::new("—", Tone::Muted)),
            waiting
                .map(|w| Cell::from(format!("{w:.1}")))
                .unwrap_or_else(|| Cell::new("—", Tone::Muted)),
        ]);
    }
    t
}

/// The largest replay lag of a synchronous standby and the mean number of SyncRep waiters over
/// the cell's measured samples.
fn replication(c: &CellResult) -> (Option<f64>, Option<f64>) {
    let measured: Vec<_> = c.samples.iter().filter(|s| s.t >= 0.0).collect();
    let lag = measured
        .iter()
        .flat_map(|s| &s.standbys)
        .filter(|sb| matches!(sb.sync_state.as_str(), "sync" | "quorum"))
        .filter_map(|sb| sb.replay_lag_ms)
        .fold(None, |acc: Option<f64>, v| {
            Some(acc.map_or(v, |a| a.max(v)))
        });
    let waiting = (!measured.is_empty()).then(|| {
        measured
            .iter()
            .map(|s| s.syncrep_waiting as f64)
            .sum::<f64>()
            / measured.len() as f64
    });
    (lag, waiting)
}

fn environment(doc: &mut Doc, results: &Results) {
    let e = &results.manifest.environment;
    let h = &results.manifest.harness;
    doc.push(Block::Heading(2, "Environment".into()));
    let mut t = Table::new(&[("environment", Align::Left), ("value", Align::Left)]);
    let none = || "unknown".to_string();
    let rows: Vec<(&str, String)> = vec![
        ("PostgreSQL", e.postgres_version.clone()),
        ("Patroni", e.patroni_version.clone().unwrap_or_else(none)),
        (
            "Patroni REST API",
            e.patroni_url.clone().unwrap_or_else(none),
        ),
        (
            "cluster",
            if e.lab {
                "lab cluster started by pgsyncbench on this host".into()
            } else {
                "existing cluster".into()
            },
        ),
        (
            "synchronous_standby_names",
            format!("'{}'", e.synchronous_standby_names),
        ),
        ("host CPUs", e.host_cpus.to_string()),
        (
            "host memory",
            format!(
                "{:.1} GiB",
                e.host_memory_bytes as f64 / (1024.0 * 1024.0 * 1024.0)
            ),
        ),
        ("host OS", e.host_os.clone()),
        (
            "pgsyncbench",
            format!(
                "{}{}",
                h.version,
                h.git_revision
                    .as_ref()
                    .map(|g| format!(" ({g})"))
                    .unwrap_or_default()
            ),
        ),
    ];
    for (k, v) in rows {
        t.row(vec![k.into(), v.into()]);
    }
    doc.push(Block::Table(t));
    doc.push(Block::Heading(3, "Members when the sweep started".into()));
    let mut members = Table::new(&[
        ("member", Align::Left),
        ("role", Align::Left),
        ("state", Align::Left),
    ]);
    for m in &e.members {
        members.row(vec![
            m.name.as_str().into(),
            m.role.as_str().into(),
            m.state.as_str().into(),
        ]);
    }
    doc.push(Block::Table(members));
    doc.push(Block::Heading(3, "Server settings".into()));
    let mut settings = Table::new(&[("setting", Align::Left), ("value", Align::Left)]);
    for (k, v) in &e.settings {
        settings.row(vec![k.as_str().into(), v.as_str().into()]);
    }
    doc.push(Block::Table(settings));
}

fn change_cell(c: &Change) -> Cell {
    let dagger = if c.method.is_bootstrap() { " †" } else { "" };
    let text = format!(
        "{}%\n[{}, {}]{dagger}",
        pct(c.percent()),
        pct(c.low_percent()),
        pct(c.high_percent())
    );
    if c.is_noise() {
        Cell::new(format!("{text} noise"), Tone::Muted)
    } else {
        Cell::from(text)
    }
}

/// A signed percentage with one decimal; a value that rounds to zero is +0.0, never -0.0.
pub fn pct(v: f64) -> String {
    let r = (v * 10.0).round() / 10.0;
    format!("{:+.1}", if r == 0.0 { 0.0 } else { r })
}

pub fn fmt_ms(v: f64) -> String {
    format!("{v:.2}")
}

pub(crate) fn relative_path(dir: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(dir).unwrap_or(file);
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// The command line as a shell would take it back: words with spaces or quotes are quoted.
fn shell_words(words: &[String]) -> String {
    words
        .iter()
        .map(|w| {
            if !w.is_empty()
                && w.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./=:,@%+".contains(c))
            {
                w.clone()
            } else {
                format!("'{}'", w.replace('\'', "'\\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages_never_show_minus_zero() {
        assert_eq!(pct(-0.04), "+0.0");
        assert_eq!(pct(12.345), "+12.3");
        assert_eq!(pct(-34.06), "-34.1");
    }

    #[test]
    fn command_lines_are_quoted_for_a_shell() {
        let words = ["pgsyncbench", "run", "-c", "8", "dbname=x user=y", "it's"].map(String::from);
        assert_eq!(
            shell_words(&words),
            "pgsyncbench run -c 8 'dbname=x user=y' 'it'\\''s'"
        );
    }

    #[test]
    fn chart_paths_are_relative_to_the_folder() {
        assert_eq!(
            relative_path(Path::new("/r/s"), Path::new("/r/s/charts/a.svg")),
            "charts/a.svg"
        );
        assert_eq!(
            relative_path(Path::new("/r/s"), Path::new("elsewhere/a.svg")),
            "elsewhere/a.svg"
        );
    }
}
