//! Draws one chart twice, into an SVG file and a PNG file, from the same drawing code.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::{ChartError, ChartFile};

pub type DrawResult<DB> = Result<(), DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

/// A chart that can draw itself on any plotters backend.
pub trait Chart {
    /// Size in pixels (the SVG's user units).
    fn size(&self) -> (u32, u32);
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB>;
}

/// Writes `<out_dir>/<name>.svg` and `<out_dir>/<name>.png`.
pub fn write(
    chart: &impl Chart,
    name: &str,
    title: &str,
    out_dir: &Path,
) -> Result<ChartFile, ChartError> {
    if !super::style::font_ready() {
        return Err(ChartError::Font);
    }
    let (w, h) = chart.size();
    let draw_failed = |reason: String| ChartError::Draw {
        chart: name.to_string(),
        reason: reason.replace('\n', " "),
    };

    let mut svg_text = String::new();
    {
        let root = SVGBackend::with_string(&mut svg_text, (w, h)).into_drawing_area();
        chart.draw(&root).map_err(|e| draw_failed(e.to_string()))?;
        root.present().map_err(|e| draw_failed(e.to_string()))?;
    }

    let mut rgb = vec![0u8; w as usize * h as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (w, h)).into_drawing_area();
        chart.draw(&root).map_err(|e| draw_failed(e.to_string()))?;
        root.present().map_err(|e| draw_failed(e.to_string()))?;
    }

    let svg = out_dir.join(format!("{name}.svg"));
    let png = out_dir.join(format!("{name}.png"));
    write_file(&svg, svg_text.as_bytes())?;
    write_file(
        &png,
        &encode_png(&rgb, w, h).map_err(|e| draw_failed(e.to_string()))?,
    )?;
    Ok(ChartFile {
        name: name.to_string(),
        title: title.to_string(),
        svg,
        png,
    })
}

fn encode_png(rgb: &[u8], w: u32, h: u32) -> Result<Vec<u8>, png::EncodingError> {
    let mut bytes = Vec::new();
    let mut encoder = png::Encoder::new(&mut bytes, w, h);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    // Charts are flat colour: the fast filter-and-deflate already packs them well.
    encoder.set_compression(png::Compression::Fast);
    let mut writer = encoder.write_header()?;
    writer.write_image_data(rgb)?;
    writer.finish()?;
    Ok(bytes)
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<(), ChartError> {
    std::fs::write(path, bytes).map_err(|e| ChartError::Write {
        path: path.display().to_string(),
        reason: e.to_string(),
    })
}

/// Writes `notes` one per line at the bottom of `area` and returns the space above them.
pub fn with_notes<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    notes: &[String],
) -> Result<DrawingArea<DB, Shift>, DrawingAreaErrorKind<DB::ErrorType>> {
    const LINE: i32 = 20;
    let (_, h) = area.dim_in_pixel();
    let strip = LINE * notes.len() as i32 + if notes.is_empty() { 0 } else { 8 };
    let (upper, lower) = area.split_vertically(h as i32 - strip);
    let style = super::style::text(super::style::NOTE_SIZE).color(&super::style::INK);
    for (i, note) in notes.iter().enumerate() {
        lower.draw_text(note, &style, (14, 4 + LINE * i as i32))?;
    }
    Ok(upper)
}
