//! What each client was told about its audited transactions. With an audit, every write
//! transaction also inserts a unique id (run, client, sequence) into `pgsyncbench_audit` in the
//! same transaction, and the client records the answer:
//!
//! - acknowledged: COMMIT succeeded with no warning;
//! - failed: an error before COMMIT, or COMMIT refused by the server (nothing committed);
//! - indeterminate: the connection was lost during COMMIT, or the server warned that the wait
//!   for synchronous replication was cancelled (committed locally, maybe not replicated).
//!
//! Owns the record only; comparing it with the table afterwards is the scenario's audit
//! (src/scenario/audit.rs).

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

#[cfg(test)]
mod tests {
    use super::*;

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
