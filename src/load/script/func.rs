//! pgbench's functions and operators: which names exist, how many arguments each takes, and
//! what each computes from already evaluated arguments (NULL in, NULL out, except `IS` and
//! `debug`).
//!
//! Owns the function table and the non-lazy functions; `AND`, `OR` and `CASE` are evaluated
//! lazily in `expr`.

use super::error::EvalError;
use super::hash;
use super::prng::Prng;
use super::random;
use super::value::Value;

/// pgbench evaluates at most this many arguments of one function.
pub const MAX_ARGS: usize = 16;

/// The non-lazy functions; operators are functions too (`a > b` is `Lt(b, a)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Func {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Abs,
    Least,
    Greatest,
    Debug,
    Pi,
    Sqrt,
    Ln,
    Exp,
    Int,
    Double,
    Random,
    RandomGaussian,
    RandomExponential,
    RandomZipfian,
    Pow,
    Not,
    BitAnd,
    BitOr,
    BitXor,
    Shl,
    Shr,
    Eq,
    Ne,
    Le,
    Lt,
    Is,
    HashMurmur2,
    HashFnv1a,
    Permute,
}

/// How many arguments a function takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Arity {
    Exactly(usize),
    AtLeastOne,
    /// One, or two with a seed; `:default_seed` stands in for a missing seed.
    ValueAndSeed,
    /// Two, or three with a seed; `:default_seed` stands in for a missing seed.
    PermuteArgs,
}

/// The functions that can be called by name (case-insensitive), with pgbench's names.
const NAMED: [(&str, Func, Arity); 21] = [
    ("mod", Func::Mod, Arity::Exactly(2)),
    ("abs", Func::Abs, Arity::Exactly(1)),
    ("least", Func::Least, Arity::AtLeastOne),
    ("greatest", Func::Greatest, Arity::AtLeastOne),
    ("debug", Func::Debug, Arity::Exactly(1)),
    ("pi", Func::Pi, Arity::Exactly(0)),
    ("sqrt", Func::Sqrt, Arity::Exactly(1)),
    ("ln", Func::Ln, Arity::Exactly(1)),
    ("exp", Func::Exp, Arity::Exactly(1)),
    ("int", Func::Int, Arity::Exactly(1)),
    ("double", Func::Double, Arity::Exactly(1)),
    ("random", Func::Random, Arity::Exactly(2)),
    ("random_gaussian", Func::RandomGaussian, Arity::Exactly(3)),
    (
        "random_exponential",
        Func::RandomExponential,
        Arity::Exactly(3),
    ),
    ("random_zipfian", Func::RandomZipfian, Arity::Exactly(3)),
    ("pow", Func::Pow, Arity::Exactly(2)),
    ("power", Func::Pow, Arity::Exactly(2)),
    ("hash", Func::HashMurmur2, Arity::ValueAndSeed),
    ("hash_murmur2", Func::HashMurmur2, Arity::ValueAndSeed),
    ("hash_fnv1a", Func::HashFnv1a, Arity::ValueAndSeed),
    ("permute", Func::Permute, Arity::PermuteArgs),
];

/// A function by name: its pgbench name (for messages), the function and its arity.
pub(crate) fn lookup(name: &str) -> Option<(&'static str, Func, Arity)> {
    NAMED
        .iter()
        .find(|(n, _, _)| n.eq_ignore_ascii_case(name))
        .copied()
}

/// Applies a non-lazy function to evaluated arguments. `debug` values go to `on_debug`.
pub(crate) fn apply(
    func: Func,
    args: &[Value],
    rng: &mut Prng,
    on_debug: &mut dyn FnMut(Value),
) -> Result<Value, EvalError> {
    use Value::{Bool, Double, Int, Null};
    if func == Func::Is {
        // Same type, and for booleans the same value (pgbench compares only that much).
        return Ok(Bool(match (args[0], args[1]) {
            (Null, Null) => true,
            (Bool(a), Bool(b)) => a == b,
            _ => false,
        }));
    }
    if func == Func::Debug {
        on_debug(args[0]);
        return Ok(args[0]);
    }
    if args.contains(&Null) {
        return Ok(Null);
    }
    Ok(match func {
        Func::Add
        | Func::Sub
        | Func::Mul
        | Func::Div
        | Func::Eq
        | Func::Ne
        | Func::Le
        | Func::Lt
            if args.iter().any(|a| matches!(a, Double(_))) =>
        {
            double_op(func, args[0].to_double()?, args[1].to_double()?)
        }
        Func::Add
        | Func::Sub
        | Func::Mul
        | Func::Div
        | Func::Mod
        | Func::Eq
        | Func::Ne
        | Func::Le
        | Func::Lt => int_op(func, args[0].to_int()?, args[1].to_int()?)?,
        Func::BitAnd | Func::BitOr | Func::BitXor | Func::Shl | Func::Shr => {
            let (l, r) = (args[0].to_int()?, args[1].to_int()?);
            Int(match func {
                Func::BitAnd => l & r,
                Func::BitOr => l | r,
                Func::BitXor => l ^ r,
                // The shift count is taken modulo 64, as the x86 instructions pgbench
                // compiles to do.
                Func::Shl => l.wrapping_shl(r as u32),
                _ => l.wrapping_shr(r as u32),
            })
        }
        Func::Not => Bool(!args[0].to_bool()?),
        Func::Pi => Double(std::f64::consts::PI),
        Func::Abs => match args[0] {
            Int(i) => Int(if i < 0 { i.wrapping_neg() } else { i }),
            // `d < 0 ? -d : d`: keeps -0.0 and NaN as they are.
            Double(d) => Double(if d < 0.0 { -d } else { d }),
            other => {
                return Err(EvalError::CannotCoerce {
                    from: other.type_name(),
                    to: "double",
                });
            }
        },
        Func::Double | Func::Sqrt | Func::Ln | Func::Exp => {
            let d = args[0].to_double()?;
            Double(match func {
                Func::Sqrt => d.sqrt(),
                Func::Ln => d.ln(),
                Func::Exp => d.exp(),
                _ => d,
            })
        }
        Func::Int => Int(args[0].to_int()?),
        Func::Least | Func::Greatest => extremum(func == Func::Least, args)?,
        Func::Random | Func::RandomGaussian | Func::RandomExponential | Func::RandomZipfian => {
            let (min, max) = (args[0].to_int()?, args[1].to_int()?);
            random::check_range(min, max)?;
            Int(match func {
                Func::Random => random::uniform(rng, min, max),
                Func::RandomGaussian => random::gaussian(rng, min, max, args[2].to_double()?)?,
                Func::RandomExponential => {
                    random::exponential(rng, min, max, args[2].to_double()?)?
                }
                _ => random::zipfian(rng, min, max, args[2].to_double()?)?,
            })
        }
        Func::Pow => Double(args[0].to_double()?.powf(args[1].to_double()?)),
        Func::HashMurmur2 => Int(hash::murmur2(args[0].to_int()?, args[1].to_int()?)),
        Func::HashFnv1a => Int(hash::fnv1a(args[0].to_int()?, args[1].to_int()?)),
        Func::Permute => {
            let (v, size, seed) = (args[0].to_int()?, args[1].to_int()?, args[2].to_int()?);
            if size <= 0 {
                return Err(EvalError::PermuteSize);
            }
            Int(hash::permute(v, size, seed))
        }
        Func::Is | Func::Debug => unreachable!("handled above"),
    })
}

fn double_op(func: Func, l: f64, r: f64) -> Value {
    match func {
        Func::Add => Value::Double(l + r),
        Func::Sub => Value::Double(l - r),
        Func::Mul => Value::Double(l * r),
        Func::Div => Value::Double(l / r),
        Func::Eq => Value::Bool(l == r),
        Func::Ne => Value::Bool(l != r),
        Func::Le => Value::Bool(l <= r),
        _ => Value::Bool(l < r),
    }
}

fn int_op(func: Func, l: i64, r: i64) -> Result<Value, EvalError> {
    let checked = |v: Option<i64>, op| v.map(Value::Int).ok_or(EvalError::Overflow(op));
    match func {
        Func::Add => checked(l.checked_add(r), "add"),
        Func::Sub => checked(l.checked_sub(r), "sub"),
        Func::Mul => checked(l.checked_mul(r), "mul"),
        Func::Eq => Ok(Value::Bool(l == r)),
        Func::Ne => Ok(Value::Bool(l != r)),
        Func::Le => Ok(Value::Bool(l <= r)),
        Func::Lt => Ok(Value::Bool(l < r)),
        Func::Div | Func::Mod if r == 0 => Err(EvalError::DivisionByZero),
        // Only MIN / -1 overflows; MIN % -1 is 0.
        Func::Div => checked(l.checked_div(r), "div"),
        _ => Ok(Value::Int(l.wrapping_rem(r))),
    }
}

/// `least`/`greatest`: doubles if any argument is a double, else ints; compared as C's
/// `x < y ? x : y` (so a NaN propagates as pgbench's does).
fn extremum(least: bool, args: &[Value]) -> Result<Value, EvalError> {
    if args.iter().any(|a| matches!(a, Value::Double(_))) {
        let mut acc = args[0].to_double()?;
        for a in &args[1..] {
            let d = a.to_double()?;
            acc = if least {
                if acc < d { acc } else { d }
            } else if acc > d {
                acc
            } else {
                d
            };
        }
        Ok(Value::Double(acc))
    } else {
        let mut acc = args[0].to_int()?;
        for a in &args[1..] {
            let i = a.to_int()?;
            acc = if least { acc.min(i) } else { acc.max(i) };
        }
        Ok(Value::Int(acc))
    }
}
