//! What a results manifest records about where a sweep ran: versions, members and roles, the
//! server settings that shape commit latency, and the host.

use std::collections::BTreeMap;

use tokio_postgres::Client;

use crate::cluster::patroni::Patroni;
use crate::sweep::folder::{ClusterIdentity, Environment, Harness, Member};

/// pg_settings that matter to commit latency and throughput.
pub const SETTINGS: &[&str] = &[
    "synchronous_commit",
    "synchronous_standby_names",
    "fsync",
    "full_page_writes",
    "wal_sync_method",
    "wal_level",
    "wal_buffers",
    "wal_writer_delay",
    "wal_compression",
    "commit_delay",
    "commit_siblings",
    "max_wal_size",
    "checkpoint_timeout",
    "checkpoint_completion_target",
    "shared_buffers",
    "effective_cache_size",
    "max_connections",
    "max_wal_senders",
    "hot_standby_feedback",
    "wal_receiver_status_interval",
];

pub fn harness() -> Harness {
    let rev = env!("PGSYNCBENCH_GIT_REVISION");
    Harness {
        version: env!("CARGO_PKG_VERSION").into(),
        git_revision: (!rev.is_empty()).then(|| rev.to_string()),
    }
}

/// Which cluster `client` is connected to, and through which Patroni.
pub async fn identify(client: &Client, patroni: Option<&Patroni>) -> ClusterIdentity {
    // pg_control_system() may be closed to unprivileged users: then the scope must do.
    let system_identifier = client
        .query_one(
            "SELECT system_identifier::text FROM pg_control_system()",
            &[],
        )
        .await
        .ok()
        .map(|r| r.get::<_, String>(0));
    let cluster = match patroni {
        Some(p) => p.cluster().await.ok(),
        None => None,
    };
    ClusterIdentity {
        system_identifier,
        scope: cluster.as_ref().and_then(|c| c.scope.clone()),
        patroni_url: patroni.map(|p| p.url().to_string()),
        members: cluster
            .map(|c| c.members.into_iter().map(|m| m.name).collect())
            .unwrap_or_default(),
    }
}

pub async fn capture(
    client: &Client,
    patroni: Option<&Patroni>,
    lab: bool,
) -> Result<Environment, tokio_postgres::Error> {
    let version: String = client.query_one("SHOW server_version", &[]).await?.get(0);
    let names: Vec<String> = SETTINGS.iter().map(|s| s.to_string()).collect();
    let rows = client
        .query(
            "SELECT name, setting || coalesce(' ' || unit, '') FROM pg_settings WHERE name = ANY($1) ORDER BY name",
            &[&names],
        )
        .await?;
    let settings: BTreeMap<String, String> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    let (patroni_version, members) = match patroni {
        Some(p) => {
            let version = p.status().await.ok().map(|s| s.patroni.version);
            let members = p
                .cluster()
                .await
                .map(|c| {
                    c.members
                        .into_iter()
                        .map(|m| Member {
                            name: m.name,
                            role: m.role.label().to_string(),
                            state: m.state,
                        })
                        .collect()
                })
                .unwrap_or_default();
            (version, members)
        }
        None => (None, Vec::new()),
    };
    Ok(Environment {
        postgres_version: version,
        patroni_version,
        patroni_url: patroni.map(|p| p.url().to_string()),
        lab,
        members,
        synchronous_standby_names: settings
            .get("synchronous_standby_names")
            .cloned()
            .unwrap_or_default(),
        settings,
        host_cpus: std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
        host_memory_bytes: memory_bytes(),
        host_os: std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|r| format!("Linux {}", r.trim()))
            .unwrap_or_else(|_| std::env::consts::OS.into()),
        cluster: Some(identify(client, patroni).await),
        network: None,
    })
}

fn memory_bytes() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

/// The command line with passwords replaced: URL user info and `password=` values.
pub fn redacted_command_line(args: impl IntoIterator<Item = String>) -> Vec<String> {
    args.into_iter().map(|a| redact_arg(&a)).collect()
}

fn redact_arg(arg: &str) -> String {
    let mut out = arg.to_string();
    // scheme://user:password@host
    if let Some(scheme_end) = out.find("://") {
        let rest = &out[scheme_end + 3..];
        if let Some(at) = rest.find('@') {
            let userinfo = &rest[..at];
            if let Some(colon) = userinfo.find(':') {
                let start = scheme_end + 3 + colon + 1;
                let end = scheme_end + 3 + at;
                out.replace_range(start..end, "***");
            }
        }
    }
    // key=value connection strings and URL query parameters
    for key in ["password=", "PASSWORD="] {
        let mut from = 0;
        while let Some(pos) = out[from..].find(key) {
            let start = from + pos + key.len();
            let end = out[start..]
                .find(|c: char| c.is_whitespace() || c == '&')
                .map(|e| start + e)
                .unwrap_or(out.len());
            out.replace_range(start..end, "***");
            from = start + 3;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_removed_from_command_lines() {
        let args = redacted_command_line(
            [
                "pgsyncbench",
                "sweep",
                "--patroni",
                "http://admin:s3cret@10.0.0.1:8008",
                "-d",
                "host=x password=hunter2 user=u",
                "postgresql://u:pw@h/db?password=again&sslmode=require",
            ]
            .map(String::from),
        );
        let joined = args.join(" ");
        for secret in ["s3cret", "hunter2", "again", ":pw@"] {
            assert!(!joined.contains(secret), "{joined}");
        }
        assert_eq!(args[3], "http://admin:***@10.0.0.1:8008");
        assert_eq!(args[5], "host=x password=*** user=u");
        assert_eq!(
            args[6],
            "postgresql://u:***@h/db?password=***&sslmode=require"
        );
    }
}
