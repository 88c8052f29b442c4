//! `capacity`: a capacity search on a Patroni cluster (or a lab started for it), run as a sweep
//! is (same folder, same switching and putting back), its probes chosen as it goes; prints what
//! it found.

use std::path::Path;

use super::Failure;
use super::sweep::{Kind, run_folder};
use crate::capacity::State;
use crate::cli::CapacityArgs;
use crate::sweep::folder::Results;
use crate::sweep::plan::CapacityFile;

pub async fn capacity(args: CapacityArgs) -> Result<u8, Failure> {
    let flags = CapacityFile {
        slo_ms: args.slo_ms,
        percentile: args.percentile,
        repeats: args.repeats,
        resolution_pct: args.resolution_pct,
    };
    if args.sweep.resume.is_some() && flags != CapacityFile::default() {
        return Err(Failure::new(
            "--resume continues a search with the objective it started with: leave out --slo-ms, --percentile, --repeats and --resolution",
        ));
    }
    run_folder(&args.sweep, Kind::Capacity, Some(flags)).await
}

/// Each mode's capacity, one line per load and mode, on stderr.
pub fn print_found(dir: &Path) {
    let Ok(results) = Results::load(dir) else {
        return;
    };
    let Some(found) = crate::capacity::result::of(&results.manifest.plan, &results.cells) else {
        return;
    };
    let o = &found.objective;
    for l in &found.loads {
        eprintln!(
            "capacity at {} <= {} ms, {}:",
            o.percentile_label(),
            o.slo_ms,
            l.load
        );
        for m in &l.modes {
            let figure = match (m.state, m.capacity_tps) {
                (State::Found | State::AtClosedLoop, Some(c)) => {
                    let interval = match m.lowest_failing {
                        Some(f) => format!("[{c}, {f})"),
                        None => format!("[{c}, -)"),
                    };
                    let change = m
                        .vs_baseline_pct
                        .map(|p| format!(", {p:+.1}% against {}", found.baseline))
                        .unwrap_or_default();
                    format!("{c} TPS {interval}{change}")
                }
                _ => "no capacity".into(),
            };
            eprintln!(
                "  {:<12} {figure} ({}; {} probes)",
                m.mode.as_str(),
                m.state,
                m.probes.len()
            );
        }
    }
}
