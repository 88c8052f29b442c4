//! pgbench's built-in scripts on the fast path: their statements parsed once, the variables
//! drawn into a `Draw` per transaction and sent as integers, one statement per round trip.
//! With an audit, each write transaction also inserts its unique id before COMMIT.

use rand::SeedableRng;
use rand::rngs::SmallRng;

use super::{AuditSpec, Failed, Failure};
use crate::load::ledger as audit;
use crate::load::wire::{WireConn, WireError};
use crate::load::workload::{Builtin, Draw, Protocol, Statement};

enum Step {
    Script(Statement),
    /// The audit insert: `$1` is the sequence number.
    Audit {
        sql: String,
    },
}

pub(super) struct BuiltinProgram {
    protocol: Protocol,
    steps: Vec<Step>,
    /// Prepared statement names, P0, P1, ...
    names: Vec<String>,
    text: String,
    rng: SmallRng,
    scale: i64,
    /// The draw of the transaction under way, kept for a retry.
    draw: Draw,
}

impl BuiltinProgram {
    pub(super) async fn prepare(
        conn: &mut WireConn,
        builtin: Builtin,
        protocol: Protocol,
        audit: Option<&AuditSpec>,
        seed: u64,
        scale: i64,
    ) -> Result<BuiltinProgram, WireError> {
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
        let mut rng = SmallRng::seed_from_u64(seed);
        let draw = Draw::new(&mut rng, scale);
        Ok(BuiltinProgram {
            protocol,
            steps,
            names,
            text: String::new(),
            rng,
            scale,
            draw,
        })
    }

    /// Runs one transaction: new values, or with `retry` the same as the last one's.
    pub(super) async fn run(
        &mut self,
        conn: &mut WireConn,
        retry: bool,
        seq: i64,
    ) -> Result<(), Failed> {
        if !retry {
            self.draw = Draw::new(&mut self.rng, self.scale);
        }
        let draw = self.draw;
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
                            st.render_into(&draw, &mut self.text);
                            conn.simple(&self.text).await
                        }
                        Protocol::Extended => {
                            conn.execute_unnamed(&st.positional_sql, params).await
                        }
                        Protocol::Prepared => conn.execute_prepared(&self.names[i], params).await,
                    }
                }
                Step::Audit { sql } => match self.protocol {
                    Protocol::Simple => {
                        self.text.clear();
                        self.text
                            .push_str(&sql.replace("$1", itoa::Buffer::new().format(seq)));
                        conn.simple(&self.text).await
                    }
                    Protocol::Extended => conn.execute_unnamed(sql, &[seq]).await,
                    Protocol::Prepared => conn.execute_prepared(&self.names[i], &[seq]).await,
                },
            };
            if let Err(error) = result {
                return Err(Failed {
                    failure: Failure::Sql(error),
                    at_commit: i == last,
                });
            }
        }
        Ok(())
    }
}
