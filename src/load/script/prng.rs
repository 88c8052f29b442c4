//! The pseudo-random generator pgbench 15 uses (xoroshiro128** seeded through SplitMix64),
//! and the order in which pgbench derives its generators from `--random-seed`.
//!
//! `permute()` depends on this generator bit for bit; the random functions use it so that a
//! seeded run draws the same numbers as pgbench. Owns generation only, not distributions.

/// xoroshiro128** 1.0 (Blackman and Vigna).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Prng {
    s0: u64,
    s1: u64,
}

impl Prng {
    /// Fills the state from a 64-bit seed with two SplitMix64 outputs.
    pub fn from_seed(seed: u64) -> Prng {
        let mut sm = seed;
        let s0 = splitmix64(&mut sm);
        let s1 = splitmix64(&mut sm);
        if s0 == 0 && s1 == 0 {
            // All zeros is a fixed point; any non-zero state does (pgbench uses these).
            return Prng {
                s0: 0x5851_F42D_4C95_7F2D,
                s1: 0x1405_7B7E_F767_814F,
            };
        }
        Prng { s0, s1 }
    }

    pub fn next_u64(&mut self) -> u64 {
        let s0 = self.s0;
        let sx = self.s1 ^ s0;
        let val = s0.wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        self.s0 = s0.rotate_left(24) ^ sx ^ (sx << 16);
        self.s1 = sx.rotate_left(37);
        val
    }

    /// Uniform in `[min, max]` by bitmask rejection; `min` when the range is empty.
    pub fn u64_range(&mut self, min: u64, max: u64) -> u64 {
        if max <= min {
            return min;
        }
        let range = max - min;
        let shift = range.leading_zeros();
        loop {
            let v = self.next_u64() >> shift;
            if v <= range {
                return min + v;
            }
        }
    }

    /// Uniform in `[0, 1)` with 52 random bits.
    pub fn double(&mut self) -> f64 {
        (self.next_u64() >> 12) as f64 * (1.0 / (1u64 << 52) as f64)
    }

    /// Standard normal by the basic Box-Muller transform (one output per two draws).
    pub fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.double();
        let u2 = 1.0 - self.double();
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).sin()
    }
}

fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut v = *state;
    v = (v ^ (v >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    v = (v ^ (v >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    v ^ (v >> 31)
}

/// The generators of a run, derived from `--random-seed` in pgbench's order: one per client
/// (in client order), then `default_seed`, then per thread the script-choice, throttle and
/// log-sampling generators.
#[derive(Debug, Clone)]
pub struct Seeds {
    base: Prng,
    seed: u64,
}

impl Seeds {
    pub fn new(random_seed: u64) -> Seeds {
        Seeds {
            base: Prng::from_seed(random_seed),
            seed: random_seed,
        }
    }

    /// The seed as the `:random_seed` variable holds it.
    pub fn random_seed(&self) -> i64 {
        self.seed as i64
    }

    /// The next generator derived from the base sequence.
    pub fn next_prng(&mut self) -> Prng {
        Prng::from_seed(self.base.next_u64())
    }

    /// The next raw number of the base sequence (pgbench's `default_seed` is one).
    pub fn next_u64(&mut self) -> u64 {
        self.base.next_u64()
    }

    /// The clients' generators and the `:default_seed` variable, drawn as pgbench draws them;
    /// the remaining sequence serves the threads.
    pub fn clients(&mut self, count: usize) -> (Vec<Prng>, i64) {
        let prngs = (0..count).map(|_| self.next_prng()).collect();
        (prngs, self.next_u64() as i64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix_and_xoroshiro_reference_values() {
        // SplitMix64 from seed 0 (reference output of the published algorithm).
        let mut s = 0u64;
        assert_eq!(splitmix64(&mut s), 0xE220_A839_7B1D_CDAF);
        assert_eq!(splitmix64(&mut s), 0x6E78_9E6A_A1B9_65F4);
    }

    #[test]
    fn default_seed_matches_pgbench() {
        // pgbench 15 --random-seed=5432 printed debug(:default_seed) = 7590783070443337668
        // with one client.
        let mut seeds = Seeds::new(5432);
        let (_, default_seed) = seeds.clients(1);
        assert_eq!(default_seed, 7590783070443337668);
    }

    #[test]
    fn ranges_stay_in_bounds() {
        let mut p = Prng::from_seed(1);
        for _ in 0..10_000 {
            let v = p.u64_range(10, 19);
            assert!((10..=19).contains(&v));
            let d = p.double();
            assert!((0.0..1.0).contains(&d));
        }
        assert_eq!(p.u64_range(5, 5), 5);
        assert_eq!(p.u64_range(6, 5), 6);
    }
}
