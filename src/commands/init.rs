//! `init`: pgbench's tables loaded with client-side COPY, with pgbench's flags and its progress
//! and closing lines.

use std::io::IsTerminal;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};

use super::Failure;
use crate::cli::{InitArgs, conn_with_positional};
use crate::load::init::{InitOptions, InitProgress, initialize};
use crate::pg::conn::{ProcessEnv, Target};

pub async fn init(args: InitArgs) -> Result<(), Failure> {
    let target = Target::resolve(
        &conn_with_positional(&args.conn, &args.dbname_arg),
        &ProcessEnv,
    )?;
    let client = target.connect().await?;
    let opts = InitOptions {
        scale: args.scale,
        fillfactor: args.fillfactor,
        unlogged: args.unlogged_tables,
        partitions: args.partitions,
    };
    let mut progress = StderrProgress::new(args.quiet);
    let timings = initialize(&client, &opts, &mut progress).await?;
    progress.done();
    let s = |d: std::time::Duration| d.as_secs_f64();
    eprintln!(
        "done in {:.2} s (drop tables {:.2} s, create tables {:.2} s, client-side generate {:.2} s, vacuum {:.2} s, primary keys {:.2} s).",
        s(timings.total()),
        s(timings.drop),
        s(timings.create),
        s(timings.generate),
        s(timings.vacuum),
        s(timings.keys)
    );
    Ok(())
}

/// A bar on a terminal; pgbench-style lines every 10% otherwise; nothing with -q.
struct StderrProgress {
    quiet: bool,
    bar: Option<ProgressBar>,
    started: Instant,
    next_line_pct: u64,
}

impl StderrProgress {
    fn new(quiet: bool) -> StderrProgress {
        StderrProgress {
            quiet,
            bar: None,
            started: Instant::now(),
            next_line_pct: 10,
        }
    }

    fn done(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

impl InitProgress for StderrProgress {
    fn step(&mut self, message: &str) {
        self.done();
        self.bar = None;
        if !self.quiet {
            eprintln!("{message}");
        }
        self.started = Instant::now();
    }

    fn rows(&mut self, done: u64, total: u64) {
        if self.quiet {
            return;
        }
        if std::io::stderr().is_terminal() {
            let bar = self.bar.get_or_insert_with(|| {
                let bar = ProgressBar::new(total);
                bar.set_style(
                    ProgressStyle::with_template(
                        "{bar:30} {pos}/{len} accounts ({percent}%) eta {eta}",
                    )
                    .expect("the template is valid"),
                );
                bar
            });
            bar.set_position(done);
        } else {
            let pct = done * 100 / total.max(1);
            if pct >= self.next_line_pct || done == total {
                let elapsed = self.started.elapsed().as_secs_f64();
                let remaining = elapsed * (total - done) as f64 / done.max(1) as f64;
                eprintln!(
                    "{done} of {total} tuples ({pct}%) done (elapsed {elapsed:.2} s, remaining {remaining:.2} s)"
                );
                self.next_line_pct = pct / 10 * 10 + 10;
            }
        }
    }
}
