//! What a sweep's results folder says: headline tables of each group with changes against the
//! baseline, warnings, charts, the cells as they ran, the method and the environment. Built from
//! the stored results alone, then written as Markdown or as one self-contained HTML page.

use std::collections::{BTreeMap, BTreeSet};

use super::format::{fmt_ms, pct};
use crate::analysis::stats::{Bootstrap, Change, Metric};
use crate::analysis::{Analysis, Group};
use crate::report::doc::{Align, Block, Cell, Doc, Table, Tone};
use crate::sweep::folder::{CellResult, Results};

/// A sweep's results folder as a document, from its analysis.
pub struct Report<'a> {
    results: &'a Results,
    analysis: &'a Analysis<'a>,
}

impl<'a> Report<'a> {
    pub fn of(analysis: &'a Analysis<'a>) -> Report<'a> {
        Report {
            results: analysis.results,
            analysis,
        }
    }

    /// The document, with `figures` (the charts, by name) where they belong: each load's
    /// latency-against-offered-load chart in its section, the others under Charts.
    pub fn document(&self, figures: Vec<(String, Block)>) -> Doc {
        let m = &self.results.manifest;
        let (load_figures, figures): (Vec<_>, Vec<_>) = figures
            .into_iter()
            .partition(|(name, _)| name.starts_with("offered_"));
        let figure = |name: &str| {
            load_figures
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, b)| b.clone())
        };
        let figures: Vec<Block> = figures.into_iter().map(|(_, b)| b).collect();
        let mut doc = Doc::new(format!("pgsyncbench report: {}", m.plan.name));
        if let Some(c) = &self.analysis.capacity {
            doc.push(Block::Paragraph(format!(
                "Capacity search started {} with pgsyncbench {}{}: {} cells (closed-loop bounds and \
                 rate probes). For each mode, the highest offered rate at which {} latency stayed within {} ms and \
                 the server kept up; each mode's capacity is compared with the baseline's, {}.",
                m.created_at,
                m.harness.version,
                m.harness
                    .git_revision
                    .as_ref()
                    .map(|g| format!(" ({g})"))
                    .unwrap_or_default(),
                self.results.cells.len(),
                c.objective.percentile_label(),
                c.objective.slo_ms,
                m.plan.baseline
            )));
            doc.blocks.extend(super::capacity::blocks(c, &figure));
            doc.push(Block::Heading(2, "Closed loop".into()));
            doc.push(Block::Paragraph(
                "The closed-loop cells that bounded each mode's search, compared with the \
                 baseline as a sweep's cells are."
                    .into(),
            ));
            self.groups(&mut doc);
        } else {
            self.sweep_results(&mut doc, &figure);
        }
        if let Some(r) = &self.results.manifest.plan.reference {
            self.beside_reference(&mut doc, r);
        }
        doc.push(Block::Heading(2, "Warnings".into()));
        if self.analysis.warnings.is_empty() {
            doc.push(Block::Paragraph("None.".into()));
        } else {
            doc.push(Block::List(
                self.analysis
                    .warnings
                    .iter()
                    .map(ToString::to_string)
                    .collect(),
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

    /// A sweep's opening paragraph, its results per group, and with offered rates their section.
    fn sweep_results(&self, doc: &mut Doc, figure: &dyn Fn(&str) -> Option<Block>) {
        let m = &self.results.manifest;
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
        self.groups(doc);
        doc.blocks
            .extend(super::offered::blocks(self.analysis, figure));
    }

    /// The headline table of every group whose modes are compared with the baseline.
    fn groups(&self, doc: &mut Doc) {
        if self.analysis.compared().next().is_none() {
            doc.push(Block::Paragraph("No cell has finished yet.".into()));
        }
        for g in self.analysis.compared() {
            doc.push(Block::Heading(3, g.key.to_string()));
            doc.push(Block::Table(self.headline(g)));
            if g.modes.iter().any(|r| {
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
    }

    /// Each group's measured changes beside the reference's, mode by mode.
    fn beside_reference(&self, doc: &mut Doc, r: &crate::sweep::plan::Reference) {
        doc.push(Block::Heading(2, format!("Beside {}", r.name)));
        for g in &self.analysis.groups {
            let mut t = Table::new(&[
                ("mode", Align::Left),
                ("Δ mean latency, measured", Align::Right),
                ("Δ mean latency, reference", Align::Right),
                ("Δ TPS, measured", Align::Right),
                ("Δ TPS, reference", Align::Right),
            ]);
            for m in g
                .modes
                .iter()
                .filter(|m| r.latency_pct.contains_key(&m.mode) || r.tps_pct.contains_key(&m.mode))
            {
                let measured = |metric: Metric| match m.change(metric) {
                    Some(c) => change_cell(c),
                    None => Cell::new("—", Tone::Muted),
                };
                let reference = |v: Option<&f64>| match v {
                    Some(v) => Cell::from(format!("{}%", pct(*v))),
                    None => Cell::new("—", Tone::Muted),
                };
                t.row(vec![
                    Cell::from(m.mode.as_str()),
                    measured(Metric::Mean),
                    reference(r.latency_pct.get(&m.mode)),
                    measured(Metric::Tps),
                    reference(r.tps_pct.get(&m.mode)),
                ]);
            }
            doc.push(Block::Heading(3, g.key.to_string()));
            doc.push(Block::Table(t));
        }
        if let Some(note) = &r.note {
            doc.push(Block::Paragraph(note.clone()));
        }
    }

    fn headline(&self, g: &Group) -> Table {
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
        for r in &g.modes {
            let runs = if r.counted() as u32 == plan.repeat {
                r.counted().to_string()
            } else {
                format!("{} of {}", r.counted(), plan.repeat)
            };
            let runs_tone = if r.counted() < r.finished() {
                Tone::Warn
            } else {
                Tone::Plain
            };
            let mut row = vec![Cell::from(r.mode.as_str()), Cell::new(runs, runs_tone)];
            for m in Metric::ALL {
                row.push(match &r.figures() {
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
                if p.zones.is_some() {
                    "round trip between zones (ms)"
                } else {
                    "added replication RTT (ms)"
                },
                list(p.rtt_ms.iter().map(ToString::to_string).collect()),
            ),
            (
                "zones",
                p.zones
                    .clone()
                    .unwrap_or_else(|| "none (every process on loopback)".into()),
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
        let mut rows = rows;
        if !p.rates.is_empty() {
            rows.insert(
                7,
                (
                    "offered rates (TPS over all clients)",
                    list(p.rates.iter().map(ToString::to_string).collect()),
                ),
            );
        }
        if let Some(c) = &p.capacity {
            rows.push((
                "capacity objective",
                format!("{} ≤ {} ms", c.percentile_label(), c.slo_ms),
            ));
            rows.push((
                "capacity verification runs",
                format!("{} beyond the probe that found the rate", c.repeats),
            ));
            rows.push((
                "capacity resolution",
                format!("{}% of the closed-loop throughput", c.resolution_pct),
            ));
        }
        for (k, v) in rows {
            t.row(vec![k.into(), v.into()]);
        }
        doc.push(Block::Table(t));
        if p.capacity.is_some() {
            doc.push(Block::Paragraph(
                "Each mode's search runs one probe at a time, the modes taking turns in an order \
                 shuffled each round from the seed, so that slow drift of the machine does not \
                 favour a mode. Before each cell the mode is applied through Patroni and verified \
                 live on the leader; the load warms up, then is measured. Probes run with \
                 --latency-limit at the objective, so transactions already that late when due are \
                 skipped (and fail the probe)."
                    .into(),
            ));
        } else {
            doc.push(Block::Paragraph(
            "Repetitions are interleaved: every mode of repetition 1 runs, then every mode of \
             repetition 2, each repetition in its own order of modes shuffled from the seed, so that \
             slow drift of the machine does not pass for the effect of a mode. Before each cell the \
             mode is applied through Patroni and verified live on the leader; the load warms up, then \
             is measured."
                .into(),
        ));
        }
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

/// Every cell as it ran; folders with offered rates add the rate, skipped transactions and
/// schedule lag after the TPS.
fn cells_table(results: &Results) -> Table {
    let paced = results.cells.iter().any(|c| c.cell.rate.is_some());
    let mut head = vec![
        ("#", Align::Right),
        ("cell", Align::Left),
        ("sync standby", Align::Left),
        ("TPS", Align::Right),
    ];
    if paced {
        head.extend([
            ("offered TPS", Align::Right),
            ("skipped", Align::Right),
            ("lag p99 ms", Align::Right),
        ]);
    }
    head.extend([
        ("mean ms", Align::Right),
        ("p99 ms", Align::Right),
        ("failed", Align::Right),
        ("mode live after s", Align::Right),
        ("replication lag max ms", Align::Right),
        ("SyncRep waiting", Align::Right),
    ]);
    let mut t = Table::new(&head);
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
        let mut row = vec![
            position
                .get(&id)
                .map(ToString::to_string)
                .unwrap_or_default()
                .into(),
            id.into(),
            standby,
            format!("{:.1}", s.tps).into(),
        ];
        if paced {
            let muted = || Cell::new("—", Tone::Muted);
            row.extend([
                c.cell
                    .rate
                    .map(|r| Cell::from(r.to_string()))
                    .unwrap_or_else(|| Cell::new("closed loop", Tone::Muted)),
                if s.skipped > 0 {
                    Cell::new(s.skipped.to_string(), Tone::Warn)
                } else {
                    Cell::from("0")
                },
                s.schedule_lag_ms
                    .map(|l| Cell::from(fmt_ms(l.p99)))
                    .unwrap_or_else(muted),
            ]);
        }
        row.extend([
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
        t.row(row);
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
    let mut rows: Vec<(&str, String)> = vec![
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
    if let Some(n) = &e.network {
        rows.push(("zones", n.zones.describe()));
        rows.push((
            "round trips measured at the start",
            n.measured
                .iter()
                .map(|m| {
                    format!(
                        "{}-{} {:.3} ms (p99 {:.3}; {} ms configured)",
                        m.a, m.b, m.p50_ms, m.p99_ms, m.configured_ms
                    )
                })
                .collect::<Vec<_>>()
                .join(", "),
        ));
    }
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
    fn command_lines_are_quoted_for_a_shell() {
        let words = ["pgsyncbench", "run", "-c", "8", "dbname=x user=y", "it's"].map(String::from);
        assert_eq!(
            shell_words(&words),
            "pgsyncbench run -c 8 'dbname=x user=y' 'it'\\''s'"
        );
    }
}
