//! A script: loaded from text, checked, and turned into a list of commands with its `\if`
//! branches resolved, ready to be walked.
//!
//! Owns loading order and the checks pgbench makes before connecting (syntax, `\gset`
//! placement, `\if` nesting, empty scripts); running is in `run`.

use std::path::Path;

use super::error::{LoadError, Problem, SyntaxError};
use super::expr::Expr;
use super::meta::{self, Meta, Sleep};
use super::source::Source;
use super::split::{SqlScanner, Stop};
use super::sql::{MAX_PARAMS, SqlCommand, Store};

/// How SQL goes to the server (`-M`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Simple,
    Extended,
    Prepared,
}

/// One command of a script.
#[derive(Debug, Clone, PartialEq)]
pub struct Command {
    /// The script line it starts on (1-based).
    pub line: usize,
    /// The command as written (an SQL command's first line, or the whole meta-command).
    pub text: String,
    pub kind: CommandKind,
    /// Byte offset in the script's text, for error locations.
    pub(crate) at: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub enum CommandKind {
    Sql(SqlCommand),
    Set {
        var: String,
        expr: Expr,
    },
    Sleep(Sleep),
    SetShell {
        var: String,
        words: Vec<String>,
    },
    Shell {
        words: Vec<String>,
    },
    /// `next` is the index of this `\if`'s next `\elif`, `\else` or `\endif`.
    If {
        cond: Expr,
        next: usize,
    },
    Elif {
        cond: Expr,
        next: usize,
        endif: usize,
    },
    Else {
        endif: usize,
    },
    Endif,
    StartPipeline,
    EndPipeline,
}

impl CommandKind {
    /// The name pgbench gives the command in messages (`SQL` for SQL).
    pub fn name(&self) -> &'static str {
        match self {
            CommandKind::Sql(_) => "SQL",
            CommandKind::Set { .. } => "set",
            CommandKind::Sleep(_) => "sleep",
            CommandKind::SetShell { .. } => "setshell",
            CommandKind::Shell { .. } => "shell",
            CommandKind::If { .. } => "if",
            CommandKind::Elif { .. } => "elif",
            CommandKind::Else { .. } => "else",
            CommandKind::Endif => "endif",
            CommandKind::StartPipeline => "startpipeline",
            CommandKind::EndPipeline => "endpipeline",
        }
    }
}

/// A loaded script.
#[derive(Debug, Clone, PartialEq)]
pub struct Script {
    name: String,
    /// Its position among the run's scripts (pgbench's "script N").
    pub(crate) index: usize,
    commands: Vec<Command>,
    /// The script's text, kept for locating errors found after loading.
    source: String,
}

impl Script {
    /// Reads and loads a script file (`-` is standard input).
    pub fn load_file(path: &Path) -> Result<Script, LoadError> {
        let name = path.display().to_string();
        let bytes = if name == "-" {
            let mut buf = Vec::new();
            std::io::Read::read_to_end(&mut std::io::stdin(), &mut buf).map(|_| buf)
        } else {
            std::fs::read(path)
        }
        .map_err(|source| LoadError::Read {
            path: name.clone(),
            source,
        })?;
        let text = String::from_utf8(bytes).map_err(|e| {
            let good = &e.as_bytes()[..e.utf8_error().valid_up_to()];
            LoadError::NotUtf8 {
                path: name.clone(),
                line: good.iter().filter(|&&b| b == b'\n').count() + 1,
            }
        })?;
        Script::parse(&name, &text)
    }

    /// Loads a script from its text; `name` is how errors and reports name it.
    pub fn parse(name: &str, text: &str) -> Result<Script, LoadError> {
        let src = Source::new(name, text);
        let mut commands = Vec::new();
        let mut scanner = SqlScanner::new(text);
        loop {
            let mut sql = String::new();
            let (stop, first) = scanner.scan(&mut sql);
            if let Some(start) = first.filter(|_| !sql.is_empty()) {
                let sql = SqlCommand::new(sql);
                commands.push(Command {
                    line: src.location(start).line,
                    text: sql.first_line().to_string(),
                    kind: CommandKind::Sql(sql),
                    at: start,
                });
            }
            match stop {
                Stop::Eof => break,
                Stop::Semicolon => continue,
                Stop::Backslash => {}
            }
            let backslash = scanner.pos() - 1;
            let Some(parsed) = meta::parse(&src, backslash)? else {
                scanner.resume_at(scanner.pos());
                continue;
            };
            scanner.resume_at(parsed.next);
            let line = src.location(backslash).line;
            let kind = match parsed.meta {
                Meta::Store { kind, prefix } => {
                    attach_store(&src, backslash, &mut commands, Store { kind, prefix })?;
                    continue;
                }
                Meta::Set { var, expr } => CommandKind::Set { var, expr },
                Meta::If(cond) => CommandKind::If { cond, next: 0 },
                Meta::Elif(cond) => CommandKind::Elif {
                    cond,
                    next: 0,
                    endif: 0,
                },
                Meta::Else => CommandKind::Else { endif: 0 },
                Meta::Endif => CommandKind::Endif,
                Meta::Sleep(s) => CommandKind::Sleep(s),
                Meta::SetShell { var, words } => CommandKind::SetShell { var, words },
                Meta::Shell { words } => CommandKind::Shell { words },
                Meta::StartPipeline => CommandKind::StartPipeline,
                Meta::EndPipeline => CommandKind::EndPipeline,
            };
            commands.push(Command {
                line,
                text: parsed.text,
                kind,
                at: backslash,
            });
        }
        if commands.is_empty() {
            return Err(LoadError::Empty(name.to_string()));
        }
        resolve_conditionals(&src, &mut commands)?;
        Ok(Script {
            name: name.to_string(),
            index: 0,
            commands,
            source: text.to_string(),
        })
    }

    /// The script's name: its file, or `<builtin: ...>`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its position among the run's scripts.
    pub fn index(&self) -> usize {
        self.index
    }

    pub fn commands(&self) -> &[Command] {
        &self.commands
    }

    /// The SQL commands, in order.
    pub fn sql_commands(&self) -> impl Iterator<Item = &SqlCommand> {
        self.commands.iter().filter_map(|c| match &c.kind {
            CommandKind::Sql(s) => Some(s),
            _ => None,
        })
    }

    /// The SQL commands from the `\startpipeline` at `start` to its `\endpipeline` (pgbench
    /// prepares them all before entering the pipeline under `-M prepared`).
    pub fn pipeline_sql(&self, start: usize) -> impl Iterator<Item = &SqlCommand> {
        self.commands
            .iter()
            .skip(start + 1)
            .take_while(|c| c.kind != CommandKind::EndPipeline)
            .filter_map(|c| match &c.kind {
                CommandKind::Sql(s) => Some(s),
                _ => None,
            })
    }

    /// What pgbench also refuses before connecting, given the protocol: pipelines under the
    /// simple protocol (pgbench finds this when the command runs; it can never succeed), and
    /// statements with more than 255 variables under the extended or prepared protocols.
    pub fn check_protocol(&self, protocol: Protocol) -> Result<(), SyntaxError> {
        let src = Source::new(&self.name, &self.source);
        let at = |c: &Command, problem| src.error(c.at, problem, None);
        for c in &self.commands {
            match &c.kind {
                CommandKind::StartPipeline if protocol == Protocol::Simple => {
                    return Err(at(c, Problem::PipelineWithSimpleProtocol));
                }
                CommandKind::Sql(s)
                    if protocol != Protocol::Simple && s.param_names().count() > MAX_PARAMS =>
                {
                    return Err(at(c, Problem::TooManyParameters(MAX_PARAMS)));
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Names the prepared statements `P_first`, `P_first+1`, ...; returns the next number.
    pub(crate) fn number_statements(&mut self, first: usize) -> usize {
        let mut n = first;
        for c in &mut self.commands {
            if let CommandKind::Sql(s) = &mut c.kind {
                s.statement_name = format!("P_{n}");
                n += 1;
            }
        }
        n
    }
}

/// `\gset`/`\aset` belong to the SQL command right before them, once.
fn attach_store(
    src: &Source,
    backslash: usize,
    commands: &mut [Command],
    store: Store,
) -> Result<(), SyntaxError> {
    let problem = Problem::StoreWithoutSql(store.kind.name());
    match commands.last_mut().map(|c| &mut c.kind) {
        Some(CommandKind::Sql(sql)) if sql.store.is_none() => {
            sql.store = Some(store);
            Ok(())
        }
        _ => Err(src.error(backslash, problem, None)),
    }
}

/// Links each `\if` to its `\elif`/`\else`/`\endif`, refusing unbalanced structures.
fn resolve_conditionals(src: &Source, commands: &mut [Command]) -> Result<(), SyntaxError> {
    struct Open {
        /// The `\if` or `\elif` whose `next` is not set yet.
        branch: usize,
        /// Every `\elif` and `\else`, which learn where the `\endif` is.
        parts: Vec<usize>,
        has_else: bool,
        at: usize,
    }
    let at = |c: &Command, problem: Problem| src.error(c.at, problem, None);
    let mut open: Vec<Open> = Vec::new();
    for i in 0..commands.len() {
        let here = commands[i].at;
        match commands[i].kind {
            CommandKind::If { .. } => open.push(Open {
                branch: i,
                parts: Vec::new(),
                has_else: false,
                at: here,
            }),
            CommandKind::Elif { .. } | CommandKind::Else { .. } => {
                let is_elif = matches!(commands[i].kind, CommandKind::Elif { .. });
                let Some(o) = open.last_mut() else {
                    let p = if is_elif {
                        Problem::ElifWithoutIf
                    } else {
                        Problem::ElseWithoutIf
                    };
                    return Err(at(&commands[i], p));
                };
                if o.has_else {
                    let p = if is_elif {
                        Problem::ElifAfterElse
                    } else {
                        Problem::ElseAfterElse
                    };
                    return Err(at(&commands[i], p));
                }
                set_next(&mut commands[o.branch], i);
                if is_elif {
                    o.branch = i;
                } else {
                    o.has_else = true;
                }
                o.parts.push(i);
            }
            CommandKind::Endif => {
                let Some(o) = open.pop() else {
                    return Err(at(&commands[i], Problem::EndifWithoutIf));
                };
                if !o.has_else {
                    set_next(&mut commands[o.branch], i);
                }
                for p in o.parts {
                    match &mut commands[p].kind {
                        CommandKind::Elif { endif, .. } | CommandKind::Else { endif } => *endif = i,
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    match open.last() {
        Some(o) => Err(src.error(o.at, Problem::IfWithoutEndif, None)),
        None => Ok(()),
    }
}

fn set_next(c: &mut Command, target: usize) {
    if let CommandKind::If { next, .. } | CommandKind::Elif { next, .. } = &mut c.kind {
        *next = target;
    }
}
