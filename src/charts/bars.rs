//! Bars of one figure per mode (mean over repetitions, min–max whiskers), each labelled with its
//! value and its change against the baseline mode.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::axis::TickedAxis;
use super::data::{Group, ModeData, Spread, change_pct};
use super::output::{Chart, DrawResult};
use super::style::{self, INK, text};
use crate::mode::SyncCommit;

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

    fn of(self, m: &ModeData) -> Option<Spread> {
        match self {
            Figure::MeanLatency => m.latency_mean,
            Figure::Tps => m.tps,
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
    pub fn new(figure: Figure, group: &Group, baseline: SyncCommit) -> Bars {
        let base = group.mode(baseline).and_then(|m| figure.of(m));
        let bars: Vec<Bar> = group
            .modes
            .iter()
            .map(|m| {
                let value = figure.of(m);
                let change = match (m.mode == baseline, value, base) {
                    (true, Some(_), _) => Change::Baseline,
                    (false, Some(v), Some(b)) => {
                        change_pct(v.mean, b.mean).map_or(Change::Unknown, Change::Percent)
                    }
                    _ => Change::Unknown,
                };
                Bar {
                    mode: m.mode,
                    value,
                    change,
                    flagged: m.missing_sync_standby,
                }
            })
            .collect();
        let reps = group.repetitions();
        let mut subtitle = format!("{} · ", group.key);
        if reps >= 2 {
            subtitle.push_str(&format!("mean of {reps} repetitions, whiskers min–max"));
        } else {
            subtitle.push_str("1 repetition");
        }
        let mut notes = Vec::new();
        if base.is_none() {
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
                chart.draw_series(std::iter::once(Text::new(
                    "no data",
                    (x, 0.0),
                    text(style::LABEL_SIZE).pos(Pos::new(HPos::Center, VPos::Bottom)),
                )))?;
                continue;
            };
            chart.draw_series(std::iter::once(Rectangle::new(
                [(x - half, 0.0), (x + half, v.mean)],
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
                        self.figure.value_label(v.mean),
                        (0, -6),
                        text(style::LABEL_SIZE).pos(above),
                    )
                    + Text::new(change, (0, -24), text(style::LABEL_SIZE).pos(above)),
            ))?;
        }
        Ok(())
    }
}
