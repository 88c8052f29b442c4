//! Bad input and faults, command by command, as one table: every case must end within its time
//! bound with the exit status it names and one line on stderr that names the problem, leave no
//! lab folder or process behind, and leave the shared lab's Patroni configuration as it was.
//! Grow the table with every defect found.

mod common;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::lab::{lab, processes_under, with_rest_auth};
use common::*;

/// One bad invocation and what it must give.
struct Case {
    name: &'static str,
    args: Vec<String>,
    /// Environment besides the test's clean one.
    env: Vec<(&'static str, String)>,
    code: i32,
    /// Each must appear in the one line on stderr.
    says: Vec<&'static str>,
    within: Duration,
    /// Uses the shared lab: its configuration must be the same afterwards.
    on_lab: bool,
    /// Progress lines may come before the error line (the failure comes after a change that
    /// was put back); otherwise the error is all stderr says.
    chatty: bool,
}

fn case(name: &'static str, args: &[&str], code: i32, says: &[&'static str]) -> Case {
    Case {
        name,
        args: args.iter().map(|a| a.to_string()).collect(),
        env: Vec::new(),
        code,
        says: says.to_vec(),
        within: Duration::from_secs(5),
        on_lab: false,
        chatty: false,
    }
}

impl Case {
    fn on_lab(mut self) -> Case {
        self.on_lab = true;
        self.within = Duration::from_secs(20);
        self
    }

    fn chatty(mut self) -> Case {
        self.chatty = true;
        self
    }

    fn env(mut self, key: &'static str, value: &str) -> Case {
        self.env.push((key, value.to_string()));
        self
    }

    /// Runs the case; returns what went wrong, if anything.
    fn check(&self) -> Result<(), String> {
        let before = self.on_lab.then(|| lab().config());
        let mut cmd = if self.on_lab {
            with_rest_auth()
        } else {
            pgsyncbench()
        };
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        let started = Instant::now();
        let mut child = cmd
            .args(&self.args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let pid = child.id();
        // A hang must fail the case, not the whole test run.
        let limit = self.within * 3;
        while child.try_wait().unwrap().is_none() {
            if started.elapsed() > limit {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("hung for more than {limit:?}"));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let out = child.wait_with_output().unwrap();
        let took = started.elapsed();
        let err = stderr(&out);
        let mut lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
        if self.chatty {
            lines = lines.split_off(lines.len().saturating_sub(1));
        }
        let mut problems = Vec::new();
        if out.status.code() != Some(self.code) {
            problems.push(format!("exit {:?}, not {}", out.status.code(), self.code));
        }
        if took > self.within {
            problems.push(format!("took {took:?}, more than {:?}", self.within));
        }
        match lines.as_slice() {
            [line] if line.starts_with("pgsyncbench: error: ") => {
                for s in &self.says {
                    if !line.contains(s) {
                        problems.push(format!("the message does not say '{s}'"));
                    }
                }
            }
            _ => problems.push(format!(
                "{} lines on stderr, not one error line",
                lines.len()
            )),
        }
        for command in ["run", "sweep", "scenario"] {
            let dir = std::env::temp_dir().join(format!("pgsyncbench-{command}-{pid}"));
            if dir.exists() || !processes_under(&dir).is_empty() {
                problems.push(format!("left {} behind", dir.display()));
            }
        }
        if let Some(before) = before
            && lab().config() != before
        {
            problems.push("the lab's Patroni configuration changed".into());
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(format!("{}\n    stderr: {err}", problems.join("; ")))
        }
    }
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("pgsyncbench-bad-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

/// Runs every case (all of them, so one report shows every failure).
fn run_table(cases: Vec<Case>) {
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|c| {
            c.check()
                .err()
                .map(|e| format!("{} (pgsyncbench {}): {e}", c.name, c.args.join(" ")))
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

/// Input that is wrong before anything is reached: flags, files, folders, unreachable hosts.
#[test]
fn bad_input_to_every_command_fails_at_once_in_one_line() {
    let d = scratch("input");
    let closed = free_port().to_string();
    let nowhere = format!("http://127.0.0.1:{closed}");
    let bad_plan = write(
        &d,
        "bad.toml",
        "name = \"x\"\nmodes = [\"on\", \"sometimes\"]\n",
    );
    let bad_scenario = write(
        &d,
        "bad-scenario.toml",
        "name = \"s\"\n[[actions]]\nat = 1\nexplode = true\n",
    );
    let not_config = write(&d, "not-config.json", "{\"a\": 1}");
    let not_json = write(&d, "not-json.json", "ttl: 30");
    let full = scratch("full");
    write(&full, "something", "");
    let file = write(&d, "a-file", "");
    let lab_dir = d.join("lab").display().to_string();
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sweep-small");
    let fixture = fixture.to_str().unwrap();
    let bad_script = write(&d, "bad.sql", "\\set x 1 +\nSELECT :x;\n");
    let pipeline = write(
        &d,
        "pipeline.sql",
        "\\startpipeline\nSELECT 1;\n\\endpipeline\n",
    );
    #[rustfmt::skip]
    let cases = vec![
        // init
        case("init: scale 0", &["init", "-s", "0"], 2, &["--scale", "see --help"]),
        case("init: nobody listens", &["init", "-h", "127.0.0.1", "-p", &closed], 1, &["cannot connect", "Connection refused"]),
        case("init: unknown sslmode", &["init", "-h", "127.0.0.1", "-p", &closed], 1, &["sslmode 'sometimes'"]).env("PGSSLMODE", "sometimes"),
        case("init: bad PGCONNECT_TIMEOUT", &["init", "-h", "127.0.0.1", "-p", &closed], 1, &["PGCONNECT_TIMEOUT 'soon'"]).env("PGCONNECT_TIMEOUT", "soon"),
        // run
        case("run: more threads than clients", &["run", "-c", "2", "-j", "4"], 1, &["-j 4", "-c 2"]),
        case("run: unknown mode", &["run", "--sync-commit", "remote_flush"], 2, &["remote_flush"]),
        case("run: -T and -t", &["run", "-T", "5", "-t", "3"], 2, &["see --help"]),
        case("run: nobody listens", &["run", "-h", "127.0.0.1", "-p", &closed, "-T", "1"], 1, &["cannot connect"]),
        case("run: no Patroni there", &["run", "--patroni", &nowhere], 1, &["cannot reach Patroni", "is Patroni running"]),
        case("run: --patroni and -h", &["run", "--patroni", &nowhere, "-h", "db"], 1, &["give one or the other"]),
        case("run: --json in a missing folder", &["run", "--json", "/nonexistent-dir/x.json", "-h", "127.0.0.1", "-p", &closed], 1, &["--json /nonexistent-dir/x.json", "does not exist"]),
        case("run: --hlog is a folder", &["run", "--hlog", &d.display().to_string(), "-h", "127.0.0.1", "-p", &closed], 1, &["--hlog", "is a folder"]),
        case("run: --out under a file", &["run", "--out", &format!("{file}/x"), "--patroni", &nowhere, "--sync-commit", "on"], 1, &["--out", "not a folder"]),
        case("run: not a Patroni URL", &["run", "--patroni", "ftp://x"], 1, &["invalid Patroni URL"]),
        case("run: no such builtin", &["run", "-b", "tpcc", "-h", "127.0.0.1", "-p", &closed], 1, &["no builtin script found for name \"tpcc\"", "tpcb-like"]),
        case("run: ambiguous builtin", &["run", "-b", "s", "-h", "127.0.0.1", "-p", &closed], 1, &["ambiguous builtin name", "\"s\""]),
        case("run: bad weight", &["run", "-b", "tpcb@x", "-h", "127.0.0.1", "-p", &closed], 1, &["invalid weight specification: @x"]),
        case("run: no such script", &["run", "-f", "/nonexistent.sql", "-h", "127.0.0.1", "-p", &closed], 1, &["could not read file \"/nonexistent.sql\""]),
        case("run: script syntax error", &["run", "-f", &bad_script, "-h", "127.0.0.1", "-p", &closed], 1, &["bad.sql:1:", "syntax error"]),
        case("run: pipeline with the simple protocol", &["run", "-f", &pipeline, "-h", "127.0.0.1", "-p", &closed], 1, &["pipeline.sql:1:1", "simple query protocol"]),
        case("run: bad -D", &["run", "-D", "novalue", "-h", "127.0.0.1", "-p", &closed], 1, &["invalid variable definition: \"novalue\""]),
        case("run: zero rate", &["run", "-R", "0"], 2, &["--rate", "positive"]),
        case("run: negative latency limit", &["run", "--latency-limit", "-5"], 2, &["--latency-limit"]),
        case("run: unlimited tries without a bound", &["run", "--max-tries", "0", "-t", "5"], 1, &["--max-tries 0", "--latency-limit"]),
        case("run: bad random seed", &["run", "--random-seed", "soon", "-h", "127.0.0.1"], 2, &["--random-seed", "soon"]),
        // sweep
        case("sweep: no plan file", &["sweep", "--plan", "/nonexistent.toml"], 1, &["cannot read plan /nonexistent.toml"]),
        case("sweep: invalid plan", &["sweep", "--plan", &bad_plan], 1, &["invalid plan", "line 2", "sometimes"]),
        case("sweep: baseline not measured", &["sweep", "--modes", "on", "--baseline", "off"], 1, &["baseline", "add it to modes"]),
        case("sweep: resume of nothing", &["sweep", "--resume", "/nonexistent"], 1, &["holds no pgsyncbench results"]),
        case("sweep: --new-lab without --resume", &["sweep", "--new-lab"], 2, &["--resume"]),
        case("sweep: no Patroni there", &["sweep", "--patroni", &nowhere, "--out", &d.join("sweep-out").display().to_string()], 1, &["cannot reach Patroni"]),
        case("sweep: --out is a file", &["sweep", "--out", &file], 1, &["--out", "is a file"]),
        case("sweep: rtt on a cluster", &["sweep", "--patroni", &nowhere, "--plan", &write(&d, "rtt.toml", "rtt_ms = [0, 5]\n")], 1, &["rtt_ms", "without --patroni"]),
        case("sweep: a capacity plan", &["sweep", "--plan", &write(&d, "capacity.toml", "capacity = { slo_ms = 20 }\n")], 1, &["holds a capacity search", "pgsyncbench capacity --plan"]),
        case("sweep: rate 0", &["sweep", "--rates", "0,100"], 1, &["'rates' holds 0"]),
        case("capacity: no objective", &["capacity", "--modes", "off"], 1, &["slo_ms = 20", "--slo-ms"]),
        case("capacity: with rates", &["capacity", "--slo-ms", "20", "--rates", "100"], 1, &["'rates' and 'capacity' exclude each other"]),
        case("capacity: percentile 100", &["capacity", "--slo-ms", "20", "--percentile", "100"], 2, &["not a percentile"]),
        case("capacity: resume of a sweep", &["capacity", "--resume", fixture], 1, &["holds a sweep", "pgsyncbench sweep --resume"]),
        case("capacity: resume with a new objective", &["capacity", "--resume", fixture, "--slo-ms", "5"], 1, &["--resume continues a search with the objective it started with"]),
        // report
        case("report: no results", &["report", "/nonexistent"], 1, &["holds no pgsyncbench results"]),
        case("report: a file", &["report", &not_config], 1, &["holds no pgsyncbench results"]),
        // compare
        case("compare: no results", &["compare", "/nonexistent", fixture], 2, &["/nonexistent holds no pgsyncbench results"]),
        case("compare: negative threshold", &["compare", fixture, fixture, "--threshold", "-5"], 2, &["threshold"]),
        // scenario
        case("scenario: no file", &["scenario", "/nonexistent.toml"], 1, &["cannot read scenario /nonexistent.toml"]),
        case("scenario: unknown key", &["scenario", &bad_scenario], 1, &["invalid scenario", "line 4", "explode"]),
        case("scenario: --json in a missing folder", &["scenario", "workloads/scenarios/switchover.toml", "--json", "/nonexistent-dir/s.json"], 1, &["--json", "does not exist"]),
        // lab
        case("lab: one node", &["lab", "up", "--nodes", "1", "--dir", &lab_dir], 1, &["2 to 9 nodes"]),
        case("lab: folder not empty", &["lab", "up", "--dir", &full.display().to_string()], 1, &["exists and is not empty"]),
        case("lab: status of nothing", &["lab", "status", "--dir", "/nonexistent"], 1, &["no lab in /nonexistent"]),
        case("lab: down of nothing", &["lab", "down", "--dir", "/nonexistent"], 1, &["no lab in /nonexistent"]),
        case("lab: negative rtt", &["lab", "rtt", "-1", "--dir", "/nonexistent"], 1, &["0 or more milliseconds"]),
        case("lab: missing etcd", &["lab", "up", "--dir", &lab_dir], 1, &["etcd not found", "install-deps"]).env("ETCD", "/nonexistent/etcd"),
        // cluster
        case("cluster: no Patroni there", &["cluster", "status", "--patroni", &nowhere], 1, &["cannot reach Patroni"]),
        case("cluster: nothing to apply", &["cluster", "apply", "--patroni", &nowhere], 1, &["nothing to apply"]),
        case("cluster: restore from nothing", &["cluster", "restore", "--patroni", &nowhere, "--from", "/nonexistent"], 1, &["cannot read a saved Patroni configuration"]),
        case("cluster: restore from another file", &["cluster", "restore", "--patroni", &nowhere, "--from", &not_config], 1, &["not a Patroni dynamic configuration"]),
        case("cluster: restore from text", &["cluster", "restore", "--patroni", &nowhere, "--from", &not_json], 1, &["cannot read a saved Patroni configuration"]),
    ];
    run_table(cases);
}

/// Faults met on a real server and a real Patroni cluster: each refused, the cluster as it was.
#[test]
fn faults_on_a_real_server_and_cluster_fail_in_one_line_and_change_nothing() {
    let s = server();
    let port = s.port.to_string();
    let empty = s.database("bad_input_empty");
    // Tables where a run would find them, so the cases fail for their own reason.
    check(
        pgsyncbench()
            .args(["init", "-s", "1", "-q"])
            .args(s.conn_args("postgres"))
            .output()
            .unwrap(),
        "init on the server",
    );
    let leader = common::lab::runtime()
        .block_on(
            pgsyncbench::lab::Lab::open(&lab().dir)
                .unwrap()
                .leader_url(),
        )
        .unwrap();
    check(
        pgsyncbench()
            .args(["init", "-s", "1", "-q", "-d", &leader])
            .output()
            .unwrap(),
        "init on the lab",
    );
    // A database whose own synchronous_commit overrides whatever Patroni sets.
    lab().psql_leader("DROP DATABASE IF EXISTS override_db");
    lab().psql_leader("CREATE DATABASE override_db");
    lab().psql_leader("ALTER DATABASE override_db SET synchronous_commit = local");
    check(
        pgsyncbench()
            .args([
                "init",
                "-s",
                "1",
                "-q",
                "-d",
                &format!("{}/override_db", leader.rsplit_once('/').unwrap().0),
            ])
            .output()
            .unwrap(),
        "init in override_db",
    );
    let url = lab().patroni_url.clone();
    let dir = scratch("lab-cases");
    let out = dir.display().to_string();
    #[rustfmt::skip]
    let cases = vec![
        case("init: no such database", &["init", "-h", "127.0.0.1", "-p", &port, "-d", "nonesuch"], 1, &["nonesuch", "create the database"]),
        case("run: no pgbench tables", &["run", "-h", "127.0.0.1", "-p", &port, "-d", &empty, "-T", "1"], 1, &["pgsyncbench init"]),
        case("run: more clients than the server takes", &["run", "-h", "127.0.0.1", "-p", &port, "-c", "500", "-T", "1"], 1, &["max_connections"]),
        case("run: wrong password", &["run", "-h", "127.0.0.1", "-p", &port, "-U", PASSWORD_USER, "-T", "1"], 1, &["password"]).env("PGPASSWORD", "wrong"),
        case("run: more clients than the leader takes", &["run", "--patroni", &url, "--sync-commit", "on", "-c", "500", "-T", "1", "--out", &out], 1, &["max_connections"]).on_lab(),
        case("run: no such database on the cluster", &["run", "--patroni", &url, "-d", "nonesuch", "-T", "1", "--out", &out], 1, &["nonesuch"]).on_lab(),
        case("sweep: more clients than the leader takes", &["sweep", "--patroni", &url, "--clients", "500", "--out", &dir.join("sweep").display().to_string()], 1, &["max_connections"]).on_lab(),
        case("scenario: lab actions on --patroni", &["scenario", "workloads/scenarios/4-leader-crash.toml", "--patroni", &url, "--out", &out], 1, &["need a lab cluster started by pgsyncbench"]).on_lab(),
        case("cluster: wrong REST password", &["cluster", "apply", "--patroni", &url.replace("http://", "http://labadmin:wrong@"), "--sync-commit", "local"], 1, &["HTTP 401"]).on_lab(),
        case("cluster: unknown setting value", &["cluster", "apply", "--patroni", &url, "--synchronous-mode", "sometimes"], 2, &["sometimes"]).on_lab(),
        case("cluster: restore a file that is not one", &["cluster", "restore", "--patroni", &url, "--from", &write(&dir, "x.json", "[]")], 1, &["not a Patroni dynamic configuration"]).on_lab(),
        case("cluster: --save under a file", &["cluster", "apply", "--patroni", &url, "--sync-commit", "local", "--save", &format!("{}/saved.json", write(&dir, "plain-file", ""))], 1, &["plain-file"]).on_lab(),
        case("run: a database overrides synchronous_commit", &["run", "--patroni", &url, "-d", "override_db", "--sync-commit", "remote_write", "-T", "1", "--out", &out], 1, &["set for this database", "overrides Patroni's setting"]).on_lab().chatty(),
        case("lab: rtt on a lab without relays", &["lab", "rtt", "5", "--dir", &lab().dir.display().to_string()], 1, &["no replication relays", "--relays"]).on_lab(),
    ];
    let _x = common::lab::exclusive();
    run_table(cases);
}
