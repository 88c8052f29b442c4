//! The text summary `run` prints: pgbench's lines and wording where pgbench has the figure,
//! then the latency percentiles pgbench does not print.

use std::fmt::Write as _;

use crate::load::run_result::RunResult;

pub fn render(r: &RunResult) -> String {
    let mut out = String::new();
    let o = &r.options;
    let s = &r.summary;
    let w = &mut out;
    let _ = writeln!(
        w,
        "pgsyncbench {} (server {})",
        r.tool.version, r.target.server_version
    );
    let _ = writeln!(w, "transaction type: {}", o.builtin.description());
    let _ = writeln!(w, "scaling factor: {}", o.scale);
    let _ = writeln!(w, "query mode: {}", o.protocol.as_str());
    let _ = writeln!(w, "number of clients: {}", o.clients);
    let _ = writeln!(w, "number of threads: {}", o.threads);
    let _ = writeln!(w, "maximum number of tries: 1");
    let _ = writeln!(
        w,
        "synchronous_commit: {}{}",
        r.target.synchronous_commit,
        standby_note(r)
    );
    match (o.duration, o.transactions_per_client) {
        (_, Some(t)) => {
            let _ = writeln!(w, "number of transactions per client: {t}");
            let _ = writeln!(
                w,
                "number of transactions actually processed: {}/{}",
                s.transactions,
                t * o.clients as u64
            );
        }
        (d, None) => {
            let _ = writeln!(w, "duration: {} s", d.unwrap_or(0));
            let _ = writeln!(
                w,
                "number of transactions actually processed: {}",
                s.transactions
            );
        }
    }
    if o.warmup > 0 {
        let _ = writeln!(w, "warmup: {} s (not measured)", o.warmup);
    }
    let attempted = s.transactions + s.failed;
    let pct = if attempted > 0 {
        100.0 * s.failed as f64 / attempted as f64
    } else {
        0.0
    };
    let _ = writeln!(w, "number of failed transactions: {} ({pct:.3}%)", s.failed);
    if let Some(l) = &s.latency_ms {
        let _ = writeln!(w, "latency average = {:.3} ms", l.mean);
        let _ = writeln!(w, "latency stddev = {:.3} ms", l.stddev);
    }
    let _ = writeln!(
        w,
        "initial connection time = {:.3} ms",
        s.connection_time_ms
    );
    let _ = writeln!(w, "tps = {:.6} (without initial connection time)", s.tps);
    if let Some(l) = &s.latency_ms {
        let _ = writeln!(w, "latency percentiles:");
        for (name, v) in [
            ("min", l.min),
            ("p50", l.p50),
            ("p90", l.p90),
            ("p95", l.p95),
            ("p99", l.p99),
            ("p99.9", l.p99_9),
            ("max", l.max),
        ] {
            let _ = writeln!(w, "  {name:<6}{v:>10.3} ms");
        }
    }
    if !r.failures.is_empty() {
        let _ = writeln!(w, "failures by SQLSTATE:");
        for (code, n) in &r.failures {
            let _ = writeln!(w, "  {code:<11}{n:>8}");
        }
    }
    if s.clients_lost > 0 {
        let _ = writeln!(
            w,
            "{} of {} clients lost their connection; the results above are incomplete",
            s.clients_lost, o.clients
        );
    }
    if s.abandoned > 0 {
        let _ = writeln!(
            w,
            "{} transactions were still waiting at the end and were abandoned",
            s.abandoned
        );
    }
    if s.interrupted {
        let _ = writeln!(w, "run interrupted: the results cover the time until then");
    }
    out
}

fn standby_note(r: &RunResult) -> &'static str {
    let remote = r.options.sync_commit.is_some_and(|m| m.waits_for_standby());
    match (remote, r.target.sync_standby_attached) {
        (true, Some(false)) => " (no synchronous standby attached: commits did not wait for one)",
        _ => "",
    }
}
