//! Walking a script for one transaction: meta-commands that need only variables and the
//! random generator (`\set`, `\if` ...) run here; everything that needs the outside world
//! comes back as a `Step` for the engine (SQL, sleeps, shell commands, pipeline bounds).
//!
//! Owns control flow and pgbench's run-time checks; never performs I/O itself.

use super::compile::{Command, CommandKind, Script};
use super::error::{EvalError, RunError};
use super::expr::{Expr, eval_with_debug};
use super::meta::{Sleep, SleepAmount};
use super::number;
use super::prng::Prng;
use super::shell::{self, ShellCall};
use super::sql::SqlCommand;
use super::value::Value;
use super::vars::Variables;

/// What the engine must do next.
#[derive(Debug, Clone, PartialEq)]
pub enum Step<'s> {
    /// Send this SQL: `simple_text`/`write_simple` for the simple protocol;
    /// `positional_text` (or `statement_name` once prepared) with `params` for the others.
    /// If it has a `store`, put its results into the variables.
    Sql(&'s SqlCommand),
    /// Wait this long (microseconds; 0 for a negative `\sleep`).
    Sleep { micros: u64 },
    /// Run this shell command (and, for `\setshell`, assign its output with
    /// `shell::assign_output`).
    Shell(ShellCall<'s>),
    /// Enter pipeline mode (extended or prepared protocol).
    StartPipeline,
    /// Sync and leave pipeline mode, collecting the pending results.
    EndPipeline,
}

/// One transaction's walk through a script.
#[derive(Debug, Clone)]
pub struct Transaction<'s> {
    script: &'s Script,
    pc: usize,
    current: usize,
    in_pipeline: bool,
}

impl Script {
    /// Starts a transaction at the script's first command.
    pub fn begin(&self) -> Transaction<'_> {
        Transaction {
            script: self,
            pc: 0,
            current: 0,
            in_pipeline: false,
        }
    }
}

impl<'s> Transaction<'s> {
    /// The index of the command the last step (or error) came from.
    pub fn command(&self) -> usize {
        self.current
    }

    /// Runs meta-commands up to the next step; `None` at the end of the script. `debug()`
    /// prints to standard error as pgbench does.
    pub fn next(
        &mut self,
        vars: &mut Variables,
        rng: &mut Prng,
    ) -> Result<Option<Step<'s>>, RunError> {
        let script = self.script.index();
        self.next_with_debug(vars, rng, &mut |command, v| {
            eprintln!(
                "debug(script={script},command={}): {}",
                command + 1,
                v.debug_text()
            );
        })
    }

    /// As `next`, handing each `debug()` value and its command index to `on_debug`.
    pub fn next_with_debug(
        &mut self,
        vars: &mut Variables,
        rng: &mut Prng,
        on_debug: &mut dyn FnMut(usize, Value),
    ) -> Result<Option<Step<'s>>, RunError> {
        let commands = self.script.commands();
        loop {
            let Some(Command { kind, .. }) = commands.get(self.pc) else {
                if self.in_pipeline {
                    return Err(self.fail(EvalError::PipelineOpenAtEnd));
                }
                return Ok(None);
            };
            self.current = self.pc;
            let mut eval = |expr: &Expr, vars: &mut Variables, rng: &mut Prng| {
                let at = self.current;
                eval_with_debug(expr, vars, rng, &mut |v| on_debug(at, v))
            };
            match kind {
                CommandKind::Sql(sql) => {
                    if let Some(store) = sql.store().filter(|_| self.in_pipeline) {
                        return Err(self.fail(EvalError::StoreInPipeline(store.kind.name())));
                    }
                    self.pc += 1;
                    return Ok(Some(Step::Sql(sql)));
                }
                CommandKind::Set { var, expr } => {
                    let v = eval(expr, vars, rng).map_err(|e| self.fail(e))?;
                    vars.set("set", var, v).map_err(|e| self.fail(e))?;
                    self.pc += 1;
                }
                CommandKind::If { cond, next } => {
                    let taken = eval(cond, vars, rng).map_err(|e| self.fail(e))?.truth();
                    if taken {
                        self.pc += 1;
                    } else {
                        self.branch_from(*next, vars, rng, on_debug)?;
                    }
                }
                // Reached from the end of a branch that ran: skip to after the \endif.
                CommandKind::Elif { endif, .. } | CommandKind::Else { endif } => {
                    self.pc = endif + 1;
                }
                CommandKind::Endif => self.pc += 1,
                CommandKind::Sleep(sleep) => {
                    let micros = sleep_micros(sleep, vars).map_err(|e| self.fail(e))?;
                    self.pc += 1;
                    return Ok(Some(Step::Sleep { micros }));
                }
                CommandKind::SetShell { var, words } => {
                    let command_line =
                        shell::command_line("setshell", words, vars).map_err(|e| self.fail(e))?;
                    self.pc += 1;
                    return Ok(Some(Step::Shell(ShellCall {
                        command_line,
                        assign: Some(var),
                    })));
                }
                CommandKind::Shell { words } => {
                    let command_line =
                        shell::command_line("shell", words, vars).map_err(|e| self.fail(e))?;
                    self.pc += 1;
                    return Ok(Some(Step::Shell(ShellCall {
                        command_line,
                        assign: None,
                    })));
                }
                CommandKind::StartPipeline => {
                    if self.in_pipeline {
                        return Err(self.fail(EvalError::AlreadyInPipeline));
                    }
                    self.in_pipeline = true;
                    self.pc += 1;
                    return Ok(Some(Step::StartPipeline));
                }
                CommandKind::EndPipeline => {
                    if !self.in_pipeline {
                        return Err(self.fail(EvalError::NotInPipeline));
                    }
                    self.in_pipeline = false;
                    self.pc += 1;
                    return Ok(Some(Step::EndPipeline));
                }
            }
        }
    }

    /// After a false `\if` or `\elif`: tries each following `\elif` until one is true, else
    /// enters the `\else` or leaves at the `\endif`.
    fn branch_from(
        &mut self,
        mut target: usize,
        vars: &mut Variables,
        rng: &mut Prng,
        on_debug: &mut dyn FnMut(usize, Value),
    ) -> Result<(), RunError> {
        loop {
            self.current = target;
            match self.script.commands().get(target).map(|c| &c.kind) {
                Some(CommandKind::Elif { cond, next, .. }) => {
                    let v = eval_with_debug(cond, vars, rng, &mut |v| on_debug(target, v))
                        .map_err(|e| self.fail(e))?;
                    if v.truth() {
                        self.pc = target + 1;
                        return Ok(());
                    }
                    target = *next;
                }
                // \else or \endif: continue right after it.
                _ => {
                    self.pc = target + 1;
                    return Ok(());
                }
            }
        }
    }

    fn fail(&self, error: EvalError) -> RunError {
        let kind = self
            .script
            .commands()
            .get(self.current)
            .map_or("SQL", |c| c.kind.name());
        RunError {
            command: self.current,
            kind,
            error,
        }
    }
}

/// A `\sleep`'s length: a variable's text is read like C's `atoi`, and must start with a
/// digit unless it reads as non-zero.
fn sleep_micros(sleep: &Sleep, vars: &mut Variables) -> Result<u64, EvalError> {
    let amount = match &sleep.amount {
        SleepAmount::Literal(n) => *n,
        SleepAmount::Variable(name) => {
            let text = vars.text(name).ok_or_else(|| EvalError::UndefinedIn {
                context: "sleep",
                name: name.clone(),
            })?;
            let n = number::atoi(text);
            if n == 0 && !text.starts_with(|c: char| c.is_ascii_digit()) {
                return Err(EvalError::InvalidSleepTime {
                    value: text.to_string(),
                    name: name.clone(),
                });
            }
            n
        }
    };
    Ok(amount.saturating_mul(sleep.unit_micros).max(0) as u64)
}
