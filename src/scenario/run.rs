//! Running a scenario: set the cluster up, load it with audited writes that follow the leader,
//! fire the actions on time while watching the cluster, undo every fault, let the cluster
//! settle, audit, and judge the expectations. Each step of a variant is a function below.
//!
//! Owns the order of a scenario's steps. Actions live in `actions`, verdicts in `expect`, what
//! is recorded in `result`; the command puts the cluster's configuration back.

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime};

use serde_json::{Value, json};
use tokio::sync::watch as channel;

use super::actions::{run_actions, undo_lab_faults};
use super::audit;
use super::availability;
use super::expect::{Facts, judge};
use super::result::{
    ActionRecord, Availability, FaultRecovery, SCHEMA, SCHEMA_VERSION, ScenarioResult,
    VariantResult,
};
use super::spec::{ClusterSettings, Expect, Scenario, WorkloadSpec};
use super::watch::{self, Changes, MemberAddr, Observation};
use crate::cluster::control::{self, ControlError, Live};
use crate::cluster::patroni::{Cluster, Patroni, PatroniError, Role};
use crate::interrupt::Interrupt;
use crate::lab::{Lab, LabError};
use crate::load::engine::{self, EngineError, Outcome};
use crate::load::init::{self, InitError, Silent};
use crate::load::ledger;
use crate::load::run_result::{RunOptions, RunResult, TargetInfo};
use crate::pg::conn::{ConnError, Target};
use crate::pg::mode::SyncCommit;

/// A reconnecting client gives up on an unanswering host after this long and tries the next.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// What Patroni logs when it will not promote a member, when a leader demotes itself, and when
/// a rejoining member is rewound (src/lab/mod.rs `patroni_logged` finds them, lab only).
const PROMOTION_REFUSALS: [&str; 4] = [
    "exceeds maximum replication lag",
    "not healthy enough for leader race",
    "does not match with sync_standbys",
    "can not be reached",
];
const DEMOTIONS: [&str; 1] = ["demoting self because"];
const REWINDS: [&str; 1] = ["pg_rewind exit code"];
/// Transactions still running at the end get this long (a commit may wait out a failover).
const DRAIN_TIMEOUT: Duration = Duration::from_secs(15);

#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error(
        "{actions} of scenario {scenario} need a lab cluster started by pgsyncbench, not --patroni: run it without --patroni, or use switchover, failover, restart, patch or shell actions"
    )]
    NeedsLab { actions: String, scenario: String },
    #[error(
        "action {index} ({action}) names {name}, which is not a member of the cluster (members: {members})"
    )]
    NoSuchMember {
        index: usize,
        action: &'static str,
        name: String,
        members: String,
    },
    #[error(
        "the cluster was not whole (a running leader and every member streaming) within {secs} s before the load: {missing}"
    )]
    NotWhole { secs: u64, missing: String },
    #[error("undoing the lab's faults failed: {0}")]
    Undo(#[source] LabError),
    #[error("loading pgbench's tables failed: {0}")]
    Init(#[source] InitError),
    #[error(transparent)]
    Control(#[from] ControlError),
    #[error(transparent)]
    Patroni(#[from] PatroniError),
    #[error(transparent)]
    Connect(#[from] ConnError),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error("{what}: {}", crate::pg::error::describe(source))]
    Sql {
        what: &'static str,
        #[source]
        source: tokio_postgres::Error,
    },
    #[error("interrupted")]
    Interrupted,
}

/// What a scenario runs on.
pub struct Context<'a> {
    pub patroni: &'a Patroni,
    /// User, password and database for sessions on the members.
    pub base: &'a Target,
    /// The lab, when pgsyncbench started the cluster (lab-only actions need it).
    pub lab: Option<&'a mut Lab>,
    pub interrupt: &'a Interrupt,
}

/// The cluster as the scenario found it: its members and a Patroni client for each.
struct Members {
    addrs: Vec<MemberAddr>,
    patronis: Vec<Patroni>,
}

pub async fn run(
    scenario: &Scenario,
    ctx: &mut Context<'_>,
    say: &mut dyn FnMut(&str),
) -> Result<ScenarioResult, ScenarioError> {
    if ctx.lab.is_none() {
        let lab_only = scenario.lab_only_actions();
        if !lab_only.is_empty() {
            return Err(ScenarioError::NeedsLab {
                actions: lab_only.join(", "),
                scenario: scenario.name.clone(),
            });
        }
    }
    let cluster = ctx.patroni.cluster().await?;
    check_member_names(scenario, &cluster)?;
    let addrs = member_addrs(&cluster);
    let patronis: Vec<Patroni> = addrs
        .iter()
        .filter_map(|m| m.api_url.as_deref())
        .filter_map(|u| ctx.patroni.at(u.trim_end_matches("/patroni")).ok())
        .chain(std::iter::once(ctx.patroni.clone()))
        .collect();
    let members = Members { addrs, patronis };
    let started_at = humantime::format_rfc3339_seconds(SystemTime::now()).to_string();
    let mut runs = Vec::new();
    for (label, settings, expect) in scenario.runs() {
        if ctx.interrupt.happened() {
            return Err(ScenarioError::Interrupted);
        }
        say(&format!("{}: variant {label}", scenario.name));
        let variant = Variant {
            scenario,
            label: &label,
            settings: &settings,
            expect: &expect,
        };
        runs.push(variant.run(&members, ctx, say).await?);
    }
    Ok(ScenarioResult {
        schema: SCHEMA.into(),
        schema_version: SCHEMA_VERSION,
        scenario: scenario.name.clone(),
        description: scenario.description.clone(),
        patroni: ctx.patroni.url().to_string(),
        lab: ctx.lab.is_some(),
        network: ctx
            .lab
            .as_deref()
            .and_then(|l| l.state.net.as_ref())
            .map(|n| n.recorded()),
        started_at,
        runs,
    })
}

fn check_member_names(scenario: &Scenario, cluster: &Cluster) -> Result<(), ScenarioError> {
    let names: Vec<&str> = cluster.members.iter().map(|m| m.name.as_str()).collect();
    for (i, a) in scenario.actions.iter().enumerate() {
        for name in [a.member.as_deref(), a.candidate.as_deref()]
            .into_iter()
            .flatten()
        {
            let is_selector = name.starts_with('@') || super::spec::ROLE_SELECTORS.contains(&name);
            if !is_selector && !names.contains(&name) {
                return Err(ScenarioError::NoSuchMember {
                    index: i + 1,
                    action: a.kind.name(),
                    name: name.to_string(),
                    members: names.join(", "),
                });
            }
        }
    }
    Ok(())
}

fn member_addrs(cluster: &Cluster) -> Vec<MemberAddr> {
    cluster
        .members
        .iter()
        .map(|m| MemberAddr {
            name: m.name.clone(),
            host: m.host.clone().unwrap_or_else(|| "127.0.0.1".into()),
            port: m.port.unwrap_or(5432),
            api_url: m.api_url.clone(),
        })
        .collect()
}

/// The PATCH /config body for a scenario's cluster settings.
pub fn settings_patch(s: &ClusterSettings) -> Value {
    let mut patch = s.sync.patch();
    if let Some(f) = s.failsafe_mode {
        patch["failsafe_mode"] = json!(f);
    }
    patch
}

/// One variant of a scenario: its settings and what it expects.
struct Variant<'a> {
    scenario: &'a Scenario,
    label: &'a str,
    settings: &'a ClusterSettings,
    expect: &'a Expect,
}

/// What the load did while the actions ran.
struct Loaded {
    outcome: Outcome,
    /// Times relative to the load's start.
    records: Vec<ActionRecord>,
    changes: Changes,
}

impl Variant<'_> {
    async fn run(
        &self,
        members: &Members,
        ctx: &mut Context<'_>,
        say: &mut dyn FnMut(&str),
    ) -> Result<VariantResult, ScenarioError> {
        let live = self.apply_settings(members, ctx, say).await?;
        let timing = ctx.patroni.timing().await?;
        say(&format!("Patroni timing in force: {timing}"));
        let (_, leader) = control::leader_target(ctx.patroni, ctx.base).await?;
        let server_version = prepare_tables(&leader, &self.scenario.workload).await?;
        let run_id = self.run_id();
        let options = self.options(&run_id);
        let hosts: Vec<(String, u16)> = members
            .addrs
            .iter()
            .map(|m| (m.host.clone(), m.port))
            .collect();
        let target = ctx.base.with_hosts(&hosts, true, CONNECT_TIMEOUT);

        let marks = ctx.lab.as_deref().map(Lab::log_marks);
        let loaded = self
            .load_under_actions(&options, &live, &run_id, &target, members, ctx)
            .await?;
        let logged = |patterns: &[&str]| match (ctx.lab.as_deref(), &marks) {
            (Some(lab), Some(m)) => lab.patroni_logged(m, patterns),
            _ => Vec::new(),
        };
        let promotion_refusals = logged(&PROMOTION_REFUSALS);
        let demotions = logged(&DEMOTIONS);
        let settled = self.undo_and_settle(members, ctx, say).await?;
        // After the cluster settled: a member that rejoins is rewound then.
        let rewinds = match (ctx.lab.as_deref(), &marks) {
            (Some(lab), Some(m)) => lab.patroni_logged(m, &REWINDS),
            _ => Vec::new(),
        };
        let present = read_audit(ctx.patroni, ctx.base, &run_id).await?;
        let audit_counts = audit::reconcile(&loaded.outcome.ledgers, &present);

        let run = RunResult::new(
            options,
            TargetInfo {
                connection: target.label(),
                patroni: Some(ctx.patroni.url().to_string()),
                leader: Some(live.leader.clone()),
                server_version,
                synchronous_commit: live.synchronous_commit.clone(),
                synchronous_standby_names: live.synchronous_standby_names.clone(),
                sync_standby_attached: Some(!live.sync_standbys.is_empty()),
            },
            &loaded.outcome,
        );
        let availability = availability_of(&loaded, &members.addrs);
        let checks = judge(
            self.expect,
            &Facts::of(
                &loaded,
                &audit_counts,
                &availability,
                run.summary.failed,
                (&promotion_refusals, &rewinds),
            ),
        );
        let passed = checks.iter().all(|c| c.passed) && !run.summary.interrupted;
        let Changes {
            leaders,
            syncs,
            split_brain,
            max_primaries,
            lag,
        } = loaded.changes;
        Ok(VariantResult {
            label: self.label.to_string(),
            cluster: self.settings.clone(),
            patroni_timing: Some(timing),
            workload: self.scenario.workload.clone(),
            run,
            audit: audit_counts,
            availability,
            actions: loaded.records,
            leaders,
            sync_standbys: syncs,
            split_brain,
            max_primaries,
            lag,
            promotion_refusals,
            demotions,
            rewinds,
            history: ctx.patroni.history().await.unwrap_or_default(),
            settled: settled.is_ok(),
            checks,
            passed,
        })
    }

    /// The variant's settings through Patroni, then a whole cluster running them.
    async fn apply_settings(
        &self,
        members: &Members,
        ctx: &Context<'_>,
        say: &mut dyn FnMut(&str),
    ) -> Result<Live, ScenarioError> {
        let patch = settings_patch(self.settings);
        if patch.as_object().is_some_and(|o| !o.is_empty()) {
            ctx.patroni.patch_config(&patch).await?;
        }
        let settle = Duration::from_secs(self.scenario.settle);
        wait_whole(
            &members.patronis,
            members.addrs.len(),
            settle,
            ctx.interrupt,
        )
        .await
        .map_err(|missing| ScenarioError::NotWhole {
            secs: self.scenario.settle,
            missing,
        })?;
        let expected = crate::cluster::control::SyncChange {
            synchronous_commit: self.settings.sync.synchronous_commit,
            synchronous_mode: self.settings.sync.synchronous_mode,
            ..Default::default()
        };
        let live = control::wait_live(
            ctx.patroni,
            ctx.base,
            &expected,
            control::Seen::BySessions,
            Instant::now(),
            settle,
        )
        .await?;
        say(&format!(
            "settings live on {}: synchronous_commit={}, synchronous_standby_names='{}'",
            live.leader, live.synchronous_commit, live.synchronous_standby_names
        ));
        Ok(live)
    }

    /// Letters, digits and '-' only: it is written into SQL text.
    fn run_id(&self) -> String {
        format!(
            "{}-{}-{}",
            self.scenario.name,
            self.label,
            SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map(|d| d.as_millis())
                .unwrap_or(0)
        )
        .replace(|c: char| !(c.is_ascii_alphanumeric() || c == '-'), "-")
    }

    fn options(&self, run_id: &str) -> RunOptions {
        let w = &self.scenario.workload;
        RunOptions {
            protocol: w.protocol,
            clients: w.clients,
            threads: w.threads,
            duration: Some(w.duration),
            scale: w.scale,
            sync_commit: self.settings.sync.synchronous_commit,
            seed: run_id
                .bytes()
                .fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b))),
            ..RunOptions::builtin(w.builtin)
        }
    }

    /// The audited load, the timed actions and the watcher, together.
    async fn load_under_actions(
        &self,
        options: &RunOptions,
        live: &Live,
        run_id: &str,
        target: &Target,
        members: &Members,
        ctx: &mut Context<'_>,
    ) -> Result<Loaded, ScenarioError> {
        let config = engine::EngineConfig {
            expect_synchronous_commit: SyncCommit::from_server(&live.synchronous_commit),
            drain_timeout: DRAIN_TIMEOUT,
            audit_run_id: Some(run_id.to_string()),
            reconnect: true,
            ..options.engine_config(None)
        };
        let (stop_tx, stop_rx) = channel::channel(false);
        let (latest_tx, latest_rx) = channel::channel(None);
        let watcher = tokio::spawn(watch::run(
            members.patronis.clone(),
            members.addrs.clone(),
            ctx.base.clone(),
            latest_tx,
            stop_rx,
        ));
        let load_started = SystemTime::now();
        let (outcome, mut records) = {
            let load = engine::run(&config, target, &mut [], ctx.interrupt.wait());
            let actions = run_actions(
                &self.scenario.actions,
                &members.patronis,
                ctx.lab.as_deref_mut(),
                &latest_rx,
                ctx.interrupt,
            );
            tokio::join!(load, actions)
        };
        let _ = stop_tx.send(true);
        let observations: Vec<Observation> = watcher.await.unwrap_or_default();
        let outcome = outcome?;
        // Times relative to the load's start, from wall clocks taken on both sides.
        let offset = outcome
            .started_at
            .duration_since(load_started)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0);
        for r in &mut records {
            r.t -= offset;
        }
        let rel = |at: SystemTime| match at.duration_since(outcome.started_at) {
            Ok(d) => d.as_secs_f64(),
            Err(e) => -e.duration().as_secs_f64(),
        };
        let changes = watch::summarize(&observations, &rel);
        Ok(Loaded {
            outcome,
            records,
            changes,
        })
    }

    /// Undoes whatever is still broken, then lets the cluster come back whole before the
    /// audit; Err says what was still missing (the audit then reads the current leader).
    async fn undo_and_settle(
        &self,
        members: &Members,
        ctx: &mut Context<'_>,
        say: &mut dyn FnMut(&str),
    ) -> Result<Result<(), String>, ScenarioError> {
        if let Some(lab) = ctx.lab.as_deref_mut() {
            undo_lab_faults(lab, say).map_err(ScenarioError::Undo)?;
        }
        let settle = Duration::from_secs(self.scenario.settle);
        let settled = wait_whole(
            &members.patronis,
            members.addrs.len(),
            settle,
            ctx.interrupt,
        )
        .await;
        if let Err(missing) = &settled {
            say(&format!(
                "warning: the cluster was not whole again within the settle time ({missing}); auditing on the current leader"
            ));
        }
        Ok(settled)
    }
}

/// Acknowledged commits in time order, from every client.
fn commits(outcome: &Outcome) -> Vec<ledger::Commit> {
    outcome
        .ledgers
        .iter()
        .flat_map(|l| l.commits.iter().copied())
        .collect()
}

/// Time to recover from each fault, the longest write gap, failures by class.
fn availability_of(loaded: &Loaded, members: &[MemberAddr]) -> Availability {
    let commits = commits(&loaded.outcome);
    let endpoint_of = |name: &Option<String>| {
        name.as_ref()
            .and_then(|n| members.iter().position(|m| &m.name == n))
    };
    let faults: Vec<FaultRecovery> = loaded
        .records
        .iter()
        .filter(|r| r.action.is_fault())
        .map(|r| FaultRecovery {
            action: r.action,
            t: r.t,
            leader_before: r.leader_before.clone(),
            recovery: availability::recovery(&commits, r.t, endpoint_of(&r.leader_before)),
        })
        .collect();
    let mut failure_classes: BTreeMap<String, u64> = BTreeMap::new();
    for (code, n) in &loaded.outcome.total.failures {
        let class = if code.len() == 5 {
            code[..2].to_string()
        } else {
            code.clone()
        };
        *failure_classes.entry(class).or_default() += n;
    }
    Availability {
        longest_write_gap: availability::longest_gap(
            &commits,
            loaded.outcome.measured.as_secs_f64(),
        ),
        faults,
        reconnects: loaded.outcome.reconnects,
        failure_classes,
    }
}

impl<'a> Facts<'a> {
    fn of(
        loaded: &'a Loaded,
        audit: &'a audit::AuditCounts,
        availability: &Availability,
        failed: u64,
        logged: (&'a [String], &'a [String]),
    ) -> Facts<'a> {
        let commits = commits(&loaded.outcome);
        let last_fault = loaded
            .records
            .iter()
            .filter(|r| r.action.is_fault())
            .map(|r| r.t)
            .fold(None, |m: Option<f64>, t| Some(m.map_or(t, |m| m.max(t))));
        Facts {
            audit,
            commits: commits.iter().map(|c| c.at).collect(),
            gap: availability.longest_write_gap,
            leaders: &loaded.changes.leaders,
            syncs: &loaded.changes.syncs,
            failed,
            max_primaries: loaded.changes.max_primaries,
            writes_after_last_fault: last_fault.map(|t| commits.iter().any(|c| c.at > t)),
            max_lag_bytes: loaded
                .changes
                .lag
                .iter()
                .flat_map(|l| l.bytes.values().flatten().copied())
                .max(),
            promotion_refusals: logged.0,
            rewinds: logged.1,
        }
    }
}

/// pgbench tables at the workload's scale, and the audit table, on the leader; returns the
/// server's version.
async fn prepare_tables(leader: &Target, w: &WorkloadSpec) -> Result<String, ScenarioError> {
    let client = leader.connect().await?;
    let sql =
        |what: &'static str| move |e: tokio_postgres::Error| ScenarioError::Sql { what, source: e };
    init::ensure_scale(&client, leader.dbname(), w.scale, &mut Silent)
        .await
        .map_err(ScenarioError::Init)?;
    client
        .batch_execute(ledger::CREATE_TABLE)
        .await
        .map_err(sql("creating the audit table"))?;
    let version: String = client
        .query_one("SHOW server_version", &[])
        .await
        .map_err(sql("reading the server version"))?
        .get(0);
    Ok(version)
}

/// Waits until the leader runs and every other member streams; Err says what is missing.
async fn wait_whole(
    patronis: &[Patroni],
    members: usize,
    limit: Duration,
    interrupt: &Interrupt,
) -> Result<(), String> {
    let deadline = Instant::now() + limit;
    let mut missing = "no Patroni answered".to_string();
    while Instant::now() < deadline && !interrupt.happened() {
        if let Some(c) = watch::cluster(patronis).await {
            match whole(&c, members) {
                Ok(()) => return Ok(()),
                Err(why) => missing = why,
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    Err(missing)
}

/// Whether the cluster has a running leader and `members - 1` streaming standbys; if not, why.
fn whole(c: &Cluster, members: usize) -> Result<(), String> {
    let leader = c.leader().ok_or("no leader")?;
    if leader.state != "running" {
        return Err(format!("leader {} is {}", leader.name, leader.state));
    }
    let others: Vec<&crate::cluster::patroni::Member> = c
        .members
        .iter()
        .filter(|m| m.role != Role::Leader)
        .collect();
    let streaming = others.iter().filter(|m| m.state == "streaming").count();
    if streaming + 1 >= members {
        return Ok(());
    }
    let mut not: Vec<String> = others
        .iter()
        .filter(|m| m.state != "streaming")
        .map(|m| format!("{} {}", m.name, m.state))
        .collect();
    let absent = members.saturating_sub(c.members.len());
    if absent > 0 {
        not.push(format!("{absent} member(s) not in the cluster at all"));
    }
    Err(format!(
        "{streaming} of {} standbys stream ({})",
        members - 1,
        not.join(", ")
    ))
}

async fn read_audit(
    patroni: &Patroni,
    base: &Target,
    run_id: &str,
) -> Result<Vec<(u32, i64)>, ScenarioError> {
    let (_, leader) = control::leader_target(patroni, base).await?;
    let client = crate::pg::pool::session(&leader).await?;
    let rows = client
        .query(
            "SELECT client, seq FROM pgsyncbench_audit WHERE run_id = $1",
            &[&run_id],
        )
        .await
        .map_err(|e| ScenarioError::Sql {
            what: "reading the audit table",
            source: e,
        })?;
    Ok(rows
        .iter()
        .map(|r| (r.get::<_, i32>(0) as u32, r.get::<_, i64>(1)))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::control::{SyncChange, SyncMode};

    #[test]
    fn settings_become_one_patch() {
        let s = ClusterSettings {
            sync: SyncChange {
                synchronous_mode: Some(SyncMode::On),
                strict: Some(true),
                synchronous_commit: Some(SyncCommit::RemoteApply),
                node_count: None,
            },
            failsafe_mode: Some(true),
        };
        assert_eq!(
            settings_patch(&s),
            json!({"synchronous_mode": true, "synchronous_mode_strict": true, "failsafe_mode": true,
                   "postgresql": {"parameters": {"synchronous_commit": "remote_apply"}}})
        );
    }
}
