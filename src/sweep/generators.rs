//! A cell's load, from the sweep's own engine or from several generators (plan key
//! `generators`): each generator is an engine of its own
//! with its share of the clients, threads and offered rate and a seed of its own, connected
//! first and started at one agreed time (as `run --start-at` does), and their results are
//! merged exactly as `pgsyncbench merge` merges generators on separate machines
//! (src/load/merge.rs). Each generator keeps its own interval log.
//!
//! Owns the split of a cell's options and the join of the generators' results. The cell around
//! it (mode, samplers, the cell's record) belongs to src/sweep/runner.rs.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::interrupt::Interrupt;
use crate::load::engine::{self, EngineConfig, Observer, Outcome};
use crate::load::hlog::HlogWriter;
use crate::load::merge::{self, Input};
use crate::load::run_result::{RunOptions, RunResult, TargetInfo};
use crate::pg::conn::Target;
use crate::sweep::runner::SweepError;

/// A cell's result, and when its load started.
pub struct Measured {
    pub run: RunResult,
    pub started_at: SystemTime,
}

/// `total` dealt to `n` parts as evenly as possible, the first parts taking the remainder.
pub fn shares(total: usize, n: usize) -> Vec<usize> {
    (0..n)
        .map(|k| total / n + usize::from(k < total % n))
        .collect()
}

/// Generator names, `gen-1` to `gen-N`.
pub fn name(k: usize) -> String {
    format!("gen-{}", k + 1)
}

/// Each generator's options: its share of the clients and threads (at least one thread, at
/// most one per client), the rate in proportion to its clients (every client offers the same
/// load), and a seed of its own derived from the cell's.
pub fn split(options: &RunOptions, n: usize) -> Vec<RunOptions> {
    let clients = shares(options.clients, n);
    let threads = shares(options.threads, n);
    (0..n)
        .map(|k| RunOptions {
            clients: clients[k],
            threads: threads[k].clamp(1, clients[k]),
            rate: options
                .rate
                .map(|r| r * clients[k] as f64 / options.clients as f64),
            seed: options
                .seed
                .wrapping_add((k as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15)),
            generator: Some(name(k)),
            ..options.clone()
        })
        .collect()
}

/// The interval log of generator `k` beside the cell's files: `<cell>.gen-K.hlog`.
pub fn hlog_path(cell_hlog: &Path, k: usize) -> PathBuf {
    cell_hlog.with_extension(format!("{}.hlog", name(k)))
}

/// The cell's load: the sweep's own engine with its interval log at `cell_hlog` when `n` is 1,
/// otherwise `n` generators started together and merged.
pub async fn measure(
    options: &RunOptions,
    n: usize,
    target: &Target,
    target_info: &TargetInfo,
    cell_hlog: &Path,
    interrupt: &Interrupt,
) -> Result<Measured, SweepError> {
    if n == 1 {
        let outcome = run_one(options.engine_config(None), target, cell_hlog, interrupt).await?;
        return Ok(Measured {
            run: RunResult::new(options.clone(), target_info.clone(), &outcome),
            started_at: outcome.started_at,
        });
    }
    let parts = split(options, n);
    // Time to connect every client first (a generator that is late starts at once, and merge
    // aligns its seconds on the wall clock).
    let start_at = SystemTime::now() + Duration::from_millis(1_000 + 50 * options.clients as u64);
    let runs = parts.iter().enumerate().map(|(k, o)| {
        let mut config = o.engine_config(None);
        config.start_at = Some(start_at);
        run_one(config, target, hlog_path(cell_hlog, k), interrupt)
    });
    let outcomes = futures_util::future::join_all(runs).await;
    let mut inputs = Vec::new();
    for (o, outcome) in parts.into_iter().zip(outcomes) {
        let outcome = outcome?;
        inputs.push(Input {
            name: o.generator.clone().unwrap_or_default(),
            result: RunResult::new(o, target_info.clone(), &outcome),
        });
    }
    Ok(Measured {
        run: merge::merge(&inputs)?,
        started_at: start_at,
    })
}

/// One engine's run, its interval log written to `hlog`.
async fn run_one(
    config: EngineConfig,
    target: &Target,
    hlog: impl AsRef<Path>,
    interrupt: &Interrupt,
) -> Result<Outcome, SweepError> {
    let mut writer = HlogWriter::create(hlog.as_ref())?;
    let outcome = {
        let mut observers: Vec<&mut dyn Observer> = vec![&mut writer];
        engine::run(&config, target, &mut observers, interrupt.wait()).await
    }?;
    writer.finish()?;
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::workload::Builtin;

    #[test]
    fn shares_add_up_and_differ_by_at_most_one() {
        assert_eq!(shares(8, 3), [3, 3, 2]);
        assert_eq!(shares(2, 2), [1, 1]);
        assert_eq!(shares(1, 2), [1, 0]);
    }

    #[test]
    fn each_generator_takes_its_share_and_a_seed_of_its_own() {
        let options = RunOptions {
            clients: 5,
            threads: 1,
            rate: Some(1000.0),
            seed: 7,
            ..RunOptions::builtin(Builtin::TpcbLike)
        };
        let parts = split(&options, 2);
        assert_eq!(parts.iter().map(|p| p.clients).collect::<Vec<_>>(), [3, 2]);
        assert_eq!(parts.iter().map(|p| p.threads).collect::<Vec<_>>(), [1, 1]);
        assert_eq!(parts[0].rate, Some(600.0));
        assert_eq!(parts[1].rate, Some(400.0));
        assert_ne!(parts[0].seed, parts[1].seed);
        assert_ne!(parts[0].seed, options.seed);
        assert_eq!(parts[1].generator.as_deref(), Some("gen-2"));
        assert_eq!(
            hlog_path(Path::new("cells/x_r1.hlog"), 1),
            Path::new("cells/x_r1.gen-2.hlog")
        );
    }
}
