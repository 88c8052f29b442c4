//! Sweeps end to end on a lab cluster the sweep starts itself: the results folder, its
//! schemas, interleaving, samples, and resuming an interrupted sweep.

mod common;

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::*;

fn read(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn cell_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(dir.join("cells"))
        .map(|d| {
            d.map(|e| e.unwrap().path())
                .filter(|p| p.extension().is_some_and(|e| e == "json"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "pgsyncbench-sweeptest-{name}-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[test]
fn a_short_sweep_on_the_lab_writes_a_complete_results_folder() {
    let out = scratch("complete");
    let run = check(
        pgsyncbench()
            .args([
                "sweep",
                "-T",
                "2",
                "--warmup",
                "1",
                "--modes",
                "off,on,remote_apply",
                "--scales",
                "1",
            ])
            .args([
                "--clients",
                "2",
                "--threads",
                "1",
                "--repeat",
                "2",
                "--seed",
                "3",
                "--name",
                "e2e",
                "--out",
            ])
            .arg(&out)
            .output()
            .unwrap(),
        "sweep",
    );
    assert_eq!(stdout(&run).trim(), out.display().to_string());
    let err = stderr(&run);
    assert!(err.contains("restored Patroni's configuration"), "{err}");
    assert!(err.contains("lab: stopped and removed"), "{err}");

    let manifest = read(&out.join("manifest.json"));
    assert_eq!(
        schema_violations("manifest.schema.json", &manifest),
        Vec::<String>::new()
    );
    assert_eq!(manifest["seed"], 3);
    assert_eq!(manifest["plan"]["name"], "e2e");
    assert_eq!(manifest["environment"]["lab"], true);
    assert_eq!(
        manifest["environment"]["members"].as_array().unwrap().len(),
        3
    );
    assert!(manifest["environment"]["settings"]["wal_level"].is_string());
    let order: Vec<String> = manifest["order"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    assert_eq!(order.len(), 6);
    assert!(
        order[..3].iter().all(|id| id.ends_with("_r1"))
            && order[3..].iter().all(|id| id.ends_with("_r2"))
    );

    let files = cell_files(&out);
    assert_eq!(files.len(), 6);
    for f in &files {
        let cell = read(f);
        assert_eq!(
            schema_violations("cell-result.schema.json", &cell),
            Vec::<String>::new(),
            "{}",
            f.display()
        );
        let mode = cell["cell"]["mode"].as_str().unwrap();
        assert_eq!(
            cell["run"]["target"]["synchronous_commit"], mode,
            "the mode ran live"
        );
        // and each of the 2 benchmark sessions ran under it
        assert_eq!(
            cell["run"]["session_synchronous_commit"],
            serde_json::json!({ mode: 2 }),
            "{}",
            f.display()
        );
        assert_eq!(cell["sync_standby_attached"], true, "{}", f.display());
        assert!(cell["run"]["summary"]["transactions"].as_u64().unwrap() > 0);
        let samples = cell["samples"].as_array().unwrap();
        assert!(
            samples.len() >= 4,
            "at least one sample a second: {}",
            samples.len()
        );
        assert!(
            samples.iter().any(|s| s["t"].as_f64().unwrap() < 0.0),
            "warmup samples are negative"
        );
        assert!(
            samples
                .iter()
                .all(|s| s["standbys"].as_array().unwrap().len() == 2)
        );
        assert!(f.with_extension("hlog").is_file());
    }
    let csv = std::fs::read_to_string(out.join("summary.csv")).unwrap();
    assert_eq!(csv.lines().count(), 7, "{csv}");
    assert!(csv.lines().skip(1).all(|l| l.ends_with(",true")));

    // The sweep ends with its report: both pages, and every chart as SVG and PNG.
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(
        md.contains("remote_apply") && md.contains("baseline"),
        "{md}"
    );
    assert!(out.join("report.html").is_file());
    let charts: Vec<String> = std::fs::read_dir(out.join("charts"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    for stem in [
        "latency_tpcb-like_s1_c2_j1_rtt0",
        "tps_tpcb-like_s1_c2_j1_rtt0",
        "spectrum_tpcb-like_s1_c2_j1_rtt0",
    ] {
        for ext in ["svg", "png"] {
            assert!(
                charts.contains(&format!("{stem}.{ext}")),
                "{stem}.{ext} missing from {charts:?}"
            );
        }
    }
    assert_eq!(
        charts.iter().filter(|c| c.starts_with("timeline_")).count(),
        12
    );
}

#[test]
fn an_interrupted_sweep_keeps_finished_cells_and_resume_runs_only_the_rest() {
    let out = scratch("resume");
    let child = pgsyncbench()
        .args([
            "sweep",
            "-T",
            "3",
            "--warmup",
            "0",
            "--modes",
            "off,local,on",
            "--scales",
            "1",
        ])
        .args(["--clients", "2", "--threads", "1", "--out"])
        .arg(&out)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    while cell_files(&out).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(!cell_files(&out).is_empty(), "no cell finished");
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let interrupted = child.wait_with_output().unwrap();
    assert_eq!(
        interrupted.status.code(),
        Some(130),
        "{}",
        stderr(&interrupted)
    );
    assert!(
        stderr(&interrupted).contains("--resume"),
        "{}",
        stderr(&interrupted)
    );
    let kept: Vec<(std::path::PathBuf, String)> = cell_files(&out)
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            (p, text)
        })
        .collect();
    assert!(!kept.is_empty() && kept.len() < 3, "{} cells", kept.len());

    // Its lab is gone: a new one only when asked for, and the folder then says it spans two.
    let refused = pgsyncbench()
        .args(["sweep", "--resume"])
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        stderr(&refused).contains(&format!("sweep --resume {} --new-lab", out.display())),
        "{}",
        stderr(&refused)
    );
    assert_eq!(cell_files(&out).len(), kept.len());
    check(
        pgsyncbench()
            .args(["sweep", "--resume"])
            .arg(&out)
            .arg("--new-lab")
            .output()
            .unwrap(),
        "resume",
    );
    let report = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(report.contains("RAN ON 2 DIFFERENT CLUSTERS"), "{report}");
    let files = cell_files(&out);
    assert_eq!(files.len(), 3);
    for (path, text) in kept {
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            text,
            "{} was run again",
            path.display()
        );
    }
    assert_eq!(
        std::fs::read_to_string(out.join("summary.csv"))
            .unwrap()
            .lines()
            .count(),
        4
    );
}

#[test]
fn an_invalid_plan_is_refused_before_anything_runs() {
    let out = scratch("invalid");
    let plan = std::env::temp_dir().join(format!("bad-plan-{}.toml", std::process::id()));
    std::fs::write(&plan, "name = \"bad\"\nmodes = [\"on\", \"sometimes\"]\n").unwrap();
    let started = Instant::now();
    let run = pgsyncbench()
        .args(["sweep", "--plan"])
        .arg(&plan)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(1));
    let err = stderr(&run);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains(&plan.display().to_string()), "{err}");
    assert!(
        err.contains("key 'modes'") && err.contains("sometimes") && err.contains("remote_apply"),
        "{err}"
    );
    assert!(!out.exists());
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "refused before starting a lab"
    );
    let run = pgsyncbench()
        .args(["sweep", "--resume", "/nonexistent/results"])
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(1));
    assert!(
        stderr(&run).contains("holds no pgsyncbench results"),
        "{}",
        stderr(&run)
    );
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

#[test]
fn added_replication_rtt_shows_in_write_lag_and_remote_commits_but_not_local_ones() {
    let out = scratch("rtt");
    let plan = std::env::temp_dir().join(format!("rtt-plan-{}.toml", std::process::id()));
    std::fs::write(
        &plan,
        "name = \"rtt\"\nmodes = [\"local\", \"on\"]\nbaseline = \"local\"\nrtt_ms = [0, 10]\n",
    )
    .unwrap();
    check(
        pgsyncbench()
            .args(["sweep", "--plan"])
            .arg(&plan)
            .args([
                "-T",
                "4",
                "--warmup",
                "1",
                "--scales",
                "1",
                "--clients",
                "1",
                "--threads",
                "1",
                "--out",
            ])
            .arg(&out)
            .output()
            .unwrap(),
        "sweep with rtt",
    );
    let cell = |rtt: u32, mode: &str| {
        read(&out.join(format!("cells/tpcb-like_s1_c1_j1_rtt{rtt}_{mode}_r1.json")))
    };
    let p50 = |c: &serde_json::Value| c["run"]["summary"]["latency_ms"]["p50"].as_f64().unwrap();
    let write_lag = |c: &serde_json::Value| {
        median(
            c["samples"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|s| s["t"].as_f64().unwrap() >= 0.0)
                .flat_map(|s| s["standbys"].as_array().unwrap().clone())
                .filter(|b| b["sync_state"] == "sync")
                .filter_map(|b| b["write_lag_ms"].as_f64())
                .collect(),
        )
    };
    // The synchronous standby's write lag carries the added 10 ms round trip, once: at most
    // 5 ms beyond it, so a delay applied twice fails.
    assert!(
        write_lag(&cell(10, "on")) >= 8.0,
        "write lag {}",
        write_lag(&cell(10, "on"))
    );
    assert!(
        write_lag(&cell(10, "on")) <= write_lag(&cell(0, "on")) + 10.0 + 5.0,
        "write lag {} -> {}",
        write_lag(&cell(0, "on")),
        write_lag(&cell(10, "on"))
    );
    assert!(
        write_lag(&cell(0, "on")) < 8.0,
        "write lag {}",
        write_lag(&cell(0, "on"))
    );
    // A commit that waits for the standby pays it, once; a local commit does not. One client,
    // so that no commit waits behind another's (at scale 1 they share the branch row). The
    // relay is exact: the ceiling is the round trip plus 5 ms, so a doubled delay fails.
    assert!(
        p50(&cell(10, "on")) >= p50(&cell(0, "on")) + 8.0,
        "on: {} -> {}",
        p50(&cell(0, "on")),
        p50(&cell(10, "on"))
    );
    assert!(
        p50(&cell(10, "on")) <= p50(&cell(0, "on")) + 10.0 + 5.0,
        "on: {} -> {}",
        p50(&cell(0, "on")),
        p50(&cell(10, "on"))
    );
    assert!(
        p50(&cell(10, "local")) < p50(&cell(0, "local")) + 5.0,
        "local: {} -> {}",
        p50(&cell(0, "local")),
        p50(&cell(10, "local"))
    );
}

#[test]
fn a_sweep_in_zones_records_where_everything_sat_and_the_measured_round_trips() {
    if unsafe { libc::geteuid() } != 0 {
        println!("SKIPPED: zones need root (network namespaces)");
        return;
    }
    let out = scratch("zones");
    let plan = std::env::temp_dir().join(format!("zones-plan-{}.toml", std::process::id()));
    std::fs::write(
        &plan,
        "name = \"zones\"\nzones = \"a,b,c\"\nmodes = [\"local\", \"on\"]\nbaseline = \"local\"\nrtt_ms = [2]\n",
    )
    .unwrap();
    check(
        pgsyncbench()
            .args(["sweep", "--plan"])
            .arg(&plan)
            .args([
                "-T",
                "2",
                "--warmup",
                "0",
                "--scales",
                "1",
                "--clients",
                "2",
            ])
            .args(["--threads", "1", "--out"])
            .arg(&out)
            .output()
            .unwrap(),
        "zoned sweep",
    );
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(
        schema_violations("manifest.schema.json", &manifest),
        Vec::<String>::new()
    );
    let network = &manifest["environment"]["network"];
    assert_eq!(
        network["zones"]["members"],
        serde_json::json!(["a", "b", "c"])
    );
    let measured = network["measured"].as_array().unwrap();
    assert_eq!(measured.len(), 3, "{network}");
    for m in measured {
        let p50 = m["p50_ms"].as_f64().unwrap();
        assert!((2.0..2.5).contains(&p50), "{m}");
    }
    let cells = pgsyncbench::sweep::folder::Results::load(&out)
        .unwrap()
        .cells;
    assert_eq!(cells.len(), 2);
    assert!(cells.iter().all(|c| c.cell.rtt_ms == 2));
    let report = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(
        report.contains("| zones | node1 a, node2 b, node3 c"),
        "{report}"
    );
    assert!(
        report.contains("round trips measured at the start"),
        "{report}"
    );
}

/// `--generators 2`: every cell's load comes from two engines started together, each with
/// half the clients and its own interval log; the cell records both and their exact merge:
/// its count and percentiles are those of one histogram of both logs.
#[test]
fn a_cell_from_two_generators_is_their_exact_merge() {
    use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};
    let _only = common::lab::exclusive();
    let out = scratch("generators");
    check(
        common::lab::with_rest_auth()
            .args([
                "sweep",
                "-T",
                "2",
                "--warmup",
                "1",
                "--modes",
                "local,on",
                "--baseline",
                "local",
            ])
            .args(["--scales", "1", "--clients", "4", "--threads", "2"])
            .args(["--generators", "2", "--patroni"])
            .arg(&common::lab::lab().patroni_url)
            .arg("--out")
            .arg(&out)
            .output()
            .unwrap(),
        "sweep --generators 2",
    );
    let cells = cell_files(&out);
    assert_eq!(cells.len(), 2, "{cells:?}");
    for cell in cells {
        let c = read(&cell);
        let options = &c["run"]["options"];
        assert_eq!(
            options["merged_from"],
            serde_json::json!(["gen-1", "gen-2"])
        );
        assert_eq!(options["clients"], 4);
        let mut all = pgsyncbench::load::metrics::new_histogram();
        for g in ["gen-1", "gen-2"] {
            let hlog = cell.with_extension(format!("{g}.hlog"));
            let text = std::fs::read(&hlog).unwrap_or_else(|e| panic!("{}: {e}", hlog.display()));
            for entry in IntervalLogIterator::new(&text) {
                if let LogEntry::Interval(h) = entry.unwrap()
                    && h.tag().is_none()
                {
                    all.add(
                        pgsyncbench::load::metrics::decode_histogram(h.encoded_histogram())
                            .unwrap(),
                    )
                    .unwrap();
                }
            }
        }
        let summary = &c["run"]["summary"];
        assert_eq!(
            summary["transactions"].as_u64().unwrap(),
            all.len(),
            "{}",
            cell.display()
        );
        assert!(!all.is_empty());
        let p99 = all.value_at_quantile(0.99) as f64 / 1000.0;
        assert_eq!(summary["latency_ms"]["p99"].as_f64().unwrap(), p99);
    }
    assert!(out.join("summary.csv").exists());
    let _ = std::fs::remove_dir_all(&out);
}
