//! What a run needs to know about the server before it starts: the pgbench tables and their
//! scale, the version, synchronous replication settings, and free connection slots.

use tokio_postgres::Client;

use crate::pg::error;

#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("pgbench tables not found in database \"{dbname}\": run `pgsyncbench init` first")]
    NoTables { dbname: String },
    #[error("pgbench_branches in database \"{dbname}\" is empty: run `pgsyncbench init` again")]
    EmptyTables { dbname: String },
    #[error(
        "the target is a read-only standby and {workload} writes: connect to the primary (target_session_attrs=read-write) or use -S"
    )]
    ReadOnly { workload: &'static str },
    #[error(
        "{clients} connections are needed but the server has {free} free (max_connections {max}): lower the number of clients or raise max_connections"
    )]
    TooManyClients { clients: usize, free: i64, max: i64 },
    #[error("{what}: {reason}")]
    Sql { what: &'static str, reason: String },
}

fn sql(what: &'static str) -> impl Fn(tokio_postgres::Error) -> ProbeError {
    move |e| ProbeError::Sql {
        what,
        reason: error::describe(&e),
    }
}

#[derive(Debug, Clone)]
pub struct Tables {
    pub scale: i64,
}

/// Scale from pgbench_branches' row count, as pgbench reads it.
pub async fn pgbench_tables(client: &Client, dbname: &str) -> Result<Tables, ProbeError> {
    let count = match client
        .query_one("SELECT count(*) FROM pgbench_branches", &[])
        .await
    {
        Ok(row) => row.get::<_, i64>(0),
        Err(e) if e.code().map(|c| c.code()) == Some("42P01") => {
            return Err(ProbeError::NoTables {
                dbname: dbname.to_string(),
            });
        }
        Err(e) => return Err(sql("reading the scale from pgbench_branches")(e)),
    };
    if count == 0 {
        return Err(ProbeError::EmptyTables {
            dbname: dbname.to_string(),
        });
    }
    Ok(Tables { scale: count })
}

#[derive(Debug, Clone)]
pub struct ServerFacts {
    pub version: String,
    pub in_recovery: bool,
    pub synchronous_commit: String,
    pub synchronous_standby_names: String,
    /// Null when pg_stat_replication's sync_state is hidden from this user.
    pub sync_standby_attached: Option<bool>,
    pub max_connections: i64,
    /// Connection slots left for this user (reserved slots excluded unless superuser).
    pub free_connections: i64,
}

pub async fn facts(client: &Client) -> Result<ServerFacts, ProbeError> {
    let row = client
        .query_one(
            "SELECT current_setting('server_version'),
                    pg_is_in_recovery(),
                    current_setting('synchronous_commit'),
                    current_setting('synchronous_standby_names'),
                    current_setting('max_connections')::bigint,
                    current_setting('max_connections')::bigint
                      - CASE WHEN (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)
                             THEN 0 ELSE current_setting('superuser_reserved_connections')::bigint END
                      - (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend')",
            &[],
        )
        .await
        .map_err(sql("reading server settings"))?;
    Ok(ServerFacts {
        version: row.get(0),
        in_recovery: row.get(1),
        synchronous_commit: row.get(2),
        synchronous_standby_names: row.get(3),
        sync_standby_attached: sync_standby_attached(client).await?,
        max_connections: row.get(4),
        // This probing session is one of the counted backends and goes away before the run.
        free_connections: row.get::<_, i64>(5) + 1,
    })
}

/// Whether pg_stat_replication shows a standby in sync or quorum state; None when hidden.
pub async fn sync_standby_attached(client: &Client) -> Result<Option<bool>, ProbeError> {
    let row = client
        .query_one(
            "SELECT count(*) FILTER (WHERE sync_state IN ('sync', 'quorum')),
                    count(*) FILTER (WHERE sync_state IS NULL)
             FROM pg_stat_replication",
            &[],
        )
        .await
        .map_err(sql("reading pg_stat_replication"))?;
    let (sync, hidden): (i64, i64) = (row.get(0), row.get(1));
    Ok(if sync > 0 {
        Some(true)
    } else if hidden > 0 {
        None
    } else {
        Some(false)
    })
}

impl ServerFacts {
    pub fn check_clients(&self, clients: usize) -> Result<(), ProbeError> {
        if clients as i64 > self.free_connections {
            return Err(ProbeError::TooManyClients {
                clients,
                free: self.free_connections,
                max: self.max_connections,
            });
        }
        Ok(())
    }
}
