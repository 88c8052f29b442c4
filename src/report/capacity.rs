//! The section of a capacity search: per load, each mode's capacity at the objective with the
//! interval it lies in and its change against the baseline's, the latency-against-offered-load
//! chart with the objective, and every probe with its verdict.

use super::doc::{Align, Block, Cell, Table, Tone};
use super::format::{fmt_ms, pct};
use crate::capacity::result::{CapacityResult, LoadCapacity, ModeCapacity, State};

/// The section's title: `Capacity at p99 ≤ 20 ms`.
pub fn title(c: &CapacityResult) -> String {
    format!(
        "Capacity at {} ≤ {} ms",
        c.objective.percentile_label(),
        c.objective.slo_ms
    )
}

/// Headings, tables and charts (`figure` finds a chart by its name).
pub fn blocks(c: &CapacityResult, figure: &dyn Fn(&str) -> Option<Block>) -> Vec<Block> {
    let o = &c.objective;
    let label = o.percentile_label();
    let mut out = vec![
        Block::Heading(2, title(c)),
        Block::Paragraph(format!(
            "Each mode's capacity is the highest offered rate (transactions per second over all \
             clients, on pgbench's Poisson schedule) at which, over each probe's whole measured \
             window, {label} latency counted from each transaction's scheduled start stayed within \
             {} ms, the server kept up (achieved throughput at least {:.0}% of the rate, less three \
             standard deviations of the schedule's count in the window), and no transaction was \
             skipped (already more than {} ms late when due), failed or lost its client. The \
             search: a closed-loop cell bounds it; a probe at that throughput, halving until a \
             rate passes, bisection until the passing and failing rates are within {}% of the \
             bound; then {} more run{} at the passing rate, all of which must pass, or it becomes the failing rate \
             and the search steps down. The interval is [capacity, lowest failing rate). Modes \
             take turns probe by probe.",
            o.slo_ms,
            c.keep_up * 100.0,
            o.slo_ms,
            o.resolution_pct,
            o.repeats,
            if o.repeats == 1 { "" } else { "s" }
        )),
    ];
    for l in &c.loads {
        out.push(Block::Heading(3, l.load.to_string()));
        out.push(Block::Table(summary(c, l)));
        if let Some(f) = figure(&crate::charts::offered_chart_name(&l.load)) {
            out.push(f);
        }
        if let Some(note) = thin_percentiles(c, l) {
            out.push(Block::Paragraph(note));
        }
        out.push(Block::Table(probes(c, l)));
    }
    out
}

fn summary(c: &CapacityResult, l: &LoadCapacity) -> Table {
    let label = c.objective.percentile_label();
    let mut t = Table::new(&[
        ("mode", Align::Left),
        ("capacity TPS", Align::Right),
        ("interval TPS", Align::Right),
        ("Δ capacity", Align::Right),
        ("closed-loop TPS", Align::Right),
        (&format!("closed-loop {label} ms"), Align::Right),
        ("probes", Align::Right),
        ("search", Align::Left),
    ]);
    for m in &l.modes {
        let muted = |s: &str| Cell::new(s, Tone::Muted);
        let capacity = match m.capacity_tps {
            Some(v) => Cell::from(v.to_string()),
            None if m.state == State::NoSyncStandby => {
                Cell::new("none: not synchronous", Tone::Warn)
            }
            None => muted("—"),
        };
        let interval = match (m.state, m.highest_passing, m.lowest_failing) {
            (State::NoSyncStandby, ..) => muted("—"),
            (_, Some(p), Some(f)) => Cell::from(format!("[{p}, {f})")),
            (_, Some(p), None) => Cell::from(format!("[{p}, —)")),
            (_, None, Some(f)) => Cell::from(format!("below {f}")),
            (_, None, None) => muted("—"),
        };
        let change = if m.mode == c.baseline {
            muted("baseline")
        } else {
            match m.vs_baseline_pct {
                Some(p) => Cell::from(format!("{}%", pct(p))),
                None => muted("—"),
            }
        };
        let (cl_tps, cl_lat) = match &m.closed_loop {
            Some(cl) => (
                Cell::from(format!("{:.1}", cl.tps)),
                cl.latency_ms
                    .map(|v| Cell::from(fmt_ms(v)))
                    .unwrap_or_else(|| muted("—")),
            ),
            None => (muted("—"), muted("—")),
        };
        let tone = match m.state {
            State::Found => Tone::Plain,
            State::NoSyncStandby | State::Searching | State::NoThroughput => Tone::Warn,
            State::AtClosedLoop | State::NonePassed => Tone::Muted,
        };
        t.row(vec![
            m.mode.as_str().into(),
            capacity,
            interval,
            change,
            cl_tps,
            cl_lat,
            m.probes.len().to_string().into(),
            Cell::new(m.state.to_string(), tone),
        ]);
    }
    t
}

/// A note when a probe's percentile rests on so few transactions that it is their maximum.
fn thin_percentiles(c: &CapacityResult, l: &LoadCapacity) -> Option<String> {
    let p = c.objective.percentile;
    let enough = (100.0 / (100.0 - p)).ceil();
    let thin: Vec<&str> = l
        .modes
        .iter()
        .flat_map(|m| &m.probes)
        .filter(|pr| (pr.transactions as f64) < enough)
        .map(|pr| pr.cell.as_str())
        .collect();
    (!thin.is_empty()).then(|| {
        format!(
            "{} of these probes completed fewer than {enough:.0} transactions, so their {} is \
             their slowest transaction: measure longer (-T) for a percentile that means more ({}).",
            thin.len(),
            c.objective.percentile_label(),
            thin.join(", ")
        )
    })
}

fn probes(c: &CapacityResult, l: &LoadCapacity) -> Table {
    let label = c.objective.percentile_label();
    let mut t = Table::new(&[
        ("cell", Align::Left),
        ("purpose", Align::Left),
        ("offered", Align::Right),
        ("achieved", Align::Right),
        ("needed", Align::Right),
        (&format!("{label} ms"), Align::Right),
        ("mean ms", Align::Right),
        ("lag p99 ms", Align::Right),
        ("skipped", Align::Right),
        ("verdict", Align::Left),
    ]);
    let mut all: Vec<(&ModeCapacity, &crate::capacity::result::ProbeRecord)> = l
        .modes
        .iter()
        .flat_map(|m| m.probes.iter().map(move |p| (m, p)))
        .collect();
    all.sort_by_key(|(_, p)| p.position);
    for (m, p) in all {
        let ms = |v: Option<f64>| {
            v.map(|v| Cell::from(fmt_ms(v)))
                .unwrap_or_else(|| Cell::new("—", Tone::Muted))
        };
        let verdict = if p.passed {
            Cell::from("pass")
        } else if m.mode.waits_for_standby() && !p.sync_standby_attached {
            Cell::new("no synchronous standby: not counted", Tone::Warn)
        } else {
            Cell::new(
                format!(
                    "fail\n{}",
                    p.misses
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join("; ")
                ),
                Tone::Bad,
            )
        };
        t.row(vec![
            p.cell.as_str().into(),
            p.purpose
                .map(|u| Cell::from(u.to_string()))
                .unwrap_or_else(|| Cell::new("—", Tone::Muted)),
            p.rate.to_string().into(),
            format!("{:.1}", p.achieved_tps).into(),
            format!("{:.1}", p.needed_tps).into(),
            ms(p.latency_ms),
            ms(p.mean_ms),
            ms(p.schedule_lag_p99_ms),
            if p.skipped > 0 {
                Cell::new(p.skipped.to_string(), Tone::Warn)
            } else {
                Cell::from("0")
            },
            verdict,
        ]);
    }
    t
}
