//! Scenario results in reports, from a committed result of a real lab run
//! (tests/fixtures/scenario-sync-candidates-loss/): the schema, the section's snapshot, and
//! the report command on a scenario folder. After an intended change to the section run
//! `UPDATE_SNAPSHOTS=1 cargo test --test scenario_report` (it rewrites what differs and fails),
//! review the diff, and run the tests again.

mod common;
mod snapshot;

use std::path::{Path, PathBuf};

use common::*;
use pgsyncbench::scenario::result as scenario_result;

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/scenario-sync-candidates-loss")
}

#[test]
fn the_committed_result_validates_and_loads() {
    let text =
        std::fs::read_to_string(fixture().join("scenario-sync-candidates-loss.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        schema_violations("scenario-result.schema.json", &v),
        Vec::<String>::new()
    );
    let loaded = scenario_result::load_dir(&fixture()).unwrap();
    assert_eq!(loaded.len(), 1);
    assert_eq!(loaded[0].runs.len(), 2);
}

/// A copy of the fixture's result in a folder of its own.
fn scenario_folder(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "pgsyncbench-scenario-report-{tag}-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(
        fixture().join("scenario-sync-candidates-loss.json"),
        dir.join("scenario-sync-candidates-loss.json"),
    )
    .unwrap();
    dir
}

#[test]
fn the_scenario_report_matches_its_snapshot() {
    let dir = scenario_folder("snapshot");
    pgsyncbench::report::write(&dir).unwrap();
    let md = std::fs::read_to_string(dir.join("report.md")).unwrap();
    snapshot::snapshot(&fixture().join("expected/report.md"), &md);
    // cost and benefit side by side, per variant
    assert!(md.contains("| non-strict |") && md.contains("| strict |"));
    assert!(md.contains("| lost |"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn report_on_a_scenario_folder_writes_both_pages_with_a_chart_per_variant() {
    let dir = scenario_folder("command");
    let out = check(
        pgsyncbench().arg("report").arg(&dir).output().unwrap(),
        "report",
    );
    assert!(
        stdout(&out).contains("1 scenario results, 2 charts"),
        "{}",
        stdout(&out)
    );
    let md = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(md.contains("## Failure scenarios"));
    assert!(
        md.contains("charts/scenario_sync-candidates-loss_strict.svg"),
        "{md}"
    );
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(html.contains("<svg"));
    assert!(
        !html.contains("src=\"http") && !html.contains("href=\"http") && !html.contains("<script")
    );
    for variant in ["non-strict", "strict"] {
        let png = std::fs::read(dir.join(format!(
            "charts/scenario_sync-candidates-loss_{variant}.png"
        )))
        .unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    }
    let empty = dir.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let out = pgsyncbench().arg("report").arg(&empty).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("holds no pgsyncbench results"));
}
