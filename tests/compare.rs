//! `compare` on the committed fixtures: one with a real regression (remote_apply latency +30%),
//! one that is only noisier, and input it cannot use; through the library and the binary.

mod sweep_fixture;

use pgsyncbench::analysis::compare::{self, Verdict};
use pgsyncbench::analysis::stats::Metric;
use pgsyncbench::pg::mode::SyncCommit;
use pgsyncbench::sweep::folder;
use sweep_fixture::*;

#[test]
fn the_regressed_fixture_differs_from_the_small_one_only_in_remote_apply() {
    let (small, regressed) = (load("sweep-small"), load("sweep-regressed"));
    assert_eq!(small.manifest, regressed.manifest);
    assert_eq!(small.cells.len(), regressed.cells.len());
    for (a, b) in small.cells.iter().zip(&regressed.cells) {
        assert_eq!(a.cell, b.cell);
        let counted_remote_apply =
            a.cell.mode == SyncCommit::RemoteApply && a.sync_standby_attached;
        assert_eq!(a == b, !counted_remote_apply, "{}", a.cell.id());
    }
}

#[test]
fn a_real_regression_is_found_and_nothing_else() {
    let c = compare::compare(&load("sweep-small"), &load("sweep-regressed"), 5.0).unwrap();
    assert_eq!(c.rows.len(), 5 * 4, "five modes, four metrics");
    for r in &c.rows {
        let want = if r.mode == SyncCommit::RemoteApply {
            Verdict::Regressed
        } else {
            Verdict::Unchanged
        };
        assert_eq!(r.verdict, want, "{:?}", r);
    }
    let mean = c
        .rows
        .iter()
        .find(|r| r.mode == SyncCommit::RemoteApply && r.metric == Metric::Mean)
        .unwrap();
    // Made 30% slower; the interval must hold that.
    assert!(
        mean.change.low_percent() < 30.0 && mean.change.high_percent() > 30.0,
        "{:?}",
        mean.change
    );
    assert_eq!(c.regressions(), 4);
    let md = pgsyncbench::report::compare::markdown(&c);
    assert!(
        md.starts_with("### pgsyncbench compare: 4 regressions beyond ±5%"),
        "{md}"
    );
    assert!(md.contains("| group | mode | metric | base | new | change [95% CI] | verdict |"));
    assert!(md.contains("| remote_apply | mean latency |"), "{md}");
    assert!(md.contains("**regressed**"));
}

#[test]
fn noise_alone_is_not_a_regression() {
    let c = compare::compare(&load("sweep-small"), &load("sweep-noisy"), 5.0).unwrap();
    assert_eq!(
        c.regressions(),
        0,
        "{}",
        pgsyncbench::report::compare::markdown(&c)
    );
    assert!(c.rows.iter().all(|r| r.verdict == Verdict::Unchanged));
    // The noisy sweep does differ from the base: the intervals are what keeps it quiet.
    assert!(c.rows.iter().any(|r| r.change.percent().abs() > 2.0));
}

#[test]
fn a_sweep_against_itself_shows_no_change() {
    let r = load("sweep-small");
    let c = compare::compare(&r, &r, 0.0).unwrap();
    for row in &c.rows {
        assert_eq!(row.change.ratio, 1.0, "{row:?}");
        assert_eq!(row.verdict, Verdict::Unchanged);
    }
}

#[test]
fn the_threshold_decides_what_counts() {
    // +30% clears 5% and 20% but not 40%.
    let (a, b) = (load("sweep-small"), load("sweep-regressed"));
    assert_eq!(compare::compare(&a, &b, 20.0).unwrap().regressions(), 4);
    assert_eq!(compare::compare(&a, &b, 40.0).unwrap().regressions(), 0);
    // Swapped, the same change is an improvement.
    let back = compare::compare(&b, &a, 5.0).unwrap();
    assert_eq!((back.regressions(), back.improvements()), (0, 4));
}

fn run(args: &[&std::ffi::OsStr]) -> (Option<i32>, String, String) {
    let out = pgsyncbench().arg("compare").args(args).output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn exit_codes_through_the_binary() {
    let small = fixture("sweep-small");
    let (code, out, _) = run(&[small.as_os_str(), fixture("sweep-regressed").as_os_str()]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("4 regressions beyond ±5%"), "{out}");

    let (code, out, _) = run(&[small.as_os_str(), fixture("sweep-noisy").as_os_str()]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("no regression beyond ±5%"), "{out}");

    let (code, out, _) = run(&[
        small.as_os_str(),
        fixture("sweep-regressed").as_os_str(),
        "--threshold".as_ref(),
        "40".as_ref(),
    ]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("±40%"), "{out}");
}

#[test]
fn unusable_input_exits_2_with_one_line() {
    let small = fixture("sweep-small");
    let empty = Scratch::new("no-results");
    let (code, out, err) = run(&[small.as_os_str(), empty.0.as_os_str()]);
    assert_eq!(code, Some(2), "{out}{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("holds no pgsyncbench results"), "{err}");
    assert!(out.is_empty());

    // Same plan name, other client count: nothing matches.
    let other = Scratch::new("other-clients");
    let mut r = load("sweep-small");
    r.manifest.plan.clients = vec![16];
    for c in &mut r.cells {
        c.cell.clients = 16;
    }
    r.manifest.order = r.cells.iter().map(|c| c.cell.id()).collect();
    folder::write_manifest(&other.0, &r.manifest).unwrap();
    for c in &r.cells {
        folder::write_cell(&other.0, c).unwrap();
    }
    let (code, _, err) = run(&[small.as_os_str(), other.0.as_os_str()]);
    assert_eq!(code, Some(2), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("no cell of"), "{err}");

    // A manifest with no finished cell.
    let none = Scratch::new("no-cells");
    folder::write_manifest(&none.0, &r.manifest).unwrap();
    let (code, _, err) = run(&[none.0.as_os_str(), small.as_os_str()]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("holds no finished cell"), "{err}");

    let (code, _, err) = run(&[
        small.as_os_str(),
        small.as_os_str(),
        "--threshold".as_ref(),
        "-3".as_ref(),
    ]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("not a percentage"), "{err}");
}

#[test]
fn single_runs_with_too_few_seconds_cannot_be_compared() {
    let mut r = load("sweep-small");
    r.cells.retain(|c| c.cell.repetition == 1);
    for c in &mut r.cells {
        c.run.timeline.truncate(1);
    }
    let e = compare::compare(&r, &r, 5.0).unwrap_err();
    assert!(e.to_string().contains("too few seconds"), "{e}");
    // With one mode still measurable, the others are named instead.
    let mut ok = r.clone();
    ok.cells = load("sweep-small").cells;
    ok.cells.retain(|c| c.cell.repetition == 1);
    ok.cells
        .iter_mut()
        .filter(|c| c.cell.mode != SyncCommit::Off)
        .for_each(|c| c.run.timeline.truncate(1));
    let c = compare::compare(&ok, &ok, 5.0).unwrap();
    assert_eq!(c.rows.len(), 4, "only off");
    assert!(
        pgsyncbench::report::compare::markdown(&c).contains("remote_apply: too few seconds"),
        "{}",
        pgsyncbench::report::compare::markdown(&c)
    );
}

#[test]
fn a_folder_whose_cells_ran_on_two_clusters_is_flagged_by_compare_and_report() {
    let mixed = Scratch::copy_of("sweep-small");
    let cells = mixed.0.join("cells");
    let mut files: Vec<_> = std::fs::read_dir(&cells)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    for (i, path) in files.iter().enumerate() {
        let mut v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let sysid = if i % 2 == 0 {
            "7300000000000000001"
        } else {
            "7300000000000000002"
        };
        v["cluster"] = serde_json::json!({
            "system_identifier": sysid, "scope": "pgsyncbench-lab",
            "patroni_url": "http://127.0.0.1:8008", "members": ["pg0", "pg1", "pg2"]
        });
        std::fs::write(path, serde_json::to_string(&v).unwrap()).unwrap();
    }
    let out = pgsyncbench()
        .arg("compare")
        .arg(fixture("sweep-small"))
        .arg(&mixed.0)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("WARNING: the new folder") && err.contains("mixes cells from 2 clusters"),
        "{err}"
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("mixes cells from 2 clusters"));
    let same = pgsyncbench()
        .arg("compare")
        .arg(fixture("sweep-small"))
        .arg(fixture("sweep-regressed"))
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&same.stderr).contains("WARNING"));

    let report = pgsyncbench().arg("report").arg(&mixed.0).output().unwrap();
    assert!(report.status.success());
    let md = std::fs::read_to_string(mixed.0.join("report.md")).unwrap();
    assert!(md.contains("RAN ON 2 DIFFERENT CLUSTERS"), "{md}");
}
