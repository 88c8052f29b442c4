//! `compare`'s output: a Markdown table of the changes between two sweeps
//! (src/analysis/compare.rs), fit for a pull-request comment.

use super::doc::{Align, Block, Cell, Doc, Table, Tone};
use super::format::{fmt_ms, pct};
use crate::analysis::compare::{Comparison, Verdict};
use crate::analysis::stats::Metric;
use crate::pg::mode::SyncCommit;
use crate::sweep::folder::GroupKey;

/// A Markdown table fit for a pull-request comment, with a one-line verdict on top.
pub fn markdown(c: &Comparison) -> String {
    let this = c;
    {
        let t = this.threshold_pct;
        let title = match this.regressions() {
            0 => format!("pgsyncbench compare: no regression beyond ±{t}%"),
            1 => format!("pgsyncbench compare: 1 regression beyond ±{t}%"),
            n => format!("pgsyncbench compare: {n} regressions beyond ±{t}%"),
        };
        let mut doc = Doc::new(title);
        // Inside a pull-request comment a page-sized title is too loud.
        doc.title_level = 3;
        doc.push(Block::Paragraph(format!(
            "Base {}, new {}: {} figures compared, {} regressed, {} improved. A change counts only \
             when its whole 95% interval lies beyond ±{t}%.",
            this.base_dir,
            this.new_dir,
            this.rows.len(),
            this.regressions(),
            this.improvements()
        )));
        let mut table = Table::new(&[
            ("group", Align::Left),
            ("mode", Align::Left),
            ("metric", Align::Left),
            ("base", Align::Right),
            ("new", Align::Right),
            ("change [95% CI]", Align::Right),
            ("verdict", Align::Left),
        ]);
        for r in &this.rows {
            let value = |v: f64| match r.metric {
                Metric::Tps => format!("{v:.1}"),
                _ => format!("{} ms", fmt_ms(v)),
            };
            let c = &r.change;
            let dagger = if c.method.is_bootstrap() { " †" } else { "" };
            table.row(vec![
                r.group.to_string().into(),
                r.mode.as_str().into(),
                r.metric.name().into(),
                value(r.base).into(),
                value(r.new).into(),
                format!(
                    "{}% [{}, {}]{dagger}",
                    pct(c.percent()),
                    pct(c.low_percent()),
                    pct(c.high_percent())
                )
                .into(),
                Cell::new(
                    r.verdict.to_string(),
                    match r.verdict {
                        Verdict::Regressed => Tone::Bad,
                        Verdict::Improved => Tone::Good,
                        Verdict::Unchanged => Tone::Muted,
                    },
                ),
            ]);
        }
        doc.push(Block::Table(table));
        let mut notes = Vec::new();
        if this.rows.iter().any(|r| r.change.method.is_bootstrap()) {
            notes.push(
                "† fewer than two repetitions on a side: the interval comes from resampling \
                 per-second samples and leaves out how much a rerun would differ"
                    .to_string(),
            );
        }
        let pairs = |v: &[(GroupKey, SyncCommit)]| {
            v.iter()
                .map(|(g, m)| format!("{g} {m}"))
                .collect::<Vec<_>>()
                .join("; ")
        };
        if !this.only_base.is_empty() {
            notes.push(format!("only in base: {}", pairs(&this.only_base)));
        }
        if !this.only_new.is_empty() {
            notes.push(format!("only in new: {}", pairs(&this.only_new)));
        }
        notes.extend(this.excluded.iter().cloned());
        notes.extend(this.notes.iter().cloned());
        if !notes.is_empty() {
            doc.push(Block::List(notes));
        }
        doc.markdown()
    }
}
