//! Expressions: the tree the parser builds, and its evaluation against a client's variables
//! and random generator.
//!
//! Owns evaluation order and the lazy operators (`AND`, `OR`, `CASE`); the functions
//! themselves are in `func`. Trees are built only by `parse`, which guarantees every call has
//! the arguments its function takes.

use super::error::EvalError;
use super::func::{self, Func, MAX_ARGS};
use super::prng::Prng;
use super::value::Value;
use super::vars::Variables;

/// A parsed expression.
#[derive(Debug, Clone, PartialEq)]
pub struct Expr(pub(crate) Node);

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Node {
    Const(Value),
    Var(Box<str>),
    Call(Func, Box<[Node]>),
    And(Box<Node>, Box<Node>),
    Or(Box<Node>, Box<Node>),
    /// `CASE WHEN c THEN v ... ELSE e END` (a missing ELSE is NULL).
    Case(Box<[(Node, Node)]>, Box<Node>),
}

/// Evaluates an expression. `debug()` prints to standard error as pgbench does (without the
/// script and command numbers; `eval_with_debug` receives the values instead).
pub fn eval(expr: &Expr, vars: &mut Variables, rng: &mut Prng) -> Result<Value, EvalError> {
    eval_with_debug(expr, vars, rng, &mut |v| {
        eprintln!("debug: {}", v.debug_text())
    })
}

/// Evaluates an expression, handing each `debug()` argument to `on_debug`.
pub fn eval_with_debug(
    expr: &Expr,
    vars: &mut Variables,
    rng: &mut Prng,
    on_debug: &mut dyn FnMut(Value),
) -> Result<Value, EvalError> {
    Evaluator {
        vars,
        rng,
        on_debug,
    }
    .eval(&expr.0)
}

struct Evaluator<'a> {
    vars: &'a mut Variables,
    rng: &'a mut Prng,
    on_debug: &'a mut dyn FnMut(Value),
}

impl Evaluator<'_> {
    fn eval(&mut self, node: &Node) -> Result<Value, EvalError> {
        match node {
            Node::Const(v) => Ok(*v),
            Node::Var(name) => self.vars.value(name),
            Node::Call(func, args) => {
                // Every argument is evaluated, in order, before NULLs are looked at.
                let mut values = [Value::Null; MAX_ARGS];
                for (slot, arg) in values.iter_mut().zip(args.iter()) {
                    *slot = self.eval(arg)?;
                }
                let n = args.len().min(MAX_ARGS);
                func::apply(*func, &values[..n], self.rng, self.on_debug)
            }
            Node::And(l, r) => self.logic(l, r, false),
            Node::Or(l, r) => self.logic(l, r, true),
            Node::Case(whens, otherwise) => {
                for (cond, then) in whens.iter() {
                    if self.eval(cond)?.truth() {
                        return self.eval(then);
                    }
                }
                self.eval(otherwise)
            }
        }
    }

    /// `AND` (`decides` false) and `OR` (`decides` true): a NULL left side is NULL without
    /// evaluating the right side; a left side equal to `decides` is the answer.
    fn logic(&mut self, l: &Node, r: &Node, decides: bool) -> Result<Value, EvalError> {
        let left = self.eval(l)?;
        if left == Value::Null {
            return Ok(Value::Null);
        }
        if left.to_bool()? == decides {
            return Ok(Value::Bool(decides));
        }
        match self.eval(r)? {
            Value::Null => Ok(Value::Null),
            right => Ok(Value::Bool(right.to_bool()?)),
        }
    }
}

impl Expr {
    /// The names of the variables the expression reads.
    pub fn variables(&self) -> Vec<&str> {
        fn walk<'a>(n: &'a Node, out: &mut Vec<&'a str>) {
            match n {
                Node::Const(_) => {}
                Node::Var(v) => out.push(v),
                Node::Call(_, args) => args.iter().for_each(|a| walk(a, out)),
                Node::And(l, r) | Node::Or(l, r) => {
                    walk(l, out);
                    walk(r, out);
                }
                Node::Case(whens, e) => {
                    for (c, t) in whens.iter() {
                        walk(c, out);
                        walk(t, out);
                    }
                    walk(e, out);
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.0, &mut out);
        out
    }
}
