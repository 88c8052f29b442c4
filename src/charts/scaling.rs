//! Scaling curves: a figure against the number of clients, one line per mode, for groups that
//! differ only in their client count.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::axis::TickedAxis;
use super::data::{Group, ScalingKey, Spread};
use super::legend::{self, Dash, Entry, Look};
use super::output::{Chart, DrawResult};
use super::style::{self, INK, text};
use crate::analysis::stats::Metric;
use crate::pg::mode::SyncCommit;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Figure {
    Tps,
    P99,
}

impl Figure {
    pub fn title(self) -> &'static str {
        match self {
            Figure::Tps => "Throughput against clients",
            Figure::P99 => "p99 latency against clients",
        }
    }

    fn y_desc(self) -> &'static str {
        match self {
            Figure::Tps => "throughput (transactions/s)",
            Figure::P99 => "p99 latency (ms)",
        }
    }
}

struct Line {
    mode: SyncCommit,
    flagged: bool,
    points: Vec<(f64, Spread)>,
}

pub struct Scaling {
    figure: Figure,
    subtitle: String,
    clients: Vec<f64>,
    lines: Vec<Line>,
}

/// Client counts spanning this ratio or more get a logarithmic axis.
const LOG_RATIO: f64 = 8.0;
/// How far apart neighbouring modes are drawn, as a fraction of the axis length.
const DODGE: f64 = 0.008;

impl Scaling {
    pub fn new(figure: Figure, key: &ScalingKey, groups: &[&Group]) -> Scaling {
        let clients: Vec<f64> = groups.iter().map(|g| g.key.clients as f64).collect();
        let lines = SyncCommit::ALL
            .into_iter()
            .filter_map(|mode| {
                let mut flagged = false;
                let points: Vec<(f64, Spread)> = groups
                    .iter()
                    .filter_map(|g| {
                        let m = g.mode(mode)?;
                        flagged |= m.no_standby > 0;
                        let v = m.shown(match figure {
                            Figure::Tps => Metric::Tps,
                            Figure::P99 => Metric::P99,
                        })?;
                        Some((g.key.clients as f64, v))
                    })
                    .collect();
                (!points.is_empty()).then_some(Line {
                    mode,
                    flagged,
                    points,
                })
            })
            .collect();
        let reps = groups.iter().map(|g| g.repetitions()).max().unwrap_or(0);
        let mut subtitle = format!(
            "{}, scale {}, {} threads",
            key.workload.name(),
            key.scale,
            key.threads
        );
        if key.rtt_ms > 0 {
            subtitle.push_str(&format!(", +{} ms RTT", key.rtt_ms));
        }
        if let Some(r) = key.rate {
            subtitle.push_str(&format!(", offered {r} TPS"));
        }
        if reps >= 2 {
            subtitle.push_str(&format!(
                " · geometric mean of {reps} repetitions, whiskers min–max"
            ));
        }
        Scaling {
            figure,
            subtitle,
            clients,
            lines,
        }
    }

    fn axis(&self) -> (TickedAxis, bool) {
        let lo = self.clients.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = self.clients.iter().copied().fold(0.0, f64::max);
        if lo >= 1.0 && hi / lo >= LOG_RATIO {
            (
                TickedAxis::log(lo / 1.25..hi * 1.25, self.clients.clone()),
                true,
            )
        } else {
            let pad = ((hi - lo) * 0.06).max(0.5);
            (
                TickedAxis::linear(lo - pad..hi + pad, self.clients.clone()),
                false,
            )
        }
    }
}

impl Chart for Scaling {
    fn size(&self) -> (u32, u32) {
        (1000, 560)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        root.fill(&WHITE)?;
        let area = root
            .titled(self.figure.title(), text(style::TITLE_SIZE))?
            .titled(&self.subtitle, text(style::SUBTITLE_SIZE).color(&INK))?;
        let notes: Vec<String> = if self.lines.iter().any(|l| l.flagged) {
            vec![style::FLAG_NOTE.to_string()]
        } else {
            Vec::new()
        };
        let area = super::output::with_notes(&area, &notes)?;
        let (w, _) = area.dim_in_pixel();
        let (plot, legend_area) = area.split_horizontally(w - 190);

        let top = self
            .lines
            .iter()
            .flat_map(|l| l.points.iter().map(|p| p.1.top()))
            .fold(0.0, f64::max);
        let (x_axis, log) = self.axis();
        let mut chart = ChartBuilder::on(&plot)
            .margin_left(10)
            .margin_right(20)
            .margin_top(10)
            .margin_bottom(8)
            .x_label_area_size(45)
            .y_label_area_size(70)
            .build_cartesian_2d(x_axis.clone(), 0.0..if top > 0.0 { top * 1.1 } else { 1.0 })?;
        chart
            .configure_mesh()
            .bold_line_style(style::GRID)
            .light_line_style(TRANSPARENT)
            .x_labels(12)
            .x_label_formatter(&|v| format!("{v:.0}"))
            .y_labels(8)
            .y_label_formatter(&|v| style::tick(*v))
            .x_desc(if log {
                "clients (log scale)"
            } else {
                "clients"
            })
            .y_desc(self.figure.y_desc())
            .axis_desc_style(text(style::AXIS_DESC_SIZE))
            .label_style(text(style::TICK_SIZE))
            .axis_style(INK)
            .draw()?;

        let mut entries = Vec::new();
        for line in &self.lines {
            let colour = style::mode_colour(line.mode);
            let look = Look {
                colour,
                width: 3,
                dash: Dash::Solid,
            };
            // Each mode slightly beside the others, so whiskers at one client count stay apart.
            let slot = SyncCommit::ALL
                .iter()
                .position(|&m| m == line.mode)
                .unwrap_or(2);
            let dodge = (slot as f64 - 2.0) * DODGE;
            let points: Vec<(f64, Spread)> = line
                .points
                .iter()
                .map(|(x, s)| (x_axis.shifted(*x, dodge), *s))
                .collect();
            let values: Vec<(f64, f64)> = points.iter().map(|(x, s)| (*x, s.value)).collect();
            chart.draw_series(look.solid(values))?;
            chart.draw_series(
                points
                    .iter()
                    .map(|(x, s)| Circle::new((*x, s.value), 5, colour.filled())),
            )?;
            let whisker = colour.stroke_width(2);
            for (x, s) in points.iter().filter(|(_, s)| s.n >= 2) {
                chart.draw_series([PathElement::new(vec![(*x, s.min), (*x, s.max)], whisker)])?;
                // Caps are a fixed number of pixels wide, whatever the axis scale.
                chart.draw_series([s.min, s.max].map(|y| {
                    EmptyElement::at((*x, y)) + PathElement::new(vec![(-6, 0), (6, 0)], whisker)
                }))?;
            }
            let flag = if line.flagged { style::FLAG } else { "" };
            entries.push(Entry::Line(format!("{}{flag}", line.mode), look));
        }
        legend::draw(&legend_area, 40, &entries)
    }
}
