//! `init` and `run` against a real PostgreSQL server, end to end through the binary.

mod common;

use common::*;

fn init(db: &str, extra: &[&str]) {
    let s = server();
    check(
        pgsyncbench()
            .arg("init")
            .args(s.conn_args(db))
            .args(extra)
            .output()
            .unwrap(),
        "pgsyncbench init",
    );
}

fn run(db: &str, extra: &[&str]) -> std::process::Output {
    pgsyncbench()
        .arg("run")
        .args(server().conn_args(db))
        .args(extra)
        .output()
        .unwrap()
}

fn json_file(name: &str) -> std::path::PathBuf {
    server().dir.join(format!("{name}.json"))
}

fn read_json(path: &std::path::Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn tpcb_like_keeps_every_balance_and_history_in_agreement() {
    let s = server();
    let db = s.database("balances");
    init(&db, &["-s", "2", "-q"]);
    let json = json_file("balances");
    let out = check(
        run(
            &db,
            &[
                "-c",
                "4",
                "-j",
                "2",
                "-T",
                "3",
                "-M",
                "prepared",
                "--json",
                json.to_str().unwrap(),
            ],
        ),
        "run",
    );
    let r = read_json(&json);
    let committed = r["summary"]["transactions"].as_u64().unwrap();
    assert!(committed > 100, "{}", stdout(&out));
    let sums = s.psql(
        &db,
        "SELECT (SELECT sum(abalance) FROM pgbench_accounts) || ' ' || (SELECT sum(bbalance) FROM pgbench_branches)
          || ' ' || (SELECT sum(tbalance) FROM pgbench_tellers) || ' ' || (SELECT coalesce(sum(delta), 0) FROM pgbench_history)
          || ' ' || (SELECT count(*) FROM pgbench_history)",
    );
    let v: Vec<i64> = sums.split(' ').map(|x| x.parse().unwrap()).collect();
    assert_eq!(v[0], v[1], "accounts vs branches: {sums}");
    assert_eq!(v[1], v[2], "branches vs tellers: {sums}");
    assert_eq!(v[2], v[3], "tellers vs history: {sums}");
    // Every committed transaction is counted once: no warmup, nothing abandoned.
    assert_eq!(
        v[4] as u64, committed,
        "history rows vs reported transactions"
    );
    assert_eq!(
        field(&stdout(&out), "number of transactions actually processed:"),
        committed.to_string()
    );
}

/// What the tables hold and what the server counted as written to them.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Tables {
    history_rows: i64,
    history_delta: i64,
    abalance: i64,
    tbalance: i64,
    bbalance: i64,
    /// pg_stat_user_tables n_tup_ins + n_tup_upd + n_tup_del of accounts, branches, history,
    /// tellers (in that order).
    written: [i64; 4],
}

impl std::ops::Sub for Tables {
    type Output = Tables;
    fn sub(self, b: Tables) -> Tables {
        Tables {
            history_rows: self.history_rows - b.history_rows,
            history_delta: self.history_delta - b.history_delta,
            abalance: self.abalance - b.abalance,
            tbalance: self.tbalance - b.tbalance,
            bbalance: self.bbalance - b.bbalance,
            written: std::array::from_fn(|i| self.written[i] - b.written[i]),
        }
    }
}

fn tables(db: &str) -> Tables {
    let s = server();
    // A backend flushes its table statistics before it leaves pg_stat_activity: once the
    // run's sessions are gone, their writes are counted.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while s.psql(
        db,
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'",
    ) != "0"
    {
        assert!(std::time::Instant::now() < deadline, "sessions left");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let line = s.psql(
        db,
        "SELECT concat_ws(' ', (SELECT count(*) FROM pgbench_history), (SELECT coalesce(sum(delta), 0) FROM pgbench_history),
           (SELECT sum(abalance) FROM pgbench_accounts), (SELECT sum(tbalance) FROM pgbench_tellers),
           (SELECT sum(bbalance) FROM pgbench_branches),
           (SELECT string_agg((n_tup_ins + n_tup_upd + n_tup_del)::text, ' ' ORDER BY relname) FROM pg_stat_user_tables
             WHERE relname IN ('pgbench_accounts', 'pgbench_branches', 'pgbench_history', 'pgbench_tellers')))",
    );
    let v: Vec<i64> = line.split(' ').map(|x| x.parse().unwrap()).collect();
    assert_eq!(v.len(), 9, "{line}");
    Tables {
        history_rows: v[0],
        history_delta: v[1],
        abalance: v[2],
        tbalance: v[3],
        bbalance: v[4],
        written: [v[5], v[6], v[7], v[8]],
    }
}

#[test]
fn every_builtin_runs_under_every_protocol_with_exact_transaction_counts_and_writes() {
    let s = server();
    let db = s.database("protocols");
    init(&db, &["-s", "1", "-q"]);
    for builtin in ["tpcb-like", "simple-update", "select-only"] {
        for protocol in ["simple", "extended", "prepared"] {
            let before = tables(&db);
            let out = check(
                run(
                    &db,
                    &[
                        "-b", builtin, "-M", protocol, "-c", "3", "-j", "1", "-t", "15",
                    ],
                ),
                &format!("{builtin} {protocol}"),
            );
            let text = stdout(&out);
            assert_eq!(
                field(&text, "number of transactions actually processed:"),
                "45/45",
                "{text}"
            );
            assert_eq!(field(&text, "number of failed transactions:"), "0 (0.000%)");
            assert_eq!(field(&text, "query mode:"), protocol);
            let d = tables(&db) - before;
            let what = format!("{builtin} {protocol}: {d:?}");
            // 45 transactions: one history row, one row updated per table the script updates.
            match builtin {
                "tpcb-like" => {
                    assert_eq!(d.history_rows, 45, "{what}");
                    assert_eq!(d.written, [45, 45, 45, 45], "{what}");
                    assert_eq!(d.abalance, d.history_delta, "{what}");
                    assert_eq!(d.tbalance, d.history_delta, "{what}");
                    assert_eq!(d.bbalance, d.history_delta, "{what}");
                }
                "simple-update" => {
                    assert_eq!(d.history_rows, 45, "{what}");
                    // accounts and history only; tellers and branches untouched
                    assert_eq!(d.written, [45, 0, 45, 0], "{what}");
                    assert_eq!(d.abalance, d.history_delta, "{what}");
                    assert_eq!((d.tbalance, d.bbalance), (0, 0), "{what}");
                }
                _ => {
                    let nothing = Tables {
                        history_rows: 0,
                        history_delta: 0,
                        abalance: 0,
                        tbalance: 0,
                        bbalance: 0,
                        written: [0; 4],
                    };
                    assert_eq!(d, nothing, "select-only writes nothing: {what}");
                }
            }
        }
    }
}

#[test]
fn tables_made_by_pgbench_run_under_pgsyncbench_and_the_reverse() {
    let s = server();
    let db = s.database("interop");
    check(s.pgbench(&db, &["-i", "-q", "-s", "1"]), "pgbench -i");
    let out = check(
        run(&db, &["-c", "2", "-t", "10", "-M", "prepared"]),
        "run on pgbench tables",
    );
    let text = stdout(&out);
    assert_eq!(field(&text, "scaling factor:"), "1");
    assert_eq!(
        field(&text, "number of transactions actually processed:"),
        "20/20",
        "{text}"
    );
    assert_eq!(field(&text, "number of failed transactions:"), "0 (0.000%)");
    assert_eq!(
        s.psql(&db, "SELECT count(*) FROM pgbench_history"),
        "20",
        "one history row per transaction"
    );

    init(&db, &["-s", "2", "-F", "90"]);
    let out = check(
        s.pgbench(&db, &["-c", "2", "-t", "10", "-M", "prepared"]),
        "pgbench on our tables",
    );
    let text = stdout(&out);
    assert_eq!(field(&text, "scaling factor:"), "2");
    assert!(text.contains("number of failed transactions: 0"), "{text}");
    assert_eq!(
        s.psql(&db, "SELECT count(*) FROM pgbench_accounts"),
        "200000"
    );
    assert_eq!(
        s.psql(
            &db,
            "SELECT count(*) || ' ' || sum(bid) FROM pgbench_tellers"
        ),
        "20 30"
    );
}

#[test]
fn init_options_shape_the_tables_as_pgbench_does() {
    let s = server();
    let db = s.database("initopts");
    init(
        &db,
        &[
            "-s",
            "1",
            "--partitions",
            "3",
            "--unlogged-tables",
            "-F",
            "80",
            "-q",
        ],
    );
    assert_eq!(
        s.psql(
            &db,
            "SELECT relkind FROM pg_class WHERE relname = 'pgbench_accounts'"
        ),
        "p"
    );
    assert_eq!(
        s.psql(
            &db,
            "SELECT count(*) FROM pg_inherits WHERE inhparent = 'pgbench_accounts'::regclass"
        ),
        "3"
    );
    assert_eq!(
        s.psql(&db, "SELECT string_agg(DISTINCT relpersistence::text, ',') FROM pg_class WHERE relname LIKE 'pgbench_%' AND relkind = 'r'"),
        "u"
    );
    assert_eq!(
        s.psql(
            &db,
            "SELECT reloptions::text FROM pg_class WHERE relname = 'pgbench_accounts_2'"
        ),
        "{fillfactor=80}"
    );
    assert_eq!(
        s.psql(&db, "SELECT count(*) FROM pgbench_accounts_3"),
        "33332"
    );
    let out = check(
        s.pgbench(&db, &["-c", "2", "-t", "5"]),
        "pgbench on partitioned tables",
    );
    assert!(
        stdout(&out).contains("partition method: range"),
        "{}",
        stdout(&out)
    );
    let out = check(
        run(&db, &["-c", "2", "-t", "5"]),
        "run on partitioned tables",
    );
    let text = stdout(&out);
    assert_eq!(
        field(&text, "number of transactions actually processed:"),
        "10/10",
        "{text}"
    );
    assert_eq!(field(&text, "number of failed transactions:"), "0 (0.000%)");
    // pgbench's 10 transactions and ours, each with its history row
    assert_eq!(s.psql(&db, "SELECT count(*) FROM pgbench_history"), "20");
}

#[test]
fn json_result_validates_and_agrees_with_its_histogram_timeline_and_interval_log() {
    let s = server();
    let db = s.database("outputs");
    init(&db, &["-s", "1", "-q"]);
    let json = json_file("outputs");
    let hlog = s.dir.join("outputs.hlog");
    let out = check(
        run(
            &db,
            &[
                "-c",
                "2",
                "-j",
                "2",
                "-T",
                "3",
                "-S",
                "-M",
                "prepared",
                "-P",
                "1",
                "--json",
                json.to_str().unwrap(),
                "--hlog",
                hlog.to_str().unwrap(),
            ],
        ),
        "run",
    );
    assert!(
        stderr(&out)
            .lines()
            .filter(|l| l.starts_with("progress: "))
            .count()
            >= 2,
        "{}",
        stderr(&out)
    );

    let value = read_json(&json);
    let errors = schema_violations("run-result.schema.json", &value);
    assert!(errors.is_empty(), "schema violations: {errors:?}");

    let result: pgsyncbench::load::run_result::RunResult = serde_json::from_value(value).unwrap();
    let total = result.summary.transactions;
    let hist = pgsyncbench::load::metrics::decode_histogram(&result.histogram.data).unwrap();
    assert_eq!(hist.len(), total);
    let timeline_total: u64 = result.timeline.iter().map(|p| p.transactions).sum();
    assert_eq!(timeline_total, total);
    assert!(result.timeline.len() >= 3);
    let lat = result.summary.latency_ms.unwrap();
    assert!(lat.min <= lat.p50 && lat.p50 <= lat.p99 && lat.p99 <= lat.max);

    let text = std::fs::read(&hlog).unwrap();
    let mut logged = 0;
    let mut intervals = 0;
    for entry in hdrhistogram::serialization::interval_log::IntervalLogIterator::new(&text) {
        if let hdrhistogram::serialization::interval_log::LogEntry::Interval(h) = entry.unwrap() {
            let decoded =
                pgsyncbench::load::metrics::decode_histogram(h.encoded_histogram()).unwrap();
            logged += decoded.len();
            intervals += 1;
        }
    }
    assert_eq!(logged, total, "interval log total");
    assert_eq!(intervals, result.timeline.len());
}

#[test]
fn warmup_load_runs_but_is_not_counted() {
    let s = server();
    let db = s.database("warmup");
    init(&db, &["-s", "1", "-q"]);
    let json = json_file("warmup");
    check(
        run(
            &db,
            &[
                "-c",
                "2",
                "-T",
                "2",
                "--warmup",
                "2",
                "-N",
                "--json",
                json.to_str().unwrap(),
            ],
        ),
        "run",
    );
    let r = read_json(&json);
    let measured = r["summary"]["transactions"].as_u64().unwrap();
    let history: u64 = s
        .psql(&db, "SELECT count(*) FROM pgbench_history")
        .parse()
        .unwrap();
    assert!(measured > 0);
    assert!(
        history > measured + measured / 4,
        "history {history} should hold warmup transactions beyond the {measured} measured"
    );
    let secs = r["summary"]["measured_seconds"].as_f64().unwrap();
    assert!((1.9..3.5).contains(&secs), "measured {secs} s");
}

const MODES: [&str; 5] = ["off", "local", "remote_write", "on", "remote_apply"];

#[test]
fn every_session_runs_under_the_mode_asked_for_or_else_the_servers() {
    let s = server();
    let db = s.database("synccommit");
    init(&db, &["-s", "1", "-q"]);
    let json = json_file("synccommit");
    for mode in MODES {
        let out = check(
            run(
                &db,
                &[
                    "-c",
                    "3",
                    "-j",
                    "2",
                    "-t",
                    "5",
                    "--sync-commit",
                    mode,
                    "--json",
                    json.to_str().unwrap(),
                ],
            ),
            mode,
        );
        let line = field(&stdout(&out), "synchronous_commit:").to_string();
        let (shown, note) = line.split_once(' ').unwrap_or((&line, ""));
        assert_eq!(shown, mode);
        // This server has no standby: a remote mode says its commits did not wait for one.
        let remote = ["remote_write", "on", "remote_apply"].contains(&mode);
        assert_eq!(
            note.contains("no synchronous standby attached"),
            remote,
            "{line}"
        );
        let r = read_json(&json);
        assert_eq!(r["options"]["sync_commit"], mode);
        assert_eq!(r["target"]["synchronous_commit"], mode);
        // What each of the 3 benchmark sessions said after its SET, not the control session.
        assert_eq!(
            r["session_synchronous_commit"],
            serde_json::json!({ mode: 3 }),
            "{mode}"
        );
        assert_eq!(
            schema_violations("run-result.schema.json", &r),
            Vec::<String>::new()
        );
    }
    // Without --sync-commit the sessions run under the server's setting, here the database's.
    s.psql(
        "postgres",
        &format!("ALTER DATABASE {db} SET synchronous_commit = 'remote_write'"),
    );
    let out = check(
        run(
            &db,
            &["-c", "2", "-t", "5", "--json", json.to_str().unwrap()],
        ),
        "run without --sync-commit",
    );
    assert_eq!(field(&stdout(&out), "synchronous_commit:"), "remote_write");
    let r = read_json(&json);
    assert_eq!(r["options"]["sync_commit"], serde_json::Value::Null);
    assert_eq!(
        r["session_synchronous_commit"],
        serde_json::json!({ "remote_write": 2 })
    );
}

/// The engine on this test's server, with the given setup statements and expected mode.
fn engine_run(
    db: &str,
    setup: &str,
    expect: pgsyncbench::pg::mode::SyncCommit,
) -> Result<pgsyncbench::load::engine::Outcome, pgsyncbench::load::engine::EngineError> {
    use pgsyncbench::load::engine::{EngineConfig, StopAfter};
    let opts = pgsyncbench::pg::conn::ConnOptions {
        dbname: Some(format!(
            "host=127.0.0.1 port={} user=postgres dbname={db}",
            server().port
        )),
        ..Default::default()
    };
    let target =
        pgsyncbench::pg::conn::Target::resolve(&opts, &pgsyncbench::pg::conn::ProcessEnv).unwrap();
    let config = EngineConfig {
        workload: pgsyncbench::load::workload::Workload::Builtin {
            builtin: pgsyncbench::load::workload::Builtin::TpcbLike,
            scale: 1,
        },
        protocol: pgsyncbench::load::workload::Protocol::Prepared,
        clients: 3,
        threads: 2,
        stop: StopAfter::Transactions(4),
        warmup_secs: 0,
        rate: None,
        latency_limit: None,
        max_tries: 1,
        start_at: None,
        interval_histograms: false,
        session_setup: vec![setup.to_string()],
        expect_synchronous_commit: Some(expect),
        seed: 1,
        drain_timeout: std::time::Duration::from_secs(10),
        audit_run_id: None,
        reconnect: false,
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(pgsyncbench::load::engine::run(
        &config,
        &target,
        &mut [],
        std::future::pending(),
    ))
}

#[test]
fn a_session_under_another_mode_than_expected_stops_the_load_before_it_starts() {
    use pgsyncbench::pg::mode::SyncCommit;
    let s = server();
    let db = s.database("modemismatch");
    init(&db, &["-s", "1", "-q"]);
    // Sessions that end up under `local` while `remote_apply` is expected.
    let err = engine_run(
        &db,
        "SET synchronous_commit = 'local'",
        SyncCommit::RemoteApply,
    )
    .expect_err("the load must not run under another mode");
    let text = err.to_string();
    assert!(
        text.contains("synchronous_commit=local, not remote_apply"),
        "{text}"
    );
    assert!(text.contains("nothing was measured"), "{text}");
    assert_eq!(s.psql(&db, "SELECT count(*) FROM pgbench_history"), "0");
    // The same sessions, expected as they are: the load runs and each session is counted.
    let outcome = engine_run(&db, "SET synchronous_commit = 'local'", SyncCommit::Local).unwrap();
    assert_eq!(
        outcome.session_synchronous_commit,
        std::collections::BTreeMap::from([("local".to_string(), 3)])
    );
    assert_eq!(outcome.total.transactions(), 12);
}

#[test]
fn scram_password_is_taken_from_pgpassword_and_a_wrong_one_is_explained() {
    let s = server();
    let db = s.database("passwords");
    init(&db, &["-s", "1", "-q"]);
    let args = [
        "-h",
        "127.0.0.1",
        "-p",
        &s.port.to_string(),
        "-U",
        PASSWORD_USER,
        "-d",
        &db,
    ];
    let ok = pgsyncbench()
        .arg("run")
        .args(args)
        .args(["-c", "2", "-t", "3", "-M", "prepared"])
        .env("PGPASSWORD", PASSWORD)
        .output()
        .unwrap();
    check(ok, "run with the right password");
    let bad = pgsyncbench()
        .arg("run")
        .args(args)
        .args(["-c", "2", "-t", "3"])
        .env("PGPASSWORD", "wrong")
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(1));
    let err = stderr(&bad);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("password authentication failed"), "{err}");
    assert!(err.contains("PGPASSWORD"), "{err}");
    assert!(
        !err.contains("wrong"),
        "the password must not be printed: {err}"
    );
}

#[test]
fn bad_input_gets_one_line_and_a_non_zero_exit() {
    let s = server();
    let empty = s.database("notables");
    let out = pgsyncbench()
        .args(["run", "-t", "1"])
        .args(s.conn_args(&empty))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("run `pgsyncbench init` first"),
        "{}",
        stderr(&out)
    );

    let db = s.database("badinput");
    init(&db, &["-s", "1", "-q"]);
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec!["run".into(), "-c".into(), "200".into()],
            "lower the number of clients or raise max_connections",
        ),
        (
            vec![
                "run".into(),
                "-c".into(),
                "1".into(),
                "-j".into(),
                "2".into(),
            ],
            "must not exceed number of clients",
        ),
        (
            vec!["run".into(), "-b".into(), "tpcc".into()],
            "no builtin script found for name \"tpcc\": use one of tpcb-like (",
        ),
        (
            vec!["run".into(), "-c".into(), "0".into()],
            "0 is not in 1..",
        ),
        (
            vec!["run".into(), "--sync-commit".into(), "always".into()],
            "use one of off, local, remote_write, on, remote_apply",
        ),
    ];
    for (args, expect) in cases {
        let mut cmd = pgsyncbench();
        cmd.args(&args).args(s.conn_args(&db));
        let out = cmd.output().unwrap();
        let err = stderr(&out);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.contains(expect), "{args:?}: {err}");
    }
    // Nothing listens on this port: refused at once.
    let port = free_port().to_string();
    let out = pgsyncbench()
        .args(["run", "-h", "127.0.0.1", "-p", &port, "-t", "1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("Connection refused"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn unreachable_host_fails_within_the_connect_timeout() {
    // A listener that accepts and never answers: the startup packet waits forever without a bound.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let started = std::time::Instant::now();
    let out = pgsyncbench()
        .args([
            "run",
            "-h",
            "127.0.0.1",
            "-p",
            &port,
            "-t",
            "1",
            "-d",
            "connect_timeout=2",
        ])
        .output()
        .unwrap();
    drop(listener);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("no answer within 2 s"),
        "{}",
        stderr(&out)
    );
    // The timeout bounds the whole attempt, startup included: no more, no less.
    let took = started.elapsed();
    assert!(
        took >= std::time::Duration::from_secs(2) && took < std::time::Duration::from_secs(4),
        "took {took:?}"
    );
}

#[test]
fn init_refuses_a_read_only_target() {
    let s = server();
    let db = s.database("readonly");
    let out = pgsyncbench()
        .args([
            "init",
            "-h",
            "127.0.0.1",
            "-p",
            &s.port.to_string(),
            "-U",
            "postgres",
        ])
        .args([
            "-d",
            &format!("dbname={db} options='-c default_transaction_read_only=on'"),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("read-only"), "{}", stderr(&out));
    assert_eq!(
        s.psql(
            &db,
            "SELECT count(*) FROM pg_class WHERE relname LIKE 'pgbench_%'"
        ),
        "0"
    );
}

#[test]
fn a_connection_lost_mid_run_is_a_failure_and_the_run_still_reports() {
    let s = server();
    let db = s.database("lostconn");
    init(&db, &["-s", "1", "-q"]);
    let json = json_file("lostconn");
    let child = pgsyncbench()
        .arg("run")
        .args(s.conn_args(&db))
        .args([
            "-c",
            "3",
            "-j",
            "1",
            "-T",
            "5",
            "--json",
            json.to_str().unwrap(),
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_secs(2));
    let killed = s.psql(
        &db,
        "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'pgsyncbench' AND datname = current_database() AND pid <> pg_backend_pid() LIMIT 1) t",
    );
    assert_eq!(killed, "1");
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("1 of 3 clients lost their connection"),
        "{text}"
    );
    let r = read_json(&json);
    assert_eq!(r["summary"]["clients_lost"], 1);
    assert_eq!(r["failures"]["57P01"], 1, "{}", r["failures"]);
    assert!(r["summary"]["transactions"].as_u64().unwrap() > 0);
}

#[test]
fn failed_transactions_are_counted_reported_and_make_the_exit_status_2() {
    let s = server();
    let db = s.database("failedtx");
    init(&db, &["-s", "1", "-q"]);
    // A transaction drawing a negative delta fails at its history INSERT and rolls back; the
    // client goes on with the next one.
    s.psql(
        &db,
        "ALTER TABLE pgbench_history ADD CONSTRAINT nonnegative CHECK (delta >= 0)",
    );
    let json = json_file("failedtx");
    let out = run(
        &db,
        &["-c", "2", "-t", "30", "--json", json.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let text = stdout(&out);
    let r = read_json(&json);
    let failed = r["summary"]["failed"].as_u64().unwrap();
    let committed = r["summary"]["transactions"].as_u64().unwrap();
    assert!(failed > 0 && committed > 0, "{text}");
    assert_eq!(failed + committed, 60, "{text}");
    assert_eq!(r["failures"], serde_json::json!({ "23514": failed }));
    assert_eq!(r["summary"]["clients_lost"], 0);
    assert_eq!(
        field(&text, "number of transactions actually processed:"),
        format!("{committed}/60")
    );
    assert!(
        field(&text, "number of failed transactions:").starts_with(&format!("{failed} (")),
        "{text}"
    );
    assert_eq!(
        s.psql(&db, "SELECT count(*) FROM pgbench_history"),
        committed.to_string()
    );
}

/// Whether a new session to `conninfo` is encrypted, through the benchmark's wire client and
/// through tokio-postgres (control sessions); both must agree.
fn ssl_in_use(conninfo: &str) -> Result<bool, String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let opts = pgsyncbench::pg::conn::ConnOptions {
            dbname: Some(conninfo.to_string()),
            ..Default::default()
        };
        let target =
            pgsyncbench::pg::conn::Target::resolve(&opts, &pgsyncbench::pg::conn::ProcessEnv)
                .map_err(|e| e.to_string())?;
        let sql = "SELECT ssl::text FROM pg_stat_ssl WHERE pid = pg_backend_pid()";
        let mut wire = pgsyncbench::load::wire::connect(&target)
            .await
            .map_err(|e| e.to_string())?;
        let by_wire = wire.query_value(sql).await.map_err(|e| e.to_string())?;
        let client = target.connect().await.map_err(|e| e.to_string())?;
        let by_driver: String = client
            .query_one(sql, &[])
            .await
            .map_err(|e| e.to_string())?
            .get(0);
        assert_eq!(by_wire.as_deref(), Some(by_driver.as_str()));
        Ok(by_driver == "true")
    })
}

#[test]
fn sslmode_is_honoured_as_libpq_does() {
    let s = server();
    let ca = s.dir.join("data/ca.crt");
    let base = format!("port={} user=postgres dbname=postgres", s.port);
    assert_eq!(
        ssl_in_use(&format!("host=127.0.0.1 {base} sslmode=disable")),
        Ok(false)
    );
    assert_eq!(
        ssl_in_use(&format!("host=127.0.0.1 {base} sslmode=require")),
        Ok(true)
    );
    assert_eq!(
        ssl_in_use(&format!("host=127.0.0.1 {base} sslmode=prefer")),
        Ok(true)
    );
    assert_eq!(
        ssl_in_use(&format!(
            "host=localhost {base} sslmode=verify-full sslrootcert={}",
            ca.display()
        )),
        Ok(true)
    );
    // verify-ca checks the chain only; verify-full also the host name, which 127.0.0.1 is not.
    assert_eq!(
        ssl_in_use(&format!(
            "host=127.0.0.1 {base} sslmode=verify-ca sslrootcert={}",
            ca.display()
        )),
        Ok(true)
    );
    let err = ssl_in_use(&format!(
        "host=127.0.0.1 {base} sslmode=verify-full sslrootcert={}",
        ca.display()
    ))
    .unwrap_err();
    assert!(
        err.contains("cannot connect") && err.to_lowercase().contains("certificate"),
        "{err}"
    );
    // A certificate signed by another CA fails verification.
    let other = s.dir.join("other-ca.crt");
    check(
        std::process::Command::new("openssl")
            .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout"])
            .arg(s.dir.join("other-ca.key"))
            .arg("-out")
            .arg(&other)
            .args(["-days", "1", "-subj", "/CN=another CA"])
            .output()
            .unwrap(),
        "openssl",
    );
    let err = ssl_in_use(&format!(
        "host=localhost {base} sslmode=verify-full sslrootcert={}",
        other.display()
    ))
    .unwrap_err();
    assert!(err.to_lowercase().contains("certificate"), "{err}");
}
