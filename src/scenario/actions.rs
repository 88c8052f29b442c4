//! A scenario's actions: choosing members by role, name or label as the cluster is at that
//! moment (`select`), doing what the action says through Patroni, a shell, or the lab
//! (`perform`), on time (`run_actions`), and undoing every lab fault afterwards
//! (`undo_lab_faults`).
//!
//! Owns what each action does. Must not judge outcomes (that is `expect`).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use tokio::sync::watch as channel;

use super::result::ActionRecord;
use super::spec::{ActionKind, ActionSpec};
use super::watch::{self, Observation};
use crate::cluster::patroni::{Cluster, Patroni, Role};
use crate::interrupt::Interrupt;
use crate::lab::network::{Degradation, Place};
use crate::lab::{Lab, LabError};

/// Starts every member that is down and etcd if it is stopped.
pub fn undo_lab_faults(lab: &mut Lab, say: &mut dyn FnMut(&str)) -> Result<(), LabError> {
    if lab.state.net.is_some() {
        say("undo: the network as the zones say");
        lab.restore_network()?;
    }
    if lab.state.rtt_file.is_some() {
        lab.set_rtt(0.0)?;
    }
    if !lab.etcd_running() {
        say("undo: starting etcd");
        lab.start_etcd()?;
    }
    for name in lab.members_down() {
        say(&format!("undo: starting {name}"));
        lab.start_member(&name)?;
    }
    Ok(())
}

/// Fires each action at its time; `t` in the records is seconds since this function started.
pub async fn run_actions(
    actions: &[ActionSpec],
    patronis: &[Patroni],
    mut lab: Option<&mut Lab>,
    latest: &channel::Receiver<Option<Observation>>,
    interrupt: &Interrupt,
) -> Vec<ActionRecord> {
    let start = Instant::now();
    let mut labels: HashMap<String, Vec<String>> = HashMap::new();
    let mut records = Vec::new();
    let mut order: Vec<&ActionSpec> = actions.iter().collect();
    order.sort_by(|a, b| a.at.total_cmp(&b.at));
    for a in order {
        let when = start + Duration::from_secs_f64(a.at);
        tokio::select! {
            _ = tokio::time::sleep_until(when.into()) => {}
            _ = interrupt.wait() => break,
        }
        let leader_before = latest.borrow().as_ref().and_then(|o| o.leader.clone());
        let (members, result) = perform(a, patronis, lab.as_deref_mut(), &labels).await;
        let t = start.elapsed().as_secs_f64();
        if let Some(l) = &a.label {
            labels.insert(l.clone(), members.clone());
        }
        records.push(ActionRecord {
            at: a.at,
            t,
            action: a.kind,
            members,
            leader_before,
            ok: result.is_ok(),
            detail: match result {
                Ok(d) => d,
                Err(e) => e,
            },
        });
    }
    records
}

fn first(mut names: Vec<String>) -> Vec<String> {
    names.truncate(1);
    names
}

/// Resolves a member selector against the cluster as it is now.
pub fn select(
    selector: &str,
    cluster: Option<&Cluster>,
    labels: &HashMap<String, Vec<String>>,
) -> Result<Vec<String>, String> {
    if let Some(label) = selector.strip_prefix('@') {
        return labels
            .get(label)
            .cloned()
            .ok_or_else(|| format!("no members under @{label}"));
    }
    let c = cluster.ok_or("the cluster's state is unknown (no Patroni answered)")?;
    let names = |f: &dyn Fn(&crate::cluster::patroni::Member) -> bool| -> Vec<String> {
        c.members
            .iter()
            .filter(|m| f(m))
            .map(|m| m.name.clone())
            .collect()
    };
    let non_leader = |m: &crate::cluster::patroni::Member| m.role != Role::Leader;
    let chosen = match selector {
        "leader" => names(&|m| m.role == Role::Leader),
        "sync_standby" => first(names(&|m| m.role.is_synchronous())),
        "replica" => first(names(&|m| m.role == Role::Replica)),
        "standby" => {
            let sync = names(&|m| m.role.is_synchronous());
            first(if sync.is_empty() {
                names(&non_leader)
            } else {
                sync
            })
        }
        "standbys" => names(&non_leader),
        "sync_candidates" => names(&|m| non_leader(m) && !m.is_nosync()),
        name => vec![name.to_string()],
    };
    if chosen.is_empty() {
        return Err(format!("no member is {selector} right now"));
    }
    Ok(chosen)
}

async fn perform(
    a: &ActionSpec,
    patronis: &[Patroni],
    lab: Option<&mut Lab>,
    labels: &HashMap<String, Vec<String>>,
) -> (Vec<String>, Result<String, String>) {
    let cluster = tokio::time::timeout(Duration::from_secs(2), watch::cluster(patronis))
        .await
        .ok()
        .flatten();
    let members = match a
        .member
        .as_deref()
        .map(|m| select(m, cluster.as_ref(), labels))
    {
        Some(Ok(m)) => m,
        Some(Err(e)) => return (Vec::new(), Err(e)),
        None => Vec::new(),
    };
    // A candidate may be a role or a label too; it names one member.
    let candidate = match a
        .candidate
        .as_deref()
        .map(|c| select(c, cluster.as_ref(), labels))
    {
        Some(Ok(names)) => names.into_iter().next(),
        Some(Err(e)) => return (members, Err(e)),
        None => None,
    };
    let on = Scene {
        patroni: patronis.first(),
        cluster: cluster.as_ref(),
    };
    let done = |what: String| format!("{} {what}", a.kind);
    // One arm per action; src/scenario/spec.rs says what each needs (the lab, a member).
    let result = match (a.kind, lab) {
        (ActionKind::Switchover, _) => on.switchover(candidate.as_deref()).await,
        (ActionKind::Failover, _) => on.failover(candidate.as_deref()).await,
        (ActionKind::Restart, _) => on.restart(&members).await,
        (ActionKind::Patch, _) => on.patch(a).await,
        (ActionKind::Shell, _) => shell(a, &members, cluster.as_ref()).await,
        (kind, None) => Err(format!("{kind} needs the lab")),
        (ActionKind::AddDelay, Some(lab)) => {
            let rtt = a.rtt_ms.unwrap_or_default();
            said(
                lab.set_rtt(rtt),
                format!("replication round trip +{rtt} ms"),
            )
        }
        (ActionKind::RemoveDelay, Some(lab)) => {
            said(lab.set_rtt(0.0), "replication delay removed".into())
        }
        (ActionKind::StopEtcd, Some(lab)) => said(lab.stop_etcd(), a.kind.to_string()),
        (ActionKind::StartEtcd, Some(lab)) => said(lab.start_etcd(), a.kind.to_string()),
        (ActionKind::KillPostmaster, Some(lab)) => {
            each(&members, |m| lab.kill_postmaster(m).map(drop)).map(done)
        }
        (ActionKind::CrashMember, Some(lab)) => each(&members, |m| lab.crash_member(m)).map(done),
        (ActionKind::StopMember, Some(lab)) => each(&members, |m| lab.stop_member(m)).map(done),
        (ActionKind::StartMember, Some(lab)) => each(&members, |m| lab.start_member(m)).map(done),
        (ActionKind::StopPatroni, Some(lab)) => {
            each(&members, |m| lab.pause_patroni(m, true)).map(done)
        }
        (ActionKind::ContinuePatroni, Some(lab)) => {
            each(&members, |m| lab.pause_patroni(m, false)).map(done)
        }
        (ActionKind::Degrade, Some(lab)) => {
            let d = Degradation {
                delay_ms: a.delay_ms.unwrap_or(0.0),
                bandwidth_kbit: a.bandwidth_kbit,
                loss: a.loss.unwrap_or(0.0),
            };
            on_places(a, &members, |p| lab.degrade(p, &d)).map(|what| {
                format!(
                    "{what} degraded: +{} ms round trip, {}, {}% loss",
                    d.delay_ms,
                    d.bandwidth_kbit
                        .map_or("no cap".into(), |k| format!("{k} kbit/s")),
                    d.loss * 100.0
                )
            })
        }
        (ActionKind::Partition, Some(lab)) => {
            let keep = a.clients.unwrap_or(true);
            on_places(a, &members, |p| lab.partition(p, keep)).map(|what| {
                format!(
                    "{what} cut off{}",
                    if keep {
                        ", its clients still attached"
                    } else {
                        ", clients too"
                    }
                )
            })
        }
        (ActionKind::Heal, Some(lab)) => said(lab.heal(), "partitions healed".into()),
        (ActionKind::RestoreNetwork, Some(lab)) => said(
            lab.restore_network(),
            "network as the zones say again".into(),
        ),
    };
    (members, result)
}

/// A network fault on the action's zone, or on each member it chose; says which.
fn on_places(
    a: &ActionSpec,
    members: &[String],
    mut f: impl FnMut(&Place) -> Result<(), LabError>,
) -> Result<String, String> {
    let places: Vec<Place> = match &a.zone {
        Some(z) => vec![Place::Zone(z.clone())],
        None => members.iter().cloned().map(Place::Member).collect(),
    };
    for p in &places {
        f(p).map_err(|e| e.to_string())?;
    }
    Ok(places
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", "))
}

/// A lab call's outcome as an action's detail.
fn said(r: Result<(), LabError>, detail: String) -> Result<String, String> {
    r.map(|()| detail).map_err(|e| e.to_string())
}

/// A lab call for each chosen member; the detail names them.
fn each(
    members: &[String],
    mut f: impl FnMut(&str) -> Result<(), LabError>,
) -> Result<String, String> {
    for m in members {
        f(m).map_err(|e| e.to_string())?;
    }
    Ok(members.join(", "))
}

/// The cluster as an action found it, for the actions done through Patroni.
struct Scene<'a> {
    patroni: Option<&'a Patroni>,
    cluster: Option<&'a Cluster>,
}

impl Scene<'_> {
    fn patroni(&self) -> Result<&Patroni, String> {
        self.patroni.ok_or_else(|| "no Patroni to ask".into())
    }

    async fn switchover(&self, candidate: Option<&str>) -> Result<String, String> {
        let leader = self
            .cluster
            .and_then(|c| c.leader())
            .map(|l| l.name.clone())
            .ok_or("no leader to switch over from")?;
        self.patroni()?
            .switchover(&leader, candidate)
            .await
            .map_err(|e| e.to_string())
    }

    async fn failover(&self, candidate: Option<&str>) -> Result<String, String> {
        let candidate = candidate.ok_or("failover needs a candidate")?;
        self.patroni()?
            .failover(candidate)
            .await
            .map_err(|e| e.to_string())
    }

    async fn restart(&self, members: &[String]) -> Result<String, String> {
        let mut out = Vec::new();
        for m in members {
            let url = self
                .cluster
                .and_then(|c| c.member(m))
                .and_then(|mm| mm.api_url.clone())
                .ok_or_else(|| format!("no REST address for {m}"))?;
            let member = self
                .patroni()?
                .at(url.trim_end_matches("/patroni"))
                .map_err(|e| e.to_string())?;
            out.push(member.restart().await.map_err(|e| e.to_string())?);
        }
        Ok(out.join("; "))
    }

    async fn patch(&self, a: &ActionSpec) -> Result<String, String> {
        let config = serde_json::to_value(a.config.clone().unwrap_or_default())
            .map_err(|e| e.to_string())?;
        self.patroni()?
            .patch_config(&config)
            .await
            .map(|_| "configuration patched".into())
            .map_err(|e| e.to_string())
    }
}

/// Runs a shell action's command with `sh -c`. It sees the members its `member` selector chose
/// as `PGSB_MEMBERS` and the leader at the time as `PGSB_LEADER` (space-separated names; empty
/// when none), so one command can act on whichever member holds a role when it fires.
async fn shell(
    a: &ActionSpec,
    members: &[String],
    cluster: Option<&Cluster>,
) -> Result<String, String> {
    let command = a.command.clone().unwrap_or_default();
    let limit = Duration::from_secs(a.timeout.unwrap_or(60));
    let leader = cluster
        .and_then(Cluster::leader)
        .map(|m| m.name.clone())
        .unwrap_or_default();
    let child = tokio::process::Command::new("sh")
        .args(["-c", &command])
        .env("PGSB_MEMBERS", members.join(" "))
        .env("PGSB_LEADER", leader)
        .kill_on_drop(true)
        .output();
    match tokio::time::timeout(limit, child).await {
        Err(_) => Err(format!(
            "`{command}` did not finish within {} s",
            limit.as_secs()
        )),
        Ok(Err(e)) => Err(format!("cannot run `{command}`: {e}")),
        Ok(Ok(out)) if out.status.success() => Ok(format!("`{command}` succeeded")),
        Ok(Ok(out)) => Err(format!(
            "`{command}` failed ({}): {}",
            out.status,
            crate::text::one_line(&String::from_utf8_lossy(&out.stderr))
        )),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn selectors_resolve_against_roles_and_labels() {
        let c: Cluster = serde_json::from_value(json!({"members": [
            {"name": "n1", "role": "leader", "state": "running"},
            {"name": "n2", "role": "replica", "state": "streaming"},
            {"name": "n3", "role": "sync_standby", "state": "streaming"},
            {"name": "n4", "role": "replica", "state": "streaming", "tags": {"nosync": true}}
        ]}))
        .unwrap();
        let mut labels = HashMap::new();
        labels.insert("old".to_string(), vec!["n9".to_string()]);
        assert_eq!(select("leader", Some(&c), &labels).unwrap(), ["n1"]);
        assert_eq!(select("sync_standby", Some(&c), &labels).unwrap(), ["n3"]);
        assert_eq!(select("standby", Some(&c), &labels).unwrap(), ["n3"]);
        assert_eq!(
            select("standbys", Some(&c), &labels).unwrap(),
            ["n2", "n3", "n4"]
        );
        assert_eq!(
            select("sync_candidates", Some(&c), &labels).unwrap(),
            ["n2", "n3"]
        );
        assert_eq!(select("replica", Some(&c), &labels).unwrap(), ["n2"]);
        assert_eq!(select("@old", None, &labels).unwrap(), ["n9"]);
        assert!(select("leader", None, &labels).is_err());
    }
}
