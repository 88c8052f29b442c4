//! Scenario files (workloads/scenarios/*.toml): cluster settings, a workload, timed actions
//! (faults), and what should happen. Everything is checked before anything runs.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::cluster::control::{SyncChange, SyncMode};
use crate::load::workload::{Builtin, Protocol};
use crate::pg::mode::SyncCommit;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub lab: LabShape,
    #[serde(default)]
    pub cluster: ClusterSettings,
    pub workload: WorkloadSpec,
    /// Seconds to wait after the load for the cluster to be whole again before the audit.
    #[serde(default = "default_settle")]
    pub settle: u64,
    #[serde(default)]
    pub actions: Vec<ActionSpec>,
    /// The scenario runs once per variant (each overriding cluster settings); once without.
    #[serde(default)]
    pub variants: Vec<Variant>,
    #[serde(default)]
    pub expect: Expect,
}

fn default_settle() -> u64 {
    90
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LabShape {
    #[serde(default = "default_nodes")]
    pub nodes: usize,
    /// Last nodes tagged nosync and nofailover (read replicas outside the failover pool).
    #[serde(default)]
    pub read_replicas: usize,
    /// Zones the members take in turn (etcd and this machine in the first), e.g. "a,b,c": the
    /// lab runs in network namespaces (root) and the network actions work.
    #[serde(default)]
    pub zones: Option<String>,
    /// Round trip between zones, in milliseconds.
    #[serde(default)]
    pub zone_rtt_ms: Option<f64>,
}

fn default_nodes() -> usize {
    3
}

impl Default for LabShape {
    fn default() -> Self {
        LabShape {
            nodes: default_nodes(),
            read_replicas: 0,
            zones: None,
            zone_rtt_ms: None,
        }
    }
}

/// Dynamic configuration set through Patroni before the load (and put back after): the
/// synchronous settings pgsyncbench switches everywhere, and failsafe_mode.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(from = "SettingsFile", into = "SettingsFile")]
pub struct ClusterSettings {
    pub sync: SyncChange,
    pub failsafe_mode: Option<bool>,
}

/// ClusterSettings as a scenario file spells them (flat, unknown keys refused).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct SettingsFile {
    synchronous_mode: Option<SyncMode>,
    strict: Option<bool>,
    node_count: Option<u32>,
    failsafe_mode: Option<bool>,
    synchronous_commit: Option<SyncCommit>,
}

impl From<SettingsFile> for ClusterSettings {
    fn from(f: SettingsFile) -> ClusterSettings {
        ClusterSettings {
            sync: SyncChange {
                synchronous_commit: f.synchronous_commit,
                synchronous_mode: f.synchronous_mode,
                strict: f.strict,
                node_count: f.node_count,
            },
            failsafe_mode: f.failsafe_mode,
        }
    }
}

impl From<ClusterSettings> for SettingsFile {
    fn from(s: ClusterSettings) -> SettingsFile {
        SettingsFile {
            synchronous_mode: s.sync.synchronous_mode,
            strict: s.sync.strict,
            node_count: s.sync.node_count,
            failsafe_mode: s.failsafe_mode,
            synchronous_commit: s.sync.synchronous_commit,
        }
    }
}

impl ClusterSettings {
    /// These settings with `over`'s taking precedence.
    pub fn overridden_by(&self, over: &ClusterSettings) -> ClusterSettings {
        ClusterSettings {
            sync: self.sync.overridden_by(&over.sync),
            failsafe_mode: over.failsafe_mode.or(self.failsafe_mode),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct WorkloadSpec {
    #[serde(default = "default_builtin")]
    pub builtin: Builtin,
    #[serde(default = "default_clients")]
    pub clients: usize,
    #[serde(default = "default_threads")]
    pub threads: usize,
    /// Seconds of load; actions happen within it.
    pub duration: u64,
    #[serde(default = "default_scale")]
    pub scale: i64,
    #[serde(default = "default_protocol")]
    pub protocol: Protocol,
}

fn default_builtin() -> Builtin {
    Builtin::TpcbLike
}
fn default_clients() -> usize {
    4
}
fn default_threads() -> usize {
    2
}
fn default_scale() -> i64 {
    1
}
fn default_protocol() -> Protocol {
    Protocol::Prepared
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ActionKind {
    /// kill -9 of the member's postmaster (lab).
    KillPostmaster,
    /// kill -9 of the member's Patroni and postmaster: the node crashes (lab).
    CrashMember,
    /// The member goes away until started: Patroni stopped (SIGSTOP), postmaster killed (lab).
    StopMember,
    /// Brings a stopped or crashed member back (lab).
    StartMember,
    /// SIGSTOP to the member's Patroni (lab).
    StopPatroni,
    /// SIGCONT to the member's Patroni (lab).
    ContinuePatroni,
    /// The DCS goes away (lab).
    StopEtcd,
    StartEtcd,
    /// POST /switchover to `candidate` (any healthy standby when absent).
    Switchover,
    /// POST /failover to `candidate`.
    Failover,
    /// POST /restart on the member.
    Restart,
    /// PATCH /config with `config`.
    Patch,
    /// A shell command, for faults on real clusters (`kubectl delete pod $PGSB_LEADER`); it sees
    /// `PGSB_LEADER` and `PGSB_MEMBERS` (src/scenario/actions.rs).
    Shell,
    /// Adds `rtt_ms` of round-trip time on the replication path (lab with relays).
    AddDelay,
    /// Removes the added round-trip time (lab).
    RemoveDelay,
    /// A member (`member`) or a zone (`zone`) reaches everything outside it more slowly:
    /// `delay_ms` more round trip, `bandwidth_kbit` at most, `loss` of the packets (lab with zones).
    Degrade,
    /// Undoes every degradation and partition: the zones' own round trips again (lab with zones).
    RestoreNetwork,
    /// A member or a zone is cut off from the others; its clients (this machine) stay attached
    /// unless `clients = false` (lab with zones).
    Partition,
    /// Ends every partition (lab with zones).
    Heal,
}

/// What an action does to the cluster, for the availability figures and the charts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Takes something away: its time is a fault.
    Fault,
    /// Brings back what an earlier action took away.
    Recovery,
    Neither,
}

/// Everything the scenario runner needs to know about an action besides doing it.
struct Traits {
    name: &'static str,
    /// Needs the lab's processes.
    lab_only: bool,
    /// Needs `member`.
    needs_member: bool,
    effect: Effect,
}

impl ActionKind {
    /// The one table of actions: adding one means a line here and its arm in
    /// src/scenario/actions.rs `perform`.
    fn traits(self) -> Traits {
        use Effect::*;
        let t = |name, lab_only, needs_member, effect| Traits {
            name,
            lab_only,
            needs_member,
            effect,
        };
        match self {
            ActionKind::KillPostmaster => t("kill-postmaster", true, true, Fault),
            ActionKind::CrashMember => t("crash-member", true, true, Fault),
            ActionKind::StopMember => t("stop-member", true, true, Fault),
            ActionKind::StartMember => t("start-member", true, true, Recovery),
            ActionKind::StopPatroni => t("stop-patroni", true, true, Fault),
            ActionKind::ContinuePatroni => t("continue-patroni", true, true, Recovery),
            ActionKind::StopEtcd => t("stop-etcd", true, false, Fault),
            ActionKind::StartEtcd => t("start-etcd", true, false, Recovery),
            ActionKind::Switchover => t("switchover", false, false, Fault),
            ActionKind::Failover => t("failover", false, false, Fault),
            ActionKind::Restart => t("restart", false, true, Fault),
            ActionKind::Patch => t("patch", false, false, Neither),
            ActionKind::Shell => t("shell", false, false, Fault),
            ActionKind::AddDelay => t("add-delay", true, false, Fault),
            ActionKind::RemoveDelay => t("remove-delay", true, false, Neither),
            ActionKind::Degrade => t("degrade", true, false, Fault),
            ActionKind::RestoreNetwork => t("restore-network", true, false, Recovery),
            ActionKind::Partition => t("partition", true, false, Fault),
            ActionKind::Heal => t("heal", true, false, Recovery),
        }
    }

    pub fn name(self) -> &'static str {
        self.traits().name
    }

    /// Needs the lab's processes.
    pub fn lab_only(self) -> bool {
        self.traits().lab_only
    }

    fn needs_member(self) -> bool {
        self.traits().needs_member
    }

    pub fn effect(self) -> Effect {
        self.traits().effect
    }

    /// Brings back what an earlier action took away.
    pub fn is_recovery(self) -> bool {
        self.effect() == Effect::Recovery
    }

    /// Takes something away (its time is a fault for the availability figures).
    pub fn is_fault(self) -> bool {
        self.effect() == Effect::Fault
    }
}

impl std::fmt::Display for ActionKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ActionSpec {
    /// Seconds after the load starts.
    pub at: f64,
    #[serde(rename = "do")]
    pub kind: ActionKind,
    /// leader, sync_standby, replica, standby (one non-leader), standbys (all non-leaders),
    /// sync_candidates (non-leaders not tagged nosync), a member's name, or @label (the
    /// members an earlier action chose).
    pub member: Option<String>,
    /// Names the chosen members for later actions (`member = "@label"`).
    pub label: Option<String>,
    pub candidate: Option<String>,
    /// For `patch`: the dynamic configuration change.
    pub config: Option<toml::Table>,
    /// For `shell`.
    pub command: Option<String>,
    /// For `shell`: seconds before the command is killed.
    pub timeout: Option<u64>,
    /// For `add-delay`: the round-trip time to add, in milliseconds.
    pub rtt_ms: Option<f64>,
    /// For `degrade` and `partition`: a zone instead of a member.
    pub zone: Option<String>,
    /// For `degrade`: round trip added to the zones' own, in milliseconds.
    pub delay_ms: Option<f64>,
    /// For `degrade`: the most each direction carries, in kilobits per second.
    pub bandwidth_kbit: Option<u64>,
    /// For `degrade`: the share of packets lost (0 to 1).
    pub loss: Option<f64>,
    /// For `partition`: whether this machine (the load's clients) stays attached (default true).
    pub clients: Option<bool>,
}

impl ActionSpec {
    /// A network action's target: a member selector or a zone, not both.
    pub fn network_target(&self) -> Option<NetTarget<'_>> {
        match (&self.member, &self.zone) {
            (Some(m), None) => Some(NetTarget::Member(m)),
            (None, Some(z)) => Some(NetTarget::Zone(z)),
            _ => None,
        }
    }
}

/// What a network action applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NetTarget<'a> {
    Member(&'a str),
    Zone(&'a str),
}

/// The network actions.
fn is_network(kind: ActionKind) -> bool {
    matches!(
        kind,
        ActionKind::Degrade | ActionKind::RestoreNetwork | ActionKind::Partition | ActionKind::Heal
    )
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Variant {
    pub label: String,
    #[serde(default)]
    pub cluster: ClusterSettings,
    /// Replaces the scenario's expectations for this variant when given.
    pub expect: Option<Expect>,
}

/// What should happen; each given key is checked and reported as passed or failed.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// Acknowledged commits lost, at most.
    pub lost: Option<u64>,
    /// Longest window without a commit, at most (seconds).
    pub max_write_gap: Option<f64>,
    /// Longest window without a commit, at least (seconds): writes must block.
    pub min_write_gap: Option<f64>,
    /// Commits happen after the last fault.
    pub writes_after_faults: Option<bool>,
    /// The leader changes (true) or stays (false).
    pub leader_changes: Option<bool>,
    /// Another member becomes synchronous standby (true) or none does (false).
    pub sync_standby_changes: Option<bool>,
    /// Some transactions fail (true) or none do (false).
    pub failures: Option<bool>,
    /// At most this many members claim to be primary at one moment.
    pub max_primaries: Option<u32>,
    /// Every second of this window [from, to] (seconds since the load started) has a commit.
    pub writes_between: Option<[f64; 2]>,
    /// No commit at all in this window [from, to].
    pub no_writes_between: Option<[f64; 2]>,
    /// Some standby's replication lag (Patroni's view) went beyond this many bytes (true) or
    /// stayed within it (false): give `lag_bytes` with it.
    pub lag_beyond: Option<bool>,
    pub lag_bytes: Option<u64>,
    /// Patroni logged why it would not promote a member (true) or never did (false).
    pub promotion_refused: Option<bool>,
    /// Acknowledged commits lost, at least (what asynchronous replication is shown to lose).
    pub lost_at_least: Option<u64>,
    /// A member was rewound with pg_rewind when it rejoined (true) or none was (false).
    pub rewound: Option<bool>,
}

#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    #[error("cannot read scenario {file}: {reason}")]
    Read { file: String, reason: String },
    #[error("invalid scenario {file}: {reason}")]
    Invalid { file: String, reason: String },
}

/// The roles a member selector may name.
pub const ROLE_SELECTORS: [&str; 6] = [
    "leader",
    "sync_standby",
    "replica",
    "standby",
    "standbys",
    "sync_candidates",
];

impl Scenario {
    pub fn load(path: &Path) -> Result<Scenario, SpecError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| SpecError::Read {
            file: file.clone(),
            reason: e.to_string(),
        })?;
        let s: Scenario = toml::from_str(&text).map_err(|e| SpecError::Invalid {
            file: file.clone(),
            reason: crate::sweep::plan::describe_toml_error(&e, &text),
        })?;
        s.check(&file)?;
        Ok(s)
    }

    /// Checks what can be checked without a cluster.
    pub fn check(&self, file: &str) -> Result<(), SpecError> {
        let invalid = |reason: String| SpecError::Invalid {
            file: file.to_string(),
            reason,
        };
        let w = &self.workload;
        if w.duration == 0
            || w.clients == 0
            || w.threads == 0
            || w.threads > w.clients
            || w.scale < 1
        {
            return Err(invalid(
                "[workload] needs duration > 0, clients >= threads >= 1 and scale >= 1".into(),
            ));
        }
        if !w.builtin.writes() {
            return Err(invalid(format!(
                "[workload] builtin {} does not write: the durability audit needs a write workload",
                w.builtin.name()
            )));
        }
        if let Some(z) = &self.lab.zones {
            let rtt: Vec<String> = self.lab.zone_rtt_ms.iter().map(|r| r.to_string()).collect();
            if let Err(e) = crate::lab::Zones::parse(z, self.lab.nodes, &rtt, None, None) {
                return Err(invalid(format!("[lab] zones: {e}")));
            }
        }
        if !(2..=9).contains(&self.lab.nodes) || self.lab.read_replicas + 2 > self.lab.nodes {
            return Err(invalid(
                "[lab] needs 2 to 9 nodes, of which at least 2 are not read replicas".into(),
            ));
        }
        for (label, _, e) in self.runs() {
            if e.lag_beyond.is_some() != e.lag_bytes.is_some() {
                return Err(invalid(format!(
                    "variant {label}: `lag_beyond` and `lag_bytes` go together (lag_beyond = true, lag_bytes = 1048576)"
                )));
            }
        }
        let mut labels: Vec<&str> = Vec::new();
        for (i, a) in self.actions.iter().enumerate() {
            let n = i + 1;
            let name = a.kind.name();
            if !(0.0..=w.duration as f64).contains(&a.at) {
                return Err(invalid(format!(
                    "action {n} ({name}) at {} s is outside the {} s of load",
                    a.at, w.duration
                )));
            }
            if a.kind.needs_member() && a.member.is_none() {
                return Err(invalid(format!(
                    "action {n} ({name}) needs `member`: one of {}, a member's name, or @label",
                    ROLE_SELECTORS.join(", ")
                )));
            }
            if let Some(m) = &a.member {
                if let Some(label) = m.strip_prefix('@') {
                    if !labels.contains(&label) {
                        return Err(invalid(format!(
                            "action {n} ({name}) refers to @{label}, which no earlier action labels"
                        )));
                    }
                } else if m.is_empty() {
                    return Err(invalid(format!("action {n} ({name}) has an empty member")));
                }
            }
            if a.kind == ActionKind::Failover && a.candidate.is_none() {
                return Err(invalid(format!("action {n} (failover) needs `candidate`")));
            }
            if a.kind == ActionKind::Patch && a.config.is_none() {
                return Err(invalid(format!("action {n} (patch) needs `config`")));
            }
            if a.kind == ActionKind::AddDelay && !a.rtt_ms.is_some_and(|r| r.is_finite() && r > 0.0)
            {
                return Err(invalid(format!(
                    "action {n} (add-delay) needs `rtt_ms` above 0"
                )));
            }
            if is_network(a.kind) && self.lab.zones.is_none() {
                return Err(invalid(format!(
                    "action {n} ({name}) needs a lab in zones: add `zones = \"a,b,c\"` to [lab]"
                )));
            }
            if matches!(a.kind, ActionKind::Degrade | ActionKind::Partition)
                && a.network_target().is_none()
            {
                return Err(invalid(format!(
                    "action {n} ({name}) needs `member` or `zone` (one of them)"
                )));
            }
            if a.kind == ActionKind::Degrade
                && a.delay_ms.is_none()
                && a.bandwidth_kbit.is_none()
                && a.loss.is_none()
            {
                return Err(invalid(format!(
                    "action {n} (degrade) needs `delay_ms`, `bandwidth_kbit` or `loss`"
                )));
            }
            if a.delay_ms.is_some_and(|d| !(d.is_finite() && d >= 0.0))
                || a.loss.is_some_and(|l| !(0.0..=1.0).contains(&l))
                || a.bandwidth_kbit == Some(0)
            {
                return Err(invalid(format!(
                    "action {n} ({name}): delay_ms must be 0 or more, loss between 0 and 1, bandwidth_kbit above 0"
                )));
            }
            if a.kind == ActionKind::Shell && a.command.is_none() {
                return Err(invalid(format!("action {n} (shell) needs `command`")));
            }
            if let Some(l) = &a.label {
                labels.push(l);
            }
        }
        Ok(())
    }

    /// Whether the lab needs replication relays (a delay action).
    pub fn needs_relays(&self) -> bool {
        self.actions
            .iter()
            .any(|a| matches!(a.kind, ActionKind::AddDelay | ActionKind::RemoveDelay))
    }

    /// Lab-only actions, by position and name (refused against a cluster pgsyncbench did not start).
    pub fn lab_only_actions(&self) -> Vec<String> {
        self.actions
            .iter()
            .enumerate()
            .filter(|(_, a)| a.kind.lab_only())
            .map(|(i, a)| format!("action {} ({})", i + 1, a.kind.name()))
            .collect()
    }

    /// (label, settings, expectations) of each run.
    pub fn runs(&self) -> Vec<(String, ClusterSettings, Expect)> {
        if self.variants.is_empty() {
            return vec![("default".into(), self.cluster.clone(), self.expect.clone())];
        }
        self.variants
            .iter()
            .map(|v| {
                (
                    v.label.clone(),
                    self.cluster.overridden_by(&v.cluster),
                    v.expect.clone().unwrap_or_else(|| self.expect.clone()),
                )
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Scenario, String> {
        let s: Scenario = toml::from_str(text).map_err(|e| e.to_string())?;
        s.check("s.toml").map_err(|e| e.to_string())?;
        Ok(s)
    }

    const BASE: &str = "name = \"x\"\n[workload]\nduration = 30\n";

    #[test]
    fn a_minimal_scenario_takes_defaults() {
        let s = parse(BASE).unwrap();
        assert_eq!(s.workload.clients, 4);
        assert_eq!(s.lab.nodes, 3);
        assert_eq!(s.runs().len(), 1);
    }

    #[test]
    fn unknown_actions_and_keys_are_refused() {
        let e = parse(&format!("{BASE}[[actions]]\nat = 5\ndo = \"explode\"\n")).unwrap_err();
        assert!(e.contains("explode") && e.contains("crash-member"), "{e}");
        let e = parse(&format!(
            "{BASE}[[actions]]\nat = 5\ndo = \"stop-etcd\"\nmembr = \"x\"\n"
        ))
        .unwrap_err();
        assert!(e.contains("membr"), "{e}");
    }

    #[test]
    fn actions_are_checked_for_what_they_need() {
        let e = parse(&format!(
            "{BASE}[[actions]]\nat = 5\ndo = \"crash-member\"\n"
        ))
        .unwrap_err();
        assert!(e.contains("action 1 (crash-member) needs `member`"), "{e}");
        let e = parse(&format!("{BASE}[[actions]]\nat = 50\ndo = \"stop-etcd\"\n")).unwrap_err();
        assert!(e.contains("outside the 30 s"), "{e}");
        let e = parse(&format!(
            "{BASE}[[actions]]\nat = 5\ndo = \"start-member\"\nmember = \"@gone\"\n"
        ))
        .unwrap_err();
        assert!(e.contains("@gone"), "{e}");
        let ok = parse(&format!(
            "{BASE}[[actions]]\nat = 5\ndo = \"stop-member\"\nmember = \"leader\"\nlabel = \"old\"\n[[actions]]\nat = 9\ndo = \"start-member\"\nmember = \"@old\"\n"
        ));
        assert!(ok.is_ok(), "{ok:?}");
    }

    #[test]
    fn a_read_only_workload_cannot_be_audited() {
        let e = parse("name = \"x\"\n[workload]\nduration = 5\nbuiltin = \"select-only\"\n")
            .unwrap_err();
        assert!(e.contains("does not write"), "{e}");
    }

    #[test]
    fn variants_override_cluster_settings_and_expectations() {
        let s = parse(&format!(
            "{BASE}[cluster]\nsynchronous_mode = \"on\"\nsynchronous_commit = \"on\"\n[expect]\nlost = 0\n\
             [[variants]]\nlabel = \"sync\"\n[[variants]]\nlabel = \"async\"\ncluster = {{ synchronous_mode = \"off\" }}\nexpect = {{}}\n"
        ))
        .unwrap();
        let runs = s.runs();
        assert_eq!(runs.len(), 2);
        assert_eq!(runs[0].1.sync.synchronous_mode, Some(SyncMode::On));
        assert_eq!(runs[0].2.lost, Some(0));
        assert_eq!(runs[1].1.sync.synchronous_mode, Some(SyncMode::Off));
        assert_eq!(runs[1].1.sync.synchronous_commit, Some(SyncCommit::On));
        assert_eq!(runs[1].2.lost, None);
    }

    #[test]
    fn committed_scenarios_are_valid() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("workloads/scenarios");
        let mut n = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "toml") {
                Scenario::load(&path).unwrap();
                n += 1;
            }
        }
        assert!(n >= 5);
    }
}
