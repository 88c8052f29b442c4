//! Backslash commands (`\set`, `\sleep`, `\if`, ...): their words, arguments and checks, as
//! pgbench reads them. A command runs to the end of its line; a backslash right before the
//! newline continues it on the next line.
//!
//! Owns the syntax of each meta-command; their effect is in `run`.

use super::error::{Problem, SyntaxError};
use super::expr::Expr;
use super::number;
use super::parse;
use super::source::Source;
use super::vars::Variables;

/// pgbench's limit on the words of one command, the command itself included.
const MAX_WORDS: usize = 256;

/// How long a `\sleep` lasts: a number, or a variable read when it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SleepAmount {
    Literal(i64),
    Variable(String),
}

/// `\sleep`: the amount and the microseconds per unit (`us` 1, `ms` 1000, `s` 1000000).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sleep {
    pub amount: SleepAmount,
    pub unit_micros: i64,
}

/// Whether a store applies to the last result of the SQL (`\gset`) or every result (`\aset`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    Gset,
    Aset,
}

impl StoreKind {
    pub fn name(self) -> &'static str {
        match self {
            StoreKind::Gset => "gset",
            StoreKind::Aset => "aset",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Meta {
    Set { var: String, expr: Expr },
    If(Expr),
    Elif(Expr),
    Else,
    Endif,
    Sleep(Sleep),
    SetShell { var: String, words: Vec<String> },
    Shell { words: Vec<String> },
    Store { kind: StoreKind, prefix: String },
    StartPipeline,
    EndPipeline,
}

/// A parsed backslash command: what it is, and where the next thing starts.
pub(crate) struct Parsed {
    pub meta: Meta,
    /// The command as written, from the backslash to the end of its (last) line.
    pub text: String,
    pub next: usize,
}

struct Word {
    at: usize,
    text: String,
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | 0x0b | 0x0c)
}

/// The next whitespace-separated word of the line at `*pos`; `None` at the end of the line,
/// which is then consumed.
fn next_word(text: &str, pos: &mut usize) -> Option<Word> {
    let b = text.as_bytes();
    loop {
        match b.get(*pos) {
            None => return None,
            Some(b'\n') => {
                *pos += 1;
                return None;
            }
            Some(&c) if is_space(c) => *pos += 1,
            Some(b'\\') if b.get(*pos + 1) == Some(&b'\n') => *pos += 2,
            Some(_) => break,
        }
    }
    let at = *pos;
    let mut end = at;
    while b.get(end).is_some_and(|&c| c != b'\n' && !is_space(c)) {
        end += 1;
    }
    *pos = end;
    // A word right before a continuation ends before its backslash.
    let mut word_end = end;
    if end > at && b[end - 1] == b'\\' && b.get(end) == Some(&b'\n') {
        word_end -= 1;
        *pos = end + 1;
    }
    Some(Word {
        at,
        text: text[at..word_end].to_string(),
    })
}

/// Parses the meta-command whose backslash is at `backslash`. `None` when the backslash is
/// alone at the end of its line (pgbench ignores it).
pub(crate) fn parse(src: &Source, backslash: usize) -> Result<Option<Parsed>, SyntaxError> {
    let text = src.text;
    let mut pos = backslash + 1;
    let Some(name) = next_word(text, &mut pos) else {
        return Ok(None);
    };
    let cmd = name.text.as_str();
    let err = |at: usize, p: Problem| src.error(at, p, Some(cmd));
    let lower = cmd.to_ascii_lowercase();
    let finish = |meta: Meta, next: usize| Parsed {
        meta,
        text: text[backslash..next]
            .trim_end_matches(['\n', '\r'])
            .to_string(),
        next,
    };

    if matches!(lower.as_str(), "set" | "if" | "elif") {
        let mut var = String::new();
        if lower == "set" {
            let Some(v) = next_word(text, &mut pos) else {
                return Err(err(backslash, Problem::MissingArgument));
            };
            if !Variables::is_valid_name(&v.text) {
                // pgbench finds this only when the command runs; it can never succeed.
                return Err(err(v.at, Problem::InvalidVariableName(v.text)));
            }
            var = v.text;
        }
        let (expr, next) = parse::parse_line(src, pos, cmd)?;
        let meta = match lower.as_str() {
            "set" => Meta::Set { var, expr },
            "if" => Meta::If(expr),
            _ => Meta::Elif(expr),
        };
        return Ok(Some(finish(meta, next)));
    }

    let mut words = vec![name.text.clone()];
    let mut offsets = vec![name.at];
    while let Some(w) = next_word(text, &mut pos) {
        if words.len() >= MAX_WORDS {
            return Err(err(w.at, Problem::TooManyArguments));
        }
        offsets.push(w.at);
        words.push(w.text);
    }
    let argc = words.len();
    let meta = match lower.as_str() {
        "sleep" => Meta::Sleep(sleep(src, cmd, &words, &offsets, backslash)?),
        "setshell" => {
            if argc < 3 {
                return Err(err(backslash, Problem::MissingArgument));
            }
            if !Variables::is_valid_name(&words[1]) {
                return Err(err(
                    offsets[1],
                    Problem::InvalidVariableName(words[1].clone()),
                ));
            }
            Meta::SetShell {
                var: words[1].clone(),
                words: words[2..].to_vec(),
            }
        }
        "shell" => {
            if argc < 2 {
                return Err(err(backslash, Problem::MissingCommand));
            }
            Meta::Shell {
                words: words[1..].to_vec(),
            }
        }
        "else" | "endif" | "startpipeline" | "endpipeline" => {
            if argc != 1 {
                return Err(err(offsets[1], Problem::UnexpectedArgument));
            }
            match lower.as_str() {
                "else" => Meta::Else,
                "endif" => Meta::Endif,
                "startpipeline" => Meta::StartPipeline,
                _ => Meta::EndPipeline,
            }
        }
        "gset" | "aset" => {
            if argc > 2 {
                return Err(err(offsets[2], Problem::TooManyArguments));
            }
            Meta::Store {
                kind: if lower == "gset" {
                    StoreKind::Gset
                } else {
                    StoreKind::Aset
                },
                prefix: words.get(1).cloned().unwrap_or_default(),
            }
        }
        _ => return Err(err(name.at, Problem::InvalidCommand)),
    };
    Ok(Some(finish(meta, pos)))
}

/// `\sleep N [us|ms|s]`, `\sleep Nms`, `\sleep :var [unit]`; seconds without a unit.
fn sleep(
    src: &Source,
    cmd: &str,
    words: &[String],
    offsets: &[usize],
    backslash: usize,
) -> Result<Sleep, SyntaxError> {
    let err = |at: usize, p: Problem| src.error(at, p, Some(cmd));
    if words.len() < 2 {
        return Err(err(backslash, Problem::MissingArgument));
    }
    if words.len() > 3 {
        return Err(err(offsets[3], Problem::TooManyArguments));
    }
    let arg = &words[1];
    let mut unit = words.get(2).map(|u| (u.as_str(), offsets[2]));
    let amount = if let Some(name) = arg.strip_prefix(':') {
        SleepAmount::Variable(name.to_string())
    } else {
        // A sign, digits, and (only when no unit word follows) a unit stuck to the number.
        let b = arg.as_bytes();
        let sign = usize::from(matches!(b.first(), Some(b'+' | b'-')));
        let digits = b[sign..].iter().take_while(|c| c.is_ascii_digit()).count();
        let rest = sign + digits;
        if rest < b.len() {
            if words.len() == 2 && digits > 0 {
                unit = Some((&arg[rest..], offsets[1] + rest));
            } else {
                return Err(err(offsets[1], Problem::InvalidSleepTime(arg.clone())));
            }
        }
        SleepAmount::Literal(number::atoi(arg))
    };
    let unit_micros = match unit {
        None => 1_000_000,
        Some((u, at)) => match u.to_ascii_lowercase().as_str() {
            "us" => 1,
            "ms" => 1_000,
            "s" => 1_000_000,
            _ => return Err(err(at, Problem::UnknownTimeUnit(u.to_string()))),
        },
    };
    Ok(Sleep {
        amount,
        unit_micros,
    })
}
