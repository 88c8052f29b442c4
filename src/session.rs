//! One benchmark client's connection: it prepares the script once, then runs it transaction by
//! transaction under the chosen query protocol, exactly one statement per round trip.

use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Client, Statement as Prepared};

use crate::workload::{Builtin, Draw, Int, Protocol, Statement, Var};

/// How one statement is sent.
enum Step {
    /// Simple protocol: values written into the text.
    Simple(Statement),
    /// Extended protocol, unnamed statement: Parse/Bind/Execute/Sync in one round trip.
    Extended(Statement, Vec<Type>),
    /// Prepared once, then Bind/Execute/Sync.
    Prepared(Statement, Prepared),
}

pub struct Session {
    client: Client,
    steps: Vec<Step>,
    /// Whether the script opens a transaction block that a failure must roll back.
    explicit_transaction: bool,
    text: String,
}

/// What a failed transaction left behind.
pub struct TxnError {
    pub error: tokio_postgres::Error,
    /// The connection is gone; this client cannot go on.
    pub lost: bool,
}

impl Session {
    /// Runs `setup` (for example `SET synchronous_commit`), then prepares the script.
    pub async fn open(
        client: Client,
        builtin: Builtin,
        protocol: Protocol,
        aid_type: &Type,
        setup: &[String],
    ) -> Result<Session, tokio_postgres::Error> {
        for sql in setup {
            client.batch_execute(sql).await?;
        }
        let mut steps = Vec::new();
        for sql in builtin.statements() {
            let st = Statement::parse(sql).expect("built-in scripts use known variables");
            steps.push(match protocol {
                Protocol::Simple => Step::Simple(st),
                Protocol::Extended => {
                    let types = st
                        .params
                        .iter()
                        .map(|v| match v {
                            Var::Aid => aid_type.clone(),
                            _ => Type::INT4,
                        })
                        .collect();
                    Step::Extended(st, types)
                }
                Protocol::Prepared => {
                    let prepared = client.prepare(&st.positional_sql).await?;
                    Step::Prepared(st, prepared)
                }
            });
        }
        Ok(Session {
            client,
            steps,
            explicit_transaction: builtin.statements().first() == Some(&"BEGIN;"),
            text: String::new(),
        })
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub async fn run_transaction(&mut self, draw: &Draw) -> Result<(), TxnError> {
        let vals = [Int(draw.aid), Int(draw.bid), Int(draw.tid), Int(draw.delta)];
        let value = |v: &Var| -> &(dyn ToSql + Sync) {
            &vals[match v {
                Var::Aid => 0,
                Var::Bid => 1,
                Var::Tid => 2,
                Var::Delta => 3,
            }]
        };
        for i in 0..self.steps.len() {
            let result = match &self.steps[i] {
                Step::Simple(st) => {
                    st.render_into(draw, &mut self.text);
                    self.client.batch_execute(&self.text).await
                }
                Step::Extended(st, types) => {
                    let mut params: [(&(dyn ToSql + Sync), Type); 4] =
                        std::array::from_fn(|_| (&vals[0] as _, Type::INT4));
                    for (slot, (var, ty)) in params.iter_mut().zip(st.params.iter().zip(types)) {
                        *slot = (value(var), ty.clone());
                    }
                    self.client
                        .execute_typed(&st.positional_sql, &params[..st.params.len()])
                        .await
                        .map(drop)
                }
                Step::Prepared(st, prepared) => {
                    let mut params: [&(dyn ToSql + Sync); 4] = [&vals[0]; 4];
                    for (slot, var) in params.iter_mut().zip(&st.params) {
                        *slot = value(var);
                    }
                    self.client
                        .execute(prepared, &params[..st.params.len()])
                        .await
                        .map(drop)
                }
            };
            if let Err(error) = result {
                let lost = self.client.is_closed();
                if !lost && self.explicit_transaction && i > 0 {
                    // Leave the failed transaction block so the next one can start.
                    let _ = self.client.batch_execute("ROLLBACK").await;
                }
                return Err(TxnError {
                    lost: lost || self.client.is_closed(),
                    error,
                });
            }
        }
        Ok(())
    }
}
