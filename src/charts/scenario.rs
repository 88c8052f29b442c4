//! A scenario variant over time: TPS and p99 latency per second, failed transactions, the
//! longest window without a commit shaded, and every action marked where it happened.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::legend::{self, Dash, Entry, Look};
use super::output::{Chart, DrawResult};
use super::style::{self, INK, text};
use super::timeline::{Segments, draw_time_axes, segments};
use crate::scenario::VariantResult;

const LEGEND_WIDTH: u32 = 230;
const AXIS_WIDTH: u32 = 75;
const FAULT: RGBColor = RGBColor(213, 94, 0);
const UNDO: RGBColor = RGBColor(0, 158, 115);
const GAP: RGBColor = RGBColor(240, 228, 66);

pub struct ScenarioTimeline {
    title: String,
    subtitle: String,
    t_max: f64,
    tps: Vec<(f64, f64)>,
    /// Broken where a second had no commit, so no line crosses a write gap.
    p99: Segments,
    failed: Vec<(f64, f64)>,
    /// (time, label, is a fault)
    marks: Vec<(f64, String, bool)>,
    gap: (f64, f64),
}

impl ScenarioTimeline {
    pub fn new(scenario: &str, v: &VariantResult) -> ScenarioTimeline {
        let points: Vec<_> = v
            .run
            .timeline
            .iter()
            .filter(|p| p.duration >= 0.5)
            .collect();
        let t_max = points
            .iter()
            .map(|p| p.t)
            .chain(v.actions.iter().map(|a| a.t))
            .fold(1.0, f64::max)
            .ceil();
        let marks = v
            .actions
            .iter()
            .map(|a| {
                let who = if a.members.is_empty() {
                    String::new()
                } else {
                    format!(" {}", a.members.join(", "))
                };
                let fault = !a.action.is_recovery();
                (a.t, format!("{}{who}", a.action), fault)
            })
            .collect();
        let g = v.availability.longest_write_gap;
        ScenarioTimeline {
            title: format!("Scenario {}: {}", scenario, v.label),
            subtitle: format!(
                "synchronous_commit={} · lost {} of {} acknowledged · longest write gap {:.1} s",
                v.run.target.synchronous_commit, v.audit.lost, v.audit.acknowledged, g.seconds
            ),
            t_max,
            tps: points.iter().map(|p| (p.t, p.tps)).collect(),
            p99: segments(points.iter().map(|p| (p.t, p.latency.map(|l| l.p99)))),
            failed: points
                .iter()
                .filter(|p| p.failed > 0)
                .map(|p| (p.t, p.failed as f64))
                .collect(),
            marks,
            gap: (g.from, g.to),
        }
    }

    pub fn title(&self) -> &str {
        &self.title
    }
}

fn upper(values: &[(f64, f64)]) -> f64 {
    let max = values.iter().map(|p| p.1).fold(0.0, f64::max);
    if max > 0.0 { max * 1.15 } else { 1.0 }
}

impl Chart for ScenarioTimeline {
    fn size(&self) -> (u32, u32) {
        (1100, 620)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        root.fill(&WHITE)?;
        let area = root
            .titled(&self.title, text(style::TITLE_SIZE))?
            .titled(&self.subtitle, text(style::SUBTITLE_SIZE).color(&INK))?;
        let (w, _) = area.dim_in_pixel();
        let (plot, legend_area) = area.split_horizontally(w - LEGEND_WIDTH);
        let tps_max = upper(&self.tps);
        let p99_max = upper(&self.p99.concat());
        let mut chart = ChartBuilder::on(&plot)
            .margin(10)
            .margin_top(40)
            .x_label_area_size(45)
            .y_label_area_size(AXIS_WIDTH)
            .right_y_label_area_size(AXIS_WIDTH)
            .build_cartesian_2d(0.0..self.t_max, 0.0..tps_max)?
            .set_secondary_coord(0.0..self.t_max, 0.0..p99_max);
        draw_time_axes(
            &mut chart,
            Some("time since the load started (s)"),
            "throughput (TPS) · failed per second",
            "p99 latency (ms)",
        )?;
        if self.gap.1 > self.gap.0 {
            chart.draw_series(std::iter::once(Rectangle::new(
                [(self.gap.0, 0.0), (self.gap.1, tps_max)],
                GAP.mix(0.35).filled(),
            )))?;
        }
        let tps_look = Look {
            colour: style::mode_colour(crate::pg::mode::SyncCommit::Off),
            width: 2,
            dash: Dash::Solid,
        };
        let p99_look = Look {
            colour: INK,
            width: 2,
            dash: Dash::Dashed,
        };
        let failed_look = Look {
            colour: RGBColor(204, 0, 0),
            width: 2,
            dash: Dash::Dotted,
        };
        chart.draw_series(tps_look.solid(self.tps.clone()))?;
        chart.draw_secondary_series(self.p99.iter().filter_map(|s| p99_look.dashed(s.clone())))?;
        chart.draw_series(
            self.failed
                .iter()
                .map(|&(t, n)| Circle::new((t, n.min(tps_max)), 4, failed_look.colour.filled())),
        )?;
        // Actions: a vertical line each, labels staggered so neighbours do not overlap.
        let label = text(style::NOTE_SIZE)
            .color(&INK)
            .pos(Pos::new(HPos::Left, VPos::Bottom));
        for (i, (t, name, fault)) in self.marks.iter().enumerate() {
            let colour = if *fault { FAULT } else { UNDO };
            chart.draw_series(std::iter::once(PathElement::new(
                vec![(*t, 0.0), (*t, tps_max)],
                colour.stroke_width(2),
            )))?;
            let y = tps_max * (0.97 - 0.07 * (i % 3) as f64);
            chart.draw_series(std::iter::once(Text::new(
                name.clone(),
                (*t + self.t_max * 0.005, y),
                label.clone(),
            )))?;
        }
        legend::draw(
            &legend_area,
            60,
            &[
                Entry::Line("throughput (left)".into(), tps_look),
                Entry::Line("p99 latency (right)".into(), p99_look),
                Entry::Line("failed per second (dots)".into(), failed_look),
                Entry::Line(
                    "fault".into(),
                    Look {
                        colour: FAULT,
                        width: 2,
                        dash: Dash::Solid,
                    },
                ),
                Entry::Line(
                    "undo".into(),
                    Look {
                        colour: UNDO,
                        width: 2,
                        dash: Dash::Solid,
                    },
                ),
                Entry::Line(
                    "longest write gap".into(),
                    Look {
                        colour: GAP,
                        width: 8,
                        dash: Dash::Solid,
                    },
                ),
            ],
        )
    }
}
