//! `\shell` and `\setshell`: building the command line from the words (`:name` is a
//! variable's text, `::x` is the literal `:x`), and reading a `\setshell` result as pgbench
//! does. Running is blocking (`sh -c`), for an engine that runs it off its event loop.
//!
//! Owns the shell rules only; knows nothing of when a script runs them.

use std::io::Read;
use std::process::{Command, Stdio};

use super::error::EvalError;
use super::number;
use super::vars::Variables;

/// pgbench's limit on a shell command line (bytes, its terminating NUL included).
const SHELL_COMMAND_SIZE: usize = 256;

/// A shell command ready to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShellCall<'s> {
    /// The command line, for `sh -c`.
    pub command_line: String,
    /// The variable a `\setshell` assigns; `None` for `\shell`.
    pub assign: Option<&'s str>,
}

/// Joins the words with spaces, substituting variables.
pub(crate) fn command_line(
    context: &'static str,
    words: &[String],
    vars: &mut Variables,
) -> Result<String, EvalError> {
    let mut line = String::new();
    for (i, word) in words.iter().enumerate() {
        let arg = match word.strip_prefix(':') {
            Some(rest) if !rest.starts_with(':') => {
                vars.text(rest).ok_or_else(|| EvalError::UndefinedIn {
                    context,
                    name: word.clone(),
                })?
            }
            Some(_) => &word[1..],
            None => word.as_str(),
        };
        if line.len() + arg.len() + usize::from(i > 0) >= SHELL_COMMAND_SIZE - 1 {
            return Err(EvalError::ShellTooLong { context });
        }
        if i > 0 {
            line.push(' ');
        }
        line.push_str(arg);
    }
    Ok(line)
}

/// Reads a `\setshell` result: the first line of the output (at most 63 bytes), which must be
/// an integer with only spaces around it. pgbench keeps it as a C `int`: larger values wrap
/// to 32 bits as they do there.
pub fn parse_output(output: &[u8]) -> Result<i64, EvalError> {
    let line_len = output
        .iter()
        .position(|&b| b == b'\n')
        .map_or(output.len(), |i| i + 1)
        .min(63);
    if line_len == 0 {
        return Err(EvalError::ShellNoOutput);
    }
    let text = String::from_utf8_lossy(&output[..line_len]);
    match number::parse_long_then_spaces(&text) {
        Some(v) => Ok(i64::from(v as i32)),
        None => Err(EvalError::ShellNotInteger(text.into_owned())),
    }
}

/// Stores a `\setshell` result into its variable.
pub fn assign_output(vars: &mut Variables, var: &str, output: &[u8]) -> Result<(), EvalError> {
    let v = parse_output(output)?;
    vars.set("setshell", var, super::value::Value::Int(v))
}

/// Runs the call with `sh -c`, blocking: for `\shell`, a non-zero exit is an error; for
/// `\setshell`, the output is read and assigned.
pub fn run_blocking(call: &ShellCall<'_>, vars: &mut Variables) -> Result<(), EvalError> {
    let output = execute_blocking(&call.command_line, call.assign.is_some())?;
    match (call.assign, output) {
        (Some(var), Some(out)) => assign_output(vars, var, &out),
        _ => Ok(()),
    }
}

/// Runs a command line with `sh -c`, blocking, from owned inputs (so that an event loop can
/// hand it to a blocking thread): with `capture` (`\setshell`) its standard output is
/// returned; without, a non-zero exit is an error.
pub fn execute_blocking(command_line: &str, capture: bool) -> Result<Option<Vec<u8>>, EvalError> {
    let context = if capture { "setshell" } else { "shell" };
    let launch = |e: std::io::Error| EvalError::ShellLaunch {
        context,
        source: e.into(),
    };
    let mut cmd = Command::new("sh");
    cmd.arg("-c").arg(command_line);
    if !capture {
        let status = cmd.status().map_err(launch)?;
        return if status.success() {
            Ok(None)
        } else {
            Err(EvalError::ShellFailed(status))
        };
    }
    let mut child = cmd.stdout(Stdio::piped()).spawn().map_err(launch)?;
    let mut out = Vec::new();
    if let Some(mut stdout) = child.stdout.take() {
        stdout.read_to_end(&mut out).map_err(launch)?;
    }
    child.wait().map_err(launch)?;
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::script::value::Value;

    fn words(s: &str) -> Vec<String> {
        s.split(' ').map(String::from).collect()
    }

    #[test]
    fn command_lines_substitute_variables() {
        let mut v = Variables::new();
        v.set("set", "one", Value::Double(1.0)).unwrap();
        assert_eq!(
            command_line("shell", &words("echo ::foo :one x"), &mut v).unwrap(),
            "echo :foo 1 x"
        );
        assert_eq!(
            command_line("shell", &words("echo :nosuch"), &mut v)
                .unwrap_err()
                .to_string(),
            "shell: undefined variable \":nosuch\""
        );
        let long = vec!["x".repeat(255)];
        assert!(command_line("shell", &long, &mut v).is_err());
        let fits = vec!["x".repeat(254)];
        assert!(command_line("shell", &fits, &mut v).is_ok());
    }

    #[test]
    fn outputs_are_read_as_pgbench_reads_them() {
        assert_eq!(parse_output(b"12\n"), Ok(12));
        assert_eq!(parse_output(b" -7 \nrest"), Ok(-7));
        assert_eq!(parse_output(b"5000000000"), Ok(705032704));
        assert_eq!(parse_output(b""), Err(EvalError::ShellNoOutput));
        assert_eq!(
            parse_output(b"one").unwrap_err().to_string(),
            "setshell: shell command must return an integer (not \"one\")"
        );
    }

    #[test]
    fn shells_run() {
        let mut v = Variables::new();
        let call = ShellCall {
            command_line: "echo 41".into(),
            assign: Some("x"),
        };
        run_blocking(&call, &mut v).unwrap();
        assert_eq!(v.value("x"), Ok(Value::Int(41)));
        let fail = ShellCall {
            command_line: "exit 3".into(),
            assign: None,
        };
        assert!(matches!(
            run_blocking(&fail, &mut v),
            Err(EvalError::ShellFailed(_))
        ));
    }
}
