//! `cluster status` and `lab status`: members, synchronous settings and versions, as a
//! patronictl-style table or as JSON.

use std::fmt::Write as _;

use serde::Serialize;
use serde_json::Value;

use crate::cluster::control::{self, Live, SyncMode};
use crate::cluster::patroni::{Cluster, Lag, Member, Patroni, PatroniError};
use crate::pg::conn::Target;

#[derive(Debug, Clone, Serialize)]
pub struct ClusterStatus {
    pub patroni_url: String,
    pub scope: Option<String>,
    pub patroni_version: String,
    pub postgres_version: Option<String>,
    pub members: Vec<Member>,
    pub synchronous_mode: SyncMode,
    pub synchronous_mode_strict: bool,
    pub synchronous_node_count: u64,
    /// What the leader runs with, read over SQL; None when that failed (see `leader_error`).
    pub leader: Option<Live>,
    pub leader_error: Option<String>,
}

pub async fn gather(patroni: &Patroni, base: &Target) -> Result<ClusterStatus, PatroniError> {
    let node = patroni.status().await?;
    let cluster: Cluster = patroni.cluster().await?;
    let config = patroni.config().await?;
    let (leader, leader_error) = match control::observe(patroni, base).await {
        Ok(live) => (Some(live), None),
        Err(e) => (None, Some(e.to_string())),
    };
    Ok(ClusterStatus {
        patroni_url: patroni.url().to_string(),
        scope: cluster.scope.clone().or(node.patroni.scope.clone()),
        patroni_version: node.patroni.version.clone(),
        postgres_version: node.server_version.map(version_text),
        members: cluster.members,
        synchronous_mode: SyncMode::from_config(config.get("synchronous_mode")),
        synchronous_mode_strict: config
            .get("synchronous_mode_strict")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        synchronous_node_count: config
            .get("synchronous_node_count")
            .and_then(Value::as_u64)
            .unwrap_or(1),
        leader,
        leader_error,
    })
}

/// 150018 -> "15.18" (PostgreSQL 10 and later).
pub fn version_text(num: u64) -> String {
    format!("{}.{}", num / 10000, num % 10000)
}

pub fn render(s: &ClusterStatus) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Cluster: {} (Patroni {}, PostgreSQL {}) via {}",
        s.scope.as_deref().unwrap_or("?"),
        s.patroni_version,
        s.postgres_version.as_deref().unwrap_or("?"),
        s.patroni_url
    );
    out.push_str(&members_table(&s.members));
    let mode = match s.synchronous_mode {
        SyncMode::Off => "off",
        SyncMode::On => "on",
        SyncMode::Quorum => "quorum",
    };
    let _ = writeln!(
        out,
        "synchronous_mode: {mode} (synchronous_mode_strict: {}, synchronous_node_count: {})",
        s.synchronous_mode_strict, s.synchronous_node_count
    );
    match (&s.leader, &s.leader_error) {
        (Some(l), _) => {
            let _ = writeln!(
                out,
                "synchronous_commit: {} (live on leader {})",
                l.synchronous_commit, l.leader
            );
            let _ = writeln!(
                out,
                "synchronous_standby_names: '{}'",
                l.synchronous_standby_names
            );
            let _ = writeln!(
                out,
                "streaming synchronous standbys: {}",
                if l.sync_standbys.is_empty() {
                    "none".into()
                } else {
                    l.sync_standbys.join(", ")
                }
            );
        }
        (None, Some(e)) => {
            let _ = writeln!(out, "leader settings: unknown ({e})");
        }
        (None, None) => {}
    }
    out
}

/// patronictl list's table: Member, Host, Role, State, TL, Lag in MB.
pub fn members_table(members: &[Member]) -> String {
    let rows: Vec<[String; 6]> = members
        .iter()
        .map(|m| {
            [
                m.name.clone(),
                match (&m.host, m.port) {
                    (Some(h), Some(p)) => format!("{h}:{p}"),
                    (Some(h), None) => h.clone(),
                    _ => String::new(),
                },
                m.role.label().to_string(),
                m.state.clone(),
                m.timeline.map(|t| t.to_string()).unwrap_or_default(),
                match m.lag {
                    Lag::Bytes(b) => format!("{}", b / (1024 * 1024)),
                    Lag::Unknown => "unknown".into(),
                    Lag::None => String::new(),
                },
            ]
        })
        .collect();
    let header = ["Member", "Host", "Role", "State", "TL", "Lag in MB"];
    let mut widths = header.map(str::len);
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.len());
        }
    }
    let rule: String = widths
        .iter()
        .map(|w| format!("+{}", "-".repeat(w + 2)))
        .collect::<String>()
        + "+\n";
    let line = |cells: &[String]| -> String {
        cells
            .iter()
            .zip(widths)
            .enumerate()
            .map(|(i, (c, w))| {
                if i >= 4 {
                    format!("| {c:>w$} ")
                } else {
                    format!("| {c:<w$} ")
                }
            })
            .collect::<String>()
            + "|\n"
    };
    let mut out = rule.clone();
    out.push_str(&line(&header.map(String::from)));
    out.push_str(&rule);
    for r in &rows {
        out.push_str(&line(r));
    }
    out.push_str(&rule);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_read_as_people_write_them() {
        assert_eq!(version_text(150018), "15.18");
        assert_eq!(version_text(170002), "17.2");
    }

    #[test]
    fn members_table_matches_patronictl_layout() {
        let c: Cluster = serde_json::from_value(serde_json::json!({"members": [
            {"name": "node1", "role": "leader", "state": "running", "host": "127.0.0.1", "port": 5432, "timeline": 1},
            {"name": "node2", "role": "sync_standby", "state": "streaming", "host": "127.0.0.1", "port": 5433, "timeline": 1, "lag": 0},
            {"name": "node3", "role": "replica", "state": "stopped", "lag": "unknown"}
        ]}))
        .unwrap();
        let expected = "\
+--------+----------------+--------------+-----------+----+-----------+
| Member | Host           | Role         | State     | TL | Lag in MB |
+--------+----------------+--------------+-----------+----+-----------+
| node1  | 127.0.0.1:5432 | Leader       | running   |  1 |           |
| node2  | 127.0.0.1:5433 | Sync Standby | streaming |  1 |         0 |
| node3  |                | Replica      | stopped   |    |   unknown |
+--------+----------------+--------------+-----------+----+-----------+
";
        assert_eq!(members_table(&c.members), expected);
    }
}
