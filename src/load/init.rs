//! `init`: pgbench's tables, loaded with client-side COPY, then vacuumed and given primary keys,
//! so that pgbench and pgsyncbench can each run on tables the other made.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::SinkExt;
use tokio_postgres::Client;

use crate::load::workload::{ACCOUNTS_PER_SCALE, BRANCHES_PER_SCALE, TELLERS_PER_SCALE};

/// pgbench switches account ids to bigint from this scale on.
pub const BIGINT_SCALE: i64 = 20_000;

#[derive(Debug, Clone)]
pub struct InitOptions {
    pub scale: i64,
    pub fillfactor: u32,
    pub unlogged: bool,
    pub partitions: u32,
}

/// What `init` reports as it goes.
/// What loading reports as it goes; both methods do nothing unless implemented, so a silent
/// caller passes [`Silent`].
pub trait InitProgress {
    fn step(&mut self, _message: &str) {}
    fn rows(&mut self, _done: u64, _total: u64) {}
}

/// Progress nobody watches.
pub struct Silent;

impl InitProgress for Silent {}

#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error(
        "the target is read-only (a standby, or default_transaction_read_only is on): connect to the primary, for example with target_session_attrs=read-write"
    )]
    ReadOnly,
    #[error("{step} failed: {reason}")]
    Sql { step: &'static str, reason: String },
}

fn sql_err(step: &'static str) -> impl Fn(tokio_postgres::Error) -> InitError {
    move |e| InitError::Sql {
        step,
        reason: crate::pg::error::describe(&e),
    }
}

/// Seconds each phase took, for pgbench's closing line.
#[derive(Debug, Default)]
pub struct InitTimings {
    pub drop: Duration,
    pub create: Duration,
    pub generate: Duration,
    pub vacuum: Duration,
    pub keys: Duration,
}

impl InitTimings {
    pub fn total(&self) -> Duration {
        self.drop + self.create + self.generate + self.vacuum + self.keys
    }
}

pub async fn refuse_standby(client: &Client) -> Result<(), InitError> {
    let row = client
        .query_one(
            "SELECT pg_is_in_recovery() OR current_setting('transaction_read_only')::bool",
            &[],
        )
        .await
        .map_err(sql_err("checking for a standby"))?;
    if row.get::<_, bool>(0) {
        return Err(InitError::ReadOnly);
    }
    Ok(())
}

/// Loads pgbench's tables at `scale` (defaults otherwise) unless they are there at that scale
/// already; true when it loaded them.
pub async fn ensure_scale(
    client: &Client,
    dbname: &str,
    scale: i64,
    progress: &mut dyn InitProgress,
) -> Result<bool, InitError> {
    if crate::pg::server::pgbench_tables(client, dbname)
        .await
        .is_ok_and(|t| t.scale == scale)
    {
        return Ok(false);
    }
    let opts = InitOptions {
        scale,
        fillfactor: 100,
        unlogged: false,
        partitions: 0,
    };
    initialize(client, &opts, progress).await?;
    Ok(true)
}

pub async fn initialize(
    client: &Client,
    opts: &InitOptions,
    progress: &mut dyn InitProgress,
) -> Result<InitTimings, InitError> {
    refuse_standby(client).await?;
    let mut timings = InitTimings::default();

    progress.step("dropping old tables...");
    let t = Instant::now();
    client
        .batch_execute(
            "DROP TABLE IF EXISTS pgbench_accounts, pgbench_branches, pgbench_history, pgbench_tellers",
        )
        .await
        .map_err(sql_err("dropping old tables"))?;
    timings.drop = t.elapsed();

    progress.step("creating tables...");
    let t = Instant::now();
    client
        .batch_execute(&create_tables_sql(opts))
        .await
        .map_err(sql_err("creating tables"))?;
    timings.create = t.elapsed();

    progress.step("generating data (client-side)...");
    let t = Instant::now();
    generate(client, opts, progress).await?;
    timings.generate = t.elapsed();

    progress.step("vacuuming...");
    let t = Instant::now();
    for table in [
        "pgbench_branches",
        "pgbench_tellers",
        "pgbench_accounts",
        "pgbench_history",
    ] {
        client
            .batch_execute(&format!("VACUUM ANALYZE {table}"))
            .await
            .map_err(sql_err("vacuuming"))?;
    }
    timings.vacuum = t.elapsed();

    progress.step("creating primary keys...");
    let t = Instant::now();
    client
        .batch_execute(
            "ALTER TABLE pgbench_branches ADD PRIMARY KEY (bid);
             ALTER TABLE pgbench_tellers ADD PRIMARY KEY (tid);
             ALTER TABLE pgbench_accounts ADD PRIMARY KEY (aid);",
        )
        .await
        .map_err(sql_err("creating primary keys"))?;
    timings.keys = t.elapsed();
    Ok(timings)
}

/// pgbench's DDL: same columns, types and storage options.
pub fn create_tables_sql(opts: &InitOptions) -> String {
    let unlogged = if opts.unlogged { " UNLOGGED" } else { "" };
    let aid = if opts.scale >= BIGINT_SCALE {
        "bigint"
    } else {
        "int"
    };
    let ff = format!(" WITH (fillfactor={})", opts.fillfactor);
    let mut sql = String::new();
    let _ = writeln!(
        sql,
        "CREATE{unlogged} TABLE pgbench_history(tid int,bid int,aid {aid},delta int,mtime timestamp,filler char(22));"
    );
    let _ = writeln!(
        sql,
        "CREATE{unlogged} TABLE pgbench_tellers(tid int not null,bid int,tbalance int,filler char(84)){ff};"
    );
    if opts.partitions == 0 {
        let _ = writeln!(
            sql,
            "CREATE{unlogged} TABLE pgbench_accounts(aid {aid} not null,bid int,abalance int,filler char(84)){ff};"
        );
    } else {
        // A partitioned table has no storage of its own: fillfactor and UNLOGGED go on partitions.
        let _ = writeln!(
            sql,
            "CREATE TABLE pgbench_accounts(aid {aid} not null,bid int,abalance int,filler char(84)) PARTITION BY RANGE (aid);"
        );
        let accounts = ACCOUNTS_PER_SCALE * opts.scale;
        let parts = i64::from(opts.partitions);
        let size = (accounts + parts - 1) / parts;
        for p in 1..=parts {
            let from = if p == 1 {
                "MINVALUE".to_string()
            } else {
                ((p - 1) * size + 1).to_string()
            };
            let to = if p < parts {
                (p * size + 1).to_string()
            } else {
                "MAXVALUE".to_string()
            };
            let _ = writeln!(
                sql,
                "CREATE{unlogged} TABLE pgbench_accounts_{p} PARTITION OF pgbench_accounts FOR VALUES FROM ({from}) TO ({to}){ff};"
            );
        }
    }
    let _ = writeln!(
        sql,
        "CREATE{unlogged} TABLE pgbench_branches(bid int not null,bbalance int,filler char(88)){ff};"
    );
    sql
}

async fn generate(
    client: &Client,
    opts: &InitOptions,
    progress: &mut dyn InitProgress,
) -> Result<(), InitError> {
    let err = sql_err("generating data");
    client.batch_execute("BEGIN").await.map_err(&err)?;
    // Truncating in the same transaction lets COPY FREEZE skip later hint-bit writes.
    client
        .batch_execute(
            "TRUNCATE TABLE pgbench_accounts, pgbench_branches, pgbench_history, pgbench_tellers",
        )
        .await
        .map_err(&err)?;
    let freeze = if opts.partitions == 0 {
        " WITH (FREEZE ON)"
    } else {
        ""
    };

    let branches = BRANCHES_PER_SCALE * opts.scale;
    copy_rows(
        client,
        "COPY pgbench_branches FROM STDIN",
        branches,
        |i, out| {
            let _ = writeln!(out, "{i}\t0\t");
        },
        &mut |_, _| {},
    )
    .await?;
    let tellers = TELLERS_PER_SCALE * opts.scale;
    copy_rows(
        client,
        "COPY pgbench_tellers FROM STDIN",
        tellers,
        |i, out| {
            let _ = writeln!(out, "{i}\t{}\t0\t", (i - 1) / TELLERS_PER_SCALE + 1);
        },
        &mut |_, _| {},
    )
    .await?;
    let accounts = ACCOUNTS_PER_SCALE * opts.scale;
    copy_rows(
        client,
        &format!("COPY pgbench_accounts FROM STDIN{freeze}"),
        accounts,
        |i, out| {
            let _ = writeln!(out, "{i}\t{}\t0\t", (i - 1) / ACCOUNTS_PER_SCALE + 1);
        },
        &mut |done, total| progress.rows(done as u64, total as u64),
    )
    .await?;
    client.batch_execute("COMMIT").await.map_err(&err)?;
    Ok(())
}

async fn copy_rows(
    client: &Client,
    copy: &str,
    rows: i64,
    line: impl Fn(i64, &mut String),
    progress: &mut dyn FnMut(i64, i64),
) -> Result<(), InitError> {
    const CHUNK: i64 = 10_000;
    let err = sql_err("generating data");
    let sink = client.copy_in::<_, Bytes>(copy).await.map_err(&err)?;
    futures_util::pin_mut!(sink);
    let mut buf = String::with_capacity(64 * CHUNK as usize);
    let mut next = 1;
    while next <= rows {
        let last = (next + CHUNK - 1).min(rows);
        buf.clear();
        for i in next..=last {
            line(i, &mut buf);
        }
        sink.send(Bytes::copy_from_slice(buf.as_bytes()))
            .await
            .map_err(&err)?;
        progress(last, rows);
        next = last + 1;
    }
    sink.finish().await.map_err(&err)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(scale: i64, partitions: u32) -> InitOptions {
        InitOptions {
            scale,
            fillfactor: 90,
            unlogged: false,
            partitions,
        }
    }

    #[test]
    fn account_ids_become_bigint_at_scale_20000() {
        assert!(create_tables_sql(&opts(19_999, 0)).contains("pgbench_accounts(aid int not null"));
        let big = create_tables_sql(&opts(20_000, 0));
        assert!(big.contains("pgbench_accounts(aid bigint not null"));
        assert!(big.contains("pgbench_history(tid int,bid int,aid bigint"));
    }

    #[test]
    fn range_partitions_cover_every_account_once() {
        let sql = create_tables_sql(&opts(1, 3));
        assert!(sql.contains(
            "pgbench_accounts_1 PARTITION OF pgbench_accounts FOR VALUES FROM (MINVALUE) TO (33335)"
        ));
        assert!(sql.contains(
            "pgbench_accounts_2 PARTITION OF pgbench_accounts FOR VALUES FROM (33335) TO (66669)"
        ));
        assert!(sql.contains("pgbench_accounts_3 PARTITION OF pgbench_accounts FOR VALUES FROM (66669) TO (MAXVALUE) WITH (fillfactor=90)"));
        assert!(!sql.contains("PARTITION BY RANGE (aid) WITH"));
    }

    #[test]
    fn unlogged_applies_to_every_table_with_storage() {
        let sql = create_tables_sql(&InitOptions {
            unlogged: true,
            ..opts(1, 2)
        });
        assert_eq!(sql.matches("CREATE UNLOGGED TABLE").count(), 5);
        assert!(sql.contains("CREATE TABLE pgbench_accounts("));
    }
}
