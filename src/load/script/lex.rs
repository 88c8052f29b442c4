//! The tokens of pgbench's expression language (the rest of a `\set`, `\if` or `\elif` line).
//!
//! Reads from a byte offset up to the end of the line (a backslash right before a newline
//! continues the line) and turns numbers, names, keywords and operators into tokens. Owns
//! lexical rules only; the grammar is in `parse`.

use super::error::{Problem, SyntaxError};
use super::number::{self, NumberError};
use super::source::Source;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    Int(i64),
    /// 9223372036854775808, valid only right after a unary minus.
    MaxIntPlusOne,
    Double(f64),
    Bool(bool),
    Null,
    Var(String),
    /// A name that is not a keyword: a function name.
    Ident(String),
    And,
    Or,
    Not,
    Is,
    IsNull,
    NotNull,
    Case,
    When,
    Then,
    Else,
    End,
    Plus,
    Minus,
    Star,
    Slash,
    Percent,
    LParen,
    RParen,
    Comma,
    Tilde,
    Amp,
    Pipe,
    Hash,
    Lt,
    Gt,
    Eq,
    Ne,
    Le,
    Ge,
    Shl,
    Shr,
    /// End of the line (or of the script).
    Eol,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token {
    pub tok: Tok,
    /// Byte offset of the token in the script.
    pub at: usize,
}

/// A line of tokens, always ending with `Eol`, and the offset just after the line.
#[derive(Debug)]
pub(crate) struct Line {
    pub tokens: Vec<Token>,
    pub next: usize,
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | 0x0b | 0x0c)
}

/// Letters, `_` and any byte of a non-ASCII character.
fn is_alpha(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_' || b >= 0x80
}

fn is_alnum(b: u8) -> bool {
    is_alpha(b) || b.is_ascii_digit()
}

fn keyword(word: &str) -> Option<Tok> {
    const KEYWORDS: [(&str, Tok); 14] = [
        ("and", Tok::And),
        ("or", Tok::Or),
        ("not", Tok::Not),
        ("is", Tok::Is),
        ("isnull", Tok::IsNull),
        ("notnull", Tok::NotNull),
        ("true", Tok::Bool(true)),
        ("false", Tok::Bool(false)),
        ("null", Tok::Null),
        ("case", Tok::Case),
        ("when", Tok::When),
        ("then", Tok::Then),
        ("else", Tok::Else),
        ("end", Tok::End),
    ];
    KEYWORDS
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(word))
        .map(|(_, t)| t.clone())
}

/// Tokenizes from `start` to the end of the line.
pub(crate) fn tokenize(src: &Source, start: usize, command: &str) -> Result<Line, SyntaxError> {
    let text = src.text;
    let b = text.as_bytes();
    let mut pos = start.min(b.len());
    let mut tokens = Vec::new();
    let err = |at: usize, p: Problem| src.error(at, p, Some(command));
    loop {
        let Some(&c) = b.get(pos) else {
            tokens.push(Token {
                tok: Tok::Eol,
                at: pos,
            });
            return Ok(Line { tokens, next: pos });
        };
        let at = pos;
        if is_space(c) {
            pos += 1;
            continue;
        }
        if c == b'\\' && b.get(pos + 1) == Some(&b'\n') {
            pos += 2;
            continue;
        }
        if c == b'\n' {
            tokens.push(Token { tok: Tok::Eol, at });
            return Ok(Line {
                tokens,
                next: pos + 1,
            });
        }
        let two = |s: &[u8; 2]| b.get(pos..pos + 2) == Some(&s[..]);
        let (tok, len) = if two(b"<>") || two(b"!=") {
            (Tok::Ne, 2)
        } else if two(b"<=") {
            (Tok::Le, 2)
        } else if two(b">=") {
            (Tok::Ge, 2)
        } else if two(b"<<") {
            (Tok::Shl, 2)
        } else if two(b">>") {
            (Tok::Shr, 2)
        } else if let Some(t) = single(c) {
            (t, 1)
        } else if c == b':' && b.get(pos + 1).is_some_and(|&n| is_alnum(n)) {
            let end = scan_while(b, pos + 1, is_alnum);
            (Tok::Var(text[pos + 1..end].to_string()), end - pos)
        } else if is_alpha(c) {
            let end = scan_while(b, pos, is_alnum);
            let word = &text[pos..end];
            (
                keyword(word).unwrap_or_else(|| Tok::Ident(word.to_string())),
                end - pos,
            )
        } else if c.is_ascii_digit()
            || (c == b'.' && b.get(pos + 1).is_some_and(u8::is_ascii_digit))
        {
            let (tok, end) = number_token(text, pos).map_err(|p| err(at, p))?;
            (tok, end - pos)
        } else {
            let ch = text[pos..].chars().next().unwrap_or('?');
            return Err(err(at, Problem::UnexpectedCharacter(ch)));
        };
        tokens.push(Token { tok, at });
        pos += len;
    }
}

fn single(c: u8) -> Option<Tok> {
    Some(match c {
        b'+' => Tok::Plus,
        b'-' => Tok::Minus,
        b'*' => Tok::Star,
        b'/' => Tok::Slash,
        b'%' => Tok::Percent,
        b'(' => Tok::LParen,
        b')' => Tok::RParen,
        b',' => Tok::Comma,
        b'~' => Tok::Tilde,
        b'&' => Tok::Amp,
        b'|' => Tok::Pipe,
        b'#' => Tok::Hash,
        b'<' => Tok::Lt,
        b'>' => Tok::Gt,
        b'=' => Tok::Eq,
        _ => return None,
    })
}

fn scan_while(b: &[u8], mut pos: usize, f: fn(u8) -> bool) -> usize {
    while b.get(pos).is_some_and(|&c| f(c)) {
        pos += 1;
    }
    pos
}

/// The longest number at `pos`: digits, an optional fraction, an optional exponent (only
/// with digits after it). A fraction or exponent makes it a double.
fn number_token(text: &str, pos: usize) -> Result<(Tok, usize), Problem> {
    let b = text.as_bytes();
    let digit = |c: u8| c.is_ascii_digit();
    let int_end = scan_while(b, pos, digit);
    let mut end = int_end;
    if b.get(end) == Some(&b'.') {
        end = scan_while(b, end + 1, digit);
    }
    if matches!(b.get(end), Some(b'e' | b'E')) {
        let mut e = end + 1;
        if matches!(b.get(e), Some(b'+' | b'-')) {
            e += 1;
        }
        let e_end = scan_while(b, e, digit);
        if e_end > e {
            end = e_end;
        }
    }
    let word = &text[pos..end];
    if end > int_end {
        return match number::parse_f64(word) {
            Ok(d) => Ok((Tok::Double(d), end)),
            Err(_) => Err(Problem::DoubleOverflow(word.to_string())),
        };
    }
    if word == "9223372036854775808" {
        return Ok((Tok::MaxIntPlusOne, end));
    }
    match number::parse_i64(word) {
        Ok(i) => Ok((Tok::Int(i), end)),
        Err(NumberError::Range | NumberError::Syntax) => {
            Err(Problem::BigintOverflow(word.to_string()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &str) -> Vec<Tok> {
        let src = Source::new("t", s);
        tokenize(&src, 0, "set")
            .unwrap()
            .tokens
            .into_iter()
            .map(|t| t.tok)
            .collect()
    }

    fn problem(s: &str) -> (Problem, usize) {
        let src = Source::new("t", s);
        let e = tokenize(&src, 0, "set").unwrap_err();
        (e.problem, e.location.column)
    }

    #[test]
    fn numbers() {
        assert_eq!(toks("12"), [Tok::Int(12), Tok::Eol]);
        assert_eq!(toks("1."), [Tok::Double(1.0), Tok::Eol]);
        assert_eq!(toks(".5"), [Tok::Double(0.5), Tok::Eol]);
        assert_eq!(toks("1.e5"), [Tok::Double(1e5), Tok::Eol]);
        assert_eq!(
            toks("-54.21E-2"),
            [Tok::Minus, Tok::Double(0.5421), Tok::Eol]
        );
        assert_eq!(toks("00012"), [Tok::Int(12), Tok::Eol]);
        // "1e" is the integer 1 and then a name.
        assert_eq!(toks("1e"), [Tok::Int(1), Tok::Ident("e".into()), Tok::Eol]);
        assert_eq!(toks("9223372036854775808"), [Tok::MaxIntPlusOne, Tok::Eol]);
        assert_eq!(toks("9223372036854775807"), [Tok::Int(i64::MAX), Tok::Eol]);
        assert_eq!(
            problem("99999999999999999999"),
            (Problem::BigintOverflow("99999999999999999999".into()), 1)
        );
        assert_eq!(
            problem("1 + 1e-400").0,
            Problem::DoubleOverflow("1e-400".into())
        );
        assert_eq!(
            problem(".1E310").0,
            Problem::DoubleOverflow(".1E310".into())
        );
    }

    #[test]
    fn names_keywords_and_variables() {
        assert_eq!(
            toks("NOT x IsNull :v1 :1a"),
            [
                Tok::Not,
                Tok::Ident("x".into()),
                Tok::IsNull,
                Tok::Var("v1".into()),
                Tok::Var("1a".into()),
                Tok::Eol
            ]
        );
        assert_eq!(toks("nullif"), [Tok::Ident("nullif".into()), Tok::Eol]);
        assert_eq!(
            toks("\u{e9}t\u{e9}"),
            [Tok::Ident("\u{e9}t\u{e9}".into()), Tok::Eol]
        );
        assert_eq!(
            toks("TRUE false"),
            [Tok::Bool(true), Tok::Bool(false), Tok::Eol]
        );
    }

    #[test]
    fn operators_take_the_longest_match() {
        assert_eq!(
            toks("<<= <> != >= >> ~#&|"),
            [
                Tok::Shl,
                Tok::Eq,
                Tok::Ne,
                Tok::Ne,
                Tok::Ge,
                Tok::Shr,
                Tok::Tilde,
                Tok::Hash,
                Tok::Amp,
                Tok::Pipe,
                Tok::Eol
            ]
        );
    }

    #[test]
    fn lines_continue_after_a_backslash() {
        let src = Source::new("t", "1 \\\n + 2\nnext");
        let line = tokenize(&src, 0, "set").unwrap();
        let t: Vec<_> = line.tokens.into_iter().map(|t| t.tok).collect();
        assert_eq!(t, [Tok::Int(1), Tok::Plus, Tok::Int(2), Tok::Eol]);
        assert_eq!(&src.text[line.next..], "next");
    }

    #[test]
    fn unexpected_characters() {
        assert_eq!(problem("1 ^ 2"), (Problem::UnexpectedCharacter('^'), 3));
        assert_eq!(problem("!1"), (Problem::UnexpectedCharacter('!'), 1));
        assert_eq!(problem(";"), (Problem::UnexpectedCharacter(';'), 1));
        assert_eq!(problem("\"x\""), (Problem::UnexpectedCharacter('"'), 1));
        assert_eq!(problem(": x"), (Problem::UnexpectedCharacter(':'), 1));
        assert_eq!(problem("."), (Problem::UnexpectedCharacter('.'), 1));
    }
}
