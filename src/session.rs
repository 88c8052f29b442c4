//! One benchmark client's connection: it prepares the script once, then runs it transaction by
//! transaction under the chosen query protocol, one statement per round trip as pgbench does.

use crate::metrics::CONNECTION_LOST;
use crate::wire::{ServerMessage, TxStatus, WireConn, WireError};
use crate::workload::{Builtin, Draw, Protocol, Statement};

pub struct Session {
    conn: WireConn,
    protocol: Protocol,
    statements: Vec<Statement>,
    /// Prepared statement names, P0, P1, ...
    names: Vec<String>,
    text: String,
}

/// A transaction that did not commit.
#[derive(Debug)]
pub struct TxnError {
    pub error: WireError,
    /// The connection is gone; this client cannot go on.
    pub lost: bool,
}

impl TxnError {
    /// The failure class: SQLSTATE, or `connection` when the session was lost without one.
    pub fn kind(&self) -> &str {
        match self.error.code() {
            Some(code) => code,
            None => CONNECTION_LOST,
        }
    }
}

impl Session {
    /// Runs `setup` (for example `SET synchronous_commit`), then prepares the script.
    pub async fn open(
        mut conn: WireConn,
        builtin: Builtin,
        protocol: Protocol,
        setup: &[String],
    ) -> Result<Session, WireError> {
        for sql in setup {
            conn.simple(sql).await?;
        }
        let statements: Vec<Statement> = builtin
            .statements()
            .iter()
            .map(|sql| Statement::parse(sql).expect("built-in scripts use known variables"))
            .collect();
        let names: Vec<String> = (0..statements.len()).map(|i| format!("P{i}")).collect();
        if protocol == Protocol::Prepared {
            for (name, st) in names.iter().zip(&statements) {
                conn.prepare(name, &st.positional_sql).await?;
            }
        }
        Ok(Session {
            conn,
            protocol,
            statements,
            names,
            text: String::new(),
        })
    }

    pub async fn run_transaction(&mut self, draw: &Draw) -> Result<(), TxnError> {
        let mut params = [0i64; 4];
        for i in 0..self.statements.len() {
            let st = &self.statements[i];
            for (slot, var) in params.iter_mut().zip(&st.params) {
                *slot = draw.get(*var);
            }
            let params = &params[..st.params.len()];
            let result = match self.protocol {
                Protocol::Simple => {
                    st.render_into(draw, &mut self.text);
                    self.conn.simple(&self.text).await
                }
                Protocol::Extended => self.conn.execute_unnamed(&st.positional_sql, params).await,
                Protocol::Prepared => self.conn.execute_prepared(&self.names[i], params).await,
            };
            if let Err(error) = result {
                if !self.conn.is_lost() && self.conn.transaction_status() != TxStatus::Idle {
                    // Leave the failed transaction block so the next one can start.
                    let _ = self.conn.simple("ROLLBACK").await;
                }
                return Err(TxnError {
                    lost: self.conn.is_lost(),
                    error,
                });
            }
        }
        Ok(())
    }

    /// Warnings the server sent since the last call (for example a cancelled synchronous
    /// replication wait).
    pub fn take_notices(&mut self) -> Vec<ServerMessage> {
        self.conn.take_notices()
    }
}
