//! Running a scenario: set the cluster up, load it with audited writes that follow the leader,
//! fire the actions on time while watching the cluster, undo every fault, let the cluster
//! settle, audit, and judge the expectations. The cluster's configuration is put back at the end.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant, SystemTime};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::sync::watch as channel;

use super::audit::{self, AuditCounts};
use super::availability::{self, Gap, Recovery};
use super::spec::{ActionKind, ActionSpec, ClusterSettings, Expect, Scenario, WorkloadSpec};
use super::watch::{self, MemberAddr, Observation};
use crate::cluster::control::{self, ControlError, SyncChange};
use crate::cluster::patroni::{Cluster, HistoryEntry, Patroni, Role, Timing};
use crate::interrupt::Interrupt;
use crate::lab::Lab;
use crate::load::engine::{self, EngineConfig, StopAfter};
use crate::load::ledger;
use crate::load::run_result::{RunOptions, RunResult, TargetInfo};
use crate::pg::conn::Target;
use crate::pg::mode::SyncCommit;
use crate::pg::server;

pub const SCHEMA: &str = "pgsyncbench/scenario-result";
pub const SCHEMA_VERSION: u32 = 1;
/// A reconnecting client gives up on an unanswering host after this long and tries the next.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Control(#[from] ControlError),
    #[error(transparent)]
    Patroni(#[from] crate::cluster::patroni::PatroniError),
    #[error(transparent)]
    Connect(#[from] crate::pg::conn::ConnError),
    #[error(transparent)]
    Engine(#[from] crate::load::engine::EngineError),
    #[error(transparent)]
    Probe(#[from] server::ProbeError),
    #[error("{what}: {reason}")]
    Sql { what: &'static str, reason: String },
    #[error("interrupted")]
    Interrupted,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScenarioResult {
    pub schema: String,
    pub schema_version: u32,
    pub scenario: String,
    pub description: String,
    pub patroni: String,
    pub lab: bool,
    pub started_at: String,
    pub runs: Vec<VariantResult>,
}

impl ScenarioResult {
    pub fn passed(&self) -> bool {
        self.runs.iter().all(|r| r.passed)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ActionRecord {
    /// Planned time, and when it was done (seconds since the load started): the fault is in
    /// place from `t` on.
    pub at: f64,
    pub t: f64,
    pub action: String,
    pub members: Vec<String>,
    pub leader_before: Option<String>,
    pub ok: bool,
    pub detail: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FaultRecovery {
    pub action: String,
    pub t: f64,
    pub leader_before: Option<String>,
    #[serde(flatten)]
    pub recovery: Recovery,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LeaderSeen {
    pub t: f64,
    pub leader: Option<String>,
    pub timeline: Option<u64>,
}

impl std::fmt::Display for LeaderSeen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (timeline ", self.leader.as_deref().unwrap_or("none"))?;
        match self.timeline {
            Some(t) => write!(f, "{t}")?,
            None => f.write_str("?")?,
        }
        write!(f, ") at {:.1} s", self.t)
    }
}

impl VariantResult {
    /// The leader history as one line: `node1 (timeline 1) at 0.0 s → node2 ...`.
    pub fn leader_history(&self, arrow: &str) -> String {
        self.leaders
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(arrow)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SyncSeen {
    pub t: f64,
    /// Members Patroni lists as synchronous standbys.
    pub sync_standbys: Vec<String>,
    /// synchronous_standby_names on the primary (None when no primary answered).
    pub synchronous_standby_names: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PrimariesSeen {
    pub t: f64,
    pub members: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Availability {
    pub longest_write_gap: Gap,
    pub faults: Vec<FaultRecovery>,
    pub reconnects: usize,
    /// Failed transactions by SQLSTATE class (first two characters), `connection` apart.
    pub failure_classes: BTreeMap<String, u64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Check {
    pub check: String,
    pub expected: String,
    pub observed: String,
    pub passed: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VariantResult {
    pub label: String,
    pub cluster: ClusterSettings,
    /// Patroni's timing in force when the variant started (GET /config, as Patroni adjusts
    /// it); absent in results written before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patroni_timing: Option<Timing>,
    pub workload: WorkloadSpec,
    /// The load as `run --json` reports it (summary, failures, timeline, histogram).
    pub run: RunResult,
    pub audit: AuditCounts,
    pub availability: Availability,
    pub actions: Vec<ActionRecord>,
    /// Leader and timeline whenever they changed.
    pub leaders: Vec<LeaderSeen>,
    /// Synchronous standbys whenever they changed.
    pub sync_standbys: Vec<SyncSeen>,
    /// Moments when more than one member claimed to be primary.
    pub split_brain: Vec<PrimariesSeen>,
    pub max_primaries: u32,
    /// Patroni's timeline history at the end.
    pub history: Vec<HistoryEntry>,
    /// Whether the cluster was whole again (leader and every member streaming) before the audit.
    pub settled: bool,
    pub checks: Vec<Check>,
    pub passed: bool,
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

pub async fn run(
    scenario: &Scenario,
    ctx: &mut Context<'_>,
    say: &mut dyn FnMut(&str),
) -> Result<ScenarioResult, ScenarioError> {
    if ctx.lab.is_none() {
        let lab_only = scenario.lab_only_actions();
        if !lab_only.is_empty() {
            return Err(ScenarioError::Invalid(format!(
                "{} of scenario {} need a lab cluster started by pgsyncbench, not --patroni: run it without --patroni, or use switchover, failover, restart, patch or shell actions",
                lab_only.join(", "),
                scenario.name
            )));
        }
    }
    let cluster = ctx.patroni.cluster().await?;
    check_member_names(scenario, &cluster)?;
    let members = member_addrs(&cluster);
    let patronis: Vec<Patroni> = members
        .iter()
        .filter_map(|m| m.api_url.as_deref())
        .filter_map(|u| ctx.patroni.at(u.trim_end_matches("/patroni")).ok())
        .chain(std::iter::once(ctx.patroni.clone()))
        .collect();
    let started_at = humantime::format_rfc3339_seconds(SystemTime::now()).to_string();
    let mut runs = Vec::new();
    for (label, settings, expect) in scenario.runs() {
        if ctx.interrupt.happened() {
            return Err(ScenarioError::Interrupted);
        }
        say(&format!("{}: variant {label}", scenario.name));
        runs.push(
            run_variant(
                scenario, &label, &settings, &expect, &members, &patronis, ctx, say,
            )
            .await?,
        );
    }
    Ok(ScenarioResult {
        schema: SCHEMA.into(),
        schema_version: SCHEMA_VERSION,
        scenario: scenario.name.clone(),
        description: scenario.description.clone(),
        patroni: ctx.patroni.url().to_string(),
        lab: ctx.lab.is_some(),
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
                return Err(ScenarioError::Invalid(format!(
                    "action {} ({}) names {name}, which is not a member of the cluster (members: {})",
                    i + 1,
                    a.kind.name(),
                    names.join(", ")
                )));
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
    let mut patch = SyncChange {
        synchronous_commit: s.synchronous_commit,
        synchronous_mode: s.synchronous_mode,
        strict: s.strict,
        node_count: s.node_count,
    }
    .patch();
    if let Some(f) = s.failsafe_mode {
        patch["failsafe_mode"] = json!(f);
    }
    patch
}

#[allow(clippy::too_many_arguments)]
async fn run_variant(
    scenario: &Scenario,
    label: &str,
    settings: &ClusterSettings,
    expect: &Expect,
    members: &[MemberAddr],
    patronis: &[Patroni],
    ctx: &mut Context<'_>,
    say: &mut dyn FnMut(&str),
) -> Result<VariantResult, ScenarioError> {
    let patroni = ctx.patroni;
    let base = ctx.base;
    // Settings first, then a whole cluster before the load starts.
    let patch = settings_patch(settings);
    if patch.as_object().is_some_and(|o| !o.is_empty()) {
        patroni.patch_config(&patch).await?;
    }
    let settle = Duration::from_secs(scenario.settle);
    if let Err(missing) = wait_whole(patronis, members.len(), settle, ctx.interrupt).await {
        return Err(ScenarioError::Invalid(format!(
            "the cluster was not whole (a running leader and every member streaming) within {} s before the load: {missing}",
            scenario.settle
        )));
    }
    let expected_live = SyncChange {
        synchronous_commit: settings.synchronous_commit,
        synchronous_mode: settings.synchronous_mode,
        ..SyncChange::default()
    };
    let live = control::wait_live(patroni, base, &expected_live, Instant::now(), settle).await?;
    say(&format!(
        "settings live on {}: synchronous_commit={}, synchronous_standby_names='{}'",
        live.leader, live.synchronous_commit, live.synchronous_standby_names
    ));
    let timing = patroni.timing().await?;
    say(&format!("Patroni timing in force: {timing}"));

    let (_, leader) = control::leader_target(patroni, base).await?;
    let server_version = prepare_tables(&leader, &scenario.workload).await?;
    let run_id = format!(
        "{}-{}-{}",
        scenario.name,
        label,
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0)
    )
    .replace(|c: char| !(c.is_ascii_alphanumeric() || c == '-'), "-");

    let hosts: Vec<(String, u16)> = members.iter().map(|m| (m.host.clone(), m.port)).collect();
    let target = base.with_hosts(&hosts, true, CONNECT_TIMEOUT);
    let w = &scenario.workload;
    let seed = run_id
        .bytes()
        .fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)));
    let config = EngineConfig {
        builtin: w.builtin,
        protocol: w.protocol,
        clients: w.clients,
        threads: w.threads,
        stop: StopAfter::Duration(Duration::from_secs(w.duration)),
        warmup_secs: 0,
        scale: w.scale,
        session_setup: Vec::new(),
        expect_synchronous_commit: SyncCommit::from_server(&live.synchronous_commit),
        seed,
        drain_timeout: Duration::from_secs(15),
        audit_run_id: Some(run_id.clone()),
        reconnect: true,
    };

    let (stop_tx, stop_rx) = channel::channel(false);
    let (latest_tx, latest_rx) = channel::channel(None);
    let watcher = tokio::spawn(watch::run(
        patronis.to_vec(),
        members.to_vec(),
        base.clone(),
        latest_tx,
        stop_rx,
    ));
    let load_started = SystemTime::now();
    let (outcome, mut records) = {
        let load = engine::run(&config, &target, &mut [], ctx.interrupt.wait());
        let actions = run_actions(
            &scenario.actions,
            patronis,
            ctx.lab.as_deref_mut(),
            &latest_rx,
            ctx.interrupt,
        );
        tokio::join!(load, actions)
    };
    let _ = stop_tx.send(true);
    let observations = watcher.await.unwrap_or_default();
    let outcome = outcome?;

    // Undo whatever is still broken, then let the cluster come back whole before auditing.
    if let Some(lab) = ctx.lab.as_deref_mut() {
        undo_lab_faults(lab, say)?;
    }
    let settled = wait_whole(patronis, members.len(), settle, ctx.interrupt).await;
    if let Err(missing) = &settled {
        say(&format!(
            "warning: the cluster was not whole again within the settle time ({missing}); auditing on the current leader"
        ));
    }
    let present = read_audit(patroni, base, &run_id).await?;
    let audit_counts = audit::reconcile(&outcome.ledgers, &present);

    // Times relative to the load's start, from wall clocks taken on both sides.
    let offset = outcome
        .started_at
        .duration_since(load_started)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    let rel = |at: SystemTime| match at.duration_since(outcome.started_at) {
        Ok(d) => d.as_secs_f64(),
        Err(e) => -e.duration().as_secs_f64(),
    };
    for r in &mut records {
        r.t -= offset;
    }
    let commits: Vec<ledger::Commit> = outcome
        .ledgers
        .iter()
        .flat_map(|l| l.commits.iter().copied())
        .collect();
    let end = outcome.measured.as_secs_f64();
    let endpoint_of = |name: &Option<String>| {
        name.as_ref()
            .and_then(|n| members.iter().position(|m| &m.name == n))
    };
    let faults: Vec<FaultRecovery> = records
        .iter()
        .filter(|r| is_fault(&r.action))
        .map(|r| FaultRecovery {
            action: r.action.clone(),
            t: r.t,
            leader_before: r.leader_before.clone(),
            recovery: availability::recovery(&commits, r.t, endpoint_of(&r.leader_before)),
        })
        .collect();
    let mut failure_classes: BTreeMap<String, u64> = BTreeMap::new();
    for (code, n) in &outcome.total.failures {
        let class = if code.len() == 5 {
            code[..2].to_string()
        } else {
            code.clone()
        };
        *failure_classes.entry(class).or_default() += n;
    }
    let availability = Availability {
        longest_write_gap: availability::longest_gap(&commits, end),
        faults,
        reconnects: outcome.reconnects,
        failure_classes,
    };
    let (leaders, syncs, split_brain, max_primaries) = summarize(&observations, &rel);
    let history = patroni.history().await.unwrap_or_default();

    let run = RunResult::new(
        RunOptions {
            builtin: w.builtin,
            protocol: w.protocol,
            clients: w.clients,
            threads: w.threads,
            duration: Some(w.duration),
            transactions_per_client: None,
            warmup: 0,
            scale: w.scale,
            sync_commit: settings.synchronous_commit,
            seed,
        },
        TargetInfo {
            connection: target.label(),
            patroni: Some(patroni.url().to_string()),
            leader: Some(live.leader.clone()),
            server_version,
            synchronous_commit: live.synchronous_commit.clone(),
            synchronous_standby_names: live.synchronous_standby_names.clone(),
            sync_standby_attached: Some(!live.sync_standbys.is_empty()),
        },
        &outcome,
    );
    let last_fault = records
        .iter()
        .filter(|r| is_fault(&r.action))
        .map(|r| r.t)
        .fold(None, |m: Option<f64>, t| Some(m.map_or(t, |m| m.max(t))));
    let commit_times: Vec<f64> = commits.iter().map(|c| c.at).collect();
    let facts = Facts {
        audit: &audit_counts,
        commits: &commit_times,
        gap: availability.longest_write_gap,
        leaders: &leaders,
        syncs: &syncs,
        failed: run.summary.failed,
        max_primaries,
        writes_after_last_fault: last_fault.map(|t| commits.iter().any(|c| c.at > t)),
    };
    let checks = judge(expect, &facts);
    let passed = checks.iter().all(|c| c.passed) && !run.summary.interrupted;
    Ok(VariantResult {
        label: label.to_string(),
        cluster: settings.clone(),
        patroni_timing: Some(timing),
        workload: w.clone(),
        run,
        audit: audit_counts,
        availability,
        actions: records,
        leaders,
        sync_standbys: syncs,
        split_brain,
        max_primaries,
        history,
        settled: settled.is_ok(),
        checks,
        passed,
    })
}

fn is_fault(action: &str) -> bool {
    [
        ActionKind::KillPostmaster,
        ActionKind::CrashMember,
        ActionKind::StopMember,
        ActionKind::StopPatroni,
        ActionKind::StopEtcd,
        ActionKind::Switchover,
        ActionKind::Failover,
        ActionKind::Restart,
        ActionKind::Shell,
        ActionKind::AddDelay,
    ]
    .iter()
    .any(|k| k.name() == action)
}

/// pgbench tables at the workload's scale, and the audit table, on the leader; returns the
/// server's version.
async fn prepare_tables(leader: &Target, w: &WorkloadSpec) -> Result<String, ScenarioError> {
    let client = leader.connect().await?;
    let sql = |what: &'static str| {
        move |e: tokio_postgres::Error| ScenarioError::Sql {
            what,
            reason: crate::pg::error::describe(&e),
        }
    };
    let scale_ok = server::pgbench_tables(&client, leader.dbname())
        .await
        .map(|t| t.scale == w.scale)
        .unwrap_or(false);
    if !scale_ok {
        let opts = crate::load::init::InitOptions {
            scale: w.scale,
            fillfactor: 100,
            unlogged: false,
            partitions: 0,
        };
        crate::load::init::initialize(&client, &opts, &mut NoProgress)
            .await
            .map_err(|e| ScenarioError::Invalid(e.to_string()))?;
    }
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

struct NoProgress;

impl crate::load::init::InitProgress for NoProgress {
    fn step(&mut self, _: &str) {}
    fn rows(&mut self, _: u64, _: u64) {}
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
    let client = leader.connect().await?;
    let rows = client
        .query(
            "SELECT client, seq FROM pgsyncbench_audit WHERE run_id = $1",
            &[&run_id],
        )
        .await
        .map_err(|e| ScenarioError::Sql {
            what: "reading the audit table",
            reason: crate::pg::error::describe(&e),
        })?;
    Ok(rows
        .iter()
        .map(|r| (r.get::<_, i32>(0) as u32, r.get::<_, i64>(1)))
        .collect())
}

/// Starts every member that is down and etcd if it is stopped.
fn undo_lab_faults(lab: &mut Lab, say: &mut dyn FnMut(&str)) -> Result<(), ScenarioError> {
    if lab.state.rtt_file.is_some() {
        lab.set_rtt(0.0)
            .map_err(|e| ScenarioError::Invalid(e.to_string()))?;
    }
    if !lab.etcd_running() {
        say("undo: starting etcd");
        lab.start_etcd()
            .map_err(|e| ScenarioError::Invalid(e.to_string()))?;
    }
    for name in lab.members_down() {
        say(&format!("undo: starting {name}"));
        lab.start_member(&name)
            .map_err(|e| ScenarioError::Invalid(e.to_string()))?;
    }
    Ok(())
}

/// Fires each action at its time; `t` in the records is seconds since this function started.
async fn run_actions(
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
            action: a.kind.name().to_string(),
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
fn select(
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
    let result = match (a.kind, lab) {
        (ActionKind::Switchover, _)
        | (ActionKind::Failover, _)
        | (ActionKind::Restart, _)
        | (ActionKind::Patch, _) => {
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
            patroni_action(
                a,
                patronis,
                cluster.as_ref(),
                &members,
                candidate.as_deref(),
            )
            .await
        }
        (ActionKind::Shell, _) => shell(a).await,
        (ActionKind::AddDelay, Some(lab)) => {
            let rtt = a.rtt_ms.unwrap_or_default();
            lab.set_rtt(rtt)
                .map(|()| format!("replication round trip +{rtt} ms"))
                .map_err(|e| e.to_string())
        }
        (ActionKind::RemoveDelay, Some(lab)) => lab
            .set_rtt(0.0)
            .map(|()| "replication delay removed".to_string())
            .map_err(|e| e.to_string()),
        (kind, Some(lab)) => lab_action(kind, lab, &members),
        (kind, None) => Err(format!("{} needs the lab", kind.name())),
    };
    (members, result)
}

fn lab_action(kind: ActionKind, lab: &mut Lab, members: &[String]) -> Result<String, String> {
    let e = |e: crate::lab::LabError| e.to_string();
    for m in members {
        match kind {
            ActionKind::KillPostmaster => {
                lab.kill_postmaster(m).map_err(e)?;
            }
            ActionKind::CrashMember => lab.crash_member(m).map_err(e)?,
            ActionKind::StopMember => lab.stop_member(m).map_err(e)?,
            ActionKind::StartMember => lab.start_member(m).map_err(e)?,
            ActionKind::StopPatroni => lab.pause_patroni(m, true).map_err(e)?,
            ActionKind::ContinuePatroni => lab.pause_patroni(m, false).map_err(e)?,
            _ => {}
        }
    }
    match kind {
        ActionKind::StopEtcd => lab.stop_etcd().map_err(e)?,
        ActionKind::StartEtcd => lab.start_etcd().map_err(e)?,
        _ => {}
    }
    Ok(if members.is_empty() {
        kind.name().to_string()
    } else {
        format!("{} {}", kind.name(), members.join(", "))
    })
}

async fn patroni_action(
    a: &ActionSpec,
    patronis: &[Patroni],
    cluster: Option<&Cluster>,
    members: &[String],
    candidate: Option<&str>,
) -> Result<String, String> {
    let p = patronis.first().ok_or("no Patroni to ask")?;
    let err = |e: crate::cluster::patroni::PatroniError| e.to_string();
    match a.kind {
        ActionKind::Switchover => {
            let leader = cluster
                .and_then(|c| c.leader())
                .map(|l| l.name.clone())
                .ok_or("no leader to switch over from")?;
            p.switchover(&leader, candidate).await.map_err(err)
        }
        ActionKind::Failover => p
            .failover(candidate.ok_or("failover needs a candidate")?)
            .await
            .map_err(err),
        ActionKind::Restart => {
            let mut out = Vec::new();
            for m in members {
                let url = cluster
                    .and_then(|c| c.member(m))
                    .and_then(|mm| mm.api_url.clone())
                    .ok_or_else(|| format!("no REST address for {m}"))?;
                let member = p.at(url.trim_end_matches("/patroni")).map_err(err)?;
                out.push(member.restart().await.map_err(err)?);
            }
            Ok(out.join("; "))
        }
        ActionKind::Patch => {
            let config = serde_json::to_value(a.config.clone().unwrap_or_default())
                .map_err(|e| e.to_string())?;
            p.patch_config(&config)
                .await
                .map(|_| "configuration patched".into())
                .map_err(err)
        }
        _ => Err(format!("{} is not a Patroni action", a.kind.name())),
    }
}

async fn shell(a: &ActionSpec) -> Result<String, String> {
    let command = a.command.clone().unwrap_or_default();
    let limit = Duration::from_secs(a.timeout.unwrap_or(60));
    let child = tokio::process::Command::new("sh")
        .args(["-c", &command])
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

type Summaries = (Vec<LeaderSeen>, Vec<SyncSeen>, Vec<PrimariesSeen>, u32);

/// Changes of leader and of synchronous standbys, and split-brain moments, from observations.
fn summarize(observations: &[Observation], rel: &dyn Fn(SystemTime) -> f64) -> Summaries {
    let mut leaders: Vec<LeaderSeen> = Vec::new();
    let mut syncs: Vec<SyncSeen> = Vec::new();
    let mut split = Vec::new();
    let mut max_primaries = 0;
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
    }
    (leaders, syncs, split, max_primaries)
}

/// The whole seconds in [from, to) without a commit.
fn empty_seconds(commits: &[f64], from: f64, to: f64) -> Vec<f64> {
    let mut empty = Vec::new();
    let mut s = from;
    while s + 1.0 <= to + 1e-9 {
        if !commits.iter().any(|&t| t >= s && t < s + 1.0) {
            empty.push(s);
        }
        s += 1.0;
    }
    empty
}

struct Facts<'a> {
    audit: &'a AuditCounts,
    /// Times of acknowledged commits, seconds since the load started.
    commits: &'a [f64],
    gap: Gap,
    leaders: &'a [LeaderSeen],
    syncs: &'a [SyncSeen],
    failed: u64,
    max_primaries: u32,
    writes_after_last_fault: Option<bool>,
}

fn judge(e: &Expect, f: &Facts<'_>) -> Vec<Check> {
    let mut checks = Vec::new();
    let mut add = |check: &str, expected: String, observed: String, passed: bool| {
        checks.push(Check {
            check: check.into(),
            expected,
            observed,
            passed,
        })
    };
    if let Some(max) = e.lost {
        add(
            "lost acknowledged commits",
            format!("at most {max}"),
            f.audit.lost.to_string(),
            f.audit.lost <= max,
        );
    }
    if let Some(max) = e.max_write_gap {
        add(
            "longest write gap",
            format!("at most {max} s"),
            format!("{:.1} s", f.gap.seconds),
            f.gap.seconds <= max,
        );
    }
    if let Some(min) = e.min_write_gap {
        add(
            "longest write gap",
            format!("at least {min} s"),
            format!("{:.1} s", f.gap.seconds),
            f.gap.seconds >= min,
        );
    }
    if let Some(want) = e.writes_after_faults {
        let seen = f.writes_after_last_fault.unwrap_or(false);
        add(
            "commits after the last fault",
            want.to_string(),
            seen.to_string(),
            seen == want,
        );
    }
    if let Some(want) = e.leader_changes {
        let first = f.leaders.iter().find_map(|l| l.leader.clone());
        let changed = f
            .leaders
            .iter()
            .filter_map(|l| l.leader.as_ref())
            .any(|l| Some(l) != first.as_ref());
        add(
            "leader changes",
            want.to_string(),
            changed.to_string(),
            changed == want,
        );
    }
    if let Some(want) = e.sync_standby_changes {
        let first: Vec<String> = f
            .syncs
            .first()
            .map(|s| s.sync_standbys.clone())
            .unwrap_or_default();
        let changed = f
            .syncs
            .iter()
            .flat_map(|s| &s.sync_standbys)
            .any(|n| !first.contains(n));
        add(
            "another member becomes synchronous standby",
            want.to_string(),
            changed.to_string(),
            changed == want,
        );
    }
    if let Some(want) = e.failures {
        add(
            "transactions fail",
            want.to_string(),
            format!("{} failed", f.failed),
            (f.failed > 0) == want,
        );
    }
    if let Some([from, to]) = e.writes_between {
        let empty = empty_seconds(f.commits, from, to);
        add(
            "a commit in every second",
            format!("from {from} s to {to} s"),
            if empty.is_empty() {
                "every second".into()
            } else {
                format!(
                    "none in the seconds from {}",
                    empty
                        .iter()
                        .map(|s| format!("{s}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            },
            empty.is_empty(),
        );
    }
    if let Some([from, to]) = e.no_writes_between {
        let n = f.commits.iter().filter(|&&t| t >= from && t <= to).count();
        add(
            "no commit",
            format!("from {from} s to {to} s"),
            format!("{n} commits"),
            n == 0,
        );
    }
    if let Some(max) = e.max_primaries {
        add(
            "members claiming primary at once",
            format!("at most {max}"),
            f.max_primaries.to_string(),
            f.max_primaries <= max,
        );
    }
    checks
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::control::SyncMode;

    fn obs(secs: u64, leader: &str, tl: u64, sync: &[&str], primaries: &[&str]) -> Observation {
        Observation {
            at: SystemTime::UNIX_EPOCH + Duration::from_secs(secs),
            leader: Some(leader.into()),
            timeline: Some(tl),
            sync_standbys: sync.iter().map(|s| s.to_string()).collect(),
            primaries: primaries.iter().map(|s| s.to_string()).collect(),
            synchronous_standby_names: None,
        }
    }

    #[test]
    fn observations_become_changes_and_split_brain_moments() {
        let o = [
            obs(0, "n1", 1, &["n2"], &["n1"]),
            obs(1, "n1", 1, &["n2"], &["n1"]),
            obs(2, "n2", 2, &["n3"], &["n1", "n2"]),
            obs(3, "n2", 2, &["n3"], &["n2"]),
        ];
        let rel = |at: SystemTime| {
            at.duration_since(SystemTime::UNIX_EPOCH)
                .unwrap()
                .as_secs_f64()
        };
        let (leaders, syncs, split, max) = summarize(&o, &rel);
        assert_eq!(leaders.len(), 2);
        assert_eq!(leaders[1].leader.as_deref(), Some("n2"));
        assert_eq!(leaders[1].timeline, Some(2));
        assert_eq!(syncs.len(), 2);
        assert_eq!(split.len(), 1);
        assert_eq!(split[0].t, 2.0);
        assert_eq!(max, 2);
        let expect = Expect {
            leader_changes: Some(true),
            sync_standby_changes: Some(true),
            max_primaries: Some(1),
            lost: Some(0),
            ..Expect::default()
        };
        let audit = AuditCounts {
            lost: 0,
            ..AuditCounts::default()
        };
        let checks = judge(
            &expect,
            &Facts {
                audit: &audit,
                commits: &[0.5, 1.5, 2.5],
                gap: Gap {
                    seconds: 1.0,
                    from: 0.0,
                    to: 1.0,
                },
                leaders: &leaders,
                syncs: &syncs,
                failed: 0,
                max_primaries: max,
                writes_after_last_fault: Some(true),
            },
        );
        let failed: Vec<&str> = checks
            .iter()
            .filter(|c| !c.passed)
            .map(|c| c.check.as_str())
            .collect();
        assert_eq!(failed, ["members claiming primary at once"]);
        assert_eq!(empty_seconds(&[0.5, 1.5, 3.2], 0.0, 4.0), [2.0]);
        assert!(empty_seconds(&[0.5, 1.5, 2.1, 3.9], 0.0, 4.0).is_empty());
    }

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

    #[test]
    fn settings_become_one_patch() {
        let s = ClusterSettings {
            synchronous_mode: Some(SyncMode::On),
            strict: Some(true),
            failsafe_mode: Some(true),
            synchronous_commit: Some(SyncCommit::RemoteApply),
            node_count: None,
        };
        assert_eq!(
            settings_patch(&s),
            json!({"synchronous_mode": true, "synchronous_mode_strict": true, "failsafe_mode": true,
                   "postgresql": {"parameters": {"synchronous_commit": "remote_apply"}}})
        );
    }
}
