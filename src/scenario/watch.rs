//! Watching the cluster while a scenario runs: every half second, who leads (Patroni), which
//! standbys are synchronous, and which members' PostgreSQL says it is a primary — two at once
//! would be split brain.

use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::conn::Target;
use crate::patroni::{Cluster, Patroni};

const EVERY: Duration = Duration::from_millis(500);
const PROBE_TIMEOUT: Duration = Duration::from_millis(800);

/// A member as the scenario found it at the start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberAddr {
    pub name: String,
    pub host: String,
    pub port: u16,
    pub api_url: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    pub at: SystemTime,
    pub leader: Option<String>,
    pub timeline: Option<u64>,
    pub sync_standbys: Vec<String>,
    /// Members whose PostgreSQL answered `NOT pg_is_in_recovery()` with true.
    pub primaries: Vec<String>,
}

/// The cluster as the first member that answers sees it.
pub async fn cluster(patronis: &[Patroni]) -> Option<Cluster> {
    for p in patronis {
        if let Ok(c) = p.cluster().await {
            return Some(c);
        }
    }
    None
}

/// Observes until `stop` turns true; the latest observation is also published on `latest`.
pub async fn run(
    patronis: Vec<Patroni>,
    members: Vec<MemberAddr>,
    base: Target,
    latest: watch::Sender<Option<Observation>>,
    mut stop: watch::Receiver<bool>,
) -> Vec<Observation> {
    let mut sessions: Vec<Option<tokio_postgres::Client>> = members.iter().map(|_| None).collect();
    let mut out = Vec::new();
    let mut tick = tokio::time::interval(EVERY);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.wait_for(|s| *s) => break,
        }
        let view = tokio::time::timeout(Duration::from_secs(2), cluster(&patronis))
            .await
            .ok()
            .flatten();
        let mut primaries = Vec::new();
        let probes = members.iter().zip(sessions.iter_mut()).map(|(m, slot)| {
            let target = base.with_hosts(&[(m.host.clone(), m.port)], false, PROBE_TIMEOUT);
            async move { probe(&target, slot).await.then(|| m.name.clone()) }
        });
        for name in futures_util::future::join_all(probes)
            .await
            .into_iter()
            .flatten()
        {
            primaries.push(name);
        }
        let leader = view
            .as_ref()
            .and_then(|c| c.leader())
            .map(|m| m.name.clone());
        let obs = Observation {
            at: SystemTime::now(),
            timeline: view
                .as_ref()
                .and_then(|c| c.leader())
                .and_then(|m| m.timeline),
            sync_standbys: view
                .as_ref()
                .map(|c| {
                    c.members
                        .iter()
                        .filter(|m| m.role.is_synchronous())
                        .map(|m| m.name.clone())
                        .collect()
                })
                .unwrap_or_default(),
            leader,
            primaries,
        };
        let _ = latest.send(Some(obs.clone()));
        out.push(obs);
    }
    out
}

/// Whether the member's PostgreSQL says it is a primary; a session is kept between probes.
async fn probe(target: &Target, slot: &mut Option<tokio_postgres::Client>) -> bool {
    if slot.as_ref().is_none_or(|c| c.is_closed()) {
        *slot = tokio::time::timeout(PROBE_TIMEOUT, target.connect())
            .await
            .ok()
            .and_then(Result::ok);
    }
    let Some(client) = slot.as_ref() else {
        return false;
    };
    match tokio::time::timeout(
        PROBE_TIMEOUT,
        client.query_one("SELECT NOT pg_is_in_recovery()", &[]),
    )
    .await
    {
        Ok(Ok(row)) => row.get::<_, bool>(0),
        _ => {
            *slot = None;
            false
        }
    }
}
