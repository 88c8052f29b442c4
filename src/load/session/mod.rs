//! One benchmark client's connection and what it runs there: a built-in script on the fast
//! path (`builtin`) or pgbench script files (`script`), one transaction at a time, one
//! statement per round trip (or a pipeline) as pgbench does. The session runs its setup first
//! and reads the synchronous_commit it then runs under.
//!
//! Owns a transaction's statements and its failure's classification; never times, schedules
//! or counts transactions (the engine does).

mod builtin;
mod script;

use crate::load::ledger as audit;
use crate::load::metrics::CONNECTION_LOST;
use crate::load::script::Prng;
use crate::load::wire::{ServerMessage, TxStatus, WireConn, WireError};
use crate::load::workload::{Protocol, Workload};

use builtin::BuiltinProgram;
use script::ScriptProgram;
pub use script::ThreadChooser;

/// Ids of the audited transactions of one client: (run, client, sequence).
#[derive(Debug, Clone)]
pub struct AuditSpec {
    /// Letters, digits and '-' only (it is written into SQL text).
    pub run_id: String,
    pub client: u32,
}

/// What a client's randomness starts from.
pub struct ClientSeeds {
    /// The built-ins' draws.
    pub builtin: u64,
    /// The scripts' functions (pgbench's per-client random state).
    pub script: Prng,
    /// The script's startup variables.
    pub client_id: i64,
    pub random_seed: i64,
    pub default_seed: i64,
    /// The worker thread's choice among weighted scripts.
    pub chooser: ThreadChooser,
}

enum Program {
    Builtin(BuiltinProgram),
    Script(Box<ScriptProgram>),
}

pub struct Session {
    conn: WireConn,
    program: Program,
    /// `SHOW synchronous_commit` after the setup: the mode this session commits under.
    synchronous_commit: String,
}

/// A transaction that committed; `warned` when the server said the wait for synchronous
/// replication was cancelled (committed locally, perhaps not replicated).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Committed {
    pub warned: bool,
}

/// Why a transaction did not complete.
#[derive(Debug)]
pub enum Failure {
    /// The server refused a statement, or the connection failed.
    Sql(WireError),
    /// The script itself failed (pgbench aborts the client): an expression, `\gset` or shell
    /// error, with pgbench's message.
    Script(String),
}

/// A failed statement and where it came.
pub(crate) struct Failed {
    pub failure: Failure,
    /// The failure came at COMMIT (the script's last statement).
    pub at_commit: bool,
}

/// A transaction that did not commit, or whose COMMIT got no answer.
#[derive(Debug)]
pub struct TxnError {
    pub failure: Failure,
    /// The connection is gone; this client cannot go on with it.
    pub lost: bool,
    /// The failure came at COMMIT (the script's last statement).
    pub at_commit: bool,
    /// A synchronous replication wait was cancelled on the way.
    pub warned: bool,
}

/// Failure class of a script error, beside SQLSTATEs and `connection`.
pub const SCRIPT_ERROR: &str = "script";
/// SQLSTATEs a transaction is retried on (`--max-tries`), as pgbench retries them.
pub const SERIALIZATION_FAILURE: &str = "40001";
pub const DEADLOCK_DETECTED: &str = "40P01";

impl TxnError {
    /// The failure class: SQLSTATE, `connection` when the session was lost without one, or
    /// `script`.
    pub fn kind(&self) -> &str {
        match &self.failure {
            Failure::Sql(e) => e.code().unwrap_or(CONNECTION_LOST),
            Failure::Script(_) => SCRIPT_ERROR,
        }
    }

    /// A serialization failure or deadlock: running the transaction again may succeed.
    pub fn is_retryable(&self) -> bool {
        !self.lost && matches!(self.kind(), SERIALIZATION_FAILURE | DEADLOCK_DETECTED)
    }

    /// The client cannot go on: its connection is gone, or its script failed (pgbench
    /// aborts such a client).
    pub fn ends_client(&self) -> bool {
        self.lost || matches!(self.failure, Failure::Script(_))
    }

    /// What the audit makes of it: a lost COMMIT or a cancelled wait may have committed.
    pub fn class(&self) -> audit::TxnClass {
        let cancelled = self.warned
            || matches!(&self.failure, Failure::Sql(WireError::Server(m)) if audit::is_sync_rep_cancel(&m.message));
        if (self.at_commit && self.lost) || cancelled {
            audit::TxnClass::Indeterminate
        } else {
            audit::TxnClass::Failed
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Sql(e) => e.fmt(f),
            Failure::Script(m) => f.write_str(m),
        }
    }
}

impl Session {
    /// Runs `setup` (for example `SET synchronous_commit`), reads the synchronous_commit the
    /// session now runs under, then prepares what the workload needs.
    pub async fn open(
        mut conn: WireConn,
        workload: &Workload,
        protocol: Protocol,
        setup: &[String],
        audit: Option<&AuditSpec>,
        seeds: ClientSeeds,
    ) -> Result<Session, WireError> {
        for sql in setup {
            conn.simple(sql).await?;
        }
        // Read in the session itself: a role, database or connection setting can differ from
        // what a control session or Patroni shows.
        let synchronous_commit = conn
            .query_value("SHOW synchronous_commit")
            .await?
            .unwrap_or_default();
        let program = match workload {
            Workload::Builtin { builtin, scale } => Program::Builtin(
                BuiltinProgram::prepare(
                    &mut conn,
                    *builtin,
                    protocol,
                    audit,
                    seeds.builtin,
                    *scale,
                )
                .await?,
            ),
            Workload::Scripts(scripts) => Program::Script(Box::new(ScriptProgram::new(
                scripts.clone(),
                protocol,
                seeds,
            ))),
        };
        Ok(Session {
            conn,
            program,
            synchronous_commit,
        })
    }

    /// The synchronous_commit this session reported after its setup.
    pub fn synchronous_commit(&self) -> &str {
        &self.synchronous_commit
    }

    /// Index of the target host this session reached.
    pub fn endpoint(&self) -> usize {
        self.conn.endpoint()
    }

    /// Runs one transaction; with `retry`, the last one again with the same random values (a
    /// serialization failure or deadlock, as pgbench retries). `seq` numbers its audit id
    /// when the session audits.
    pub async fn run_transaction(&mut self, retry: bool, seq: i64) -> Result<Committed, TxnError> {
        let result = match &mut self.program {
            Program::Builtin(p) => p.run(&mut self.conn, retry, seq).await,
            Program::Script(p) => p.run(&mut self.conn, retry).await,
        };
        match result {
            Ok(()) => Ok(Committed {
                warned: self.cancelled_wait(),
            }),
            Err(Failed { failure, at_commit }) => {
                let warned = self.cancelled_wait();
                if !self.conn.is_lost() && self.conn.transaction_status() != TxStatus::Idle {
                    // Leave the failed transaction block so the next one can start.
                    let _ = self.conn.simple("ROLLBACK").await;
                }
                Err(TxnError {
                    lost: self.conn.is_lost(),
                    at_commit,
                    warned,
                    failure,
                })
            }
        }
    }

    /// Takes the notices so far and tells whether one was a cancelled synchronous
    /// replication wait.
    fn cancelled_wait(&mut self) -> bool {
        if !self.conn.has_notices() {
            return false;
        }
        self.conn
            .take_notices()
            .iter()
            .any(|n| audit::is_sync_rep_cancel(&n.message))
    }

    /// Warnings the server sent since the last call.
    pub fn take_notices(&mut self) -> Vec<ServerMessage> {
        self.conn.take_notices()
    }
}
