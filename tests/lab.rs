//! The lab cluster, Patroni status, switching synchronous_commit through Patroni with
//! verification, and putting the configuration back on every path: normal end, error, Ctrl-C,
//! SIGKILL (`cluster restore`). All against real etcd + Patroni + PostgreSQL processes.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::lab::{exclusive, lab, with_rest_auth};
use common::*;

fn patroni_args() -> Vec<String> {
    vec!["--patroni".into(), lab().patroni_url.clone()]
}

#[test]
fn lab_status_and_cluster_status_show_leader_sync_standby_and_replica() {
    let l = lab();
    let out = check(
        pgsyncbench()
            .args(["lab", "status", "--dir"])
            .arg(&l.dir)
            .output()
            .unwrap(),
        "lab status",
    );
    let text = stdout(&out);
    for role in ["Leader", "Sync Standby", "Replica"] {
        assert!(text.contains(role), "{role} missing:\n{text}");
    }
    assert_eq!(text.matches(" running,").count(), 3, "{text}");

    let out = check(
        pgsyncbench()
            .args(["cluster", "status", "--json"])
            .args(patroni_args())
            .output()
            .unwrap(),
        "cluster status",
    );
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let roles: Vec<&str> = v["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles.len(), 3);
    assert_eq!(roles.iter().filter(|r| **r == "leader").count(), 1);
    assert_eq!(roles.iter().filter(|r| **r == "sync_standby").count(), 1);
    assert_eq!(v["synchronous_mode"], "on");
    assert!(v["patroni_version"].as_str().unwrap().starts_with('4'));
    assert!(v["postgres_version"].as_str().unwrap().starts_with("15."));
    assert!(
        !v["leader"]["synchronous_standby_names"]
            .as_str()
            .unwrap()
            .is_empty()
    );
}

#[test]
fn each_of_the_five_modes_is_applied_and_live_on_the_leader() {
    let l = lab();
    let _x = exclusive();
    let saved = l.dir.join("five-modes.before.json");
    let before = l.config();
    for mode in ["remote_apply", "on", "remote_write", "local", "off"] {
        let mut cmd = with_rest_auth();
        cmd.args(["cluster", "apply", "--sync-commit", mode])
            .args(patroni_args());
        if mode == "remote_apply" {
            cmd.arg("--save").arg(&saved);
        }
        let out = check(cmd.output().unwrap(), &format!("apply {mode}"));
        assert!(
            stdout(&out).contains(&format!("synchronous_commit={mode}")),
            "{}",
            stdout(&out)
        );
        assert_eq!(l.leader_setting("synchronous_commit"), mode);
        assert_eq!(
            l.config()["postgresql"]["parameters"]["synchronous_commit"],
            mode
        );
    }
    check(
        with_rest_auth()
            .args(["cluster", "restore", "--from"])
            .arg(&saved)
            .args(patroni_args())
            .output()
            .unwrap(),
        "restore",
    );
    assert_eq!(l.config(), before);
    assert_eq!(l.leader_setting("synchronous_commit"), "on");
}

#[test]
fn run_through_patroni_switches_verifies_measures_and_restores() {
    let l = lab();
    let _x = exclusive();
    l.psql_leader("SELECT 1");
    check(
        pgsyncbench()
            .args(["init", "-s", "1", "-q", "-U", "postgres", "-d"])
            .arg(leader_url())
            .output()
            .unwrap(),
        "init on the leader",
    );
    let before = l.config();
    let json = l.dir.join("patroni-run.json");
    let out = check(
        with_rest_auth()
            .args([
                "run",
                "-c",
                "2",
                "-T",
                "2",
                "-M",
                "prepared",
                "--sync-commit",
                "remote_apply",
                "--json",
            ])
            .arg(&json)
            .args(patroni_args())
            .output()
            .unwrap(),
        "run --patroni",
    );
    let err = stderr(&out);
    assert!(
        err.contains("synchronous_commit=remote_apply live on leader"),
        "{err}"
    );
    assert!(err.contains("restored Patroni's configuration"), "{err}");
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(r["target"]["synchronous_commit"], "remote_apply");
    assert_eq!(r["target"]["sync_standby_attached"], true);
    assert_eq!(r["target"]["leader"], l.leader().0.as_str());
    assert!(r["summary"]["transactions"].as_u64().unwrap() > 0);
    // The saved configuration sits beside the JSON, and the cluster is as it was.
    assert!(l.dir.join("patroni-config.before.json").is_file());
    assert_eq!(l.config(), before);
    assert_eq!(l.leader_setting("synchronous_commit"), "on");
}

#[test]
fn every_session_of_a_patroni_run_runs_under_the_mode_switched_cluster_wide() {
    let l = lab();
    let _x = exclusive();
    ensure_tables();
    let before = l.config();
    for mode in ["off", "local", "remote_write", "on", "remote_apply"] {
        let json = l.dir.join(format!("sessions-{mode}.json"));
        let out = check(
            with_rest_auth()
                .args([
                    "run",
                    "-c",
                    "3",
                    "-j",
                    "2",
                    "-t",
                    "5",
                    "--sync-commit",
                    mode,
                ])
                .arg("--json")
                .arg(&json)
                .args(patroni_args())
                .output()
                .unwrap(),
            mode,
        );
        assert_eq!(field(&stdout(&out), "synchronous_commit:"), mode);
        let r: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
        assert_eq!(r["target"]["synchronous_commit"], mode);
        // No SET in these sessions: each one reports the cluster-wide setting itself.
        assert_eq!(
            r["session_synchronous_commit"],
            serde_json::json!({ mode: 3 }),
            "{mode}"
        );
        assert_eq!(r["summary"]["transactions"], 15);
    }
    assert_eq!(l.config(), before);
}

fn leader_url() -> String {
    format!(
        "postgresql://postgres@127.0.0.1:{}/postgres",
        lab().leader().1
    )
}

#[test]
fn an_error_after_the_switch_still_restores_the_configuration() {
    let l = lab();
    let _x = exclusive();
    // Tables are there (the run passes its checks), but the database's own synchronous_commit
    // overrides Patroni's, so the switch, once made, never goes live there.
    l.psql_leader("DROP DATABASE IF EXISTS overridden");
    l.psql_leader("CREATE DATABASE overridden");
    l.psql_leader("ALTER DATABASE overridden SET synchronous_commit = remote_write");
    check(
        pgsyncbench()
            .args(["init", "-s", "1", "-q", "-d"])
            .arg(format!(
                "{}/overridden",
                leader_url().rsplit_once('/').unwrap().0
            ))
            .output()
            .unwrap(),
        "init",
    );
    let before = l.config();
    let out = with_rest_auth()
        .args([
            "run",
            "-c",
            "1",
            "-T",
            "2",
            "--sync-commit",
            "local",
            "-d",
            "overridden",
            "--out",
        ])
        .arg(l.dir.join("error-run"))
        .args(patroni_args())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("saved Patroni's dynamic configuration"),
        "{err}"
    );
    assert!(
        err.contains("did not become live") && err.contains("overrides Patroni's setting"),
        "{err}"
    );
    assert!(err.contains("restored Patroni's configuration"), "{err}");
    assert_eq!(l.config(), before);
    assert_eq!(l.leader_setting("synchronous_commit"), "on");
}

#[test]
fn ctrl_c_ends_the_run_with_its_results_and_restores_the_configuration() {
    let l = lab();
    let _x = exclusive();
    ensure_tables();
    let before = l.config();
    let child = with_rest_auth()
        .args([
            "run",
            "-c",
            "2",
            "-T",
            "60",
            "--sync-commit",
            "off",
            "--out",
        ])
        .arg(l.dir.join("ctrl-c-run"))
        .args(patroni_args())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    assert!(
        l.wait_config(30, |c| c["postgresql"]["parameters"]["synchronous_commit"]
            == "off"),
        "the run never switched the mode"
    );
    std::thread::sleep(Duration::from_secs(2));
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
    assert!(stdout(&out).contains("run interrupted"), "{}", stdout(&out));
    assert!(stdout(&out).contains("tps = "));
    assert_eq!(l.config(), before);
    assert_eq!(l.leader_setting("synchronous_commit"), "on");
}

#[test]
fn after_sigkill_cluster_restore_puts_the_saved_configuration_back() {
    let l = lab();
    let _x = exclusive();
    ensure_tables();
    let before = l.config();
    let out_dir = l.dir.join("killed-run");
    let mut child = with_rest_auth()
        .args([
            "run",
            "-c",
            "2",
            "-T",
            "60",
            "--sync-commit",
            "remote_write",
            "--out",
        ])
        .arg(&out_dir)
        .args(patroni_args())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    assert!(
        l.wait_config(30, |c| c["postgresql"]["parameters"]["synchronous_commit"]
            == "remote_write")
    );
    child.kill().unwrap();
    child.wait().unwrap();
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(
        l.config()["postgresql"]["parameters"]["synchronous_commit"],
        "remote_write"
    );
    let out = check(
        with_rest_auth()
            .args(["cluster", "restore", "--from"])
            .arg(out_dir.join("patroni-config.before.json"))
            .args(patroni_args())
            .output()
            .unwrap(),
        "cluster restore",
    );
    assert!(
        stdout(&out).contains("synchronous_commit=on"),
        "{}",
        stdout(&out)
    );
    assert_eq!(l.config(), before);
    assert_eq!(l.leader_setting("synchronous_commit"), "on");
}

#[test]
fn a_remote_mode_without_a_sync_standby_is_refused_unless_allowed() {
    let l = lab();
    let _x = exclusive();
    ensure_tables();
    let saved = l.dir.join("async.before.json");
    check(
        with_rest_auth()
            .args(["cluster", "apply", "--synchronous-mode", "off", "--save"])
            .arg(&saved)
            .args(patroni_args())
            .output()
            .unwrap(),
        "synchronous_mode off",
    );
    assert_eq!(l.leader_setting("synchronous_standby_names"), "");
    let before = l.config();
    // A mode the configuration does not hold yet: the refusal comes after the switch, so
    // only a complete restore leaves the configuration as it was.
    let refused = with_rest_auth()
        .args([
            "run",
            "-c",
            "1",
            "-T",
            "1",
            "--sync-commit",
            "remote_apply",
            "--out",
        ])
        .arg(l.dir.join("refused"))
        .args(patroni_args())
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        stderr(&refused).contains("no synchronous standby is attached"),
        "{}",
        stderr(&refused)
    );
    assert_eq!(
        l.config(),
        before,
        "the whole configuration after the refusal"
    );
    let json = l.dir.join("allowed.json");
    let allowed = check(
        with_rest_auth()
            .args([
                "run",
                "-c",
                "1",
                "-T",
                "1",
                "--sync-commit",
                "on",
                "--allow-no-sync-standby",
                "--json",
            ])
            .arg(&json)
            .args(patroni_args())
            .output()
            .unwrap(),
        "allowed run",
    );
    assert!(
        stdout(&allowed).contains("no synchronous standby attached"),
        "{}",
        stdout(&allowed)
    );
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(r["target"]["sync_standby_attached"], false);
    assert_eq!(l.config(), before);
    check(
        with_rest_auth()
            .args(["cluster", "restore", "--from"])
            .arg(&saved)
            .args(patroni_args())
            .output()
            .unwrap(),
        "restore",
    );
    assert!(!l.leader_setting("synchronous_standby_names").is_empty());
}

#[test]
fn bad_patroni_input_gets_one_line_and_leaves_the_configuration_alone() {
    let l = lab();
    let _x = exclusive();
    let before = l.config();
    let port = free_port().to_string();
    let etcd_port = pgsyncbench::lab::Lab::open(&l.dir)
        .unwrap()
        .state
        .etcd
        .client_port
        .to_string();
    let cases: Vec<(Vec<String>, bool, &str)> = vec![
        (
            vec![
                "cluster".into(),
                "status".into(),
                "--patroni".into(),
                format!("http://127.0.0.1:{port}"),
            ],
            true,
            "cannot reach Patroni",
        ),
        (
            vec![
                "cluster".into(),
                "status".into(),
                "--patroni".into(),
                format!("http://127.0.0.1:{etcd_port}"),
            ],
            true,
            "is not a Patroni REST API",
        ),
        (
            ["cluster", "apply", "--sync-commit", "off"]
                .map(String::from)
                .into_iter()
                .chain(patroni_args())
                .collect(),
            false,
            "refused the credentials (HTTP 401)",
        ),
        (
            ["cluster", "apply", "--sync-commit", "always"]
                .map(String::from)
                .into_iter()
                .chain(patroni_args())
                .collect(),
            true,
            "use one of off, local",
        ),
        (
            ["cluster", "apply"]
                .map(String::from)
                .into_iter()
                .chain(patroni_args())
                .collect(),
            true,
            "nothing to apply",
        ),
        (
            ["cluster", "restore", "--from", "/nonexistent.json"]
                .map(String::from)
                .into_iter()
                .chain(patroni_args())
                .collect(),
            true,
            "cannot read a saved Patroni configuration",
        ),
    ];
    for (args, with_auth, expect) in cases {
        let mut cmd = if with_auth {
            with_rest_auth()
        } else {
            pgsyncbench()
        };
        let out = cmd.args(&args).output().unwrap();
        let err = stderr(&out);
        assert!(!out.status.success(), "{args:?}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.contains(expect), "{args:?}: {err}");
        assert!(!err.contains(common::lab::REST_PASSWORD));
    }
    assert_eq!(l.config(), before);
}

#[test]
fn missing_etcd_or_patroni_is_explained_with_how_to_install() {
    for (var, what) in [("ETCD", "etcd not found"), ("PATRONI", "Patroni not found")] {
        let dir =
            std::env::temp_dir().join(format!("pgsyncbench-missing-{var}-{}", std::process::id()));
        let out = pgsyncbench()
            .args(["lab", "up", "--fast", "--dir"])
            .arg(&dir)
            .env(var, "/nonexistent/program")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1));
        let err = stderr(&out);
        assert!(
            err.contains(what) && err.contains("scripts/install-deps.sh"),
            "{err}"
        );
        assert!(!dir.exists(), "nothing is created before the check");
    }
}

/// A process that must survive: its command line names `args`, which mention the lab's folder.
fn decoy(args: &[&std::path::Path]) -> std::process::Child {
    std::process::Command::new("/bin/sh")
        .args(["-c", "sleep 600", "decoy"])
        .args(args)
        .spawn()
        .unwrap()
}

#[test]
fn lab_down_stops_every_process_of_the_lab_and_nothing_else() {
    let dir = std::env::temp_dir().join(format!("pgsyncbench-downtest-{}", std::process::id()));
    let neighbour = std::path::PathBuf::from(format!("{}2", dir.display()));
    for d in [&dir, &neighbour] {
        check(
            pgsyncbench()
                .args(["lab", "up", "--fast", "--nodes", "2", "--dir"])
                .arg(d)
                .output()
                .unwrap(),
            "lab up",
        );
    }
    let ours = common::lab::lab_pids(&dir);
    assert_eq!(
        ours.len(),
        5,
        "etcd, two Patronis, two postmasters: {ours:?}"
    );
    assert!(ours.iter().all(|&p| common::lab::pid_alive(p)));
    let theirs = common::lab::lab_pids(&neighbour);
    // The folder as a whole argument, as a prefix of a path, and inside a longer name.
    let mut decoys = [
        decoy(&[&dir]),
        decoy(&[&dir.join("node1/data")]),
        decoy(&[std::path::Path::new(&format!(
            "{}-neighbour-lab/data",
            dir.display()
        ))]),
    ];
    let again = pgsyncbench()
        .args(["lab", "up", "--fast", "--dir"])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(1), "{}", stderr(&again));
    assert!(
        stderr(&again).contains("a lab already runs in"),
        "{}",
        stderr(&again)
    );
    // The invoking shell lives on to print its line: lab down does not kill its own parent.
    let down = std::process::Command::new("/bin/sh")
        .args(["-c", "\"$0\" lab down --dir \"$1\" && echo shell-survived"])
        .arg(env!("CARGO_BIN_EXE_pgsyncbench"))
        .arg(&dir)
        .output()
        .unwrap();
    let said = stdout(&down);
    for d in decoys.iter_mut() {
        assert!(d.try_wait().unwrap().is_none(), "a decoy was killed");
        d.kill().unwrap();
        d.wait().unwrap();
    }
    assert!(
        down.status.success() && said.contains("shell-survived"),
        "{said}{}",
        stderr(&down)
    );
    assert!(
        theirs.iter().all(|&p| common::lab::pid_alive(p)),
        "the lab in {}2 was touched",
        dir.display()
    );
    check(
        pgsyncbench()
            .args(["lab", "down", "--dir"])
            .arg(&neighbour)
            .output()
            .unwrap(),
        "lab down of the neighbour",
    );
    let left: Vec<u32> = ours
        .into_iter()
        .filter(|&p| common::lab::pid_alive(p))
        .collect();
    assert!(left.is_empty(), "lab processes left: {left:?}");
    assert!(common::lab::processes_under(&dir).is_empty());
    assert!(!dir.exists());
    let none = pgsyncbench()
        .args(["lab", "status", "--dir"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(stderr(&none).contains("no lab in"), "{}", stderr(&none));
}

#[test]
fn with_no_target_run_measures_a_lab_cluster_it_starts_and_stops() {
    let out = check(
        pgsyncbench()
            .args(["run", "-c", "2", "-j", "2", "-T", "2", "-s", "1"])
            .output()
            .unwrap(),
        "embedded run",
    );
    let err = stderr(&out);
    let dir = err
        .lines()
        .find_map(|l| l.split("lab cluster in ").nth(1))
        .unwrap_or_else(|| panic!("no lab folder named: {err}"))
        .trim()
        .to_string();
    let text = stdout(&out);
    assert!(text.contains("synchronous_commit: on"), "{text}");
    assert!(
        field(&text, "number of transactions actually processed:")
            .parse::<u64>()
            .unwrap()
            > 0
    );
    assert!(
        common::lab::processes_under(std::path::Path::new(&dir)).is_empty(),
        "lab processes left"
    );
    assert!(!std::path::Path::new(&dir).exists());
}

/// The shared lab's postgres database has pgbench tables.
fn ensure_tables() {
    let l = lab();
    if l.psql_leader("SELECT count(*) FROM pg_class WHERE relname = 'pgbench_branches'") == "0" {
        check(
            pgsyncbench()
                .args(["init", "-s", "1", "-q", "-d"])
                .arg(leader_url())
                .output()
                .unwrap(),
            "init",
        );
    }
}

#[test]
fn a_sweep_with_more_clients_than_the_server_allows_is_refused_before_it_starts() {
    let l = lab();
    let out = l.dir.join("too-many-clients");
    let run = with_rest_auth()
        .args([
            "sweep",
            "--clients",
            "8,500",
            "--threads",
            "1",
            "-T",
            "1",
            "--out",
        ])
        .arg(&out)
        .args(patroni_args())
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(1));
    let err = stderr(&run);
    assert!(err.contains("raise max_connections"), "{err}");
    assert!(!out.join("cells").exists());
}

/// GET /config of a Patroni REST URL.
fn config_at(url: &str) -> serde_json::Value {
    pgsyncbench::pg::tls::ensure_provider();
    let p = pgsyncbench::cluster::patroni::Patroni::new(url, None, Duration::from_secs(5)).unwrap();
    common::lab::runtime().block_on(p.config()).unwrap()
}

#[test]
fn with_no_standby_streaming_a_remote_mode_is_refused_at_once_or_measured_as_such() {
    let own = common::lab::OwnLab::up(
        std::env::temp_dir().join(format!("pgsyncbench-nostandby-{}", std::process::id())),
        &[],
    );
    let (dir, leader_url) = (&own.dir, &own.leader_url);
    check(
        pgsyncbench()
            .args(["init", "-s", "1", "-q", "-d", leader_url])
            .output()
            .unwrap(),
        "init",
    );
    // Both standbys' Patroni stop (and with them their PostgreSQL): Patroni empties
    // synchronous_standby_names, a legitimate state of synchronous_mode on.
    let lab = pgsyncbench::lab::Lab::open(dir).unwrap();
    let cluster = common::lab::runtime().block_on(lab.cluster()).unwrap();
    let leader = cluster.leader().unwrap().name.clone();
    // The leader's REST API: the others stop answering.
    let url = &lab.node(&leader).unwrap().rest_url();
    for n in lab.state.nodes.iter().filter(|n| n.name != leader) {
        assert!(n.patroni.signal(libc::SIGTERM));
    }
    let psql = |sql: &str| {
        let out = Command::new(pg_bin().join("psql"))
            .args(["-X", "-At", "-d", leader_url, "-c", sql])
            .env_clear()
            .output()
            .unwrap();
        stdout(&out).trim().to_string()
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while !(psql("SHOW synchronous_standby_names").is_empty()
        && psql("SELECT count(*) FROM pg_stat_replication") == "0")
    {
        assert!(Instant::now() < deadline, "the standbys did not go away");
        std::thread::sleep(Duration::from_millis(250));
    }
    let before = config_at(url);

    let started = Instant::now();
    let refused = pgsyncbench()
        .args(["run", "--patroni", url, "--sync-commit", "remote_apply"])
        .args(["-c", "2", "-T", "3", "--out"])
        .arg(dir.join("refused"))
        .output()
        .unwrap();
    let took = started.elapsed();
    let err = stderr(&refused);
    assert_eq!(refused.status.code(), Some(1), "{err}");
    assert!(took < Duration::from_secs(10), "refused after {took:?}");
    assert!(
        err.contains("no synchronous standby is attached to leader")
            && err.contains("--allow-no-sync-standby")
            && !err.contains("could not put"),
        "{err}"
    );
    assert_eq!(config_at(url), before, "nothing changed");

    let json = dir.join("allowed.json");
    let allowed = pgsyncbench()
        .args(["run", "--patroni", url, "--sync-commit", "remote_apply"])
        .args(["--allow-no-sync-standby", "-c", "2", "-T", "3", "--json"])
        .arg(&json)
        .output()
        .unwrap();
    let err = stderr(&allowed);
    assert_eq!(allowed.status.code(), Some(0), "{err}");
    assert!(err.contains("restored Patroni's configuration"), "{err}");
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(r["target"]["sync_standby_attached"], false);
    assert_eq!(r["target"]["synchronous_commit"], "remote_apply");
    assert!(r["summary"]["transactions"].as_u64().unwrap() > 0);
    assert_eq!(config_at(url), before);

    let results = dir.join("sweep");
    let sweep = pgsyncbench()
        .args(["sweep", "--patroni", url, "--modes", "local,remote_apply"])
        .args(["--baseline", "local"])
        .args([
            "--clients",
            "2",
            "--threads",
            "1",
            "-T",
            "1",
            "--warmup",
            "0",
            "--scales",
            "1",
        ])
        .arg("--out")
        .arg(&results)
        .output()
        .unwrap();
    let err = stderr(&sweep);
    assert_eq!(sweep.status.code(), Some(0), "{err}");
    assert!(
        err.contains("warning") && err.contains("no synchronous standby"),
        "{err}"
    );
    let cells = pgsyncbench::sweep::folder::Results::load(&results)
        .unwrap()
        .cells;
    assert_eq!(cells.len(), 2);
    for c in &cells {
        assert!(!c.sync_standby_attached, "{}", c.cell.id());
    }
    let report = std::fs::read_to_string(results.join("report.md")).unwrap();
    assert!(report.contains("none: not synchronous"), "{report}");
    assert_eq!(config_at(url), before);

    resume_only_on_the_recorded_cluster(&results, url, &cells[0]);
}

/// A folder measured on the cluster at `url` resumes there only: not without --patroni (no new
/// lab may quietly take over), not on another cluster (the shared lab).
fn resume_only_on_the_recorded_cluster(
    results: &std::path::Path,
    url: &str,
    dropped: &pgsyncbench::sweep::folder::CellResult,
) {
    let sysid = dropped
        .cluster
        .as_ref()
        .and_then(|c| c.system_identifier.clone())
        .expect("cells record their cluster");
    std::fs::remove_file(pgsyncbench::sweep::folder::Results::cell_path(
        results,
        &dropped.cell,
        "json",
    ))
    .unwrap();
    let started = Instant::now();
    let no_target = pgsyncbench()
        .args(["sweep", "--resume"])
        .arg(results)
        .output()
        .unwrap();
    let err = stderr(&no_target);
    assert_eq!(no_target.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!("--patroni {url}")) && err.contains(&sysid),
        "{err}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "no lab was started"
    );
    assert_eq!(err.lines().count(), 1, "{err}");

    let elsewhere = pgsyncbench()
        .args(["sweep", "--resume"])
        .arg(results)
        .args(["--patroni", &lab().patroni_url])
        .output()
        .unwrap();
    let err = stderr(&elsewhere);
    assert_eq!(elsewhere.status.code(), Some(1), "{err}");
    assert!(
        err.contains("is not the cluster") && err.contains(&sysid),
        "{err}"
    );
    assert!(
        !results
            .join(pgsyncbench::sweep::folder::CELLS_DIR)
            .join(format!("{}.json", dropped.cell.id()))
            .exists(),
        "nothing ran"
    );

    let here = pgsyncbench()
        .args(["sweep", "--resume"])
        .arg(results)
        .args(["--patroni", url])
        .output()
        .unwrap();
    assert_eq!(here.status.code(), Some(0), "{}", stderr(&here));
    let cells = pgsyncbench::sweep::folder::Results::load(results)
        .unwrap()
        .cells;
    assert_eq!(cells.len(), 2);
    assert!(
        cells
            .iter()
            .all(|c| c.cluster.as_ref().unwrap().system_identifier.as_deref() == Some(&sysid))
    );
    let report = std::fs::read_to_string(results.join("report.md")).unwrap();
    assert!(!report.contains("DIFFERENT CLUSTERS"), "{report}");
}

#[test]
fn the_patroni_timing_quoted_by_lab_and_scenario_is_the_one_in_force() {
    let l = lab();
    let config = l.config();
    let (ttl, loop_wait) = (config["ttl"].as_u64(), config["loop_wait"].as_u64());
    // The lab asks for values Patroni keeps as they are.
    let (fast_ttl, fast_loop_wait, _) = pgsyncbench::lab::Timing::Fast.values();
    assert_eq!(
        (ttl, loop_wait),
        (Some(fast_ttl.into()), Some(fast_loop_wait.into())),
        "{config}"
    );
    let quoted = format!(
        "Patroni timing in force: ttl {} s, loop_wait {} s",
        ttl.unwrap(),
        loop_wait.unwrap()
    );
    assert!(l.up_stderr.contains(&quoted), "{}", l.up_stderr);
    let status = check(
        pgsyncbench()
            .args(["lab", "status", "--dir"])
            .arg(&l.dir)
            .output()
            .unwrap(),
        "lab status",
    );
    assert!(stdout(&status).contains(&quoted), "{}", stdout(&status));

    // A scenario records the timing it ran under, read from the cluster.
    let _x = exclusive();
    let dir = std::env::temp_dir().join(format!("pgsyncbench-timing-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("timing.toml");
    std::fs::write(
        &file,
        "name = \"timing\"\n[workload]\nclients = 1\nthreads = 1\nduration = 2\n",
    )
    .unwrap();
    let out = dir.join("out");
    let run = with_rest_auth()
        .arg("scenario")
        .arg(&file)
        .args(patroni_args())
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(run.status.success(), "{}\n{}", stdout(&run), stderr(&run));
    assert!(stdout(&run).contains(&quoted), "{}", stdout(&run));
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("scenario-timing.json")).unwrap())
            .unwrap();
    assert_eq!(
        schema_violations("scenario-result.schema.json", &v),
        Vec::<String>::new()
    );
    let recorded = &v["runs"][0]["patroni_timing"];
    assert_eq!(recorded["ttl"].as_u64(), ttl, "{recorded}");
    assert_eq!(recorded["loop_wait"].as_u64(), loop_wait, "{recorded}");
}

#[test]
fn a_lab_in_zones_puts_each_process_on_its_own_host_and_pays_the_round_trips() {
    if unsafe { libc::geteuid() } != 0 {
        println!("SKIPPED: zones need root (network namespaces)");
        return;
    }
    let own = common::lab::OwnLab::up(
        std::env::temp_dir().join(format!("pgsyncbench-zones-{}", std::process::id())),
        &["--zones", "a,b,c", "--zone-rtt", "1", "--zone-rtt", "b-c=3"],
    );
    // node1 bootstraps and leads, in zone a with this machine.
    let lab = pgsyncbench::lab::Lab::open(&own.dir).unwrap();
    let net = lab.state.net.clone().expect("the lab records its network");
    let node1 = net.hosts["node1"].clone();
    assert!(node1.starts_with("10."), "{node1}");
    assert_eq!(
        own.leader_url,
        format!("postgresql://postgres@{node1}:5432/postgres")
    );
    assert_eq!(net.zones.members, ["a", "b", "c"]);
    // Measured round trips: never below what is configured, never grossly above it.
    assert_eq!(net.measured.len(), 3, "{:?}", net.measured);
    for m in &net.measured {
        let want = if (m.a.as_str(), m.b.as_str()) == ("b", "c") {
            3.0
        } else {
            1.0
        };
        assert_eq!(m.configured_ms, want);
        assert!(
            m.p50_ms >= want && m.p50_ms < want + 0.5,
            "{}-{}: {} ms for {want} ms",
            m.a,
            m.b,
            m.p50_ms
        );
    }
    let status = stdout(
        &pgsyncbench()
            .args(["lab", "status", "--dir"])
            .arg(&own.dir)
            .output()
            .unwrap(),
    );
    assert!(
        status.contains("zones: node1 a, node2 b, node3 c"),
        "{status}"
    );
    assert!(status.contains("round trip b-c: "), "{status}");
    // A run through Patroni reaches the members at their addresses.
    check(
        pgsyncbench()
            .args(["init", "-s", "1", "-q", "-d", &own.leader_url])
            .output()
            .unwrap(),
        "init",
    );
    let json = own.dir.join("zoned.json");
    check(
        pgsyncbench()
            .args(["run", "--patroni", &own.patroni_url, "-c", "1", "-T", "2"])
            .args(["--sync-commit", "on", "--json"])
            .arg(&json)
            .output()
            .unwrap(),
        "run",
    );
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert!(
        r["target"]["connection"]
            .as_str()
            .unwrap()
            .contains(&format!("host={node1} port=5432")),
        "{}",
        r["target"]
    );
    // Every commit waited for a standby one zone away: at least its 1 ms round trip.
    let mean = r["summary"]["latency_ms"]["mean"].as_f64().unwrap();
    assert!(mean >= 1.0, "{mean} ms per transaction");

    let range = node1.rsplitn(3, '.').nth(2).unwrap().to_string();
    drop(own);
    let routes =
        String::from_utf8_lossy(&Command::new("ip").args(["route"]).output().unwrap().stdout)
            .to_string();
    assert!(
        !routes.contains(&format!("{range}.0.0/16")),
        "the lab network's route is left: {routes}"
    );
}

#[test]
fn a_run_through_patroni_on_a_lab_with_relays_goes_to_postgresql_directly() {
    let own = common::lab::OwnLab::up(
        std::env::temp_dir().join(format!("pgsyncbench-relays-{}", std::process::id())),
        &["--nodes", "2", "--relays"],
    );
    check(
        pgsyncbench()
            .args(["init", "-s", "1", "-q", "-d", &own.leader_url])
            .output()
            .unwrap(),
        "init",
    );
    check(
        pgsyncbench()
            .args(["lab", "rtt", "20", "--dir"])
            .arg(&own.dir)
            .output()
            .unwrap(),
        "lab rtt",
    );
    let json = own.dir.join("direct.json");
    check(
        pgsyncbench()
            .args(["run", "--patroni", &own.patroni_url, "-c", "1", "-T", "2"])
            .args(["--sync-commit", "local", "--json"])
            .arg(&json)
            .output()
            .unwrap(),
        "run",
    );
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let lab = pgsyncbench::lab::Lab::open(&own.dir).unwrap();
    let leader = lab
        .state
        .nodes
        .iter()
        .find(|n| Some(n.name.as_str()) == r["target"]["leader"].as_str())
        .unwrap();
    assert!(
        r["target"]["connection"]
            .as_str()
            .unwrap()
            .contains(&format!("port={} ", leader.pg_port)),
        "{} (PostgreSQL's own port is {}, its relay's {})",
        r["target"]["connection"],
        leader.pg_port,
        leader.relay.as_ref().unwrap().port
    );
    // `local` commits wait for no standby: the 20 ms on the replication path must not show.
    let mean = r["summary"]["latency_ms"]["mean"].as_f64().unwrap();
    assert!(mean < 10.0, "{mean} ms per local transaction");
}
