//! Bars of one figure per mode (mean over repetitions, min–max whiskers), each labelled with its
//! value and its change against the baseline mode.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::axis::TickedAxis;
use super::data::{Group, Spread};
use super::output::{Chart, DrawResult};
use super::style::{self, INK, text};
use crate::analysis::stats::Metric;
use crate::pg::mode::SyncCommit;

/// Which figure the bars show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Figure {
    MeanLatency,
    Tps,
}

impl Figure {
    pub fn title(self) -> &'static str {
        match self {
            Figure::MeanLatency => "Mean latency per synchronous_commit mode",
            Figure::Tps => "Throughput per synchronous_commit mode",
        }
    }

    fn y_desc(self) -> &'static str {
        match self {
            Figure::MeanLatency => "mean latency (ms)",
            Figure::Tps => "throughput (transactions/s)",
        }
    }

    fn value_label(self, v: f64) -> String {
        match self {
            Figure::MeanLatency => format!("{} ms", style::significant(v)),
            Figure::Tps => format!("{:.0} TPS", v),
        }
    }

    fn metric(self) -> Metric {
        match self {
            Figure::MeanLatency => Metric::Mean,
            Figure::Tps => Metric::Tps,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Change {
    Baseline,
    Percent(f64),
    Unknown,
}

#[derive(Debug, Clone)]
struct Bar {
    mode: SyncCommit,
    value: Option<Spread>,
    change: Change,
    flagged: bool,
}

pub struct Bars {
    figure: Figure,
    subtitle: String,
    bars: Vec<Bar>,
    notes: Vec<String>,
}

impl Bars {
    /// Bars with the same figures and changes as the report's table for this group.
    pub fn new(figure: Figure, group: &Group, baseline: SyncCommit) -> Bars {
        let metric = figure.metric();
        let has_base = group.mode(baseline).and_then(|m| m.shown(metric)).is_some();
        let bars: Vec<Bar> = group
            .modes
            .iter()
            .map(|m| Bar {
                mode: m.mode,
                value: m.shown(metric),
                change: if m.mode == baseline {
                    Change::Baseline
                } else {
                    m.change(metric)
                        .map_or(Change::Unknown, |c| Change::Percent(c.percent()))
                },
                flagged: m.no_standby > 0,
            })
            .collect();
        let reps = group.repetitions();
        let mut subtitle = format!("{} · ", group.key);
        if reps >= 2 {
            subtitle.push_str(&format!(
                "geometric mean of {reps} repetitions, whiskers min–max"
            ));
        } else {
            subtitle.push_str("1 repetition");
        }
        let mut notes = Vec::new();
        if !has_base {
            notes.push(format!(
                "No change shown: the baseline mode {baseline} has no result in this group."
            ));
        }
        if bars.iter().any(|b| b.flagged) {
            notes.push(style::FLAG_NOTE.to_string());
        }
        Bars {
            figure,
            subtitle,
            bars,
            notes,
        }
    }
}

impl Chart for Bars {
    fn size(&self) -> (u32, u32) {
        (900, 560)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        root.fill(&WHITE)?;
        let area = root
            .titled(self.figure.title(), text(style::TITLE_SIZE))?
            .titled(&self.subtitle, text(style::SUBTITLE_SIZE).color(&INK))?;
        let area = super::output::with_notes(&area, &self.notes)?;

        let n = self.bars.len();
        let top = self
            .bars
            .iter()
            .filter_map(|b| b.value.map(|v| v.top()))
            .fold(0.0, f64::max);
        // Headroom for the two label lines above the tallest bar.
        let y_max = if top > 0.0 { top * 1.28 } else { 1.0 };
        let x_axis = TickedAxis::linear(-0.5..n as f64 - 0.5, (0..n).map(|i| i as f64).collect());
        let mut chart = ChartBuilder::on(&area)
            .margin_left(10)
            .margin_right(25)
            .margin_top(10)
            .margin_bottom(8)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d(x_axis, 0.0..y_max)?;

        let names: Vec<String> = self
            .bars
            .iter()
            .map(|b| {
                let flag = if b.flagged { style::FLAG } else { "" };
                format!("{}{flag}", b.mode)
            })
            .collect();
        let x_name = |v: &f64| {
            let i = v.round();
            if i >= 0.0 && (i as usize) < names.len() {
                names[i as usize].clone()
            } else {
                String::new()
            }
        };
        chart
            .configure_mesh()
            .disable_x_mesh()
            .bold_line_style(style::GRID)
            .light_line_style(TRANSPARENT)
            .x_labels(n)
            .x_label_formatter(&x_name)
            .y_labels(8)
            .y_label_formatter(&|v| style::tick(*v))
            .x_desc("synchronous_commit mode")
            .y_desc(self.figure.y_desc())
            .axis_desc_style(text(style::AXIS_DESC_SIZE))
            .label_style(text(style::TICK_SIZE))
            .axis_style(INK)
            .draw()?;

        let half = 0.32;
        for (i, bar) in self.bars.iter().enumerate() {
            let x = i as f64;
            let colour = style::mode_colour(bar.mode);
            let Some(v) = bar.value else {
                let why = if bar.flagged { "left out*" } else { "no data" };
                chart.draw_series(std::iter::once(Text::new(
                    why,
                    (x, 0.0),
                    text(style::LABEL_SIZE).pos(Pos::new(HPos::Center, VPos::Bottom)),
                )))?;
                continue;
            };
            chart.draw_series(std::iter::once(Rectangle::new(
                [(x - half, 0.0), (x + half, v.value)],
                colour.filled(),
            )))?;
            if v.n >= 2 {
                let whisker = INK.stroke_width(2);
                chart.draw_series([
                    PathElement::new(vec![(x, v.min), (x, v.max)], whisker),
                    PathElement::new(vec![(x - 0.08, v.min), (x + 0.08, v.min)], whisker),
                    PathElement::new(vec![(x - 0.08, v.max), (x + 0.08, v.max)], whisker),
                ])?;
            }
            let above = Pos::new(HPos::Center, VPos::Bottom);
            let change = match bar.change {
                Change::Baseline => "baseline".to_string(),
                Change::Percent(p) => style::percent_change(p),
                Change::Unknown => String::new(),
            };
            chart.draw_series(std::iter::once(
                EmptyElement::at((x, v.top()))
                    + Text::new(
                        self.figure.value_label(v.value),
                        (0, -6),
                        text(style::LABEL_SIZE).pos(above),
                    )
                    + Text::new(change, (0, -24), text(style::LABEL_SIZE).pos(above)),
            ))?;
        }
        Ok(())
    }
}
