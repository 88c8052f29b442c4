//! `report DIR`: summary.csv, report.md and report.html from a results folder alone (no
//! database): a sweep's results, scenario results, or both.

use std::path::Path;

use super::Failure;
use crate::cli::ReportArgs;
use crate::report::doc::{Block, Doc};
use crate::report::{ChartFile, Report};
use crate::scenario::report as scenario_report;
use crate::scenario::{ScenarioResult, VariantResult};
use crate::sweep::folder::{self, Results};

pub const REPORT_MD: &str = "report.md";
pub const REPORT_HTML: &str = "report.html";

pub fn report(args: ReportArgs) -> Result<u8, Failure> {
    println!("{}", write_report(&args.dir)?);
    Ok(0)
}

/// Writes summary.csv (for a sweep), charts, report.md and report.html into `dir`, prints the
/// warnings on stderr, and returns a one-line account of what it wrote.
pub fn write_report(dir: &Path) -> Result<String, Failure> {
    let sweep = match Results::load(dir) {
        Ok(r) => Some(r),
        Err(folder::ResultsError::NoResults(_)) => None,
        Err(e) => return Err(e.into()),
    };
    let scenarios = scenario_report::load_dir(dir).map_err(Failure::new)?;
    if sweep.is_none() && scenarios.is_empty() {
        return Err(folder::ResultsError::NoResults(dir.display().to_string()).into());
    }
    let mut charts: Vec<ChartFile> = Vec::new();
    let mut warnings = Vec::new();
    let analysed = sweep.as_ref().map(|results| (results, Report::of(results)));
    if let Some((results, report)) = &analysed {
        folder::write_summary(dir, &results.cells)?;
        charts.extend(draw_charts(results)?);
        warnings.extend(report.warnings.iter().map(|w| w.to_string()));
    }
    let scenario_charts = if scenarios.is_empty() {
        Vec::new()
    } else {
        crate::charts::render_scenarios(&scenarios, &dir.join("charts")).map_err(Failure::new)?
    };
    let mut scenario_svgs = Vec::with_capacity(scenario_charts.len());
    for (_, _, c) in &scenario_charts {
        scenario_svgs.push(std::fs::read_to_string(&c.svg).map_err(|e| {
            Failure::new(format!(
                "cannot read the chart {}: {e}; run report again",
                c.svg.display()
            ))
        })?);
    }
    let mut inlined = Vec::with_capacity(charts.len());
    for c in &charts {
        let svg = std::fs::read_to_string(&c.svg).map_err(|e| {
            Failure::new(format!(
                "cannot read the chart {}: {e}; run report again",
                c.svg.display()
            ))
        })?;
        inlined.push(svg);
    }
    let build = |inline: bool| -> Doc {
        let mut doc = match &analysed {
            Some((_, report)) => report.document(
                charts
                    .iter()
                    .zip(&inlined)
                    .map(|(c, svg)| report.figure(c, inline.then(|| svg.clone())))
                    .collect(),
            ),
            None => Doc::new(format!(
                "pgsyncbench report: {}",
                scenarios
                    .iter()
                    .map(|s| s.scenario.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        };
        if !scenarios.is_empty() {
            let figures = |r: &ScenarioResult, v: &VariantResult| -> Vec<Block> {
                scenario_charts
                    .iter()
                    .zip(&scenario_svgs)
                    .filter(|((name, label, _), _)| *name == r.scenario && *label == v.label)
                    .map(|((_, _, c), svg)| Block::Figure {
                        title: c.title.clone(),
                        path: crate::report::relative_path(dir, &c.svg),
                        svg: inline.then(|| svg.clone()),
                    })
                    .collect()
            };
            doc.blocks
                .extend(scenario_report::blocks(&scenarios, &figures));
        }
        doc
    };
    write_file(&dir.join(REPORT_MD), &build(false).markdown())?;
    write_file(&dir.join(REPORT_HTML), &build(true).html())?;
    for s in &scenarios {
        for v in s.runs.iter().filter(|v| !v.passed) {
            warnings.push(format!(
                "scenario {} variant {}: expectations not met",
                s.scenario, v.label
            ));
        }
    }
    for w in &warnings {
        eprintln!("pgsyncbench: warning: {w}");
    }
    Ok(format!(
        "wrote {REPORT_MD} and {REPORT_HTML} in {} ({}{} scenario results, {} charts, {} warnings)",
        dir.display(),
        sweep
            .as_ref()
            .map(|r| format!(
                "{} of {} planned cells, ",
                r.cells.len(),
                r.manifest.order.len()
            ))
            .unwrap_or_default(),
        scenarios.len(),
        charts.len() + scenario_charts.len(),
        warnings.len()
    ))
}

/// The report's charts, drawn into DIR/charts.
fn draw_charts(results: &Results) -> Result<Vec<ChartFile>, Failure> {
    crate::charts::render_all(results, &results.dir.join("charts")).map_err(Failure::new)
}

/// Through a temporary file and a rename, so a reader never sees half a report.
fn write_file(path: &Path, text: &str) -> Result<(), Failure> {
    let tmp = path.with_extension("partial");
    std::fs::write(&tmp, text)
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| Failure::new(format!("cannot write {}: {e}", path.display())))
}
