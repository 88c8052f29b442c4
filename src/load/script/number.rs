//! Number text as pgbench reads and prints it: the C library's `strtol`, `strtod` and `atoi`
//! rules, and PostgreSQL's `printf` for `%.15g` and `%f`.
//!
//! Owns only text <-> number rules; knows nothing of variables, expressions or scripts.

use std::fmt::{self, Write};

/// The C locale's `isspace`.
pub(crate) fn is_c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

fn trim_c_space(s: &str) -> &str {
    s.trim_start_matches(|c: char| c.is_ascii() && is_c_space(c as u8))
}

/// Why a whole string is not a number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NumberError {
    /// Not the number's syntax (or something after it).
    Syntax,
    /// The C library would set ERANGE: too large, or (doubles) too small to be normal.
    Range,
}

/// `strtoi64` on the whole string: leading C spaces and a sign allowed, nothing after the
/// digits.
pub(crate) fn parse_i64(s: &str) -> Result<i64, NumberError> {
    let t = trim_c_space(s);
    let (negative, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(NumberError::Syntax);
    }
    // Accumulate negatively so that the minimum int64 parses.
    let mut acc: i64 = 0;
    for b in digits.bytes() {
        acc = acc
            .checked_mul(10)
            .and_then(|a| a.checked_sub(i64::from(b - b'0')))
            .ok_or(NumberError::Range)?;
    }
    if negative {
        Ok(acc)
    } else {
        acc.checked_neg().ok_or(NumberError::Range)
    }
}

/// `strtod` on the whole string, with glibc's ERANGE: overflow to infinity, and results that
/// underflow to zero or to a subnormal number.
///
/// Hexadecimal floats, which glibc also reads, are not accepted.
pub(crate) fn parse_f64(s: &str) -> Result<f64, NumberError> {
    let t = trim_c_space(s);
    let unsigned = t.strip_prefix(['+', '-']).unwrap_or(t);
    let special = ["inf", "infinity", "nan"]
        .iter()
        .any(|w| unsigned.eq_ignore_ascii_case(w));
    let value: f64 = t.parse().map_err(|_| NumberError::Syntax)?;
    if special {
        return Ok(value);
    }
    // Rust reads a few spellings C does not ("1_0" is refused by both; Rust also refuses hex).
    if !unsigned
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'))
    {
        return Err(NumberError::Syntax);
    }
    if value.is_infinite() {
        return Err(NumberError::Range);
    }
    let mantissa = unsigned.split(['e', 'E']).next().unwrap_or("");
    let nonzero = mantissa.bytes().any(|b| (b'1'..=b'9').contains(&b));
    if nonzero && (value == 0.0 || value.is_subnormal()) {
        return Err(NumberError::Range);
    }
    Ok(value)
}

/// `atoi`: leading C spaces, a sign, then as many digits as there are; 0 when none.
/// Saturates where C's result would be undefined.
pub(crate) fn atoi(s: &str) -> i64 {
    let t = trim_c_space(s).as_bytes();
    let (negative, rest) = match t.first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let mut acc: i64 = 0;
    for b in rest.iter().take_while(|b| b.is_ascii_digit()) {
        acc = acc.saturating_mul(10).saturating_add(i64::from(b - b'0'));
    }
    if negative { -acc } else { acc }
}

/// `strtol` as pgbench reads a `\setshell` result: leading spaces, sign, digits, then only
/// spaces. `None` when that is not the shape of the text.
pub(crate) fn parse_long_then_spaces(s: &str) -> Option<i64> {
    let t = trim_c_space(s);
    let b = t.as_bytes();
    let sign_len = usize::from(matches!(b.first(), Some(b'+' | b'-')));
    let digits = b[sign_len..]
        .iter()
        .take_while(|c| c.is_ascii_digit())
        .count();
    if digits == 0 {
        return None;
    }
    let end = sign_len + digits;
    if !b[end..].iter().all(|&c| is_c_space(c)) {
        return None;
    }
    // strtol saturates on overflow.
    Some(match parse_i64(&t[..end]) {
        Ok(v) => v,
        Err(_) if b[0] == b'-' => i64::MIN,
        Err(_) => i64::MAX,
    })
}

/// `printf("%.15g")` as PostgreSQL's own snprintf prints it: like C, except that NaN and the
/// infinities read `NaN`, `Infinity` and `-Infinity`.
pub(crate) fn write_g15<W: Write>(out: &mut W, v: f64) -> fmt::Result {
    const PRECISION: i32 = 15;
    if v.is_nan() {
        return out.write_str("NaN");
    }
    if v.is_infinite() {
        return out.write_str(if v < 0.0 { "-Infinity" } else { "Infinity" });
    }
    if v == 0.0 {
        return out.write_str(if v.is_sign_negative() { "-0" } else { "0" });
    }
    // The exponent after rounding to 15 significant digits decides the style, as in C.
    let mut sci = String::with_capacity(32);
    write!(sci, "{:.*e}", (PRECISION - 1) as usize, v)?;
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if !(-4..PRECISION).contains(&exp) {
        out.write_str(strip_fraction_zeros(mantissa))?;
        let sign = if exp < 0 { '-' } else { '+' };
        write!(out, "e{sign}{:02}", exp.unsigned_abs())
    } else {
        let mut fixed = String::with_capacity(32);
        write!(fixed, "{:.*}", (PRECISION - 1 - exp) as usize, v)?;
        out.write_str(strip_fraction_zeros(&fixed))
    }
}

fn strip_fraction_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

/// `printf("%f")` as PostgreSQL prints it (used in pgbench's error messages).
pub(crate) fn f6(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v < 0.0 { "-Infinity" } else { "Infinity" }.into()
    } else {
        format!("{v:.6}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(v: f64) -> String {
        let mut s = String::new();
        write_g15(&mut s, v).unwrap();
        s
    }

    #[test]
    fn g15_matches_pgbench_output() {
        // Each pair was printed by pgbench 15's debug() for the same value.
        let cases: &[(f64, &str)] = &[
            (0.1 + 0.2, "0.3"),
            (0.0, "0"),
            (-0.0, "-0"),
            (f64::INFINITY, "Infinity"),
            (f64::NEG_INFINITY, "-Infinity"),
            (f64::NAN, "NaN"),
            (123456789012345678.0, "1.23456789012346e+17"),
            (1e-5, "1e-05"),
            (0.0001, "0.0001"),
            (1e15, "1e+15"),
            (1e14, "100000000000000"),
            (123456789012345.6, "123456789012346"),
            (std::f64::consts::PI, "3.14159265358979"),
            (2f64.sqrt(), "1.4142135623731"),
            (2.0, "2"),
            (-0.125, "-0.125"),
            (-0.00032, "-0.00032"),
            (8.507059173023462e37, "8.50705917302346e+37"),
            (1e30, "1e+30"),
            (-54.21e-2, "-0.5421"),
            (1e-300, "1e-300"),
            (1e300, "1e+300"),
        ];
        for (v, want) in cases {
            assert_eq!(g(*v), *want, "{v:e}");
        }
    }

    #[test]
    fn parse_i64_is_strtoi64_on_the_whole_string() {
        assert_eq!(parse_i64(" +12"), Ok(12));
        assert_eq!(parse_i64("-9223372036854775808"), Ok(i64::MIN));
        assert_eq!(parse_i64("9223372036854775807"), Ok(i64::MAX));
        assert_eq!(parse_i64("9223372036854775808"), Err(NumberError::Range));
        assert_eq!(parse_i64("-9223372036854775809"), Err(NumberError::Range));
        assert_eq!(parse_i64("+"), Err(NumberError::Syntax));
        assert_eq!(parse_i64(" "), Err(NumberError::Syntax));
        assert_eq!(parse_i64("12 "), Err(NumberError::Syntax));
        assert_eq!(parse_i64("1x"), Err(NumberError::Syntax));
    }

    #[test]
    fn parse_f64_reports_erange_like_glibc() {
        assert_eq!(parse_f64(" 1.50"), Ok(1.5));
        assert_eq!(parse_f64("-10.1"), Ok(-10.1));
        assert_eq!(parse_f64("1."), Ok(1.0));
        assert_eq!(parse_f64(".5e1"), Ok(5.0));
        assert_eq!(parse_f64("0e-400"), Ok(0.0));
        assert_eq!(parse_f64("2.2250738585072014e-308"), Ok(f64::MIN_POSITIVE));
        assert_eq!(parse_f64("1e-310"), Err(NumberError::Range));
        assert_eq!(parse_f64("1e-400"), Err(NumberError::Range));
        assert_eq!(parse_f64("1.7976931348623159e308"), Err(NumberError::Range));
        assert_eq!(parse_f64("1e"), Err(NumberError::Syntax));
        assert_eq!(parse_f64(""), Err(NumberError::Syntax));
        assert_eq!(parse_f64("1.5 "), Err(NumberError::Syntax));
        assert!(parse_f64("-Infinity").unwrap().is_infinite());
        assert!(parse_f64("nan").unwrap().is_nan());
    }

    #[test]
    fn atoi_stops_at_the_first_non_digit() {
        assert_eq!(atoi("10ms"), 10);
        assert_eq!(atoi(" -5"), -5);
        assert_eq!(atoi("1.5"), 1);
        assert_eq!(atoi("abc"), 0);
        assert_eq!(atoi("99999999999999999999999"), i64::MAX);
    }

    #[test]
    fn setshell_output_is_an_integer_then_spaces() {
        assert_eq!(parse_long_then_spaces(" 12 \n"), Some(12));
        assert_eq!(parse_long_then_spaces("-3"), Some(-3));
        assert_eq!(parse_long_then_spaces(""), None);
        assert_eq!(parse_long_then_spaces("one"), None);
        assert_eq!(parse_long_then_spaces("1 2"), None);
    }

    #[test]
    fn f6_is_printf_f() {
        assert_eq!(f6(1.0), "1.000000");
        assert_eq!(f6(1e32), "100000000000000005366162204393472.000000");
        assert_eq!(f6(f64::NAN), "NaN");
    }
}
