//! The lab cluster, Patroni status, switching synchronous_commit through Patroni with
//! verification, and putting the configuration back on every path: normal end, error, Ctrl-C,
//! SIGKILL (`cluster restore`). All against real etcd + Patroni + PostgreSQL processes.

mod common;

use std::process::Stdio;
use std::time::Duration;

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
    l.psql_leader("DROP DATABASE IF EXISTS notables");
    l.psql_leader("CREATE DATABASE notables");
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
            "notables",
            "--out",
        ])
        .arg(l.dir.join("error-run"))
        .args(patroni_args())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("synchronous_commit=local live"), "{err}");
    assert!(err.contains("run `pgsyncbench init` first"), "{err}");
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

#[test]
fn lab_down_stops_every_process_and_removes_the_folder() {
    let dir = std::env::temp_dir().join(format!("pgsyncbench-downtest-{}", std::process::id()));
    check(
        pgsyncbench()
            .args(["lab", "up", "--fast", "--nodes", "2", "--dir"])
            .arg(&dir)
            .output()
            .unwrap(),
        "lab up",
    );
    let needle = dir.display().to_string();
    let running = pgsyncbench::lab::process::processes_mentioning(&needle);
    assert!(
        running.len() >= 3,
        "etcd and two Patronis at least: {running:?}"
    );
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
    check(
        pgsyncbench()
            .args(["lab", "down", "--dir"])
            .arg(&dir)
            .output()
            .unwrap(),
        "lab down",
    );
    assert!(pgsyncbench::lab::process::processes_mentioning(&needle).is_empty());
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
        pgsyncbench::lab::process::processes_mentioning(&dir).is_empty(),
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
