//! Splits a script's text into SQL commands and backslash commands the way pgbench does
//! (it reuses psql's scanner): a semicolon ends an SQL command unless it is inside quotes, a
//! comment, a dollar-quoted string, parentheses, or the `BEGIN ... END` body of a
//! `CREATE FUNCTION`/`PROCEDURE`; a backslash outside quotes ends the SQL and starts a
//! meta-command, except `\;` and `\:`, which put `;` and `:` into the SQL.
//!
//! Owns SQL lexical structure only; the text of each command is kept as written.

/// Why scanning stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stop {
    /// After a command-ending semicolon (which is part of the command).
    Semicolon,
    /// Right after a backslash that starts a meta-command.
    Backslash,
    /// At the end of the text.
    Eof,
}

/// psql's scanner state that outlives one command.
pub(crate) struct SqlScanner<'a> {
    text: &'a str,
    pos: usize,
    paren_depth: u32,
    /// Open `BEGIN` (and nested `CASE`) of a routine body being defined.
    begin_depth: u32,
    /// First letters of the statement's leading keywords among CREATE, OR, REPLACE,
    /// FUNCTION, PROCEDURE (0 for other words), to recognize a routine definition.
    leading: [u8; 4],
    identifiers: usize,
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

fn ident_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_' || b >= 0x80
}

/// Identifier characters; `$` continues an identifier (so `a$b$` is one word, not a quote).
fn ident_cont(b: u8) -> bool {
    ident_start(b) || b.is_ascii_digit() || b == b'$'
}

fn dollar_tag_cont(b: u8) -> bool {
    ident_start(b) || b.is_ascii_digit()
}

impl<'a> SqlScanner<'a> {
    pub fn new(text: &'a str) -> Self {
        SqlScanner {
            text,
            pos: 0,
            paren_depth: 0,
            begin_depth: 0,
            leading: [0; 4],
            identifiers: 0,
        }
    }

    pub fn pos(&self) -> usize {
        self.pos
    }

    /// Continues after a meta-command that ended at `pos`.
    pub fn resume_at(&mut self, pos: usize) {
        self.pos = pos.min(self.text.len());
    }

    /// Appends the SQL up to the next stop to `buf` (leading spaces and `--` comments are
    /// left out, as psql does); returns the stop and the offset of the first byte appended.
    pub fn scan(&mut self, buf: &mut String) -> (Stop, Option<usize>) {
        let b = self.text.as_bytes();
        let mut first = None;
        loop {
            let start = self.pos;
            let Some(&c) = b.get(start) else {
                return (Stop::Eof, first);
            };
            let next = b.get(start + 1).copied();
            let end = match c {
                _ if is_space(c) => {
                    let end = self.skip(start, is_space);
                    if buf.is_empty() {
                        self.pos = end;
                        continue;
                    }
                    end
                }
                b'-' if next == Some(b'-') => {
                    let end = self.text[start..].find('\n').map_or(b.len(), |i| start + i);
                    if buf.is_empty() {
                        self.pos = end;
                        continue;
                    }
                    end
                }
                b'/' if next == Some(b'*') => self.block_comment(start),
                b'\'' => self.quoted(start + 1, b'\'', false),
                b'"' => self.quoted(start + 1, b'"', false),
                b'$' => self.dollar(start),
                b'(' => {
                    self.paren_depth += 1;
                    start + 1
                }
                b')' => {
                    self.paren_depth = self.paren_depth.saturating_sub(1);
                    start + 1
                }
                b';' => {
                    buf.push(';');
                    first.get_or_insert(start);
                    self.pos = start + 1;
                    if self.paren_depth == 0 && self.begin_depth == 0 {
                        self.identifiers = 0;
                        return (Stop::Semicolon, first);
                    }
                    continue;
                }
                b'\\' => {
                    if let Some(n @ (b';' | b':')) = next {
                        buf.push(n as char);
                        first.get_or_insert(start);
                        self.pos = start + 2;
                        continue;
                    }
                    self.pos = start + 1;
                    return (Stop::Backslash, first);
                }
                b':' => self.colon(start),
                _ if c.is_ascii_digit() => self.skip(start, |b| {
                    b.is_ascii_alphanumeric() || b == b'_' || b == b'.'
                }),
                _ if ident_start(c) => self.word(start),
                _ => start + 1,
            };
            buf.push_str(&self.text[start..end]);
            first.get_or_insert(start);
            self.pos = end;
        }
    }

    fn skip(&self, from: usize, f: impl Fn(u8) -> bool) -> usize {
        let b = self.text.as_bytes();
        let mut i = from;
        while b.get(i).is_some_and(|&c| f(c)) {
            i += 1;
        }
        i
    }

    /// `/* ... */`, nesting as PostgreSQL's comments do; the end of the text if unclosed.
    fn block_comment(&self, start: usize) -> usize {
        let b = self.text.as_bytes();
        let mut depth = 0u32;
        let mut i = start;
        while i < b.len() {
            if b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
                depth += 1;
                i += 2;
            } else if b[i] == b'*' && b.get(i + 1) == Some(&b'/') {
                depth -= 1;
                i += 2;
                if depth == 0 {
                    return i;
                }
            } else {
                i += 1;
            }
        }
        b.len()
    }

    /// A quoted string or identifier whose body starts at `from`: ends at a `quote` not
    /// doubled; with `backslash_escapes` (E'...') a backslash escapes the next byte.
    fn quoted(&self, from: usize, quote: u8, backslash_escapes: bool) -> usize {
        let b = self.text.as_bytes();
        let mut i = from;
        while i < b.len() {
            if backslash_escapes && b[i] == b'\\' {
                i += 2;
            } else if b[i] == quote {
                if b.get(i + 1) == Some(&quote) {
                    i += 2;
                } else {
                    return i + 1;
                }
            } else {
                i += 1;
            }
        }
        b.len()
    }

    /// `$tag$ ... $tag$` (tag may be empty); otherwise a parameter like `$1` or a lone `$`.
    fn dollar(&self, start: usize) -> usize {
        let b = self.text.as_bytes();
        let tag_end = if b.get(start + 1).is_some_and(|&c| ident_start(c)) {
            self.skip(start + 2, dollar_tag_cont)
        } else {
            start + 1
        };
        if b.get(tag_end) == Some(&b'$') {
            let delimiter = &self.text[start..=tag_end];
            let body = tag_end + 1;
            return self.text[body..]
                .find(delimiter)
                .map_or(b.len(), |i| body + i + delimiter.len());
        }
        if b.get(start + 1).is_some_and(u8::is_ascii_digit) {
            return self.skip(start + 1, |c| c.is_ascii_digit());
        }
        start + 1
    }

    /// psql's variable forms `:name`, `:'name'`, `:"name"`, `:{?name}` and the cast `::`,
    /// kept as written; the quotes in them do not start strings.
    fn colon(&self, start: usize) -> usize {
        let b = self.text.as_bytes();
        let var_char = |c: u8| ident_start(c) || c.is_ascii_digit();
        match b.get(start + 1) {
            Some(b':') => start + 2,
            Some(&q @ (b'\'' | b'"')) => {
                let end = self.skip(start + 2, var_char);
                if end > start + 2 && b.get(end) == Some(&q) {
                    end + 1
                } else {
                    start + 1
                }
            }
            Some(b'{') if b.get(start + 2) == Some(&b'?') => {
                let end = self.skip(start + 3, var_char);
                if end > start + 3 && b.get(end) == Some(&b'}') {
                    end + 1
                } else {
                    start + 1
                }
            }
            Some(&c) if var_char(c) => self.skip(start + 1, var_char),
            _ => start + 1,
        }
    }

    /// A word: an identifier or keyword, or the prefix of a special string (`E'...'`,
    /// `B'...'`, `X'...'`, `N'...'`, `U&'...'`, `U&"..."`).
    fn word(&mut self, start: usize) -> usize {
        let b = self.text.as_bytes();
        let end = self.skip(start, ident_cont);
        if end == start + 1 {
            let after = b.get(end).copied();
            match (b[start].to_ascii_lowercase(), after) {
                (b'e', Some(b'\'')) => return self.quoted(end + 1, b'\'', true),
                (b'b' | b'x' | b'n', Some(b'\'')) => return self.quoted(end + 1, b'\'', false),
                (b'u', Some(b'&')) => {
                    if let Some(&q @ (b'\'' | b'"')) = b.get(end + 1) {
                        return self.quoted(end + 2, q, false);
                    }
                }
                _ => {}
            }
        }
        self.identifier(&self.text[start..end].to_ascii_lowercase());
        end
    }

    /// Tracks `BEGIN`/`CASE`/`END` inside `CREATE [OR REPLACE] FUNCTION|PROCEDURE`, whose
    /// SQL-standard body holds semicolons that do not end the statement.
    fn identifier(&mut self, word: &str) {
        if self.identifiers == 0 {
            self.leading = [0; 4];
        }
        if self.identifiers < self.leading.len()
            && matches!(word, "create" | "function" | "procedure" | "or" | "replace")
        {
            self.leading[self.identifiers] = word.as_bytes()[0];
        }
        self.identifiers += 1;
        let l = self.leading;
        let defines_routine = l[0] == b'c'
            && (matches!(l[1], b'f' | b'p')
                || (l[1] == b'o' && l[2] == b'r' && matches!(l[3], b'f' | b'p')));
        if defines_routine && self.paren_depth == 0 {
            match word {
                "begin" => self.begin_depth += 1,
                "case" if self.begin_depth >= 1 => self.begin_depth += 1,
                "end" => self.begin_depth = self.begin_depth.saturating_sub(1),
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The SQL commands of a text without meta-commands.
    fn split(text: &str) -> Vec<String> {
        let mut s = SqlScanner::new(text);
        let mut out = Vec::new();
        loop {
            let mut buf = String::new();
            let (stop, _) = s.scan(&mut buf);
            if !buf.is_empty() {
                out.push(buf);
            }
            if stop == Stop::Eof {
                return out;
            }
            assert_eq!(stop, Stop::Semicolon, "{text}");
        }
    }

    #[test]
    fn semicolons_in_quotes_comments_and_parentheses_do_not_split() {
        // What pgbench 15 sent to the server for each of these (server log).
        let text = "-- leading comment\nSELECT 'a;b' AS x; SELECT $$c;d$$, $q$e;$$f$q$ ;\n\
            /* block ; comment /* nested ; */ still */ SELECT 1;\n\
            SELECT E'it\\'s;', 'x''y;' , 1 AS \"q;\"\"z\";\n\
            SELECT (1,\n 2);\n\
            SELECT 1 -- trailing ; comment\n + 2;\n\
            SELECT foo$bar$ FROM (SELECT 1 AS foo$bar$) s; SELECT 4\n;\n\
            SELECT U&'a;b', B'01', X'1f', N'n;' ;";
        assert_eq!(
            split(text),
            [
                "SELECT 'a;b' AS x;",
                "SELECT $$c;d$$, $q$e;$$f$q$ ;",
                "/* block ; comment /* nested ; */ still */ SELECT 1;",
                "SELECT E'it\\'s;', 'x''y;' , 1 AS \"q;\"\"z\";",
                "SELECT (1,\n 2);",
                "SELECT 1 -- trailing ; comment\n + 2;",
                "SELECT foo$bar$ FROM (SELECT 1 AS foo$bar$) s;",
                "SELECT 4\n;",
                "SELECT U&'a;b', B'01', X'1f', N'n;' ;",
            ]
        );
    }

    #[test]
    fn routine_bodies_keep_their_semicolons() {
        let text = "CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT 2; END;\n\
            create or replace procedure p() language sql begin atomic select case when true then 1 end; select 2; end;\n\
            SELECT 1; BEGIN; END;";
        assert_eq!(
            split(text),
            [
                "CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT 2; END;",
                "create or replace procedure p() language sql begin atomic select case when true then 1 end; select 2; end;",
                "SELECT 1;",
                "BEGIN;",
                "END;",
            ]
        );
    }

    #[test]
    fn standard_strings_take_backslashes_literally() {
        assert_eq!(
            split("SELECT 'a\\'; SELECT 2;"),
            ["SELECT 'a\\';", "SELECT 2;"]
        );
        assert_eq!(split("SELECT e'a\\';b';"), ["SELECT e'a\\';b';"]);
        assert_eq!(split("SELECT be'x';"), ["SELECT be'x';"]);
    }

    #[test]
    fn psql_variable_forms_are_not_quotes() {
        assert_eq!(
            split("SELECT :'v', :\"w\", :a::int; SELECT ':b;'"),
            ["SELECT :'v', :\"w\", :a::int;", "SELECT ':b;'"]
        );
        // Not a variable form: the quote starts a string.
        assert_eq!(split("SELECT :'a b;';"), ["SELECT :'a b;';"]);
    }

    #[test]
    fn backslashes_stop_the_sql_except_before_semicolon_or_colon() {
        let text = "SELECT 1 \\; SELECT 2 \\: x \\gset p\nSELECT 3;";
        let mut s = SqlScanner::new(text);
        let mut buf = String::new();
        assert_eq!(s.scan(&mut buf), (Stop::Backslash, Some(0)));
        assert_eq!(buf, "SELECT 1 ; SELECT 2 : x ");
        assert_eq!(&text[s.pos()..], "gset p\nSELECT 3;");
    }

    #[test]
    fn unterminated_constructs_run_to_the_end() {
        assert_eq!(split("SELECT 'abc; x"), ["SELECT 'abc; x"]);
        assert_eq!(split("SELECT $a$ x; y"), ["SELECT $a$ x; y"]);
        assert_eq!(split("SELECT /* x; y"), ["SELECT /* x; y"]);
        assert_eq!(split("SELECT (1; 2"), ["SELECT (1; 2"]);
    }

    #[test]
    fn parameters_and_tags() {
        assert_eq!(
            split("SELECT $1; SELECT $$;$$;"),
            ["SELECT $1;", "SELECT $$;$$;"]
        );
        assert_eq!(split("SELECT $a$ $b$; $a$;"), ["SELECT $a$ $b$; $a$;"]);
        assert_eq!(split("SELECT 1$a$;$a$;"), ["SELECT 1$a$;$a$;"]);
    }
}
