//! Look shared by every chart: the bundled font, one colour per mode, text sizes, number formats.

use std::sync::OnceLock;

use plotters::style::{FontStyle, RGBColor, TextStyle};

use crate::pg::mode::SyncCommit;

/// DejaVu Sans (Bitstream Vera license, assets/fonts/LICENSE-DejaVu.txt), bundled so that PNG text
/// needs no system font.
static FONT: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");

/// The family every chart asks for. SVG files name it too, so a browser uses its own sans-serif.
pub const FAMILY: &str = "sans-serif";

/// Registers the bundled font with plotters once per process; true when it loaded.
pub fn font_ready() -> bool {
    static READY: OnceLock<bool> = OnceLock::new();
    *READY.get_or_init(|| plotters::style::register_font(FAMILY, FontStyle::Normal, FONT).is_ok())
}

pub const TITLE_SIZE: f64 = 24.0;
pub const SUBTITLE_SIZE: f64 = 16.0;
pub const AXIS_DESC_SIZE: f64 = 16.0;
pub const TICK_SIZE: f64 = 14.0;
pub const LABEL_SIZE: f64 = 14.0;
pub const NOTE_SIZE: f64 = 13.0;

pub fn text(size: f64) -> TextStyle<'static> {
    (FAMILY, size).into()
}

/// One colour per mode, the same in every chart (a colour-blind-safe Okabe–Ito selection).
pub fn mode_colour(mode: SyncCommit) -> RGBColor {
    match mode {
        SyncCommit::Off => RGBColor(0, 114, 178),         // blue
        SyncCommit::Local => RGBColor(230, 159, 0),       // orange
        SyncCommit::RemoteWrite => RGBColor(0, 158, 115), // bluish green
        SyncCommit::On => RGBColor(204, 121, 167),        // reddish purple
        SyncCommit::RemoteApply => RGBColor(213, 94, 0),  // vermillion
    }
}

/// Colours of standbys in lag panels: Paul Tol's muted set, none of them a mode's colour, so a
/// standby's line is never mistaken for the mode of the cell.
pub fn standby_colour(index: usize) -> RGBColor {
    const PALETTE: [RGBColor; 6] = [
        RGBColor(51, 34, 136),   // indigo
        RGBColor(68, 170, 153),  // teal
        RGBColor(136, 34, 85),   // wine
        RGBColor(153, 153, 51),  // olive
        RGBColor(136, 204, 238), // cyan
        RGBColor(170, 68, 153),  // purple
    ];
    PALETTE[index % PALETTE.len()]
}

/// Marks a mode that ran without an attached synchronous standby; a note under the chart says so.
pub const FLAG: &str = "*";
pub const FLAG_NOTE: &str = "* Repetitions that ran without an attached synchronous standby are \
                             left out of this mode's figures, as in the report.";

pub const INK: RGBColor = RGBColor(40, 40, 40);
pub const GRID: RGBColor = RGBColor(225, 225, 225);

/// Three significant digits, never scientific: 0.0123, 1.95, 12.3, 123, 4109.
pub fn significant(v: f64) -> String {
    let a = v.abs();
    let decimals = if a == 0.0 || a >= 100.0 {
        0
    } else if a >= 10.0 {
        1
    } else if a >= 1.0 {
        2
    } else {
        // enough decimals for three significant digits of a small value, capped
        ((-a.log10()).floor() as usize + 3).min(6)
    };
    format!("{v:.decimals$}")
}

/// Axis tick labels: short, without trailing zeros (0, 0.5, 2, 1500, 12k).
pub fn tick(v: f64) -> String {
    let a = v.abs();
    if a >= 10_000.0 {
        return format!("{}k", trim(format!("{:.1}", v / 1000.0)));
    }
    trim(format!("{v:.3}"))
}

fn trim(s: String) -> String {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// A change in percent with its sign: "+117.9%", "-52.3%", "+0.0%".
pub fn percent_change(pct: f64) -> String {
    let sign = if pct < 0.0 { "-" } else { "+" };
    format!("{sign}{:.1}%", pct.abs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn significant_keeps_three_digits_without_exponents() {
        assert_eq!(significant(1.949), "1.95");
        assert_eq!(significant(12.34), "12.3");
        assert_eq!(significant(4109.4), "4109");
        assert_eq!(significant(0.01234), "0.0123");
        assert_eq!(significant(0.0), "0");
    }

    #[test]
    fn ticks_are_short() {
        assert_eq!(tick(0.5), "0.5");
        assert_eq!(tick(2.0), "2");
        assert_eq!(tick(1500.0), "1500");
        assert_eq!(tick(12_000.0), "12k");
        assert_eq!(tick(12_500.0), "12.5k");
    }

    #[test]
    fn changes_carry_their_sign() {
        assert_eq!(percent_change(117.94), "+117.9%");
        assert_eq!(percent_change(-52.26), "-52.3%");
        assert_eq!(percent_change(0.0), "+0.0%");
    }

    #[test]
    fn modes_have_distinct_colours() {
        let colours: std::collections::HashSet<_> = SyncCommit::ALL
            .iter()
            .map(|&m| {
                let c = mode_colour(m);
                (c.0, c.1, c.2)
            })
            .collect();
        assert_eq!(colours.len(), 5);
    }

    #[test]
    fn standbys_never_wear_a_mode_colour() {
        for i in 0..6 {
            let c = standby_colour(i);
            assert!(
                SyncCommit::ALL.iter().all(|&m| mode_colour(m) != c),
                "standby {i}"
            );
        }
    }

    #[test]
    fn the_bundled_font_loads() {
        assert!(font_ready());
    }
}
