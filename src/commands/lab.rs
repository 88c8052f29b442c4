//! `lab up/status/rtt/down` (and the hidden `lab relay` daemon): the local cluster's life.

use super::Failure;
use crate::cli::{LabCommand, LabDirArgs};
use crate::cluster::status::members_table;
use crate::lab::process::Owned;
use crate::lab::{Lab, LabSpec, Timing};

pub async fn lab(cmd: LabCommand) -> Result<(), Failure> {
    match cmd {
        LabCommand::Up(args) => {
            let spec = LabSpec {
                nodes: args.nodes,
                dir: args.dir.dir,
                timing: if args.fast {
                    Timing::Fast
                } else {
                    Timing::Default
                },
                read_replicas: args.read_replicas,
                relays: args.relays,
                zones: args.zones.zones(args.nodes)?,
            };
            let started = std::time::Instant::now();
            let lab = Lab::up(&spec, &mut |msg| eprintln!("lab: {msg}")).await?;
            eprintln!("lab: {}", timing_line(&lab).await);
            eprintln!(
                "lab: ready in {:.1} s; stop it with `pgsyncbench lab down --dir {}`",
                started.elapsed().as_secs_f64(),
                lab.state.dir.display()
            );
            println!("{}", lab.patroni_url());
            println!("{}", lab.leader_url().await?);
            Ok(())
        }
        LabCommand::Status(LabDirArgs { dir }) => {
            let lab = Lab::open(&dir)?;
            let s = &lab.state;
            let state = |p: &Owned| {
                if p.is_running() { "running" } else { "stopped" }
            };
            println!("Lab in {} ({:?} timing)", s.dir.display(), s.timing);
            println!(
                "etcd {}:{} pid {} {}",
                s.etcd.addr,
                s.etcd.client_port,
                s.etcd.process.pid,
                state(&s.etcd.process)
            );
            for n in &s.nodes {
                println!(
                    "{}: Patroni pid {} {}, REST {}, PostgreSQL {}:{}",
                    n.name,
                    n.patroni.pid,
                    state(&n.patroni),
                    n.rest_url(),
                    n.addr,
                    n.pg_port
                );
            }
            println!("{}", timing_line(&lab).await);
            if let Some(n) = &s.net {
                println!("zones: {}", n.zones.describe());
                for m in &n.measured {
                    println!(
                        "round trip {}-{}: {:.3} ms measured at start (p99 {:.3}), {} ms configured",
                        m.a, m.b, m.p50_ms, m.p99_ms, m.configured_ms
                    );
                }
            }
            match lab.cluster().await {
                Ok(c) => print!("{}", members_table(&c.members)),
                Err(e) => println!("members: unknown ({e})"),
            }
            Ok(())
        }
        LabCommand::Rtt(args) => {
            if !(args.rtt_ms.is_finite() && args.rtt_ms >= 0.0) {
                return Err(Failure::new(
                    "the round-trip time must be 0 or more milliseconds",
                ));
            }
            let lab = Lab::open(&args.dir.dir)?;
            lab.set_rtt(args.rtt_ms)?;
            eprintln!(
                "lab: {} ms of round trip {}",
                args.rtt_ms,
                if lab.state.net.is_some() {
                    "between every pair of zones"
                } else {
                    "added on the replication path"
                }
            );
            Ok(())
        }
        LabCommand::Probe(LabDirArgs { dir }) => {
            let lab = Lab::open(&dir)?;
            for m in lab.probe()? {
                println!(
                    "{}-{} ({} ↔ {}): p50 {:.3} ms, p99 {:.3} ms",
                    m.a, m.b, m.hosts.0, m.hosts.1, m.p50_ms, m.p99_ms
                );
            }
            Ok(())
        }
        LabCommand::Relay(args) => crate::lab::relay::serve(args.listen, args.to, args.rtt_file)
            .await
            .map_err(|e| Failure::new(format!("relay on {} failed: {e}", args.listen))),
        LabCommand::NetRouter(args) => crate::net::daemon::run(&args.dir)
            .map_err(|e| Failure::new(format!("network router in {}: {e}", args.dir.display()))),
        LabCommand::Down(args) => {
            let lab = Lab::open(&args.dir.dir)?;
            lab.down(args.keep)?;
            eprintln!(
                "lab: stopped every process of {}{}",
                lab.state.dir.display(),
                if args.keep {
                    " (folder kept)"
                } else {
                    " and removed it"
                }
            );
            Ok(())
        }
    }
}

/// The timing Patroni has in force (GET /config), not the one the lab asked for.
async fn timing_line(lab: &Lab) -> String {
    match lab.patroni().timing().await {
        Ok(t) => format!("Patroni timing in force: {t}"),
        Err(e) => format!("Patroni timing: unknown ({e})"),
    }
}
