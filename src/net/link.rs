//! One direction of a link between two hosts: its policy (delay, jitter, bandwidth, loss,
//! stall, partition) and the shaper that turns the policy into a verdict per packet (drop,
//! forward now, or release at a due time). Pure arithmetic on times given by the caller: no
//! threads, no clocks read, no I/O.
//!
//! The model is a wire: a packet first waits for the link's token bucket (serialization at the
//! capped rate, with a burst of credit, tail-dropped past the queue limit, as tbf does), then
//! travels `delay` (plus jitter). Due times never go backwards on a link, so jitter never
//! reorders packets (reordering would make TCP retransmit, which is not what a slower link
//! means); with packets closer together than the jitter, the spread is skewed upwards.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::error::Error;

/// Random variation added to each packet's delay.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "distribution")]
pub enum Jitter {
    #[default]
    None,
    /// Uniform in [-plus_minus_us, +plus_minus_us].
    Uniform { plus_minus_us: u64 },
    /// Normal with standard deviation sigma_us (cut at ±4σ).
    Normal { sigma_us: u64 },
}

/// What a stalled link does with packets.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stall {
    #[default]
    No,
    /// Keep every packet until the stall ends, then deliver them in order.
    Hold,
    /// Drop every packet while stalled.
    Drop,
}

/// The policy of one direction of a link. The default is a plain wire: no delay, no cap.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Policy {
    /// One-way delay in microseconds (half the round trip of a symmetric link).
    pub delay_us: u64,
    pub jitter: Jitter,
    /// Bandwidth cap in bytes per second (none when absent).
    pub rate_bytes_per_s: Option<u64>,
    /// Credit of the token bucket in bytes (default: 10 ms at the rate, at least 16 KiB).
    pub burst_bytes: Option<u64>,
    /// Bytes that may wait for the bucket before packets are dropped (default: 100 ms at the
    /// rate, at least 64 KiB).
    pub queue_bytes: Option<u64>,
    /// Probability of dropping each packet, 0 to 1.
    pub loss: f64,
    pub stall: Stall,
}

/// Longest delay accepted: far beyond any real path, short enough to be a mistake past it.
pub const MAX_DELAY_US: u64 = 60_000_000;

impl Policy {
    /// A symmetric link's policy for one direction: half of `rtt_us`.
    pub fn with_rtt_us(rtt_us: u64) -> Policy {
        Policy {
            delay_us: rtt_us / 2,
            ..Policy::default()
        }
    }

    /// Refuses values that cannot mean anything, naming the field.
    pub fn validate(&self) -> Result<(), Error> {
        let bad = |field: &'static str, value: String, expected: &'static str| {
            Err(Error::BadPolicy {
                field,
                value,
                expected,
            })
        };
        if self.delay_us > MAX_DELAY_US {
            return bad(
                "delay_us",
                self.delay_us.to_string(),
                "at most 60 000 000 (60 s)",
            );
        }
        if !(self.loss.is_finite() && (0.0..=1.0).contains(&self.loss)) {
            return bad("loss", self.loss.to_string(), "a probability from 0 to 1");
        }
        if self.rate_bytes_per_s == Some(0) {
            return bad(
                "rate_bytes_per_s",
                "0".into(),
                "more than 0 (or absent: no cap)",
            );
        }
        if self.burst_bytes == Some(0) {
            return bad("burst_bytes", "0".into(), "more than 0 (or absent)");
        }
        match self.jitter {
            Jitter::Uniform { plus_minus_us: j } | Jitter::Normal { sigma_us: j }
                if j > MAX_DELAY_US =>
            {
                bad("jitter", j.to_string(), "at most 60 000 000 µs")
            }
            _ => Ok(()),
        }
    }

    /// True when packets may go straight through (no delay, cap, loss, stall or jitter).
    pub fn is_plain(&self) -> bool {
        self.delay_us == 0
            && self.jitter == Jitter::None
            && self.rate_bytes_per_s.is_none()
            && self.loss == 0.0
            && self.stall == Stall::No
    }

    fn burst(&self, rate: u64) -> u64 {
        self.burst_bytes.unwrap_or((rate / 100).max(16 * 1024))
    }

    fn queue_limit(&self, rate: u64) -> u64 {
        self.queue_bytes.unwrap_or((rate / 10).max(64 * 1024))
    }
}

/// What happens to one packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Deliver now.
    Now,
    /// Deliver at this time (or when the stall ends).
    At(Instant),
    Drop(DropReason),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DropReason {
    Partition,
    Loss,
    Stall,
    QueueFull,
}

/// The per-link state the policy needs between packets.
#[derive(Debug)]
pub struct Shaper {
    rng: Rng,
    /// Token bucket: the time at which the bucket's debt is paid (GCRA's theoretical arrival
    /// time); packets may leave `burst` bytes' worth of time before it.
    paid_at: Option<Instant>,
}

impl Shaper {
    pub fn new(seed: u64) -> Shaper {
        Shaper {
            rng: Rng::new(seed),
            paid_at: None,
        }
    }

    /// Forgets the bucket (after a change of rate, the new rate starts with full credit).
    pub fn reset_bucket(&mut self) {
        self.paid_at = None;
    }

    /// The verdict for a packet of `len` bytes arriving at `now` on a link with `policy`
    /// (`partitioned` is the partition table's say for this link).
    pub fn admit(
        &mut self,
        policy: &Policy,
        partitioned: bool,
        now: Instant,
        len: usize,
    ) -> Verdict {
        if partitioned {
            return Verdict::Drop(DropReason::Partition);
        }
        if policy.stall == Stall::Drop {
            return Verdict::Drop(DropReason::Stall);
        }
        if policy.loss > 0.0 && self.rng.unit() < policy.loss {
            return Verdict::Drop(DropReason::Loss);
        }
        let mut depart = now;
        if let Some(rate) = policy.rate_bytes_per_s {
            let burst = policy.burst(rate);
            let len = len as u64;
            let paid = self.paid_at.filter(|p| *p > now).unwrap_or(now);
            // Tokens now = burst − rate·(paid − now); the packet may leave once they cover it.
            let credit = Duration::from_secs_f64(burst.saturating_sub(len) as f64 / rate as f64);
            depart = paid.checked_sub(credit).filter(|d| *d > now).unwrap_or(now);
            let backlog = depart.duration_since(now);
            let limit = Duration::from_secs_f64(policy.queue_limit(rate) as f64 / rate as f64);
            if backlog > limit {
                return Verdict::Drop(DropReason::QueueFull);
            }
            self.paid_at =
                Some(paid.max(depart) + Duration::from_secs_f64(len as f64 / rate as f64));
        }
        let delay_us = policy.delay_us as f64 + self.jitter_us(policy.jitter);
        let delay = Duration::from_micros(delay_us.max(0.0) as u64);
        if delay.is_zero() && depart == now && policy.stall == Stall::No {
            Verdict::Now
        } else {
            Verdict::At(super::delay::due_after(depart, delay))
        }
    }

    fn jitter_us(&mut self, jitter: Jitter) -> f64 {
        match jitter {
            Jitter::None => 0.0,
            Jitter::Uniform { plus_minus_us: j } => (self.rng.unit() * 2.0 - 1.0) * j as f64,
            Jitter::Normal { sigma_us: s } => (self.rng.normal().clamp(-4.0, 4.0)) * s as f64,
        }
    }
}

/// A small xorshift64* generator: fast, seedable, good enough for loss and jitter draws.
#[derive(Debug)]
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        // Spread the seed (splitmix64 step) and never start at 0, xorshift's fixed point.
        let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        Rng((z ^ (z >> 31)) | 1)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Standard normal (Box–Muller).
    fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.unit();
        let u2 = self.unit();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(v: Verdict) -> Instant {
        match v {
            Verdict::At(t) => t,
            other => panic!("expected a due time, got {other:?}"),
        }
    }

    #[test]
    fn a_plain_link_forwards_at_once_and_a_delay_is_exact() {
        let mut s = Shaper::new(1);
        let now = Instant::now();
        assert_eq!(s.admit(&Policy::default(), false, now, 100), Verdict::Now);
        let p = Policy::with_rtt_us(1_000);
        assert_eq!(
            at(s.admit(&p, false, now, 100)),
            now + Duration::from_micros(500)
        );
    }

    #[test]
    fn partition_stall_and_loss_drop() {
        let mut s = Shaper::new(1);
        let now = Instant::now();
        let p = Policy::default();
        assert_eq!(
            s.admit(&p, true, now, 1),
            Verdict::Drop(DropReason::Partition)
        );
        let stall = Policy {
            stall: Stall::Drop,
            ..Policy::default()
        };
        assert_eq!(
            s.admit(&stall, false, now, 1),
            Verdict::Drop(DropReason::Stall)
        );
        let hold = Policy {
            stall: Stall::Hold,
            ..Policy::default()
        };
        assert_eq!(s.admit(&hold, false, now, 1), Verdict::At(now));
        let lossy = Policy {
            loss: 0.25,
            ..Policy::default()
        };
        let dropped = (0..40_000)
            .filter(|_| matches!(s.admit(&lossy, false, now, 1), Verdict::Drop(_)))
            .count();
        assert!(
            (9_500..10_500).contains(&dropped),
            "dropped {dropped} of 40000 at 25%"
        );
    }

    #[test]
    fn the_bucket_spends_its_burst_then_paces_at_the_rate_and_drops_past_the_queue() {
        let mut s = Shaper::new(1);
        let now = Instant::now();
        let p = Policy {
            rate_bytes_per_s: Some(1_000_000),
            burst_bytes: Some(20_000),
            queue_bytes: Some(100_000),
            ..Policy::default()
        };
        // 20 packets of 1000 bytes fit the burst (the last one leaves with 1000 bytes of
        // credit to spare exactly), the 21st waits 1 ms.
        let (mut last, mut dropped) = (now, 0);
        for i in 0..130 {
            match s.admit(&p, false, now, 1_000) {
                Verdict::Now => assert!(i < 20, "packet {i} left at once"),
                Verdict::At(t) => {
                    assert!(i >= 20, "packet {i} waited");
                    last = t;
                }
                Verdict::Drop(r) => {
                    assert_eq!(r, DropReason::QueueFull);
                    assert!(i >= 120, "packet {i} dropped");
                    dropped += 1;
                }
            }
        }
        assert_eq!(dropped, 10);
        // 100 KB of queue at 1 MB/s: the last admitted leaves 100 ms after the burst.
        let waited = last.duration_since(now);
        assert!(
            waited >= Duration::from_millis(99) && waited <= Duration::from_millis(101),
            "{waited:?}"
        );
    }

    #[test]
    fn jitter_spreads_as_asked() {
        let mut s = Shaper::new(7);
        let now = Instant::now();
        let p = Policy {
            delay_us: 10_000,
            jitter: Jitter::Uniform {
                plus_minus_us: 1_000,
            },
            ..Policy::default()
        };
        let d: Vec<i64> = (0..10_000)
            .map(|_| {
                at(s.admit(&p, false, now, 1))
                    .duration_since(now)
                    .as_micros() as i64
            })
            .collect();
        assert!(d.iter().all(|v| (9_000..=11_000).contains(v)));
        let mean = d.iter().sum::<i64>() as f64 / d.len() as f64;
        assert!((mean - 10_000.0).abs() < 30.0, "mean {mean}");
        let n = Policy {
            delay_us: 10_000,
            jitter: Jitter::Normal { sigma_us: 500 },
            ..Policy::default()
        };
        let d: Vec<f64> = (0..10_000)
            .map(|_| {
                at(s.admit(&n, false, now, 1))
                    .duration_since(now)
                    .as_micros() as f64
            })
            .collect();
        let mean = d.iter().sum::<f64>() / d.len() as f64;
        let sd = (d.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / d.len() as f64).sqrt();
        assert!(
            (mean - 10_000.0).abs() < 30.0 && (sd - 500.0).abs() < 25.0,
            "{mean} {sd}"
        );
    }

    #[test]
    fn nonsense_is_refused_by_name() {
        let p = Policy {
            loss: 1.5,
            ..Policy::default()
        };
        assert!(matches!(
            p.validate(),
            Err(Error::BadPolicy { field: "loss", .. })
        ));
        let p = Policy {
            rate_bytes_per_s: Some(0),
            ..Policy::default()
        };
        assert!(p.validate().is_err());
        assert!(Policy::with_rtt_us(2_000).validate().is_ok());
    }
}
