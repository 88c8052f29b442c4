//! pgbench's values: NULL, booleans, 64-bit integers and doubles; how they convert to each
//! other, to SQL text, and from a variable's text.
//!
//! Owns the value type and its coercion rules; knows nothing of variables' storage,
//! expressions or SQL.

use std::fmt::{self, Write};

use super::error::EvalError;
use super::number::{self, NumberError};

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Double(f64),
}

impl Value {
    /// The type's name in pgbench's messages.
    pub fn type_name(self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Int(_) => "int",
            Value::Double(_) => "double",
        }
    }

    /// Truth for `\if` and `CASE WHEN`: NULL and zero are false, other numbers true.
    pub fn truth(self) -> bool {
        match self {
            Value::Null => false,
            Value::Bool(b) => b,
            Value::Int(i) => i != 0,
            Value::Double(d) => d != 0.0,
        }
    }

    /// Only a boolean is a boolean (`AND`, `OR`, `NOT`).
    pub fn to_bool(self) -> Result<bool, EvalError> {
        match self {
            Value::Bool(b) => Ok(b),
            other => Err(coerce(other, "boolean")),
        }
    }

    /// An int, or a double rounded half to even when it fits.
    pub fn to_int(self) -> Result<i64, EvalError> {
        match self {
            Value::Int(i) => Ok(i),
            Value::Double(d) => {
                let r = d.round_ties_even();
                // -2^63 fits, 2^63 does not; NaN is in no range.
                if (-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&r) {
                    Ok(r as i64)
                } else {
                    Err(EvalError::DoubleToIntOverflow(r))
                }
            }
            other => Err(coerce(other, "int")),
        }
    }

    pub fn to_double(self) -> Result<f64, EvalError> {
        match self {
            Value::Double(d) => Ok(d),
            Value::Int(i) => Ok(i as f64),
            other => Err(coerce(other, "double")),
        }
    }

    /// The value as `debug()` prints it: `int 5`, `double 1.5`, `boolean true`, `null`.
    pub fn debug_text(self) -> String {
        match self {
            Value::Null => "null".to_string(),
            other => format!("{} {other}", other.type_name()),
        }
    }

    /// A variable's text as a value, as pgbench converts it the first time an expression
    /// reads it: NULL, a boolean word (`true`, `yes`, `on`, `off`, or a prefix of them), an
    /// integer, or else a double.
    pub fn from_text(name: &str, text: &str) -> Result<Value, EvalError> {
        let malformed = || EvalError::MalformedVariable {
            name: name.to_string(),
            value: text.to_string(),
        };
        if text.is_empty() {
            return Err(malformed());
        }
        let prefix_of =
            |word: &str| text.len() <= word.len() && word[..text.len()].eq_ignore_ascii_case(text);
        if text.eq_ignore_ascii_case("null") {
            Ok(Value::Null)
        } else if prefix_of("true") || prefix_of("yes") || text.eq_ignore_ascii_case("on") {
            Ok(Value::Bool(true))
        } else if prefix_of("false")
            || prefix_of("no")
            || text.eq_ignore_ascii_case("off")
            || text.eq_ignore_ascii_case("of")
        {
            Ok(Value::Bool(false))
        } else if looks_like_int(text) {
            match number::parse_i64(text) {
                Ok(i) => Ok(Value::Int(i)),
                Err(NumberError::Range) => Err(EvalError::BigintRange(text.to_string())),
                Err(NumberError::Syntax) => Err(EvalError::BigintSyntax(text.to_string())),
            }
        } else {
            number::parse_f64(text)
                .map(Value::Double)
                .map_err(|_| malformed())
        }
    }
}

/// pgbench's `is_an_int`: spaces, a sign, digits, end. A lone sign or only spaces also pass
/// (and then fail as bigint syntax), as in pgbench.
fn looks_like_int(text: &str) -> bool {
    let t = text.trim_start_matches(|c: char| c.is_ascii() && number::is_c_space(c as u8));
    let t = t.strip_prefix(['+', '-']).unwrap_or(t);
    t.bytes().all(|b| b.is_ascii_digit())
}

fn coerce(from: Value, to: &'static str) -> EvalError {
    EvalError::CannotCoerce {
        from: from.type_name(),
        to,
    }
}

/// The text substituted into SQL: `NULL`, `true`/`false`, the integer, or the double as
/// `%.15g`.
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Value::Null => f.write_str("NULL"),
            Value::Bool(b) => f.write_str(if b { "true" } else { "false" }),
            Value::Int(i) => write!(f, "{i}"),
            Value::Double(d) => number::write_g15(f, d),
        }
    }
}

impl Value {
    /// Appends the SQL text form to `out` (no allocation beyond `out`'s growth).
    pub fn write_text(self, out: &mut String) {
        // Writing to a String cannot fail.
        let _ = write!(out, "{self}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(text: &str) -> Result<Value, EvalError> {
        Value::from_text("v", text)
    }

    #[test]
    fn text_converts_as_pgbench_does() {
        assert_eq!(t("null"), Ok(Value::Null));
        assert_eq!(t("NuLL"), Ok(Value::Null));
        for yes in ["t", "tr", "TRUE", "y", "yes", "on", "ON"] {
            assert_eq!(t(yes), Ok(Value::Bool(true)), "{yes}");
        }
        for no in ["f", "fal", "n", "no", "off", "of", "OF"] {
            assert_eq!(t(no), Ok(Value::Bool(false)), "{no}");
        }
        assert_eq!(t("+3"), Ok(Value::Int(3)));
        assert_eq!(t(" -12"), Ok(Value::Int(-12)));
        assert_eq!(t("-9223372036854775808"), Ok(Value::Int(i64::MIN)));
        assert_eq!(t("-10.1"), Ok(Value::Double(-10.1)));
        assert_eq!(t(" 1.50"), Ok(Value::Double(1.5)));
        assert_eq!(
            t("9223372036854775808"),
            Err(EvalError::BigintRange("9223372036854775808".into()))
        );
        assert_eq!(t("+"), Err(EvalError::BigintSyntax("+".into())));
        for bad in ["", "o", "bla", "trueXXX", "1.5x", "1e999"] {
            assert!(
                matches!(t(bad), Err(EvalError::MalformedVariable { .. })),
                "{bad}"
            );
        }
        assert_eq!(
            t("bla").unwrap_err().to_string(),
            "malformed variable \"v\" value: \"bla\""
        );
    }

    #[test]
    fn coercions_follow_pgbench() {
        assert_eq!(Value::Double(2.5).to_int(), Ok(2));
        assert_eq!(Value::Double(3.5).to_int(), Ok(4));
        assert_eq!(Value::Double(-2.5).to_int(), Ok(-2));
        assert_eq!(
            Value::Double(-9_223_372_036_854_775_808.0).to_int(),
            Ok(i64::MIN)
        );
        assert!(matches!(
            Value::Double(9_223_372_036_854_775_808.0).to_int(),
            Err(EvalError::DoubleToIntOverflow(_))
        ));
        assert!(Value::Double(f64::NAN).to_int().is_err());
        assert_eq!(
            Value::Double(1e32).to_int().unwrap_err().to_string(),
            "double to int overflow for 100000000000000005366162204393472.000000"
        );
        assert_eq!(
            Value::Bool(true).to_int().unwrap_err().to_string(),
            "cannot coerce boolean to int"
        );
        assert_eq!(
            Value::Double(0.0).to_bool().unwrap_err().to_string(),
            "cannot coerce double to boolean"
        );
        assert_eq!(
            Value::Null.to_double().unwrap_err().to_string(),
            "cannot coerce null to double"
        );
        assert_eq!(Value::Int(7).to_double(), Ok(7.0));
    }

    #[test]
    fn truth_and_text_forms() {
        assert!(!Value::Null.truth());
        assert!(Value::Int(-1).truth());
        assert!(!Value::Double(0.0).truth());
        assert!(Value::Double(f64::NAN).truth());
        assert_eq!(Value::Null.to_string(), "NULL");
        assert_eq!(Value::Bool(true).to_string(), "true");
        assert_eq!(Value::Int(-5).to_string(), "-5");
        assert_eq!(Value::Double(-0.5421).to_string(), "-0.5421");
        assert_eq!(Value::Null.debug_text(), "null");
        assert_eq!(Value::Double(2.0).debug_text(), "double 2");
        assert_eq!(Value::Bool(false).debug_text(), "boolean false");
    }
}
