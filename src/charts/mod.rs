//! Charts of a results folder, each written as SVG (for the HTML report) and PNG (for Markdown
//! and slides), drawn with plotters and a bundled font:
//!
//! - per group: mean latency and TPS bars per mode with their change against the baseline, and
//!   the latency percentile spectrum;
//! - per set of groups that differ only in clients: TPS and p99 against clients;
//! - per load run at offered rates (a sweep's `rates`, a capacity search's probes): latency
//!   against the offered rate, with a capacity search's objective and capacities;
//! - per cell: TPS and p99 over time with each standby's replication lag beneath.

mod axis;
mod bars;
mod data;
mod legend;
mod offered;
mod output;
mod scaling;
mod scenario;
mod spectrum;
mod style;
mod timeline;

use std::path::{Path, PathBuf};

use crate::analysis::Analysis;
use crate::sweep::folder::GroupKey;

/// One chart as written: `<out_dir>/<name>.svg` and `<out_dir>/<name>.png`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChartFile {
    /// File stem, unique in the folder, e.g. `latency_tpcb-like_s10_c8_j2_rtt0`.
    pub name: String,
    /// What a reader sees as its caption.
    pub title: String,
    pub svg: PathBuf,
    pub png: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum ChartError {
    #[error("cannot create chart folder {path}: {reason}")]
    CreateDir { path: String, reason: String },
    #[error("cannot write chart file {path}: {reason}")]
    Write { path: String, reason: String },
    #[error("cannot draw chart {chart}: {reason}")]
    Draw { chart: String, reason: String },
    #[error("cell {cell} holds an unreadable latency histogram: {reason}")]
    Histogram { cell: String, reason: String },
    #[error("the bundled chart font did not load: rebuild pgsyncbench from a clean checkout")]
    Font,
}

/// A timeline per scenario variant, with its actions marked, into `out_dir`; returned with the
/// scenario's name and the variant's label.
pub fn render_scenarios(
    results: &[crate::scenario::ScenarioResult],
    out_dir: &Path,
) -> Result<Vec<(String, String, ChartFile)>, ChartError> {
    std::fs::create_dir_all(out_dir).map_err(|e| ChartError::CreateDir {
        path: out_dir.display().to_string(),
        reason: e.to_string(),
    })?;
    let mut out = Vec::new();
    for r in results {
        for v in &r.runs {
            let chart = scenario::ScenarioTimeline::new(&r.scenario, v);
            let name = format!("scenario_{}_{}", r.scenario, v.label);
            let file = output::write(&chart, &name, chart.title(), out_dir)?;
            out.push((r.scenario.clone(), v.label.clone(), file));
        }
    }
    Ok(out)
}

/// Writes every chart that applies to `results` into `out_dir` (created when missing) and returns
/// them in reading order: per group its latency bars, TPS bars and percentile spectrum; then the
/// scaling curves; then every cell's timeline (by group, mode, repetition).
pub fn render_all(analysis: &Analysis, out_dir: &Path) -> Result<Vec<ChartFile>, ChartError> {
    let results = analysis.results;
    std::fs::create_dir_all(out_dir).map_err(|e| ChartError::CreateDir {
        path: out_dir.display().to_string(),
        reason: e.to_string(),
    })?;
    let baseline = results.manifest.plan.baseline;
    let groups = data::groups(analysis)?;
    let compared = || {
        groups
            .iter()
            .filter(|g| crate::analysis::compares(results, &g.key))
    };
    let mut files = Vec::new();

    for g in compared() {
        let id = group_id(&g.key);
        for (figure, stem) in [
            (bars::Figure::MeanLatency, "latency"),
            (bars::Figure::Tps, "tps"),
        ] {
            let chart = bars::Bars::new(figure, g, baseline);
            let title = format!("{} — {}", figure.title(), g.key);
            files.push(output::write(
                &chart,
                &format!("{stem}_{id}"),
                &title,
                out_dir,
            )?);
        }
        let spectrum = spectrum::Spectrum::new(g);
        if !spectrum.is_empty() {
            let title = format!("Latency percentiles per mode — {}", g.key);
            files.push(output::write(
                &spectrum,
                &format!("spectrum_{id}"),
                &title,
                out_dir,
            )?);
        }
    }

    for (load, set) in data::offered(&groups) {
        let objective = analysis.capacity.as_ref().map(|c| offered::Objective {
            label: c.objective.percentile_label(),
            percentile: c.objective.percentile,
            slo_ms: c.objective.slo_ms,
            capacities: c
                .loads
                .iter()
                .filter(|l| l.load == load)
                .flat_map(|l| l.modes.iter())
                .filter_map(|m| Some((m.mode, m.capacity_tps?)))
                .collect(),
        });
        let chart = offered::Offered::new(&load, &set, objective);
        if chart.is_empty() {
            continue;
        }
        let title = format!("{} — {load}", chart.title());
        files.push(output::write(
            &chart,
            &offered_chart_name(&load),
            &title,
            out_dir,
        )?);
    }

    for (key, set) in data::scaling(compared()) {
        let mut id = format!(
            "{}_s{}_j{}_rtt{}",
            key.workload.name(),
            key.scale,
            key.threads,
            key.rtt_ms
        );
        if let Some(r) = key.rate {
            id.push_str(&format!("_R{r}"));
        }
        for (figure, stem) in [
            (scaling::Figure::Tps, "scaling-tps"),
            (scaling::Figure::P99, "scaling-p99"),
        ] {
            let chart = scaling::Scaling::new(figure, &key, &set);
            let mut title = format!(
                "{} — {}, scale {}, {} threads",
                figure.title(),
                key.workload.name(),
                key.scale,
                key.threads
            );
            if key.rtt_ms > 0 {
                title.push_str(&format!(", +{} ms RTT", key.rtt_ms));
            }
            if let Some(r) = key.rate {
                title.push_str(&format!(", offered {r} TPS"));
            }
            files.push(output::write(
                &chart,
                &format!("{stem}_{id}"),
                &title,
                out_dir,
            )?);
        }
    }

    for g in &groups {
        for m in &g.modes {
            for cell in &m.cells {
                let chart = timeline::Timeline::new(cell);
                let title = format!("{} — {}", chart.title(), g.key);
                let name = format!("timeline_{}", cell.cell.id());
                files.push(output::write(&chart, &name, &title, out_dir)?);
            }
        }
    }
    Ok(files)
}

/// The stem of a load's latency-against-offered-load chart.
pub fn offered_chart_name(load: &crate::sweep::folder::LoadKey) -> String {
    format!("offered_{}", load.id())
}

/// File-name-safe id of a group, as the cells' ids spell it.
fn group_id(g: &GroupKey) -> String {
    let mut id = format!(
        "{}_s{}_c{}_j{}_rtt{}",
        g.workload.name(),
        g.scale,
        g.clients,
        g.threads,
        g.rtt_ms
    );
    if let Some(r) = g.rate {
        id.push_str(&format!("_R{r}"));
    }
    id
}

#[cfg(test)]
mod tests;
