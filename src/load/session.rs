//! One benchmark client's connection: it prepares the script once, then runs it transaction by
//! transaction under the chosen query protocol, one statement per round trip as pgbench does.
//! With an audit, each write transaction also inserts its unique id before COMMIT.

use crate::load::ledger as audit;
use crate::load::metrics::CONNECTION_LOST;
use crate::load::wire::{ServerMessage, TxStatus, WireConn, WireError};
use crate::load::workload::{Builtin, Draw, Protocol, Statement};

/// Ids of the audited transactions of one client: (run, client, sequence).
#[derive(Debug, Clone)]
pub struct AuditSpec {
    /// Letters, digits and '-' only (it is written into SQL text).
    pub run_id: String,
    pub client: u32,
}

enum Step {
    Script(Statement),
    /// The audit insert: `$1` is the sequence number.
    Audit {
        sql: String,
    },
}

pub struct Session {
    conn: WireConn,
    protocol: Protocol,
    steps: Vec<Step>,
    /// Prepared statement names, P0, P1, ...
    names: Vec<String>,
    text: String,
    /// `SHOW synchronous_commit` after the setup: the mode this session commits under.
    synchronous_commit: String,
}

/// A transaction that committed; `warned` when the server said the wait for synchronous
/// replication was cancelled (committed locally, perhaps not replicated).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Committed {
    pub warned: bool,
}

/// A transaction that did not commit, or whose COMMIT got no answer.
#[derive(Debug)]
pub struct TxnError {
    pub error: WireError,
    /// The connection is gone; this client cannot go on with it.
    pub lost: bool,
    /// The failure came at COMMIT (the script's last statement).
    pub at_commit: bool,
    /// A synchronous replication wait was cancelled on the way.
    pub warned: bool,
}

impl TxnError {
    /// The failure class: SQLSTATE, or `connection` when the session was lost without one.
    pub fn kind(&self) -> &str {
        match self.error.code() {
            Some(code) => code,
            None => CONNECTION_LOST,
        }
    }

    /// What the audit makes of it: a lost COMMIT or a cancelled wait may have committed.
    pub fn class(&self) -> audit::TxnClass {
        let cancelled = self.warned
            || matches!(&self.error, WireError::Server(m) if audit::is_sync_rep_cancel(&m.message));
        if (self.at_commit && self.lost) || cancelled {
            audit::TxnClass::Indeterminate
        } else {
            audit::TxnClass::Failed
        }
    }
}

impl Session {
    /// Runs `setup` (for example `SET synchronous_commit`), reads the synchronous_commit the
    /// session now runs under, then prepares the script.
    pub async fn open(
        mut conn: WireConn,
        builtin: Builtin,
        protocol: Protocol,
        setup: &[String],
        audit: Option<&AuditSpec>,
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
        let mut steps: Vec<Step> = builtin
            .statements()
            .iter()
            .map(|sql| {
                Step::Script(Statement::parse(sql).expect("built-in scripts use known variables"))
            })
            .collect();
        if let Some(a) = audit.filter(|_| builtin.writes()) {
            let sql = format!(
                "INSERT INTO {} (run_id, client, seq) VALUES ('{}', {}, $1)",
                audit::TABLE,
                a.run_id,
                a.client
            );
            // Inside the transaction: just before its COMMIT (END).
            steps.insert(steps.len() - 1, Step::Audit { sql });
        }
        let names: Vec<String> = (0..steps.len()).map(|i| format!("P{i}")).collect();
        if protocol == Protocol::Prepared {
            for (name, step) in names.iter().zip(&steps) {
                let sql = match step {
                    Step::Script(st) => &st.positional_sql,
                    Step::Audit { sql } => sql,
                };
                conn.prepare(name, sql).await?;
            }
        }
        Ok(Session {
            conn,
            protocol,
            steps,
            names,
            text: String::new(),
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

    /// Runs one transaction; `seq` numbers its audit id when the session audits.
    pub async fn run_transaction(&mut self, draw: &Draw, seq: i64) -> Result<Committed, TxnError> {
        let mut params = [0i64; 4];
        let last = self.steps.len() - 1;
        for i in 0..self.steps.len() {
            let result = match &self.steps[i] {
                Step::Script(st) => {
                    for (slot, var) in params.iter_mut().zip(&st.params) {
                        *slot = draw.get(*var);
                    }
                    let params = &params[..st.params.len()];
                    match self.protocol {
                        Protocol::Simple => {
                            st.render_into(draw, &mut self.text);
                            self.conn.simple(&self.text).await
                        }
                        Protocol::Extended => {
                            self.conn.execute_unnamed(&st.positional_sql, params).await
                        }
                        Protocol::Prepared => {
                            self.conn.execute_prepared(&self.names[i], params).await
                        }
                    }
                }
                Step::Audit { sql } => match self.protocol {
                    Protocol::Simple => {
                        self.text.clear();
                        self.text
                            .push_str(&sql.replace("$1", itoa::Buffer::new().format(seq)));
                        self.conn.simple(&self.text).await
                    }
                    Protocol::Extended => self.conn.execute_unnamed(sql, &[seq]).await,
                    Protocol::Prepared => self.conn.execute_prepared(&self.names[i], &[seq]).await,
                },
            };
            if let Err(error) = result {
                let warned = self.cancelled_wait();
                if !self.conn.is_lost() && self.conn.transaction_status() != TxStatus::Idle {
                    // Leave the failed transaction block so the next one can start.
                    let _ = self.conn.simple("ROLLBACK").await;
                }
                return Err(TxnError {
                    lost: self.conn.is_lost(),
                    at_commit: i == last,
                    warned,
                    error,
                });
            }
        }
        Ok(Committed {
            warned: self.cancelled_wait(),
        })
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
