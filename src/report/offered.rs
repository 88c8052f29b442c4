//! The section of a sweep with offered rates: per load, what each mode achieved at each rate
//! (throughput against the offered rate, latency, how late transactions started, how many
//! were skipped) and the latency-against-offered-load chart, so the knee shows.

use super::doc::{Align, Block, Cell, Table, Tone};
use super::format::fmt_ms;
use crate::analysis::stats::Metric;
use crate::analysis::{Analysis, Group, ModeData};
use crate::sweep::folder::LoadKey;

/// Headings, tables and charts (`figure` finds a chart by its name) for every load with rates.
pub fn blocks(analysis: &Analysis, figure: &dyn Fn(&str) -> Option<Block>) -> Vec<Block> {
    let mut loads: Vec<(LoadKey, Vec<&Group>)> = Vec::new();
    for g in analysis.groups.iter().filter(|g| g.key.rate.is_some()) {
        match loads.iter_mut().find(|(l, _)| *l == g.key.load()) {
            Some((_, gs)) => gs.push(g),
            None => loads.push((g.key.load(), vec![g])),
        }
    }
    if loads.is_empty() {
        return Vec::new();
    }
    let mut out = vec![
        Block::Heading(2, "Latency against offered load".into()),
        Block::Paragraph(
            "Each cell offered its rate on pgbench's schedule (a Poisson process over all \
             clients, -R); latency counts from each transaction's scheduled start, so a server \
             that falls behind shows it in every latency that waited. Schedule lag is how late \
             transactions started; skipped ones were already later than --latency-limit. An \
             achieved share is marked when it is below 99% of the rate less three standard \
             deviations of the schedule's count: the server did not keep up. Figures over repetitions are geometric means (lag: the mean of the cells' p99; \
             skipped: the sum)."
                .into(),
        ),
    ];
    for (load, mut groups) in loads {
        groups.sort_by_key(|g| g.key.rate);
        out.push(Block::Heading(3, load.to_string()));
        out.push(Block::Table(table(&groups)));
        if let Some(f) = figure(&crate::charts::offered_chart_name(&load)) {
            out.push(f);
        }
    }
    out
}

fn table(groups: &[&Group]) -> Table {
    let mut t = Table::new(&[
        ("offered TPS", Align::Right),
        ("mode", Align::Left),
        ("achieved TPS", Align::Right),
        ("achieved / offered", Align::Right),
        ("mean ms", Align::Right),
        ("p99 ms", Align::Right),
        ("schedule lag p99 ms", Align::Right),
        ("skipped", Align::Right),
    ]);
    for g in groups {
        let offered = g.key.rate.expect("groups with rates");
        for m in g.ran() {
            t.row(row(offered, m));
        }
    }
    t
}

fn row(offered: u32, m: &ModeData) -> Vec<Cell> {
    let muted = || Cell::new("—", Tone::Muted);
    let f = m.figures();
    let counted: Vec<_> = m
        .cells
        .iter()
        .filter(|c| crate::analysis::cell_figures(c).is_ok())
        .collect();
    let lags: Vec<f64> = counted
        .iter()
        .filter_map(|c| c.run.summary.schedule_lag_ms.map(|l| l.p99))
        .collect();
    let skipped: u64 = m.cells.iter().map(|c| c.run.summary.skipped).sum();
    let seconds = counted
        .iter()
        .map(|c| c.run.summary.measured_seconds)
        .sum::<f64>()
        / counted.len().max(1) as f64;
    // Below what a server keeping up would achieve, Poisson noise allowed for.
    let needed = crate::capacity::verdict::needed_tps(f64::from(offered), seconds);
    let mode = if m.no_standby > 0 {
        Cell::new(
            format!(
                "{}\n{} without a sync standby, left out",
                m.mode, m.no_standby
            ),
            Tone::Warn,
        )
    } else {
        Cell::from(m.mode.as_str())
    };
    vec![
        offered.to_string().into(),
        mode,
        f.map(|f| Cell::from(format!("{:.1}", f.get(Metric::Tps))))
            .unwrap_or_else(muted),
        f.map(|f| {
            let share = f.get(Metric::Tps) / f64::from(offered) * 100.0;
            Cell::new(
                format!("{share:.1}%"),
                if f.get(Metric::Tps) < needed {
                    Tone::Warn
                } else {
                    Tone::Plain
                },
            )
        })
        .unwrap_or_else(muted),
        f.map(|f| Cell::from(fmt_ms(f.get(Metric::Mean))))
            .unwrap_or_else(muted),
        f.map(|f| Cell::from(fmt_ms(f.get(Metric::P99))))
            .unwrap_or_else(muted),
        if lags.is_empty() {
            muted()
        } else {
            Cell::from(fmt_ms(lags.iter().sum::<f64>() / lags.len() as f64))
        },
        if skipped > 0 {
            Cell::new(skipped.to_string(), Tone::Warn)
        } else {
            Cell::from("0")
        },
    ]
}
