//! The durability audit: every write transaction also inserts a unique id (run, client,
//! sequence) into `pgsyncbench_audit` in the same transaction; each client records what it was
//! told about each id; afterwards the table on the current leader is compared with the record.
//!
//! - acknowledged: COMMIT succeeded with no warning;
//! - failed: an error before COMMIT, or COMMIT refused by the server (nothing committed);
//! - indeterminate: the connection was lost during COMMIT, or the server warned that the wait
//!   for synchronous replication was cancelled (committed locally, maybe not replicated).
//!
//! lost = acknowledged − present, unexpected = present − attempted, recovered = indeterminate ∩
//! present. A durable setup loses nothing it acknowledged.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

pub const TABLE: &str = "pgsyncbench_audit";

pub const CREATE_TABLE: &str = "CREATE TABLE IF NOT EXISTS pgsyncbench_audit (
    run_id text NOT NULL, client int NOT NULL, seq bigint NOT NULL,
    PRIMARY KEY (run_id, client, seq))";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TxnClass {
    Acknowledged,
    Failed,
    Indeterminate,
}

/// Whether a server message says a synchronous replication wait was cut short after the
/// transaction committed locally.
pub fn is_sync_rep_cancel(message: &str) -> bool {
    message.contains("wait for synchronous replication") || message.contains("committed locally")
}

/// One acknowledged commit: when (seconds since the load started) and on which target host.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Commit {
    pub at: f64,
    pub endpoint: usize,
}

/// What one client was told about each of its audited transactions.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Ledger {
    pub client: u32,
    /// Outcome of sequence number i + 1.
    pub outcomes: Vec<TxnClass>,
    pub commits: Vec<Commit>,
}

impl Ledger {
    pub fn new(client: u32) -> Ledger {
        Ledger {
            client,
            ..Ledger::default()
        }
    }

    /// The next sequence number to use.
    pub fn next_seq(&self) -> i64 {
        self.outcomes.len() as i64 + 1
    }
}

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

    #[test]
    fn sync_rep_cancellation_warnings_are_recognized() {
        assert!(is_sync_rep_cancel(
            "canceling wait for synchronous replication due to user request"
        ));
        assert!(is_sync_rep_cancel(
            "canceling the wait for synchronous replication and terminating connection due to administrator command"
        ));
        assert!(!is_sync_rep_cancel("there is no transaction in progress"));
    }
}
