//! Latency against offered load: for groups that differ only in their offered rate (a sweep
//! with `rates`, or a capacity search's probes), a latency percentile (solid) and the mean
//! (dashed) against the rate, one colour per mode, so the knee where queueing starts shows.
//! A capacity search adds its objective as a line and each mode's capacity as a ring.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::axis::{TickedAxis, one_two_five};
use super::data::{Group, Spread};
use super::legend::{self, Dash, Entry, Look};
use super::output::{Chart, DrawResult};
use super::style::{self, INK, text};
use crate::analysis::stats::Metric;
use crate::pg::mode::SyncCommit;
use crate::sweep::folder::LoadKey;

/// A capacity search's objective, drawn across the chart.
#[derive(Debug, Clone)]
pub struct Objective {
    /// `p99`, `p99.9`.
    pub label: String,
    pub percentile: f64,
    pub slo_ms: f64,
    /// Each mode's capacity (TPS), marked on its line.
    pub capacities: Vec<(SyncCommit, u32)>,
}

struct Line {
    mode: SyncCommit,
    flagged: bool,
    /// (rate, percentile, mean)
    points: Vec<(f64, Spread, Option<Spread>)>,
}

pub struct Offered {
    subtitle: String,
    label: String,
    lines: Vec<Line>,
    objective: Option<Objective>,
}

/// Latencies spanning this ratio or more get a logarithmic axis.
const LOG_RATIO: f64 = 8.0;

impl Offered {
    /// `groups` share `key` and each has a rate.
    pub fn new(key: &LoadKey, groups: &[&Group], objective: Option<Objective>) -> Offered {
        let (label, percentile) = match &objective {
            Some(o) => (o.label.clone(), o.percentile),
            None => ("p99".to_string(), 99.0),
        };
        let lines = SyncCommit::ALL
            .into_iter()
            .filter_map(|mode| {
                let mut flagged = false;
                let mut points: Vec<(f64, Spread, Option<Spread>)> = groups
                    .iter()
                    .filter_map(|g| {
                        let rate = f64::from(g.key.rate?);
                        let m = g.mode(mode)?;
                        flagged |= m.no_standby > 0;
                        let top = if percentile == 99.0 {
                            m.shown(Metric::P99)?
                        } else {
                            // Other percentiles come from the counted cells' merged latencies.
                            if m.counted() == 0 {
                                return None;
                            }
                            let v = m.merged.value_at_quantile(percentile / 100.0) as f64 / 1000.0;
                            Spread {
                                value: v,
                                min: v,
                                max: v,
                                n: 1,
                            }
                        };
                        Some((rate, top, m.shown(Metric::Mean)))
                    })
                    .collect();
                points.sort_by(|a, b| a.0.total_cmp(&b.0));
                (!points.is_empty()).then_some(Line {
                    mode,
                    flagged,
                    points,
                })
            })
            .collect();
        let reps = groups.iter().map(|g| g.repetitions()).max().unwrap_or(0);
        let mut subtitle = key.to_string();
        if reps >= 2 {
            subtitle.push_str(" · geometric mean of the runs at a rate, whiskers min–max");
        }
        Offered {
            subtitle,
            label,
            lines,
            objective,
        }
    }

    pub fn title(&self) -> &'static str {
        "Latency against offered load"
    }

    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    fn y_axis(&self) -> (TickedAxis, bool) {
        let values = self.lines.iter().flat_map(|l| {
            l.points.iter().flat_map(|(_, p, m)| {
                [Some(p.min), Some(p.max), m.map(|m| m.min), m.map(|m| m.max)]
                    .into_iter()
                    .flatten()
            })
        });
        let slo = self.objective.as_ref().map(|o| o.slo_ms);
        let (lo, hi) = values
            .chain(slo)
            .filter(|v| *v > 0.0)
            .fold((f64::INFINITY, 0.0f64), |(lo, hi), v| {
                (lo.min(v), hi.max(v))
            });
        if !lo.is_finite() || hi <= 0.0 {
            return (TickedAxis::linear(0.0..1.0, vec![0.0, 0.5, 1.0]), false);
        }
        if hi / lo >= LOG_RATIO {
            let (a, b) = (lo / 1.3, hi * 1.3);
            (TickedAxis::log(a..b, one_two_five(a, b)), true)
        } else {
            let b = hi * 1.15;
            let step = nice_step(b);
            let ticks: Vec<f64> = (0..)
                .map(|i| f64::from(i) * step)
                .take_while(|v| *v <= b)
                .collect();
            (TickedAxis::linear(0.0..b, ticks), false)
        }
    }
}

/// A step of 1, 2 or 5 times a power of ten that cuts 0..`hi` into at most 8 parts.
fn nice_step(hi: f64) -> f64 {
    let base = 10f64.powf((hi / 8.0).log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * base)
        .find(|s| hi / s <= 8.0)
        .unwrap_or(10.0 * base)
}

impl Chart for Offered {
    fn size(&self) -> (u32, u32) {
        (1000, 560)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        root.fill(&WHITE)?;
        let area = root
            .titled(self.title(), text(style::TITLE_SIZE))?
            .titled(&self.subtitle, text(style::SUBTITLE_SIZE).color(&INK))?;
        let mut notes: Vec<String> = Vec::new();
        if self.lines.iter().any(|l| l.flagged) {
            notes.push(style::FLAG_NOTE.to_string());
        }
        if self.objective.is_some() {
            notes.push(
                "Rings: each mode's capacity, the highest rate that met the objective in every run."
                    .to_string(),
            );
        }
        let area = super::output::with_notes(&area, &notes)?;
        let (w, _) = area.dim_in_pixel();
        let (plot, legend_area) = area.split_horizontally(w - 210);

        let x_hi = self
            .lines
            .iter()
            .flat_map(|l| l.points.iter().map(|p| p.0))
            .fold(1.0, f64::max);
        let (y_axis, log) = self.y_axis();
        let mut chart = ChartBuilder::on(&plot)
            .margin_left(10)
            .margin_right(20)
            .margin_top(10)
            .margin_bottom(8)
            .x_label_area_size(45)
            .y_label_area_size(70)
            .build_cartesian_2d(0.0..x_hi * 1.06, y_axis.clone())?;
        chart
            .configure_mesh()
            .bold_line_style(style::GRID)
            .light_line_style(TRANSPARENT)
            .x_labels(10)
            .x_label_formatter(&|v| style::tick(*v))
            .y_labels(10)
            .y_label_formatter(&|v| style::tick(*v))
            .x_desc("offered rate (transactions/s over all clients)")
            .y_desc(if log {
                "latency (ms, log scale)"
            } else {
                "latency (ms)"
            })
            .axis_desc_style(text(style::AXIS_DESC_SIZE))
            .label_style(text(style::TICK_SIZE))
            .axis_style(INK)
            .draw()?;

        let mut entries = Vec::new();
        if let Some(o) = &self.objective {
            let look = Look {
                colour: INK,
                width: 2,
                dash: Dash::Dotted,
            };
            let line = vec![(0.0, o.slo_ms), (x_hi * 1.06, o.slo_ms)];
            chart.draw_series(look.solid(line.clone()))?;
            chart.draw_series(look.dashed(line))?;
            entries.push(Entry::Line(
                format!("objective {} ≤ {} ms", o.label, o.slo_ms),
                look,
            ));
        }
        for line in &self.lines {
            let colour = style::mode_colour(line.mode);
            let top = Look {
                colour,
                width: 3,
                dash: Dash::Solid,
            };
            let mean = Look {
                colour,
                width: 2,
                dash: Dash::Dashed,
            };
            let values: Vec<(f64, f64)> =
                line.points.iter().map(|(x, s, _)| (*x, s.value)).collect();
            chart.draw_series(top.solid(values.clone()))?;
            chart.draw_series(
                values
                    .iter()
                    .map(|(x, y)| Circle::new((*x, *y), 4, colour.filled())),
            )?;
            let means: Vec<(f64, f64)> = line
                .points
                .iter()
                .filter_map(|(x, _, m)| m.map(|m| (*x, m.value)))
                .collect();
            chart.draw_series(mean.dashed(means))?;
            let whisker = colour.stroke_width(2);
            for (x, s, _) in line.points.iter().filter(|(_, s, _)| s.n >= 2) {
                chart.draw_series([PathElement::new(vec![(*x, s.min), (*x, s.max)], whisker)])?;
            }
            if let Some(o) = &self.objective
                && let Some((_, c)) = o.capacities.iter().find(|(m, _)| *m == line.mode)
                && let Some((x, s, _)) = line.points.iter().find(|(x, _, _)| *x == f64::from(*c))
            {
                chart.draw_series([Circle::new((*x, s.value), 10, colour.stroke_width(3))])?;
            }
            let flag = if line.flagged { style::FLAG } else { "" };
            entries.push(Entry::Line(
                format!("{}{flag} {}", line.mode, self.label),
                top,
            ));
            entries.push(Entry::Line(format!("{}{flag} mean", line.mode), mean));
        }
        legend::draw(&legend_area, 40, &entries)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn linear_latency_ticks_take_one_two_five_steps() {
        assert_eq!(super::nice_step(23.0), 5.0);
        assert_eq!(super::nice_step(7.9), 1.0);
        assert_eq!(super::nice_step(0.9), 0.2);
    }
}
