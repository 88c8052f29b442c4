//! pgbench's script language: script files, meta-commands and expressions, loaded and checked
//! before anything connects, then walked one transaction at a time.
//!
//! How the engine uses it:
//! - `parse_script_options` loads the `-f`/`-b` scripts into a `ScriptSet` and reads `-D` into
//!   `Variables`; `parse_random_seed` reads `--random-seed`; `ScriptSet::check_protocol`
//!   refuses what `-M` cannot run. Every problem is found here, with file, line and column.
//! - `Seeds` derives each client's `Prng` and `:default_seed` as pgbench does;
//!   `Variables::for_client` makes each client's variables.
//! - Per transaction: `ScriptSet::choose`, then `Script::begin` and `Transaction::next` until
//!   it returns `None`, doing each `Step` (SQL, sleep, shell, pipeline bounds); an SQL step
//!   with a `Store` (`\gset`, `\aset`) puts its result rows into the variables.
//!
//! Self-contained: depends on std and crates only, never on a database client or on the rest
//! of pgsyncbench.

mod builtin;
mod compile;
mod error;
mod expr;
mod func;
mod hash;
mod lex;
mod meta;
mod number;
mod options;
mod parse;
mod prng;
mod random;
mod run;
mod shell;
mod source;
mod split;
mod sql;
mod value;
mod vars;

#[cfg(test)]
mod tests;

pub use builtin::{BUILTINS, Builtin};
pub use compile::{Command, CommandKind, Protocol, Script};
pub use error::{EvalError, LoadError, Location, Problem, RunError, SharedIoError, SyntaxError};
pub use expr::{Expr, eval, eval_with_debug};
pub use hash::{fnv1a as hash_fnv1a, murmur2 as hash_murmur2, permute};
pub use meta::{Sleep, SleepAmount, StoreKind};
pub use options::{
    MAX_SCRIPTS, OptionError, ScriptArg, ScriptSet, WeightedScript, find_builtin, parse_defines,
    parse_random_seed, parse_script_options, parse_weight,
};
pub use prng::{Prng, Seeds};
pub use run::{Step, Transaction};
pub use shell::{
    ShellCall, assign_output as assign_shell_output, execute_blocking as execute_shell_blocking,
    parse_output as parse_shell_output, run_blocking as run_shell_blocking,
};
pub use sql::{MAX_PARAMS, SqlCommand, Store};
pub use value::Value;
pub use vars::{Startup, Variables};

/// Parses one expression (what follows `\set name`), for tests and tools.
pub fn parse_expression(text: &str) -> Result<Expr, SyntaxError> {
    let src = source::Source::new("<expression>", text);
    let (expr, next) = parse::parse_line(&src, 0, "set")?;
    if next < text.len() {
        return Err(src.error(next, Problem::Syntax, Some("set")));
    }
    Ok(expr)
}
