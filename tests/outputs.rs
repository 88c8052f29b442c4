//! Every output path is checked before anything connects or a lab starts: a bad --json, --hlog
//! or --out fails at once with one line naming the flag, the path and what is wrong, instead of
//! after the whole measurement.

mod common;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use common::*;

/// A listener that accepts connections and never answers: a Patroni or PostgreSQL that would
/// hold a command up for its whole timeout, were it contacted.
fn silent() -> (TcpListener, u16) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    (l, port)
}

fn scratch(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("pgsyncbench-outputs-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs pgsyncbench with `args`, expects exit 1 within two seconds with one line that contains
/// every piece of `expect`, and that the command started no lab (its folder is named after the
/// command and the process id).
fn refused(command: &str, args: &[&str], expect: &[&str]) {
    let started = Instant::now();
    let child = pgsyncbench()
        .arg(command)
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let out: Output = child.wait_with_output().unwrap();
    let took = started.elapsed();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{command} {args:?}: {err}");
    assert_eq!(err.lines().count(), 1, "{command} {args:?}: {err}");
    for e in expect {
        assert!(err.contains(e), "{command} {args:?}: {err:?} lacks {e:?}");
    }
    assert!(
        took < Duration::from_secs(2),
        "{command} {args:?} took {took:?}: {err}"
    );
    let lab = std::env::temp_dir().join(format!("pgsyncbench-{command}-{pid}"));
    assert!(
        !lab.exists(),
        "{command} started a lab in {}",
        lab.display()
    );
}

fn scenario_file(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("workloads/scenarios")
        .join(name)
        .display()
        .to_string()
}

#[test]
fn run_checks_json_hlog_and_out_before_connecting() {
    let (_listener, port) = silent();
    let patroni = format!("http://127.0.0.1:{port}");
    let dir = scratch("run");
    let a_file = dir.join("a-file");
    std::fs::write(&a_file, "x").unwrap();
    let a_file = a_file.display().to_string();
    let dir_s = dir.display().to_string();

    refused(
        "run",
        &["--patroni", &patroni, "--json", "/nonexistent-dir/x.json"],
        &[
            "--json /nonexistent-dir/x.json: folder /nonexistent-dir does not exist",
            "create it or choose another path",
        ],
    );
    // A server that accepts and never answers would hold the run for its connect timeout.
    refused(
        "run",
        &["-h", "127.0.0.1", "-p", &port.to_string(), "--hlog", &dir_s],
        &[&format!("--hlog {dir_s}: is a folder")],
    );
    let under_file = format!("{a_file}/r.json");
    refused(
        "run",
        &["--patroni", &patroni, "--json", &under_file],
        &[&format!("--json {under_file}: {a_file} is not a folder")],
    );
    let out = format!("{a_file}/sub");
    refused(
        "run",
        &["--patroni", &patroni, "--sync-commit", "on", "--out", &out],
        &[&format!("--out {out}: {a_file} is a file, not a folder")],
    );
    // No target at all would start a lab: the bad path must win before that.
    refused(
        "run",
        &["--hlog", "/nonexistent-dir/x.hlog"],
        &["--hlog /nonexistent-dir/x.hlog: folder /nonexistent-dir does not exist"],
    );
    // Nothing was left behind by the checks.
    let left: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, vec![std::ffi::OsString::from("a-file")]);
}

#[test]
fn sweep_checks_its_results_folder_before_connecting_or_starting_a_lab() {
    let (_listener, port) = silent();
    let patroni = format!("http://127.0.0.1:{port}");
    let dir = scratch("sweep");
    let a_file = dir.join("a-file");
    std::fs::write(&a_file, "x").unwrap();
    let a_file = a_file.display().to_string();
    let out = format!("{a_file}/results");
    refused(
        "sweep",
        &["--patroni", &patroni, "-T", "1", "--out", &out],
        &[&format!("--out {out}: {a_file} is a file, not a folder")],
    );
    refused(
        "sweep",
        &["-T", "1", "--out", &a_file],
        &[&format!("--out {a_file}: is a file, not a folder")],
    );
}

#[test]
fn scenario_checks_json_and_out_before_connecting_or_starting_a_lab() {
    let (_listener, port) = silent();
    let patroni = format!("http://127.0.0.1:{port}");
    let dir = scratch("scenario");
    let a_file = dir.join("a-file");
    std::fs::write(&a_file, "x").unwrap();
    let a_file = a_file.display().to_string();
    let file = scenario_file("switchover.toml");
    refused(
        "scenario",
        &[
            &file,
            "--patroni",
            &patroni,
            "--out",
            &dir.join("out").display().to_string(),
            "--json",
            "/nonexistent-dir/x.json",
        ],
        &["--json /nonexistent-dir/x.json: folder /nonexistent-dir does not exist"],
    );
    let out = format!("{a_file}/out");
    refused(
        "scenario",
        &[&scenario_file("1-sync-standby-loss.toml"), "--out", &out],
        &[&format!("--out {out}: {a_file} is a file, not a folder")],
    );
    assert!(!dir.join("out").exists());
}

#[test]
fn a_good_output_path_is_left_untouched_when_the_run_fails_to_connect() {
    // Nothing listens: refused at once, after the checks passed.
    let dir = scratch("untouched");
    let json = dir.join("r.json");
    let hlog = dir.join("r.hlog");
    let port = free_port().to_string();
    let out = pgsyncbench()
        .args(["run", "-h", "127.0.0.1", "-p", &port, "-t", "1", "--json"])
        .arg(&json)
        .arg("--hlog")
        .arg(&hlog)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("Connection refused"),
        "{}",
        stderr(&out)
    );
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
}
