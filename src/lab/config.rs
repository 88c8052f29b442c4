//! The files a lab node runs from: Patroni's YAML, written from the lab's ports and timing.

use std::fmt::Write as _;
use std::path::Path;

/// Patroni timing: production-like defaults, or fast for tests and quick looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Timing {
    Default,
    Fast,
}

impl Timing {
    /// (ttl, loop_wait, retry_timeout), values Patroni honours as given: it raises a ttl under
    /// 20 s to 20 s and requires loop_wait + 2 * retry_timeout <= ttl. `lab up --help` and
    /// README quote them.
    pub fn values(self) -> (u32, u32, u32) {
        match self {
            Timing::Default => (30, 10, 10),
            Timing::Fast => (20, 1, 4),
        }
    }
}

pub struct NodeConfig<'a> {
    pub scope: &'a str,
    pub name: &'a str,
    pub dir: &'a Path,
    pub pg_bin: &'a Path,
    /// The address this node listens on and is reached at (loopback, or its lab network host).
    pub addr: &'a str,
    pub pg_port: u16,
    pub rest_port: u16,
    /// Where other members reach this node's PostgreSQL (its port, or a relay in front of it).
    pub connect_port: u16,
    /// etcd's client address and port.
    pub etcd_addr: &'a str,
    pub etcd_port: u16,
    /// The network trusted without a password (the lab's own: loopback, or its network range).
    pub trusted: &'a str,
    pub timing: Timing,
    /// A read replica outside the failover pool: tagged nosync and nofailover.
    pub read_replica: bool,
}

/// Patroni's configuration for one node. Trust authentication on the lab's own network only
/// (loopback, or the range of its network namespaces): the lab holds no password anywhere. synchronous_commit stays out of the local parameters so that the
/// dynamic configuration (PATCH /config) decides it.
pub fn patroni_yaml(c: &NodeConfig<'_>) -> String {
    let (ttl, loop_wait, retry_timeout) = c.timing.values();
    let dir = c.dir.display();
    let mut y = String::new();
    let _ = write!(
        y,
        r#"scope: {scope}
name: {name}

restapi:
  listen: {addr}:{rest}
  connect_address: {addr}:{rest}

etcd3:
  hosts: {etcd_addr}:{etcd}

bootstrap:
  dcs:
    ttl: {ttl}
    loop_wait: {loop_wait}
    retry_timeout: {retry_timeout}
    maximum_lag_on_failover: 1048576
    synchronous_mode: true
    synchronous_mode_strict: false
    synchronous_node_count: 1
    failsafe_mode: false
    postgresql:
      use_pg_rewind: true
      use_slots: true
      parameters:
        max_connections: 200
        wal_level: replica
        hot_standby: "on"
        max_wal_senders: 10
        max_replication_slots: 10
        wal_keep_size: 256MB
        wal_log_hints: "on"
  initdb:
    - encoding: UTF8
    - locale: C
  pg_hba:
    - local all all trust
    - host all all 127.0.0.1/32 trust
    - host replication all 127.0.0.1/32 trust
    - host all all {trusted} trust
    - host replication all {trusted} trust

postgresql:
  listen: {addr}:{pg}
  connect_address: {addr}:{connect}
  data_dir: {dir}/data
  bin_dir: {bin}
  pgpass: {dir}/pgpass
  authentication:
    superuser:
      username: postgres
    replication:
      username: replicator
    rewind:
      username: postgres
  parameters:
    unix_socket_directories: {dir}
    logging_collector: "on"
    log_directory: {dir}/pglog
    log_min_messages: warning

tags:
  nofailover: {read_replica}
  noloadbalance: false
  clonefrom: false
  nosync: {read_replica}
{direct}"#,
        scope = c.scope,
        name = c.name,
        addr = c.addr,
        rest = c.rest_port,
        etcd_addr = c.etcd_addr,
        etcd = c.etcd_port,
        trusted = c.trusted,
        pg = c.pg_port,
        connect = c.connect_port,
        bin = c.pg_bin.display(),
        read_replica = c.read_replica,
        // Replication goes through a relay: sessions of the harness go to PostgreSQL itself.
        direct = if c.connect_port == c.pg_port {
            String::new()
        } else {
            format!(
                "  {}: {}\n",
                crate::cluster::patroni::DIRECT_PORT_TAG,
                c.pg_port
            )
        },
    );
    y
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(timing: Timing) -> String {
        patroni_yaml(&NodeConfig {
            scope: "lab",
            name: "node2",
            dir: Path::new("/tmp/lab/node2"),
            pg_bin: Path::new("/usr/lib/postgresql/15/bin"),
            addr: "127.0.0.1",
            pg_port: 6001,
            rest_port: 7001,
            connect_port: 6101,
            etcd_addr: "127.0.0.1",
            etcd_port: 5001,
            trusted: "127.0.0.1/32",
            timing,
            read_replica: false,
        })
    }

    #[test]
    fn timing_is_what_patroni_keeps_in_force() {
        for t in [Timing::Default, Timing::Fast] {
            let (ttl, loop_wait, retry_timeout) = t.values();
            let asked = crate::cluster::patroni::Timing {
                ttl: ttl.into(),
                loop_wait: loop_wait.into(),
                retry_timeout: retry_timeout.into(),
            };
            assert_eq!(asked.adjusted(), asked, "{t:?}");
        }
        assert!(node(Timing::Fast).contains("loop_wait: 1\n"));
        assert!(node(Timing::Default).contains("ttl: 30\n"));
    }

    #[test]
    fn synchronous_commit_is_left_to_the_dynamic_configuration() {
        let y = node(Timing::Fast);
        assert!(!y.contains("synchronous_commit"));
        assert!(y.contains("synchronous_mode: true"));
    }

    #[test]
    fn ports_and_paths_land_where_they_belong() {
        let y = node(Timing::Fast);
        assert!(y.contains("listen: 127.0.0.1:6001"));
        assert!(y.contains("connect_address: 127.0.0.1:6101"));
        assert!(y.contains("hosts: 127.0.0.1:5001"));
        assert!(y.contains("data_dir: /tmp/lab/node2/data"));
        assert!(!y.contains("password"));
    }
}
