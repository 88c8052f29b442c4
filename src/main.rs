//! The pgsyncbench binary: parses the command line, runs one command on a single-threaded
//! runtime, and turns its outcome into one error line and an exit status.

use std::process::ExitCode;

use pgsyncbench::cli::{Cli, Command};
use pgsyncbench::commands::{self, Failure};

fn main() -> ExitCode {
    let cli = match Cli::parse_ordered(std::env::args_os()) {
        Ok(cli) => cli,
        Err(e) => return usage_error(e),
    };
    pgsyncbench::pg::tls::ensure_provider();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(Failure::new(format!("cannot start the runtime: {e}"))),
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Init(args) => commands::init::init(args).await.map(|()| 0),
            Command::Run(args) => commands::run::run(args).await,
            Command::Sweep(args) => commands::sweep::sweep(args).await,
            Command::Capacity(args) => commands::capacity::capacity(args).await,
            Command::Scenario(args) => commands::scenario::scenario(args).await,
            Command::Lab(cmd) => commands::lab::lab(cmd).await.map(|()| 0),
            Command::Cluster(cmd) => commands::cluster::cluster(cmd).await.map(|()| 0),
            Command::Report(args) => commands::report::report(args),
            Command::Compare(args) => commands::compare::compare(args),
            Command::Merge(args) => commands::merge::merge(args),
        }
    });
    match result {
        Ok(code) => ExitCode::from(code),
        Err(f) => fail(f),
    }
}

fn fail(f: Failure) -> ExitCode {
    eprintln!("pgsyncbench: error: {}", f.message);
    ExitCode::from(f.code)
}

/// clap's errors span several lines; keep help and version as they are, and make every other
/// error one line that says where to look.
fn usage_error(e: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(
        e.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        let _ = e.print();
        return ExitCode::from(
            if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
                2
            } else {
                0
            },
        );
    }
    // The first paragraph holds the error; some errors list what is missing on lines below it.
    let rendered = e.render().to_string();
    let first: Vec<&str> = rendered
        .lines()
        .skip_while(|l| l.trim().is_empty())
        .take_while(|l| !l.trim().is_empty())
        .map(str::trim)
        .collect();
    let message = match first.join(" ") {
        m if m.is_empty() => "invalid arguments".to_string(),
        m => m.trim_start_matches("error: ").to_string(),
    };
    eprintln!("pgsyncbench: error: {message} (see --help)");
    ExitCode::from(2)
}
