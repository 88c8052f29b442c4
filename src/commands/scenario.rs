//! `scenario FILE`: a failure scenario on a Patroni cluster (or a lab started for it), its
//! result written and summed up; the configuration put back and every fault undone.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use super::outputs::{self, Output};
use super::{
    Failure, Interrupt, interrupted_failure, lab_spec, member_target, patroni_client,
    put_back_config, results_dir, save_config, start_lab, stop_lab,
};
use crate::cli::ScenarioArgs;
use crate::cluster::control;
use crate::cluster::patroni::Patroni;
use crate::lab::Lab;
use crate::load::run_result::write_json_file;
use crate::pg::conn::{ConnOptions, Target};
use crate::scenario::actions::undo_lab_faults;
use crate::scenario::run::{self, Context, ScenarioError};
use crate::scenario::{Scenario, ScenarioResult};

pub const RESULT_PREFIX: &str = "scenario-";

pub async fn scenario(args: ScenarioArgs) -> Result<u8, Failure> {
    let scenario = Scenario::load(&args.file)?;
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| results_dir(&scenario.name));
    let mut to_check = vec![Output::Folder(
        if args.out.is_some() {
            "--out"
        } else {
            "--out (default)"
        },
        &out,
    )];
    // A --json inside the results folder has its folder made with it.
    let json_folder = args
        .json
        .as_deref()
        .and_then(|j| j.parent())
        .filter(|p| p.starts_with(&out));
    match (&args.json, json_folder) {
        (Some(_), Some(folder)) => to_check.push(Output::Folder("--json (its folder)", folder)),
        (Some(json), None) => to_check.push(Output::File("--json", json)),
        (None, _) => {}
    }
    outputs::check(&to_check)?;
    let interrupt = Interrupt::listen();
    let base = member_target(&ConnOptions {
        user: args.user.clone(),
        dbname: args.dbname.clone(),
        ..ConnOptions::default()
    })?;
    if args.patroni.patroni.is_some() {
        let lab_only = scenario.lab_only_actions();
        if !lab_only.is_empty() {
            return Err(Failure::new(format!(
                "{} of {} need a lab cluster started by pgsyncbench, not --patroni: run it without --patroni, or use switchover, failover, restart, patch or shell actions",
                lab_only.join(", "),
                args.file.display()
            )));
        }
        let patroni = patroni_client(&args.patroni)?;
        return on_cluster(&args, &scenario, &out, &patroni, &base, None, &interrupt).await;
    }
    let zones = scenario
        .lab
        .zones
        .as_deref()
        .map(|z| {
            let rtt: Vec<String> = scenario
                .lab
                .zone_rtt_ms
                .iter()
                .map(|r| r.to_string())
                .collect();
            crate::lab::Zones::parse(z, scenario.lab.nodes, &rtt, None, None)
        })
        .transpose()?;
    let mut spec = lab_spec(
        "scenario",
        scenario.lab.nodes,
        scenario.lab.read_replicas,
        scenario.needs_relays() && zones.is_none(),
    );
    spec.zones = zones;
    eprintln!(
        "no --patroni given: starting a {}-node lab cluster in {}",
        scenario.lab.nodes,
        spec.dir.display()
    );
    let mut lab = start_lab(&spec, &interrupt).await?;
    let patroni = lab.patroni();
    let result = on_cluster(
        &args,
        &scenario,
        &out,
        &patroni,
        &base,
        Some(&mut lab),
        &interrupt,
    )
    .await;
    stop_lab(&lab, result)
}

#[allow(clippy::too_many_arguments)]
async fn on_cluster(
    args: &ScenarioArgs,
    scenario: &Scenario,
    out: &Path,
    patroni: &Patroni,
    base: &Target,
    mut lab: Option<&mut Lab>,
    interrupt: &Interrupt,
) -> Result<u8, Failure> {
    let saved_path = out.join("patroni-config.before.json");
    let saved = save_config(patroni, base, &saved_path).await?;
    let result = {
        let mut ctx = Context {
            patroni,
            base,
            lab: lab.as_deref_mut(),
            interrupt,
        };
        run::run(scenario, &mut ctx, &mut |m| eprintln!("{m}")).await
    };
    if let Some(lab) = lab {
        // An error may have left members or etcd down: bring them back before restoring.
        let _ = undo_lab_faults(lab, &mut |m| eprintln!("{m}"));
    }
    let restored = put_back_config(
        &saved,
        patroni,
        base,
        // After faults the cluster may take its settle time to be itself again.
        control::settle_budget(&saved.config).max(Duration::from_secs(scenario.settle)),
    )
    .await;
    if let Err(e) = &restored {
        eprintln!("pgsyncbench: error: {}", e.message);
    }
    let result = match result {
        Ok(r) => r,
        Err(ScenarioError::Interrupted) => return Err(interrupted_failure()),
        Err(e) => return Err(Failure::new(e)),
    };
    let file = out.join(format!("{RESULT_PREFIX}{}.json", result.scenario));
    write_json_file(&file, &result)
        .map_err(|e| Failure::new(format!("cannot write {}: {e}", file.display())))?;
    if let Some(path) = &args.json {
        if let Some(folder) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(folder)
                .map_err(|e| Failure::new(format!("cannot create {}: {e}", folder.display())))?;
        }
        write_json_file(path, &result)
            .map_err(|e| Failure::new(format!("cannot write {}: {e}", path.display())))?;
    }
    print!("{}", render(&result));
    println!("result: {}", file.display());
    restored?;
    if interrupt.happened() {
        // What ran until Ctrl-C is written above; its checks are not a verdict.
        Err(interrupted_failure())
    } else if result.passed() {
        Ok(0)
    } else {
        Err(Failure::new(format!(
            "scenario {}: expectations not met (see the checks above and {})",
            result.scenario,
            file.display()
        )))
    }
}

/// A text summary per variant: cost (TPS, p99) beside benefit (lost commits, write gap).
pub fn render(r: &ScenarioResult) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "scenario: {} — {}", r.scenario, r.description);
    for v in &r.runs {
        let s = &v.run.summary;
        let a = &v.audit;
        let _ = writeln!(
            out,
            "\nvariant {}: synchronous_commit={} ({} clients, {} s)",
            v.label, v.run.target.synchronous_commit, v.workload.clients, v.workload.duration
        );
        if let Some(t) = &v.patroni_timing {
            let _ = writeln!(out, "  Patroni timing in force: {t}");
        }
        let p99 = s
            .latency_ms
            .map(|l| format!("{:.2} ms", l.p99))
            .unwrap_or_else(|| "-".into());
        let _ = writeln!(
            out,
            "  load: {:.0} tps, p99 {p99}, {} committed, {} failed, {} reconnects",
            s.tps, s.transactions, s.failed, v.availability.reconnects
        );
        let _ = writeln!(
            out,
            "  audit: {} attempted, {} acknowledged, {} failed, {} indeterminate; lost {}, unexpected {}, recovered {}",
            a.attempted,
            a.acknowledged,
            a.failed,
            a.indeterminate,
            a.lost,
            a.unexpected,
            a.recovered
        );
        if let Some(lags) = v.max_lag_text() {
            let _ = writeln!(out, "  largest replication lag (Patroni's view): {lags}");
        }
        for why in &v.promotion_refusals {
            let _ = writeln!(out, "  Patroni would not promote: {why}");
        }
        for d in &v.demotions {
            let _ = writeln!(out, "  demoted itself: {d}");
        }
        for r in &v.rewinds {
            let _ = writeln!(out, "  rewound on rejoining: {r}");
        }
        let g = &v.availability.longest_write_gap;
        let _ = writeln!(
            out,
            "  longest write gap: {:.1} s (from {:.1} s to {:.1} s)",
            g.seconds, g.from, g.to
        );
        for f in &v.availability.faults {
            let secs = |x: Option<f64>| {
                x.map(|s| format!("{s:.1} s"))
                    .unwrap_or_else(|| "never".into())
            };
            let _ = writeln!(
                out,
                "  {} at {:.1} s (leader {}): first commit after {}, on another member after {}",
                f.action,
                f.t,
                f.leader_before.as_deref().unwrap_or("?"),
                secs(f.recovery.first_commit_after),
                secs(f.recovery.first_commit_on_another_member)
            );
        }
        for a in &v.actions {
            if !a.ok {
                let _ = writeln!(
                    out,
                    "  action {} at {:.1} s failed: {}",
                    a.action, a.t, a.detail
                );
            }
        }
        let _ = writeln!(out, "  leaders: {}", v.leader_history(" -> "));
        let names: Vec<String> = v
            .sync_standbys
            .iter()
            .map(|s| {
                format!(
                    "'{}' at {:.1} s",
                    s.synchronous_standby_names.as_deref().unwrap_or("?"),
                    s.t
                )
            })
            .collect();
        let _ = writeln!(out, "  synchronous_standby_names: {}", names.join(" -> "));
        if !v.split_brain.is_empty() {
            let _ = writeln!(
                out,
                "  SPLIT BRAIN: {} moments with several primaries (first at {:.1} s: {})",
                v.split_brain.len(),
                v.split_brain[0].t,
                v.split_brain[0].members.join(", ")
            );
        }
        if !v.settled {
            let _ = writeln!(
                out,
                "  note: the cluster was not whole again before the audit"
            );
        }
        for c in &v.checks {
            let _ = writeln!(
                out,
                "  [{}] {}: expected {}, observed {}",
                if c.passed { "pass" } else { "FAIL" },
                c.check,
                c.expected,
                c.observed
            );
        }
    }
    out
}
