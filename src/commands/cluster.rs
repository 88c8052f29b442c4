//! `cluster status/apply/restore`: a Patroni cluster's members and synchronous settings as
//! patronictl shows them; a change applied and proven live (undone when it never goes live);
//! a saved configuration put back.

use std::time::Duration;

use super::{Failure, member_target, patroni_client};
use crate::cli::ClusterCommand;
use crate::cluster::control::{self, SavedConfig, SyncChange};
use crate::cluster::status;

pub async fn cluster(cmd: ClusterCommand) -> Result<(), Failure> {
    match cmd {
        ClusterCommand::Status(args) => {
            let patroni = patroni_client(&args.patroni)?;
            let base = member_target(&args.conn)?;
            let s = status::gather(&patroni, &base).await?;
            if args.json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&s).map_err(Failure::new)?
                );
            } else {
                print!("{}", status::render(&s));
            }
            Ok(())
        }
        ClusterCommand::Apply(args) => {
            let change = SyncChange {
                synchronous_commit: args.sync_commit,
                synchronous_mode: args.synchronous_mode,
                strict: args.strict,
                node_count: args.node_count,
            };
            if change.is_empty() {
                return Err(Failure::new(
                    "nothing to apply: give --sync-commit, --synchronous-mode, --strict or --sync-node-count",
                ));
            }
            let patroni = patroni_client(&args.patroni)?;
            let base = member_target(&args.conn)?;
            // Kept in memory even without --save: a change that never goes live is undone.
            let before = match &args.save {
                Some(path) => SavedConfig::save(&patroni, &base, path).await?,
                None => SavedConfig {
                    path: Default::default(),
                    config: patroni.config().await?,
                    synchronous_commit_before: None,
                },
            };
            let timeout = args
                .timeout
                .map(Duration::from_secs)
                .unwrap_or_else(|| control::settle_budget(&before.config));
            match control::apply(&patroni, &base, &change, timeout).await {
                Ok(live) => {
                    println!(
                        "live on leader {} after {:.1} s: synchronous_commit={}, synchronous_standby_names='{}', synchronous standbys: {}",
                        live.leader,
                        live.took,
                        live.synchronous_commit,
                        live.synchronous_standby_names,
                        if live.sync_standbys.is_empty() {
                            "none".into()
                        } else {
                            live.sync_standbys.join(", ")
                        }
                    );
                    Ok(())
                }
                Err(e) => {
                    let undo = match before.restore(&patroni, &base, timeout).await {
                        Ok(_) => "the previous configuration was put back".to_string(),
                        Err(r) => {
                            format!("putting the previous configuration back failed too: {r}")
                        }
                    };
                    Err(Failure::new(format!("{e}; {undo}")))
                }
            }
        }
        ClusterCommand::Restore(args) => {
            let saved = SavedConfig::load(&args.from)?;
            let patroni = patroni_client(&args.patroni)?;
            let base = member_target(&args.conn)?;
            let timeout = args
                .timeout
                .map(Duration::from_secs)
                .unwrap_or_else(|| control::settle_budget(&saved.config));
            let live = saved.restore(&patroni, &base, timeout).await?;
            println!(
                "restored {}; live on leader {} after {:.1} s: synchronous_commit={}, synchronous_standby_names='{}'",
                args.from.display(),
                live.leader,
                live.took,
                live.synchronous_commit,
                live.synchronous_standby_names
            );
            Ok(())
        }
    }
}
