//! Whether one probe met the objective: its chosen latency percentile over the whole measured
//! window (from its histogram, latency counted from each transaction's scheduled start) within
//! the SLO, the server keeping up with the offered rate, nothing skipped, nothing failed, no
//! client lost.
//!
//! Keeping up: the schedule is a Poisson process, so even a server that keeps up completes a
//! count that varies by √(rate·T) around rate·T in a window of T seconds (about 2% at 1000 TPS
//! for 2 s). Achieved throughput must reach 99% of the offered rate less three of those
//! standard deviations; a server that falls behind fails the latency objective long before
//! (the backlog's wait counts in every latency).

use serde::{Deserialize, Serialize};

use crate::load::metrics::decode_histogram;
use crate::sweep::folder::CellResult;
use crate::sweep::plan::Capacity;

/// Achieved over offered throughput a probe must reach, before the Poisson allowance.
pub const KEEP_UP: f64 = 0.99;

/// Why a probe failed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Miss {
    /// The percentile was over the objective.
    OverSlo {
        latency_ms: f64,
        slo_ms: f64,
    },
    /// The server did not keep up with the offered rate.
    BehindRate {
        achieved_tps: f64,
        needed_tps: f64,
    },
    /// Transactions were already later than the objective when due (pgbench's skipped).
    Skipped {
        transactions: u64,
    },
    Failed {
        transactions: u64,
    },
    ClientsLost {
        clients: usize,
    },
    NoTransactions,
    UnreadableHistogram {
        reason: String,
    },
}

impl std::fmt::Display for Miss {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Miss::OverSlo { latency_ms, slo_ms } => {
                write!(f, "{latency_ms:.2} ms over the {slo_ms} ms objective")
            }
            Miss::BehindRate {
                achieved_tps,
                needed_tps,
            } => write!(
                f,
                "behind the rate: {achieved_tps:.1} TPS achieved, {needed_tps:.1} needed"
            ),
            Miss::Skipped { transactions } => write!(f, "{transactions} skipped"),
            Miss::Failed { transactions } => write!(f, "{transactions} failed"),
            Miss::ClientsLost { clients } => write!(f, "{clients} clients lost"),
            Miss::NoTransactions => f.write_str("no transaction completed"),
            Miss::UnreadableHistogram { reason } => {
                write!(f, "unreadable latency histogram ({reason})")
            }
        }
    }
}

/// A probe as judged.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    /// The chosen percentile's latency over the measured window, ms.
    pub latency_ms: Option<f64>,
    pub achieved_tps: f64,
    /// What keeping up required (None for a closed-loop cell).
    pub needed_tps: Option<f64>,
    pub misses: Vec<Miss>,
}

impl Verdict {
    pub fn passed(&self) -> bool {
        self.misses.is_empty()
    }
}

/// The throughput a probe at `rate` over `seconds` must reach to count as keeping up.
pub fn needed_tps(rate: f64, seconds: f64) -> f64 {
    if seconds <= 0.0 {
        return rate * KEEP_UP;
    }
    let poisson_sd = (rate * seconds).sqrt() / seconds;
    (rate * KEEP_UP - 3.0 * poisson_sd).max(0.0)
}

/// The latency at `percentile` (0–100) of a cell's measured transactions, ms.
pub fn percentile_ms(cell: &CellResult, percentile: f64) -> Result<Option<f64>, String> {
    if cell.run.summary.transactions == 0 {
        return Ok(None);
    }
    let h = decode_histogram(&cell.run.histogram.data).map_err(|e| e.to_string())?;
    Ok(Some(
        h.value_at_quantile(percentile / 100.0) as f64 / 1000.0,
    ))
}

/// Judges a cell against the objective (a closed-loop cell has no rate to keep up with).
pub fn judge(cell: &CellResult, spec: &Capacity) -> Verdict {
    let s = &cell.run.summary;
    let mut misses = Vec::new();
    let latency_ms = match percentile_ms(cell, spec.percentile) {
        Ok(v) => v,
        Err(reason) => {
            misses.push(Miss::UnreadableHistogram { reason });
            None
        }
    };
    match latency_ms {
        Some(v) if v > spec.slo_ms => misses.push(Miss::OverSlo {
            latency_ms: v,
            slo_ms: spec.slo_ms,
        }),
        Some(_) => {}
        None if s.transactions == 0 => misses.push(Miss::NoTransactions),
        None => {}
    }
    let needed = cell
        .cell
        .rate
        .map(|r| needed_tps(f64::from(r), s.measured_seconds));
    if let Some(n) = needed
        && s.tps < n
    {
        misses.push(Miss::BehindRate {
            achieved_tps: s.tps,
            needed_tps: n,
        });
    }
    if s.skipped > 0 {
        misses.push(Miss::Skipped {
            transactions: s.skipped,
        });
    }
    if s.failed > 0 {
        misses.push(Miss::Failed {
            transactions: s.failed,
        });
    }
    if s.clients_lost > 0 {
        misses.push(Miss::ClientsLost {
            clients: s.clients_lost,
        });
    }
    Verdict {
        latency_ms,
        achieved_tps: s.tps,
        needed_tps: needed,
        misses,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeping_up_allows_for_the_poisson_schedule_and_no_more() {
        // 1000 TPS for 2 s: 2000 ± 44.7 scheduled; 99% less 3 sd.
        let n = needed_tps(1000.0, 2.0);
        assert!(
            (n - (990.0 - 3.0 * 2000f64.sqrt() / 2.0)).abs() < 1e-9,
            "{n}"
        );
        assert!(n > 920.0 && n < 990.0);
        // A long window leaves little beyond the 1%.
        assert!(needed_tps(1000.0, 600.0) > 985.0);
        assert_eq!(needed_tps(100.0, 0.0), 99.0);
    }
}
