//! Watching the cluster while a scenario runs: every half second, who leads (Patroni), which
//! standbys are synchronous, and which members' PostgreSQL says it is a primary — two at once
//! would be split brain.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use super::result::{LagSeen, LeaderSeen, PrimariesSeen, SyncSeen};
use crate::cluster::patroni::{Cluster, Lag, Patroni, Role};
use crate::pg::conn::Target;
use crate::pg::pool;

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
    /// synchronous_standby_names as the (first) primary runs with it.
    pub synchronous_standby_names: Option<String>,
    /// Each standby's replication lag in bytes as Patroni sees it (what maximum_lag_on_failover
    /// is judged on); None when Patroni cannot tell.
    pub lag_bytes: BTreeMap<String, Option<u64>>,
}

/// The cluster as the members that answer see it, asked all at once (a stopped member's REST
/// API hangs): the first view with a leader, else any view.
pub async fn cluster(patronis: &[Patroni]) -> Option<Cluster> {
    let asks = patronis
        .iter()
        .map(|p| tokio::time::timeout(Duration::from_millis(1500), p.cluster()));
    let views: Vec<Cluster> = futures_util::future::join_all(asks)
        .await
        .into_iter()
        .filter_map(|r| r.ok().and_then(Result::ok))
        .collect();
    let with_leader = views.iter().position(|c| c.leader().is_some());
    let mut views = views;
    match with_leader {
        Some(i) => Some(views.swap_remove(i)),
        None => views.pop(),
    }
}

/// Observes until `stop` turns true; the latest observation is also published on `latest`.
pub async fn run(
    patronis: Vec<Patroni>,
    members: Vec<MemberAddr>,
    base: Target,
    latest: watch::Sender<Option<Observation>>,
    mut stop: watch::Receiver<bool>,
) -> Vec<Observation> {
    let targets: Vec<Target> = members
        .iter()
        .map(|m| base.with_hosts(&[(m.host.clone(), m.port)], false, PROBE_TIMEOUT))
        .collect();
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
        let mut names = None;
        let probes = members
            .iter()
            .zip(&targets)
            .map(|(m, target)| async move { probe(target).await.map(|ssn| (m.name.clone(), ssn)) });
        for (name, ssn) in futures_util::future::join_all(probes)
            .await
            .into_iter()
            .flatten()
        {
            primaries.push(name);
            names.get_or_insert(ssn);
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
            lag_bytes: view
                .as_ref()
                .map(|c| {
                    c.members
                        .iter()
                        .filter(|m| m.role != Role::Leader)
                        .map(|m| {
                            let lag = match m.lag {
                                Lag::Bytes(b) => Some(b),
                                Lag::Unknown | Lag::None => None,
                            };
                            (m.name.clone(), lag)
                        })
                        .collect()
                })
                .unwrap_or_default(),
            leader,
            primaries,
            synchronous_standby_names: names,
        };
        let _ = latest.send(Some(obs.clone()));
        out.push(obs);
    }
    out
}

/// synchronous_standby_names when the member's PostgreSQL says it is a primary, None when it
/// is a standby or does not answer; sessions come from the member's pool (`pg::pool`), which
/// checks them between probes.
async fn probe(target: &Target) -> Option<String> {
    let session = tokio::time::timeout(PROBE_TIMEOUT, pool::session(target))
        .await
        .ok()?
        .ok()?;
    let sql = "SELECT NOT pg_is_in_recovery(), current_setting('synchronous_standby_names')";
    match tokio::time::timeout(PROBE_TIMEOUT, session.query_one(sql, &[])).await {
        Ok(Ok(row)) => row.get::<_, bool>(0).then(|| row.get(1)),
        _ => {
            // A member cut off or stopped: its session must not come back for the next probe.
            pool::discard(session);
            None
        }
    }
}

/// What the observations show changing over a run.
pub struct Changes {
    /// Leader and timeline whenever they changed.
    pub leaders: Vec<LeaderSeen>,
    /// Synchronous standbys whenever they changed.
    pub syncs: Vec<SyncSeen>,
    /// Moments when more than one member claimed to be primary.
    pub split_brain: Vec<PrimariesSeen>,
    pub max_primaries: u32,
    /// Every observation's replication lags.
    pub lag: Vec<LagSeen>,
}

/// Changes of leader and of synchronous standbys, and split-brain moments, from observations.
pub fn summarize(observations: &[Observation], rel: &dyn Fn(SystemTime) -> f64) -> Changes {
    let mut leaders: Vec<LeaderSeen> = Vec::new();
    let mut syncs: Vec<SyncSeen> = Vec::new();
    let mut split = Vec::new();
    let mut max_primaries = 0;
    let mut lag = Vec::new();
    for o in observations {
        let t = rel(o.at);
        if leaders.last().is_none_or(|l| {
            l.leader != o.leader || (o.timeline.is_some() && l.timeline != o.timeline)
        }) {
            leaders.push(LeaderSeen {
                t,
                leader: o.leader.clone(),
                timeline: o.timeline,
            });
        }
        let sync_changed = syncs.last().is_none_or(|s| {
            s.sync_standbys != o.sync_standbys
                || s.synchronous_standby_names != o.synchronous_standby_names
        });
        if sync_changed {
            syncs.push(SyncSeen {
                t,
                sync_standbys: o.sync_standbys.clone(),
                synchronous_standby_names: o.synchronous_standby_names.clone(),
            });
        }
        max_primaries = max_primaries.max(o.primaries.len() as u32);
        if o.primaries.len() > 1 {
            split.push(PrimariesSeen {
                t,
                members: o.primaries.clone(),
            });
        }
        lag.push(LagSeen {
            t,
            bytes: o.lag_bytes.clone(),
        });
    }
    Changes {
        leaders,
        syncs,
        split_brain: split,
        max_primaries,
        lag,
    }
}
