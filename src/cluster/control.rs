//! Switching a Patroni cluster's synchronous settings, proving the switch is live on the
//! leader, and putting the saved configuration back.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::cluster::patroni::{Cluster, Patroni, PatroniError, Role};
use crate::pg::conn::{ConnError, Target};
use crate::pg::error;
use crate::pg::mode::SyncCommit;

/// Patroni's synchronous_mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum SyncMode {
    Off,
    On,
    Quorum,
}

impl SyncMode {
    fn to_json(self) -> Value {
        match self {
            SyncMode::Off => json!(false),
            SyncMode::On => json!(true),
            SyncMode::Quorum => json!("quorum"),
        }
    }

    /// Reads Patroni's value: true/false, "on"/"off", or "quorum".
    pub fn from_config(v: Option<&Value>) -> SyncMode {
        match v {
            Some(Value::Bool(true)) => SyncMode::On,
            Some(Value::String(s)) if s == "quorum" => SyncMode::Quorum,
            Some(Value::String(s)) if matches!(s.as_str(), "on" | "true" | "yes") => SyncMode::On,
            _ => SyncMode::Off,
        }
    }
}

/// The settings a change asks for; None leaves a setting as it is.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SyncChange {
    pub synchronous_commit: Option<SyncCommit>,
    pub synchronous_mode: Option<SyncMode>,
    pub strict: Option<bool>,
    pub node_count: Option<u32>,
}

impl SyncChange {
    /// These settings with `over`'s taking precedence.
    pub fn overridden_by(&self, over: &SyncChange) -> SyncChange {
        SyncChange {
            synchronous_commit: over.synchronous_commit.or(self.synchronous_commit),
            synchronous_mode: over.synchronous_mode.or(self.synchronous_mode),
            strict: over.strict.or(self.strict),
            node_count: over.node_count.or(self.node_count),
        }
    }

    pub fn is_empty(&self) -> bool {
        *self == SyncChange::default()
    }

    /// The PATCH /config body, as `patronictl edit-config` would write it.
    pub fn patch(&self) -> Value {
        let mut p = json!({});
        if let Some(m) = self.synchronous_commit {
            p["postgresql"] = json!({ "parameters": { "synchronous_commit": m.as_str() } });
        }
        if let Some(m) = self.synchronous_mode {
            p["synchronous_mode"] = m.to_json();
        }
        if let Some(s) = self.strict {
            p["synchronous_mode_strict"] = json!(s);
        }
        if let Some(n) = self.node_count {
            p["synchronous_node_count"] = json!(n);
        }
        p
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error(transparent)]
    Patroni(#[from] PatroniError),
    #[error(transparent)]
    Connect(#[from] ConnError),
    #[error("the cluster has no leader right now ({0}); wait for Patroni to elect one")]
    NoLeader(String),
    #[error("{what} did not become live on the leader within {secs} s: {last}")]
    NotLive {
        what: String,
        secs: u64,
        last: String,
    },
    #[error("cannot {what}: {reason}")]
    File { what: String, reason: String },
    #[error("no synchronous standby is attached to leader {leader}: {why}")]
    NoSyncStandby { leader: String, why: String },
    #[error("could not put Patroni's configuration back: {source}; run `{command}`")]
    NotPutBack {
        #[source]
        source: Box<ControlError>,
        command: String,
    },
}

/// What the leader showed once a change was live.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Live {
    pub leader: String,
    pub synchronous_commit: String,
    /// The value synchronous_commit takes when no configuration sets it (pg_settings boot_val).
    pub synchronous_commit_default: String,
    pub synchronous_standby_names: String,
    /// Standbys pg_stat_replication shows in sync or quorum state.
    pub sync_standbys: Vec<String>,
    /// Standbys pg_stat_replication shows streaming, whatever their sync state.
    #[serde(default)]
    pub streaming: Vec<String>,
    /// Where the session's synchronous_commit comes from (pg_settings.source): `database`,
    /// `user` or `database user` mean an ALTER ... SET that overrides the cluster's setting.
    #[serde(default)]
    pub synchronous_commit_source: String,
    /// synchronous_commit as the server's configuration sets it, which a session without an
    /// ALTER DATABASE/ROLE override runs under: what Patroni's changes are judged by.
    #[serde(default)]
    pub server_synchronous_commit: String,
    /// Seconds from the PATCH to the state being observed.
    pub took: f64,
}

/// The leader's PostgreSQL, with the connection settings of `base` (user, password, database).
pub async fn leader_target(
    patroni: &Patroni,
    base: &Target,
) -> Result<(String, Target), ControlError> {
    let cluster = patroni.cluster().await?;
    let leader = cluster.leader().ok_or_else(|| {
        ControlError::NoLeader(
            cluster
                .members
                .iter()
                .map(|m| format!("{} {}", m.name, m.state))
                .collect::<Vec<_>>()
                .join(", "),
        )
    })?;
    let host = leader.host.clone().unwrap_or_else(|| "127.0.0.1".into());
    let port = leader.port.unwrap_or(5432);
    Ok((leader.name.clone(), base.with_host(&host, port)))
}

/// PATCHes the change, then waits until the leader runs with it.
pub async fn apply(
    patroni: &Patroni,
    base: &Target,
    change: &SyncChange,
    timeout: Duration,
) -> Result<Live, ControlError> {
    let started = Instant::now();
    patroni.patch_config(&change.patch()).await?;
    wait_live(patroni, base, change, Seen::BySessions, started, timeout).await
}

/// Whose synchronous_commit a wait judges: the benchmark's sessions (in `base`'s database, as
/// its user) or the server's own configuration, which is what putting Patroni's back restores.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    BySessions,
    ByServer,
}

/// Waits until `SHOW synchronous_commit` on the leader equals the mode asked for and, with
/// synchronous_mode on or quorum, synchronous_standby_names is set and a standby streams in
/// sync or quorum state (with synchronous_mode off, synchronous_standby_names is empty).
pub async fn wait_live(
    patroni: &Patroni,
    base: &Target,
    change: &SyncChange,
    seen: Seen,
    started: Instant,
    timeout: Duration,
) -> Result<Live, ControlError> {
    let deadline = started + timeout;
    let mut last;
    loop {
        match observe(patroni, base).await {
            Ok(live) => match unmet(&live, change, seen, patroni).await {
                None => {
                    return Ok(Live {
                        took: started.elapsed().as_secs_f64(),
                        ..live
                    });
                }
                Some(why) => last = why,
            },
            Err(e) => last = e.to_string(),
        }
        if Instant::now() >= deadline {
            return Err(ControlError::NotLive {
                what: describe(change),
                secs: timeout.as_secs(),
                last,
            });
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn unmet(live: &Live, change: &SyncChange, seen: Seen, patroni: &Patroni) -> Option<String> {
    if let Some(m) = change.synchronous_commit
        && seen == Seen::ByServer
        && SyncCommit::from_server(&live.server_synchronous_commit) != Some(m)
    {
        return Some(format!(
            "the server's synchronous_commit is {}",
            live.server_synchronous_commit
        ));
    }
    if let Some(m) = change.synchronous_commit
        && seen == Seen::BySessions
        && SyncCommit::from_server(&live.synchronous_commit) != Some(m)
    {
        if live.overridden() {
            return Some(format!(
                "SHOW synchronous_commit says {}, set for this {} (ALTER ... SET), which overrides Patroni's setting: RESET it there, or connect as another user or database",
                live.synchronous_commit, live.synchronous_commit_source
            ));
        }
        return Some(format!(
            "SHOW synchronous_commit says {}",
            live.synchronous_commit
        ));
    }
    let mode = match change.synchronous_mode {
        Some(m) => m,
        None => match patroni.config().await {
            Ok(c) => SyncMode::from_config(c.get("synchronous_mode")),
            Err(e) => return Some(e.to_string()),
        },
    };
    match mode {
        SyncMode::Off if !live.synchronous_standby_names.is_empty() => Some(format!(
            "synchronous_standby_names is still '{}'",
            live.synchronous_standby_names
        )),
        SyncMode::Off => None,
        SyncMode::On | SyncMode::Quorum => {
            if !live.synchronous_standby_names.is_empty() && !live.sync_standbys.is_empty() {
                return None;
            }
            // Without a standby that may be synchronous, an empty (or, strict, '*')
            // synchronous_standby_names is what Patroni does: the change is live as it can be.
            let candidates = match patroni.cluster().await {
                Ok(c) => sync_candidates(&c),
                Err(e) => return Some(e.to_string()),
            };
            if candidates.is_empty() {
                None
            } else if live.synchronous_standby_names.is_empty() {
                Some(format!(
                    "synchronous_standby_names is empty while {} stream",
                    candidates.join(", ")
                ))
            } else {
                Some(format!(
                    "no standby is in sync or quorum state in pg_stat_replication while {} stream",
                    candidates.join(", ")
                ))
            }
        }
    }
}

/// Members that stream and may become synchronous standbys (not tagged nosync).
pub fn sync_candidates(cluster: &Cluster) -> Vec<String> {
    cluster
        .members
        .iter()
        .filter(|m| m.role != Role::Leader && m.state == "streaming" && !m.is_nosync())
        .map(|m| m.name.clone())
        .collect()
}

/// How long a change may take to go live: Patroni applies it within a loop or two (loop_wait
/// seconds each), then PostgreSQL reloads. A few loops, at least 10 s.
pub fn settle_budget(config: &Value) -> Duration {
    let loop_wait = config
        .get("loop_wait")
        .and_then(Value::as_u64)
        .unwrap_or(10);
    Duration::from_secs((3 * loop_wait + 5).max(10))
}

/// The leader's settings once a synchronous standby is attached. Without synchronous_mode, or
/// with no standby that could become synchronous, it says so at once; while standbys stream
/// but Patroni has not made one synchronous yet, it waits up to `budget`.
pub async fn require_sync_standby(
    patroni: &Patroni,
    base: &Target,
    budget: Duration,
) -> Result<Live, ControlError> {
    let deadline = Instant::now() + budget;
    loop {
        let live = observe(patroni, base).await?;
        if !live.sync_standbys.is_empty() {
            return Ok(live);
        }
        let missing = |why: String| ControlError::NoSyncStandby {
            leader: live.leader.clone(),
            why,
        };
        let mode = SyncMode::from_config(patroni.config().await?.get("synchronous_mode"));
        if mode == SyncMode::Off {
            return Err(missing("Patroni's synchronous_mode is off".into()));
        }
        let cluster = patroni.cluster().await?;
        let candidates = sync_candidates(&cluster);
        if candidates.is_empty() {
            let others: Vec<String> = cluster
                .members
                .iter()
                .filter(|m| m.role != Role::Leader)
                .map(|m| {
                    let nosync = if m.is_nosync() { ", nosync" } else { "" };
                    format!("{} {}{nosync}", m.name, m.state)
                })
                .collect();
            return Err(missing(if others.is_empty() {
                "no other member is in the cluster".into()
            } else {
                format!(
                    "no standby that may be synchronous is streaming (members: {})",
                    others.join(", ")
                )
            }));
        }
        if Instant::now() >= deadline {
            return Err(missing(format!(
                "{} stream, but none became synchronous within {} s",
                candidates.join(", "),
                budget.as_secs()
            )));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn describe(change: &SyncChange) -> String {
    let mut parts = Vec::new();
    if let Some(m) = change.synchronous_commit {
        parts.push(format!("synchronous_commit={m}"));
    }
    if let Some(m) = change.synchronous_mode {
        parts.push(format!("synchronous_mode={}", m.to_json()));
    }
    if let Some(s) = change.strict {
        parts.push(format!("synchronous_mode_strict={s}"));
    }
    if let Some(n) = change.node_count {
        parts.push(format!("synchronous_node_count={n}"));
    }
    if parts.is_empty() {
        "the configuration".into()
    } else {
        parts.join(", ")
    }
}

/// The leader's synchronous settings as a fresh session sees them.
pub async fn observe(patroni: &Patroni, base: &Target) -> Result<Live, ControlError> {
    let (leader, target) = leader_target(patroni, base).await?;
    let client = crate::pg::pool::session(&target).await?;
    let sql_err = |e: tokio_postgres::Error| ControlError::NotLive {
        what: "reading the leader's settings".into(),
        secs: 0,
        last: error::describe(&e),
    };
    let row = client
        .query_one(
            "SELECT current_setting('synchronous_commit'), current_setting('synchronous_standby_names'),
                    coalesce((SELECT array_agg(application_name::text ORDER BY application_name)
                              FROM pg_stat_replication WHERE sync_state IN ('sync', 'quorum')), '{}'),
                    (SELECT boot_val FROM pg_settings WHERE name = 'synchronous_commit'),
                    coalesce((SELECT array_agg(application_name::text ORDER BY application_name)
                              FROM pg_stat_replication WHERE state = 'streaming'), '{}'),
                    (SELECT source FROM pg_settings WHERE name = 'synchronous_commit')",
            &[],
        )
        .await
        .map_err(sql_err)?;
    let mut live = Live {
        leader,
        synchronous_commit: row.get(0),
        synchronous_standby_names: row.get(1),
        sync_standbys: row.get(2),
        synchronous_commit_default: row.get(3),
        streaming: row.get(4),
        synchronous_commit_source: row.get(5),
        server_synchronous_commit: row.get(0),
        took: 0.0,
    };
    if live.overridden()
        && let Some(v) = server_setting(&target).await
    {
        live.server_synchronous_commit = v;
    }
    Ok(live)
}

/// synchronous_commit as the configuration files set it, when `target`'s database or role
/// overrides it: read in the maintenance database, where a database-level override does not
/// apply, or from pg_file_settings when a role-level one follows the user there. None when
/// neither can be read (no access): the session's value is then all there is to go by.
async fn server_setting(target: &Target) -> Option<String> {
    let client = crate::pg::pool::session(&target.with_dbname(MAINTENANCE_DB))
        .await
        .ok()?;
    let row = client
        .query_one(
            "SELECT current_setting('synchronous_commit'),
                    (SELECT source FROM pg_settings WHERE name = 'synchronous_commit')",
            &[],
        )
        .await
        .ok()?;
    let source: String = row.get(1);
    if !is_override(&source) {
        return Some(row.get(0));
    }
    let file = client
        .query_opt(
            "SELECT setting FROM pg_file_settings WHERE name = 'synchronous_commit' AND applied
             ORDER BY seqno DESC LIMIT 1",
            &[],
        )
        .await
        .ok()?;
    Some(match file {
        Some(r) => r.get(0),
        None => client
            .query_one(
                "SELECT boot_val FROM pg_settings WHERE name = 'synchronous_commit'",
                &[],
            )
            .await
            .ok()?
            .get(0),
    })
}

/// The database every PostgreSQL cluster has, as libpq tools use it for maintenance.
const MAINTENANCE_DB: &str = "postgres";

/// A pg_settings source that means ALTER DATABASE/ROLE ... SET, not the configuration.
fn is_override(source: &str) -> bool {
    matches!(source, "database" | "user" | "database user")
}

impl Live {
    /// The session's synchronous_commit comes from an ALTER DATABASE/ROLE ... SET.
    pub fn overridden(&self) -> bool {
        is_override(&self.synchronous_commit_source)
    }
}

/// The cluster's dynamic configuration saved before the first change, and put back at the end.
pub struct SavedConfig {
    pub path: PathBuf,
    pub config: Value,
    /// `synchronous_commit` as the leader ran before the change, when it was observed.
    pub synchronous_commit_before: Option<SyncCommit>,
}

impl SavedConfig {
    /// Reads the current configuration and writes it to `path` before anything changes.
    pub async fn save(
        patroni: &Patroni,
        base: &Target,
        path: &Path,
    ) -> Result<SavedConfig, ControlError> {
        let config = patroni.config().await?;
        let before = observe(patroni, base).await?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| ControlError::File {
                what: format!("create {}", dir.display()),
                reason: e.to_string(),
            })?;
        }
        crate::load::run_result::write_json_file(path, &config).map_err(|e| {
            ControlError::File {
                what: format!("save the Patroni configuration to {}", path.display()),
                reason: e.to_string(),
            }
        })?;
        Ok(SavedConfig {
            path: path.to_path_buf(),
            config,
            synchronous_commit_before: SyncCommit::from_server(&before.server_synchronous_commit),
        })
    }

    /// The command that puts this configuration back by hand, should pgsyncbench be killed.
    pub fn restore_command(&self, patroni: &Patroni) -> String {
        format!(
            "pgsyncbench cluster restore --patroni {} --from {}",
            patroni.url(),
            self.path.display()
        )
    }

    /// Puts the configuration back after pgsyncbench's changes, waiting up to `budget` for it
    /// to be live; the error names the command that does it by hand.
    pub async fn put_back(
        &self,
        patroni: &Patroni,
        base: &Target,
        budget: Duration,
    ) -> Result<Live, ControlError> {
        self.restore(patroni, base, budget)
            .await
            .map_err(|e| ControlError::NotPutBack {
                source: Box::new(e),
                command: self.restore_command(patroni),
            })
    }

    pub fn load(path: &Path) -> Result<SavedConfig, ControlError> {
        let fail = |reason: String| ControlError::File {
            what: format!("read a saved Patroni configuration from {}", path.display()),
            reason,
        };
        let text = std::fs::read_to_string(path).map_err(|e| fail(e.to_string()))?;
        let config: Value = serde_json::from_str(&text).map_err(|e| fail(e.to_string()))?;
        if !config.is_object() || config.get("loop_wait").is_none() && config.get("ttl").is_none() {
            return Err(fail(
                "it is not a Patroni dynamic configuration (no ttl or loop_wait)".into(),
            ));
        }
        Ok(SavedConfig {
            path: path.to_path_buf(),
            config,
            synchronous_commit_before: None,
        })
    }

    /// Writes the saved configuration back (PUT /config) and waits until the leader runs with
    /// its synchronous settings again. When the saved configuration does not set
    /// synchronous_commit, the leader must fall back to the value it had before the change, or
    /// (restoring from a file alone) to PostgreSQL's default.
    pub async fn restore(
        &self,
        patroni: &Patroni,
        base: &Target,
        timeout: Duration,
    ) -> Result<Live, ControlError> {
        let started = Instant::now();
        let configured = self
            .config
            .pointer("/postgresql/parameters/synchronous_commit")
            .and_then(Value::as_str)
            .and_then(SyncCommit::from_server)
            .or(self.synchronous_commit_before);
        let expected_commit = match configured {
            Some(m) => Some(m),
            None => {
                SyncCommit::from_server(&observe(patroni, base).await?.synchronous_commit_default)
            }
        };
        patroni.put_config(&self.config).await?;
        let expected = SyncChange {
            synchronous_commit: expected_commit,
            synchronous_mode: Some(SyncMode::from_config(self.config.get("synchronous_mode"))),
            ..SyncChange::default()
        };
        wait_live(patroni, base, &expected, Seen::ByServer, started, timeout).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patch_holds_only_what_changes() {
        let c = SyncChange {
            synchronous_commit: Some(SyncCommit::RemoteApply),
            ..Default::default()
        };
        assert_eq!(
            c.patch(),
            json!({"postgresql": {"parameters": {"synchronous_commit": "remote_apply"}}})
        );
        let c = SyncChange {
            synchronous_mode: Some(SyncMode::Quorum),
            strict: Some(true),
            node_count: Some(2),
            ..Default::default()
        };
        assert_eq!(
            c.patch(),
            json!({"synchronous_mode": "quorum", "synchronous_mode_strict": true, "synchronous_node_count": 2})
        );
        assert!(SyncChange::default().is_empty());
    }

    #[test]
    fn synchronous_mode_values_of_patroni_are_read() {
        assert_eq!(SyncMode::from_config(Some(&json!(true))), SyncMode::On);
        assert_eq!(
            SyncMode::from_config(Some(&json!("quorum"))),
            SyncMode::Quorum
        );
        assert_eq!(SyncMode::from_config(Some(&json!("on"))), SyncMode::On);
        assert_eq!(SyncMode::from_config(None), SyncMode::Off);
    }

    #[test]
    fn a_file_that_is_not_a_patroni_configuration_is_refused() {
        let dir = std::env::temp_dir().join(format!("saved-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("x.json");
        std::fs::write(&p, r#"{"schema": "pgsyncbench/run-result"}"#).unwrap();
        let Err(e) = SavedConfig::load(&p) else {
            panic!("accepted")
        };
        assert!(
            e.to_string()
                .contains("not a Patroni dynamic configuration"),
            "{e}"
        );
        std::fs::write(&p, r#"{"ttl": 30, "loop_wait": 10}"#).unwrap();
        assert!(SavedConfig::load(&p).is_ok());
        std::fs::remove_dir_all(dir).unwrap();
    }
}
