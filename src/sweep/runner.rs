//! A sweep: every cell of a plan (workload, scale, clients, threads, mode, repetition) run on a
//! Patroni cluster. Repetitions are interleaved and each shuffles its mode order from the
//! recorded seed; tables are loaded once per scale; each cell switches the mode through Patroni
//! and proves it live, checkpoints, warms up, and measures with samplers beside the load. Every
//! finished cell is written at once, so an interrupted sweep keeps it.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rand::SeedableRng;
use rand::rngs::SmallRng;
use rand::seq::SliceRandom;

use crate::cluster::control::{self, ControlError, SyncChange};
use crate::cluster::patroni::Patroni;
use crate::interrupt::Interrupt;
use crate::lab::LabError;
use crate::load::engine::EngineError;
use crate::load::hlog::HlogError;
use crate::load::init::{self, InitError, InitProgress};
use crate::load::run_result::{RunOptions, TargetInfo};
use crate::pg::conn::Target;
use crate::pg::{pool, server};
use crate::sweep::folder::{
    self, CellKey, CellResult, ClusterIdentity, Manifest, Plan, Results, ResultsError,
};
use crate::sweep::{generators, sampler};

/// Every cell of the plan in the order it runs: per scale (tables are loaded once per scale),
/// repetition after repetition, each group's modes shuffled by a generator seeded from `seed`,
/// the scale, the repetition and the group. Offered rates are the innermost dimension of a
/// group, so a plan without them orders its cells as before rates existed.
pub fn cell_order(plan: &Plan, seed: u64) -> Vec<CellKey> {
    let mut order = Vec::new();
    for &scale in &plan.scales {
        for repetition in 1..=plan.repeat {
            let mut group_index = 0u64;
            for &workload in &plan.workloads {
                for &clients in &plan.clients {
                    for &threads in &plan.threads {
                        for &rtt_ms in &plan.rtt_ms {
                            for rate in rates(plan) {
                                group_index += 1;
                                let mut modes = plan.modes.clone();
                                modes.shuffle(&mut shuffler(seed, scale, repetition, group_index));
                                order.extend(modes.into_iter().map(|mode| CellKey {
                                    workload,
                                    scale,
                                    clients,
                                    threads,
                                    rtt_ms,
                                    mode,
                                    repetition,
                                    rate,
                                }));
                            }
                        }
                    }
                }
            }
        }
    }
    order
}

/// The plan's offered rates, or one closed-loop value when it has none.
fn rates(plan: &Plan) -> Vec<Option<u32>> {
    if plan.rates.is_empty() {
        vec![None]
    } else {
        plan.rates.iter().copied().map(Some).collect()
    }
}

/// The generator that shuffles the modes of one group (numbered from 1 within its scale and
/// repetition), from the recorded seed.
pub fn shuffler(seed: u64, scale: i64, repetition: u32, group_index: u64) -> SmallRng {
    let mix = seed
        ^ (scale as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ u64::from(repetition).wrapping_mul(0xC2B2_AE3D_27D4_EB4F)
        ^ group_index.wrapping_mul(0x1656_67B1_9E37_79F9);
    SmallRng::seed_from_u64(mix)
}

#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    #[error(transparent)]
    Control(#[from] ControlError),
    #[error(transparent)]
    Results(#[from] ResultsError),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Probe(#[from] server::ProbeError),
    #[error(transparent)]
    Connect(#[from] crate::pg::conn::ConnError),
    #[error(transparent)]
    Hlog(#[from] HlogError),
    #[error("merging the cell's generators failed: {0}")]
    Merge(#[from] crate::load::merge::MergeError),
    #[error("loading pgbench's tables failed: {0}")]
    Init(#[source] InitError),
    #[error("CHECKPOINT before the cell failed: {}", crate::pg::error::describe(.0))]
    Checkpoint(#[source] tokio_postgres::Error),
    #[error("cannot create {}: {source}", path.display())]
    Folder {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot set the added round-trip time to {rtt_ms} ms: {source}")]
    Rtt {
        rtt_ms: u32,
        #[source]
        source: LabError,
    },
    #[error("interrupted")]
    Interrupted,
}

/// What a sweep reports as it goes.
pub trait SweepProgress {
    fn cell_started(&mut self, index: usize, total: usize, key: &CellKey);
    fn cell_finished(&mut self, index: usize, total: usize, cell: &CellResult);
    fn note(&mut self, message: &str);
}

pub struct SweepTarget<'a> {
    pub patroni: &'a Patroni,
    /// User, password and database for sessions on the members.
    pub base: &'a Target,
    /// How long a mode switch may take to go live (a few of Patroni's loop_waits).
    pub budget: Duration,
    /// Sets the round-trip time added on the replication path (the lab's relays).
    pub set_rtt: &'a dyn Fn(u32) -> Result<(), LabError>,
    /// The cluster every cell records it ran on.
    pub cluster: &'a ClusterIdentity,
}

/// Time accounting: how much of the sweep went to anything but measured and warmup load.
#[derive(Debug, Default, Clone, Copy)]
pub struct Timing {
    pub total: Duration,
    pub load: Duration,
    pub init: Duration,
}

impl Timing {
    /// Share of the sweep's time (init aside) spent beyond warmup and measured load.
    pub fn overhead_share(&self) -> f64 {
        let total = self.total.saturating_sub(self.init).as_secs_f64();
        if total <= 0.0 {
            return 0.0;
        }
        (total - self.load.as_secs_f64()).max(0.0) / total
    }
}

/// Runs the cells of `manifest.order` that have no result in `dir` yet.
pub async fn run(
    dir: &Path,
    manifest: &Manifest,
    at: &SweepTarget<'_>,
    progress: &mut dyn SweepProgress,
    interrupt: &Interrupt,
) -> Result<Timing, SweepError> {
    let started = Instant::now();
    let mut timing = Timing::default();
    let plan = &manifest.plan;
    let order = cell_order(plan, manifest.seed);
    let total = order.len();
    let mut done: Vec<CellResult> = Results::load(dir)?.cells;
    let mut loaded_scale: Option<i64> = None;
    let mut rtt: Option<u32> = None;
    for (index, key) in order.iter().enumerate() {
        if done.iter().any(|c| &c.cell == key) {
            continue;
        }
        if interrupt.happened() {
            return Err(SweepError::Interrupted);
        }
        if loaded_scale != Some(key.scale) {
            let t = Instant::now();
            ensure_scale(at, key.scale, progress).await?;
            timing.init += t.elapsed();
            loaded_scale = Some(key.scale);
        }
        if rtt != Some(key.rtt_ms) {
            (at.set_rtt)(key.rtt_ms).map_err(|e| SweepError::Rtt {
                rtt_ms: key.rtt_ms,
                source: e,
            })?;
            rtt = Some(key.rtt_ms);
        }
        progress.cell_started(index, total, key);
        let cell = run_cell(dir, plan, key, at, progress, interrupt).await?;
        timing.load += Duration::from_secs_f64(cell.run.summary.measured_seconds)
            + Duration::from_secs(plan.warmup);
        if cell.run.summary.interrupted {
            return Err(SweepError::Interrupted);
        }
        folder::write_cell(dir, &cell)?;
        progress.cell_finished(index, total, &cell);
        done.push(cell);
        // summary.csv in run order, rewritten after every cell.
        let ordered: Vec<CellResult> = order
            .iter()
            .filter_map(|k| done.iter().find(|c| &c.cell == k).cloned())
            .collect();
        folder::write_summary(dir, &ordered)?;
    }
    if rtt.is_some_and(|r| r > 0) {
        (at.set_rtt)(0).map_err(|e| SweepError::Rtt {
            rtt_ms: 0,
            source: e,
        })?;
    }
    timing.total = started.elapsed();
    Ok(timing)
}

/// Loads pgbench tables at `scale` on the leader unless they are there already.
pub async fn ensure_scale(
    at: &SweepTarget<'_>,
    scale: i64,
    progress: &mut dyn SweepProgress,
) -> Result<(), SweepError> {
    let (_, leader) = control::leader_target(at.patroni, at.base).await?;
    let client = leader.connect().await?;
    let loaded = init::ensure_scale(&client, leader.dbname(), scale, &mut Steps(progress))
        .await
        .map_err(SweepError::Init)?;
    progress.note(&if loaded {
        format!("loaded pgbench tables at scale {scale}")
    } else {
        format!("pgbench tables at scale {scale} are in place")
    });
    Ok(())
}

/// Loading's steps as the sweep's notes.
struct Steps<'a>(&'a mut dyn SweepProgress);

impl InitProgress for Steps<'_> {
    fn step(&mut self, message: &str) {
        self.0.note(&format!("loading tables: {message}"));
    }
}

/// Runs one cell: its mode switched through Patroni and proven live, CHECKPOINT, warmup and
/// measurement with the sampler beside it. The caller writes the result.
pub async fn run_cell(
    dir: &Path,
    plan: &Plan,
    key: &CellKey,
    at: &SweepTarget<'_>,
    progress: &mut dyn SweepProgress,
    interrupt: &Interrupt,
) -> Result<CellResult, SweepError> {
    // A cell without a synchronous standby is measured, recorded and reported as such, and
    // the sweep goes on: one flapping standby must not cost the rest of a long sweep.
    if key.mode.waits_for_standby() {
        match control::require_sync_standby(at.patroni, at.base, at.budget).await {
            Ok(_) => {}
            Err(e @ ControlError::NoSyncStandby { .. }) => progress.note(&format!(
                "warning: {}: {e}; it is measured and recorded without one, and reports leave it out of the synchronous figures",
                key.id()
            )),
            Err(e) => return Err(e.into()),
        }
    }
    let change = SyncChange {
        synchronous_commit: Some(key.mode),
        ..SyncChange::default()
    };
    let live = control::apply(at.patroni, at.base, &change, at.budget).await?;
    let attached_at_start = !live.sync_standbys.is_empty();
    let (leader, target) = control::leader_target(at.patroni, at.base).await?;
    // Control-plane sessions come from the leader's pool (checked before reuse, bounded in
    // time); the measured clients each get a session of their own.
    let control = pool::session(&target).await?;
    let facts = server::facts(&control).await?;
    facts.check_clients(key.clients + 1)?;
    control
        .batch_execute("CHECKPOINT")
        .await
        .map_err(SweepError::Checkpoint)?;
    drop(control);

    let sampler_session = pool::session(&target).await?;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let sampling = tokio::spawn(sampler::run(sampler_session, stop_rx));

    let seed = plan_seed(key);
    let options = RunOptions {
        protocol: plan.protocol,
        clients: key.clients,
        threads: key.threads,
        duration: Some(plan.duration),
        warmup: plan.warmup,
        scale: key.scale,
        sync_commit: Some(key.mode),
        seed,
        rate: key.rate.map(f64::from),
        // A capacity probe counts (and at a fixed rate skips) what misses the objective.
        latency_limit_ms: plan.capacity.map(|c| c.slo_ms),
        ..RunOptions::builtin(key.workload)
    };
    let target_info = TargetInfo {
        connection: target.label(),
        patroni: Some(at.patroni.url().to_string()),
        leader: Some(leader),
        server_version: facts.version,
        synchronous_commit: live.synchronous_commit.clone(),
        synchronous_standby_names: live.synchronous_standby_names.clone(),
        sync_standby_attached: Some(attached_at_start),
    };
    let hlog_path: PathBuf = Results::cell_path(dir, key, "hlog");
    let cells_dir = dir.join(folder::CELLS_DIR);
    std::fs::create_dir_all(&cells_dir).map_err(|e| SweepError::Folder {
        path: cells_dir,
        source: e,
    })?;
    let measured = generators::measure(
        &options,
        plan.generators,
        &target,
        &target_info,
        &hlog_path,
        interrupt,
    )
    .await;
    let _ = stop_tx.send(true);
    let samples = sampling.await.unwrap_or_default();
    let measured = measured?;

    let attached_at_end = !control::observe(at.patroni, at.base)
        .await?
        .sync_standbys
        .is_empty();
    let measure_start = measured.started_at + Duration::from_secs(plan.warmup);
    let run = measured.run;
    Ok(CellResult {
        schema: folder::CELL_SCHEMA.into(),
        schema_version: folder::SCHEMA_VERSION,
        cell: key.clone(),
        sync_standby_attached: attached_at_start && attached_at_end,
        apply_seconds: live.took,
        run,
        samples: sampler::relative_to(samples, measure_start),
        cluster: Some(at.cluster.clone()),
    })
}

/// Each cell's random draws differ but are reproducible from its key. A closed-loop key hashes
/// as keys did before rates existed, so its cell draws what it drew then.
fn plan_seed(key: &CellKey) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    key.workload.hash(&mut h);
    key.scale.hash(&mut h);
    key.clients.hash(&mut h);
    key.threads.hash(&mut h);
    key.rtt_ms.hash(&mut h);
    key.mode.hash(&mut h);
    key.repetition.hash(&mut h);
    if let Some(r) = key.rate {
        r.hash(&mut h);
    }
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pg::mode::SyncCommit;
    use crate::sweep::plan::PlanFile;

    fn plan(text: &str) -> Plan {
        PlanFile::parse(text, "t").unwrap().into_plan("t").unwrap()
    }

    #[test]
    fn repetitions_are_interleaved_and_each_shuffles_every_mode_once() {
        let p = plan("repeat = 3\nclients = [4, 8]\nthreads = [1]");
        let order = cell_order(&p, 42);
        assert_eq!(order.len(), 3 * 2 * 5);
        // repetition 1 entirely before repetition 2, and so on
        let reps: Vec<u32> = order.iter().map(|k| k.repetition).collect();
        assert!(reps.windows(2).all(|w| w[0] <= w[1]), "{reps:?}");
        for chunk in order.chunks(5) {
            let mut modes: Vec<SyncCommit> = chunk.iter().map(|k| k.mode).collect();
            modes.sort();
            assert_eq!(modes, SyncCommit::ALL);
            assert!(chunk.iter().all(|k| k.group() == chunk[0].group()));
        }
        let orders: Vec<Vec<SyncCommit>> = order
            .chunks(5)
            .map(|c| c.iter().map(|k| k.mode).collect())
            .collect();
        assert!(
            orders.windows(2).any(|w| w[0] != w[1]),
            "shuffles differ between groups and repetitions"
        );
    }

    #[test]
    fn the_same_seed_gives_the_same_order_and_another_seed_another() {
        let p = plan("repeat = 4");
        assert_eq!(cell_order(&p, 7), cell_order(&p, 7));
        assert_ne!(cell_order(&p, 7), cell_order(&p, 8));
    }

    #[test]
    fn scales_are_outermost_so_tables_load_once_per_scale() {
        let p = plan("scales = [1, 10]\nrepeat = 2");
        let scales: Vec<i64> = cell_order(&p, 1).iter().map(|k| k.scale).collect();
        assert_eq!(scales.iter().filter(|&&s| s == 1).count(), 10);
        assert!(scales.windows(2).filter(|w| w[0] != w[1]).count() == 1);
    }

    #[test]
    fn rates_are_the_innermost_dimension_and_a_plan_without_them_orders_as_before() {
        let p = plan("repeat = 2\nclients = [4, 8]\nthreads = [1]\nmodes = [\"off\", \"on\"]");
        let before = cell_order(&p, 9);
        assert!(before.iter().all(|k| k.rate.is_none()));
        // The order as cell_order wrote it before rates: modes shuffled per (scale, repetition,
        // group), groups numbered from 1.
        let mut expected = Vec::new();
        for repetition in 1..=2 {
            for (i, clients) in [4, 8].into_iter().enumerate() {
                let mut modes = p.modes.clone();
                modes.shuffle(&mut shuffler(9, 10, repetition, i as u64 + 1));
                expected.extend(modes.into_iter().map(|mode| (clients, mode, repetition)));
            }
        }
        let got: Vec<_> = before
            .iter()
            .map(|k| (k.clients, k.mode, k.repetition))
            .collect();
        assert_eq!(got, expected);

        let paced =
            plan("clients = [4]\nthreads = [1]\nmodes = [\"off\", \"on\"]\nrates = [100, 300]");
        let order = cell_order(&paced, 9);
        let rates: Vec<Option<u32>> = order.iter().map(|k| k.rate).collect();
        assert_eq!(rates, [Some(100), Some(100), Some(300), Some(300)]);
        assert!(order[0].group() == order[1].group() && order[1].group() != order[2].group());
    }

    #[test]
    fn a_closed_loop_cell_draws_as_before_and_a_rate_changes_the_draws() {
        let key = CellKey {
            workload: crate::load::workload::Builtin::TpcbLike,
            scale: 10,
            clients: 8,
            threads: 2,
            rtt_ms: 0,
            mode: SyncCommit::On,
            repetition: 1,
            rate: None,
        };
        // The derived hash of the key as it was (these fields, in this order).
        #[derive(Hash)]
        struct Old(
            crate::load::workload::Builtin,
            i64,
            usize,
            usize,
            u32,
            SyncCommit,
            u32,
        );
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        Old(key.workload, 10, 8, 2, 0, SyncCommit::On, 1).hash(&mut h);
        assert_eq!(plan_seed(&key), h.finish());
        let paced = CellKey {
            rate: Some(100),
            ..key.clone()
        };
        assert_ne!(plan_seed(&paced), plan_seed(&key));
    }

    #[test]
    fn overhead_excludes_init() {
        let t = Timing {
            total: Duration::from_secs(110),
            load: Duration::from_secs(90),
            init: Duration::from_secs(10),
        };
        assert!((t.overhead_share() - 0.1).abs() < 1e-9);
    }
}
