//! `run`: against a plain server (session-level synchronous_commit), a Patroni cluster (the
//! mode switched cluster-wide, verified, and put back), or, with no target, a lab cluster
//! started for the run and stopped after it.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

use super::{
    Failure, Interrupt, interrupted_failure, lab_spec, member_target, patroni_client, start_lab,
    stop_lab,
};
use crate::cli::{RunArgs, conn_with_positional};
use crate::conn::{ConnOptions, ProcessEnv, Target};
use crate::control::{self, SavedConfig, SyncChange};
use crate::engine::{self, EngineConfig, Observer, StopAfter};
use crate::hlog::HlogWriter;
use crate::init::{InitOptions, InitProgress, initialize};
use crate::lab::Lab;
use crate::mode::SyncCommit;
use crate::patroni::Patroni;
use crate::progress::{Bar, ProgressLines};
use crate::result::{RunOptions, RunResult, TargetInfo, write_json_file};
use crate::server::{self, ProbeError};
use crate::summary;

/// Default measured duration: pgbench's default of 10 transactions per client measures nothing.
const DEFAULT_SECONDS: u64 = 10;
/// Exit code when clients lost their connection or transactions failed (pgbench's "run was
/// aborted": its clients stop at an error that ours count and go past).
pub const EXIT_INCOMPLETE: u8 = 2;
const APPLY_TIMEOUT: Duration = Duration::from_secs(60);

pub async fn run(args: RunArgs) -> Result<u8, Failure> {
    if args.threads > args.clients {
        return Err(Failure::new(format!(
            "number of threads (-j {}) must not exceed number of clients (-c {})",
            args.threads, args.clients
        )));
    }
    let interrupt = Interrupt::listen();
    let conn = conn_with_positional(&args.conn, &args.dbname_arg);
    if args.patroni.patroni.is_some() {
        let patroni = patroni_client(&args.patroni)?;
        let base = member_target(&conn)?;
        on_patroni(&args, &patroni, &base, &interrupt).await
    } else if conn.names_a_server(&ProcessEnv) {
        let target = Target::resolve(&conn, &ProcessEnv)?;
        let setup = args
            .sync_commit
            .map(|m| vec![format!("SET synchronous_commit = '{m}'")])
            .unwrap_or_default();
        let where_ = Where {
            target,
            session_setup: setup,
            patroni: None,
            leader: None,
        };
        measure(&args, where_, &interrupt).await
    } else {
        on_lab(&args, &conn, &interrupt).await
    }
}

/// Where the load goes and how the mode is set there.
struct Where {
    target: Target,
    /// Statements each session runs first (session-level synchronous_commit on a plain server).
    session_setup: Vec<String>,
    patroni: Option<String>,
    leader: Option<String>,
}

/// Switches the mode through Patroni (saving the configuration first), measures on the leader,
/// and puts the configuration back whatever happened.
async fn on_patroni(
    args: &RunArgs,
    patroni: &Patroni,
    base: &Target,
    interrupt: &Interrupt,
) -> Result<u8, Failure> {
    let saved = match args.sync_commit {
        Some(_) => {
            let path = out_dir(args).join("patroni-config.before.json");
            let saved = SavedConfig::save(patroni, base, &path).await?;
            eprintln!(
                "saved Patroni's dynamic configuration to {} (should this run be killed: pgsyncbench cluster restore --patroni {} --from {})",
                path.display(),
                patroni.url(),
                path.display()
            );
            Some(saved)
        }
        None => None,
    };
    let result = switch_and_measure(args, patroni, base, interrupt).await;
    let Some(saved) = saved else {
        return result;
    };
    match saved.restore(patroni, base, APPLY_TIMEOUT).await {
        Ok(live) => {
            eprintln!(
                "restored Patroni's configuration: synchronous_commit={} live on {} again",
                live.synchronous_commit, live.leader
            );
            result
        }
        Err(e) => {
            let message = format!(
                "could not put Patroni's configuration back: {e}; run `pgsyncbench cluster restore --patroni {} --from {}`",
                patroni.url(),
                saved.path.display()
            );
            match result {
                Ok(_) => Err(Failure::new(message)),
                Err(first) => Err(Failure::new(format!("{}; also {message}", first.message))),
            }
        }
    }
}

async fn switch_and_measure(
    args: &RunArgs,
    patroni: &Patroni,
    base: &Target,
    interrupt: &Interrupt,
) -> Result<u8, Failure> {
    if let Some(mode) = args.sync_commit {
        let change = SyncChange {
            synchronous_commit: Some(mode),
            ..SyncChange::default()
        };
        let live = tokio::select! {
            r = control::apply(patroni, base, &change, APPLY_TIMEOUT) => r?,
            _ = interrupt.wait() => return Err(interrupted_failure()),
        };
        eprintln!(
            "synchronous_commit={mode} live on leader {} after {:.1} s",
            live.leader, live.took
        );
    }
    let live = control::observe(patroni, base).await?;
    let remote =
        SyncCommit::from_server(&live.synchronous_commit).is_some_and(|m| m.waits_for_standby());
    if remote && live.sync_standbys.is_empty() && !args.allow_no_sync_standby {
        return Err(Failure::new(format!(
            "synchronous_commit is {} but no synchronous standby is attached to leader {}, so commits would not wait for one: check `pgsyncbench cluster status --patroni {}`, or pass --allow-no-sync-standby to measure anyway",
            live.synchronous_commit,
            live.leader,
            patroni.url()
        )));
    }
    let (leader, target) = control::leader_target(patroni, base).await?;
    let where_ = Where {
        target,
        session_setup: Vec::new(),
        patroni: Some(patroni.url().to_string()),
        leader: Some(leader),
    };
    measure(args, where_, interrupt).await
}

/// Starts a lab cluster for this run, loads it, measures it through Patroni, and stops it.
async fn on_lab(args: &RunArgs, conn: &ConnOptions, interrupt: &Interrupt) -> Result<u8, Failure> {
    let spec = lab_spec("run", 3, 0, false);
    eprintln!(
        "no target given (-h, a connection string, PGHOST or --patroni): starting a 3-node lab cluster in {}",
        spec.dir.display()
    );
    let lab = start_lab(&spec, interrupt).await?;
    let result = measure_lab(args, conn, &lab, interrupt).await;
    stop_lab(&lab, result)
}

async fn measure_lab(
    args: &RunArgs,
    conn: &ConnOptions,
    lab: &Lab,
    interrupt: &Interrupt,
) -> Result<u8, Failure> {
    let patroni = lab.patroni();
    let base = member_target(conn)?;
    let (_, leader) = control::leader_target(&patroni, &base).await?;
    eprintln!("lab: loading scale {} on the leader", args.lab_scale);
    let client = leader.connect().await?;
    let opts = InitOptions {
        scale: args.lab_scale,
        fillfactor: 100,
        unlogged: false,
        partitions: 0,
    };
    let mut quiet = Quiet;
    tokio::select! {
        r = initialize(&client, &opts, &mut quiet) => { r?; }
        _ = interrupt.wait() => return Err(interrupted_failure()),
    }
    drop(client);
    on_patroni(args, &patroni, &base, interrupt).await
}

struct Quiet;

impl InitProgress for Quiet {
    fn step(&mut self, _: &str) {}
    fn rows(&mut self, _: u64, _: u64) {}
}

/// Where a run keeps what it saves besides its JSON: --out, the JSON's folder, or a new
/// bench-results/<time>-run folder.
fn out_dir(args: &RunArgs) -> PathBuf {
    if let Some(dir) = &args.out {
        return dir.clone();
    }
    if let Some(parent) = args.json.as_deref().and_then(|j| j.parent()) {
        return if parent.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            parent.to_path_buf()
        };
    }
    super::results_dir("run")
}

async fn measure(args: &RunArgs, at: Where, interrupt: &Interrupt) -> Result<u8, Failure> {
    let builtin = args.builtin();
    let clients = args.clients as usize;
    let target = &at.target;

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
    for sql in &at.session_setup {
        control
            .batch_execute(sql)
            .await
            .map_err(|e| Failure::new(format!("cannot {sql}: {}", crate::pgerror::describe(&e))))?;
    }
    let synchronous_commit = control
        .query_one("SHOW synchronous_commit", &[])
        .await
        .map(|row| row.get::<_, String>(0))
        .map_err(|e| Failure::new(crate::pgerror::describe(&e)))?;
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
        session_setup: at.session_setup.clone(),
        expect_synchronous_commit: args
            .sync_commit
            .or_else(|| SyncCommit::from_server(&synchronous_commit)),
        seed: options.seed,
        drain_timeout: Duration::from_secs(10),
        audit_run_id: None,
        reconnect: false,
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

    let outcome = engine::run(&config, target, &mut observers, interrupt.wait()).await;
    drop(observers);
    if let Some(b) = &bar {
        b.finish();
    }
    let outcome = outcome?;

    let result = RunResult::new(
        options,
        TargetInfo {
            connection: target.label(),
            patroni: at.patroni,
            leader: at.leader,
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
    Ok(if result.summary.interrupted {
        interrupted_failure().code
    } else if result.summary.clients_lost > 0 || result.summary.failed > 0 {
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
