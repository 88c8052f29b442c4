//! The script options of a run as pgbench parses them: `-f FILE[@W]`, `-b NAME[@W]` (a
//! unique prefix of a built-in's name), `-D NAME=VALUE` and `--random-seed`; the weighted
//! choice of a script per transaction.
//!
//! Owns option syntax and the run's list of scripts; reads script files, nothing else.

use std::path::Path;

use super::builtin::{self, BUILTINS, Builtin};
use super::compile::{Protocol, Script};
use super::error::{EvalError, LoadError, SyntaxError};
use super::number;
use super::prng::Prng;
use super::random;
use super::vars::Variables;

/// pgbench's limit on scripts in one run.
pub const MAX_SCRIPTS: usize = 128;

#[derive(Debug, thiserror::Error)]
pub enum OptionError {
    #[error("invalid weight specification: {0}")]
    InvalidWeight(String),
    #[error("weight specification out of range (0 .. 2147483647): {0}")]
    WeightOutOfRange(i64),
    #[error("no builtin script found for name \"{name}\": {}", builtin::list())]
    NoBuiltin { name: String },
    #[error(
        "ambiguous builtin name: {count} builtin scripts found for prefix \"{prefix}\": {}",
        builtin::list()
    )]
    AmbiguousBuiltin { count: usize, prefix: String },
    #[error("invalid variable definition: \"{0}\"")]
    InvalidDefine(String),
    #[error("option: invalid variable name: \"{0}\"")]
    InvalidVariableName(String),
    #[error("total script weight must not be zero")]
    ZeroTotalWeight,
    #[error("at most {MAX_SCRIPTS} SQL scripts are allowed")]
    TooManyScripts,
    #[error(
        "unrecognized random seed option \"{0}\": expecting an unsigned integer, \"time\" or \"rand\""
    )]
    RandomSeed(String),
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error(transparent)]
    Protocol(#[from] SyntaxError),
}

/// A script option, in command-line order (the order numbers the scripts).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScriptArg {
    /// `-f FILE[@W]`
    File(String),
    /// `-b NAME[@W]` (`-N` is `-b simple-update`, `-S` is `-b select-only`).
    Builtin(String),
}

/// A script and its selection weight.
#[derive(Debug, Clone)]
pub struct WeightedScript {
    pub script: Script,
    pub weight: u32,
}

/// The scripts of a run.
#[derive(Debug, Clone)]
pub struct ScriptSet {
    scripts: Vec<WeightedScript>,
    total_weight: u64,
}

/// Splits `NAME@W` at its last `@`; the weight is 1 without one.
pub fn parse_weight(arg: &str) -> Result<(&str, u32), OptionError> {
    let Some((name, w)) = arg.rsplit_once('@') else {
        return Ok((arg, 1));
    };
    let spec = || format!("@{w}");
    let value = number::parse_i64(w).map_err(|_| OptionError::InvalidWeight(spec()))?;
    let weight = u32::try_from(value)
        .ok()
        .filter(|&v| v <= i32::MAX as u32)
        .ok_or(OptionError::WeightOutOfRange(value))?;
    Ok((name, weight))
}

/// The built-in whose name starts with `prefix`, when exactly one does.
pub fn find_builtin(prefix: &str) -> Result<&'static Builtin, OptionError> {
    let found: Vec<_> = BUILTINS
        .iter()
        .filter(|b| b.name.starts_with(prefix))
        .collect();
    match found.as_slice() {
        [one] => Ok(one),
        [] => Err(OptionError::NoBuiltin {
            name: prefix.to_string(),
        }),
        many => Err(OptionError::AmbiguousBuiltin {
            count: many.len(),
            prefix: prefix.to_string(),
        }),
    }
}

/// `-D NAME=VALUE` options as variables (texts, converted when an expression reads them).
pub fn parse_defines<S: AsRef<str>>(args: &[S]) -> Result<Variables, OptionError> {
    let mut vars = Variables::new();
    for arg in args {
        let arg = arg.as_ref();
        match arg.split_once('=') {
            Some((name, value)) if !name.is_empty() && !value.is_empty() => {
                vars.set_text("option", name, value).map_err(|e| match e {
                    EvalError::InvalidVariableName { name, .. } => {
                        OptionError::InvalidVariableName(name)
                    }
                    _ => OptionError::InvalidDefine(arg.to_string()),
                })?;
            }
            _ => return Err(OptionError::InvalidDefine(arg.to_string())),
        }
    }
    Ok(vars)
}

/// The scripts (`-f`, `-b`, in command-line order) and the `-D` variables of a run.
pub fn parse_script_options<S: AsRef<str>>(
    scripts: &[ScriptArg],
    defines: &[S],
) -> Result<(ScriptSet, Variables), OptionError> {
    Ok((ScriptSet::from_args(scripts)?, parse_defines(defines)?))
}

/// `--random-seed`: `time` (the default), `rand`, or an unsigned integer.
pub fn parse_random_seed(arg: &str) -> Result<u64, OptionError> {
    match arg {
        "time" => Ok(std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_micros() as u64)),
        "rand" => {
            // Hashing with the standard library's randomly keyed hasher gives a strong seed
            // without another dependency.
            use std::hash::{BuildHasher, RandomState};
            Ok(RandomState::new().hash_one(std::time::SystemTime::now()))
        }
        _ => arg
            .parse::<u64>()
            .map_err(|_| OptionError::RandomSeed(arg.to_string())),
    }
}

impl ScriptSet {
    /// Loads the scripts of `-f`/`-b` options, in order; the `tpcb-like` built-in when there
    /// are none. Statements are named `P_0`, `P_1`, ... across all scripts, as pgbench does.
    pub fn from_args(args: &[ScriptArg]) -> Result<ScriptSet, OptionError> {
        let mut scripts = Vec::new();
        for arg in args {
            if scripts.len() >= MAX_SCRIPTS {
                return Err(OptionError::TooManyScripts);
            }
            let (script, weight) = match arg {
                ScriptArg::File(a) => {
                    let (file, weight) = parse_weight(a)?;
                    (Script::load_file(Path::new(file))?, weight)
                }
                ScriptArg::Builtin(a) => {
                    let (name, weight) = parse_weight(a)?;
                    let b = find_builtin(name)?;
                    (Script::parse(b.description, b.text)?, weight)
                }
            };
            scripts.push(WeightedScript { script, weight });
        }
        if scripts.is_empty() {
            let b = &BUILTINS[0];
            scripts.push(WeightedScript {
                script: Script::parse(b.description, b.text)?,
                weight: 1,
            });
        }
        Self::new(scripts)
    }

    /// A set of already loaded scripts (numbered and their statements named here).
    pub fn new(mut scripts: Vec<WeightedScript>) -> Result<ScriptSet, OptionError> {
        let mut statement = 0;
        for (i, w) in scripts.iter_mut().enumerate() {
            w.script.index = i;
            statement = w.script.number_statements(statement);
        }
        let total_weight = scripts.iter().map(|s| u64::from(s.weight)).sum();
        if total_weight == 0 {
            return Err(OptionError::ZeroTotalWeight);
        }
        Ok(ScriptSet {
            scripts,
            total_weight,
        })
    }

    pub fn scripts(&self) -> &[WeightedScript] {
        &self.scripts
    }

    pub fn total_weight(&self) -> u64 {
        self.total_weight
    }

    /// What reports call the run's transactions: the script's name, or "multiple scripts".
    pub fn description(&self) -> &str {
        match self.scripts.as_slice() {
            [one] => one.script.name(),
            _ => "multiple scripts",
        }
    }

    /// Refuses what the protocol cannot run (see `Script::check_protocol`).
    pub fn check_protocol(&self, protocol: Protocol) -> Result<(), OptionError> {
        for s in &self.scripts {
            s.script.check_protocol(protocol)?;
        }
        Ok(())
    }

    /// The script of the next transaction, chosen by weight as pgbench does (no draw when
    /// there is one script).
    pub fn choose(&self, rng: &mut Prng) -> usize {
        if self.scripts.len() == 1 {
            return 0;
        }
        let total = i64::try_from(self.total_weight).unwrap_or(i64::MAX);
        let mut w = random::uniform(rng, 0, total - 1);
        for (i, s) in self.scripts.iter().enumerate() {
            w -= i64::from(s.weight);
            if w < 0 {
                return i;
            }
        }
        self.scripts.len() - 1
    }
}
