//! A Patroni cluster of separate hosts: etcd, three Patroni members and HAProxy, each its own
//! container on a private Docker network, started with testcontainers from the images
//! `docker/build.sh` makes here (cached by content hash: a second build takes about a second).
//! The harness runs on this machine and reaches the containers over the network's bridge, as a
//! user's generator reaches a cluster on other hosts.
//!
//! One cluster for the whole file (it takes half a minute to come up on two cores), used in
//! steps: the happy path (status, the five modes through HAProxy, restore), several generators
//! started together and merged (the flow docker/k8s/ runs as Kubernetes Jobs, with this cluster
//! as the stand-in), and a scenario with a switchover, a leader container killed and a leader
//! cut off the network, judged by the durability audit.
//!
//! Skipped, with a message in the test output, when no Docker engine answers.

mod common;

use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant, SystemTime};

use common::{check, pg_bin, pgsyncbench, stderr, stdout};
use serde_json::Value;
use testcontainers::runners::SyncRunner;
use testcontainers::{Container, GenericImage, ImageExt};

/// Test values, passed to the containers and to pgsyncbench through the environment only.
const SUPERUSER_PASSWORD: &str = "containers-test-pw";
const REPLICATION_PASSWORD: &str = "containers-test-repl";
const MODES: [&str; 5] = ["off", "local", "remote_write", "on", "remote_apply"];

fn docker_answers() -> bool {
    let ok = Command::new("docker")
        .args(["info", "--format", "{{.ServerVersion}}"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        eprintln!(
            "SKIPPED: no Docker engine answers (`docker info` failed): container tests not run"
        );
    }
    ok
}

fn docker(args: &[&str]) -> Output {
    Command::new("docker").args(args).output().unwrap()
}

/// A private network with a subnet of its own (so a member cut off can be put back at the
/// address it advertises), removed when dropped, after the containers on it.
struct Network {
    name: String,
}

impl Network {
    fn create(name: &str) -> Network {
        // Subnets Docker's default pools do not hand out; try a few in case one is taken.
        for third in 90..110u8 {
            let subnet = format!("10.79.{third}.0/24");
            let out = docker(&["network", "create", "--subnet", &subnet, name]);
            if out.status.success() {
                return Network { name: name.into() };
            }
        }
        panic!("could not create a Docker network {name} on any 10.79.90-109.0/24 subnet");
    }
}

impl Drop for Network {
    fn drop(&mut self) {
        let _ = docker(&["network", "rm", &self.name]);
    }
}

/// The running cluster. Fields drop in order: containers first, then the network.
struct Cluster {
    members: Vec<Container<GenericImage>>,
    haproxy: Container<GenericImage>,
    etcd: Container<GenericImage>,
    network: Network,
    dir: PathBuf,
}

impl Cluster {
    fn patroni_url(&self, i: usize) -> String {
        let ip = self.members[i].get_bridge_ip_address().unwrap();
        format!("http://{ip}:8008")
    }

    fn haproxy_ip(&self) -> String {
        self.haproxy.get_bridge_ip_address().unwrap().to_string()
    }

    /// pgsyncbench with the superuser's password in its environment.
    fn pgsyncbench(&self) -> Command {
        let mut c = pgsyncbench();
        c.env("PGPASSWORD", SUPERUSER_PASSWORD)
            .env("PGUSER", "postgres");
        c
    }

    /// Arguments that connect to the primary through HAProxy.
    fn through_haproxy(&self) -> Vec<String> {
        vec!["-h".into(), self.haproxy_ip(), "-p".into(), "5000".into()]
    }

    fn status(&self) -> Value {
        let out = check(self.status_output(), "cluster status");
        serde_json::from_str(&stdout(&out)).unwrap()
    }

    /// psql through HAProxy to the primary.
    fn psql_output(&self, sql: &str) -> Output {
        Command::new(pg_bin().join("psql"))
            .args(["-X", "-A", "-t", "-h", &self.haproxy_ip(), "-p", "5000"])
            .args(["-U", "postgres", "-d", "postgres", "-c", sql])
            .env("PGPASSWORD", SUPERUSER_PASSWORD)
            .output()
            .unwrap()
    }

    fn psql(&self, sql: &str) -> String {
        stdout(&check(self.psql_output(sql), sql))
            .trim()
            .to_string()
    }

    fn status_output(&self) -> Output {
        self.pgsyncbench()
            .args(["cluster", "status", "--json", "--patroni"])
            .arg(self.patroni_url(0))
            .output()
            .unwrap()
    }
}

fn roles(status: &Value) -> Vec<String> {
    let mut r: Vec<String> = status["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["role"].as_str().unwrap_or("").to_string())
        .collect();
    r.sort();
    r
}

fn start_cluster() -> Cluster {
    let built = Command::new("docker/build.sh")
        .args(["etcd", "haproxy", "patroni"])
        .output()
        .unwrap();
    check(built, "docker/build.sh etcd haproxy patroni");

    let prefix = format!("pgsb-tc-{}", std::process::id());
    let dir = std::env::temp_dir().join(&prefix);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let network = Network::create(&prefix);
    // Short DNS timeouts: a member cut off fails its lookups at once instead of after 10 s.
    let dns = |hc: &mut testcontainers::bollard::models::HostConfig| {
        hc.dns_options = Some(vec!["timeout:1".into(), "attempts:1".into()]);
    };

    let etcd_name = format!("{prefix}-etcd");
    let etcd = GenericImage::new("pgsyncbench/etcd", "latest")
        .with_network(&network.name)
        .with_container_name(&etcd_name)
        .with_env_var(
            "ETCD_ADVERTISE_CLIENT_URLS",
            format!("http://{etcd_name}:2379"),
        )
        .start()
        .unwrap();

    let names: Vec<String> = (1..=3).map(|i| format!("{prefix}-node{i}")).collect();
    let members: Vec<Container<GenericImage>> = names
        .iter()
        .map(|name| {
            GenericImage::new("pgsyncbench/patroni", "latest")
                .with_network(&network.name)
                .with_container_name(name)
                .with_hostname(name)
                .with_env_var("PATRONI_NAME", name)
                .with_env_var("PATRONI_SCOPE", &prefix)
                .with_env_var("PATRONI_SUPERUSER_USERNAME", "postgres")
                .with_env_var("PATRONI_SUPERUSER_PASSWORD", SUPERUSER_PASSWORD)
                .with_env_var("PATRONI_REPLICATION_USERNAME", "replicator")
                .with_env_var("PATRONI_REPLICATION_PASSWORD", REPLICATION_PASSWORD)
                .with_env_var("PGSB_ETCD_HOSTS", format!("{etcd_name}:2379"))
                // Patroni's shortest ttl; a dead leader's key expires within it.
                .with_env_var("PGSB_TTL", "20")
                .with_env_var("PGSB_LOOP_WAIT", "1")
                .with_env_var("PGSB_RETRY_TIMEOUT", "5")
                .with_shm_size(256 * 1024 * 1024)
                .with_host_config_modifier(dns)
                .start()
                .unwrap()
        })
        .collect();
    let haproxy = GenericImage::new("pgsyncbench/haproxy", "latest")
        .with_network(&network.name)
        .with_container_name(format!("{prefix}-haproxy"))
        .with_env_var("HAPROXY_MEMBERS", names.join(" "))
        .start()
        .unwrap();
    let cluster = Cluster {
        members,
        haproxy,
        etcd,
        network,
        dir,
    };
    wait_healthy(&cluster, Duration::from_secs(180));
    cluster
}

/// Until Patroni shows a leader, a synchronous standby and a replica, and the leader streams
/// to both; then until HAProxy routes to the primary.
fn wait_healthy(c: &Cluster, limit: Duration) {
    let started = Instant::now();
    loop {
        let out = c.status_output();
        let last = if out.status.success() {
            let s: Value = serde_json::from_str(&stdout(&out)).unwrap();
            let streaming = s["leader"]["streaming"].as_array().map_or(0, Vec::len);
            if roles(&s) == ["leader", "replica", "sync_standby"] && streaming == 2 {
                let routed = c.psql_output("SELECT 1");
                if routed.status.success() {
                    eprintln!("cluster healthy after {:.0?}", started.elapsed());
                    return;
                }
                format!("HAProxy: {}", stderr(&routed))
            } else {
                format!("roles {:?}, {streaming} streaming", roles(&s))
            }
        } else {
            stderr(&out)
        };
        assert!(
            started.elapsed() < limit,
            "cluster not healthy after {limit:?}: {last}"
        );
        std::thread::sleep(Duration::from_secs(1));
    }
}

#[test]
fn a_cluster_of_separate_hosts() {
    if !docker_answers() {
        return;
    }
    let c = start_cluster();
    eprintln!("etcd container {}", c.etcd.id());
    five_modes_through_haproxy_then_restore(&c);
    generators_started_together_merge_into_what_the_server_recorded(&c);
    a_sweep_of_two_generators_per_cell(&c);
    switchover_kill_and_partition_lose_no_acknowledged_commit(&c);
    // Kept when a step fails, for the results and logs it holds.
    let _ = std::fs::remove_dir_all(&c.dir);
}

/// Status names the three members; each of the five modes, applied through Patroni, is what a
/// run through HAProxy measures under; restore puts the configuration back as it was.
fn five_modes_through_haproxy_then_restore(c: &Cluster) {
    let s = c.status();
    assert_eq!(s["members"].as_array().unwrap().len(), 3, "{s}");
    assert_eq!(s["synchronous_mode"], "on", "{s}");
    let before = s["leader"]["server_synchronous_commit"].clone();
    check(
        c.pgsyncbench()
            .args(["init", "-s", "1", "-q"])
            .args(c.through_haproxy())
            .output()
            .unwrap(),
        "init through HAProxy",
    );
    let saved = c.dir.join("before.json");
    for (i, mode) in MODES.iter().enumerate() {
        let mut apply = c.pgsyncbench();
        apply
            .args(["cluster", "apply", "--sync-commit", mode, "--patroni"])
            .arg(c.patroni_url(0));
        if i == 0 {
            apply.arg("--save").arg(&saved);
        }
        check(apply.output().unwrap(), &format!("cluster apply {mode}"));
        let json = c.dir.join(format!("run-{mode}.json"));
        let out = check(
            c.pgsyncbench()
                .args(["run", "-c", "2", "-j", "1", "-T", "2"])
                .args(c.through_haproxy())
                .arg("--json")
                .arg(&json)
                .output()
                .unwrap(),
            &format!("run through HAProxy under {mode}"),
        );
        let r: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
        // Every session ran under the mode (the value maps each mode seen to its sessions).
        assert_eq!(
            r["session_synchronous_commit"],
            serde_json::json!({ *mode: 2 }),
            "the run did not measure under {mode}: {}",
            stdout(&out)
        );
        assert!(r["summary"]["transactions"].as_u64().unwrap() > 0);
    }
    check(
        c.pgsyncbench()
            .args(["cluster", "restore", "--from"])
            .arg(&saved)
            .arg("--patroni")
            .arg(c.patroni_url(1))
            .output()
            .unwrap(),
        "cluster restore",
    );
    let after = c.status();
    assert_eq!(
        after["leader"]["server_synchronous_commit"], before,
        "restore did not put synchronous_commit back"
    );
}

/// The Kubernetes flow on the compose-like cluster: a coordinator switches the mode once, N
/// generators start at one time through HAProxy, merge adds them up exactly, the coordinator
/// puts the configuration back.
fn generators_started_together_merge_into_what_the_server_recorded(c: &Cluster) {
    let history_before: u64 = c
        .psql("SELECT count(*) FROM pgbench_history")
        .parse()
        .unwrap();
    let saved = c.dir.join("coordinator-before.json");
    check(
        c.pgsyncbench()
            .args([
                "cluster",
                "apply",
                "--sync-commit",
                "remote_apply",
                "--save",
            ])
            .arg(&saved)
            .arg("--patroni")
            .arg(c.patroni_url(2))
            .output()
            .unwrap(),
        "coordinator: cluster apply remote_apply",
    );
    let start = SystemTime::now() + Duration::from_secs(3);
    let start_at = humantime::format_rfc3339_millis(start).to_string();
    let names = ["gen-0", "gen-1"];
    let children: Vec<Child> = names
        .iter()
        .map(|n| {
            c.pgsyncbench()
                .args(["run", "-c", "2", "-j", "1", "-T", "3"])
                .args(c.through_haproxy())
                .args(["--generator", n, "--start-at", &start_at, "--json"])
                .arg(c.dir.join(format!("{n}.json")))
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for (n, child) in names.iter().zip(children) {
        check(child.wait_with_output().unwrap(), n);
    }
    let merged = c.dir.join("merged.json");
    let mut merge = c.pgsyncbench();
    merge.arg("merge");
    for n in names {
        merge.arg(c.dir.join(format!("{n}.json")));
    }
    check(merge.arg("--json").arg(&merged).output().unwrap(), "merge");
    let m: Value = serde_json::from_str(&std::fs::read_to_string(&merged).unwrap()).unwrap();
    let history_after: u64 = c
        .psql("SELECT count(*) FROM pgbench_history")
        .parse()
        .unwrap();
    assert_eq!(
        m["summary"]["transactions"].as_u64().unwrap(),
        history_after - history_before,
        "the merged result does not count what the server recorded"
    );
    assert_eq!(
        m["session_synchronous_commit"],
        serde_json::json!({ "remote_apply": 4 })
    );
    check(
        c.pgsyncbench()
            .args(["cluster", "restore", "--from"])
            .arg(&saved)
            .arg("--patroni")
            .arg(c.patroni_url(0))
            .output()
            .unwrap(),
        "coordinator: cluster restore",
    );
}

/// The sweep drives the generators itself (`--generators 2`): each cell records both and
/// their merge, and the configuration is put back.
fn a_sweep_of_two_generators_per_cell(c: &Cluster) {
    let before = c.status()["leader"]["server_synchronous_commit"].clone();
    let out = c.dir.join("sweep");
    check(
        c.pgsyncbench()
            .args([
                "sweep",
                "-T",
                "2",
                "--warmup",
                "0",
                "--modes",
                "off,remote_apply",
            ])
            .args([
                "--scales",
                "1",
                "--clients",
                "4",
                "--threads",
                "2",
                "--generators",
                "2",
            ])
            .arg("--patroni")
            .arg(c.patroni_url(0))
            .arg("--out")
            .arg(&out)
            .output()
            .unwrap(),
        "sweep --generators 2",
    );
    let mut cells = 0;
    for e in std::fs::read_dir(out.join("cells")).unwrap() {
        let path = e.unwrap().path();
        if path.extension().is_some_and(|x| x == "json") {
            let cell: Value =
                serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            assert_eq!(
                cell["run"]["options"]["merged_from"],
                serde_json::json!(["gen-1", "gen-2"]),
                "{}",
                path.display()
            );
            assert!(path.with_extension("gen-2.hlog").exists());
            cells += 1;
        }
    }
    assert_eq!(cells, 2);
    assert_eq!(c.status()["leader"]["server_synchronous_commit"], before);
}

/// Shell actions act on whichever member leads when they fire (`$PGSB_LEADER`, which is also
/// its container's name): `docker kill` and `docker start`, then `docker network disconnect`
/// and `connect` at the address it had (what Patroni advertises for it).
fn switchover_kill_and_partition_lose_no_acknowledged_commit(c: &Cluster) {
    let net = &c.network.name;
    let d = c.dir.display();
    let cut = c.dir.join("cut.sh");
    std::fs::write(
        &cut,
        format!(
            "set -e\nip=$(docker inspect -f '{{{{(index .NetworkSettings.Networks \"{net}\").IPAddress}}}}' \"$PGSB_LEADER\")\n\
             echo \"$PGSB_LEADER $ip\" > {d}/cut\ndocker network disconnect {net} \"$PGSB_LEADER\"\n"
        ),
    )
    .unwrap();
    let heal = c.dir.join("heal.sh");
    std::fs::write(
        &heal,
        format!(
            "set -e\nread name ip < {d}/cut\ndocker network connect --ip \"$ip\" {net} \"$name\"\n"
        ),
    )
    .unwrap();
    let scenario = c.dir.join("faults.toml");
    std::fs::write(
        &scenario,
        format!(
            r#"name = "containers-faults"
description = "switchover, the leader's container killed and started again, the leader cut off the network and put back"
settle = 120

[cluster]
synchronous_mode = "on"
synchronous_commit = "on"

[workload]
builtin = "tpcb-like"
clients = 4
threads = 2
duration = 78
scale = 1

[[actions]]
at = 4
do = "switchover"

[[actions]]
at = 12
do = "shell"
command = "docker kill -s KILL \"$PGSB_LEADER\" > /dev/null && echo \"$PGSB_LEADER\" > {d}/killed"

[[actions]]
at = 36
do = "shell"
command = "docker start \"$(cat {d}/killed)\" > /dev/null"

[[actions]]
at = 44
do = "shell"
command = "sh {cut}"

[[actions]]
at = 68
do = "shell"
command = "sh {heal}"

[expect]
lost = 0
leader_changes = true
writes_after_faults = true
max_primaries = 1
"#,
            cut = cut.display(),
            heal = heal.display()
        ),
    )
    .unwrap();
    let json = c.dir.join("faults.json");
    let out = c
        .pgsyncbench()
        .arg("scenario")
        .arg(&scenario)
        .arg("--patroni")
        .arg(c.patroni_url(0))
        .arg("--out")
        .arg(c.dir.join("faults"))
        .arg("--json")
        .arg(&json)
        .output()
        .unwrap();
    eprintln!("{}", stdout(&out));
    assert_eq!(
        out.status.code(),
        Some(0),
        "scenario failed: {}\n{}",
        stdout(&out),
        stderr(&out)
    );
    let r: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let run = &r["runs"][0];
    let audit = &run["audit"];
    assert_eq!(audit["lost"], 0, "acknowledged commits lost: {audit}");
    assert!(audit["acknowledged"].as_u64().unwrap() > 0, "{audit}");
    let actions = run["actions"].as_array().unwrap();
    assert_eq!(actions.len(), 5, "{actions:?}");
    for a in actions {
        assert_eq!(a["ok"], true, "an action failed: {a}");
    }
    let mut leaders: Vec<&str> = run["leaders"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|l| l["leader"].as_str())
        .collect();
    leaders.dedup();
    assert!(
        leaders.len() >= 4,
        "the switchover, the kill and the cut should each have given the cluster a new leader: {leaders:?}"
    );
    assert_eq!(run["passed"], true, "checks: {}", run["checks"]);
}
