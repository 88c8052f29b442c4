//! pgbench's random distributions over an integer range: uniform, exponential, gaussian and
//! zipfian, with pgbench's parameter checks.
//!
//! Owns the distributions and their argument rules; draws from a `Prng` it is given.

use super::error::EvalError;
use super::prng::Prng;

const MIN_GAUSSIAN_PARAM: f64 = 2.0;
const MIN_ZIPFIAN_PARAM: f64 = 1.001;
const MAX_ZIPFIAN_PARAM: f64 = 1000.0;

/// Checks a `random*()` range as pgbench does: not empty, and `max - min + 1` fits an int64.
pub fn check_range(min: i64, max: i64) -> Result<(), EvalError> {
    if min > max {
        return Err(EvalError::EmptyRange);
    }
    max.checked_sub(min)
        .and_then(|d| d.checked_add(1))
        .map(|_| ())
        .ok_or(EvalError::RangeTooLarge)
}

/// Uniform in `[min, max]` (range already checked).
pub fn uniform(rng: &mut Prng, min: i64, max: i64) -> i64 {
    min.wrapping_add(rng.u64_range(0, max.wrapping_sub(min) as u64) as i64)
}

/// Scales `r` in `[0, 1)` onto `[min, max]` as pgbench does (truncating).
fn scale(min: i64, max: i64, r: f64) -> i64 {
    let width = max.wrapping_sub(min).wrapping_add(1) as f64;
    min.wrapping_add((width * r) as i64)
}

/// Exponential: the density at `max` is `exp(-parameter)` times that at `min`.
pub fn exponential(rng: &mut Prng, min: i64, max: i64, parameter: f64) -> Result<i64, EvalError> {
    // NaN would make pgbench's result undefined; refuse it with the same message.
    if parameter.is_nan() || parameter <= 0.0 {
        return Err(EvalError::ExponentialParameter(parameter));
    }
    let cut = (-parameter).exp();
    let uniform = 1.0 - rng.double();
    let r = -(cut + (1.0 - cut) * uniform).ln() / parameter;
    Ok(scale(min, max, r))
}

/// Gaussian: normal draws outside `[-parameter, parameter)` are redrawn, then the interval is
/// mapped onto the range.
pub fn gaussian(rng: &mut Prng, min: i64, max: i64, parameter: f64) -> Result<i64, EvalError> {
    // An infinite or NaN parameter would give pgbench an undefined result; refused here.
    if !(parameter >= MIN_GAUSSIAN_PARAM && parameter.is_finite()) {
        return Err(EvalError::GaussianParameter(parameter));
    }
    let stdev = loop {
        let z = rng.normal();
        if z >= -parameter && z < parameter {
            break z;
        }
    };
    let r = (stdev + parameter) / (parameter * 2.0);
    Ok(scale(min, max, r))
}

/// Zipfian with exponent `s` in `[1.001, 1000]`, by Devroye's rejection method.
pub fn zipfian(rng: &mut Prng, min: i64, max: i64, s: f64) -> Result<i64, EvalError> {
    if !(MIN_ZIPFIAN_PARAM..=MAX_ZIPFIAN_PARAM).contains(&s) {
        return Err(EvalError::ZipfianParameter(s));
    }
    let n = max.wrapping_sub(min).wrapping_add(1);
    Ok(min.wrapping_sub(1).wrapping_add(zipf_rank(rng, n, s)))
}

/// A rank in `[1, n]` with probability proportional to `rank^-s` (Devroye, Non-Uniform
/// Random Variate Generation, 1986, pp. 550-551).
fn zipf_rank(rng: &mut Prng, n: i64, s: f64) -> i64 {
    if n <= 1 {
        return 1;
    }
    let b = 2f64.powf(s - 1.0);
    loop {
        let u = rng.double();
        let v = rng.double();
        let x = u.powf(-1.0 / (s - 1.0)).floor();
        let t = (1.0 + 1.0 / x).powf(s - 1.0);
        if v * x * (t - 1.0) / (b - 1.0) <= t / b && x <= n as f64 {
            return x as i64;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rng() -> Prng {
        Prng::from_seed(42)
    }

    #[test]
    fn range_checks_use_pgbench_wording() {
        assert_eq!(
            check_range(5, 3).unwrap_err().to_string(),
            "empty range given to random"
        );
        assert_eq!(
            check_range(i64::MIN, i64::MAX).unwrap_err().to_string(),
            "random range is too large"
        );
        assert_eq!(check_range(0, i64::MAX - 1), Ok(()));
        assert_eq!(check_range(0, i64::MAX), Err(EvalError::RangeTooLarge));
    }

    #[test]
    fn parameters_are_checked() {
        let mut r = rng();
        assert_eq!(
            gaussian(&mut r, 0, 10, 1.0).unwrap_err().to_string(),
            "gaussian parameter must be at least 2.000000 (not 1.000000)"
        );
        assert!(gaussian(&mut r, 0, 10, f64::NAN).is_err());
        assert!(gaussian(&mut r, 0, 10, f64::INFINITY).is_err());
        assert_eq!(
            exponential(&mut r, 0, 10, 0.0).unwrap_err().to_string(),
            "exponential parameter must be greater than zero (not 0.000000)"
        );
        assert!(exponential(&mut r, 0, 10, f64::NAN).is_err());
        assert_eq!(
            zipfian(&mut r, 0, 10, 1.0).unwrap_err().to_string(),
            "zipfian parameter must be in range [1.001, 1000] (not 1.000000)"
        );
        assert!(zipfian(&mut r, 0, 10, 1000000.0).is_err());
        assert!(zipfian(&mut r, 0, 10, f64::NAN).is_err());
        assert!(zipfian(&mut r, 0, 10, 1.001).is_ok());
        assert!(zipfian(&mut r, 0, 10, 1000.0).is_ok());
    }

    /// Counts of `draw` over `[0, 9]` from many draws.
    fn histogram(mut draw: impl FnMut(&mut Prng) -> i64) -> [u32; 10] {
        let mut r = rng();
        let mut h = [0u32; 10];
        for _ in 0..100_000 {
            let v = draw(&mut r);
            assert!((0..=9).contains(&v), "{v} out of range");
            h[v as usize] += 1;
        }
        h
    }

    #[test]
    fn uniform_is_flat() {
        let h = histogram(|r| uniform(r, 0, 9));
        for c in h {
            assert!((9_400..10_600).contains(&c), "{h:?}");
        }
    }

    #[test]
    fn exponential_decays_at_its_rate() {
        // Parameter 2 over 10 buckets: each bucket holds exp(-0.2) of the previous one.
        let h = histogram(|r| exponential(r, 0, 9, 2.0).unwrap());
        let ratio = f64::from(h[5]) / f64::from(h[0]);
        assert!((ratio - (-1.0f64).exp()).abs() < 0.03, "{h:?}");
    }

    #[test]
    fn gaussian_is_a_truncated_normal() {
        // Parameter 2: bucket k holds the normal's mass over [-2 + 0.4k, -2 + 0.4(k+1)),
        // renormalized to [-2, 2). Integrate the density numerically.
        let h = histogram(|r| gaussian(r, 0, 9, 2.0).unwrap());
        let density = |z: f64| (-z * z / 2.0).exp();
        let mass = |a: f64, b: f64| {
            let steps = 1000;
            let dz = (b - a) / f64::from(steps);
            (0..steps)
                .map(|i| density(a + (f64::from(i) + 0.5) * dz) * dz)
                .sum::<f64>()
        };
        let total = mass(-2.0, 2.0);
        for (k, &count) in h.iter().enumerate() {
            let a = -2.0 + 0.4 * k as f64;
            let want = 100_000.0 * mass(a, a + 0.4) / total;
            assert!((f64::from(count) - want).abs() < 0.05 * want, "{k}: {h:?}");
        }
    }

    #[test]
    fn zipfian_follows_its_power_law() {
        let h = histogram(|r| zipfian(r, 0, 9, 1.5).unwrap());
        // P(rank 1) / P(rank 2) = 2^1.5
        let ratio = f64::from(h[0]) / f64::from(h[1]);
        assert!((ratio - 2f64.powf(1.5)).abs() < 0.15, "{h:?}");
        assert!(h.windows(2).all(|w| w[0] >= w[1]), "{h:?}");
    }
}
