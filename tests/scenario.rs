//! The failure scenarios of workloads/scenarios/ run end to end on lab clusters, two at a time
//! (each starts its own lab; their timings are seconds of Patroni's ttl and of the faults, which
//! sharing two cores between two labs does not blur, while much of each run is waiting), the
//! zoned ones alone. Each
//! must meet its own expectations (the binary exits 0 only then); the tests also check the
//! facts behind them in the result JSON.

mod common;

use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex};

use common::lab::{lab, with_rest_auth};
use common::*;
use serde_json::Value;

/// Held by the tests that act on the one shared lab (`lab()`): never two at once there.
static SHARED_LAB: Mutex<()> = Mutex::new(());

fn shared_lab() -> std::sync::MutexGuard<'static, ()> {
    SHARED_LAB.lock().unwrap_or_else(|e| e.into_inner())
}

/// Scenarios running now; at most `AT_ONCE`.
static RUNNING: Mutex<usize> = Mutex::new(0);
static SLOT_FREED: Condvar = Condvar::new();
const AT_ONCE: usize = 2;

/// Places among the scenarios running at once, given back when dropped.
struct Slot(usize);

impl Drop for Slot {
    fn drop(&mut self) {
        *RUNNING.lock().unwrap_or_else(|e| e.into_inner()) -= self.0;
        SLOT_FREED.notify_all();
    }
}

fn scenario_file(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("workloads/scenarios")
        .join(name)
}

/// Waits for a place among the scenarios running at once.
fn a_slot() -> Slot {
    slots(1)
}

/// Waits until `n` places are free and takes them: `AT_ONCE` runs a scenario alone.
fn slots(n: usize) -> Slot {
    let mut running = RUNNING.lock().unwrap_or_else(|e| e.into_inner());
    while *running + n > AT_ONCE {
        running = SLOT_FREED.wait(running).unwrap_or_else(|e| e.into_inner());
    }
    *running += n;
    Slot(n)
}

/// Runs a scenario file on a lab it starts and returns its result; the scenario's own
/// expectations must pass.
fn run(name: &str) -> Value {
    run_taking(name, a_slot())
}

/// As `run`, alone on the machine: the zoned scenarios' facts (replication lag growing on a
/// capped link, which standby Patroni may promote) hang on the load the leader can produce.
fn run_alone(name: &str) -> Value {
    run_taking(name, slots(AT_ONCE))
}

fn run_taking(name: &str, _slot: Slot) -> Value {
    let out = std::env::temp_dir().join(format!(
        "pgsyncbench-scenariotest-{name}-{}",
        std::process::id()
    ));
    let json = out.join("result.json");
    let run = pgsyncbench()
        .arg("scenario")
        .arg(scenario_file(name))
        .arg("--out")
        .arg(&out)
        .arg("--json")
        .arg(&json)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{name}: {}\n{}",
        stdout(&run),
        stderr(&run)
    );
    let dir = stderr(&run)
        .lines()
        .find_map(|l| {
            l.split("lab cluster in ")
                .nth(1)
                .map(str::trim)
                .map(String::from)
        })
        .expect("the lab folder is named");
    assert!(
        common::lab::processes_under(std::path::Path::new(&dir)).is_empty(),
        "lab processes left"
    );
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(
        schema_violations("scenario-result.schema.json", &v),
        Vec::<String>::new()
    );
    for r in v["runs"].as_array().unwrap() {
        let a = &r["audit"];
        let n = |k: &str| a[k].as_u64().unwrap();
        assert_eq!(
            n("acknowledged") + n("failed") + n("indeterminate"),
            n("attempted"),
            "{a}"
        );
        assert!(n("acknowledged") > 100, "{a}");
        assert_eq!(n("unexpected"), 0);
        assert_eq!(n("failed_but_present"), 0);
        // lost = acknowledged − present, from the raw number of ids found on the leader: the
        // present ids that were acknowledged are the rest once the other classes are taken out.
        assert!(n("lost") <= n("acknowledged"), "{a}");
        assert_eq!(
            n("acknowledged") - n("lost"),
            n("present") - n("recovered") - n("failed_but_present") - n("unexpected"),
            "{a}"
        );
        // The engine's own counts agree with the clients' ledgers: every acknowledged commit
        // is a counted commit, and counted commits beyond them were warned (indeterminate);
        // every counted transaction was attempted, and only abandoned ones went uncounted.
        let s = &r["run"]["summary"];
        let m = |k: &str| s[k].as_u64().unwrap();
        assert!(
            n("acknowledged") <= m("transactions")
                && m("transactions") <= n("acknowledged") + n("indeterminate"),
            "{a} {s}"
        );
        assert!(
            m("transactions") + m("failed") <= n("attempted")
                && n("attempted") <= m("transactions") + m("failed") + m("abandoned"),
            "{a} {s}"
        );
        // Every session, reconnections included, ran under the variant's mode.
        let modes = r["run"]["session_synchronous_commit"].as_object().unwrap();
        assert_eq!(
            modes.keys().collect::<Vec<_>>(),
            [r["run"]["target"]["synchronous_commit"].as_str().unwrap()],
            "{modes:?}"
        );
        assert!(r["passed"].as_bool().unwrap());
        assert!(
            r["checks"]
                .as_array()
                .unwrap()
                .iter()
                .all(|c| c["passed"] == true)
        );
    }
    v
}

fn variant<'a>(v: &'a Value, label: &str) -> &'a Value {
    v["runs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["label"] == label)
        .unwrap()
}

fn gap(r: &Value) -> f64 {
    r["availability"]["longest_write_gap"]["seconds"]
        .as_f64()
        .unwrap()
}

#[test]
fn scenario_1_losing_the_sync_standby_moves_the_role_and_writes_go_on() {
    let v = run("1-sync-standby-loss.toml");
    let r = variant(&v, "default");
    assert_eq!(r["audit"]["lost"], 0);
    let first = r["sync_standbys"][0]["sync_standbys"].clone();
    assert!(
        r["sync_standbys"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["sync_standbys"] != first
                && !s["sync_standbys"].as_array().unwrap().is_empty())
    );
    assert!(gap(r) < 10.0);
}

#[test]
fn scenario_2_non_strict_falls_back_to_async_and_strict_blocks() {
    let v = run("2-sync-candidates-loss.toml");
    let loose = variant(&v, "non-strict");
    assert!(gap(loose) < 10.0);
    // Patroni cleared synchronous_standby_names while the candidates were gone.
    assert!(
        loose["sync_standbys"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["synchronous_standby_names"] == "")
    );
    let strict = variant(&v, "strict");
    assert!(gap(strict) >= 14.0, "strict blocked {} s", gap(strict));
    for r in [loose, strict] {
        assert_eq!(r["audit"]["lost"], 0);
    }
}

#[test]
fn scenario_3_commits_wait_under_strict_mode_and_complete_when_a_replica_returns() {
    let v = run("3-all-replicas-down-strict.toml");
    let r = variant(&v, "default");
    assert_eq!(r["audit"]["lost"], 0);
    let g = &r["availability"]["longest_write_gap"];
    assert!(gap(r) >= 12.0);
    // Writes came back after the read replica returned (22 s), before the candidates (32 s).
    let back = g["to"].as_f64().unwrap();
    assert!((22.0..32.0).contains(&back), "writes back at {back} s");
}

#[test]
fn scenario_4_a_crashed_leader_is_replaced_and_sync_modes_lose_nothing() {
    let v = run("4-leader-crash.toml");
    for label in ["sync-on", "sync-remote-apply", "async"] {
        let r = variant(&v, label);
        let leaders: Vec<&str> = r["leaders"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|l| l["leader"].as_str())
            .collect();
        assert!(
            leaders.windows(2).any(|w| w[0] != w[1]),
            "{label}: {leaders:?}"
        );
        let fault = &r["availability"]["faults"][0];
        assert!(
            fault["first_commit_on_another_member"].as_f64().is_some(),
            "{label}: {fault}"
        );
        let history = r["history"].as_array().unwrap();
        assert!(
            !history.is_empty(),
            "{label}: a promotion leaves a timeline switch"
        );
    }
    assert_eq!(variant(&v, "sync-on")["audit"]["lost"], 0);
    assert_eq!(variant(&v, "sync-remote-apply")["audit"]["lost"], 0);
    // The asynchronous run's losses are reported, whatever they are: `run` has checked them
    // against the ids found on the leader (lost = acknowledged − present) and the engine's
    // counts. Its clients followed the leader: some sessions were opened again.
    let r#async = variant(&v, "async");
    assert!(
        r#async["availability"]["reconnects"].as_u64().unwrap() > 0,
        "{}",
        r#async["availability"]
    );
    assert_eq!(r#async["run"]["target"]["synchronous_commit"], "on");
}

#[test]
fn scenario_5_without_failsafe_the_leader_demotes_and_with_it_writes_go_on() {
    let v = run("5-dcs-outage.toml");
    let off = variant(&v, "failsafe-off");
    assert!(
        gap(off) >= 12.0,
        "failsafe off: {} s without writes",
        gap(off)
    );
    let on = variant(&v, "failsafe-on");
    let stop = on["actions"][0]["t"].as_f64().unwrap();
    let start = on["actions"][1]["t"].as_f64().unwrap();
    // During the outage itself writes went on (checked per second by the scenario's expectation).
    assert!(
        on["checks"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["check"] == "a commit in every second" && c["passed"] == true)
    );
    assert!(start - stop > 20.0);
}

#[test]
fn added_replication_delay_raises_commit_latency_while_it_lasts() {
    let v = run("replication-delay.toml");
    let r = variant(&v, "default");
    let p50_between = |from: f64, to: f64| {
        let mut p: Vec<f64> = r["run"]["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|x| (from..to).contains(&x["t"].as_f64().unwrap()))
            .filter_map(|x| x["latency"]["p50"].as_f64())
            .collect();
        p.sort_by(f64::total_cmp);
        p[p.len() / 2]
    };
    let before = p50_between(2.0, 8.0);
    let during = p50_between(10.0, 16.0);
    let after = p50_between(18.0, 24.0);
    // At least the added 10 ms, at most two round trips: the 2 clients update the one branch
    // row of scale 1, whose lock is held through a commit's wait, so a commit can wait behind
    // the other's (measured +21 ms). Ceiling: 2 × (10 ms + the relay's ~2.4 ms) + 5 ms; a
    // doubled delay (+40) fails.
    assert!(during >= before + 8.0, "p50 {before} -> {during} ms");
    assert!(
        during <= before + 2.0 * (10.0 + 2.4) + 5.0,
        "p50 {before} -> {during} ms"
    );
    assert!(
        after < during - 5.0,
        "p50 {during} -> {after} ms after removal"
    );
}

#[test]
fn a_switchover_on_any_patroni_cluster_loses_nothing_and_restores_the_configuration() {
    let _shared = shared_lab();
    let _slot = a_slot();
    let l = lab();
    let before = l.config();
    let out = std::env::temp_dir().join(format!(
        "pgsyncbench-scenariotest-switchover-{}",
        std::process::id()
    ));
    let run = with_rest_auth()
        .arg("scenario")
        .arg(scenario_file("switchover.toml"))
        .args(["--patroni", &l.patroni_url, "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(run.status.success(), "{}\n{}", stdout(&run), stderr(&run));
    let v: Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("scenario-switchover.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(v["runs"][0]["audit"]["lost"], 0);
    assert_eq!(v["lab"], false);
    assert_eq!(l.config(), before);
}

#[test]
fn scenario_input_is_checked_before_anything_runs() {
    let dir = std::env::temp_dir().join(format!("pgsyncbench-badscenario-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let unknown = dir.join("unknown.toml");
    std::fs::write(
        &unknown,
        "name = \"x\"\n[workload]\nduration = 10\n[[actions]]\nat = 2\ndo = \"unplug\"\n",
    )
    .unwrap();
    let out = pgsyncbench()
        .arg("scenario")
        .arg(&unknown)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("unplug") && stderr(&out).contains(&unknown.display().to_string()),
        "{}",
        stderr(&out)
    );
    assert_eq!(stderr(&out).lines().count(), 1);

    // Lab-only actions are refused against a cluster pgsyncbench did not start, before contact.
    let out = pgsyncbench()
        .arg("scenario")
        .arg(scenario_file("4-leader-crash.toml"))
        .args(["--patroni", "http://127.0.0.1:9"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("action 1 (crash-member)") && stderr(&out).contains("need a lab"),
        "{}",
        stderr(&out)
    );

    // A member that is not in the cluster.
    let _shared = shared_lab();
    let _slot = a_slot();
    let l = lab();
    let ghost = dir.join("ghost.toml");
    std::fs::write(&ghost, "name = \"ghost\"\n[workload]\nduration = 10\n[[actions]]\nat = 2\ndo = \"restart\"\nmember = \"node9\"\n").unwrap();
    let before = l.config();
    let out = with_rest_auth()
        .arg("scenario")
        .arg(&ghost)
        .args(["--patroni", &l.patroni_url, "--out"])
        .arg(dir.join("ghost-out"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("node9, which is not a member"),
        "{}",
        stderr(&out)
    );
    assert_eq!(l.config(), before);
}

#[test]
fn patroni_and_shell_actions_work_on_a_cluster_pgsyncbench_did_not_start() {
    let _shared = shared_lab();
    let _slot = a_slot();
    let l = lab();
    let before = l.config();
    let dir = std::env::temp_dir().join(format!("pgsyncbench-actions-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("cluster-actions.toml");
    let marker = dir.join("shell-ran");
    std::fs::write(
        &file,
        format!(
            r#"name = "cluster-actions"
[cluster]
synchronous_mode = "on"
synchronous_commit = "on"
[workload]
clients = 2
threads = 1
duration = 30
[[actions]]
at = 2
do = "shell"
command = "touch {}"
[[actions]]
at = 4
do = "patch"
config = {{ postgresql = {{ parameters = {{ work_mem = "8MB" }} }} }}
[[actions]]
at = 6
do = "restart"
member = "replica"
[[actions]]
at = 14
do = "failover"
candidate = "sync_standby"
[expect]
lost = 0
leader_changes = true
max_primaries = 1
"#,
            marker.display()
        ),
    )
    .unwrap();
    let run = with_rest_auth()
        .arg("scenario")
        .arg(&file)
        .args(["--patroni", &l.patroni_url, "--out"])
        .arg(dir.join("out"))
        .output()
        .unwrap();
    assert!(run.status.success(), "{}\n{}", stdout(&run), stderr(&run));
    assert!(marker.exists(), "the shell action ran");
    let v: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("out/scenario-cluster-actions.json")).unwrap(),
    )
    .unwrap();
    let actions = v["runs"][0]["actions"].as_array().unwrap();
    assert_eq!(actions.len(), 4);
    for a in actions {
        assert_eq!(a["ok"], true, "{a}");
    }
    assert_eq!(v["runs"][0]["audit"]["lost"], 0);
    // work_mem came and went with the rest of the configuration
    assert_eq!(l.config(), before);
}

#[test]
fn ctrl_c_ends_a_scenario_undoes_its_faults_and_removes_its_lab() {
    let _slot = a_slot();
    let out =
        std::env::temp_dir().join(format!("pgsyncbench-scenario-ctrlc-{}", std::process::id()));
    let mut child = pgsyncbench()
        .arg("scenario")
        .arg(scenario_file("1-sync-standby-loss.toml"))
        .arg("--out")
        .arg(&out)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the load runs and the sync standby has been stopped (at 10 s), then Ctrl-C.
    let stderr_pipe = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        use std::io::BufRead;
        let mut lines = Vec::new();
        for line in std::io::BufReader::new(stderr_pipe)
            .lines()
            .map_while(Result::ok)
        {
            lines.push(line);
        }
        lines
    });
    let started = std::time::Instant::now();
    while !out.join("patroni-config.before.json").exists()
        && started.elapsed() < std::time::Duration::from_secs(90)
    {
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    std::thread::sleep(std::time::Duration::from_secs(16));
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let status = child.wait().unwrap();
    let err = reader.join().unwrap().join("\n");
    assert_eq!(status.code(), Some(130), "{err}");
    let dir = err
        .lines()
        .find_map(|l| {
            l.split("lab cluster in ")
                .nth(1)
                .map(str::trim)
                .map(String::from)
        })
        .expect("the lab folder is named");
    assert!(
        err.contains("undo: starting"),
        "the stopped standby was brought back: {err}"
    );
    assert!(
        common::lab::processes_under(std::path::Path::new(&dir)).is_empty(),
        "lab processes left"
    );
    assert!(!std::path::Path::new(&dir).exists());
    // What ran until then is written.
    let v: Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("scenario-sync-standby-loss.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(v["runs"][0]["run"]["summary"]["interrupted"], true);
}

/// Skips a zoned scenario when not root (network namespaces), saying so.
fn zones_possible() -> bool {
    let root = unsafe { libc::geteuid() } == 0;
    if !root {
        println!("SKIPPED: zones need root (network namespaces)");
    }
    root
}

/// The largest lag any standby had over a variant, in bytes.
fn max_lag(r: &Value) -> u64 {
    r["lag"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|l| l["bytes"].as_object().unwrap().values())
        .filter_map(Value::as_u64)
        .max()
        .unwrap_or(0)
}

#[test]
fn scenario_0_a_degraded_zone_leaves_async_without_a_failover_and_sync_without_losses() {
    if !zones_possible() {
        return;
    }
    let v = run_alone("0-zonal-degradation.toml");
    assert_eq!(
        v["network"]["zones"]["members"],
        serde_json::json!(["a", "b", "c"])
    );
    let r#async = variant(&v, "async");
    // The standbys fell more than maximum_lag_on_failover behind, Patroni said so and promoted
    // no one: writes stopped from the crash until the old leader came back.
    assert!(max_lag(r#async) > 1_048_576, "{}", r#async["lag"]);
    let refusals = r#async["promotion_refusals"].as_array().unwrap();
    assert!(
        refusals.iter().any(|w| w
            .as_str()
            .unwrap()
            .contains("exceeds maximum replication lag")),
        "{refusals:?}"
    );
    let named: Vec<&str> = r#async["leaders"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|l| l["leader"].as_str())
        .collect();
    assert!(named.iter().all(|l| *l == named[0]), "{named:?}");
    assert!(gap(r#async) >= 15.0);
    // Synchronous: the commits paid the degraded link, the synchronous standby stayed current
    // and was promoted, and nothing acknowledged was lost.
    let sync = variant(&v, "sync");
    assert_eq!(sync["audit"]["lost"], 0);
    assert!(
        sync["run"]["summary"]["tps"].as_f64().unwrap()
            < r#async["run"]["summary"]["tps"].as_f64().unwrap(),
        "waiting for the standby over the degraded link costs throughput"
    );
    let fault = &sync["availability"]["faults"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["action"] == "crash-member")
        .unwrap()
        .clone();
    assert!(
        fault["first_commit_on_another_member"].as_f64().is_some(),
        "{fault}"
    );
}

#[test]
fn scenario_6_a_partitioned_leader_loses_acknowledged_commits_only_when_asynchronous() {
    if !zones_possible() {
        return;
    }
    let v = run_alone("6-partition-during-commit.toml");
    for label in ["async", "sync"] {
        let r = variant(&v, label);
        // The cut-off leader demoted itself, another was elected, and the old one rejoined
        // rewound.
        assert!(
            r["demotions"]
                .as_array()
                .unwrap()
                .iter()
                .any(|d| d.as_str().unwrap().contains("DCS is not accessible")),
            "{label}: {}",
            r["demotions"]
        );
        assert!(!r["history"].as_array().unwrap().is_empty(), "{label}");
    }
    let lost = variant(&v, "async")["audit"]["lost"].as_u64().unwrap();
    assert!(
        lost > 0,
        "commits acknowledged by the cut-off leader are lost"
    );
    assert!(
        !variant(&v, "async")["rewinds"]
            .as_array()
            .unwrap()
            .is_empty(),
        "the old leader is rewound when it rejoins"
    );
    let sync = variant(&v, "sync");
    assert_eq!(sync["audit"]["lost"], 0);
}
