//! One function per subcommand: options in, work done through the library, output out.

pub mod capacity;
pub mod cluster;
pub mod compare;
pub mod init;
pub mod lab;
pub mod merge;
pub mod outputs;
pub mod report;
pub mod run;
pub mod scenario;
pub mod sweep;

/// A command's failure: a one-line message and the exit code it maps to.
#[derive(Debug)]
pub struct Failure {
    pub message: String,
    pub code: u8,
}

impl Failure {
    pub fn new(message: impl std::fmt::Display) -> Failure {
        Failure {
            message: crate::text::one_line(&message.to_string()),
            code: 1,
        }
    }
}

impl<E: std::error::Error> From<E> for Failure {
    fn from(e: E) -> Failure {
        Failure::new(e)
    }
}

pub use crate::interrupt::Interrupt;

/// The error of a command stopped by Ctrl-C or SIGTERM before its work was done.
pub fn interrupted_failure() -> Failure {
    Failure {
        message: "interrupted".into(),
        code: 130,
    }
}

/// Sessions on a Patroni cluster's members: user, password and database from the flags and
/// PG* variables as libpq takes them, with user `postgres` when none is named. Hosts come from
/// Patroni, so -h and -p do not apply.
pub fn member_target(
    conn: &crate::pg::conn::ConnOptions,
) -> Result<crate::pg::conn::Target, Failure> {
    use crate::pg::conn::{Env, ProcessEnv, Target};
    if conn.host.is_some() || conn.port.is_some() {
        return Err(Failure::new(
            "-h and -p name a server, --patroni finds the leader: give one or the other",
        ));
    }
    let mut conn = conn.clone();
    if conn.user.is_none() && ProcessEnv.var("PGUSER").is_none() {
        conn.user = Some("postgres".into());
    }
    Ok(Target::resolve(&conn, &ProcessEnv)?)
}

pub fn patroni_client(
    args: &crate::cli::PatroniArgs,
) -> Result<crate::cluster::patroni::Patroni, Failure> {
    let url = args
        .patroni
        .as_deref()
        .ok_or_else(|| Failure::new("--patroni URL is required (the REST API of any member)"))?;
    Ok(crate::cluster::patroni::Patroni::new(
        url,
        args.patroni_cacert.as_deref(),
        crate::cluster::patroni::DEFAULT_TIMEOUT,
    )?)
}

/// Saves the cluster's dynamic configuration to `path` before a command changes it, and says
/// how to put it back by hand should the command be killed.
pub async fn save_config(
    patroni: &crate::cluster::patroni::Patroni,
    base: &crate::pg::conn::Target,
    path: &std::path::Path,
) -> Result<crate::cluster::control::SavedConfig, Failure> {
    let saved = crate::cluster::control::SavedConfig::save(patroni, base, path).await?;
    eprintln!(
        "saved Patroni's dynamic configuration to {} (should this be killed: {})",
        path.display(),
        saved.restore_command(patroni)
    );
    Ok(saved)
}

/// Puts the saved configuration back and says so, waiting up to `budget` for it to be live; a
/// failure names the command to run.
pub async fn put_back_config(
    saved: &crate::cluster::control::SavedConfig,
    patroni: &crate::cluster::patroni::Patroni,
    base: &crate::pg::conn::Target,
    budget: std::time::Duration,
) -> Result<(), Failure> {
    let live = saved.put_back(patroni, base, budget).await?;
    eprintln!(
        "restored Patroni's configuration: synchronous_commit={} live on {} again",
        live.synchronous_commit, live.leader
    );
    Ok(())
}

/// A command's outcome with the putting back of the configuration after it: the command's
/// own failure first, a failed restore added to it.
pub fn with_put_back<T>(
    result: Result<T, Failure>,
    put_back: Result<(), Failure>,
) -> Result<T, Failure> {
    match (result, put_back) {
        (Ok(t), Ok(())) => Ok(t),
        (Ok(_), Err(e)) => Err(e),
        (Err(first), Ok(())) => Err(first),
        (Err(first), Err(e)) => Err(Failure {
            message: format!("{}; also {}", first.message, e.message),
            ..first
        }),
    }
}

/// A lab for one command, in a temporary folder named after the command and this process.
pub fn lab_spec(
    command: &str,
    nodes: usize,
    read_replicas: usize,
    relays: bool,
) -> crate::lab::LabSpec {
    crate::lab::LabSpec {
        nodes,
        dir: std::env::temp_dir().join(format!("pgsyncbench-{command}-{}", std::process::id())),
        timing: crate::lab::Timing::Fast,
        read_replicas,
        relays,
        zones: None,
    }
}

/// Starts the lab, reporting its progress; on Ctrl-C during start-up, stops what had started.
pub async fn start_lab(
    spec: &crate::lab::LabSpec,
    interrupt: &Interrupt,
) -> Result<crate::lab::Lab, Failure> {
    use crate::lab::Lab;
    let mut say = |m: &str| eprintln!("lab: {m}");
    tokio::select! {
        r = Lab::up(spec, &mut say) => Ok(r?),
        _ = interrupt.wait() => {
            if let Ok(lab) = Lab::open(&spec.dir) {
                let _ = lab.down(false);
            }
            Err(interrupted_failure())
        }
    }
}

/// Stops and removes the lab a command started; the command's own failure comes first.
pub fn stop_lab(lab: &crate::lab::Lab, result: Result<u8, Failure>) -> Result<u8, Failure> {
    let down = lab.down(false);
    eprintln!("lab: stopped and removed {}", lab.state.dir.display());
    match (result, down) {
        (Ok(code), Ok(())) => Ok(code),
        (Ok(_), Err(e)) => Err(e.into()),
        (Err(e), _) => Err(e),
    }
}

/// `bench-results/<time>-<name>`: where a command's results go unless told otherwise.
pub fn results_dir(name: &str) -> std::path::PathBuf {
    let stamp = humantime::format_rfc3339_seconds(std::time::SystemTime::now())
        .to_string()
        .replace(':', "-")
        .trim_end_matches('Z')
        .to_string();
    std::path::PathBuf::from("bench-results").join(format!("{stamp}-{name}"))
}
