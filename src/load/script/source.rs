//! A script's text and name, and how byte offsets in it become lines and columns for errors.
//!
//! Owns positions only; the scanners and parsers work on `text` by byte offset.

use super::error::{Location, Problem, SyntaxError};

#[derive(Debug, Clone)]
pub(crate) struct Source<'a> {
    pub name: &'a str,
    pub text: &'a str,
}

impl<'a> Source<'a> {
    pub fn new(name: &'a str, text: &'a str) -> Self {
        Source { name, text }
    }

    /// The line and column of a byte offset (clamped to the text).
    pub fn location(&self, offset: usize) -> Location {
        let offset = self.floor(offset);
        let before = &self.text[..offset];
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        Location {
            line: before.matches('\n').count() + 1,
            column: self.text[line_start..offset].chars().count() + 1,
        }
    }

    /// The whole line holding a byte offset, without its line end.
    pub fn line_text(&self, offset: usize) -> &'a str {
        let offset = self.floor(offset);
        let start = self.text[..offset].rfind('\n').map_or(0, |i| i + 1);
        let end = self.text[offset..]
            .find('\n')
            .map_or(self.text.len(), |i| offset + i);
        self.text[start..end].trim_end_matches('\r')
    }

    pub fn error(&self, offset: usize, problem: Problem, command: Option<&str>) -> SyntaxError {
        SyntaxError {
            script: self.name.to_string(),
            location: self.location(offset),
            line_text: self.line_text(offset).to_string(),
            command: command.map(str::to_string),
            problem,
        }
    }

    /// The nearest character boundary at or before `offset`.
    fn floor(&self, offset: usize) -> usize {
        let mut o = offset.min(self.text.len());
        while !self.text.is_char_boundary(o) {
            o -= 1;
        }
        o
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_become_lines_and_character_columns() {
        let s = Source::new("f.sql", "ab\n\u{e9}x\n\nz");
        assert_eq!(s.location(0), Location { line: 1, column: 1 });
        assert_eq!(s.location(3), Location { line: 2, column: 1 });
        // 'x' follows a two-byte character: column 2, not 3.
        assert_eq!(s.location(5), Location { line: 2, column: 2 });
        assert_eq!(s.line_text(5), "\u{e9}x");
        assert_eq!(s.location(7), Location { line: 3, column: 1 });
        assert_eq!(s.line_text(7), "");
        assert_eq!(s.location(99), Location { line: 4, column: 2 });
    }
}
