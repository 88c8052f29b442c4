//! Several load generators that start together (`run --generator --start-at`) and `merge`:
//! the merged result counts what the server recorded, and its percentiles are those of one
//! histogram built from every generator's interval log.

mod common;

use std::process::{Child, Stdio};
use std::time::{Duration, SystemTime};

use common::*;
use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};
use serde_json::Value;

fn generator(db: &str, name: &str, start_at: &str, dir: &std::path::Path) -> Child {
    pgsyncbench()
        .args(["run", "-c", "2", "-j", "1", "-T", "3", "-M", "prepared"])
        .args(["--generator", name, "--start-at", start_at])
        .arg("--json")
        .arg(dir.join(format!("{name}.json")))
        .arg("--hlog")
        .arg(dir.join(format!("{name}.hlog")))
        .args(server().conn_args(db))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn read(path: &std::path::Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn generators_merged_count_what_the_server_recorded_with_exact_percentiles() {
    let db = server().database("merge_generators");
    check(
        pgsyncbench()
            .args(["init", "-s", "1", "-q"])
            .args(server().conn_args(&db))
            .output()
            .unwrap(),
        "init",
    );
    let dir = server().dir.join("merge");
    std::fs::create_dir_all(&dir).unwrap();
    let start = SystemTime::now() + Duration::from_secs(3);
    let start_at = humantime::format_rfc3339_millis(start).to_string();
    let names = ["g1", "g2", "g3"];
    let children: Vec<Child> = names
        .iter()
        .map(|n| generator(&db, n, &start_at, &dir))
        .collect();
    for (n, c) in names.iter().zip(children) {
        let out = c.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{n}: {}", stderr(&out));
    }
    // They started together, at the time given.
    for n in names {
        let r = read(&dir.join(format!("{n}.json")));
        let started = humantime::parse_rfc3339_weak(r["started_at"].as_str().unwrap()).unwrap();
        let off = started
            .duration_since(start)
            .unwrap_or_else(|e| e.duration());
        assert!(off < Duration::from_millis(100), "{n} started {off:?} off");
        assert_eq!(r["options"]["generator"], n);
    }

    let merged_path = dir.join("merged.json");
    let mut cmd = pgsyncbench();
    cmd.arg("merge");
    for n in names {
        cmd.arg(dir.join(format!("{n}.json")));
    }
    let out = check(
        cmd.arg("--json").arg(&merged_path).output().unwrap(),
        "merge",
    );
    assert!(
        stdout(&out).contains("load generators: 3 (g1, g2, g3)"),
        "{}",
        stdout(&out)
    );
    let m = read(&merged_path);
    assert_eq!(
        schema_violations("run-result.schema.json", &m),
        Vec::<String>::new()
    );
    // Every committed transaction inserted one history row.
    let history: u64 = server()
        .psql(&db, "SELECT count(*) FROM pgbench_history")
        .parse()
        .unwrap();
    assert_eq!(m["summary"]["transactions"].as_u64().unwrap(), history);
    assert_eq!(m["options"]["clients"], 6);
    let tps_sum: f64 = names
        .iter()
        .map(|n| {
            read(&dir.join(format!("{n}.json")))["summary"]["tps"]
                .as_f64()
                .unwrap()
        })
        .sum();
    assert!((m["summary"]["tps"].as_f64().unwrap() - tps_sum).abs() < 1e-6);

    // One histogram of every interval every generator logged.
    let mut all = pgsyncbench::load::metrics::new_histogram();
    for n in names {
        let text = std::fs::read(dir.join(format!("{n}.hlog"))).unwrap();
        for entry in IntervalLogIterator::new(&text) {
            if let LogEntry::Interval(h) = entry.unwrap() {
                all.add(
                    pgsyncbench::load::metrics::decode_histogram(h.encoded_histogram()).unwrap(),
                )
                .unwrap();
            }
        }
    }
    assert_eq!(all.len(), history);
    let ms = |q: f64| all.value_at_quantile(q) as f64 / 1000.0;
    let l = &m["summary"]["latency_ms"];
    for (k, q) in [("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("p99_9", 0.999)] {
        assert_eq!(l[k].as_f64().unwrap(), ms(q), "{k}");
    }
    assert_eq!(l["max"].as_f64().unwrap(), all.max() as f64 / 1000.0);
    // Seconds on the wall clock: each merged second holds all three generators' share.
    let timeline = m["timeline"].as_array().unwrap();
    let per_second: u64 = timeline
        .iter()
        .map(|p| p["transactions"].as_u64().unwrap())
        .sum();
    assert_eq!(per_second, history);
    assert!(
        (3..=4).contains(&timeline.len()),
        "{} seconds",
        timeline.len()
    );

    // A result from another mode does not belong with them.
    let other = dir.join("other.json");
    let mut v = read(&dir.join("g1.json"));
    v["options"]["generator"] = "g9".into();
    v["target"]["synchronous_commit"] = "local".into();
    std::fs::write(&other, v.to_string()).unwrap();
    let out = pgsyncbench()
        .arg("merge")
        .arg(dir.join("g2.json"))
        .arg(&other)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("synchronous_commit differs"),
        "{}",
        stderr(&out)
    );
    // Nor a second copy of a generator.
    let out = pgsyncbench()
        .arg("merge")
        .arg(dir.join("g2.json"))
        .arg(dir.join("g2.json"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("both come from generator 'g2'"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_start_time_that_has_passed_measures_nothing() {
    let db = server().database("merge_late");
    check(
        pgsyncbench()
            .args(["init", "-s", "1", "-q"])
            .args(server().conn_args(&db))
            .output()
            .unwrap(),
        "init",
    );
    let out = pgsyncbench()
        .args(["run", "-T", "1", "--start-at", "2020-01-01T00:00:00Z"])
        .args(server().conn_args(&db))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("--start-at"), "{}", stderr(&out));
    assert_eq!(
        server().psql(&db, "SELECT count(*) FROM pgbench_history"),
        "0"
    );
}
