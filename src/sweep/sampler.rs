//! Samples taken on the leader beside the load: replication lag per standby
//! (pg_stat_replication) and sessions waiting for synchronous replication (wait_event SyncRep).

use std::time::{Duration, SystemTime};

use tokio::sync::watch;
use tokio_postgres::Client;

use crate::pg::pool::{self, Session};

use crate::sweep::folder::{Sample, StandbySample};

/// Twice a second, so every second of the load has at least one sample.
pub const EVERY: Duration = Duration::from_millis(500);

/// A sample with its wall-clock time; `t` is set once the load's start is known.
pub struct Timed {
    pub at: SystemTime,
    pub sample: Sample,
}

/// Samples until `stop` turns true, on a control-plane session from the server's pool
/// (src/pg/pool.rs). A failing query ends sampling quietly (and the session is not reused):
/// samples are context for the load, never a reason to fail it.
pub async fn run(session: Session, mut stop: watch::Receiver<bool>) -> Vec<Timed> {
    let client: &Client = &session;
    let mut out = Vec::new();
    let mut tick = tokio::time::interval(EVERY);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.wait_for(|s| *s) => break,
        }
        match take(client).await {
            Ok(sample) => out.push(Timed {
                at: SystemTime::now(),
                sample,
            }),
            Err(_) => {
                pool::discard(session);
                return out;
            }
        }
    }
    out
}

async fn take(client: &Client) -> Result<Sample, tokio_postgres::Error> {
    let rows = client
        .query(
            "SELECT application_name::text, coalesce(sync_state, 'unknown'),
                    (extract(epoch FROM write_lag) * 1000)::float8,
                    (extract(epoch FROM flush_lag) * 1000)::float8,
                    (extract(epoch FROM replay_lag) * 1000)::float8
             FROM pg_stat_replication ORDER BY application_name",
            &[],
        )
        .await?;
    let waiting: i64 = client
        .query_one(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'SyncRep'",
            &[],
        )
        .await?
        .get(0);
    Ok(Sample {
        t: 0.0,
        standbys: rows
            .iter()
            .map(|r| StandbySample {
                name: r.get(0),
                sync_state: r.get(1),
                write_lag_ms: r.get(2),
                flush_lag_ms: r.get(3),
                replay_lag_ms: r.get(4),
            })
            .collect(),
        syncrep_waiting: waiting as u64,
    })
}

/// Sets each sample's `t`: seconds since `measure_start` (negative during warmup).
pub fn relative_to(samples: Vec<Timed>, measure_start: SystemTime) -> Vec<Sample> {
    samples
        .into_iter()
        .map(|s| {
            let t = match s.at.duration_since(measure_start) {
                Ok(d) => d.as_secs_f64(),
                Err(e) => -e.duration().as_secs_f64(),
            };
            Sample { t, ..s.sample }
        })
        .collect()
}
