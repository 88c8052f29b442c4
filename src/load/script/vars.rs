//! A client's variables, as pgbench keeps them: each has a text form, a value, or both, and
//! each form is made from the other only when needed (text for SQL, values for expressions).
//!
//! Owns storage, naming rules and the startup variables; knows nothing of scripts or SQL.

use std::collections::HashMap;

use super::error::EvalError;
use super::value::Value;

#[derive(Debug, Clone, Default)]
struct Var {
    value: Option<Value>,
    /// Reused between values so that setting a variable does not allocate once warm.
    text: String,
    has_text: bool,
}

/// One client's variables.
#[derive(Debug, Clone, Default)]
pub struct Variables {
    map: HashMap<String, Var>,
}

/// The variables pgbench defines for every client unless `-D` set them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Startup {
    pub client_id: i64,
    pub scale: i64,
    /// The run's `--random-seed`, as a signed integer.
    pub random_seed: i64,
    /// The seed `hash()` and `permute()` use when not given one.
    pub default_seed: i64,
}

impl Variables {
    pub fn new() -> Self {
        Self::default()
    }

    /// A client's variables at startup: the `-D` definitions, then `scale`, `client_id`,
    /// `default_seed` and `random_seed` where `-D` did not define them.
    pub fn for_client(defines: &Variables, startup: Startup) -> Variables {
        let mut vars = defines.clone();
        let startup_values = [
            ("scale", startup.scale),
            ("client_id", startup.client_id),
            ("default_seed", startup.default_seed),
            ("random_seed", startup.random_seed),
        ];
        for (name, value) in startup_values {
            if !vars.contains(name) {
                vars.map.insert(
                    name.to_string(),
                    Var {
                        value: Some(Value::Int(value)),
                        ..Var::default()
                    },
                );
            }
        }
        vars
    }

    /// pgbench's rule for names: ASCII letters, digits and `_`, or any non-ASCII character;
    /// not empty and not starting with a digit.
    pub fn is_valid_name(name: &str) -> bool {
        let mut chars = name.chars();
        let ok = |c: char| !c.is_ascii() || c.is_ascii_alphanumeric() || c == '_';
        matches!(chars.next(), Some(c) if ok(c) && !c.is_ascii_digit()) && chars.all(ok)
    }

    pub fn contains(&self, name: &str) -> bool {
        self.map.contains_key(name)
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.map.keys().map(String::as_str)
    }

    /// Sets a variable to a value. `context` names the command in the error for a bad name
    /// (`set`, `setshell`, ...); names are checked only when a variable is created.
    pub fn set(
        &mut self,
        context: &'static str,
        name: &str,
        value: Value,
    ) -> Result<(), EvalError> {
        let var = self.entry(context, name)?;
        var.value = Some(value);
        var.has_text = false;
        Ok(())
    }

    /// Sets a variable to text (`-D`, `\gset`, `\aset`); its value is worked out when an
    /// expression first reads it.
    pub fn set_text(
        &mut self,
        context: &'static str,
        name: &str,
        text: &str,
    ) -> Result<(), EvalError> {
        let var = self.entry(context, name)?;
        var.value = None;
        var.text.clear();
        var.text.push_str(text);
        var.has_text = true;
        Ok(())
    }

    fn entry(&mut self, context: &'static str, name: &str) -> Result<&mut Var, EvalError> {
        if !self.map.contains_key(name) {
            if !Self::is_valid_name(name) {
                return Err(EvalError::InvalidVariableName {
                    context,
                    name: name.to_string(),
                });
            }
            self.map.insert(name.to_string(), Var::default());
        }
        Ok(self.map.get_mut(name).expect("inserted above"))
    }

    /// A variable's value, converting its text the first time (as pgbench does).
    pub fn value(&mut self, name: &str) -> Result<Value, EvalError> {
        let var = self
            .map
            .get_mut(name)
            .ok_or_else(|| EvalError::UndefinedVariable(name.to_string()))?;
        if let Some(v) = var.value {
            return Ok(v);
        }
        let v = Value::from_text(name, &var.text)?;
        var.value = Some(v);
        Ok(v)
    }

    /// A variable's text, formatting its value the first time; `None` when undefined.
    pub fn text(&mut self, name: &str) -> Option<&str> {
        if !self.cache_text(name) {
            return None;
        }
        self.cached_text(name)
    }

    /// Makes sure a defined variable has its text form; false when undefined.
    pub(crate) fn cache_text(&mut self, name: &str) -> bool {
        let Some(var) = self.map.get_mut(name) else {
            return false;
        };
        if !var.has_text {
            var.text.clear();
            if let Some(v) = var.value {
                v.write_text(&mut var.text);
            }
            var.has_text = true;
        }
        true
    }

    /// The text form made by `cache_text` (or set as text).
    pub(crate) fn cached_text(&self, name: &str) -> Option<&str> {
        self.map
            .get(name)
            .filter(|v| v.has_text)
            .map(|v| v.text.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_pgbench() {
        for ok in ["a", "_x", "aid", "x_1", "\u{e9}t\u{e9}", "A9"] {
            assert!(Variables::is_valid_name(ok), "{ok}");
        }
        for bad in ["", "1x", "a.b", "?column?", "bad name!", "a-b"] {
            assert!(!Variables::is_valid_name(bad), "{bad}");
        }
    }

    #[test]
    fn text_and_value_forms_follow_each_other() {
        let mut v = Variables::new();
        v.set_text("option", "x", "+3").unwrap();
        // SQL sees the text as given, expressions the number.
        assert_eq!(v.text("x"), Some("+3"));
        assert_eq!(v.value("x"), Ok(Value::Int(3)));
        assert_eq!(v.text("x"), Some("+3"));
        v.set("set", "x", Value::Double(0.5)).unwrap();
        assert_eq!(v.text("x"), Some("0.5"));
        v.set("set", "x", Value::Null).unwrap();
        assert_eq!(v.text("x"), Some("NULL"));
        assert_eq!(v.text("nope"), None);
        assert_eq!(
            v.value("nope"),
            Err(EvalError::UndefinedVariable("nope".into()))
        );
    }

    #[test]
    fn bad_names_fail_only_when_created() {
        let mut v = Variables::new();
        assert_eq!(
            v.set_text("gset", "?column?", "1").unwrap_err().to_string(),
            "gset: invalid variable name: \"?column?\""
        );
        assert!(!v.contains("?column?"));
    }

    #[test]
    fn startup_variables_do_not_override_defines() {
        let mut d = Variables::new();
        d.set_text("option", "scale", "7").unwrap();
        let startup = Startup {
            client_id: 3,
            scale: 1,
            random_seed: 5432,
            default_seed: -1,
        };
        let mut v = Variables::for_client(&d, startup);
        assert_eq!(v.value("scale"), Ok(Value::Int(7)));
        assert_eq!(v.value("client_id"), Ok(Value::Int(3)));
        assert_eq!(v.value("random_seed"), Ok(Value::Int(5432)));
        assert_eq!(v.value("default_seed"), Ok(Value::Int(-1)));
    }
}
