//! `report` from the committed fixture folder, through the library's one writer
//! (`report::write`, which the command calls too): snapshots of report.md and summary.csv, the
//! HTML page's self-containment, warnings, partial sweeps, and the command through the binary.
//!
//! Snapshots live in tests/fixtures/sweep-small/expected/; after an intended change run
//! `UPDATE_SNAPSHOTS=1 cargo test --test report` (it rewrites what differs and fails), review
//! the diff, and run the tests again.

mod snapshot;
mod sweep_fixture;

use std::path::PathBuf;

use pgsyncbench::analysis::{Analysis, Warning};
use pgsyncbench::charts::ChartFile;
use pgsyncbench::pg::mode::SyncCommit;
use pgsyncbench::report;
use pgsyncbench::sweep::folder::{self, Results};
use snapshot::snapshot;
use sweep_fixture::*;

const FIXTURE: &str = "sweep-small";

/// `r` written to a folder of its own and reported on by the library, as `report DIR` does;
/// returns the folder and its report.md.
fn written(r: &Results) -> (Scratch, String) {
    let dir = Scratch::new("report");
    folder::write_manifest(&dir.0, &r.manifest).unwrap();
    for c in &r.cells {
        folder::write_cell(&dir.0, c).unwrap();
    }
    report::write(&dir.0).unwrap();
    let md = std::fs::read_to_string(dir.0.join("report.md")).unwrap();
    (dir, md)
}

fn expected(name: &str) -> PathBuf {
    fixture(FIXTURE).join("expected").join(name)
}

#[test]
fn report_md_matches_its_snapshot() {
    let (_, md) = written(&load(FIXTURE));
    snapshot(&expected("report.md"), &md);
}

#[test]
fn summary_csv_matches_its_snapshot() {
    let r = load(FIXTURE);
    let csv = folder::summary_csv(&r.cells);
    snapshot(&expected("summary.csv"), &csv);
    // The fixture's own file is what the data model writes.
    let committed = std::fs::read_to_string(fixture(FIXTURE).join("summary.csv")).unwrap();
    assert_eq!(committed, csv);
}

/// Every `src=`/`href=` value, and whether the page pulls anything in another way.
fn external_references(html: &str) -> Vec<String> {
    let mut found = Vec::new();
    let lower = html.to_ascii_lowercase();
    for attr in ["src=", "href=", "xlink:href="] {
        for (i, _) in lower.match_indices(attr) {
            let value = lower[i + attr.len()..]
                .trim_start_matches(['"', '\''])
                .to_string();
            if value.starts_with("http://")
                || value.starts_with("https://")
                || value.starts_with("//")
                || value.starts_with("file:")
            {
                found.push(html[i..(i + 60).min(html.len())].to_string());
            }
        }
    }
    for bad in [
        "<script", "<link", "@import", "url(http", "url(//", "<iframe", "<object",
    ] {
        if lower.contains(bad) {
            found.push(bad.to_string());
        }
    }
    found
}

#[test]
fn report_html_is_self_contained_and_inlines_the_charts() {
    let (dir, _) = written(&load(FIXTURE));
    let html = std::fs::read_to_string(dir.0.join("report.html")).unwrap();
    let charts = std::fs::read_dir(dir.0.join("charts"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "svg")
        })
        .count();
    assert!(html.starts_with("<!DOCTYPE html>"), "{}", &html[..80]);
    assert_eq!(external_references(&html), Vec::<String>::new());
    assert_eq!(html.matches("<svg ").count(), charts, "every chart inline");
    assert!(
        !html.contains("<?xml"),
        "an XML declaration cannot stand inside HTML"
    );
    assert!(!html.contains("<img"), "no chart is loaded from a file");
    assert!(html.contains("<style>"));
    // The same content as the Markdown: every group, every mode, the warning.
    for mode in SyncCommit::ALL {
        assert!(html.contains(&format!("<td>{mode}</td>")), "{mode}");
    }
    assert!(html.contains("without an attached synchronous standby"));
}

#[test]
fn the_self_containment_check_catches_external_assets() {
    for page in [
        "<img src=\"https://example.org/a.png\">",
        "<a href='http://x'>x</a>",
        "<script src=\"app.js\"></script>",
        "<link rel=stylesheet href=\"//cdn/x.css\">",
    ] {
        assert!(!external_references(page).is_empty(), "{page}");
    }
}

fn headline_row(md: &str, mode: SyncCommit) -> &str {
    let results = md.split("## Results").nth(1).unwrap();
    let results = results.split("## Warnings").next().unwrap();
    results
        .lines()
        .find(|l| l.starts_with(&format!("| {mode} |")))
        .unwrap_or_else(|| panic!("no row for {mode} in\n{results}"))
}

#[test]
fn a_cell_without_a_sync_standby_is_never_shown_as_synchronous() {
    let r = load(FIXTURE);
    let unsynced: Vec<_> = r
        .cells
        .iter()
        .filter(|c| !c.sync_standby_attached)
        .collect();
    assert_eq!(unsynced.len(), 1, "the fixture has one such cell");
    let cell = unsynced[0];
    assert_eq!(cell.cell.mode, SyncCommit::RemoteApply);
    let other = r
        .cells
        .iter()
        .find(|c| c.cell.mode == SyncCommit::RemoteApply && c.sync_standby_attached)
        .unwrap();

    let (_, md) = written(&r);
    let row = headline_row(&md, SyncCommit::RemoteApply);
    // Its figures are the other repetition's alone, and the row says one of two counted.
    assert!(
        row.contains(&format!("| {:.1} |", other.run.summary.tps)),
        "{row}"
    );
    assert!(
        !row.contains(&format!("{:.1}", cell.run.summary.tps)),
        "{row}"
    );
    assert!(row.contains("1 of 2"), "{row}");
    assert!(Analysis::of(&r).warnings.contains(&Warning::NoSyncStandby {
        cell: cell.cell.id(),
        mode: SyncCommit::RemoteApply
    }));
    assert!(md.contains(&format!(
        "{} ran remote_apply without an attached synchronous standby",
        cell.cell.id()
    )));
    // The cells table marks it too.
    let line = md
        .lines()
        .find(|l| l.contains(&format!("| {} |", cell.cell.id())))
        .unwrap();
    assert!(line.contains("none: not synchronous"), "{line}");
}

#[test]
fn failures_and_lost_clients_are_warned_about() {
    let mut r = load(FIXTURE);
    let c = &mut r.cells[1];
    c.run.failures.insert("40001".into(), 7);
    c.run.failures.insert("connection".into(), 1);
    c.run.summary.failed = 8;
    c.run.summary.clients_lost = 1;
    c.run.summary.interrupted = true;
    let id = c.cell.id();
    let (_, md) = written(&r);
    assert!(md.contains(&format!("{id}: 8 failed transactions")), "{md}");
    assert!(md.contains("by SQLSTATE: 40001: 7, connection: 1"), "{md}");
    assert!(md.contains(&format!("{id}: 1 of 8 clients lost their connection")));
    assert!(md.contains(&format!("{id}: the run was interrupted")));
}

#[test]
fn a_partial_sweep_reports_what_finished_and_names_what_is_missing() {
    let mut r = load(FIXTURE);
    let planned = r.manifest.order.len();
    // The sweep stopped after three cells.
    r.cells.truncate(3);
    let missing: Vec<String> = r.manifest.order[3..].to_vec();
    let (_, md) = written(&r);
    assert!(
        md.contains(&format!(
            "{} of {planned} planned cells have no results",
            missing.len()
        )),
        "{md}"
    );
    for id in &missing {
        assert!(md.contains(&format!("{id}  (no result)")), "{id}");
    }
    assert!(md.contains(&format!("3 of {planned} planned cells finished")));
    // Modes that have not run show dashes, not numbers.
    let local = headline_row(&md, SyncCommit::Local);
    assert!(local.contains("| 0 of 2 | — |"), "{local}");
}

#[test]
fn a_group_without_its_baseline_shows_no_changes_and_says_why() {
    let mut r = load(FIXTURE);
    r.cells.retain(|c| c.cell.mode != SyncCommit::Off);
    let (_, md) = written(&r);
    assert!(
        md.contains("no off cell counts, so this group shows no changes"),
        "{md}"
    );
    let on = headline_row(&md, SyncCommit::On);
    assert!(on.ends_with("| — | — | — | — |"), "{on}");
}

#[test]
fn a_change_without_enough_seconds_for_an_interval_is_not_shown() {
    let mut r = load(FIXTURE);
    r.cells.retain(|c| c.cell.repetition == 1);
    let cell = r
        .cells
        .iter_mut()
        .find(|c| c.cell.mode == SyncCommit::RemoteWrite)
        .unwrap();
    cell.run.timeline.truncate(1);
    let group = cell.cell.group();
    let (_, md) = written(&r);
    let row = headline_row(&md, SyncCommit::RemoteWrite);
    assert!(row.ends_with("| — | — | — | — |"), "{row}");
    assert!(Analysis::of(&r).warnings.contains(&Warning::NoInterval {
        group,
        mode: SyncCommit::RemoteWrite
    }));
    assert!(
        md.contains("remote_write and the baseline have too few seconds"),
        "{md}"
    );
}

#[test]
fn noise_is_marked_when_an_interval_includes_zero() {
    // Against itself (remote_write with off's figures), every change is noise.
    let mut r = load(FIXTURE);
    let offs: Vec<_> = r
        .cells
        .iter()
        .filter(|c| c.cell.mode == SyncCommit::Off)
        .cloned()
        .collect();
    r.cells.retain(|c| c.cell.mode != SyncCommit::RemoteWrite);
    for mut c in offs {
        c.cell.mode = SyncCommit::RemoteWrite;
        r.cells.push(c);
    }
    let (_, md) = written(&r);
    let row = headline_row(&md, SyncCommit::RemoteWrite);
    assert_eq!(row.matches("+0.0% [+0.0, +0.0] noise").count(), 4, "{row}");
    assert!(md.contains(
        "noise against off (the interval includes 0) for remote_write TPS, remote_write mean latency"
    ));
}

#[test]
fn report_command_writes_the_files_from_the_folder_alone() {
    let dir = Scratch::copy_of(FIXTURE);
    std::fs::remove_file(dir.0.join("summary.csv")).unwrap();
    let out = pgsyncbench().arg("report").arg(&dir.0).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("wrote report.md and report.html"),
        "{stdout}"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("warning: ") && stderr.contains("without an attached synchronous standby")
    );

    let r = Results::load(&dir.0).unwrap();
    let read = |f: &str| std::fs::read_to_string(dir.0.join(f)).unwrap();
    assert_eq!(read("summary.csv"), folder::summary_csv(&r.cells));
    // The library draws the same charts elsewhere; the command's own files are what is checked.
    let library = Scratch::new("library-charts");
    let drawn = pgsyncbench::charts::render_all(&Analysis::of(&r), &library.0).unwrap();
    assert_eq!(drawn.len(), 13);
    let command_dir = dir.0.join("charts");
    let mut files: Vec<String> = std::fs::read_dir(&command_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    let mut want: Vec<String> = drawn
        .iter()
        .flat_map(|c| [format!("{}.svg", c.name), format!("{}.png", c.name)])
        .collect();
    want.sort();
    assert_eq!(files, want, "the command's charts folder");
    let charts: Vec<ChartFile> = drawn
        .iter()
        .map(|c| ChartFile {
            svg: command_dir.join(format!("{}.svg", c.name)),
            png: command_dir.join(format!("{}.png", c.name)),
            ..c.clone()
        })
        .collect();
    for (mine, lib) in charts.iter().zip(&drawn) {
        let texts = svg_texts(&mine.svg);
        // The chart's own heading is its title without the group.
        let heading = mine.title.split(" — ").next().unwrap();
        assert_eq!(
            texts.first().map(String::as_str),
            Some(heading),
            "{}",
            mine.name
        );
        if let Some(rest) = mine.name.strip_prefix("timeline_") {
            let (mode, rep) = rest.rsplit_once("_r").unwrap();
            let mode = SyncCommit::ALL
                .into_iter()
                .find(|m| mode.ends_with(&format!("_{m}")))
                .unwrap();
            assert_eq!(texts[0], format!("Timeline: {mode}, repetition {rep}"));
        } else {
            // bars and spectra: one series or bar per mode (`*` marks a repetition left out)
            for mode in SyncCommit::ALL {
                assert!(
                    texts
                        .iter()
                        .any(|t| t.strip_suffix('*').unwrap_or(t) == mode.as_str()),
                    "{}: no {mode} in {texts:?}",
                    mine.name
                );
            }
        }
        assert_eq!(
            std::fs::read(&mine.svg).unwrap(),
            std::fs::read(&lib.svg).unwrap(),
            "{} differs from the library's rendering",
            mine.svg.display()
        );
        assert_eq!(
            std::fs::read(&mine.png).unwrap(),
            std::fs::read(&lib.png).unwrap(),
            "{} differs from the library's rendering",
            mine.png.display()
        );
    }
    // The same writer on another copy of the folder writes the same documents.
    let (_, library_md) = written(&r);
    assert_eq!(read("report.md"), library_md);
    let html = read("report.html");
    assert!(html.matches("<svg").count() >= 13);
    assert_eq!(external_references(&html), Vec::<String>::new());
}

/// The text of every `<text>` element of an SVG file, in document order; panics unless the
/// file is an SVG document.
fn svg_texts(path: &std::path::Path) -> Vec<String> {
    let source = std::fs::read_to_string(path).unwrap();
    let doc = roxmltree::Document::parse(&source)
        .unwrap_or_else(|e| panic!("{} is not XML: {e}", path.display()));
    assert_eq!(
        doc.root_element().tag_name().name(),
        "svg",
        "{}",
        path.display()
    );
    doc.descendants()
        .filter(|n| n.has_tag_name("text"))
        .map(|n| n.text().unwrap_or_default().trim().to_string())
        .collect()
}

#[test]
fn report_command_works_on_an_interrupted_sweep() {
    let dir = Scratch::copy_of(FIXTURE);
    let r = load(FIXTURE);
    for id in &r.manifest.order[4..] {
        std::fs::remove_file(dir.0.join("cells").join(format!("{id}.json"))).unwrap();
    }
    let out = pgsyncbench().arg("report").arg(&dir.0).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let md = std::fs::read_to_string(dir.0.join("report.md")).unwrap();
    assert!(md.contains("6 of 10 planned cells have no results"), "{md}");
    let csv = std::fs::read_to_string(dir.0.join("summary.csv")).unwrap();
    assert_eq!(csv.lines().count(), 1 + 4, "{csv}");
}

#[test]
fn report_command_before_any_cell_finished() {
    let dir = Scratch::copy_of(FIXTURE);
    std::fs::remove_dir_all(dir.0.join("cells")).unwrap();
    let out = pgsyncbench().arg("report").arg(&dir.0).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let md = std::fs::read_to_string(dir.0.join("report.md")).unwrap();
    assert!(md.contains("No cell has finished yet."), "{md}");
}

#[test]
fn report_command_on_a_folder_without_results_fails_in_one_line() {
    let dir = Scratch::new("empty");
    let out = pgsyncbench().arg("report").arg(&dir.0).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("holds no pgsyncbench results"), "{stderr}");
    assert!(!dir.0.join("report.md").exists());
}

#[test]
fn a_plan_with_a_reference_sets_its_changes_beside_the_measured_ones() {
    let mut r = load(FIXTURE);
    r.manifest.plan.reference = Some(pgsyncbench::sweep::plan::Reference {
        name: "the case study".into(),
        latency_pct: [(SyncCommit::Local, 32.0), (SyncCommit::RemoteApply, 53.0)]
            .into_iter()
            .collect(),
        tps_pct: [(SyncCommit::Local, -23.0)].into_iter().collect(),
        note: Some("Production disks pay more for fsync.".into()),
    });
    let (_, md) = written(&r);
    let section = md
        .split("## Beside the case study")
        .nth(1)
        .unwrap_or_else(|| panic!("no reference section in\n{md}"))
        .split("\n## ")
        .next()
        .unwrap();
    let row = |mode: &str| {
        section
            .lines()
            .find(|l| l.starts_with(&format!("| {mode} |")))
            .unwrap_or_else(|| panic!("no {mode} row in {section}"))
    };
    assert!(row("local").contains("| +32.0% |") && row("local").contains("| -23.0% |"));
    assert!(row("remote_apply").contains("| +53.0% |"));
    // The measured change is the report's own: the same cell as in the results table.
    let measured = headline_row(&md, SyncCommit::Local)
        .split(" | ")
        .nth(7)
        .unwrap()
        .to_string();
    assert!(
        row("local").contains(&measured),
        "{measured} in {}",
        row("local")
    );
    assert!(
        !section.contains("| on |"),
        "only the modes the reference gives"
    );
    assert!(section.contains("Production disks pay more for fsync."));
}

/// The fixture's repetition 1 relabelled as run at each of `rates`.
fn at_rates(rates: &[u32]) -> Results {
    let mut r = load(FIXTURE);
    let closed: Vec<_> = r
        .cells
        .drain(..)
        .filter(|c| c.cell.repetition == 1)
        .collect();
    for &rate in rates {
        for c in &closed {
            let mut c = c.clone();
            c.schema_version = folder::SCHEMA_VERSION;
            c.cell.rate = Some(rate);
            c.run.options.rate = Some(f64::from(rate));
            r.cells.push(c);
        }
    }
    r.manifest.schema_version = folder::SCHEMA_VERSION;
    r.manifest.plan.repeat = 1;
    r.manifest.plan.rates = rates.to_vec();
    r.manifest.order = r.cells.iter().map(|c| c.cell.id()).collect();
    r
}

#[test]
fn a_sweep_at_offered_rates_reports_achieved_against_offered_with_its_chart() {
    let (dir, md) = written(&at_rates(&[1000, 2000]));
    let section = md
        .split("## Latency against offered load")
        .nth(1)
        .unwrap_or_else(|| panic!("no offered-load section in\n{md}"));
    let section = section.split("\n## ").next().unwrap();
    assert!(
        section.contains(
            "| offered TPS | mode | achieved TPS | achieved / offered | mean ms | p99 ms | schedule lag p99 ms | skipped |"
        ),
        "{section}"
    );
    // One row per rate and mode; the chart sits in the section, not under Charts.
    assert_eq!(
        section
            .lines()
            .filter(|l| l.starts_with("| 1000 |"))
            .count(),
        5
    );
    assert_eq!(
        section
            .lines()
            .filter(|l| l.starts_with("| 2000 |"))
            .count(),
        5
    );
    assert!(
        section.contains("](charts/offered_tpcb-like_s10_c8_j2_rtt0.svg)"),
        "{section}"
    );
    assert!(
        dir.0
            .join("charts/offered_tpcb-like_s10_c8_j2_rtt0.png")
            .is_file()
    );
    // Groups per rate, compared with the baseline at the same rate.
    assert!(md.contains("### tpcb-like, scale 10, 8 clients, 2 threads, offered 1000 TPS"));
    assert!(md.contains("| offered rates (TPS over all clients) | 1000, 2000 |"));
    assert!(
        md.contains("| offered TPS | skipped | lag p99 ms |"),
        "cells table"
    );
    let csv = std::fs::read_to_string(dir.0.join("summary.csv")).unwrap();
    assert!(csv.lines().next().unwrap().contains(",offered_tps,"));
}

#[test]
fn a_capacity_search_reports_its_capacities_probes_and_chart() {
    let mut r = at_rates(&[1500, 3000]);
    r.manifest.plan.rates.clear();
    r.manifest.plan.capacity = Some(pgsyncbench::sweep::plan::Capacity {
        slo_ms: 20.0,
        percentile: 99.0,
        repeats: 0,
        resolution_pct: 50.0,
    });
    // The closed-loop cells first, as a search runs them.
    let closed: Vec<_> = load(FIXTURE)
        .cells
        .into_iter()
        .filter(|c| c.cell.repetition == 1)
        .collect();
    r.cells.splice(0..0, closed);
    r.manifest.order = r.cells.iter().map(|c| c.cell.id()).collect();
    let (dir, md) = written(&r);
    assert!(md.contains("## Capacity at p99 ≤ 20 ms"), "{md}");
    assert!(md.contains("## Closed loop"), "{md}");
    assert!(!md.contains("## Results"), "{md}");
    assert!(
        md.contains("| mode | capacity TPS | interval TPS | Δ capacity | closed-loop TPS |"),
        "{md}"
    );
    assert!(md.contains("](charts/offered_tpcb-like_s10_c8_j2_rtt0.svg)"));
    // No warning that a rate probe has no baseline beside it: modes probe rates of their own.
    assert!(!md.contains("offered 1500 TPS: no off cell counts"), "{md}");
    let c: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.0.join("capacity.json")).unwrap())
            .unwrap();
    assert_eq!(c["objective"]["slo_ms"], 20.0);
    assert_eq!(c["loads"][0]["modes"].as_array().unwrap().len(), 5);
}
