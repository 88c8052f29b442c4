//! One function per subcommand: options in, work done through the library, output out.

pub mod cluster;
pub mod compare;
pub mod init;
pub mod lab;
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
pub fn member_target(conn: &crate::conn::ConnOptions) -> Result<crate::conn::Target, Failure> {
    use crate::conn::{Env, ProcessEnv, Target};
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

pub fn patroni_client(args: &crate::cli::PatroniArgs) -> Result<crate::patroni::Patroni, Failure> {
    let url = args
        .patroni
        .as_deref()
        .ok_or_else(|| Failure::new("--patroni URL is required (the REST API of any member)"))?;
    Ok(crate::patroni::Patroni::new(
        url,
        args.patroni_cacert.as_deref(),
        crate::patroni::DEFAULT_TIMEOUT,
    )?)
}
