//! `report DIR`: summary.csv, report.md and report.html from a results folder alone (no database).

use std::path::Path;

use super::Failure;
use crate::cli::ReportArgs;
use crate::report::{ChartFile, Report};
use crate::results::{self, Results};

pub const REPORT_MD: &str = "report.md";
pub const REPORT_HTML: &str = "report.html";

pub fn report(args: ReportArgs) -> Result<u8, Failure> {
    let results = Results::load(&args.dir)?;
    results::write_summary(&args.dir, &results.cells)?;
    let charts = draw_charts(&results)?;
    let mut inlined = Vec::with_capacity(charts.len());
    for c in &charts {
        let svg = std::fs::read_to_string(&c.svg).map_err(|e| {
            Failure::new(format!(
                "cannot read the chart {}: {e}; run report again",
                c.svg.display()
            ))
        })?;
        inlined.push((c.clone(), svg));
    }
    let report = Report::of(&results);
    write_file(&args.dir.join(REPORT_MD), &report.markdown(&charts))?;
    write_file(&args.dir.join(REPORT_HTML), &report.html(&inlined))?;
    for w in &report.warnings {
        eprintln!("pgsyncbench: warning: {w}");
    }
    println!(
        "wrote {} and {} in {} ({} of {} planned cells, {} charts, {} warnings)",
        REPORT_MD,
        REPORT_HTML,
        args.dir.display(),
        results.cells.len(),
        results.manifest.order.len(),
        charts.len(),
        report.warnings.len()
    );
    Ok(0)
}

/// The report's charts, drawn into DIR/charts.
#[allow(unused_variables)] // MERGE(charts): drop this attribute with the line below
fn draw_charts(results: &Results) -> Result<Vec<ChartFile>, Failure> {
    Ok(Vec::new()) // MERGE(charts): crate::charts::render_all(results, &results.dir.join("charts")).map_err(Failure::new)
}

/// Through a temporary file and a rename, so a reader never sees half a report.
fn write_file(path: &Path, text: &str) -> Result<(), Failure> {
    let tmp = path.with_extension("partial");
    std::fs::write(&tmp, text)
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| Failure::new(format!("cannot write {}: {e}", path.display())))
}
