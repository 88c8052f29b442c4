//! Fixed-rate load (`-R`), `--latency-limit` and `--max-tries` against a real PostgreSQL,
//! beside pgbench on the same server: a stall the server imposes must show in the latencies
//! of the transactions scheduled during it (no coordinated omission), as pgbench reports it.

mod common;

use std::process::{Child, Output, Stdio};
use std::time::Duration;

use common::*;
use serde_json::Value;

const STALL: Duration = Duration::from_secs(2);

/// The tests time stalls and rates: one at a time, so that they do not slow each other.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

/// Holds pgbench_branches locked for `STALL` once `after` has passed: every tpcb-like
/// transaction waits behind it.
fn stall_after(db: &str, after: Duration) -> std::thread::JoinHandle<()> {
    let db = db.to_string();
    std::thread::spawn(move || {
        std::thread::sleep(after);
        server().psql(
            &db,
            &format!(
                "BEGIN; LOCK TABLE pgbench_branches IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep({}); COMMIT",
                STALL.as_secs_f64()
            ),
        );
    })
}

fn ours(db: &str, args: &[&str], json: &std::path::Path) -> Child {
    pgsyncbench()
        .arg("run")
        .args(args)
        .arg("--json")
        .arg(json)
        .args(server().conn_args(db))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn result(json: &std::path::Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(json).unwrap()).unwrap()
}

fn histogram(v: &Value, key: &str) -> hdrhistogram::Histogram<u64> {
    pgsyncbench::load::metrics::decode_histogram(v[key]["data"].as_str().unwrap()).unwrap()
}

/// Transactions of at least `ms` in a result's latency histogram.
fn slower_than(v: &Value, ms: u64) -> u64 {
    let h = histogram(v, "histogram");
    h.count_between(ms * 1000, h.max().max(ms * 1000))
}

fn json_path(name: &str) -> std::path::PathBuf {
    server().dir.join(format!("{name}.json"))
}

/// pgbench's per-transaction log: latency (µs, from the scheduled start under -R) of every
/// transaction.
fn pgbench_latencies(db: &str, args: &[&str]) -> Vec<u64> {
    let dir = server().dir.join(format!("pgbench-log-{db}"));
    std::fs::create_dir_all(&dir).unwrap();
    let prefix = dir.join("tx");
    let out = server().pgbench(
        db,
        &[
            &["-n", "-l", "--log-prefix", prefix.to_str().unwrap()],
            args,
        ]
        .concat(),
    );
    check(out, "pgbench");
    let mut latencies = Vec::new();
    for f in std::fs::read_dir(&dir).unwrap() {
        let text = std::fs::read_to_string(f.unwrap().path()).unwrap();
        for line in text.lines() {
            // client_id transaction_no time script_no time_epoch time_us [schedule_lag]
            if let Some(t) = line.split_whitespace().nth(2).and_then(|t| t.parse().ok()) {
                latencies.push(t);
            }
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
    latencies
}

fn wait(child: Child) -> Output {
    child.wait_with_output().unwrap()
}

#[test]
fn a_stall_under_a_fixed_rate_shows_in_the_latencies_as_pgbench_reports_it() {
    let _one = one_at_a_time();
    let db = database_with_tables("rate_stall");
    let rate = 100.0;
    let args = [
        "-c",
        "2",
        "-j",
        "1",
        "-T",
        "6",
        "-R",
        "100",
        "--random-seed",
        "3",
    ];

    // pgbench first, under the same stall at the same moment of its run.
    let stall = stall_after(&db, Duration::from_secs(2));
    let theirs = pgbench_latencies(&db, &args);
    stall.join().unwrap();
    let theirs_slow = theirs.iter().filter(|&&us| us >= 1_000_000).count() as u64;
    let theirs_max = *theirs.iter().max().unwrap();

    let json = json_path("rate_stall");
    let stall = stall_after(&db, Duration::from_secs(2));
    let out = wait(ours(&db, &args, &json));
    stall.join().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let r = result(&json);
    let ours_slow = slower_than(&r, 1000);
    let ours_max = r["summary"]["latency_ms"]["max"].as_f64().unwrap();

    // Transactions scheduled in the first second of the stall waited over a second (and
    // more while the backlog drains): at least `rate` of them, far more than the 2 clients
    // a closed loop shows.
    let expected = rate * 1.0;
    for (who, slow) in [("pgsyncbench", ours_slow), ("pgbench", theirs_slow)] {
        assert!(
            slow as f64 >= 0.5 * expected,
            "{who}: {slow} transactions over 1 s, at least about {expected} expected (pgsyncbench {ours_slow}, pgbench {theirs_slow})"
        );
    }
    assert!(
        ours_max >= 1800.0 && theirs_max >= 1_800_000,
        "max latency: ours {ours_max} ms, pgbench {theirs_max} µs"
    );
    eprintln!(
        "over 1 s: pgsyncbench {ours_slow}, pgbench {theirs_slow}; max {ours_max} ms, {theirs_max} µs"
    );
    let ratio = ours_slow as f64 / theirs_slow as f64;
    assert!(
        (0.6..=1.6).contains(&ratio),
        "ours {ours_slow} vs pgbench {theirs_slow}"
    );
    // The p99 includes the stall; the service time (from the actual start) does not know it.
    let p99 = r["summary"]["latency_ms"]["p99"].as_f64().unwrap();
    assert!(p99 >= 1000.0, "p99 {p99} ms");
    let lag = &r["summary"]["schedule_lag_ms"];
    assert!(lag["max"].as_f64().unwrap() >= 1000.0, "{lag}");
    assert!(r["service_histogram"].is_object() && r["lag_histogram"].is_object());
    assert_eq!(
        schema_violations("run-result.schema.json", &r),
        Vec::<String>::new()
    );

    // The closed loop under the same stall: each client waits once, and that is all it shows.
    let json = json_path("closed_stall");
    let stall = stall_after(&db, Duration::from_secs(2));
    let out = wait(ours(&db, &["-c", "2", "-j", "1", "-T", "6"], &json));
    stall.join().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let closed = result(&json);
    assert!(slower_than(&closed, 1000) <= 2, "{}", closed["summary"]);
    assert!(closed["summary"]["latency_ms"]["p99"].as_f64().unwrap() < 1000.0);
    assert!(closed["summary"]["schedule_lag_ms"].is_null());
}

#[test]
fn the_achieved_rate_is_the_target_and_the_latency_limit_skips_and_counts() {
    let _one = one_at_a_time();
    let db = database_with_tables("rate_accuracy");
    let json = json_path("rate_accuracy");
    let out = wait(ours(
        &db,
        &[
            "-S", "-c", "4", "-j", "2", "-T", "5", "-R", "400", "-M", "prepared",
        ],
        &json,
    ));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let r = result(&json);
    let n = r["summary"]["transactions"].as_f64().unwrap();
    let tps = r["summary"]["tps"].as_f64().unwrap();
    // A Poisson process of 2000 expected arrivals has a standard deviation of 45 (2.2%):
    // 4.5 deviations.
    let bound = 4.5 / (400.0f64 * 5.0).sqrt();
    assert!(
        (tps / 400.0 - 1.0).abs() <= bound,
        "tps {tps} for 400 ({n} transactions)"
    );
    let text = stdout(&out);
    assert!(text.contains("rate limit schedule lag: avg "), "{text}");
    assert!(text.contains("target rate: 400 tps"), "{text}");

    // With a latency limit, transactions scheduled during a stall are skipped, not run late.
    let json = json_path("rate_skip");
    let stall = stall_after(&db, Duration::from_secs(2));
    let out = wait(ours(
        &db,
        &["-c", "2", "-j", "1", "-T", "6", "-R", "100", "-L", "300"],
        &json,
    ));
    stall.join().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let r = result(&json);
    let s = &r["summary"];
    let skipped = s["skipped"].as_u64().unwrap();
    // Of the ~200 scheduled during the 2 s stall, those scheduled more than 300 ms before it
    // ended were skipped.
    assert!((60..=260).contains(&skipped), "{s}");
    assert!(s["late"].as_u64().unwrap() >= 1, "{s}");
    let text = stdout(&out);
    assert!(
        text.contains(&format!("number of transactions skipped: {skipped} (")),
        "{text}"
    );
    assert!(
        text.contains("number of transactions above the 300.0 ms latency limit: "),
        "{text}"
    );
    let timeline_skipped: u64 = r["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["skipped"].as_u64().unwrap_or(0))
        .sum();
    assert_eq!(timeline_skipped, skipped);
}

/// A contended serializable workload: without retries its serialization failures count as
/// failed; with --max-tries they are retried (counted as pgbench counts them) until they
/// commit, and every commit is in the table.
#[test]
fn serialization_failures_are_retried_up_to_max_tries_and_counted() {
    let _one = one_at_a_time();
    let db = server().database("rate_retries");
    server().psql(
        &db,
        "CREATE TABLE hot (id int PRIMARY KEY, n bigint); INSERT INTO hot VALUES (1, 0)",
    );
    let script = server().dir.join("hot.sql");
    std::fs::write(
        &script,
        "BEGIN ISOLATION LEVEL REPEATABLE READ;\n\
         SELECT n FROM hot WHERE id = 1;\n\
         SELECT pg_sleep(0.002);\n\
         UPDATE hot SET n = n + 1 WHERE id = 1;\n\
         END;\n",
    )
    .unwrap();
    let f = script.to_str().unwrap();

    let json = json_path("no_retries");
    let out = wait(ours(&db, &["-c", "4", "-t", "40", "-f", f], &json));
    // Failed transactions make the run incomplete: exit 2.
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let r = result(&json);
    let failed = r["failures"]["40001"].as_u64().unwrap();
    assert!(failed > 0, "{}", r["summary"]);
    assert_eq!(r["summary"]["retried"], 0);

    server().psql(&db, "UPDATE hot SET n = 0");
    let json = json_path("retries");
    let out = wait(ours(
        &db,
        &[
            "-c",
            "4",
            "-t",
            "40",
            "--max-tries",
            "0",
            "-L",
            "60000",
            "-f",
            f,
        ],
        &json,
    ));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let r = result(&json);
    let s = &r["summary"];
    assert_eq!(s["transactions"], 160, "{s}");
    assert_eq!(s["failed"], 0, "{s}");
    let (retried, retries) = (
        s["retried"].as_u64().unwrap(),
        s["retries"].as_u64().unwrap(),
    );
    assert!(retried > 0 && retries >= retried, "{s}");
    assert_eq!(server().psql(&db, "SELECT n FROM hot"), "160");
    let text = stdout(&out);
    assert!(
        text.contains(&format!("number of transactions retried: {retried} (")),
        "{text}"
    );
    assert!(
        text.contains(&format!("total number of retries: {retries}")),
        "{text}"
    );
}
