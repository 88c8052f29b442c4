//! `run`: against a plain server (session-level synchronous_commit), a Patroni cluster (the
//! mode switched cluster-wide, verified, and put back), or, with no target, a lab cluster
//! started for the run and stopped after it.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::outputs::{self, Output};
use super::{
    Failure, Interrupt, interrupted_failure, lab_spec, member_target, patroni_client,
    put_back_config, save_config, start_lab, stop_lab, with_put_back,
};
use crate::cli::{LAB_SCALE, RunArgs, conn_with_positional};
use crate::cluster::control::{self, ControlError, SyncChange};
use crate::cluster::patroni::Patroni;
use crate::lab::Lab;
use crate::load::engine::{self, EngineConfig, Observer, StopAfter};
use crate::load::hlog::HlogWriter;
use crate::load::init::{self, Silent};
use crate::load::progress::{Bar, ProgressLines};
use crate::load::run_result::{RunOptions, RunResult, ScriptInfo, TargetInfo, write_json_file};
use crate::load::script::{ScriptSet, Variables, parse_script_options};
use crate::load::summary;
use crate::load::workload::Scripts;
use crate::pg::conn::{ConnOptions, ProcessEnv, Target};
use crate::pg::mode::SyncCommit;
use crate::pg::server::{self, ProbeError};

/// Default measured duration: pgbench's default of 10 transactions per client measures nothing.
const DEFAULT_SECONDS: u64 = 10;
/// Exit code when clients lost their connection or transactions failed (pgbench's "run was
/// aborted": its clients stop at an error that ours count and go past).
pub const EXIT_INCOMPLETE: u8 = 2;

pub async fn run(args: RunArgs) -> Result<u8, Failure> {
    if args.threads > args.clients {
        return Err(Failure::new(format!(
            "number of threads (-j {}) must not exceed number of clients (-c {})",
            args.threads, args.clients
        )));
    }
    if args.max_tries == 0 && args.transactions.is_some() && args.latency_limit.is_none() {
        return Err(Failure::new(
            "an unlimited number of tries (--max-tries 0) needs --latency-limit or a duration (-T)",
        ));
    }
    let scripts = load_scripts(&args)?;
    let args = &Job {
        args: &args,
        scripts,
    };
    let conn = conn_with_positional(&args.conn, &args.dbname_arg);
    check_outputs(args, &conn)?;
    let interrupt = Interrupt::listen();
    if args.patroni.patroni.is_some() {
        let patroni = patroni_client(&args.patroni)?;
        let base = member_target(&conn)?;
        on_patroni(args, &patroni, &base, &interrupt).await
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
        measure(args, where_, &interrupt).await
    } else {
        on_lab(args, &conn, &interrupt).await
    }
}

/// The run's arguments and, when it runs scripts through the interpreter, the scripts, loaded
/// and checked before anything connects.
struct Job<'a> {
    args: &'a RunArgs,
    scripts: Option<(ScriptSet, Variables)>,
}

impl std::ops::Deref for Job<'_> {
    type Target = RunArgs;
    fn deref(&self) -> &RunArgs {
        self.args
    }
}

/// Loads the -f/-b scripts and -D variables unless a single built-in runs on the fast path;
/// a script error names its file, line and column.
fn load_scripts(args: &RunArgs) -> Result<Option<(ScriptSet, Variables)>, Failure> {
    if args.builtin().is_some() {
        return Ok(None);
    }
    let first_line = |e: &dyn std::fmt::Display| {
        let text = e.to_string();
        match text.split_once('\n') {
            Some((first, _)) if text.contains("error found here") => first.to_string(),
            _ => text,
        }
    };
    let (set, defines) = parse_script_options(&args.scripts, &args.defines)
        .map_err(|e| Failure::new(first_line(&e)))?;
    set.check_protocol(args.protocol.into())
        .map_err(|e| Failure::new(first_line(&e)))?;
    Ok(Some((set, defines)))
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
/// and puts the configuration back whatever happened. A remote mode without a synchronous
/// standby is refused before anything changes.
async fn on_patroni(
    args: &Job<'_>,
    patroni: &Patroni,
    base: &Target,
    interrupt: &Interrupt,
) -> Result<u8, Failure> {
    let budget = control::settle_budget(&patroni.config().await?);
    let (_, leader) = control::leader_target(patroni, base).await?;
    preflight(args, &leader).await?;
    let mut warned = false;
    if let Some(mode) = args.sync_commit.filter(|m| m.waits_for_standby()) {
        let found = tokio::select! {
            r = control::require_sync_standby(patroni, base, budget) => r,
            _ = interrupt.wait() => return Err(interrupted_failure()),
        };
        warned = found.is_err();
        standby_or_refuse(found.map(|_| ()), &mode.to_string(), args, patroni)?;
    }
    let saved = match args.sync_commit {
        Some(_) => {
            let path = out_dir(args).join("patroni-config.before.json");
            Some(save_config(patroni, base, &path).await?)
        }
        None => None,
    };
    let result = switch_and_measure(args, patroni, base, budget, warned, interrupt).await;
    let Some(saved) = saved else {
        return result;
    };
    let put_back = put_back_config(&saved, patroni, base, budget).await;
    with_put_back(result, put_back)
}

/// A missing synchronous standby refuses the run, or, with --allow-no-sync-standby, is said
/// and measured (the result records it).
fn standby_or_refuse(
    found: Result<(), ControlError>,
    mode: &str,
    args: &Job<'_>,
    patroni: &Patroni,
) -> Result<(), Failure> {
    match found {
        Ok(()) => Ok(()),
        Err(e @ ControlError::NoSyncStandby { .. }) if args.allow_no_sync_standby => {
            eprintln!(
                "warning: {e}; measuring synchronous_commit={mode} anyway (--allow-no-sync-standby): commits will not wait for a standby, and the result says so"
            );
            Ok(())
        }
        Err(e @ ControlError::NoSyncStandby { .. }) => Err(Failure::new(format!(
            "synchronous_commit={mode} would not measure synchronous replication: {e}; check `pgsyncbench cluster status --patroni {}`, or pass --allow-no-sync-standby to measure anyway",
            patroni.url()
        ))),
        Err(e) => Err(e.into()),
    }
}

async fn switch_and_measure(
    args: &Job<'_>,
    patroni: &Patroni,
    base: &Target,
    budget: Duration,
    warned: bool,
    interrupt: &Interrupt,
) -> Result<u8, Failure> {
    if let Some(mode) = args.sync_commit {
        let change = SyncChange {
            synchronous_commit: Some(mode),
            ..SyncChange::default()
        };
        let live = tokio::select! {
            r = control::apply(patroni, base, &change, budget) => r?,
            _ = interrupt.wait() => return Err(interrupted_failure()),
        };
        eprintln!(
            "synchronous_commit={mode} live on leader {} after {:.1} s",
            live.leader, live.took
        );
    }
    // The standby may have gone while the mode was switched; and without --sync-commit the
    // cluster's own mode is measured.
    let live = control::observe(patroni, base).await?;
    if SyncCommit::from_server(&live.synchronous_commit).is_some_and(|m| m.waits_for_standby())
        && live.sync_standbys.is_empty()
        && !warned
    {
        let missing = ControlError::NoSyncStandby {
            leader: live.leader.clone(),
            why: "pg_stat_replication shows no standby in sync or quorum state".into(),
        };
        standby_or_refuse(Err(missing), &live.synchronous_commit, args, patroni)?;
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
async fn on_lab(args: &Job<'_>, conn: &ConnOptions, interrupt: &Interrupt) -> Result<u8, Failure> {
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
    args: &Job<'_>,
    conn: &ConnOptions,
    lab: &Lab,
    interrupt: &Interrupt,
) -> Result<u8, Failure> {
    let patroni = lab.patroni();
    let base = member_target(conn)?;
    let (_, leader) = control::leader_target(&patroni, &base).await?;
    let scale = args.scale.unwrap_or(LAB_SCALE);
    eprintln!("lab: loading scale {scale} on the leader");
    let client = leader.connect().await?;
    let mut silent = Silent;
    tokio::select! {
        r = init::ensure_scale(&client, leader.dbname(), scale, &mut silent) => { r?; }
        _ = interrupt.wait() => return Err(interrupted_failure()),
    }
    drop(client);
    on_patroni(args, &patroni, &base, interrupt).await
}

/// Checks --json, --hlog and --out (or the folder the saved Patroni configuration goes to)
/// before anything connects or a lab starts.
fn check_outputs(args: &Job<'_>, conn: &ConnOptions) -> Result<(), Failure> {
    let mut outputs = Vec::new();
    if let Some(p) = &args.json {
        outputs.push(Output::File("--json", p));
    }
    if let Some(p) = &args.hlog {
        outputs.push(Output::File("--hlog", p));
    }
    // Only a Patroni cluster (or a lab) gets its configuration saved, and only when it changes.
    let on_plain_server = args.patroni.patroni.is_none() && conn.names_a_server(&ProcessEnv);
    let default_out = out_dir(args);
    if let Some(p) = &args.out {
        outputs.push(Output::Folder("--out", p));
    } else if args.sync_commit.is_some() && !on_plain_server && args.json.is_none() {
        outputs.push(Output::Folder("--out (default)", &default_out));
    }
    outputs::check(&outputs)
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

/// What the server must offer before any load, and before a cluster is changed for it:
/// writes where a built-in writes, pgbench's tables where a built-in runs (its scale, as
/// pgbench reads it; a script's `scale` is -s or 1 otherwise), a connection slot per client.
async fn preflight(
    args: &Job<'_>,
    target: &Target,
) -> Result<(tokio_postgres::Client, server::ServerFacts, i64), Failure> {
    let control = target.connect().await?;
    let facts = server::facts(&control).await?;
    if let Some(builtin) = args.builtin()
        && facts.in_recovery
        && builtin.writes()
    {
        return Err(ProbeError::ReadOnly {
            workload: builtin.name(),
        }
        .into());
    }
    let scale = if args.uses_builtins() {
        server::pgbench_tables(&control, target.dbname())
            .await?
            .scale
    } else {
        args.scale.unwrap_or(1)
    };
    facts.check_clients(args.clients as usize)?;
    Ok((control, facts, scale))
}

async fn measure(args: &Job<'_>, at: Where, interrupt: &Interrupt) -> Result<u8, Failure> {
    let clients = args.clients as usize;
    let target = &at.target;

    let (control, facts, scale) = preflight(args, target).await?;
    for sql in &at.session_setup {
        control.batch_execute(sql).await.map_err(|e| {
            Failure::new(format!("cannot {sql}: {}", crate::pg::error::describe(&e)))
        })?;
    }
    let synchronous_commit = control
        .query_one("SHOW synchronous_commit", &[])
        .await
        .map(|row| row.get::<_, String>(0))
        .map_err(|e| Failure::new(crate::pg::error::describe(&e)))?;
    drop(control);

    let scripts = args.scripts.as_ref().map(|(set, defines)| {
        Arc::new(Scripts {
            set: set.clone(),
            defines: defines.clone(),
            scale,
        })
    });
    let options = RunOptions {
        builtin: args.builtin(),
        scripts: scripts
            .as_ref()
            .map(|s| script_infos(&s.set))
            .unwrap_or_default(),
        protocol: args.protocol,
        clients,
        threads: args.threads as usize,
        duration: match args.transactions {
            Some(_) => None,
            None => Some(args.time.unwrap_or(DEFAULT_SECONDS)),
        },
        transactions_per_client: args.transactions,
        warmup: args.warmup,
        scale,
        sync_commit: args.sync_commit,
        seed: args.seed.unwrap_or_else(clock_seed),
        rate: args.rate,
        latency_limit_ms: args.latency_limit,
        max_tries: args.max_tries,
        generator: args.generator.clone(),
        merged_from: Vec::new(),
    };
    let config = EngineConfig {
        start_at: args.start_at,
        session_setup: at.session_setup.clone(),
        expect_synchronous_commit: args
            .sync_commit
            .or_else(|| SyncCommit::from_server(&synchronous_commit)),
        ..options.engine_config(scripts)
    };

    let mut hlog = match &args.hlog {
        Some(path) => Some(HlogWriter::create(path)?),
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
    let outcome = match outcome {
        Ok(o) => o,
        Err(e) => {
            // A run that failed before its first measured second leaves no empty log behind.
            if let Some(h) = hlog {
                h.discard_if_empty();
            }
            return Err(e.into());
        }
    };

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
    } else if result.summary.clients_lost > 0
        || result.summary.clients_aborted > 0
        || result.summary.failed > 0
    {
        EXIT_INCOMPLETE
    } else {
        0
    })
}

/// The scripts as a result records them.
fn script_infos(set: &ScriptSet) -> Vec<ScriptInfo> {
    set.scripts()
        .iter()
        .map(|w| ScriptInfo {
            name: w.script.name().to_string(),
            weight: w.weight,
        })
        .collect()
}

fn clock_seed() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}
