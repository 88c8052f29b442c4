//! The durability audit's verdict: what the clients were told (src/load/ledger.rs) against the
//! ids present on the leader after the scenario.
//!
//! lost = acknowledged − present, unexpected = present − attempted, recovered = indeterminate ∩
//! present. A durable setup loses nothing it acknowledged.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use crate::load::ledger::{Ledger, TxnClass};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditCounts {
    pub attempted: u64,
    pub acknowledged: u64,
    pub failed: u64,
    pub indeterminate: u64,
    /// Acknowledged but absent after the scenario: the commits a failover lost.
    pub lost: u64,
    /// Present but never attempted by this run (should never happen).
    pub unexpected: u64,
    /// Indeterminate and present: committed after all.
    pub recovered: u64,
    /// Reported failed yet present (should never happen: an error before COMMIT commits nothing).
    pub failed_but_present: u64,
    /// This run's ids found on the leader afterwards: the raw count every class above is
    /// reconciled against. None in results written before it was recorded.
    #[serde(default)]
    pub present: Option<u64>,
}

/// Compares what the clients were told with the ids present on the leader.
pub fn reconcile(ledgers: &[Ledger], present: &[(u32, i64)]) -> AuditCounts {
    let present: HashSet<(u32, i64)> = present.iter().copied().collect();
    let mut c = AuditCounts {
        present: Some(present.len() as u64),
        ..AuditCounts::default()
    };
    let mut attempted = HashSet::new();
    for ledger in ledgers {
        for (i, class) in ledger.outcomes.iter().enumerate() {
            let id = (ledger.client, i as i64 + 1);
            attempted.insert(id);
            c.attempted += 1;
            let here = present.contains(&id);
            match class {
                TxnClass::Acknowledged => {
                    c.acknowledged += 1;
                    if !here {
                        c.lost += 1;
                    }
                }
                TxnClass::Failed => {
                    c.failed += 1;
                    if here {
                        c.failed_but_present += 1;
                    }
                }
                TxnClass::Indeterminate => {
                    c.indeterminate += 1;
                    if here {
                        c.recovered += 1;
                    }
                }
            }
        }
    }
    c.unexpected = present.iter().filter(|id| !attempted.contains(id)).count() as u64;
    c
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::ledger::Ledger;
    use TxnClass::*;

    fn ledger(client: u32, outcomes: &[TxnClass]) -> Ledger {
        Ledger {
            client,
            outcomes: outcomes.to_vec(),
            commits: Vec::new(),
        }
    }

    #[test]
    fn lost_unexpected_and_recovered_follow_their_definitions() {
        let ledgers = [
            ledger(
                1,
                &[
                    Acknowledged,
                    Acknowledged,
                    Failed,
                    Indeterminate,
                    Indeterminate,
                ],
            ),
            ledger(2, &[Acknowledged]),
        ];
        // client 1: seq 2 acknowledged but missing; seq 4 indeterminate and present; seq 5 absent
        // client 2: seq 1 present; (3, 1) was never attempted
        let present = [(1, 1), (1, 4), (2, 1), (3, 1)];
        let c = reconcile(&ledgers, &present);
        assert_eq!(
            c,
            AuditCounts {
                attempted: 6,
                acknowledged: 3,
                failed: 1,
                indeterminate: 2,
                lost: 1,
                unexpected: 1,
                recovered: 1,
                failed_but_present: 0,
                present: Some(4),
            }
        );
    }

    #[test]
    fn a_failed_transaction_that_is_present_is_flagged() {
        let c = reconcile(&[ledger(7, &[Failed])], &[(7, 1)]);
        assert_eq!(c.failed_but_present, 1);
        assert_eq!(c.unexpected, 0);
    }
}
