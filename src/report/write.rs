//! The one place that writes every output of a results folder, from the folder alone (no
//! database): summary.csv for a sweep (and capacity.json for a capacity search), its charts and those of its scenario results, then
//! report.md (charts linked) and report.html (charts inlined, one self-contained page). Each
//! file goes through a temporary name and a rename, so a reader never sees half a report.

use std::path::{Path, PathBuf};

use super::doc::{Block, Doc};
use super::format::relative_path;
use super::scenario as scenario_section;
use super::sweep::Report;
use crate::analysis::Analysis;
use crate::charts::{self, ChartError, ChartFile};
use crate::scenario::ScenarioResult;
use crate::scenario::result::{self as scenario_result, ReadError};
use crate::sweep::folder::{self, Results, ResultsError};

pub const REPORT_MD: &str = "report.md";
pub const REPORT_HTML: &str = "report.html";

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error(transparent)]
    Results(#[from] ResultsError),
    #[error(transparent)]
    Scenario(#[from] ReadError),
    #[error(transparent)]
    Charts(#[from] ChartError),
    #[error("cannot read the chart {}: {source}; run report again", path.display())]
    ReadChart {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// What `write` wrote, and what a reader must know.
#[derive(Debug)]
pub struct Written {
    pub dir: PathBuf,
    /// (finished, planned) cells of a sweep, when the folder holds one.
    pub cells: Option<(usize, usize)>,
    pub scenarios: usize,
    pub charts: usize,
    pub warnings: Vec<String>,
}

impl std::fmt::Display for Written {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "wrote {REPORT_MD} and {REPORT_HTML} in {} ({}{} scenario results, {} charts, {} warnings)",
            self.dir.display(),
            self.cells
                .map(|(done, planned)| format!("{done} of {planned} planned cells, "))
                .unwrap_or_default(),
            self.scenarios,
            self.charts,
            self.warnings.len()
        )
    }
}

/// A chart as it goes into the document: its file, and its SVG text for the HTML page.
struct Figure {
    name: String,
    title: String,
    svg_path: PathBuf,
    svg: String,
}

impl Figure {
    fn read(chart: &ChartFile) -> Result<Figure, ReportError> {
        let svg = std::fs::read_to_string(&chart.svg).map_err(|e| ReportError::ReadChart {
            path: chart.svg.clone(),
            source: e,
        })?;
        Ok(Figure {
            name: chart.name.clone(),
            title: chart.title.clone(),
            svg_path: chart.svg.clone(),
            svg,
        })
    }

    fn block(&self, dir: &Path, inline: bool) -> Block {
        Block::Figure {
            title: self.title.clone(),
            path: relative_path(dir, &self.svg_path),
            svg: inline.then(|| self.svg.clone()),
        }
    }
}

/// Writes every output of the results folder `dir`: a sweep's, its scenario results', or both.
pub fn write(dir: &Path) -> Result<Written, ReportError> {
    let sweep = match Results::load(dir) {
        Ok(r) => Some(r),
        Err(ResultsError::NoResults(_)) => None,
        Err(e) => return Err(e.into()),
    };
    let scenarios = scenario_result::load_dir(dir)?;
    if sweep.is_none() && scenarios.is_empty() {
        return Err(ResultsError::NoResults(dir.display().to_string()).into());
    }
    let chart_dir = dir.join("charts");
    let analysis = sweep.as_ref().map(Analysis::of);
    let mut sweep_figures = Vec::new();
    if let Some(a) = &analysis {
        folder::write_summary(dir, &a.results.cells)?;
        if let Some(c) = &a.capacity {
            let path = dir.join(crate::capacity::result::FILE);
            crate::capacity::result::write(dir, c)
                .map_err(|e| ReportError::Write { path, source: e })?;
        }
        for chart in charts::render_all(a, &chart_dir)? {
            sweep_figures.push(Figure::read(&chart)?);
        }
    }
    let mut scenario_figures = Vec::new();
    if !scenarios.is_empty() {
        for (name, label, chart) in charts::render_scenarios(&scenarios, &chart_dir)? {
            scenario_figures.push((name, label, Figure::read(&chart)?));
        }
    }
    let document = |inline: bool| -> Doc {
        let mut doc = match &analysis {
            Some(a) => Report::of(a).document(
                sweep_figures
                    .iter()
                    .map(|f| (f.name.clone(), f.block(dir, inline)))
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
            let figures = |r: &ScenarioResult, v: &crate::scenario::VariantResult| -> Vec<Block> {
                scenario_figures
                    .iter()
                    .filter(|(name, label, _)| *name == r.scenario && *label == v.label)
                    .map(|(_, _, f)| f.block(dir, inline))
                    .collect()
            };
            doc.blocks
                .extend(scenario_section::blocks(&scenarios, &figures));
        }
        doc
    };
    write_file(&dir.join(REPORT_MD), &document(false).markdown())?;
    write_file(&dir.join(REPORT_HTML), &document(true).html())?;

    let mut warnings: Vec<String> = analysis
        .iter()
        .flat_map(|a| a.warnings.iter().map(ToString::to_string))
        .collect();
    for s in &scenarios {
        for v in s.runs.iter().filter(|v| !v.passed) {
            warnings.push(format!(
                "scenario {} variant {}: expectations not met",
                s.scenario, v.label
            ));
        }
    }
    Ok(Written {
        dir: dir.to_path_buf(),
        cells: sweep
            .as_ref()
            .map(|r| (r.cells.len(), r.manifest.order.len())),
        scenarios: scenarios.len(),
        charts: sweep_figures.len() + scenario_figures.len(),
        warnings,
    })
}

fn write_file(path: &Path, text: &str) -> Result<(), ReportError> {
    let tmp = path.with_extension("partial");
    std::fs::write(&tmp, text)
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| ReportError::Write {
            path: path.to_path_buf(),
            source: e,
        })
}
