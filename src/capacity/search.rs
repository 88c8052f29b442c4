//! The search itself, as a pure function of what has been measured: given the closed-loop
//! throughput that bounds it and the probes so far (a rate and whether it passed), the next
//! step. Nothing else is kept between steps, so a search read back from a results folder
//! continues where it stopped, and a report replays it to tell each probe's purpose.
//!
//! The bracket is always the lowest rate any probe failed at and the highest rate below it
//! whose probes all passed. Steps: the closed-loop cell; a probe at its throughput (the bound);
//! halving until a rate passes; bisection until the bracket is narrower than the resolution;
//! then `repeats` more runs at the passing rate. A failed verification makes that rate the
//! lowest failing one, so the search steps down to the next passing rate (bisecting again if
//! the gap allows) and verifies that. Every step either narrows the bracket, lowers the failing
//! rate, or adds a run at the passing one, so the search ends however noisy the probes are.

use serde::{Deserialize, Serialize};

/// How finely and how surely to search.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Config {
    /// The bracket is narrow enough at this percentage of the closed-loop throughput.
    pub resolution_pct: f64,
    /// Runs at the rate found, beyond the probe that found it.
    pub repeats: u32,
}

/// One rate probe: its offered rate and whether it met the objective.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Probe {
    pub rate: u32,
    pub passed: bool,
}

/// Why a probe runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    /// At the closed-loop throughput.
    Bound,
    /// Half the lowest failing rate, while nothing has passed.
    Lower,
    /// Halfway between the passing and the failing rate.
    Bisect,
    /// Another run at the rate found.
    Verify,
}

impl std::fmt::Display for Purpose {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Purpose::Bound => "bound",
            Purpose::Lower => "lower",
            Purpose::Bisect => "bisect",
            Purpose::Verify => "verify",
        })
    }
}

/// How a search ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// The highest passing rate, verified, within the resolution of a failing one.
    Found,
    /// Even the closed-loop throughput passed, verified: the clients, not the server, were the
    /// limit; more clients would find more.
    AtClosedLoop,
    /// No rate down to 1 TPS passed.
    NonePassed,
    /// The closed-loop cell completed no transaction: nothing to bound the search with.
    NoThroughput,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    pub status: Status,
    /// The rate found (the highest passing, verified).
    pub capacity: Option<u32>,
    pub highest_passing: Option<u32>,
    pub lowest_failing: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Measure the closed loop first: its throughput bounds the search.
    ClosedLoop,
    Probe {
        rate: u32,
        purpose: Purpose,
    },
    Done(Outcome),
}

/// The lowest rate any probe failed at, and the highest rate below it (all of whose probes
/// passed, as every failure is at or above the lowest).
pub fn bracket(probes: &[Probe]) -> (Option<u32>, Option<u32>) {
    let failing = probes.iter().filter(|p| !p.passed).map(|p| p.rate).min();
    let passing = probes
        .iter()
        .filter(|p| p.passed && failing.is_none_or(|f| p.rate < f))
        .map(|p| p.rate)
        .max();
    (passing, failing)
}

/// The bracket is narrow enough when the rates are this close (at least 1 TPS).
pub fn resolution(bound_tps: f64, cfg: &Config) -> u32 {
    ((cfg.resolution_pct / 100.0 * bound_tps).ceil() as u32).max(1)
}

/// The next step of the search, from the closed-loop throughput (None before it ran) and the
/// probes so far in any order.
pub fn next(bound_tps: Option<f64>, probes: &[Probe], cfg: &Config) -> Step {
    let Some(bound) = bound_tps else {
        return Step::ClosedLoop;
    };
    let top = if bound.is_finite() && bound >= 1.0 {
        bound.floor() as u32
    } else {
        return Step::Done(Outcome {
            status: Status::NoThroughput,
            capacity: None,
            highest_passing: None,
            lowest_failing: None,
        });
    };
    let step = resolution(bound, cfg);
    let (passing, failing) = bracket(probes);
    let runs_at = |rate: u32| probes.iter().filter(|p| p.rate == rate).count();
    let verified = |rate: u32, status: Status| {
        if runs_at(rate) < 1 + cfg.repeats as usize {
            Step::Probe {
                rate,
                purpose: Purpose::Verify,
            }
        } else {
            Step::Done(Outcome {
                status,
                capacity: Some(rate),
                highest_passing: Some(rate),
                lowest_failing: failing,
            })
        }
    };
    match (passing, failing) {
        (None, None) => Step::Probe {
            rate: top,
            purpose: Purpose::Bound,
        },
        (Some(p), None) if p >= top => verified(p, Status::AtClosedLoop),
        (Some(_), None) => Step::Probe {
            rate: top,
            purpose: Purpose::Bound,
        },
        (None, Some(f)) => {
            let lower = f / 2;
            if lower < 1 {
                Step::Done(Outcome {
                    status: Status::NonePassed,
                    capacity: None,
                    highest_passing: None,
                    lowest_failing: Some(f),
                })
            } else {
                Step::Probe {
                    rate: lower,
                    purpose: Purpose::Lower,
                }
            }
        }
        (Some(p), Some(f)) if f - p > step => Step::Probe {
            rate: p + (f - p) / 2,
            purpose: Purpose::Bisect,
        },
        (Some(p), Some(_)) => verified(p, Status::Found),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CFG: Config = Config {
        resolution_pct: 2.0,
        repeats: 2,
    };

    /// Runs a whole search against `measure` (rate → passed), as the runner does against a
    /// cluster; returns how it ended and every probe in order.
    fn drive(
        bound: f64,
        cfg: &Config,
        mut measure: impl FnMut(u32) -> bool,
    ) -> (Outcome, Vec<(Probe, Purpose)>) {
        let mut probes = Vec::new();
        let mut log = Vec::new();
        assert_eq!(next(None, &probes, cfg), Step::ClosedLoop);
        for _ in 0..200 {
            match next(Some(bound), &probes, cfg) {
                Step::ClosedLoop => panic!("the closed loop runs once"),
                Step::Probe { rate, purpose } => {
                    let p = Probe {
                        rate,
                        passed: measure(rate),
                    };
                    probes.push(p);
                    log.push((p, purpose));
                }
                Step::Done(outcome) => return (outcome, log),
            }
        }
        panic!("no end after 200 probes: {log:?}");
    }

    #[test]
    fn bisection_converges_on_the_capacity_within_the_resolution() {
        for capacity in [1u32, 37, 400, 733, 999] {
            let (out, log) = drive(1000.0, &CFG, |r| r <= capacity);
            let step = resolution(1000.0, &CFG);
            assert_eq!(out.status, Status::Found, "{capacity}: {log:?}");
            let found = out.capacity.unwrap();
            assert!(
                found <= capacity && capacity - found <= step,
                "{capacity}: {out:?}"
            );
            let fail = out.lowest_failing.unwrap();
            assert!(fail > capacity && fail - found <= step, "{out:?}");
            assert_eq!(out.highest_passing, Some(found));
            // The bound first, then halving, then bisection, then the verification runs.
            assert_eq!(log[0].1, Purpose::Bound);
            let verify: Vec<_> = log.iter().filter(|(_, p)| *p == Purpose::Verify).collect();
            assert_eq!(verify.len(), 2, "{log:?}");
            assert!(verify.iter().all(|(p, _)| p.rate == found && p.passed));
            assert!(
                log.len() <= 1 + 10 + 6 + 2,
                "{capacity}: {} probes",
                log.len()
            );
        }
    }

    #[test]
    fn a_failed_verification_steps_down_and_verifies_the_lower_rate() {
        // Up to 620 TPS every rate passes its first run (lucky); a second run passes only at
        // 580 and below, the true capacity.
        let mut runs = std::collections::HashMap::<u32, u32>::new();
        let (out, log) = drive(1000.0, &CFG, |r| {
            let n = runs.entry(r).or_default();
            *n += 1;
            r <= 580 || (*n == 1 && r <= 620)
        });
        let rates: Vec<(u32, bool, Purpose)> =
            log.iter().map(|(p, u)| (p.rate, p.passed, *u)).collect();
        use Purpose::*;
        assert_eq!(
            rates,
            [
                (1000, false, Bound),
                (500, true, Lower),
                (750, false, Bisect),
                (625, false, Bisect),
                (562, true, Bisect),
                (593, true, Bisect),
                (609, true, Bisect),
                // Within 20 of 625: verified, and it fails: 609 is now the lowest failing,
                (609, false, Verify),
                // so 593 is verified, and fails too,
                (593, false, Verify),
                // which leaves 562..593, wide enough to bisect once more.
                (577, true, Bisect),
                (577, true, Verify),
                (577, true, Verify),
            ]
        );
        assert_eq!(out.status, Status::Found);
        assert_eq!((out.capacity, out.lowest_failing), (Some(577), Some(593)));
    }

    /// xorshift64: reproducible noise without a dependency.
    struct Noise(u64);

    impl Noise {
        fn unit(&mut self) -> f64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 >> 11) as f64 / (1u64 << 53) as f64
        }
    }

    #[test]
    fn non_monotone_noise_still_ends_with_a_rate_that_passed_every_run() {
        // Near the true capacity (700) probes flip either way: within 10% of it, a probe
        // passes with a probability falling from 1 to 0, and one in 20 anywhere flips.
        for seed in 1..=300u64 {
            let mut noise = Noise(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
            let (out, log) = drive(1000.0, &CFG, |r| {
                let x = (f64::from(r) - 700.0) / 70.0;
                let p_pass = (0.5 - x / 2.0).clamp(0.0, 1.0);
                let mut passed = noise.unit() < p_pass;
                if noise.unit() < 0.05 {
                    passed = !passed;
                }
                passed
            });
            assert!(log.len() <= 60, "seed {seed}: {} probes", log.len());
            let probes: Vec<Probe> = log.iter().map(|(p, _)| *p).collect();
            match out.status {
                Status::Found | Status::AtClosedLoop => {
                    let c = out.capacity.unwrap();
                    let at: Vec<&Probe> = probes.iter().filter(|p| p.rate == c).collect();
                    assert!(at.len() >= 3 && at.iter().all(|p| p.passed), "seed {seed}");
                    if let Some(f) = out.lowest_failing {
                        assert!(f > c, "seed {seed}: {out:?}");
                        assert!(probes.iter().any(|p| p.rate == f && !p.passed));
                        // Nothing failed below the failing rate the search reports.
                        assert!(probes.iter().all(|p| p.passed || p.rate >= f));
                    }
                }
                Status::NonePassed => assert!(probes.iter().any(|p| p.rate == 1 && !p.passed)),
                s => panic!("seed {seed}: {s:?}"),
            }
        }
    }

    #[test]
    fn a_server_that_keeps_up_at_the_closed_loop_rate_is_bounded_by_its_clients() {
        let (out, log) = drive(812.6, &CFG, |_| true);
        assert_eq!(out.status, Status::AtClosedLoop);
        assert_eq!(out.capacity, Some(812));
        assert_eq!(out.lowest_failing, None);
        assert_eq!(log.len(), 3, "the bound and two verification runs: {log:?}");
    }

    #[test]
    fn no_passing_rate_and_no_throughput_end_the_search_without_a_capacity() {
        let (out, log) = drive(100.0, &CFG, |_| false);
        assert_eq!(out.status, Status::NonePassed);
        assert_eq!((out.capacity, out.lowest_failing), (None, Some(1)));
        let rates: Vec<u32> = log.iter().map(|(p, _)| p.rate).collect();
        assert_eq!(rates, [100, 50, 25, 12, 6, 3, 1]);
        assert!(matches!(
            next(Some(0.3), &[], &CFG),
            Step::Done(Outcome {
                status: Status::NoThroughput,
                ..
            })
        ));
    }

    #[test]
    fn without_repeats_the_probe_that_found_the_rate_is_enough() {
        let cfg = Config {
            resolution_pct: 25.0,
            repeats: 0,
        };
        let (out, log) = drive(1000.0, &cfg, |r| r <= 640);
        // 1000 fails, 500 passes, 750 fails: 250 apart is within the resolution.
        assert_eq!((out.capacity, out.lowest_failing), (Some(500), Some(750)));
        assert!(log.iter().all(|(_, p)| *p != Purpose::Verify), "{log:?}");
        assert_eq!(resolution(1000.0, &cfg), 250);
    }
}
