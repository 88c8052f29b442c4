//! pgbench's deterministic integer functions: `hash_fnv1a`, `hash_murmur2` (its 64-bit
//! MurmurHash2 variant over one integer) and the pseudorandom permutation `permute`.
//!
//! Results must equal pgbench's bit for bit; owns these algorithms only.

use super::prng::Prng;

const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;
const FNV_OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
const MM2_MUL: u64 = 0xc6a4_a793_5bd1_e995;
/// MM2_MUL times the key's length in bytes (8), as MurmurHash64A mixes the length in.
const MM2_MUL_TIMES_8: u64 = 0x3525_3c9a_de8f_4ca8;
const MM2_ROT: u32 = 47;

/// FNV-1a over the value's 8 bytes, least significant first, with the seed mixed into the
/// offset basis.
pub fn fnv1a(value: i64, seed: i64) -> i64 {
    let mut h = FNV_OFFSET_BASIS ^ seed as u64;
    for byte in (value as u64).to_le_bytes() {
        h ^= u64::from(byte);
        h = h.wrapping_mul(FNV_PRIME);
    }
    h as i64
}

/// MurmurHash64A of the value as a single 8-byte block.
pub fn murmur2(value: i64, seed: i64) -> i64 {
    let mut h = seed as u64 ^ MM2_MUL_TIMES_8;
    let mut k = value as u64;
    k = k.wrapping_mul(MM2_MUL);
    k ^= k >> MM2_ROT;
    k = k.wrapping_mul(MM2_MUL);
    h ^= k;
    h = h.wrapping_mul(MM2_MUL);
    h ^= h >> MM2_ROT;
    h = h.wrapping_mul(MM2_MUL);
    h ^= h >> MM2_ROT;
    h as i64
}

/// `permute(value, size, seed)`: where `value mod size` goes in a pseudorandom permutation of
/// `[0, size)` chosen by `seed`. `size` must be positive (checked by the caller); sizes below
/// 2 give 0.
///
/// Six rounds, each: an odd multiply, an xor and a one-bit rotation modulo the largest power
/// of two not above `size`, applied to the lower part of the range and then (mirrored) to the
/// upper part, then a random offset modulo `size`. The round constants come from the seeded
/// generator, in that order.
pub fn permute(value: i64, size: i64, seed: i64) -> i64 {
    if size < 2 {
        return 0;
    }
    let mut rng = Prng::from_seed(seed as u64);
    let size = size as u64;
    let mut v = (value as u64) % size;
    let bits = 63 - size.leading_zeros(); // position of the highest set bit
    let mask = (1u64 << bits) - 1;
    // Multiply by an odd number, xor, and rotate left by one within `bits` bits.
    let mix = |x: u64, m: u64, r: u64| {
        let y = (x.wrapping_mul(m) ^ r) & mask;
        ((y << 1) & mask) | (y >> (bits - 1))
    };
    for _ in 0..6 {
        let m = (rng.next_u64() & mask) | 1;
        let r = rng.next_u64() & mask;
        if v <= mask {
            v = mix(v, m, r);
        }
        let m = (rng.next_u64() & mask) | 1;
        let r = rng.next_u64() & mask;
        let t = size - 1 - v;
        if t <= mask {
            v = size - 1 - mix(t, m, r);
        }
        let offset = rng.u64_range(0, size - 1);
        v = (v + offset) % size;
    }
    v as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_match_pgbench() {
        // Printed by pgbench 15: debug(hash(1)) with --random-seed=5432 (default_seed
        // 7590783070443337668).
        assert_eq!(murmur2(1, 7590783070443337668), 475785293302047801);
        // pgbench's own regression test values.
        assert_eq!(murmur2(10, 5432), -5817877081768721676);
        assert_eq!(fnv1a(10, 5432), -7793829335365542153);
    }

    #[test]
    fn permute_matches_pgbench() {
        // pgbench's regression test: portability values near the int64 maximum.
        let size = i64::MAX - 10;
        let want = [
            520382784483822430,
            1143715004660802862,
            447293596416496998,
            916527772266572956,
            2763809008686028849,
            8648551549198294572,
            4542876852200565125,
        ];
        for (i, w) in want.iter().enumerate() {
            assert_eq!(
                permute(size - 1 - i as i64, size, 5432),
                *w,
                "size-{}",
                i + 1
            );
        }
        assert_eq!(permute(0, 2, 5431), 0);
        assert_eq!(permute(1, 2, 5431), 1);
        assert_eq!(permute(0, 2, 5433), 1);
        assert_eq!(permute(1, 2, 5433), 0);
    }

    #[test]
    fn permute_is_a_permutation() {
        for size in [1i64, 2, 3, 4, 5, 16, 17, 100, 1000] {
            for seed in [0i64, 1, -1, 5432, i64::MIN] {
                let mut seen = vec![false; size as usize];
                for v in 0..size {
                    let p = permute(v, size, seed);
                    assert!((0..size).contains(&p));
                    assert!(!seen[p as usize] || size == 1, "size {size} seed {seed}");
                    seen[p as usize] = true;
                    // Values outside the range wrap modulo size (as unsigned numbers).
                    assert_eq!(permute(v + size, size, seed), p);
                }
            }
        }
    }
}
