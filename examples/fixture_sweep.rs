//! Writes a synthetic sweep results folder, deterministically, for tests and for timing `report`.
//! Latencies follow pgbench's figures on the project's 3-node lab (TPC-B, scale 10,
//! 8 clients): each transaction's latency is drawn from a log-normal with a small slow tail.
//!
//! ```text
//! cargo run --example fixture_sweep -- OUT_DIR [--variant small|regressed|noisy]
//!     [--clients 8,16] [--repeat 2] [--duration 15]
//! ```
//!
//! - small: five modes, 2 repetitions; repetition 2 of remote_apply ran without a sync standby.
//! - regressed: small, byte for byte, except remote_apply latency +30% where a standby was attached.
//! - noisy: the same true figures as small with other draws and more run-to-run and per-second noise.
//!
//! Each cell draws from its own generator (seeded from the variant's seed and the cell's id), so
//! a change to one cell leaves every other cell as it was.

use std::collections::BTreeMap;
use std::path::PathBuf;

use rand::rngs::Xoshiro256PlusPlus;
use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};

use pgsyncbench::cluster::control::SyncMode;
use pgsyncbench::load::metrics::Stats;
use pgsyncbench::load::run_result::{
    EncodedHistogram, RunOptions, RunResult, Summary, TargetInfo, Tool,
};
use pgsyncbench::load::workload::{Builtin, Protocol};
use pgsyncbench::pg::mode::SyncCommit;
use pgsyncbench::sweep::folder::{
    self, CELL_SCHEMA, CellKey, CellResult, Environment, Harness, MANIFEST_SCHEMA, Manifest,
    Member, Plan, SCHEMA_VERSION, Sample, StandbySample,
};

#[derive(Clone, Copy, PartialEq)]
enum Variant {
    Small,
    Regressed,
    Noisy,
}

struct Noise {
    /// Standard deviation of a run's overall latency factor.
    run: f64,
    /// Standard deviation of a second's latency factor within a run.
    second: f64,
}

struct Options {
    out: PathBuf,
    variant: Variant,
    clients: Vec<usize>,
    repeat: u32,
    duration: u64,
}

fn main() {
    let opts = match parse(std::env::args().skip(1).collect()) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("fixture_sweep: {e}");
            std::process::exit(2);
        }
    };
    if let Err(e) = write(&opts) {
        eprintln!("fixture_sweep: {e}");
        std::process::exit(1);
    }
}

fn parse(args: Vec<String>) -> Result<Options, String> {
    let mut opts = Options {
        out: PathBuf::new(),
        variant: Variant::Small,
        clients: vec![8],
        repeat: 2,
        duration: 15,
    };
    let mut it = args.into_iter();
    let mut out = None;
    while let Some(a) = it.next() {
        let mut value = || it.next().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--variant" => {
                opts.variant = match value()?.as_str() {
                    "small" => Variant::Small,
                    "regressed" => Variant::Regressed,
                    "noisy" => Variant::Noisy,
                    v => {
                        return Err(format!(
                            "unknown variant {v}: use small, regressed or noisy"
                        ));
                    }
                }
            }
            "--clients" => {
                opts.clients = value()?
                    .split(',')
                    .map(|c| c.parse().map_err(|_| format!("bad client count {c}")))
                    .collect::<Result<_, _>>()?
            }
            "--repeat" => opts.repeat = value()?.parse().map_err(|_| "bad --repeat")?,
            "--duration" => opts.duration = value()?.parse().map_err(|_| "bad --duration")?,
            _ if out.is_none() && !a.starts_with('-') => out = Some(PathBuf::from(a)),
            _ => return Err(format!("unexpected argument {a}")),
        }
    }
    opts.out = out.ok_or("give the folder to write")?;
    Ok(opts)
}

/// Mean latency in ms of each mode with 8 clients (pgbench on the 3-node lab).
fn reference_mean_ms(mode: SyncCommit) -> f64 {
    match mode {
        SyncCommit::Off => 1.95,
        SyncCommit::Local => 4.25,
        SyncCommit::RemoteWrite => 5.36,
        SyncCommit::On => 5.37,
        SyncCommit::RemoteApply => 5.94,
    }
}

fn write(opts: &Options) -> Result<(), Box<dyn std::error::Error>> {
    let (seed, noise) = match opts.variant {
        Variant::Small | Variant::Regressed => (
            20250601,
            Noise {
                run: 0.015,
                second: 0.03,
            },
        ),
        Variant::Noisy => (
            20250602,
            Noise {
                run: 0.02,
                second: 0.10,
            },
        ),
    };
    let plan = Plan {
        name: "five-modes".into(),
        workloads: vec![Builtin::TpcbLike],
        modes: SyncCommit::ALL.to_vec(),
        baseline: SyncCommit::Off,
        scales: vec![10],
        clients: opts.clients.clone(),
        threads: vec![2],
        rates: Vec::new(),
        generators: 1,
        rtt_ms: vec![0],
        zones: None,
        reference: None,
        duration: opts.duration,
        warmup: 5,
        repeat: opts.repeat,
        protocol: Protocol::Simple,
        synchronous_mode: Some(SyncMode::On),
        strict: Some(false),
        capacity: None,
    };
    let keys = cell_order(&plan, seed);
    let manifest = Manifest {
        schema: MANIFEST_SCHEMA.into(),
        schema_version: SCHEMA_VERSION,
        created_at: "2025-06-01T10:00:00.000Z".into(),
        harness: Harness {
            version: "0.1.0".into(),
            git_revision: Some("a50477e".into()),
        },
        command_line: [
            "pgsyncbench",
            "sweep",
            "--plan",
            "workloads/five-modes.toml",
            "--repeat",
            &opts.repeat.to_string(),
            "-T",
            &opts.duration.to_string(),
            "--warmup",
            "5",
        ]
        .map(String::from)
        .to_vec(),
        plan,
        seed,
        order: keys.iter().map(CellKey::id).collect(),
        environment: environment(),
    };
    std::fs::create_dir_all(&opts.out)?;
    folder::write_manifest(&opts.out, &manifest)?;
    let mut cells = Vec::new();
    for (i, key) in keys.iter().enumerate() {
        let cell = cell(key, i, &manifest.plan, opts.variant, seed, &noise);
        folder::write_cell(&opts.out, &cell)?;
        cells.push(cell);
    }
    folder::write_summary(&opts.out, &cells)?;
    Ok(())
}

/// Interleaved repetitions, each with its own shuffle of the modes.
fn cell_order(plan: &Plan, seed: u64) -> Vec<CellKey> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut keys = Vec::new();
    for repetition in 1..=plan.repeat {
        for &clients in &plan.clients {
            let mut modes = plan.modes.clone();
            modes.shuffle(&mut rng);
            for mode in modes {
                keys.push(CellKey {
                    workload: Builtin::TpcbLike,
                    scale: 10,
                    clients,
                    threads: plan.threads[0].min(clients),
                    rtt_ms: 0,
                    mode,
                    repetition,
                    rate: None,
                });
            }
        }
    }
    keys
}

fn environment() -> Environment {
    let member = |name: &str, role: &str| Member {
        name: name.into(),
        role: role.into(),
        state: if role == "leader" {
            "running"
        } else {
            "streaming"
        }
        .into(),
    };
    let settings = [
        ("checkpoint_timeout", "5min"),
        ("fsync", "on"),
        ("full_page_writes", "on"),
        ("max_wal_senders", "10"),
        ("max_wal_size", "1GB"),
        ("shared_buffers", "128MB"),
        ("wal_buffers", "4MB"),
        ("wal_compression", "off"),
        ("wal_level", "replica"),
        ("wal_sync_method", "fdatasync"),
    ];
    Environment {
        postgres_version: "PostgreSQL 15.14 (Debian 15.14-0+deb12u1) on x86_64-pc-linux-gnu".into(),
        patroni_version: Some("4.1.5".into()),
        patroni_url: Some("http://127.0.0.1:8008".into()),
        lab: true,
        members: vec![
            member("pg0", "leader"),
            member("pg1", "sync_standby"),
            member("pg2", "replica"),
        ],
        settings: settings
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        synchronous_standby_names: "\"pg1\"".into(),
        host_cpus: 2,
        host_memory_bytes: 24 * 1024 * 1024 * 1024,
        host_os: "Linux 6.1.0 x86_64".into(),
        cluster: None,
        network: None,
    }
}

/// A standard normal draw (Box–Muller).
fn normal(rng: &mut Xoshiro256PlusPlus) -> f64 {
    let u1: f64 = 1.0 - rng.random::<f64>();
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

fn cell_seed(seed: u64, id: &str) -> u64 {
    // FNV-1a: stable across runs and platforms, unlike the standard library's hasher.
    id.bytes().fold(seed ^ 0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

fn cell(
    key: &CellKey,
    index: usize,
    plan: &Plan,
    variant: Variant,
    seed: u64,
    noise: &Noise,
) -> CellResult {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(cell_seed(seed, &key.id()));
    // Repetition 2 of remote_apply lost its sync standby: commits waited for nobody, as local.
    let attached = !(key.mode == SyncCommit::RemoteApply && key.repetition == 2);
    let effective = if attached {
        key.mode
    } else {
        SyncCommit::Local
    };
    let mut mean_ms = reference_mean_ms(effective) * (key.clients as f64 / 8.0).powf(0.3);
    if variant == Variant::Regressed && key.mode == SyncCommit::RemoteApply && attached {
        mean_ms *= 1.30;
    }
    let run_factor = 1.0 + noise.run * normal(&mut rng);
    // Log-normal with sigma 0.4; 0.5% of transactions are 4x slower (checkpoints, vacuum).
    let sigma = 0.4f64;
    let median_us = mean_ms * 1000.0 / (sigma * sigma / 2.0).exp() / 1.015;

    let mut total = Stats::default();
    let mut timeline = Vec::new();
    let mut samples = Vec::new();
    for second in 1..=plan.duration {
        let factor = (run_factor * (1.0 + noise.second * normal(&mut rng))).max(0.3);
        let n = (key.clients as f64 * 1000.0 / (mean_ms * factor)).round() as u64;
        let mut s = Stats::default();
        for _ in 0..n {
            let tail = if rng.random::<f64>() < 0.005 {
                4.0
            } else {
                1.0
            };
            let us = median_us * factor * tail * (sigma * normal(&mut rng)).exp();
            s.record(us.round().max(1.0) as u64);
        }
        timeline.push(s.timeline_point(second as f64, 1.0));
        total.merge(&s);
        samples.push(sample(second as f64, key, attached, &mut rng));
    }
    let secs = plan.duration as f64;
    let started = 1748772000 + 30 * index as u64;
    CellResult {
        schema: CELL_SCHEMA.into(),
        schema_version: SCHEMA_VERSION,
        cell: key.clone(),
        sync_standby_attached: attached,
        apply_seconds: 1.2 + 0.8 * rng.random::<f64>(),
        run: RunResult {
            schema: pgsyncbench::load::run_result::SCHEMA_ID.into(),
            schema_version: pgsyncbench::load::run_result::SCHEMA_VERSION,
            tool: Tool {
                name: "pgsyncbench".into(),
                version: "0.1.0".into(),
            },
            started_at: humantime::format_rfc3339_millis(
                std::time::UNIX_EPOCH + std::time::Duration::from_secs(started),
            )
            .to_string(),
            target: TargetInfo {
                connection: "host=127.0.0.1 port=5432 user=postgres dbname=postgres".into(),
                patroni: Some("http://127.0.0.1:8008".into()),
                leader: Some("pg0".into()),
                server_version: "15.14".into(),
                synchronous_commit: key.mode.to_string(),
                synchronous_standby_names: if attached { "\"pg1\"" } else { "" }.into(),
                sync_standby_attached: Some(attached),
            },
            session_synchronous_commit: BTreeMap::from([(
                key.mode.to_string(),
                key.clients as u64,
            )]),
            options: RunOptions {
                protocol: plan.protocol,
                clients: key.clients,
                threads: key.threads,
                duration: Some(plan.duration),
                warmup: plan.warmup,
                scale: key.scale,
                sync_commit: Some(key.mode),
                seed: cell_seed(seed, "options") ^ index as u64,
                ..RunOptions::builtin(key.workload)
            },
            summary: Summary {
                transactions: total.transactions(),
                failed: total.failed(),
                measured_seconds: secs,
                tps: total.transactions() as f64 / secs,
                connection_time_ms: 8.0 + 4.0 * rng.random::<f64>(),
                latency_ms: total.latency(),
                ..Summary::default()
            },
            failures: BTreeMap::new(),
            timeline,
            histogram: EncodedHistogram::of(&total.hist),
            service_histogram: None,
            lag_histogram: None,
        },
        samples,
        cluster: None,
    }
}

/// pg_stat_replication as the leader would show it: the sync standby's lag grows with what the
/// mode waits for; an async replica trails a little.
fn sample(t: f64, key: &CellKey, attached: bool, rng: &mut Xoshiro256PlusPlus) -> Sample {
    let jitter =
        |rng: &mut Xoshiro256PlusPlus, ms: f64| (ms * (1.0 + 0.2 * normal(rng))).max(0.01) * 1000.0;
    let mut standbys = Vec::new();
    let mut standby = |name: &str, sync_state: &str, base: f64, rng: &mut Xoshiro256PlusPlus| {
        let w = jitter(rng, base).round() / 1000.0;
        let f = w + jitter(rng, base * 0.5).round() / 1000.0;
        let r = f + jitter(rng, base * 0.4).round() / 1000.0;
        standbys.push(StandbySample {
            name: name.into(),
            sync_state: sync_state.into(),
            write_lag_ms: Some(w),
            flush_lag_ms: Some(f),
            replay_lag_ms: Some(r),
        });
    };
    if attached {
        standby("pg1", "sync", 0.35, rng);
    }
    standby("pg2", "async", 0.6, rng);
    let waiting = if attached && key.mode.waits_for_standby() {
        (key.clients as f64 * (0.45 + 0.1 * rng.random::<f64>())).round() as u64
    } else {
        0
    };
    Sample {
        t,
        standbys,
        syncrep_waiting: waiting,
    }
}
