//! The errors of the script language: problems found while loading a script (with file, line
//! and column), and errors while running one (pgbench's wording).
//!
//! Owns error types and their messages only; it decides nothing about when they happen.

use std::fmt;

use super::number::f6;

/// A place in a script: 1-based line, and 1-based column counted in characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Location {
    pub line: usize,
    pub column: usize,
}

/// What is wrong with a script, found while loading it (pgbench's wording where it has one).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Problem {
    #[error("syntax error")]
    Syntax,
    #[error("unexpected character ({0})")]
    UnexpectedCharacter(char),
    #[error("bigint constant overflow ({0})")]
    BigintOverflow(String),
    #[error("double constant overflow ({0})")]
    DoubleOverflow(String),
    #[error("unexpected function name ({0})")]
    UnknownFunction(String),
    #[error("unexpected number of arguments ({0})")]
    ArgumentCount(&'static str),
    #[error("at least one argument expected ({0})")]
    AtLeastOneArgument(&'static str),
    #[error("too many function arguments, maximum is {0}")]
    TooManyFunctionArguments(usize),
    #[error("missing argument")]
    MissingArgument,
    #[error("missing command")]
    MissingCommand,
    #[error("too many arguments")]
    TooManyArguments,
    #[error("unexpected argument")]
    UnexpectedArgument,
    #[error("invalid command")]
    InvalidCommand,
    #[error("invalid sleep time, must be an integer ({0})")]
    InvalidSleepTime(String),
    #[error("unrecognized time unit, must be us, ms or s ({0})")]
    UnknownTimeUnit(String),
    #[error("invalid variable name: \"{0}\"")]
    InvalidVariableName(String),
    #[error("\\{0} must follow an SQL command")]
    StoreWithoutSql(&'static str),
    #[error("\\elif without matching \\if")]
    ElifWithoutIf,
    #[error("\\elif after \\else")]
    ElifAfterElse,
    #[error("\\else without matching \\if")]
    ElseWithoutIf,
    #[error("\\else after \\else")]
    ElseAfterElse,
    #[error("\\endif without matching \\if")]
    EndifWithoutIf,
    #[error("\\if without matching \\endif")]
    IfWithoutEndif,
    #[error("statement has too many arguments (maximum is {0})")]
    TooManyParameters(usize),
    #[error("cannot use pipeline mode with the simple query protocol")]
    PipelineWithSimpleProtocol,
}

/// A problem at a place in a script: prints as `file:line:column: problem`, then the line and
/// a caret under the column.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub struct SyntaxError {
    /// The script's name: its file, or `<builtin: ...>`.
    pub script: String,
    pub location: Location,
    /// The whole line the location is on, without its newline.
    pub line_text: String,
    /// The meta-command it was found in (`set`, `sleep`, ...), if any.
    pub command: Option<String>,
    #[source]
    pub problem: Problem,
}

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Location { line, column } = self.location;
        write!(f, "{}:{line}:{column}: {}", self.script, self.problem)?;
        if let Some(command) = &self.command {
            write!(f, " in command \"{command}\"")?;
        }
        // Tabs keep their width so that the caret lines up under the character.
        let pad: String = self
            .line_text
            .chars()
            .take(column.saturating_sub(1))
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        write!(f, "\n{}\n{pad}^ error found here", self.line_text)
    }
}

/// Loading a script failed.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("could not read file \"{path}\"")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("file \"{path}\" is not valid UTF-8 (line {line})")]
    NotUtf8 { path: String, line: usize },
    #[error(transparent)]
    Syntax(#[from] SyntaxError),
    #[error("empty command list for script \"{0}\"")]
    Empty(String),
}

/// An error while evaluating an expression or running a command (pgbench's wording).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EvalError {
    #[error("undefined variable \"{0}\"")]
    UndefinedVariable(String),
    #[error("malformed variable \"{name}\" value: \"{value}\"")]
    MalformedVariable { name: String, value: String },
    #[error("invalid input syntax for type bigint: \"{0}\"")]
    BigintSyntax(String),
    #[error("value \"{0}\" is out of range for type bigint")]
    BigintRange(String),
    #[error("cannot coerce {from} to {to}")]
    CannotCoerce {
        from: &'static str,
        to: &'static str,
    },
    #[error("double to int overflow for {}", f6(*.0))]
    DoubleToIntOverflow(f64),
    #[error("division by zero")]
    DivisionByZero,
    #[error("bigint {0} out of range")]
    Overflow(&'static str),
    #[error("empty range given to random")]
    EmptyRange,
    #[error("random range is too large")]
    RangeTooLarge,
    #[error("gaussian parameter must be at least 2.000000 (not {})", f6(*.0))]
    GaussianParameter(f64),
    #[error("exponential parameter must be greater than zero (not {})", f6(*.0))]
    ExponentialParameter(f64),
    #[error("zipfian parameter must be in range [1.001, 1000] (not {})", f6(*.0))]
    ZipfianParameter(f64),
    #[error("permute size parameter must be greater than zero")]
    PermuteSize,
    #[error("{context}: invalid variable name: \"{name}\"")]
    InvalidVariableName { context: &'static str, name: String },
    #[error("{context}: undefined variable \"{name}\"")]
    UndefinedIn { context: &'static str, name: String },
    #[error("sleep: invalid sleep time \"{value}\" for variable \"{name}\"")]
    InvalidSleepTime { value: String, name: String },
    #[error("{context}: shell command is too long")]
    ShellTooLong { context: &'static str },
    #[error("setshell: could not read result of shell command")]
    ShellNoOutput,
    #[error("setshell: shell command must return an integer (not \"{0}\")")]
    ShellNotInteger(String),
    #[error("{context}: could not launch shell command")]
    ShellLaunch {
        context: &'static str,
        #[source]
        source: SharedIoError,
    },
    #[error("shell: command failed ({0})")]
    ShellFailed(std::process::ExitStatus),
    #[error("expected one row, got {0}")]
    ExpectedOneRow(usize),
    #[error("already in pipeline mode")]
    AlreadyInPipeline,
    #[error("not in pipeline mode")]
    NotInPipeline,
    #[error("\\{0} is not allowed in pipeline mode")]
    StoreInPipeline(&'static str),
    #[error("end of script reached with pipeline open")]
    PipelineOpenAtEnd,
}

/// A command of a running script failed: which one (0-based index in the script, as pgbench
/// numbers commands in its messages) and why.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("command {command} ({kind}): {error}")]
pub struct RunError {
    pub command: usize,
    /// The meta-command's name (`set`, `sleep`, ...) or `SQL`.
    pub kind: &'static str,
    #[source]
    pub error: EvalError,
}

/// An I/O error that can be cloned and compared (by kind), so that `EvalError` can be both.
#[derive(Debug, Clone, thiserror::Error)]
#[error(transparent)]
pub struct SharedIoError(#[from] pub std::sync::Arc<std::io::Error>);

impl PartialEq for SharedIoError {
    fn eq(&self, other: &Self) -> bool {
        self.0.kind() == other.0.kind()
    }
}

impl From<std::io::Error> for SharedIoError {
    fn from(e: std::io::Error) -> Self {
        SharedIoError(std::sync::Arc::new(e))
    }
}
