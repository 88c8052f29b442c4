//! Latency percentile spectrum: latency against percentile on a "nines" axis, where
//! x = -log10(1 - q) puts 90, 99, 99.9 and 99.99 at equal steps.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::axis::{TickedAxis, one_two_five};
use super::data::Group;
use super::output::{Chart, DrawResult};
use super::style::{self, INK, text};
use crate::pg::mode::SyncCommit;

/// The highest percentile shown: 99.99.
const NINES: f64 = 4.0;
/// Points per nine; enough for a smooth curve, few enough to keep SVGs small.
const STEPS_PER_NINE: usize = 25;

pub struct Spectrum {
    subtitle: String,
    lines: Vec<Line>,
    notes: Vec<String>,
}

struct Line {
    mode: SyncCommit,
    flagged: bool,
    /// (nines, latency ms)
    points: Vec<(f64, f64)>,
}

/// The percentile label of a position on the nines axis: 0, 90, 99, 99.9, 99.99.
fn percentile_label(x: f64) -> String {
    let p = 100.0 * (1.0 - 10f64.powf(-x));
    let decimals = (x.round() as usize).saturating_sub(2);
    format!("{p:.decimals$}")
}

impl Spectrum {
    pub fn new(group: &Group) -> Spectrum {
        let lines = group
            .modes
            .iter()
            .filter(|m| !m.merged.is_empty())
            .map(|m| Line {
                mode: m.mode,
                flagged: m.no_standby > 0,
                points: (0..=STEPS_PER_NINE * NINES as usize)
                    .map(|i| {
                        // Evenly spaced on the nines axis: q = 1 - 10^-x.
                        let x = i as f64 / STEPS_PER_NINE as f64;
                        let q = 1.0 - 10f64.powf(-x);
                        (x, m.merged.value_at_quantile(q) as f64 / 1000.0)
                    })
                    .collect(),
            })
            .collect();
        let reps = group.repetitions();
        let merged = if reps >= 2 {
            format!("{reps} repetitions merged")
        } else {
            "1 repetition".to_string()
        };
        let mut notes = Vec::new();
        let left_out: Vec<&str> = group
            .modes
            .iter()
            .filter(|m| m.merged.is_empty() && m.no_standby > 0)
            .map(|m| m.mode.as_str())
            .collect();
        if !left_out.is_empty() {
            notes.push(format!("Not shown: {}*.", left_out.join(", ")));
        }
        if !left_out.is_empty() || group.modes.iter().any(|m| m.no_standby > 0) {
            notes.push(style::FLAG_NOTE.to_string());
        }
        Spectrum {
            subtitle: format!("{} · {merged}", group.key),
            lines,
            notes,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }
}

impl Chart for Spectrum {
    fn size(&self) -> (u32, u32) {
        (900, 560)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        root.fill(&WHITE)?;
        let area = root
            .titled("Latency percentiles per mode", text(style::TITLE_SIZE))?
            .titled(&self.subtitle, text(style::SUBTITLE_SIZE).color(&INK))?;
        let area = super::output::with_notes(&area, &self.notes)?;
        // Latency on a log axis: the body (a few ms) and the tail (often 100x that) both readable.
        let values = || self.lines.iter().flat_map(|l| l.points.iter().map(|p| p.1));
        let y_top = values().fold(0.0, f64::max);
        let y_low = values().filter(|v| *v > 0.0).fold(f64::INFINITY, f64::min);
        let (y_lo, y_hi) = if y_top > 0.0 {
            (y_low / 1.3, y_top * 1.3)
        } else {
            (0.1, 1.0)
        };
        let y_axis = TickedAxis::log(y_lo..y_hi, one_two_five(y_lo, y_hi));
        let x_axis =
            TickedAxis::linear(0.0..NINES, (0..=NINES as usize).map(|i| i as f64).collect());
        let mut chart = ChartBuilder::on(&area)
            .margin_left(10)
            .margin_right(30)
            .margin_top(10)
            .margin_bottom(8)
            .x_label_area_size(45)
            .y_label_area_size(70)
            .build_cartesian_2d(x_axis, y_axis)?;
        chart
            .configure_mesh()
            .bold_line_style(style::GRID)
            .light_line_style(TRANSPARENT)
            .x_label_formatter(&|x| percentile_label(*x))
            .y_labels(12)
            .y_label_formatter(&|v| style::tick(*v))
            .x_desc("percentile (%), log scale of nines")
            .y_desc("latency (ms, log scale)")
            .axis_desc_style(text(style::AXIS_DESC_SIZE))
            .label_style(text(style::TICK_SIZE))
            .axis_style(INK)
            .draw()?;
        for line in &self.lines {
            let colour = style::mode_colour(line.mode);
            let flag = if line.flagged { style::FLAG } else { "" };
            let label = format!("{}{flag}", line.mode);
            chart
                .draw_series(LineSeries::new(
                    line.points.iter().copied(),
                    colour.stroke_width(3),
                ))?
                .label(label)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 24, y)], colour.stroke_width(3))
                });
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .label_font(text(style::LABEL_SIZE))
            .background_style(WHITE.mix(0.9))
            .border_style(INK)
            .margin(12)
            .draw()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nines_axis_labels_read_as_percentiles() {
        let labels: Vec<String> = (0..=4).map(|x| percentile_label(x as f64)).collect();
        assert_eq!(labels, ["0", "90", "99", "99.9", "99.99"]);
    }
}
