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
    let _ = writeln!(w, "transaction type: {}", transaction_type(r));
    let _ = writeln!(w, "scaling factor: {}", o.scale);
    let _ = writeln!(w, "query mode: {}", o.protocol.as_str());
    let _ = writeln!(w, "number of clients: {}", o.clients);
    if !o.merged_from.is_empty() {
        let _ = writeln!(
            w,
            "load generators: {} ({})",
            o.merged_from.len(),
            o.merged_from.join(", ")
        );
    } else if let Some(g) = &o.generator {
        let _ = writeln!(w, "load generator: {g}");
    }
    let _ = writeln!(w, "number of threads: {}", o.threads);
    if o.max_tries > 0 {
        let _ = writeln!(w, "maximum number of tries: {}", o.max_tries);
    }
    if let Some(rate) = o.rate {
        let _ = writeln!(
            w,
            "target rate: {rate} tps (latency counted from each scheduled start)"
        );
    }
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
    // pgbench's denominators: every transaction, skipped and failed ones included.
    let attempted = s.transactions + s.failed + s.skipped;
    let pct = |n: u64| {
        if attempted > 0 {
            100.0 * n as f64 / attempted as f64
        } else {
            0.0
        }
    };
    let _ = writeln!(
        w,
        "number of failed transactions: {} ({:.3}%)",
        s.failed,
        pct(s.failed)
    );
    if o.max_tries != 1 {
        let _ = writeln!(
            w,
            "number of transactions retried: {} ({:.3}%)",
            s.retried,
            pct(s.retried)
        );
        let _ = writeln!(w, "total number of retries: {}", s.retries);
    }
    if let Some(limit) = o.latency_limit_ms {
        if o.rate.is_some() {
            let _ = writeln!(
                w,
                "number of transactions skipped: {} ({:.3}%)",
                s.skipped,
                pct(s.skipped)
            );
        }
        let late_pct = if s.transactions > 0 {
            100.0 * s.late as f64 / s.transactions as f64
        } else {
            0.0
        };
        let _ = writeln!(
            w,
            "number of transactions above the {limit:.1} ms latency limit: {}/{} ({late_pct:.3}%)",
            s.late, s.transactions
        );
    }
    if let Some(l) = &s.latency_ms {
        let _ = writeln!(w, "latency average = {:.3} ms", l.mean);
        let _ = writeln!(w, "latency stddev = {:.3} ms", l.stddev);
    }
    if let Some(lag) = &s.schedule_lag_ms {
        let _ = writeln!(
            w,
            "rate limit schedule lag: avg {:.3} (max {:.3}) ms",
            lag.mean, lag.max
        );
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
    if let Some(l) = &s.service_latency_ms {
        let _ = writeln!(
            w,
            "service time (from the actual start): avg {:.3}, p50 {:.3}, p99 {:.3}, max {:.3} ms",
            l.mean, l.p50, l.p99, l.max
        );
    }
    if s.clients_aborted > 0 {
        let _ = writeln!(
            w,
            "{} of {} clients were aborted by a script error; the results above are incomplete",
            s.clients_aborted, o.clients
        );
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

/// pgbench's "transaction type": the one script's name, or "multiple scripts".
fn transaction_type(r: &RunResult) -> &str {
    match (r.options.builtin, r.options.scripts.as_slice()) {
        (Some(b), _) => b.description(),
        (None, [one]) => &one.name,
        _ => "multiple scripts",
    }
}

fn standby_note(r: &RunResult) -> &'static str {
    let remote = r.options.sync_commit.is_some_and(|m| m.waits_for_standby());
    match (remote, r.target.sync_standby_attached) {
        (true, Some(false)) => " (no synchronous standby attached: commits did not wait for one)",
        _ => "",
    }
}
