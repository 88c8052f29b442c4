//! Control-plane sessions — probes, samplers, checks, the audit — kept per server in a small
//! deadpool-postgres pool: a session is checked with a query before it is handed out again (so a
//! member that restarted, failed over or was cut off costs a new session, not an error), and
//! getting one is bounded in time like a connection. The pools live for the process, one per
//! distinct target. A pooled session must not change session settings (a `SET` belongs on a
//! session of its own, from `Target::connect`).
//!
//! The measured load never uses them: each benchmark client has one dedicated session for the
//! whole run (`load::wire`), as pgbench does, so what a client measures is one backend's work
//! and never a pool's waiting.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use deadpool_postgres::{Pool, PoolError, Runtime};

use crate::pg::conn::{ConnError, Target};

/// A control-plane session; it goes back to its pool when dropped.
pub type Session = deadpool_postgres::Object;

/// Sessions per server: control work needs a few at most.
const PER_SERVER: usize = 4;
/// How long a session's check before reuse may take.
const RECYCLE_TIMEOUT: Duration = Duration::from_secs(5);

fn pools() -> &'static Mutex<HashMap<String, Pool>> {
    static POOLS: OnceLock<Mutex<HashMap<String, Pool>>> = OnceLock::new();
    POOLS.get_or_init(Mutex::default)
}

/// A session on `target`'s server, from its pool.
pub async fn session(target: &Target) -> Result<Session, ConnError> {
    let pool = pool_for(target)?;
    pool.get().await.map_err(|e| match e {
        PoolError::Backend(e) => target.connect_error(&e),
        PoolError::Timeout(_) => target.no_answer_error(),
        other => ConnError::Connect {
            target: target.label(),
            reason: other.to_string(),
            hint: "",
        },
    })
}

/// A session that must not go back to the pool (its connection failed or timed out).
pub fn discard(session: Session) {
    drop(deadpool_postgres::Object::take(session));
}

fn pool_for(target: &Target) -> Result<Pool, ConnError> {
    // The label names host, port, user and database; TLS mode and time bound complete it.
    let attempt = target.attempt_timeout();
    let key = format!("{} {:?} {attempt:?}", target.label(), target.ssl_mode());
    let mut pools = pools().lock().unwrap_or_else(|p| p.into_inner());
    if let Some(p) = pools.get(&key) {
        return Ok(p.clone());
    }
    let pool = Pool::builder(target.pool_manager()?)
        .max_size(PER_SERVER)
        .runtime(Runtime::Tokio1)
        .create_timeout(Some(attempt))
        .wait_timeout(Some(attempt))
        .recycle_timeout(Some(RECYCLE_TIMEOUT))
        .build()
        .map_err(|e| ConnError::Connect {
            target: target.label(),
            reason: e.to_string(),
            hint: "",
        })?;
    pools.insert(key, pool.clone());
    Ok(pool)
}
