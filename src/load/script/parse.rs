//! The grammar of pgbench's expressions, with PostgreSQL's operator precedence (as pgbench's
//! yacc grammar has it) and its rewrites: `a > b` is `b < a`, `-x` is `0 - x`, `~x` is
//! `-1 # x`, `x IS NOT NULL` is `NOT (x IS NULL)`, and a hash or permute call without a seed
//! reads `:default_seed`.
//!
//! Owns syntax and argument-count checks; produces `Expr` trees and never evaluates them.

use super::error::{Problem, SyntaxError};
use super::expr::{Expr, Node};
use super::func::{self, Arity, Func, MAX_ARGS};
use super::lex::{self, Tok, Token};
use super::source::Source;
use super::value::Value;

// Binding powers, lowest first.
const OR: u8 = 1;
const AND: u8 = 2;
const NOT: u8 = 3;
const IS: u8 = 4;
const COMPARE: u8 = 5;
const BITWISE: u8 = 6;
const ADD: u8 = 7;
const MUL: u8 = 8;
const UNARY: u8 = 9;

/// Parses the expression from `start` to the end of its line; returns it and the offset of
/// the next line. `command` (`set`, `if`, `elif`) names the command in errors.
pub(crate) fn parse_line(
    src: &Source,
    start: usize,
    command: &str,
) -> Result<(Expr, usize), SyntaxError> {
    let line = lex::tokenize(src, start, command)?;
    let mut p = Parser {
        src,
        command,
        tokens: &line.tokens,
        i: 0,
    };
    let node = p.expr(0)?;
    if p.peek() != &Tok::Eol {
        return Err(p.syntax_error());
    }
    Ok((Expr(node), line.next))
}

struct Parser<'a> {
    src: &'a Source<'a>,
    command: &'a str,
    tokens: &'a [Token],
    i: usize,
}

fn call(f: Func, args: Vec<Node>) -> Node {
    Node::Call(f, args.into_boxed_slice())
}

/// What a binary operator builds.
#[derive(Clone, Copy)]
enum Op {
    Call(Func),
    /// The function with its operands swapped (pgbench's `>` and `>=`, which therefore
    /// evaluate their right operand first).
    Swapped(Func),
    And,
    Or,
}

impl Op {
    fn build(self, l: Node, r: Node) -> Node {
        match self {
            Op::Call(f) => call(f, vec![l, r]),
            Op::Swapped(f) => call(f, vec![r, l]),
            Op::And => Node::And(Box::new(l), Box::new(r)),
            Op::Or => Node::Or(Box::new(l), Box::new(r)),
        }
    }
}

/// A binary operator's binding power and what it builds.
fn binary(tok: &Tok) -> Option<(u8, Op)> {
    Some(match tok {
        Tok::Or => (OR, Op::Or),
        Tok::And => (AND, Op::And),
        Tok::Lt => (COMPARE, Op::Call(Func::Lt)),
        Tok::Le => (COMPARE, Op::Call(Func::Le)),
        Tok::Gt => (COMPARE, Op::Swapped(Func::Lt)),
        Tok::Ge => (COMPARE, Op::Swapped(Func::Le)),
        Tok::Eq => (COMPARE, Op::Call(Func::Eq)),
        Tok::Ne => (COMPARE, Op::Call(Func::Ne)),
        Tok::Pipe => (BITWISE, Op::Call(Func::BitOr)),
        Tok::Hash => (BITWISE, Op::Call(Func::BitXor)),
        Tok::Amp => (BITWISE, Op::Call(Func::BitAnd)),
        Tok::Shl => (BITWISE, Op::Call(Func::Shl)),
        Tok::Shr => (BITWISE, Op::Call(Func::Shr)),
        Tok::Plus => (ADD, Op::Call(Func::Add)),
        Tok::Minus => (ADD, Op::Call(Func::Sub)),
        Tok::Star => (MUL, Op::Call(Func::Mul)),
        Tok::Slash => (MUL, Op::Call(Func::Div)),
        Tok::Percent => (MUL, Op::Call(Func::Mod)),
        _ => return None,
    })
}

impl Parser<'_> {
    fn peek(&self) -> &Tok {
        // The token list always ends with Eol, and the parser never passes it.
        &self.tokens[self.i.min(self.tokens.len() - 1)].tok
    }

    fn at(&self) -> usize {
        self.tokens[self.i.min(self.tokens.len() - 1)].at
    }

    fn advance(&mut self) -> Tok {
        let t = self.peek().clone();
        if self.i < self.tokens.len() - 1 {
            self.i += 1;
        }
        t
    }

    fn error_at(&self, at: usize, problem: Problem) -> SyntaxError {
        self.src.error(at, problem, Some(self.command))
    }

    fn syntax_error(&self) -> SyntaxError {
        self.error_at(self.at(), Problem::Syntax)
    }

    fn expect(&mut self, tok: Tok) -> Result<(), SyntaxError> {
        if *self.peek() == tok {
            self.advance();
            Ok(())
        } else {
            Err(self.syntax_error())
        }
    }

    /// An expression whose operators all bind tighter than `min`.
    fn expr(&mut self, min: u8) -> Result<Node, SyntaxError> {
        let mut lhs = self.prefix()?;
        loop {
            if matches!(self.peek(), Tok::Is | Tok::IsNull | Tok::NotNull) && IS > min {
                lhs = self.is_suffix(lhs)?;
                continue;
            }
            let Some((power, op)) = binary(self.peek()) else {
                break;
            };
            if power <= min {
                break;
            }
            self.advance();
            let rhs = self.expr(power)?;
            lhs = op.build(lhs, rhs);
            // Comparisons do not chain: `a < b < c` is an error.
            if power == COMPARE && binary(self.peek()).is_some_and(|(p, _)| p == COMPARE) {
                return Err(self.syntax_error());
            }
        }
        Ok(lhs)
    }

    fn is_suffix(&mut self, lhs: Node) -> Result<Node, SyntaxError> {
        let is = |l: Node, v: Value| call(Func::Is, vec![l, Node::Const(v)]);
        let not = |n: Node| call(Func::Not, vec![n]);
        Ok(match self.advance() {
            Tok::IsNull => is(lhs, Value::Null),
            Tok::NotNull => not(is(lhs, Value::Null)),
            _ => {
                let negate = *self.peek() == Tok::Not;
                if negate {
                    self.advance();
                }
                let v = match self.peek() {
                    Tok::Null => Value::Null,
                    Tok::Bool(b) => Value::Bool(*b),
                    _ => return Err(self.syntax_error()),
                };
                self.advance();
                if negate { not(is(lhs, v)) } else { is(lhs, v) }
            }
        })
    }

    fn prefix(&mut self) -> Result<Node, SyntaxError> {
        let at = self.at();
        Ok(match self.advance() {
            Tok::LParen => {
                let inner = self.expr(0)?;
                self.expect(Tok::RParen)?;
                inner
            }
            Tok::Plus => self.expr(UNARY)?,
            Tok::Minus if *self.peek() == Tok::MaxIntPlusOne => {
                self.advance();
                Node::Const(Value::Int(i64::MIN))
            }
            Tok::Minus => {
                let operand = self.expr(UNARY)?;
                call(Func::Sub, vec![Node::Const(Value::Int(0)), operand])
            }
            Tok::Tilde => {
                let operand = self.expr(BITWISE)?;
                call(Func::BitXor, vec![Node::Const(Value::Int(-1)), operand])
            }
            Tok::Not => call(Func::Not, vec![self.expr(NOT)?]),
            Tok::Null => Node::Const(Value::Null),
            Tok::Bool(b) => Node::Const(Value::Bool(b)),
            Tok::Int(i) => Node::Const(Value::Int(i)),
            Tok::Double(d) => Node::Const(Value::Double(d)),
            Tok::Var(name) => Node::Var(name.into_boxed_str()),
            Tok::Ident(name) => self.function(&name, at)?,
            Tok::Case => self.case()?,
            _ => return Err(self.error_at(at, Problem::Syntax)),
        })
    }

    fn function(&mut self, name: &str, at: usize) -> Result<Node, SyntaxError> {
        let Some((fname, func, arity)) = func::lookup(name) else {
            return Err(self.error_at(at, Problem::UnknownFunction(name.to_string())));
        };
        self.expect(Tok::LParen)?;
        let mut args = Vec::new();
        if *self.peek() != Tok::RParen {
            // pgbench's grammar also takes one comma before the first argument.
            if *self.peek() == Tok::Comma {
                self.advance();
            }
            args.push(self.expr(0)?);
            while *self.peek() == Tok::Comma {
                self.advance();
                args.push(self.expr(0)?);
            }
        }
        self.expect(Tok::RParen)?;
        let n = args.len();
        let ok = match arity {
            Arity::Exactly(k) => n == k,
            Arity::AtLeastOne => {
                if n == 0 {
                    return Err(self.error_at(at, Problem::AtLeastOneArgument(fname)));
                }
                true
            }
            Arity::ValueAndSeed => (1..=2).contains(&n),
            Arity::PermuteArgs => (2..=3).contains(&n),
        };
        if !ok {
            return Err(self.error_at(at, Problem::ArgumentCount(fname)));
        }
        if n > MAX_ARGS {
            // pgbench fails at run time; no such call can ever succeed, so refuse it now.
            return Err(self.error_at(at, Problem::TooManyFunctionArguments(MAX_ARGS)));
        }
        if matches!(arity, Arity::ValueAndSeed if n == 1)
            || matches!(arity, Arity::PermuteArgs if n == 2)
        {
            args.push(Node::Var("default_seed".into()));
        }
        Ok(call(func, args))
    }

    fn case(&mut self) -> Result<Node, SyntaxError> {
        let mut whens = Vec::new();
        loop {
            self.expect(Tok::When)?;
            let cond = self.expr(0)?;
            self.expect(Tok::Then)?;
            whens.push((cond, self.expr(0)?));
            if *self.peek() != Tok::When {
                break;
            }
        }
        let otherwise = if *self.peek() == Tok::Else {
            self.advance();
            self.expr(0)?
        } else {
            Node::Const(Value::Null)
        };
        self.expect(Tok::End)?;
        Ok(Node::Case(whens.into_boxed_slice(), Box::new(otherwise)))
    }
}
