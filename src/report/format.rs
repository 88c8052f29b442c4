//! How figures are written in every report and table.

use std::path::Path;

/// A percentage change with its sign and one decimal; never "-0.0".
pub fn pct(v: f64) -> String {
    let r = (v * 10.0).round() / 10.0;
    format!("{:+.1}", if r == 0.0 { 0.0 } else { r })
}

/// Milliseconds with two decimals.
pub fn fmt_ms(v: f64) -> String {
    format!("{v:.2}")
}

/// `file` as a link from a document in `dir`: relative, with forward slashes.
pub fn relative_path(dir: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(dir).unwrap_or(file);
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages_never_show_minus_zero() {
        assert_eq!(pct(-0.04), "+0.0");
        assert_eq!(pct(12.345), "+12.3");
        assert_eq!(pct(-34.06), "-34.1");
    }

    #[test]
    fn chart_paths_are_relative_to_the_folder() {
        assert_eq!(
            relative_path(Path::new("/r/s"), Path::new("/r/s/charts/a.svg")),
            "charts/a.svg"
        );
        assert_eq!(
            relative_path(Path::new("/r/s"), Path::new("elsewhere/a.svg")),
            "elsewhere/a.svg"
        );
    }
}
