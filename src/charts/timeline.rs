//! One cell over time: TPS and p99 latency per second above, each standby's replication lag
//! beneath, on the same time axis. Legends sit in a column to the right.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::legend::{self, Dash, Entry, Look};
use super::output::{Chart, DrawResult};
use super::style::{self, INK, text};
use crate::sweep::folder::CellResult;

const LEGEND_WIDTH: u32 = 230;
/// Shortest interval, in seconds, whose TPS and p99 are drawn.
const MIN_INTERVAL: f64 = 0.5;
/// Room for a y axis's tick labels and description.
const AXIS_WIDTH: u32 = 75;

/// Points with gaps: a missing value ends a segment.
pub(super) type Segments = Vec<Vec<(f64, f64)>>;

pub(super) fn segments(points: impl IntoIterator<Item = (f64, Option<f64>)>) -> Segments {
    let mut out: Segments = vec![Vec::new()];
    for (t, v) in points {
        match v.filter(|v| v.is_finite()) {
            Some(v) => out.last_mut().expect("never empty").push((t, v)),
            None if out.last().is_some_and(|s| !s.is_empty()) => out.push(Vec::new()),
            None => {}
        }
    }
    out.retain(|s| !s.is_empty());
    out
}

fn max_of(segs: &Segments) -> f64 {
    segs.iter().flatten().map(|p| p.1).fold(0.0, f64::max)
}

/// Headroom above the highest value; 1 when there is nothing to show.
fn upper(max: f64) -> f64 {
    if max > 0.0 { max * 1.12 } else { 1.0 }
}

/// A dot for each value that has no neighbour to draw a line to (a line of one point is
/// invisible), as when a standby reports lag only now and then.
fn lonely(segs: &Segments, look: Look) -> impl Iterator<Item = Circle<(f64, f64), u32>> + '_ {
    segs.iter()
        .filter(|s| s.len() == 1)
        .map(move |s| Circle::new(s[0], 3, look.colour.filled()))
}

struct LagLine {
    kind: &'static str,
    look: Look,
    segments: Segments,
}

/// One standby's three lag lines.
struct Standby {
    name: String,
    sync_state: String,
    lines: Vec<LagLine>,
}

pub struct Timeline {
    title: String,
    subtitle: String,
    t_max: f64,
    tps: Segments,
    p99: Segments,
    tps_look: Look,
    p99_look: Look,
    standbys: Vec<Standby>,
    /// Why the lag panel is empty, when it is.
    no_lag: Option<&'static str>,
}

impl Timeline {
    pub fn new(cell: &CellResult) -> Timeline {
        let key = &cell.cell;
        // A last interval much shorter than a second (the clients' final transactions draining)
        // gives a rate that is mostly noise: leave it out, as pgbench's progress reports do.
        let timeline: Vec<_> = cell
            .run
            .timeline
            .iter()
            .filter(|p| p.duration >= MIN_INTERVAL)
            .collect();
        let tps = segments(timeline.iter().map(|p| (p.t, Some(p.tps))));
        let p99 = segments(timeline.iter().map(|p| (p.t, p.latency.map(|l| l.p99))));

        // Warmup samples (t < 0) fall outside the measured window the top panel shows.
        let samples: Vec<_> = cell.samples.iter().filter(|s| s.t >= 0.0).collect();
        let mut names: Vec<&str> = samples
            .iter()
            .flat_map(|s| s.standbys.iter().map(|b| b.name.as_str()))
            .collect();
        names.sort_unstable();
        names.dedup();
        let mut standbys = Vec::new();
        for (i, name) in names.iter().enumerate() {
            let colour = style::standby_colour(i);
            let of = |f: fn(&crate::sweep::folder::StandbySample) -> Option<f64>| {
                segments(samples.iter().map(|s| {
                    let b = s.standbys.iter().find(|b| b.name == *name);
                    (s.t, b.and_then(f))
                }))
            };
            let sync_state = samples
                .iter()
                .rev()
                .find_map(|s| s.standbys.iter().find(|b| b.name == *name))
                .map_or("?".to_string(), |b| b.sync_state.clone());
            let kinds: [(&str, _, Dash); 3] = [
                ("write", of(|b| b.write_lag_ms), Dash::Dotted),
                ("flush", of(|b| b.flush_lag_ms), Dash::Dashed),
                ("replay", of(|b| b.replay_lag_ms), Dash::Solid),
            ];
            let lines = kinds
                .into_iter()
                .map(|(kind, segments, dash)| LagLine {
                    kind,
                    look: Look {
                        colour,
                        width: 2,
                        dash,
                    },
                    segments,
                })
                .collect();
            standbys.push(Standby {
                name: name.to_string(),
                sync_state,
                lines,
            });
        }
        let no_lag = if samples.is_empty() {
            Some("No replication samples were recorded for this cell.")
        } else if names.is_empty() {
            Some("No standby was connected while this cell ran.")
        } else if standbys
            .iter()
            .flat_map(|s| &s.lines)
            .all(|l| l.segments.is_empty())
        {
            Some("The standbys reported no lag values (PostgreSQL shows none when idle).")
        } else {
            None
        };

        // Whole seconds, so the time axis ends on a labelled tick.
        let t_max = timeline
            .iter()
            .map(|p| p.t)
            .chain(samples.iter().map(|s| s.t))
            .fold(1.0, f64::max)
            .ceil();
        let standby = if cell.sync_standby_attached {
            "synchronous standby attached"
        } else {
            "NO synchronous standby attached"
        };
        Timeline {
            title: format!("Timeline: {}, repetition {}", key.mode, key.repetition),
            subtitle: format!("{} · {standby}", key.group()),
            t_max,
            tps,
            p99,
            tps_look: Look {
                colour: style::mode_colour(key.mode),
                width: 2,
                dash: Dash::Solid,
            },
            p99_look: Look {
                colour: INK,
                width: 2,
                dash: Dash::Dashed,
            },
            standbys,
            no_lag,
        }
    }

    pub fn title(&self) -> &str {
        &self.title
    }
}

impl Chart for Timeline {
    fn size(&self) -> (u32, u32) {
        (1100, 760)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        root.fill(&WHITE)?;
        let area = root
            .titled(&self.title, text(style::TITLE_SIZE))?
            .titled(&self.subtitle, text(style::SUBTITLE_SIZE).color(&INK))?;
        let (w, h) = area.dim_in_pixel();
        let (plots, legends) = area.split_horizontally(w - LEGEND_WIDTH);
        let split = (h as f64 * 0.55) as i32;
        let (top, bottom) = plots.split_vertically(split);
        let (legend_top, legend_bottom) = legends.split_vertically(split);

        // Both panels share the time axis and the same label widths, so seconds line up.
        let tps_max = upper(max_of(&self.tps));
        let p99_max = upper(max_of(&self.p99));
        let mut chart = ChartBuilder::on(&top)
            .margin(10)
            .x_label_area_size(35)
            .y_label_area_size(AXIS_WIDTH)
            .right_y_label_area_size(AXIS_WIDTH)
            .build_cartesian_2d(0.0..self.t_max, 0.0..tps_max)?
            .set_secondary_coord(0.0..self.t_max, 0.0..p99_max);
        draw_time_axes(&mut chart, None, "throughput (TPS)", "p99 latency (ms)")?;
        let (tps, p99) = (self.tps_look, self.p99_look);
        chart.draw_series(self.tps.iter().filter_map(|s| tps.solid(s.clone())))?;
        chart.draw_series(self.tps.iter().filter_map(|s| tps.dashed(s.clone())))?;
        chart.draw_secondary_series(self.p99.iter().filter_map(|s| p99.solid(s.clone())))?;
        chart.draw_secondary_series(self.p99.iter().filter_map(|s| p99.dashed(s.clone())))?;
        chart.draw_series(lonely(&self.tps, tps))?;
        chart.draw_secondary_series(lonely(&self.p99, p99))?;
        legend::draw(
            &legend_top,
            30,
            &[
                Entry::Line("throughput (left)".to_string(), self.tps_look),
                Entry::Line("p99 latency (right)".to_string(), self.p99_look),
            ],
        )?;

        let lag_max = upper(
            self.standbys
                .iter()
                .flat_map(|s| &s.lines)
                .map(|l| max_of(&l.segments))
                .fold(0.0, f64::max),
        );
        // No right axis here: an equal right margin keeps the time axis aligned with the top.
        let mut chart = ChartBuilder::on(&bottom)
            .margin(10)
            .margin_right(10 + AXIS_WIDTH)
            .x_label_area_size(45)
            .y_label_area_size(AXIS_WIDTH)
            .build_cartesian_2d(0.0..self.t_max, 0.0..lag_max)?;
        chart
            .configure_mesh()
            .bold_line_style(style::GRID)
            .light_line_style(TRANSPARENT)
            .x_labels(12)
            .x_label_formatter(&|v| style::tick(*v))
            // An empty panel gets no lag scale: its 0..1 would mean nothing.
            .y_labels(if self.no_lag.is_some() { 0 } else { 5 })
            .y_label_formatter(&|v| style::tick(*v))
            .x_desc("time since measurement start (s)")
            .y_desc("replication lag (ms)")
            .axis_desc_style(text(style::AXIS_DESC_SIZE))
            .label_style(text(style::TICK_SIZE))
            .axis_style(INK)
            .draw()?;
        if let Some(why) = self.no_lag {
            chart.draw_series(std::iter::once(Text::new(
                why,
                (self.t_max / 2.0, lag_max / 2.0),
                text(style::SUBTITLE_SIZE).pos(Pos::new(HPos::Center, VPos::Center)),
            )))?;
            return Ok(());
        }
        let mut entries = Vec::new();
        for standby in &self.standbys {
            entries.push(Entry::Heading {
                name: standby.name.clone(),
                keep: format!(" ({})", standby.sync_state),
            });
            for lag in &standby.lines {
                let look = lag.look;
                chart.draw_series(lag.segments.iter().filter_map(|s| look.solid(s.clone())))?;
                chart.draw_series(lag.segments.iter().filter_map(|s| look.dashed(s.clone())))?;
                chart.draw_series(lonely(&lag.segments, look))?;
                entries.push(Entry::Line(format!("{} lag", lag.kind), look));
            }
        }
        legend::draw(&legend_bottom, 20, &entries)
    }
}

/// A time axis with throughput on the left and latency on the right: the mesh and both y
/// axes as every timeline draws them.
pub fn draw_time_axes<DB: DrawingBackend>(
    chart: &mut DualTimeChart<'_, DB>,
    x_desc: Option<&str>,
    left: &str,
    right: &str,
) -> DrawResult<DB> {
    let mut mesh = chart.configure_mesh();
    mesh.bold_line_style(style::GRID)
        .light_line_style(TRANSPARENT)
        .x_labels(12)
        .x_label_formatter(&|v| style::tick(*v))
        .y_labels(6)
        .y_label_formatter(&|v| style::tick(*v))
        .y_desc(left)
        .axis_desc_style(text(style::AXIS_DESC_SIZE))
        .label_style(text(style::TICK_SIZE))
        .axis_style(INK);
    if let Some(x) = x_desc {
        mesh.x_desc(x);
    }
    mesh.draw()?;
    chart
        .configure_secondary_axes()
        .y_labels(6)
        .y_label_formatter(&|v| style::tick(*v))
        .y_desc(right)
        .axis_desc_style(text(style::AXIS_DESC_SIZE))
        .label_style(text(style::TICK_SIZE))
        .axis_style(INK)
        .draw()
}

/// A chart over time with a second y axis on the right.
pub type DualTimeChart<'a, DB> = plotters::chart::DualCoordChartContext<
    'a,
    DB,
    Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
    Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_values_split_a_line() {
        let s = segments([
            (1.0, Some(1.0)),
            (2.0, None),
            (3.0, Some(3.0)),
            (4.0, Some(f64::NAN)),
            (5.0, None),
            (6.0, Some(6.0)),
            (7.0, Some(7.0)),
        ]);
        assert_eq!(
            s,
            vec![
                vec![(1.0, 1.0)],
                vec![(3.0, 3.0)],
                vec![(6.0, 6.0), (7.0, 7.0)]
            ]
        );
        assert!(segments([(1.0, None)]).is_empty());
    }

    #[test]
    fn a_short_last_interval_is_left_out() {
        let mut cell = crate::charts::tests::sweep(&[8], 1).cells.remove(0);
        let last = cell.run.timeline.last().unwrap().clone();
        cell.run.timeline.push(crate::load::metrics::TimelinePoint {
            t: last.t + 0.07,
            duration: 0.07,
            transactions: 3,
            tps: 3.0 / 0.07,
            ..last
        });
        let chart = Timeline::new(&cell);
        let drawn: Vec<f64> = chart.tps.iter().flatten().map(|p| p.0).collect();
        assert_eq!(drawn.len(), cell.run.timeline.len() - 1);
        assert_eq!(drawn.last(), Some(&last.t));
    }

    #[test]
    fn isolated_values_get_a_dot() {
        let s = segments([
            (1.0, Some(1.0)),
            (2.0, None),
            (3.0, Some(3.0)),
            (4.0, Some(4.0)),
        ]);
        let look = Look {
            colour: INK,
            width: 2,
            dash: Dash::Solid,
        };
        assert_eq!(lonely(&s, look).count(), 1);
    }
}
