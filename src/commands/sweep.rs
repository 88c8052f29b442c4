//! `sweep`: a plan's cells on a Patroni cluster (or a lab started for it), written to a results
//! folder cell by cell, the cluster's configuration put back at the end.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use indicatif::{ProgressBar, ProgressStyle};

use super::outputs::{self, Output};
use super::{
    Failure, Interrupt, interrupted_failure, lab_spec, member_target, patroni_client,
    put_back_config, results_dir, save_config, start_lab, stop_lab,
};
use crate::cli::SweepArgs;
use crate::cluster::control::{self, SyncChange};
use crate::cluster::environment;
use crate::cluster::patroni::Patroni;
use crate::lab::Lab;
use crate::pg::conn::{ConnOptions, Target};
use crate::sweep::folder::{self, CellKey, CellResult, Manifest, Results};
use crate::sweep::plan::{CapacityFile, PlanFile};
use crate::sweep::{self, SweepError, SweepProgress, SweepTarget};

/// What a results folder holds: a sweep of planned cells, or a capacity search whose cells
/// (probes) are chosen as it goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Sweep,
    Capacity,
}

impl Kind {
    /// The subcommand that runs it.
    fn command(self) -> &'static str {
        match self {
            Kind::Sweep => "sweep",
            Kind::Capacity => "capacity",
        }
    }

    fn of(manifest: &Manifest) -> Kind {
        if manifest.plan.capacity.is_some() {
            Kind::Capacity
        } else {
            Kind::Sweep
        }
    }
}

pub async fn sweep(args: SweepArgs) -> Result<u8, Failure> {
    run_folder(&args, Kind::Sweep, None).await
}

/// A sweep or a capacity search (`capacity` holds the capacity flags), start to end: the
/// folder checked, the cluster (or a lab started for it), the cells, the configuration put
/// back, the report.
pub(super) async fn run_folder(
    args: &SweepArgs,
    kind: Kind,
    capacity: Option<CapacityFile>,
) -> Result<u8, Failure> {
    let (dir, manifest) = prepare(args, kind, capacity)?;
    let flag = match (&args.resume, &args.out) {
        (Some(_), _) => "--resume",
        (None, Some(_)) => "--out",
        (None, None) => "--out (default)",
    };
    outputs::check(&[Output::Folder(flag, &dir)])?;
    let interrupt = Interrupt::listen();
    let conn = ConnOptions {
        user: args.user.clone(),
        dbname: args.dbname.clone(),
        ..ConnOptions::default()
    };
    let base = member_target(&conn)?;
    if args.resume.is_some() {
        resumable_here(
            &dir,
            manifest.as_ref().expect("prepare gives a manifest"),
            args,
            kind,
        )?;
    }
    let plan = &manifest.as_ref().expect("prepare gives a manifest").plan;
    let adds_delay = plan.rtt_ms.iter().any(|&r| r > 0);
    if args.patroni.patroni.is_some() {
        if adds_delay || plan.zones.is_some() {
            return Err(Failure::new(
                "zones and rtt_ms shape the network of a lab pgsyncbench starts: run the sweep without --patroni",
            ));
        }
        let patroni = patroni_client(&args.patroni)?;
        return on_cluster(
            args, kind, &dir, manifest, &patroni, &base, None, &interrupt,
        )
        .await;
    }
    let zones = plan
        .zones
        .as_deref()
        .map(|z| {
            // The first cell's round trip from the start; each cell sets its own.
            let first = plan.rtt_ms.first().copied().unwrap_or(0).to_string();
            crate::lab::Zones::parse(z, 3, &[first], None, None)
        })
        .transpose()?;
    let mut spec = lab_spec(kind.command(), 3, 0, adds_delay && zones.is_none());
    spec.zones = zones;
    eprintln!(
        "no --patroni given: starting a 3-node lab cluster in {}",
        spec.dir.display()
    );
    let lab = start_lab(&spec, &interrupt).await?;
    let patroni = lab.patroni();
    let result = on_cluster(
        args,
        kind,
        &dir,
        manifest,
        &patroni,
        &base,
        Some(&lab),
        &interrupt,
    )
    .await;
    stop_lab(&lab, result)
}

/// Refuses a resume that would put cells of another cluster into the folder, before anything
/// connects: a folder measured on an existing cluster resumes only with --patroni (checked to be
/// that cluster once connected); one measured on a lab pgsyncbench started, only on a new lab
/// asked for with --new-lab.
fn resumable_here(
    dir: &Path,
    manifest: &Manifest,
    args: &SweepArgs,
    kind: Kind,
) -> Result<(), Failure> {
    let e = &manifest.environment;
    let command = kind.command();
    let given = args.patroni.patroni.is_some();
    let recorded = e
        .cluster
        .as_ref()
        .map(|c| format!(" ({c})"))
        .unwrap_or_default();
    let dir = dir.display();
    match (e.lab, given, args.new_lab) {
        (false, false, _) => Err(Failure::new(match &e.patroni_url {
            Some(url) => format!(
                "{dir} was measured on the cluster at {url}{recorded}; resume it there: pgsyncbench {command} --resume {dir} --patroni {url}"
            ),
            None => format!(
                "{dir} was measured on an existing cluster; resume it there with --patroni URL"
            ),
        })),
        (false, true, _) | (true, false, true) => Ok(()),
        (true, false, false) => Err(Failure::new(format!(
            "{dir} was measured on a lab cluster pgsyncbench started for it{recorded}, which is gone; to finish it on a new lab (its cells will record the new cluster, and reports will say the folder spans two): pgsyncbench {command} --resume {dir} --new-lab"
        ))),
        (true, true, _) => Err(Failure::new(format!(
            "{dir} was measured on a lab cluster pgsyncbench started for it{recorded}, not on the cluster --patroni names: resume it on a new lab with --new-lab, or start a new sweep there"
        ))),
    }
}

/// The results folder and its manifest: read back for --resume, otherwise from the plan file
/// and flags (checked before anything runs). The environment is filled in later.
fn prepare(
    args: &SweepArgs,
    kind: Kind,
    capacity: Option<CapacityFile>,
) -> Result<(PathBuf, Option<Manifest>), Failure> {
    if let Some(dir) = &args.resume {
        let existing = Results::load(dir)?;
        let held = Kind::of(&existing.manifest);
        if held != kind {
            return Err(Failure::new(format!(
                "{} holds a {}: continue it with pgsyncbench {} --resume {}",
                dir.display(),
                match held {
                    Kind::Sweep => "sweep",
                    Kind::Capacity => "capacity search",
                },
                held.command(),
                dir.display()
            )));
        }
        return Ok((dir.clone(), Some(existing.manifest)));
    }
    let (file, source) = match &args.plan {
        Some(p) => (PlanFile::load(p)?, p.display().to_string()),
        None => (PlanFile::default(), "the command line".to_string()),
    };
    // A capacity search is called so unless the plan or --name says otherwise.
    let name = match kind {
        Kind::Capacity if file.name.is_none() => args.name.clone().or(Some("capacity".into())),
        _ => args.name.clone(),
    };
    let flags = PlanFile {
        name,
        workloads: args.builtin.map(|b| vec![b]),
        modes: args.modes.clone(),
        baseline: args.baseline,
        scales: args.scales.clone(),
        clients: args.clients.clone(),
        threads: args.threads.clone(),
        rates: args.rates.clone(),
        generators: args.generators,
        rtt_ms: None,
        zones: args.zones.clone(),
        reference: None,
        duration: args.time,
        warmup: args.warmup,
        repeat: args.repeat,
        protocol: args.protocol,
        synchronous_mode: args.synchronous_mode,
        strict: args.strict,
        capacity: match kind {
            Kind::Sweep => None,
            Kind::Capacity => Some(capacity.unwrap_or_default()),
        },
    };
    let plan = file.overridden_by(flags).into_plan(&source)?;
    if kind == Kind::Sweep && plan.capacity.is_some() {
        return Err(Failure::new(format!(
            "{source} holds a capacity search (key 'capacity'): run it with pgsyncbench capacity --plan {source}"
        )));
    }
    let dir = args.out.clone().unwrap_or_else(|| results_dir(&plan.name));
    if dir.join(folder::MANIFEST_FILE).exists() {
        return Err(Failure::new(format!(
            "{} already holds results: choose another --out, or continue it with --resume {}",
            dir.display(),
            dir.display()
        )));
    }
    let seed = args.seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0)
    });
    // A capacity search's cells are chosen as it goes: its order grows probe by probe.
    let order = match kind {
        Kind::Sweep => sweep::cell_order(&plan, seed)
            .iter()
            .map(CellKey::id)
            .collect(),
        Kind::Capacity => Vec::new(),
    };
    Ok((
        dir,
        Some(Manifest {
            schema: folder::MANIFEST_SCHEMA.into(),
            schema_version: folder::SCHEMA_VERSION,
            created_at: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
            harness: environment::harness(),
            command_line: environment::redacted_command_line(std::env::args()),
            plan,
            seed,
            order,
            environment: placeholder_environment(),
        }),
    ))
}

fn placeholder_environment() -> folder::Environment {
    folder::Environment {
        postgres_version: String::new(),
        patroni_version: None,
        patroni_url: None,
        lab: false,
        members: Vec::new(),
        settings: Default::default(),
        synchronous_standby_names: String::new(),
        host_cpus: 0,
        host_memory_bytes: 0,
        host_os: String::new(),
        cluster: None,
        network: None,
    }
}

/// On resume, the cluster must be the one the folder records (its system identifier, or its
/// Patroni scope when that is all it has); a new lab (--new-lab) is new by design and said so.
fn same_cluster_or_refuse(
    dir: &Path,
    manifest: &Manifest,
    here: &folder::ClusterIdentity,
    new_lab: bool,
) -> Result<(), Failure> {
    let Some(recorded) = &manifest.environment.cluster else {
        eprintln!(
            "warning: {} records no cluster identity (written by an older pgsyncbench): cannot check that {} is the cluster it was measured on",
            dir.display(),
            here
        );
        return Ok(());
    };
    match (recorded.same_cluster(here), new_lab) {
        (Some(true), _) => Ok(()),
        (_, true) => {
            eprintln!(
                "warning: finishing {} on a new lab ({here}); its earlier cells ran on {recorded}: reports will say the folder spans two clusters",
                dir.display()
            );
            Ok(())
        }
        (Some(false), false) => Err(Failure::new(format!(
            "--patroni {} is not the cluster {} was measured on ({recorded}; this one: {here}): cells of two clusters do not compare; resume against the recorded cluster, or start a new sweep",
            here.patroni_url.as_deref().unwrap_or("?"),
            dir.display()
        ))),
        (None, false) => {
            eprintln!(
                "warning: cannot tell whether {here} is the cluster {} was measured on ({recorded})",
                dir.display()
            );
            Ok(())
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn on_cluster(
    args: &SweepArgs,
    kind: Kind,
    dir: &Path,
    manifest: Option<Manifest>,
    patroni: &Patroni,
    base: &Target,
    lab: Option<&Lab>,
    interrupt: &Interrupt,
) -> Result<u8, Failure> {
    let mut manifest = manifest.expect("prepare gives a manifest");
    let (_, leader) = control::leader_target(patroni, base).await?;
    let client = leader.connect().await?;
    let facts = crate::pg::server::facts(&client).await?;
    let most = *manifest
        .plan
        .clients
        .iter()
        .max()
        .expect("plans have clients");
    // the sampler and the control session need a slot each
    facts.check_clients(most + 2)?;
    let cluster = environment::identify(&client, Some(patroni)).await;
    if args.resume.is_some() {
        same_cluster_or_refuse(dir, &manifest, &cluster, args.new_lab)?;
    }
    if args.resume.is_none() {
        manifest.environment = environment::capture(&client, Some(patroni), lab.is_some())
            .await
            .map_err(|e| {
                Failure::new(format!(
                    "cannot read the server's settings: {}",
                    crate::pg::error::describe(&e)
                ))
            })?;
        manifest.environment.network =
            lab.and_then(|l| l.state.net.as_ref())
                .map(|n| folder::Network {
                    zones: n.zones.clone(),
                    measured: n.measured.clone(),
                });
        std::fs::create_dir_all(dir)
            .map_err(|e| Failure::new(format!("cannot create {}: {e}", dir.display())))?;
        folder::write_manifest(dir, &manifest)?;
    }
    drop(client);
    eprintln!("results: {}", dir.display());

    let saved_path = dir.join(if args.resume.is_some() {
        "patroni-config.before-resume.json"
    } else {
        "patroni-config.before.json"
    });
    let saved = save_config(patroni, base, &saved_path).await?;
    let budget = control::settle_budget(&saved.config);
    let set_rtt = |ms: u32| lab.map_or(Ok(()), |l| l.set_rtt(f64::from(ms)));
    let at = SweepTarget {
        patroni,
        base,
        budget,
        set_rtt: &set_rtt,
        cluster: &cluster,
    };
    let result = apply_and_run(dir, &mut manifest, &at, interrupt).await;
    let restored = put_back_config(&saved, patroni, base, budget).await;
    if let Err(e) = &restored {
        eprintln!("pgsyncbench: error: {}", e.message);
    }
    // The report covers whatever finished, a partial sweep included.
    if Results::load(dir).is_ok_and(|r| !r.cells.is_empty()) {
        match crate::report::write(dir) {
            Ok(written) => {
                super::report::print_warnings(&written);
                eprintln!("report: {written}");
            }
            Err(e) => eprintln!("pgsyncbench: error: the report failed: {e}"),
        }
    }
    let command = kind.command();
    let timing = match result {
        Ok(t) => t,
        Err(SweepError::Interrupted) => {
            eprintln!(
                "{command} interrupted: finished cells are kept; continue with `pgsyncbench {command} --resume {}`",
                dir.display()
            );
            return Err(interrupted_failure());
        }
        Err(e) => {
            return Err(Failure::new(format!(
                "{e} (finished cells are kept; continue with `pgsyncbench {command} --resume {}`)",
                dir.display()
            )));
        }
    };
    restored?;
    if kind == Kind::Capacity {
        super::capacity::print_found(dir);
    }
    eprintln!(
        "{} done in {:.0} s; {:.1}% of it (loading tables aside) went to anything but warmup and measured load",
        match kind {
            Kind::Sweep => "sweep",
            Kind::Capacity => "capacity search",
        },
        timing.total.as_secs_f64(),
        100.0 * timing.overhead_share()
    );
    println!("{}", dir.display());
    Ok(0)
}

/// The sweep's own synchronous settings first, then every missing cell.
async fn apply_and_run(
    dir: &Path,
    manifest: &mut Manifest,
    at: &SweepTarget<'_>,
    interrupt: &Interrupt,
) -> Result<sweep::Timing, SweepError> {
    let plan = &manifest.plan;
    let whole = SyncChange {
        synchronous_mode: plan.synchronous_mode,
        strict: plan.strict,
        ..SyncChange::default()
    };
    if !whole.is_empty() {
        let live = control::apply(at.patroni, at.base, &whole, at.budget).await?;
        eprintln!(
            "synchronous settings for the sweep live on {} after {:.1} s (synchronous standbys: {})",
            live.leader,
            live.took,
            if live.sync_standbys.is_empty() {
                "none".into()
            } else {
                live.sync_standbys.join(", ")
            }
        );
    }
    if plan.capacity.is_some() {
        // Probes are chosen as the search goes: a line each, no bar with a length.
        let mut progress = Progress::new(false);
        crate::capacity::run::run(dir, manifest, at, &mut progress, interrupt).await
    } else {
        let mut progress = Progress::new(std::io::stderr().is_terminal());
        let timing = sweep::run(dir, manifest, at, &mut progress, interrupt).await;
        progress.finish();
        timing
    }
}

/// Cell i of N with an ETA on a terminal; a line per cell otherwise.
struct Progress {
    bar: Option<ProgressBar>,
}

impl Progress {
    fn new(terminal: bool) -> Progress {
        Progress {
            bar: terminal.then(|| {
                let bar = ProgressBar::new(0);
                bar.set_style(
                    ProgressStyle::with_template(
                        "{elapsed_precise} [{bar:30}] cell {pos}/{len}, eta {eta}  {msg}",
                    )
                    .expect("the template is valid")
                    .progress_chars("=> "),
                );
                bar
            }),
        }
    }

    fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

fn describe(cell: &CellResult) -> String {
    let s = &cell.run.summary;
    let p99 = s
        .latency_ms
        .map(|l| format!("{:.2} ms", l.p99))
        .unwrap_or_else(|| "-".into());
    let warn = if cell.cell.mode.waits_for_standby() && !cell.sync_standby_attached {
        " (no synchronous standby attached!)"
    } else {
        ""
    };
    format!("{:.0} tps, p99 {p99}, {} failed{warn}", s.tps, s.failed)
}

impl SweepProgress for Progress {
    fn cell_started(&mut self, index: usize, total: usize, key: &CellKey) {
        match &self.bar {
            Some(b) => {
                b.set_length(total as u64);
                b.set_position(index as u64);
                b.set_message(key.id());
            }
            None if total == 0 => eprintln!("[probe {}] {}", index + 1, key.id()),
            None => eprintln!("[{}/{total}] {}", index + 1, key.id()),
        }
    }

    fn cell_finished(&mut self, index: usize, total: usize, cell: &CellResult) {
        let at = if total == 0 {
            format!("probe {}", index + 1)
        } else {
            format!("{}/{total}", index + 1)
        };
        let line = format!("[{at}] {}: {}", cell.cell.id(), describe(cell));
        match &self.bar {
            Some(b) => {
                b.set_position(index as u64 + 1);
                b.println(line);
            }
            None => eprintln!("{line}"),
        }
    }

    fn note(&mut self, message: &str) {
        match &self.bar {
            Some(b) => b.println(message),
            None => eprintln!("{message}"),
        }
    }
}
