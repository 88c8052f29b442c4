//! pgbench script files on a benchmark session: the script module walks each transaction and
//! hands back what needs the outside world (SQL, `\sleep`, `\shell`, pipelines); this file
//! does it on the connection, statement by statement, as pgbench's client does.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::{ClientSeeds, Failed, Failure};
use crate::load::script::{
    Prng, RunError, SqlCommand, Startup, Step, Store, StoreKind, Variables, assign_shell_output,
    execute_shell_blocking,
};
use crate::load::wire::{ResultSet, Statement, WireConn};
use crate::load::workload::{Protocol, Scripts};

/// The worker thread's random state for choosing among weighted scripts: pgbench keeps one
/// per thread, shared by the thread's clients.
#[derive(Debug, Clone)]
pub struct ThreadChooser(Arc<Mutex<Prng>>);

impl ThreadChooser {
    pub fn new(prng: Prng) -> ThreadChooser {
        ThreadChooser(Arc::new(Mutex::new(prng)))
    }

    fn choose(&self, scripts: &Scripts) -> usize {
        let mut prng = self.0.lock().unwrap_or_else(|p| p.into_inner());
        scripts.set.choose(&mut prng)
    }
}

pub(in crate::load::session) struct ScriptProgram {
    scripts: Arc<Scripts>,
    protocol: Protocol,
    client_id: i64,
    vars: Variables,
    prng: Prng,
    /// The random state when the transaction under way began, for a retry.
    retry_state: Prng,
    chosen: usize,
    chooser: ThreadChooser,
    /// Statements prepared on this connection (`-M prepared` prepares each on first use).
    prepared: HashSet<Box<str>>,
    text: String,
}

impl ScriptProgram {
    pub(super) fn new(scripts: Arc<Scripts>, protocol: Protocol, seeds: ClientSeeds) -> Self {
        let vars = Variables::for_client(
            &scripts.defines,
            Startup {
                client_id: seeds.client_id,
                scale: scripts.scale,
                random_seed: seeds.random_seed,
                default_seed: seeds.default_seed,
            },
        );
        ScriptProgram {
            scripts,
            protocol,
            client_id: seeds.client_id,
            vars,
            retry_state: seeds.script,
            prng: seeds.script,
            chosen: 0,
            chooser: seeds.chooser,
            prepared: HashSet::new(),
            text: String::new(),
        }
    }

    /// Runs one transaction of a chosen script; with `retry`, the same script from the same
    /// random state as the last one.
    pub(super) async fn run(&mut self, conn: &mut WireConn, retry: bool) -> Result<(), Failed> {
        if retry {
            self.prng = self.retry_state;
        } else {
            self.chosen = self.chooser.choose(&self.scripts);
            self.retry_state = self.prng;
        }
        let scripts = self.scripts.clone();
        let script = &scripts.set.scripts()[self.chosen].script;
        let mut tx = script.begin();
        let mut in_pipeline = false;
        loop {
            let step = match tx.next(&mut self.vars, &mut self.prng) {
                Ok(Some(step)) => step,
                Ok(None) => return Ok(()),
                Err(e) => return Err(self.aborted(&e)),
            };
            match step {
                Step::Sql(sql) if in_pipeline => self.queue(conn, sql).map_err(sql_failed)?,
                Step::Sql(sql) => {
                    if sql.store().is_some() {
                        conn.capture_results();
                    }
                    let sent = self.send(conn, sql).await;
                    let results = conn.take_results();
                    sent.map_err(sql_failed)?;
                    if let Some(store) = sql.store() {
                        self.store(store, &results)
                            .map_err(|m| self.script_failed(tx.command(), m))?;
                    }
                }
                Step::Sleep { micros } => {
                    tokio::time::sleep(Duration::from_micros(micros)).await;
                }
                Step::Shell(call) => {
                    let line = call.command_line.clone();
                    let capture = call.assign.is_some();
                    let ran =
                        tokio::task::spawn_blocking(move || execute_shell_blocking(&line, capture))
                            .await
                            .map_err(|e| self.script_failed(tx.command(), e.to_string()))?
                            .map_err(|e| self.script_failed(tx.command(), e.to_string()))?;
                    if let (Some(var), Some(out)) = (call.assign, ran) {
                        assign_shell_output(&mut self.vars, var, &out)
                            .map_err(|e| self.script_failed(tx.command(), e.to_string()))?;
                    }
                }
                Step::StartPipeline => {
                    in_pipeline = true;
                    if self.protocol == Protocol::Prepared {
                        // pgbench prepares the whole pipeline's statements as it enters it.
                        for sql in script.pipeline_sql(tx.command()) {
                            if self.prepared.insert(sql.statement_name().into()) {
                                conn.queue_prepare(sql.statement_name(), sql.positional_text())
                                    .map_err(sql_failed)?;
                            }
                        }
                    }
                }
                Step::EndPipeline => {
                    in_pipeline = false;
                    conn.sync().await.map_err(sql_failed)?;
                }
            }
        }
    }

    /// Sends one statement and waits for its results.
    async fn send(
        &mut self,
        conn: &mut WireConn,
        sql: &SqlCommand,
    ) -> Result<(), crate::load::wire::WireError> {
        match self.protocol {
            Protocol::Simple => {
                self.text.clear();
                sql.write_simple(&mut self.vars, &mut self.text);
                conn.simple(&self.text).await
            }
            Protocol::Extended => {
                let statement = Statement::Unnamed(sql.positional_text());
                conn.execute_text(statement, sql.params(&mut self.vars))
                    .await
            }
            Protocol::Prepared => {
                let name = sql.statement_name();
                if !self.prepared.contains(name) {
                    conn.prepare(name, sql.positional_text()).await?;
                    self.prepared.insert(name.into());
                }
                conn.execute_text(Statement::Prepared(name), sql.params(&mut self.vars))
                    .await
            }
        }
    }

    /// Buffers one statement of a pipeline (the extended or prepared protocol).
    fn queue(
        &mut self,
        conn: &mut WireConn,
        sql: &SqlCommand,
    ) -> Result<(), crate::load::wire::WireError> {
        let statement = match self.protocol {
            Protocol::Prepared => Statement::Prepared(sql.statement_name()),
            _ => Statement::Unnamed(sql.positional_text()),
        };
        conn.queue_text(statement, sql.params(&mut self.vars))
    }

    /// `\gset` takes the last result, which must have exactly one row; `\aset` takes the last
    /// row of every result that has one.
    fn store(&mut self, store: &Store, results: &[ResultSet]) -> Result<(), String> {
        let put = |vars: &mut Variables, set: &ResultSet| {
            let columns = set.columns.iter().map(String::as_str);
            let values = set.last_row.iter().map(Option::as_deref);
            store
                .store_row(vars, columns.zip(values))
                .map_err(|e| e.to_string())
        };
        match store.kind {
            StoreKind::Gset => {
                let last = results.last();
                Store::check_gset_rows(last.map_or(0, |r| r.rows)).map_err(|e| e.to_string())?;
                put(&mut self.vars, last.expect("one row was checked"))
            }
            StoreKind::Aset => {
                for set in results.iter().filter(|r| r.rows > 0) {
                    put(&mut self.vars, set)?;
                }
                Ok(())
            }
        }
    }

    fn aborted(&self, e: &RunError) -> Failed {
        self.script_failed(e.command, e.error.to_string())
    }

    /// pgbench's wording for a client its script stopped.
    fn script_failed(&self, command: usize, why: String) -> Failed {
        let script = &self.scripts.set.scripts()[self.chosen].script;
        let kind = script
            .commands()
            .get(command)
            .map_or("SQL", |c| c.kind.name());
        Failed {
            failure: Failure::Script(format!(
                "client {} aborted in command {} ({kind}) of script {}; {why}",
                self.client_id,
                command,
                script.index()
            )),
            at_commit: false,
        }
    }
}

fn sql_failed(e: crate::load::wire::WireError) -> Failed {
    Failed {
        failure: Failure::Sql(e),
        at_commit: false,
    }
}
