//! The lab: a real etcd and N Patroni-managed PostgreSQL 15 nodes on loopback, each with its own
//! ports and folder under one directory, bootstrapped with `synchronous_mode: true` (leader,
//! sync standby, async replicas). `lab.json` in that directory records what runs where, so
//! `lab status` and `lab down` (and a later session) can find it.

pub mod config;
pub mod network;
pub mod process;
pub mod relay;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

pub use config::Timing;
use config::{NodeConfig, patroni_yaml};
pub use network::{NetState, Zones};
use process::{Owned, RunAs};

use crate::cluster::patroni::{Cluster, Patroni, PatroniError, Role};

pub const DEFAULT_DIR: &str = "/tmp/pgsyncbench-lab";
pub const SCOPE: &str = "pgsyncbench-lab";
const STATE_FILE: &str = "lab.json";
const PG_BIN_CANDIDATES: [&str; 1] = ["/usr/lib/postgresql/15/bin"];
const INSTALL_HINT: &str = "run scripts/install-deps.sh";

#[derive(Debug, thiserror::Error)]
pub enum LabError {
    #[error("{what} not found: {hint}")]
    Missing { what: String, hint: String },
    #[error(
        "a lab already runs in {0}: use `pgsyncbench lab status --dir {0}` or `pgsyncbench lab down --dir {0}`"
    )]
    AlreadyRunning(String),
    #[error("no lab in {0} (no {STATE_FILE}): start one with `pgsyncbench lab up --dir {0}`")]
    NotFound(String),
    #[error("{what}: {reason}")]
    Io { what: String, reason: String },
    #[error("{0}")]
    NotReady(String),
    #[error(transparent)]
    Patroni(#[from] PatroniError),
    #[error(transparent)]
    Net(#[from] crate::net::Error),
    #[error("the lab in {0} has no zones: start it with `lab up --zones a,b,c --zone-rtt MS`")]
    NoZones(String),
}

fn io_err(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> LabError {
    let what = what.into();
    move |e| LabError::Io {
        what,
        reason: e.to_string(),
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EtcdState {
    pub program: PathBuf,
    /// Where it listens: loopback, or its host in the lab network.
    #[serde(default = "loopback")]
    pub addr: String,
    #[serde(flatten)]
    pub process: Owned,
    pub client_port: u16,
    pub peer_port: u16,
    pub data_dir: PathBuf,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NodeState {
    pub name: String,
    /// The member's Patroni (which starts and stops its PostgreSQL).
    #[serde(flatten)]
    pub patroni: Owned,
    /// Where its PostgreSQL and Patroni listen: loopback, or its host in the lab network.
    #[serde(default = "loopback")]
    pub addr: String,
    pub pg_port: u16,
    pub rest_port: u16,
    pub dir: PathBuf,
    /// The relay other members replicate through, when the lab has relays.
    #[serde(default)]
    pub relay: Option<Relay>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Relay {
    pub port: u16,
    #[serde(flatten)]
    pub process: Owned,
}

fn loopback() -> String {
    LOOPBACK.into()
}

const LOOPBACK: &str = "127.0.0.1";

impl NodeState {
    pub fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }

    pub fn rest_url(&self) -> String {
        format!("http://{}:{}", self.addr, self.rest_port)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LabState {
    pub dir: PathBuf,
    pub scope: String,
    pub timing: Timing,
    pub pg_bin: PathBuf,
    pub patroni_program: PathBuf,
    /// The unprivileged user processes run as (when started by root).
    pub user: Option<String>,
    pub etcd: EtcdState,
    pub nodes: Vec<NodeState>,
    /// The round-trip time every relay adds, in milliseconds (when the lab has relays).
    #[serde(default)]
    pub rtt_file: Option<PathBuf>,
    /// The lab network, when the lab has zones.
    #[serde(default)]
    pub net: Option<NetState>,
}

#[derive(Debug, Clone)]
pub struct LabSpec {
    pub nodes: usize,
    pub dir: PathBuf,
    pub timing: Timing,
    /// How many of the last nodes are read replicas (tagged nosync and nofailover).
    pub read_replicas: usize,
    /// Replication goes through relays that can add a round-trip time (`Lab::set_rtt`).
    pub relays: bool,
    /// Members, etcd and this machine in zones with round trips between them (needs root).
    pub zones: Option<Zones>,
}

/// Programs the lab needs, found on this machine.
struct Programs {
    pg_bin: PathBuf,
    etcd: PathBuf,
    patroni: PathBuf,
}

fn find_programs() -> Result<Programs, LabError> {
    let pg_bin = std::env::var_os("PG_BIN")
        .map(PathBuf::from)
        .into_iter()
        .chain(PG_BIN_CANDIDATES.iter().map(PathBuf::from))
        .find(|d| d.join("postgres").is_file() && d.join("pg_ctl").is_file())
        .ok_or_else(|| LabError::Missing {
            what: "PostgreSQL 15 server binaries (/usr/lib/postgresql/15/bin or $PG_BIN)".into(),
            hint: format!("{INSTALL_HINT} (Debian package postgresql-15)"),
        })?;
    let etcd = process::find_program("ETCD", &["/usr/bin/etcd"], "etcd").ok_or_else(|| {
        LabError::Missing {
            what: "etcd".into(),
            hint: format!("{INSTALL_HINT} (Debian package etcd-server)"),
        }
    })?;
    let patroni = process::find_program(
        "PATRONI",
        &["/opt/pgsyncbench-patroni/bin/patroni"],
        "patroni",
    )
    .ok_or_else(|| LabError::Missing {
        what: "Patroni".into(),
        hint: format!("{INSTALL_HINT} (pip install 'patroni[etcd3]' psycopg2-binary into a venv of /usr/bin/python3)"),
    })?;
    Ok(Programs {
        pg_bin,
        etcd,
        patroni,
    })
}

pub struct Lab {
    pub state: LabState,
    user: Option<RunAs>,
}

impl Lab {
    /// Starts etcd and the nodes, and waits until the leader runs and a sync standby streams.
    /// On failure everything started is stopped again; logs stay in the folder.
    pub async fn up(spec: &LabSpec, progress: &mut dyn FnMut(&str)) -> Result<Lab, LabError> {
        if !(2..=9).contains(&spec.nodes) {
            return Err(LabError::NotReady(format!(
                "--nodes {}: a lab needs 2 to 9 nodes (a leader and at least one standby)",
                spec.nodes
            )));
        }
        if spec.relays && spec.zones.is_some() {
            return Err(LabError::NotReady(
                "--relays and --zones both add delay: zones put every process on its own host, so give only --zones".into(),
            ));
        }
        let programs = find_programs()?;
        let user = process::unprivileged_user().map_err(|e| LabError::Missing {
            what: "an unprivileged user".into(),
            hint: e,
        })?;
        let dir = &spec.dir;
        if let Ok(existing) = Lab::open(dir) {
            if existing.any_alive() {
                return Err(LabError::AlreadyRunning(dir.display().to_string()));
            }
            existing.down(false)?;
        } else if dir.exists()
            && std::fs::read_dir(dir)
                .map(|mut d| d.next().is_some())
                .unwrap_or(false)
        {
            return Err(LabError::Io {
                what: format!("lab folder {}", dir.display()),
                reason: "exists and is not empty; choose another --dir or remove it".into(),
            });
        }
        std::fs::create_dir_all(dir).map_err(io_err(format!("cannot create {}", dir.display())))?;
        let dir = dir
            .canonicalize()
            .map_err(io_err(format!("cannot resolve {}", dir.display())))?;

        let names: Vec<String> = (1..=spec.nodes).map(|i| format!("node{i}")).collect();
        // With zones every process has a host of its own, so the usual ports; on loopback, free
        // ports: etcd client and peer, then PostgreSQL, REST and relay per node.
        let net = match &spec.zones {
            Some(zones) => {
                progress(&format!("starting the lab network: {}", zones.describe()));
                Some(network::start(&dir.join("net"), zones, &names)?)
            }
            None => None,
        };
        let ports: Vec<u16> = if net.is_some() {
            let mut p = vec![2379, 2380];
            for _ in 0..spec.nodes {
                p.extend([5432, 8008, 0]);
            }
            p
        } else {
            let listeners: Vec<_> = (0..2 + 3 * spec.nodes)
                .map(|_| process::reserve_port())
                .collect::<Result<_, _>>()
                .map_err(io_err("cannot find free loopback ports"))?;
            listeners
                .iter()
                .map(|l| l.local_addr().map(|a| a.port()).unwrap_or(0))
                .collect()
        };
        let addr_of = |host: &str| -> String {
            net.as_ref()
                .and_then(|(_, n)| n.hosts.get(host).cloned())
                .unwrap_or_else(loopback)
        };
        let trusted = match &net {
            Some((_, n)) => {
                let first = n.hosts.values().next().cloned().unwrap_or_default();
                let octets: Vec<&str> = first.split('.').collect();
                format!("{}.{}.0.0/16", octets[0], octets.get(1).unwrap_or(&"0"))
            }
            None => "127.0.0.1/32".into(),
        };
        let etcd_addr = addr_of(network::ETCD_HOST);

        let etcd_dir = dir.join("etcd");
        std::fs::create_dir_all(&etcd_dir).map_err(io_err("cannot create the etcd folder"))?;
        let mut nodes = Vec::new();
        for (i, name) in names.iter().cloned().enumerate() {
            let addr = addr_of(&name);
            let node_dir = dir.join(&name);
            std::fs::create_dir_all(node_dir.join("pglog"))
                .map_err(io_err(format!("cannot create {}", node_dir.display())))?;
            let (pg_port, rest_port) = (ports[2 + 3 * i], ports[3 + 3 * i]);
            let relay_port = ports[4 + 3 * i];
            let connect_port = if spec.relays { relay_port } else { pg_port };
            let yaml = patroni_yaml(&NodeConfig {
                scope: SCOPE,
                name: &name,
                dir: &node_dir,
                pg_bin: &programs.pg_bin,
                addr: &addr,
                pg_port,
                rest_port,
                connect_port,
                etcd_addr: &etcd_addr,
                etcd_port: ports[0],
                trusted: &trusted,
                timing: spec.timing,
                read_replica: i >= spec.nodes - spec.read_replicas.min(spec.nodes - 2),
            });
            std::fs::write(node_dir.join("patroni.yml"), yaml)
                .map_err(io_err("cannot write patroni.yml"))?;
            nodes.push(NodeState {
                name,
                patroni: Owned::default(),
                addr,
                pg_port,
                rest_port,
                dir: node_dir,
                relay: spec.relays.then_some(Relay {
                    port: relay_port,
                    process: Owned::default(),
                }),
            });
        }
        if let Some(u) = &user {
            process::chown_tree(&dir, u).map_err(io_err(format!(
                "cannot give {} to {}",
                dir.display(),
                u.name
            )))?;
        }
        let mut lab = Lab {
            state: LabState {
                dir: dir.clone(),
                scope: SCOPE.into(),
                timing: spec.timing,
                pg_bin: programs.pg_bin,
                patroni_program: programs.patroni,
                user: user.as_ref().map(|u| u.name.clone()),
                etcd: EtcdState {
                    program: programs.etcd,
                    addr: etcd_addr.clone(),
                    process: Owned::default(),
                    client_port: ports[0],
                    peer_port: ports[1],
                    data_dir: etcd_dir,
                },
                nodes,
                rtt_file: spec.relays.then(|| dir.join("relay-rtt-ms")),
                net: net.map(|(_, n)| n),
            },
            user,
        };
        match lab.start(progress).await {
            Ok(()) => Ok(lab),
            Err(e) => {
                let _ = lab.down(true);
                Err(e)
            }
        }
    }

    async fn start(&mut self, progress: &mut dyn FnMut(&str)) -> Result<(), LabError> {
        progress(&format!(
            "starting etcd on {}:{}",
            self.state.etcd.addr, self.state.etcd.client_port
        ));
        self.start_etcd()?;
        self.save()?;
        self.wait_for_etcd().await?;
        self.start_relays()?;
        for i in 0..self.state.nodes.len() {
            let node = &self.state.nodes[i];
            progress(&format!(
                "starting {} (PostgreSQL {}:{}, Patroni REST {}:{})",
                node.name, node.addr, node.pg_port, node.addr, node.rest_port
            ));
            self.state.nodes[i].patroni = self.spawn_patroni(i)?;
            self.save()?;
            if i == 0 {
                // node1 bootstraps the cluster and leads it, so the leader's place (its zone)
                // is known: the others start once it runs.
                self.wait_leader(&self.state.nodes[0].name.clone()).await?;
            }
        }
        progress("waiting for a leader and a streaming synchronous standby");
        self.wait_ready().await?;
        if let (Some(router), Some(net)) = (self.router()?, &self.state.net) {
            let measured = network::measure(&router, net)?;
            for m in &measured {
                progress(&format!(
                    "round trip {}-{} ({} ↔ {}): {:.3} ms measured (p99 {:.3}), {} ms configured",
                    m.a, m.b, m.hosts.0, m.hosts.1, m.p50_ms, m.p99_ms, m.configured_ms
                ));
            }
            if let Some(n) = self.state.net.as_mut() {
                n.measured = measured;
            }
            self.save()?;
        }
        Ok(())
    }

    /// Starts a relay in front of each node's PostgreSQL (when the lab has relays). Relays run as
    /// this program (`pgsyncbench lab relay`), as the invoking user: they need no privilege.
    fn start_relays(&mut self) -> Result<(), LabError> {
        let Some(rtt_file) = self.state.rtt_file.clone() else {
            return Ok(());
        };
        relay::write_rtt(&rtt_file, 0.0).map_err(io_err("cannot write the relay delay file"))?;
        let program =
            std::env::current_exe().map_err(io_err("cannot find the pgsyncbench program"))?;
        for i in 0..self.state.nodes.len() {
            let node = &self.state.nodes[i];
            let Some(r) = &node.relay else { continue };
            let listen = format!("127.0.0.1:{}", r.port);
            let to = format!("127.0.0.1:{}", node.pg_port);
            let words = [
                "lab",
                "relay",
                "--listen",
                &listen,
                "--to",
                &to,
                "--rtt-file",
            ];
            let mut args: Vec<&OsStr> = words.iter().map(OsStr::new).collect();
            args.push(rtt_file.as_os_str());
            let started = process::spawn_daemon(
                &program,
                &args,
                &self.state.dir,
                &node.dir.join("relay.log"),
                None,
                None,
            )
            .map_err(io_err("cannot start a replication relay"))?;
            if let Some(r) = self.state.nodes[i].relay.as_mut() {
                r.process = started;
            }
        }
        self.save()
    }

    /// Sets the round-trip time the relays add on the replication path (0 on a lab without
    /// relays is already so).
    pub fn set_rtt(&self, rtt_ms: f64) -> Result<(), LabError> {
        if let (Some(router), Some(net)) = (self.router()?, &self.state.net) {
            // Every pair of zones at this round trip.
            let zones = Zones {
                default_rtt_ms: rtt_ms,
                rtt: Vec::new(),
                ..net.zones.clone()
            };
            network::set_zone_rtts(&router, &zones)?;
            return Ok(());
        }
        if rtt_ms == 0.0 && self.state.rtt_file.is_none() {
            return Ok(());
        }
        let file = self.state.rtt_file.as_ref().ok_or_else(|| {
            LabError::NotReady(format!(
                "the lab in {} has no replication relays: start it with `lab up --relays`",
                self.state.dir.display()
            ))
        })?;
        relay::write_rtt(file, rtt_ms).map_err(io_err("cannot write the relay delay file"))?;
        // Relays read the file every 100 ms.
        std::thread::sleep(Duration::from_millis(250));
        Ok(())
    }

    /// A Patroni client for the lab (any member's REST API), with the relay ports mapped.
    pub fn patroni(&self) -> Patroni {
        self.patroni_of(&self.state.nodes[0])
    }

    /// Starts (or restarts, on the same data) the lab's etcd.
    pub fn start_etcd(&mut self) -> Result<(), LabError> {
        let e = &self.state.etcd;
        let client = format!("http://{}:{}", e.addr, e.client_port);
        let peer = format!("http://{}:{}", e.addr, e.peer_port);
        let cluster = format!("e0={peer}");
        let data = e.data_dir.join("data");
        let flags = [
            "--listen-client-urls",
            &client,
            "--advertise-client-urls",
            &client,
            "--listen-peer-urls",
            &peer,
            "--initial-advertise-peer-urls",
            &peer,
            "--initial-cluster",
            &cluster,
            "--name",
            "e0",
        ];
        let mut args: Vec<&OsStr> = flags.iter().map(OsStr::new).collect();
        args.extend([OsStr::new("--data-dir"), data.as_os_str()]);
        let host = self.host(network::ETCD_HOST)?;
        self.state.etcd.process = process::spawn_daemon(
            &e.program,
            &args,
            &e.data_dir,
            &e.data_dir.join("etcd.log"),
            self.user.as_ref(),
            host.as_ref(),
        )
        .map_err(io_err("cannot start etcd"))?;
        self.save()
    }

    async fn wait_for_etcd(&self) -> Result<(), LabError> {
        let url = format!(
            "http://{}:{}/health",
            self.state.etcd.addr, self.state.etcd.client_port
        );
        crate::pg::tls::ensure_provider();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()
            .map_err(|e| LabError::NotReady(e.to_string()))?;
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if !self.state.etcd.process.is_running() {
                return Err(self.died("etcd", &self.state.etcd.data_dir.join("etcd.log")));
            }
            if let Ok(r) = http.get(&url).send().await
                && r.status().is_success()
            {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        Err(LabError::NotReady(format!(
            "etcd did not become healthy within 30 s; see {}",
            self.state.etcd.data_dir.join("etcd.log").display()
        )))
    }

    fn died(&self, what: &str, log: &Path) -> LabError {
        let tail = std::fs::read_to_string(log)
            .ok()
            .and_then(|t| {
                t.lines()
                    .rev()
                    .find(|l| !l.trim().is_empty())
                    .map(str::to_string)
            })
            .unwrap_or_default();
        LabError::NotReady(format!(
            "{what} exited during start-up; last log line: {} (log: {})",
            crate::text::one_line(&tail),
            log.display()
        ))
    }

    /// Waits until `name` leads the cluster and its PostgreSQL runs.
    async fn wait_leader(&self, name: &str) -> Result<(), LabError> {
        let limit = Duration::from_secs(60);
        let deadline = Instant::now() + limit;
        let mut last = String::from("no answer from Patroni yet");
        while Instant::now() < deadline {
            let node = &self.state.nodes[self.node_index(name)?];
            if !node.patroni.is_running() {
                return Err(self.died(&format!("Patroni of {name}"), &node.dir.join("patroni.log")));
            }
            match self.patroni_of(node).cluster().await {
                Ok(c) => match c.leader() {
                    Some(l) if l.name == name && l.state == "running" => return Ok(()),
                    Some(l) => last = format!("leader {} is {}", l.name, l.state),
                    None => last = "no leader yet".into(),
                },
                Err(e) => last = e.to_string(),
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        Err(LabError::NotReady(format!(
            "{name} did not bootstrap the cluster within {} s: {last}; logs are in {}",
            limit.as_secs(),
            self.state.dir.display()
        )))
    }

    /// Waits until the leader runs, a synchronous standby streams and every member is up.
    pub async fn wait_ready(&self) -> Result<(), LabError> {
        let limit = match self.state.timing {
            Timing::Fast => Duration::from_secs(120),
            Timing::Default => Duration::from_secs(240),
        };
        let deadline = Instant::now() + limit;
        let mut last = String::from("no answer from Patroni yet");
        while Instant::now() < deadline {
            for node in &self.state.nodes {
                if !node.patroni.is_running() {
                    return Err(self.died(
                        &format!("Patroni of {}", node.name),
                        &node.dir.join("patroni.log"),
                    ));
                }
            }
            match self.cluster().await {
                Ok(c) => match readiness(&c, self.state.nodes.len()) {
                    Ok(()) => return Ok(()),
                    Err(why) => last = why,
                },
                Err(e) => last = e.to_string(),
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        Err(LabError::NotReady(format!(
            "the lab was not ready within {} s: {last}; logs are in {}",
            limit.as_secs(),
            self.state.dir.display()
        )))
    }

    /// The cluster as any live member's Patroni sees it.
    pub async fn cluster(&self) -> Result<Cluster, PatroniError> {
        let mut last = None;
        for node in self.state.nodes.iter().filter(|n| n.patroni.is_running()) {
            match self.patroni_of(node).cluster().await {
                Ok(c) => return Ok(c),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or(PatroniError::Unreachable {
            url: self.state.dir.display().to_string(),
            reason: "no Patroni process of the lab is running".into(),
        }))
    }

    pub fn patroni_of(&self, node: &NodeState) -> Patroni {
        Patroni::new(&node.rest_url(), None, Duration::from_secs(3))
            .expect("a loopback URL is valid")
    }

    /// The REST URL users are given: the first node's.
    pub fn patroni_url(&self) -> String {
        self.state.nodes[0].rest_url()
    }

    /// A `postgresql://` URL for the current leader.
    pub async fn leader_url(&self) -> Result<String, LabError> {
        let c = self.cluster().await?;
        let leader = c
            .leader()
            .ok_or_else(|| LabError::NotReady("the lab has no leader right now".into()))?;
        let node = self.state.nodes.iter().find(|n| n.name == leader.name);
        let port = leader
            .port
            .unwrap_or_else(|| node.map_or(5432, |n| n.pg_port));
        let host = leader
            .host
            .clone()
            .unwrap_or_else(|| node.map_or_else(loopback, |n| n.addr.clone()));
        Ok(format!("postgresql://postgres@{host}:{port}/postgres"))
    }

    /// The lab network, when the lab has zones.
    pub fn router(&self) -> Result<Option<crate::net::RouterClient>, LabError> {
        match &self.state.net {
            Some(n) => Ok(Some(crate::net::RouterClient::open(&n.dir)?)),
            None => Ok(None),
        }
    }

    /// The lab network host a process runs in (None on loopback).
    fn host(&self, name: &str) -> Result<Option<crate::net::Host>, LabError> {
        match self.router()? {
            Some(r) => Ok(Some(r.host(name)?)),
            None => Ok(None),
        }
    }

    fn network(&self) -> Result<(crate::net::RouterClient, &NetState), LabError> {
        match (self.router()?, &self.state.net) {
            (Some(r), Some(n)) => Ok((r, n)),
            _ => Err(LabError::NoZones(self.state.dir.display().to_string())),
        }
    }

    /// `place` reaches everything outside it more slowly (see `network::degrade`).
    pub fn degrade(
        &self,
        place: &network::Place,
        d: &network::Degradation,
    ) -> Result<(), LabError> {
        let (router, net) = self.network()?;
        Ok(network::degrade(&router, net, place, d)?)
    }

    /// `place` is cut off from everything outside it (its clients stay when `keep_clients`).
    pub fn partition(&self, place: &network::Place, keep_clients: bool) -> Result<(), LabError> {
        let (router, net) = self.network()?;
        Ok(network::partition(&router, net, place, keep_clients)?)
    }

    /// The round trip between every pair of zones, measured now.
    pub fn probe(&self) -> Result<Vec<network::MeasuredRtt>, LabError> {
        let (router, net) = self.network()?;
        Ok(network::measure(&router, net)?)
    }

    /// Ends every partition.
    pub fn heal(&self) -> Result<(), LabError> {
        let (router, _) = self.network()?;
        router.heal_all()?;
        Ok(())
    }

    /// Every link as the zones say again (no degradation, no partition).
    pub fn restore_network(&self) -> Result<(), LabError> {
        let (router, net) = self.network()?;
        Ok(network::restore(&router, net)?)
    }

    /// Where each member's Patroni log ends now, to read what it says from there on.
    pub fn log_marks(&self) -> Vec<u64> {
        self.state
            .nodes
            .iter()
            .map(|n| {
                std::fs::metadata(n.dir.join("patroni.log"))
                    .map(|m| m.len())
                    .unwrap_or(0)
            })
            .collect()
    }

    /// What the members' Patroni logged after `marks` that contains one of `patterns`: each
    /// distinct message with its member and how often it was logged.
    pub fn patroni_logged(&self, marks: &[u64], patterns: &[&str]) -> Vec<String> {
        let mut out = Vec::new();
        for (node, &from) in self.state.nodes.iter().zip(marks) {
            let Ok(text) = std::fs::read(node.dir.join("patroni.log")) else {
                continue;
            };
            let tail = String::from_utf8_lossy(text.get(from as usize..).unwrap_or_default());
            let mut counts: Vec<(String, usize)> = Vec::new();
            for line in tail
                .lines()
                .filter(|l| patterns.iter().any(|p| l.contains(p)))
            {
                // "2026-11-30 01:00:00,123 INFO: message": the message alone.
                let message = line.split_once(": ").map_or(line, |(_, m)| m).to_string();
                match counts.iter_mut().find(|(m, _)| *m == message) {
                    Some((_, n)) => *n += 1,
                    None => counts.push((message, 1)),
                }
            }
            out.extend(counts.into_iter().map(|(m, n)| match n {
                1 => format!("{}: {m}", node.name),
                n => format!("{}: {m} (logged {n} times)", node.name),
            }));
        }
        out
    }

    pub fn node(&self, name: &str) -> Option<&NodeState> {
        self.state.nodes.iter().find(|n| n.name == name)
    }

    fn node_index(&self, name: &str) -> Result<usize, LabError> {
        self.state
            .nodes
            .iter()
            .position(|n| n.name == name)
            .ok_or_else(|| LabError::NotReady(format!("the lab has no member named {name}")))
    }

    /// kill -9 of a member's postmaster (its Patroni restarts it unless stopped).
    pub fn kill_postmaster(&self, name: &str) -> Result<Option<u32>, LabError> {
        let node = &self.state.nodes[self.node_index(name)?];
        Ok(process::postmaster(&node.data_dir())
            .filter(|pm| pm.signal(libc::SIGKILL))
            .map(|pm| pm.pid))
    }

    /// SIGSTOP (true) or SIGCONT (false) to a member's Patroni: it stops acting, PostgreSQL runs on.
    pub fn pause_patroni(&self, name: &str, pause: bool) -> Result<(), LabError> {
        let node = &self.state.nodes[self.node_index(name)?];
        node.patroni
            .signal(if pause { libc::SIGSTOP } else { libc::SIGCONT });
        Ok(())
    }

    /// The member goes away: its Patroni is stopped (SIGSTOP, so it cannot restart anything)
    /// and its postmaster killed. `start_member` brings it back.
    pub fn stop_member(&self, name: &str) -> Result<(), LabError> {
        self.pause_patroni(name, true)?;
        self.kill_postmaster(name)?;
        Ok(())
    }

    /// The member crashes: kill -9 of its Patroni and of its postmaster.
    pub fn crash_member(&self, name: &str) -> Result<(), LabError> {
        let node = &self.state.nodes[self.node_index(name)?];
        node.patroni.signal(libc::SIGKILL);
        self.kill_postmaster(name)?;
        process::wait_gone(&[node.patroni], Duration::from_secs(5));
        Ok(())
    }

    /// Brings a member back: continues its Patroni if stopped, starts a new one if it died.
    pub fn start_member(&mut self, name: &str) -> Result<(), LabError> {
        let i = self.node_index(name)?;
        let node = &self.state.nodes[i];
        if node.patroni.is_running() {
            node.patroni.signal(libc::SIGCONT);
            return Ok(());
        }
        self.state.nodes[i].patroni = self.spawn_patroni(i)?;
        self.save()
    }

    fn spawn_patroni(&self, i: usize) -> Result<Owned, LabError> {
        let node = &self.state.nodes[i];
        let host = self.host(&node.name)?;
        process::spawn_daemon(
            &self.state.patroni_program,
            &[node.dir.join("patroni.yml").as_os_str()],
            &node.dir,
            &node.dir.join("patroni.log"),
            self.user.as_ref(),
            host.as_ref(),
        )
        .map_err(io_err("cannot start Patroni"))
    }

    /// The DCS goes away (etcd stopped) until `start_etcd`.
    pub fn stop_etcd(&self) -> Result<(), LabError> {
        process::stop_with_group(
            self.state.etcd.process,
            libc::SIGTERM,
            Duration::from_secs(10),
        );
        Ok(())
    }

    pub fn etcd_running(&self) -> bool {
        self.state.etcd.process.is_running()
    }

    /// Members whose Patroni is not running or is stopped, for undoing faults.
    pub fn members_down(&self) -> Vec<String> {
        self.state
            .nodes
            .iter()
            .filter(|n| !n.patroni.is_running() || n.patroni.is_stopped())
            .map(|n| n.name.clone())
            .collect()
    }

    pub fn open(dir: &Path) -> Result<Lab, LabError> {
        let path = dir.join(STATE_FILE);
        let text = std::fs::read_to_string(&path)
            .map_err(|_| LabError::NotFound(dir.display().to_string()))?;
        let state: LabState = serde_json::from_str(&text).map_err(|e| LabError::Io {
            what: format!("cannot read {}", path.display()),
            reason: e.to_string(),
        })?;
        let user = match &state.user {
            Some(_) => process::unprivileged_user().map_err(|e| LabError::Missing {
                what: "an unprivileged user".into(),
                hint: e,
            })?,
            None => None,
        };
        Ok(Lab { state, user })
    }

    fn save(&self) -> Result<(), LabError> {
        let path = self.state.dir.join(STATE_FILE);
        crate::load::run_result::write_json_file(&path, &self.state)
            .map_err(io_err(format!("cannot write {}", path.display())))
    }

    /// Every process lab.json records (etcd, Patronis, relays, the network's router).
    fn recorded(&self) -> Vec<Owned> {
        let s = &self.state;
        std::iter::once(s.etcd.process)
            .chain(s.nodes.iter().map(|n| n.patroni))
            .chain(
                s.nodes
                    .iter()
                    .filter_map(|n| n.relay.as_ref().map(|r| r.process)),
            )
            .chain(s.net.iter().map(|n| n.router))
            .filter(|p| p.pid != 0)
            .collect()
    }

    /// The lab's own processes that still run.
    fn spawned(&self) -> Vec<Owned> {
        self.recorded()
            .into_iter()
            .filter(Owned::is_running)
            .collect()
    }

    pub fn any_alive(&self) -> bool {
        !self.spawned().is_empty()
    }

    /// Stops the lab's processes and nothing else: each Patroni (which stops its PostgreSQL)
    /// and what it left in its process group, then any postmaster still running in a member's
    /// data directory, then the relays and etcd. Each gets SIGTERM (a postmaster: fast
    /// shutdown) and time to exit before SIGKILL. Removes the folder unless `keep`.
    pub fn down(&self, keep: bool) -> Result<(), LabError> {
        let s = &self.state;
        let unproven: Vec<u32> = self
            .recorded()
            .into_iter()
            .filter(|p| p.started == 0 && process::Owned::of(p.pid).is_some())
            .map(|p| p.pid)
            .collect();
        if !unproven.is_empty() {
            return Err(LabError::NotReady(format!(
                "{} in {} was written by an older pgsyncbench and records no start times, so processes {unproven:?} cannot be proven to be the lab's: stop them yourself if they are",
                STATE_FILE,
                s.dir.display()
            )));
        }
        let mut left: Vec<Owned> = Vec::new();
        // All at once, so every member shuts down within one grace period.
        let patronis: Vec<Owned> = s.nodes.iter().map(|n| n.patroni).collect();
        left.extend(process::stop(
            &patronis,
            libc::SIGTERM,
            Duration::from_secs(30),
        ));
        for p in &patronis {
            let rest: Vec<Owned> = p.group().into_iter().filter(|g| g != p).collect();
            left.extend(process::stop(&rest, libc::SIGKILL, Duration::ZERO));
        }
        for node in &s.nodes {
            if let Some(pm) = process::postmaster(&node.data_dir()) {
                left.extend(process::stop_postmaster(pm));
            }
        }
        for relay in s.nodes.iter().filter_map(|n| n.relay.as_ref()) {
            left.extend(process::stop_with_group(
                relay.process,
                libc::SIGTERM,
                Duration::from_secs(5),
            ));
        }
        left.extend(process::stop_with_group(
            s.etcd.process,
            libc::SIGTERM,
            Duration::from_secs(10),
        ));
        // Last, as the processes above lived in its hosts: with it go every namespace, device
        // and route of the lab network.
        if let Some(n) = &s.net {
            left.extend(process::stop(
                &[n.router],
                libc::SIGTERM,
                Duration::from_secs(10),
            ));
        }
        if !left.is_empty() {
            let pids: Vec<u32> = left.iter().map(|p| p.pid).collect();
            return Err(LabError::NotReady(format!(
                "processes {pids:?} of the lab in {} did not stop, even after SIGKILL",
                s.dir.display()
            )));
        }
        if !keep {
            std::fs::remove_dir_all(&s.dir)
                .map_err(io_err(format!("cannot remove {}", s.dir.display())))?;
        }
        Ok(())
    }
}

/// Why a cluster is not ready yet, or Ok.
fn readiness(c: &Cluster, nodes: usize) -> Result<(), String> {
    let leader = c.leader().ok_or("no leader yet")?;
    if leader.state != "running" {
        return Err(format!("leader {} is {}", leader.name, leader.state));
    }
    if c.streaming_sync_standbys().next().is_none() {
        return Err("no synchronous standby streams yet".into());
    }
    let up = c
        .members
        .iter()
        .filter(|m| m.role == Role::Leader || m.state == "streaming")
        .count();
    if up < nodes {
        return Err(format!("{up} of {nodes} members are up"));
    }
    Ok(())
}
