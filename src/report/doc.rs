//! A small document model (headings, paragraphs, lists, tables, figures) and its two renderings:
//! Markdown and a self-contained HTML page. Reports and comparisons say what to show; this module
//! owns how it is written and escaped.

use std::fmt::Write as _;

/// How a table cell should stand out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Tone {
    #[default]
    Plain,
    /// Not a finding: noise, baseline, missing.
    Muted,
    /// Needs the reader's attention.
    Warn,
    /// A regression.
    Bad,
    /// An improvement.
    Good,
}

impl Tone {
    fn class(self) -> Option<&'static str> {
        match self {
            Tone::Plain => None,
            Tone::Muted => Some("muted"),
            Tone::Warn => Some("warn"),
            Tone::Bad => Some("bad"),
            Tone::Good => Some("good"),
        }
    }
}

/// A table cell. A line break in `text` sets off a detail: HTML shows it on a smaller second line,
/// Markdown after a space.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Cell {
    pub text: String,
    pub tone: Tone,
}

impl Cell {
    pub fn new(text: impl Into<String>, tone: Tone) -> Cell {
        Cell {
            text: text.into(),
            tone,
        }
    }
}

impl From<String> for Cell {
    fn from(text: String) -> Cell {
        Cell::new(text, Tone::Plain)
    }
}

impl From<&str> for Cell {
    fn from(text: &str) -> Cell {
        Cell::new(text, Tone::Plain)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    Left,
    Right,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    pub head: Vec<(String, Align)>,
    pub rows: Vec<Vec<Cell>>,
}

impl Table {
    pub fn new(head: &[(&str, Align)]) -> Table {
        Table {
            head: head.iter().map(|(h, a)| (h.to_string(), *a)).collect(),
            rows: Vec::new(),
        }
    }

    pub fn row(&mut self, cells: Vec<Cell>) {
        debug_assert_eq!(
            cells.len(),
            self.head.len(),
            "a row has one cell per column"
        );
        self.rows.push(cells);
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Block {
    /// Level 2 or 3 (the document's title is level 1).
    Heading(u8, String),
    Paragraph(String),
    List(Vec<String>),
    /// Preformatted text, shown as it is.
    Pre(String),
    Table(Table),
    /// An image: Markdown links to `path`; HTML inlines `svg` when given, else links too.
    Figure {
        title: String,
        path: String,
        svg: Option<String>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Doc {
    pub title: String,
    /// Markdown heading level of the title: 1 for a page, deeper inside a comment.
    pub title_level: u8,
    pub blocks: Vec<Block>,
}

impl Doc {
    pub fn new(title: impl Into<String>) -> Doc {
        Doc {
            title: title.into(),
            title_level: 1,
            blocks: Vec::new(),
        }
    }

    pub fn push(&mut self, block: Block) {
        self.blocks.push(block);
    }

    pub fn markdown(&self) -> String {
        let mut out = format!(
            "{} {}\n",
            "#".repeat(self.title_level.max(1) as usize),
            md_text(&self.title)
        );
        for b in &self.blocks {
            out.push('\n');
            match b {
                Block::Heading(level, text) => {
                    let _ = writeln!(out, "{} {}", "#".repeat(*level as usize), md_text(text));
                }
                Block::Paragraph(text) => {
                    let _ = writeln!(out, "{}", md_text(text));
                }
                Block::List(items) => {
                    for item in items {
                        let _ = writeln!(out, "- {}", md_text(item));
                    }
                }
                Block::Pre(text) => {
                    // A fence longer than any run of backticks inside.
                    let fence = "`".repeat(longest_run(text, '`').max(2) + 1);
                    let _ = writeln!(out, "{fence}text\n{}\n{fence}", text.trim_end());
                }
                Block::Table(t) => md_table(&mut out, t),
                Block::Figure { title, path, .. } => {
                    let _ = writeln!(out, "![{}]({})", md_text(title), md_url(path));
                }
            }
        }
        out
    }

    pub fn html(&self) -> String {
        let mut out = String::with_capacity(64 * 1024);
        let _ = write!(
            out,
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
             <title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<main>\n<h1>{}</h1>\n",
            html_text(&self.title),
            html_text(&self.title)
        );
        for b in &self.blocks {
            match b {
                Block::Heading(level, text) => {
                    let _ = writeln!(out, "<h{level}>{}</h{level}>", html_text(text));
                }
                Block::Paragraph(text) => {
                    let _ = writeln!(out, "<p>{}</p>", html_text(text));
                }
                Block::List(items) => {
                    out.push_str("<ul>\n");
                    for item in items {
                        let _ = writeln!(out, "<li>{}</li>", html_text(item));
                    }
                    out.push_str("</ul>\n");
                }
                Block::Pre(text) => {
                    let _ = writeln!(out, "<pre>{}</pre>", html_text(text.trim_end()));
                }
                Block::Table(t) => html_table(&mut out, t),
                Block::Figure { title, path, svg } => {
                    out.push_str("<figure>\n");
                    match svg {
                        Some(svg) => {
                            out.push_str(inline_svg(svg));
                            out.push('\n');
                        }
                        None => {
                            let _ = writeln!(
                                out,
                                "<img src=\"{}\" alt=\"{}\">",
                                html_text(path),
                                html_text(title)
                            );
                        }
                    }
                    let _ = writeln!(
                        out,
                        "<figcaption>{}</figcaption>\n</figure>",
                        html_text(title)
                    );
                }
            }
        }
        out.push_str("</main>\n</body>\n</html>\n");
        out
    }
}

const STYLE: &str = "
body{font:15px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#1d1f21;background:#fff;margin:0}
main{max-width:1400px;margin:0 auto;padding:1.5rem 2rem 3rem}
h1{font-size:1.6rem;margin:.5rem 0 1rem}h2{font-size:1.3rem;margin-top:2.2rem;border-bottom:1px solid #ddd;padding-bottom:.2rem}
h3{font-size:1.05rem;margin-top:1.6rem}
div.table{overflow-x:auto;margin:.6rem 0 1rem}
table{border-collapse:collapse;font-size:13.5px;font-variant-numeric:tabular-nums}
th,td{border:1px solid #d6d6d6;padding:.25rem .55rem;vertical-align:top;white-space:nowrap}
th{background:#f3f4f6;text-align:left}
td.r,th.r{text-align:right;white-space:nowrap}
tr:nth-child(even) td{background:#fafafa}
td small{color:#555;font-size:12px}.muted{color:#777}.warn{color:#9a5b00;font-weight:600}.bad{color:#b3261e;font-weight:700}.good{color:#1e7b34;font-weight:600}
pre{background:#f6f8fa;padding:.7rem;overflow-x:auto;font-size:13px}
figure{margin:1rem 0 1.6rem}figure svg{max-width:100%;height:auto}figcaption{color:#555;font-size:.9rem}
";

fn longest_run(text: &str, c: char) -> usize {
    let (mut best, mut run) = (0, 0);
    for ch in text.chars() {
        run = if ch == c { run + 1 } else { 0 };
        best = best.max(run);
    }
    best
}

/// Escapes what Markdown would otherwise read as markup, and no more, so the text stays readable
/// as it is. An underscore inside a word (remote_apply) is left alone: CommonMark does not start
/// emphasis there.
fn md_text(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    for (i, &c) in chars.iter().enumerate() {
        let inside_word = |i: usize| {
            i > 0
                && chars[i - 1].is_alphanumeric()
                && chars.get(i + 1).is_some_and(|n| n.is_alphanumeric())
        };
        match c {
            '\\' | '`' | '*' | '<' | '>' | '|' => {
                out.push('\\');
                out.push(c);
            }
            // Brackets make a link only when `(`, `[` or `:` follows the closing one.
            ']' if matches!(chars.get(i + 1), Some('(' | '[' | ':')) => out.push_str("\\]"),
            '_' if !inside_word(i) => out.push_str("\\_"),
            '\n' => out.push(' '),
            _ => out.push(c),
        }
    }
    out
}

fn md_url(path: &str) -> String {
    path.replace(' ', "%20")
        .replace('(', "%28")
        .replace(')', "%29")
}

fn md_table(out: &mut String, t: &Table) {
    out.push('|');
    for (h, _) in &t.head {
        let _ = write!(out, " {} |", md_text(h));
    }
    out.push_str("\n|");
    for (_, a) in &t.head {
        out.push_str(match a {
            Align::Left => "---|",
            Align::Right => "---:|",
        });
    }
    out.push('\n');
    for row in &t.rows {
        out.push('|');
        for c in row {
            let text = md_text(&c.text);
            match c.tone {
                Tone::Bad | Tone::Warn if !text.is_empty() => {
                    let _ = write!(out, " **{text}** |");
                }
                _ => {
                    let _ = write!(out, " {text} |");
                }
            }
        }
        out.push('\n');
    }
}

fn html_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

fn html_table(out: &mut String, t: &Table) {
    // Wide tables scroll inside their own box instead of widening the page.
    out.push_str("<div class=\"table\"><table>\n<thead><tr>");
    for (h, a) in &t.head {
        let class = if *a == Align::Right {
            " class=\"r\""
        } else {
            ""
        };
        let _ = write!(out, "<th{class}>{}</th>", html_text(h));
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for row in &t.rows {
        out.push_str("<tr>");
        for (c, (_, a)) in row.iter().zip(&t.head) {
            let classes: Vec<&str> = [(*a == Align::Right).then_some("r"), c.tone.class()]
                .into_iter()
                .flatten()
                .collect();
            let text = match c.text.split_once('\n') {
                Some((main, detail)) => format!(
                    "{}<br><small>{}</small>",
                    html_text(main),
                    html_text(detail).replace('\n', " ")
                ),
                None => html_text(&c.text),
            };
            if classes.is_empty() {
                let _ = write!(out, "<td>{text}</td>");
            } else {
                let _ = write!(out, "<td class=\"{}\">{text}</td>", classes.join(" "));
            }
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table></div>\n");
}

/// The `<svg>` element of an SVG file: an XML declaration or doctype may not stand inside HTML.
fn inline_svg(svg: &str) -> &str {
    match svg.find("<svg") {
        Some(start) => svg[start..].trim_end(),
        None => svg.trim(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Doc {
        let mut d = Doc::new("Report <one>");
        d.push(Block::Heading(2, "Results".into()));
        d.push(Block::Paragraph("a * b | c_d _e [x] [y](z)".into()));
        let mut t = Table::new(&[("mode", Align::Left), ("TPS", Align::Right)]);
        t.row(vec!["remote_apply".into(), Cell::new("-34.0%", Tone::Bad)]);
        t.row(vec![
            "a|b".into(),
            Cell::new("+1.0%\n[-1, +3]", Tone::Muted),
        ]);
        d.push(Block::Table(t));
        d.push(Block::Pre("one ```\ntwo".into()));
        d.push(Block::Figure {
            title: "Latency".into(),
            path: "charts/latency bars.svg".into(),
            svg: Some("<?xml version=\"1.0\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\"><rect/></svg>\n".into()),
        });
        d
    }

    #[test]
    fn markdown_escapes_markup_and_keeps_words() {
        let md = sample().markdown();
        assert!(md.starts_with("# Report \\<one\\>\n"), "{md}");
        assert!(md.contains("a \\* b \\| c_d \\_e [x] [y\\](z)"), "{md}");
        assert!(
            md.contains(
                "| mode | TPS |\n|---|---:|\n| remote_apply | **-34.0%** |\n| a\\|b | +1.0% [-1, +3] |\n"
            ),
            "{md}"
        );
        assert!(md.contains("````text\none ```\ntwo\n````"), "{md}");
        assert!(md.contains("![Latency](charts/latency%20bars.svg)"), "{md}");
    }

    #[test]
    fn html_escapes_text_and_inlines_svg() {
        let html = sample().html();
        assert!(html.contains("<h1>Report &lt;one&gt;</h1>"));
        assert!(html.contains("<td class=\"r bad\">-34.0%</td>"), "{html}");
        assert!(html.contains("<td>a|b</td>"));
        assert!(
            html.contains("<td class=\"r muted\">+1.0%<br><small>[-1, +3]</small></td>"),
            "{html}"
        );
        assert!(html.contains("<figure>\n<svg xmlns"), "{html}");
        assert!(!html.contains("<?xml"));
        assert!(html.trim_end().ends_with("</html>"));
    }

    #[test]
    fn a_figure_without_svg_links_to_its_file() {
        let mut d = Doc::new("t");
        d.push(Block::Figure {
            title: "x".into(),
            path: "charts/x.svg".into(),
            svg: None,
        });
        assert!(d.html().contains("<img src=\"charts/x.svg\" alt=\"x\">"));
    }
}
