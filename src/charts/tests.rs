//! render_all on synthetic sweeps shaped like pgbench's figures on the 3-node lab (mean latency
//! per mode at 8 clients, in `reference_mean_ms`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::*;
use crate::load::metrics::{IntervalLatency, Stats, TimelinePoint};
use crate::load::run_result::{EncodedHistogram, RunOptions, RunResult, Summary, TargetInfo, Tool};
use crate::load::workload::{Builtin, Protocol};
use crate::pg::mode::SyncCommit;
use crate::sweep::folder::{
    CellKey, CellResult, Environment, Harness, Manifest, Plan, Results, Sample, StandbySample,
};

/// Mean latency (ms) per mode at 8 clients: pgbench on the 3-node lab, measured on the
/// project's machine (scale 10, -c 8 -j 2).
fn reference_mean_ms(mode: SyncCommit) -> f64 {
    match mode {
        SyncCommit::Off => 1.95,
        SyncCommit::Local => 4.25,
        SyncCommit::RemoteWrite => 5.36,
        SyncCommit::On => 5.37,
        SyncCommit::RemoteApply => 5.94,
    }
}

/// xorshift64*: deterministic pseudo-random numbers without a dependency.
struct Rng(u64);

impl Rng {
    fn unit(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let v = self.0.wrapping_mul(0x2545_F491_4F6C_DD1D);
        ((v >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    fn normal(&mut self) -> f64 {
        let (u, v) = (self.unit(), self.unit());
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }
}

/// How many transactions each synthetic cell records: enough for a meaningful p99.99.
const TRANSACTIONS: usize = 20_000;
const SECONDS: usize = 10;

fn cell(key: CellKey, rng: &mut Rng) -> CellResult {
    // Latency grows with clients as they queue for the same WAL flushes.
    let mean_ms = reference_mean_ms(key.mode) * (0.5 + 0.5 * key.clients as f64 / 8.0);
    let drift = 1.0 + 0.04 * (rng.unit() - 0.5);
    let mut stats = Stats::default();
    for _ in 0..TRANSACTIONS {
        // Log-normal body with a rare slow tail (checkpoints, fsync stalls).
        let sigma = 0.35;
        let mut ms = mean_ms * drift * (sigma * rng.normal() - sigma * sigma / 2.0).exp();
        if rng.unit() < 0.002 {
            ms *= 3.0 + 6.0 * rng.unit();
        }
        stats.record((ms * 1000.0).round().max(1.0) as u64);
    }
    let latency = stats.latency().expect("transactions were recorded");
    let tps = key.clients as f64 * 1000.0 / latency.mean;
    let timeline = (1..=SECONDS)
        .map(|s| {
            let wobble = 1.0 + 0.1 * (rng.unit() - 0.5);
            TimelinePoint {
                t: s as f64,
                duration: 1.0,
                transactions: (tps * wobble) as u64,
                failed: 0,
                tps: tps * wobble,
                // One second without a finished transaction, as after a stall.
                latency: (s != 6).then(|| IntervalLatency {
                    mean: latency.mean / wobble,
                    p50: latency.p50 / wobble,
                    p99: latency.p99 * (1.0 + 0.3 * rng.unit()),
                    max: latency.max,
                }),
                skipped: 0,
                lag_mean: None,
                histogram: None,
            }
        })
        .collect();
    let remote = key.mode.waits_for_standby();
    let samples = (0..=SECONDS)
        .map(|s| Sample {
            t: s as f64 - 0.5,
            standbys: [("node2", "sync", 1.0), ("node3", "async", 2.5)]
                .into_iter()
                .map(|(name, state, factor)| {
                    let base = if remote { 0.3 } else { 0.8 } * factor;
                    let lag = |k: f64, rng: &mut Rng| Some(base * k * (0.7 + 0.6 * rng.unit()));
                    StandbySample {
                        name: name.into(),
                        sync_state: state.into(),
                        write_lag_ms: lag(1.0, rng),
                        flush_lag_ms: lag(1.6, rng),
                        // The standby had nothing to replay for a moment.
                        replay_lag_ms: if s == 4 { None } else { lag(2.4, rng) },
                    }
                })
                .collect(),
            syncrep_waiting: if remote { 3 } else { 0 },
        })
        .collect();
    CellResult {
        schema: crate::sweep::folder::CELL_SCHEMA.into(),
        schema_version: crate::sweep::folder::SCHEMA_VERSION,
        run: RunResult {
            schema: crate::load::run_result::SCHEMA_ID.into(),
            schema_version: crate::load::run_result::SCHEMA_VERSION,
            tool: Tool::default(),
            started_at: "2025-01-01T00:00:00.000Z".into(),
            target: TargetInfo {
                connection: "host=127.0.0.1 port=5432 user=postgres dbname=postgres".into(),
                patroni: None,
                leader: Some("node1".into()),
                server_version: "15.10".into(),
                synchronous_commit: key.mode.to_string(),
                synchronous_standby_names: "\"node2\"".into(),
                sync_standby_attached: Some(true),
            },
            session_synchronous_commit: BTreeMap::from([(
                key.mode.to_string(),
                key.clients as u64,
            )]),
            options: RunOptions {
                protocol: Protocol::Prepared,
                clients: key.clients,
                threads: key.threads,
                duration: Some(SECONDS as u64),
                warmup: 2,
                scale: key.scale,
                sync_commit: Some(key.mode),
                seed: 7,
                ..RunOptions::builtin(key.workload)
            },
            summary: Summary {
                transactions: TRANSACTIONS as u64,
                failed: 0,
                measured_seconds: SECONDS as f64,
                tps,
                connection_time_ms: 3.0,
                latency_ms: Some(latency),
                ..Summary::default()
            },
            failures: BTreeMap::new(),
            timeline,
            histogram: EncodedHistogram::of(&stats.hist),
            service_histogram: None,
            lag_histogram: None,
        },
        cell: key,
        sync_standby_attached: true,
        apply_seconds: 1.5,
        samples,
        cluster: None,
    }
}

/// A sweep of all five modes at each client count, `repeat` times, in interleaved order.
pub(super) fn sweep(clients: &[usize], repeat: u32) -> Results {
    let plan = Plan {
        name: "charts-test".into(),
        workloads: vec![Builtin::TpcbLike],
        modes: SyncCommit::ALL.to_vec(),
        baseline: SyncCommit::Off,
        scales: vec![10],
        clients: clients.to_vec(),
        threads: vec![2],
        rates: Vec::new(),
        generators: 1,
        rtt_ms: vec![0],
        zones: None,
        reference: None,
        duration: SECONDS as u64,
        warmup: 2,
        repeat,
        protocol: Protocol::Prepared,
        synchronous_mode: None,
        strict: None,
        capacity: None,
    };
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut cells = Vec::new();
    for repetition in 1..=repeat {
        for &c in clients {
            for mode in SyncCommit::ALL.into_iter().rev() {
                let key = CellKey {
                    workload: Builtin::TpcbLike,
                    scale: 10,
                    clients: c,
                    threads: 2,
                    rtt_ms: 0,
                    mode,
                    repetition,
                    rate: None,
                };
                cells.push(cell(key, &mut rng));
            }
        }
    }
    let manifest = Manifest {
        schema: crate::sweep::folder::MANIFEST_SCHEMA.into(),
        schema_version: crate::sweep::folder::SCHEMA_VERSION,
        created_at: "2025-01-01T00:00:00Z".into(),
        harness: Harness {
            version: "0.1.0".into(),
            git_revision: None,
        },
        command_line: vec!["pgsyncbench".into(), "sweep".into()],
        plan,
        seed: 42,
        order: cells.iter().map(|c| c.cell.id()).collect(),
        environment: Environment {
            postgres_version: "15.10".into(),
            patroni_version: Some("4.1.5".into()),
            patroni_url: None,
            lab: true,
            members: Vec::new(),
            settings: BTreeMap::new(),
            synchronous_standby_names: "\"node2\"".into(),
            host_cpus: 2,
            host_memory_bytes: 24 << 30,
            host_os: "linux".into(),
            cluster: None,
            network: None,
        },
    };
    Results {
        dir: PathBuf::from("/nonexistent/charts-test"),
        manifest,
        cells,
    }
}

/// A fresh, empty folder for one test's charts.
fn out_dir(test: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("pgsyncbench-charts-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn names(files: &[ChartFile]) -> Vec<&str> {
    files.iter().map(|f| f.name.as_str()).collect()
}

/// The text of every `<text>` element, in document order; panics unless the file is XML.
fn svg_texts(path: &Path) -> Vec<String> {
    let source = std::fs::read_to_string(path).unwrap();
    let doc = roxmltree::Document::parse(&source)
        .unwrap_or_else(|e| panic!("{} is not XML: {e}", path.display()));
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    doc.descendants()
        .filter(|n| n.has_tag_name("text"))
        .map(|n| n.text().unwrap_or_default().trim().to_string())
        .collect()
}

fn decode_png(path: &Path) -> (png::OutputInfo, Vec<u8>) {
    let bytes = std::fs::read(path).unwrap();
    assert!(
        bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
        "{} lacks the PNG signature",
        path.display()
    );
    let mut reader = png::Decoder::new(std::io::Cursor::new(bytes))
        .read_info()
        .unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    buf.truncate(info.buffer_size());
    (info, buf)
}

fn has_pixel(info: &png::OutputInfo, rgb: &[u8], colour: plotters::style::RGBColor) -> bool {
    assert_eq!(info.color_type, png::ColorType::Rgb);
    rgb.chunks_exact(3)
        .any(|p| p == [colour.0, colour.1, colour.2])
}

#[test]
fn a_one_client_count_sweep_gets_bars_spectrum_and_a_timeline_per_cell() {
    let results = sweep(&[8], 2);
    let dir = out_dir("one-count");
    let files = render_all(&Analysis::of(&results), &dir).unwrap();

    let g = "tpcb-like_s10_c8_j2_rtt0";
    let mut expected = vec![
        format!("latency_{g}"),
        format!("tps_{g}"),
        format!("spectrum_{g}"),
    ];
    for mode in SyncCommit::ALL {
        for r in 1..=2 {
            expected.push(format!("timeline_{g}_{mode}_r{r}"));
        }
    }
    assert_eq!(names(&files), expected);
    for f in &files {
        assert_eq!(f.svg, dir.join(format!("{}.svg", f.name)));
        assert_eq!(f.png, dir.join(format!("{}.png", f.name)));
        assert!(!f.title.is_empty() && !f.title.contains('\n'), "{f:?}");
    }
    let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    on_disk.sort();
    let mut written: Vec<String> = expected
        .iter()
        .flat_map(|n| [format!("{n}.png"), format!("{n}.svg")])
        .collect();
    written.sort();
    assert_eq!(on_disk, written, "exactly the charts, nothing else");
    assert!(
        !names(&files).iter().any(|n| n.starts_with("scaling")),
        "one client count makes no scaling chart"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn svgs_are_xml_with_titles_axis_labels_and_legends() {
    let results = sweep(&[8], 2);
    let dir = out_dir("svg");
    let files = render_all(&Analysis::of(&results), &dir).unwrap();
    let find = |prefix: &str| files.iter().find(|f| f.name.starts_with(prefix)).unwrap();

    let expect = |file: &ChartFile, wanted: &[&str]| {
        let texts = svg_texts(&file.svg);
        for w in wanted {
            assert!(
                texts.iter().any(|t| t.contains(w)),
                "{}: no text '{w}' in {texts:?}",
                file.name
            );
        }
    };
    let modes: Vec<&str> = SyncCommit::ALL.iter().map(|m| m.as_str()).collect();
    let group = "tpcb-like, scale 10, 8 clients, 2 threads";

    let latency = find("latency_");
    expect(
        latency,
        &[
            "Mean latency per synchronous_commit mode",
            group,
            "synchronous_commit mode",
            "mean latency (ms)",
            "baseline",
        ],
    );
    expect(latency, &modes);
    expect(
        find("tps_"),
        &[
            "Throughput per synchronous_commit mode",
            "throughput (transactions/s)",
            "TPS",
        ],
    );
    let spectrum = find("spectrum_");
    expect(
        spectrum,
        &[
            "Latency percentiles per mode",
            "percentile (%)",
            "latency (ms, log scale)",
            "99.99",
            "99.9",
        ],
    );
    expect(spectrum, &modes);
    expect(
        find("timeline_"),
        &[
            "Timeline: off, repetition 1",
            "throughput (TPS)",
            "p99 latency (ms)",
            "replication lag (ms)",
            "time since measurement start (s)",
            "node2 (sync)",
            "node3 (async)",
            "write lag",
            "flush lag",
            "replay lag",
        ],
    );
    // Every file, not just the ones inspected above, is well-formed and titled.
    for f in &files {
        let texts = svg_texts(&f.svg);
        assert!(texts.len() > 10, "{}: only {texts:?}", f.name);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The geometric mean over repetitions of a summary figure of `mode`'s cells.
fn geomean(results: &Results, mode: SyncCommit, f: fn(&Summary) -> f64) -> f64 {
    let logs: Vec<f64> = results
        .cells
        .iter()
        .filter(|c| c.cell.mode == mode)
        .map(|c| f(&c.run.summary).ln())
        .collect();
    (logs.iter().sum::<f64>() / logs.len() as f64).exp()
}

#[test]
fn bars_show_the_report_figures_and_changes_against_the_baseline() {
    let results = sweep(&[8], 2);
    let dir = out_dir("change");
    let files = render_all(&Analysis::of(&results), &dir).unwrap();
    let mean = |s: &Summary| s.latency_ms.unwrap().mean;
    let off = geomean(&results, SyncCommit::Off, mean);
    let texts = svg_texts(&files[0].svg);
    for mode in [SyncCommit::Local, SyncCommit::RemoteApply] {
        let value = geomean(&results, mode, mean);
        // Every repetition pairs with the baseline's: the change is the ratio of the means.
        let label = style::percent_change((value / off - 1.0) * 100.0);
        assert!(label.starts_with('+'), "slower than off: {label}");
        assert!(texts.contains(&label), "{label} not in {texts:?}");
        let shown = format!("{} ms", style::significant(value));
        assert!(texts.contains(&shown), "{shown} not in {texts:?}");
    }
    let tps = svg_texts(&files[1].svg);
    let off_tps = geomean(&results, SyncCommit::Off, |s| s.tps);
    let on_tps = geomean(&results, SyncCommit::On, |s| s.tps);
    let label = style::percent_change((on_tps / off_tps - 1.0) * 100.0);
    assert!(
        label.starts_with('-') && tps.contains(&label),
        "{label} not in {tps:?}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn pngs_are_real_images_in_the_mode_colours() {
    let results = sweep(&[8], 1);
    let dir = out_dir("png");
    let files = render_all(&Analysis::of(&results), &dir).unwrap();
    for f in &files {
        assert!(std::fs::metadata(&f.png).unwrap().len() > 0);
        let (info, rgb) = decode_png(&f.png);
        assert!(info.width >= 800 && info.height >= 500, "{}", f.name);
        // Text was drawn with the bundled font: anti-aliasing leaves many grey levels.
        let greys = rgb
            .chunks_exact(3)
            .filter(|p| p[0] == p[1] && p[1] == p[2])
            .map(|p| p[0])
            .collect::<std::collections::HashSet<u8>>();
        assert!(greys.len() > 20, "{}: {} grey levels", f.name, greys.len());
    }
    let (info, rgb) = decode_png(&files[0].png);
    for mode in SyncCommit::ALL {
        assert!(
            has_pixel(&info, &rgb, style::mode_colour(mode)),
            "no {mode} bar"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn several_client_counts_add_scaling_curves() {
    let results = sweep(&[1, 4, 8], 2);
    let dir = out_dir("scaling");
    let files = render_all(&Analysis::of(&results), &dir).unwrap();
    let all = names(&files);
    assert_eq!(all.len(), 3 * 3 + 2 + 3 * 5 * 2, "{all:?}");
    let scaling: Vec<&str> = all
        .iter()
        .copied()
        .filter(|n| n.starts_with("scaling"))
        .collect();
    assert_eq!(
        scaling,
        [
            "scaling-tps_tpcb-like_s10_j2_rtt0",
            "scaling-p99_tpcb-like_s10_j2_rtt0"
        ]
    );
    // Reading order: group charts, then scaling, then timelines.
    let first_scaling = all.iter().position(|n| n.starts_with("scaling")).unwrap();
    assert!(
        all[..first_scaling]
            .iter()
            .all(|n| !n.starts_with("timeline"))
    );
    assert!(
        all[first_scaling + 2..]
            .iter()
            .all(|n| n.starts_with("timeline"))
    );

    let tps = files
        .iter()
        .find(|f| f.name.starts_with("scaling-tps"))
        .unwrap();
    let texts = svg_texts(&tps.svg);
    assert!(texts.iter().any(|t| t.starts_with("clients")), "{texts:?}");
    for want in ["Throughput against clients", "1", "4", "8", "remote_apply"] {
        assert!(texts.iter().any(|t| t == want), "'{want}' not in {texts:?}");
    }
    let p99 = files
        .iter()
        .find(|f| f.name.starts_with("scaling-p99"))
        .unwrap();
    assert!(svg_texts(&p99.svg).iter().any(|t| t == "p99 latency (ms)"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_cell_without_samples_still_gets_its_timeline() {
    let mut results = sweep(&[8], 1);
    let target = results
        .cells
        .iter_mut()
        .find(|c| c.cell.mode == SyncCommit::On)
        .unwrap();
    target.samples.clear();
    let id = target.cell.id();
    let dir = out_dir("no-samples");
    let files = render_all(&Analysis::of(&results), &dir).unwrap();
    let timeline = files
        .iter()
        .find(|f| f.name == format!("timeline_{id}"))
        .expect("a timeline for the cell without samples");
    let texts = svg_texts(&timeline.svg);
    assert!(
        texts
            .iter()
            .any(|t| t == "No replication samples were recorded for this cell."),
        "{texts:?}"
    );
    assert!(texts.iter().any(|t| t == "throughput (TPS)"));
    decode_png(&timeline.png);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_repetition_without_a_sync_standby_is_left_out_and_marked() {
    let mut results = sweep(&[8], 2);
    for c in results
        .cells
        .iter_mut()
        .filter(|c| c.cell.mode == SyncCommit::RemoteApply && c.cell.repetition == 2)
    {
        c.sync_standby_attached = false;
    }
    let counted = results
        .cells
        .iter()
        .find(|c| c.cell.mode == SyncCommit::RemoteApply && c.cell.repetition == 1)
        .unwrap()
        .run
        .summary
        .latency_ms
        .unwrap()
        .mean;
    let dir = out_dir("no-standby");
    let files = render_all(&Analysis::of(&results), &dir).unwrap();
    let latency = svg_texts(&files[0].svg);
    assert!(latency.iter().any(|t| t == "remote_apply*"), "{latency:?}");
    assert!(
        latency
            .iter()
            .any(|t| t.contains("without an attached synchronous standby"))
    );
    let shown = format!("{} ms", style::significant(counted));
    assert!(
        latency.contains(&shown),
        "only repetition 1 counts: {shown} in {latency:?}"
    );
    let spectrum = svg_texts(&files[2].svg);
    assert!(
        spectrum.iter().any(|t| t == "remote_apply*"),
        "{spectrum:?}"
    );
    assert!(
        spectrum
            .iter()
            .any(|t| t.contains("without an attached synchronous standby"))
    );
    let timeline = files
        .iter()
        .find(|f| f.name.ends_with("remote_apply_r2"))
        .expect("the left-out cell still has its timeline");
    assert!(
        svg_texts(&timeline.svg)
            .iter()
            .any(|t| t.contains("NO synchronous standby attached"))
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_mode_that_never_had_a_sync_standby_has_no_bar() {
    let mut results = sweep(&[8], 1);
    for c in results
        .cells
        .iter_mut()
        .filter(|c| c.cell.mode == SyncCommit::On)
    {
        c.sync_standby_attached = false;
    }
    let dir = out_dir("never-standby");
    let files = render_all(&Analysis::of(&results), &dir).unwrap();
    let latency = svg_texts(&files[0].svg);
    assert!(latency.iter().any(|t| t == "left out*"), "{latency:?}");
    assert!(latency.iter().any(|t| t == "on*"), "{latency:?}");
    let spectrum = svg_texts(&files[2].svg);
    assert!(
        !spectrum.iter().any(|t| t == "on" || t == "on*"),
        "{spectrum:?}"
    );
    assert!(
        spectrum.iter().any(|t| t == "Not shown: on*."),
        "{spectrum:?}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn long_standby_names_are_shortened_in_the_legend() {
    let mut results = sweep(&[8], 1);
    results.cells.truncate(1);
    let long = "pg-cluster-eu-west-1c-replica-02";
    for s in &mut results.cells[0].samples {
        s.standbys[1].name = long.into();
    }
    let dir = out_dir("long-names");
    let files = render_all(&Analysis::of(&results), &dir).unwrap();
    let texts = svg_texts(&files.last().unwrap().svg);
    let shortened: Vec<&String> = texts.iter().filter(|t| t.contains('…')).collect();
    assert_eq!(shortened.len(), 1, "{texts:?}");
    assert!(
        shortened[0].starts_with("pg-cluster-eu") && shortened[0].ends_with("… (async)"),
        "the name is shortened, its state kept: {shortened:?}"
    );
    assert!(
        texts.iter().any(|t| t == "node2 (sync)"),
        "short names stay whole"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_missing_baseline_leaves_values_without_changes() {
    let mut results = sweep(&[8], 1);
    results.cells.retain(|c| c.cell.mode != SyncCommit::Off);
    let dir = out_dir("no-baseline");
    let files = render_all(&Analysis::of(&results), &dir).unwrap();
    let texts = svg_texts(&files[0].svg);
    assert!(
        !texts.iter().any(|t| t == "baseline" || t.ends_with('%')),
        "{texts:?}"
    );
    assert!(
        texts
            .iter()
            .any(|t| t.contains("baseline mode off has no result"))
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn an_unreadable_histogram_names_its_cell() {
    let mut results = sweep(&[8], 1);
    results.cells[3].run.histogram.data = "not a histogram".into();
    let id = results.cells[3].cell.id();
    let dir = out_dir("bad-histogram");
    let err = render_all(&Analysis::of(&results), &dir).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains(&id) && !msg.contains('\n'), "{msg}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_unwritable_folder_is_an_error_not_a_panic() {
    let results = sweep(&[8], 1);
    let file = out_dir("not-a-dir");
    std::fs::write(&file, b"a file").unwrap();
    let err = render_all(&Analysis::of(&results), &file.join("charts")).unwrap_err();
    assert!(matches!(err, ChartError::CreateDir { .. }), "{err}");
    std::fs::remove_file(&file).unwrap();
}

/// Timing of a 100-cell report's charts: run in release with
/// `cargo test --release --lib charts::tests::render_timing -- --ignored --nocapture`.
#[test]
#[ignore = "timing; run in release"]
fn render_timing_of_100_cells() {
    // 2 client counts x 5 modes x 10 repetitions = 100 cells in 2 groups.
    let started = std::time::Instant::now();
    let results = sweep(&[4, 8], 10);
    assert_eq!(results.cells.len(), 100);
    println!("fixture: {:.2} s", started.elapsed().as_secs_f64());
    let dir = out_dir("timing");
    std::fs::create_dir_all(&dir).unwrap();

    let started = std::time::Instant::now();
    let analysis = Analysis::of(&results);
    let groups = data::groups(&analysis).unwrap();
    println!(
        "decode and merge histograms: {:.3} s",
        started.elapsed().as_secs_f64()
    );
    let started = std::time::Instant::now();
    for (i, g) in groups.iter().enumerate() {
        let bars = bars::Bars::new(bars::Figure::MeanLatency, g, SyncCommit::Off);
        output::write(&bars, &format!("bars{i}"), "t", &dir).unwrap();
        output::write(
            &spectrum::Spectrum::new(g),
            &format!("spectrum{i}"),
            "t",
            &dir,
        )
        .unwrap();
    }
    let per_group = started.elapsed().as_secs_f64() / (2 * groups.len()) as f64;
    let started = std::time::Instant::now();
    for c in &results.cells[..20] {
        output::write(&timeline::Timeline::new(c), &c.cell.id(), "t", &dir).unwrap();
    }
    let per_timeline = started.elapsed().as_secs_f64() / 20.0;
    println!(
        "one group chart (SVG+PNG): {:.1} ms; one timeline (SVG+PNG): {:.1} ms",
        per_group * 1000.0,
        per_timeline * 1000.0
    );

    // One repetition: every change comes from a bootstrap over seconds, the slow path.
    let single = sweep(&(1..=20).collect::<Vec<_>>(), 1);
    let started = std::time::Instant::now();
    let analysis = Analysis::of(&single);
    let groups = data::groups(&analysis).unwrap();
    println!(
        "figures and changes of {} groups with bootstraps: {:.3} s",
        groups.len(),
        started.elapsed().as_secs_f64()
    );

    let started = std::time::Instant::now();
    let files = render_all(&Analysis::of(&results), &dir.join("all")).unwrap();
    let total = started.elapsed();
    let timelines = files
        .iter()
        .filter(|f| f.name.starts_with("timeline"))
        .count();
    println!(
        "render_all: {} charts ({timelines} timelines) for 100 cells in {:.2} s",
        files.len(),
        total.as_secs_f64()
    );
    assert!(total.as_secs_f64() < 30.0);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Writes sample charts for a person to look at:
/// `PGSYNCBENCH_CHARTS_OUT=/tmp/charts cargo test --lib charts::tests::sample_charts -- --ignored`;
/// with `PGSYNCBENCH_CHARTS_FROM=<results folder>` also the charts of a real sweep.
#[test]
#[ignore = "writes charts to look at"]
fn sample_charts_for_review() {
    let out = PathBuf::from(
        std::env::var_os("PGSYNCBENCH_CHARTS_OUT").expect("set PGSYNCBENCH_CHARTS_OUT"),
    );
    if let Some(dir) = std::env::var_os("PGSYNCBENCH_CHARTS_FROM") {
        let results = Results::load(Path::new(&dir)).unwrap();
        assert!(
            !render_all(&Analysis::of(&results), &out.join("real"))
                .unwrap()
                .is_empty()
        );
    }
    // Three client counts, two repetitions, one cell without samples.
    let mut results = sweep(&[1, 4, 8], 2);
    results.cells[7].samples.clear();
    assert!(
        !render_all(&Analysis::of(&results), &out.join("sweep"))
            .unwrap()
            .is_empty()
    );
    // Eight client counts, no baseline, one remote mode without a sync standby, long names.
    let mut results = sweep(&[1, 2, 4, 8, 16, 32, 64, 128], 1);
    results.cells.retain(|c| c.cell.mode != SyncCommit::Off);
    for c in results.cells.iter_mut() {
        c.sync_standby_attached = c.cell.mode != SyncCommit::On;
        for s in &mut c.samples {
            s.standbys[1].name = "pg-cluster-eu-west-1c-replica-02".into();
        }
    }
    assert!(
        !render_all(&Analysis::of(&results), &out.join("odd"))
            .unwrap()
            .is_empty()
    );
}

/// `sweep(&[8], 1)` relabelled as run at each of `rates` (latency growing with the rate).
fn at_rates(rates: &[u32]) -> Results {
    let mut results = sweep(&[8], 1);
    let closed = std::mem::take(&mut results.cells);
    for &rate in rates {
        for c in &closed {
            let mut c = c.clone();
            c.cell.rate = Some(rate);
            c.run.options.rate = Some(f64::from(rate));
            let grow = 1.0 + f64::from(rate) / 500.0;
            if let Some(l) = c.run.summary.latency_ms.as_mut() {
                l.mean *= grow;
                l.p99 *= grow * grow;
            }
            results.cells.push(c);
        }
    }
    results.manifest.plan.rates = rates.to_vec();
    results.manifest.order = results.cells.iter().map(|c| c.cell.id()).collect();
    results
}

#[test]
fn offered_rates_get_a_latency_against_load_chart_and_groups_per_rate() {
    let results = at_rates(&[200, 400, 800]);
    let dir = out_dir("offered");
    let files = render_all(&Analysis::of(&results), &dir).unwrap();
    let n = names(&files);
    let g = "tpcb-like_s10_c8_j2_rtt0";
    for rate in [200, 400, 800] {
        assert!(
            n.contains(&format!("latency_{g}_R{rate}").as_str()),
            "{n:?}"
        );
        assert!(n.contains(&format!("timeline_{g}_on_r1_R{rate}").as_str()));
    }
    let offered = files
        .iter()
        .find(|f| f.name == format!("offered_{g}"))
        .unwrap_or_else(|| panic!("no offered chart in {n:?}"));
    assert_eq!(
        offered.title,
        "Latency against offered load — tpcb-like, scale 10, 8 clients, 2 threads"
    );
    let texts = svg_texts(&offered.svg);
    for want in [
        "Latency against offered load",
        "offered rate (transactions/s over all clients)",
        "off p99",
        "remote_apply mean",
    ] {
        assert!(texts.iter().any(|t| t.contains(want)), "{want}: {texts:?}");
    }
    assert!(!texts.iter().any(|t| t.contains("objective")), "{texts:?}");
    // The rate groups differ only in their rate, not their clients: no scaling curves.
    assert!(!n.iter().any(|n| n.starts_with("scaling")), "{n:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_capacity_search_charts_its_objective_and_compares_only_its_closed_loop_cells() {
    let mut results = at_rates(&[300, 600]);
    results.manifest.plan.rates.clear();
    results.manifest.plan.capacity = Some(crate::sweep::plan::Capacity {
        slo_ms: 20.0,
        percentile: 99.9,
        repeats: 1,
        resolution_pct: 2.0,
    });
    let closed = sweep(&[8], 1).cells;
    results.cells.splice(0..0, closed);
    results.manifest.order = results.cells.iter().map(|c| c.cell.id()).collect();
    let dir = out_dir("capacity");
    let files = render_all(&Analysis::of(&results), &dir).unwrap();
    let n = names(&files);
    let g = "tpcb-like_s10_c8_j2_rtt0";
    assert!(n.contains(&format!("latency_{g}").as_str()), "{n:?}");
    assert!(
        !n.iter()
            .any(|n| n.starts_with("latency_") && n.contains("_R")),
        "{n:?}"
    );
    let offered = files
        .iter()
        .find(|f| f.name == format!("offered_{g}"))
        .unwrap();
    let texts = svg_texts(&offered.svg);
    for want in ["objective p99.9 ≤ 20 ms", "on p99.9", "Rings"] {
        assert!(texts.iter().any(|t| t.contains(want)), "{want}: {texts:?}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
