//! Line styles and a legend drawn in its own column, so it never covers data.

use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;

use super::style::{self, text};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dash {
    Solid,
    Dashed,
    Dotted,
}

/// How one line looks, in the plot and in its legend entry.
#[derive(Debug, Clone, Copy)]
pub struct Look {
    pub colour: RGBColor,
    pub width: u32,
    pub dash: Dash,
}

impl Look {
    /// (dash length, gap) in pixels.
    fn pattern(self) -> Option<(u32, u32)> {
        match self.dash {
            Dash::Solid => None,
            Dash::Dashed => Some((9, 5)),
            Dash::Dotted => Some((2, 4)),
        }
    }

    /// The element that draws `points` when this look is solid. plotters has no single element
    /// for solid and dashed lines: draw both `solid` and `dashed`, one of them is None.
    pub fn solid<C>(self, points: Vec<C>) -> Option<PathElement<C>> {
        self.pattern()
            .is_none()
            .then(|| PathElement::new(points, self.colour.stroke_width(self.width)))
    }

    /// The element that draws `points` when this look is dashed or dotted.
    pub fn dashed<C: Clone>(
        self,
        points: Vec<C>,
    ) -> Option<DashedPathElement<std::vec::IntoIter<C>, u32>> {
        self.pattern().map(|(size, spacing)| {
            DashedPathElement::new(points, size, spacing, self.colour.stroke_width(self.width))
        })
    }
}

/// One line of a legend.
pub enum Entry {
    /// A line sample and what it shows.
    Line(String, Look),
    /// A caption over the lines that follow; `keep` is appended and never shortened.
    Heading { name: String, keep: String },
}

/// Draws entries top to bottom in `area` (a column beside the plot), starting `top` pixels down.
/// Text too long for the column is shortened with an ellipsis rather than cut by the edge.
pub fn draw<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    top: i32,
    entries: &[Entry],
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    const LINE: i32 = 21;
    const SAMPLE_X: i32 = 12;
    const TEXT_X: i32 = SAMPLE_X + 38;
    let label = text(style::LABEL_SIZE)
        .color(&style::INK)
        .pos(text_anchor_left_centre());
    let width = area.dim_in_pixel().0 as i32;
    for (i, entry) in entries.iter().enumerate() {
        let y = top + LINE * i as i32;
        match entry {
            Entry::Line(name, look) => {
                let sample = vec![(SAMPLE_X, y), (SAMPLE_X + 30, y)];
                if let Some(e) = look.solid(sample.clone()) {
                    area.draw(&e)?;
                }
                if let Some(e) = look.dashed(sample) {
                    area.draw(&e)?;
                }
                let shown = fit(area, name, "", &label, width - TEXT_X - 6)?;
                area.draw_text(&shown, &label, (TEXT_X, y))?;
            }
            Entry::Heading { name, keep } => {
                let shown = fit(area, name, keep, &label, width - 6)?;
                area.draw_text(&shown, &label, (0, y))?;
            }
        }
    }
    Ok(())
}

/// `name` + `keep`, with `name` shortened until the whole fits in `room` pixels.
fn fit<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    name: &str,
    keep: &str,
    style: &TextStyle,
    room: i32,
) -> Result<String, DrawingAreaErrorKind<DB::ErrorType>> {
    let mut shown = format!("{name}{keep}");
    let mut chars: Vec<char> = name.chars().collect();
    while area.estimate_text_size(&shown, style)?.0 as i32 > room && chars.len() > 1 {
        chars.pop();
        shown = format!("{}…{keep}", chars.iter().collect::<String>());
    }
    Ok(shown)
}

fn text_anchor_left_centre() -> plotters::style::text_anchor::Pos {
    use plotters::style::text_anchor::{HPos, Pos, VPos};
    Pos::new(HPos::Left, VPos::Center)
}
