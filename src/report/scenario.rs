//! Scenario results in reports: per scenario and variant, the cost (TPS, p99) beside what the
//! mode bought (lost, unexpected and recovered commits, failover time, longest write gap).

use super::doc::{Align, Block, Cell, Table, Tone};
use crate::scenario::{ScenarioResult, VariantResult};

/// Seconds from the first fault to the first commit on another member (the failover time):
/// None when the leader never changed, Some(None) when it did and no write followed.
fn failover_time(v: &VariantResult) -> Option<Option<f64>> {
    let f = v.availability.faults.first()?;
    let changed = v
        .leaders
        .iter()
        .filter_map(|l| l.leader.as_ref())
        .any(|l| Some(l) != f.leader_before.as_ref());
    changed.then_some(f.recovery.first_commit_on_another_member)
}

/// The table of one scenario: a row per variant.
pub fn summary_table(r: &ScenarioResult) -> Table {
    let mut t = Table::new(&[
        ("variant", Align::Left),
        ("settings", Align::Left),
        ("TPS", Align::Right),
        ("p99 ms", Align::Right),
        ("acknowledged", Align::Right),
        ("lost", Align::Right),
        ("unexpected", Align::Right),
        ("indeterminate / recovered", Align::Right),
        ("failed", Align::Right),
        ("failover: writes on new leader after", Align::Right),
        ("longest write gap", Align::Right),
        ("checks", Align::Left),
    ]);
    for v in &r.runs {
        let s = &v.run.summary;
        let a = &v.audit;
        let c = &v.cluster;
        let mut settings = vec![format!(
            "synchronous_commit={}",
            v.run.target.synchronous_commit
        )];
        if let Some(m) = c.sync.synchronous_mode {
            settings.push(format!(
                "synchronous_mode={}",
                serde_json::to_value(m)
                    .map(|v| v.as_str().unwrap_or("").to_string())
                    .unwrap_or_default()
            ));
        }
        if let Some(x) = c.sync.strict {
            settings.push(format!("strict={x}"));
        }
        if let Some(x) = c.failsafe_mode {
            settings.push(format!("failsafe_mode={x}"));
        }
        let failed_checks: Vec<&str> = v
            .checks
            .iter()
            .filter(|c| !c.passed)
            .map(|c| c.check.as_str())
            .collect();
        t.row(vec![
            v.label.as_str().into(),
            settings.join(", ").into(),
            format!("{:.0}", s.tps).into(),
            s.latency_ms
                .map(|l| format!("{:.2}", l.p99))
                .unwrap_or_else(|| "—".into())
                .into(),
            a.acknowledged.to_string().into(),
            Cell::new(
                a.lost.to_string(),
                if a.lost > 0 { Tone::Bad } else { Tone::Good },
            ),
            Cell::new(
                a.unexpected.to_string(),
                if a.unexpected > 0 {
                    Tone::Bad
                } else {
                    Tone::Plain
                },
            ),
            format!("{} / {}", a.indeterminate, a.recovered).into(),
            a.failed.to_string().into(),
            match failover_time(v) {
                Some(Some(t)) => format!("{t:.1} s").into(),
                Some(None) => Cell::new("never", Tone::Bad),
                None if v.availability.faults.is_empty() => Cell::new("no fault", Tone::Muted),
                None => Cell::new("no failover", Tone::Muted),
            },
            format!("{:.1} s", v.availability.longest_write_gap.seconds).into(),
            if failed_checks.is_empty() {
                Cell::new(format!("{} passed", v.checks.len()), Tone::Good)
            } else {
                Cell::new(format!("failed: {}", failed_checks.join("; ")), Tone::Bad)
            },
        ]);
    }
    t
}

/// The report section for scenario results.
pub fn blocks(
    results: &[ScenarioResult],
    figures: &dyn Fn(&ScenarioResult, &VariantResult) -> Vec<Block>,
) -> Vec<Block> {
    let mut out = vec![
        Block::Heading(2, "Failure scenarios".into()),
        Block::Paragraph(
            "Each variant ran the same load under the same faults. Cost: TPS and p99 latency. \
             Benefit: acknowledged commits lost in the failover (acknowledged but absent from the \
             new leader afterwards), the time until writes came back, and the longest window \
             without a commit. Indeterminate commits lost their connection during COMMIT or had \
             their wait for synchronous replication cancelled; recovered ones were found committed."
                .into(),
        ),
    ];
    for r in results {
        out.push(Block::Heading(
            3,
            format!("{}: {}", r.scenario, r.description),
        ));
        out.push(Block::Table(summary_table(r)));
        for v in &r.runs {
            let mut lines: Vec<String> = v
                .actions
                .iter()
                .map(|a| {
                    format!(
                        "{:.1} s: {} {}{}",
                        a.t,
                        a.action,
                        a.members.join(", "),
                        if a.ok {
                            String::new()
                        } else {
                            format!(" (failed: {})", a.detail)
                        }
                    )
                })
                .collect();
            if let Some(t) = &v.patroni_timing {
                lines.push(format!("Patroni timing in force: {t}"));
            }
            lines.push(format!("leaders: {}", v.leader_history(" → ")));
            if let Some(lags) = v.max_lag_text() {
                lines.push(format!("largest replication lag (Patroni's view): {lags}"));
            }
            for why in &v.promotion_refusals {
                lines.push(format!("Patroni would not promote: {why}"));
            }
            for d in &v.demotions {
                lines.push(format!("demoted itself: {d}"));
            }
            for r in &v.rewinds {
                lines.push(format!("rewound on rejoining: {r}"));
            }
            if !v.split_brain.is_empty() {
                lines.push(format!(
                    "several members claimed to be primary at {} moments (first at {:.1} s: {})",
                    v.split_brain.len(),
                    v.split_brain[0].t,
                    v.split_brain[0].members.join(", ")
                ));
            }
            if !v.settled {
                lines.push("the cluster was not whole again before the audit".into());
            }
            out.push(Block::Paragraph(format!("Variant {}:", v.label)));
            out.push(Block::List(lines));
            out.extend(figures(r, v));
        }
    }
    out
}
