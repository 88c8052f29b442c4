//! An SQL command of a script and its variables: `:name` anywhere in the text (pgbench looks
//! inside quotes too; `::` and `:'...'` are not variables). For the simple protocol each
//! defined variable's text replaces it (an undefined one stays as written); for the
//! extended and prepared protocols each reference becomes `$1`, `$2`, ... and the variables'
//! texts are the parameters (NULL when undefined).
//!
//! Owns substitution and result storing (`\gset`, `\aset`); never talks to a server.

use std::ops::Range;

use super::error::EvalError;
use super::meta::StoreKind;
use super::vars::Variables;

/// pgbench's limit on parameters of one statement.
pub const MAX_PARAMS: usize = 255;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Text(Range<usize>),
    Var(Box<str>),
}

/// Where `\gset` or `\aset` puts a result's columns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Store {
    pub kind: StoreKind,
    /// Put before each column name to make the variable name (may be empty).
    pub prefix: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqlCommand {
    text: String,
    segments: Vec<Segment>,
    positional: String,
    params: Vec<Box<str>>,
    pub(crate) store: Option<Store>,
    pub(crate) statement_name: String,
}

fn name_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_' || b >= 0x80
}

fn name_cont(b: u8) -> bool {
    name_start(b) || b.is_ascii_digit()
}

impl SqlCommand {
    pub(crate) fn new(text: String) -> SqlCommand {
        let b = text.as_bytes();
        let mut segments = Vec::new();
        let mut literal = 0;
        let mut i = 0;
        while let Some(off) = text[i..].find(':') {
            let colon = i + off;
            if b.get(colon + 1).is_some_and(|&c| name_start(c)) {
                let mut end = colon + 2;
                while b.get(end).is_some_and(|&c| name_cont(c)) {
                    end += 1;
                }
                segments.push(Segment::Text(literal..colon));
                segments.push(Segment::Var(text[colon + 1..end].into()));
                literal = end;
                i = end;
            } else {
                // A run of colons (a cast, or a lone colon) is never a variable.
                i = colon;
                while b.get(i) == Some(&b':') {
                    i += 1;
                }
            }
        }
        segments.push(Segment::Text(literal..text.len()));
        let mut positional = String::with_capacity(text.len());
        let mut params = Vec::new();
        for s in &segments {
            match s {
                Segment::Text(r) => positional.push_str(&text[r.clone()]),
                Segment::Var(name) => {
                    params.push(name.clone());
                    positional.push('$');
                    positional.push_str(&params.len().to_string());
                }
            }
        }
        segments.retain(|s| !matches!(s, Segment::Text(r) if r.is_empty()));
        SqlCommand {
            text,
            segments,
            positional,
            params,
            store: None,
            statement_name: String::new(),
        }
    }

    /// The command as written in the script (from its first word, with its semicolon).
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The first line of the command, as pgbench shows it in per-command reports.
    pub fn first_line(&self) -> &str {
        let line = self.text.lines().next().unwrap_or("");
        let mut end = line.len().min(127);
        while !line.is_char_boundary(end) {
            end -= 1;
        }
        &line[..end]
    }

    /// Appends the text to send with the simple protocol.
    pub fn write_simple(&self, vars: &mut Variables, out: &mut String) {
        for s in &self.segments {
            match s {
                Segment::Text(r) => out.push_str(&self.text[r.clone()]),
                Segment::Var(name) => match vars.text(name) {
                    Some(t) => out.push_str(t),
                    None => {
                        out.push(':');
                        out.push_str(name);
                    }
                },
            }
        }
    }

    /// The text to send with the simple protocol.
    pub fn simple_text(&self, vars: &mut Variables) -> String {
        let mut out = String::with_capacity(self.text.len() + 16);
        self.write_simple(vars, &mut out);
        out
    }

    /// The text with `$n` in place of each variable (extended and prepared protocols).
    pub fn positional_text(&self) -> &str {
        &self.positional
    }

    /// The variable each `$n` stands for, in order.
    pub fn param_names(&self) -> impl Iterator<Item = &str> {
        self.params.iter().map(|p| &**p)
    }

    /// The parameter values, in `$n` order: each variable's text, `None` (SQL NULL) when
    /// undefined.
    pub fn params<'v>(&self, vars: &'v mut Variables) -> impl Iterator<Item = Option<&'v str>> {
        for name in &self.params {
            vars.cache_text(name);
        }
        let vars: &'v Variables = vars;
        self.params.iter().map(move |name| vars.cached_text(name))
    }

    /// The prepared statement's name under `-M prepared` (`P_0`, `P_1`, ... across all
    /// scripts, as pgbench 15 names them).
    pub fn statement_name(&self) -> &str {
        &self.statement_name
    }

    /// Where the results go, when the command is followed by `\gset` or `\aset`.
    pub fn store(&self) -> Option<&Store> {
        self.store.as_ref()
    }
}

impl Store {
    /// Checks the row count of a `\gset` result: exactly one row. (A `\gset` applies to the
    /// last result of its command; one without rows, e.g. of an INSERT, has zero. An `\aset`
    /// applies to every result with at least one row and takes its last row.)
    pub fn check_gset_rows(rows: usize) -> Result<(), EvalError> {
        if rows == 1 {
            Ok(())
        } else {
            Err(EvalError::ExpectedOneRow(rows))
        }
    }

    /// Stores one row: each column into the variable `prefix` + column name, as text; a SQL
    /// NULL becomes the empty string (as libpq hands it to pgbench).
    pub fn store_row<'a>(
        &self,
        vars: &mut Variables,
        columns: impl IntoIterator<Item = (&'a str, Option<&'a str>)>,
    ) -> Result<(), EvalError> {
        let context = self.kind.name();
        let mut name = String::new();
        for (column, value) in columns {
            let value = value.unwrap_or("");
            if self.prefix.is_empty() {
                vars.set_text(context, column, value)?;
            } else {
                name.clear();
                name.push_str(&self.prefix);
                name.push_str(column);
                vars.set_text(context, &name, value)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::script::value::Value;

    fn vars() -> Variables {
        let mut v = Variables::new();
        v.set("set", "v", Value::Int(7)).unwrap();
        v.set("set", "d", Value::Double(-0.5421)).unwrap();
        v
    }

    #[test]
    fn simple_substitution_is_pgbench_s() {
        // pgbench 15 sent exactly this for the same script line (server log).
        let c =
            SqlCommand::new("SELECT ':v', :v, :v::text, :'v', :\"v\", ':nosuch', 'a:v' ;".into());
        assert_eq!(
            c.simple_text(&mut vars()),
            "SELECT '7', 7, 7::text, :'v', :\"v\", ':nosuch', 'a7' ;"
        );
        let c = SqlCommand::new("SELECT :d, ::v, :::v, :v:v, :v1".into());
        assert_eq!(
            c.simple_text(&mut vars()),
            "SELECT -0.5421, ::v, :::v, 77, :v1"
        );
    }

    #[test]
    fn positional_form_numbers_every_reference() {
        // pgbench 15 -M extended sent this text for the same line (server log).
        let c =
            SqlCommand::new("SELECT ':v', :v, :v::text, :'v', :\"v\", ':nosuch', 'a:v' ;".into());
        assert_eq!(
            c.positional_text(),
            "SELECT '$1', $2, $3::text, :'v', :\"v\", '$4', 'a$5' ;"
        );
        assert_eq!(
            c.param_names().collect::<Vec<_>>(),
            ["v", "v", "v", "nosuch", "v"]
        );
        let mut v = vars();
        assert_eq!(
            c.params(&mut v).collect::<Vec<_>>(),
            [Some("7"), Some("7"), Some("7"), None, Some("7")]
        );
    }

    #[test]
    fn names_take_non_ascii_characters() {
        let mut v = Variables::new();
        v.set_text("option", "\u{e9}t\u{e9}", "x").unwrap();
        let c = SqlCommand::new("SELECT :\u{e9}t\u{e9}+1".into());
        assert_eq!(c.simple_text(&mut v), "SELECT x+1");
        assert_eq!(c.positional_text(), "SELECT $1+1");
    }

    #[test]
    fn store_rows_into_prefixed_variables() {
        let s = Store {
            kind: StoreKind::Gset,
            prefix: "x_".into(),
        };
        let mut v = Variables::new();
        s.store_row(&mut v, [("a", Some("1")), ("b", None)])
            .unwrap();
        assert_eq!(v.text("x_a"), Some("1"));
        assert_eq!(v.text("x_b"), Some(""));
        let bare = Store {
            kind: StoreKind::Aset,
            prefix: String::new(),
        };
        assert_eq!(
            bare.store_row(&mut v, [("?column?", Some("1"))])
                .unwrap_err()
                .to_string(),
            "aset: invalid variable name: \"?column?\""
        );
        assert_eq!(Store::check_gset_rows(1), Ok(()));
        assert_eq!(
            Store::check_gset_rows(2).unwrap_err().to_string(),
            "expected one row, got 2"
        );
    }

    #[test]
    fn first_line_is_cut_at_127_bytes() {
        let c = SqlCommand::new(format!("SELECT {}\nFROM t", "x".repeat(200)));
        assert_eq!(c.first_line().len(), 127);
        assert_eq!(SqlCommand::new("a\nb".into()).first_line(), "a");
    }
}
