use std::io::IsTerminal;
use std::time::Duration;

use super::{Failure, interrupted};
use crate::cli::{RunArgs, conn_with_positional};
use crate::conn::{ProcessEnv, Target};
use crate::engine::{self, EngineConfig, Observer, StopAfter};
use crate::hlog::HlogWriter;
use crate::progress::{Bar, ProgressLines};
use crate::result::{RunOptions, RunResult, TargetInfo, write_json_file};
use crate::server::{self, ProbeError};
use crate::summary;

/// Default measured duration: pgbench's default of 10 transactions per client measures nothing.
const DEFAULT_SECONDS: u64 = 10;

/// Exit code when clients lost their connection (pgbench's "run was aborted").
pub const EXIT_INCOMPLETE: u8 = 2;

pub async fn run(args: RunArgs) -> Result<u8, Failure> {
    if args.threads > args.clients {
        return Err(Failure::new(format!(
            "number of threads (-j {}) must not exceed number of clients (-c {})",
            args.threads, args.clients
        )));
    }
    let target = Target::resolve(
        &conn_with_positional(&args.conn, &args.dbname_arg),
        &ProcessEnv,
    )?;
    let builtin = args.builtin();
    let clients = args.clients as usize;

    let control = target.connect().await?;
    let facts = server::facts(&control).await?;
    if facts.in_recovery && builtin.writes() {
        return Err(ProbeError::ReadOnly {
            workload: builtin.name(),
        }
        .into());
    }
    let tables = server::pgbench_tables(&control, target.dbname()).await?;
    facts.check_clients(clients)?;
    let mut session_setup = Vec::new();
    let mut synchronous_commit = facts.synchronous_commit.clone();
    if let Some(mode) = args.sync_commit {
        let set = format!("SET synchronous_commit = '{mode}'");
        control
            .batch_execute(&set)
            .await
            .map_err(|e| Failure::new(format!("cannot {set}: {}", crate::pgerror::describe(&e))))?;
        session_setup.push(set);
        synchronous_commit = mode.to_string();
    }
    drop(control);

    let options = RunOptions {
        builtin,
        protocol: args.protocol,
        clients,
        threads: args.threads as usize,
        duration: match args.transactions {
            Some(_) => None,
            None => Some(args.time.unwrap_or(DEFAULT_SECONDS)),
        },
        transactions_per_client: args.transactions,
        warmup: args.warmup,
        scale: tables.scale,
        sync_commit: args.sync_commit,
        seed: args.seed.unwrap_or_else(clock_seed),
    };
    let config = EngineConfig {
        builtin,
        protocol: args.protocol,
        clients,
        threads: options.threads,
        stop: options.stop(),
        warmup_secs: args.warmup,
        scale: tables.scale,
        session_setup,
        seed: options.seed,
        drain_timeout: Duration::from_secs(10),
    };

    let mut hlog = match &args.hlog {
        Some(path) => Some(HlogWriter::create(path).map_err(Failure::new)?),
        None => None,
    };
    let mut lines = args
        .progress
        .map(|p| ProgressLines::new(Duration::from_secs(p), Box::new(std::io::stderr())));
    let mut bar = (lines.is_none() && std::io::stderr().is_terminal()).then(|| match config.stop {
        StopAfter::Duration(d) => Bar::new(args.warmup + d.as_secs(), false),
        StopAfter::Transactions(t) => Bar::new(t * clients as u64, true),
    });
    let mut observers: Vec<&mut dyn Observer> = Vec::new();
    if let Some(h) = hlog.as_mut() {
        observers.push(h);
    }
    if let Some(l) = lines.as_mut() {
        observers.push(l);
    }
    if let Some(b) = bar.as_mut() {
        observers.push(b);
    }

    let outcome = engine::run(&config, &target, &mut observers, interrupted()).await;
    drop(observers);
    if let Some(b) = &bar {
        b.finish();
    }
    let outcome = outcome?;

    let result = RunResult::new(
        options,
        TargetInfo {
            connection: target.label(),
            server_version: facts.version,
            synchronous_commit,
            synchronous_standby_names: facts.synchronous_standby_names,
            sync_standby_attached: facts.sync_standby_attached,
        },
        &outcome,
    );
    print!("{}", summary::render(&result));
    if let Some(path) = &args.json {
        write_json_file(path, &result)
            .map_err(|e| Failure::new(format!("cannot write {}: {e}", path.display())))?;
    }
    if let Some(h) = hlog {
        h.finish().map_err(Failure::new)?;
    }
    Ok(if result.summary.clients_lost > 0 {
        EXIT_INCOMPLETE
    } else {
        0
    })
}

fn clock_seed() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}
