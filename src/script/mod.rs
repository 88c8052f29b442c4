//! pgbench's script language: script files, meta-commands and expressions, loaded and checked
//! before anything connects, then walked one transaction at a time.
//!
//! Self-contained: depends on std and crates only, never on a database client or on the rest
//! of pgsyncbench.

mod error;
mod expr;
mod func;
mod hash;
mod lex;
mod number;
mod parse;
mod prng;
mod random;
mod source;
mod value;
mod vars;

pub use error::{EvalError, LoadError, Location, Problem, RunError, SharedIoError, SyntaxError};
pub use expr::{Expr, eval, eval_with_debug};
pub use func::Func;
pub use hash::{fnv1a as hash_fnv1a, murmur2 as hash_murmur2, permute};
pub use prng::{Prng, Seeds};
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
