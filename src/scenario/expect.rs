//! A scenario's expectations judged against what was measured: each check says what was
//! expected, what was observed, and whether it passed.
//!
//! Owns the verdict. Must not measure or act.

use super::audit::AuditCounts;
use super::availability::Gap;
use super::result::{Check, LeaderSeen, SyncSeen};
use super::spec::Expect;

/// The whole seconds in [from, to) without a commit.
fn empty_seconds(commits: &[f64], from: f64, to: f64) -> Vec<f64> {
    let mut empty = Vec::new();
    let mut s = from;
    while s + 1.0 <= to + 1e-9 {
        if !commits.iter().any(|&t| t >= s && t < s + 1.0) {
            empty.push(s);
        }
        s += 1.0;
    }
    empty
}

pub struct Facts<'a> {
    pub audit: &'a AuditCounts,
    /// Times of acknowledged commits, seconds since the load started.
    pub commits: Vec<f64>,
    pub gap: Gap,
    pub leaders: &'a [LeaderSeen],
    pub syncs: &'a [SyncSeen],
    pub failed: u64,
    pub max_primaries: u32,
    pub writes_after_last_fault: Option<bool>,
    /// The largest replication lag any standby had, in bytes (Patroni's view).
    pub max_lag_bytes: Option<u64>,
    /// Patroni's logged reasons for not promoting.
    pub promotion_refusals: &'a [String],
    /// Patroni's logged rewinds of rejoining members.
    pub rewinds: &'a [String],
}

pub fn judge(e: &Expect, f: &Facts<'_>) -> Vec<Check> {
    let mut checks = Vec::new();
    let mut add = |check: &str, expected: String, observed: String, passed: bool| {
        checks.push(Check {
            check: check.into(),
            expected,
            observed,
            passed,
        })
    };
    if let Some(max) = e.lost {
        add(
            "lost acknowledged commits",
            format!("at most {max}"),
            f.audit.lost.to_string(),
            f.audit.lost <= max,
        );
    }
    if let Some(max) = e.max_write_gap {
        add(
            "longest write gap",
            format!("at most {max} s"),
            format!("{:.1} s", f.gap.seconds),
            f.gap.seconds <= max,
        );
    }
    if let Some(min) = e.min_write_gap {
        add(
            "longest write gap",
            format!("at least {min} s"),
            format!("{:.1} s", f.gap.seconds),
            f.gap.seconds >= min,
        );
    }
    if let Some(want) = e.writes_after_faults {
        let seen = f.writes_after_last_fault.unwrap_or(false);
        add(
            "commits after the last fault",
            want.to_string(),
            seen.to_string(),
            seen == want,
        );
    }
    if let Some(want) = e.leader_changes {
        let first = f.leaders.iter().find_map(|l| l.leader.clone());
        let changed = f
            .leaders
            .iter()
            .filter_map(|l| l.leader.as_ref())
            .any(|l| Some(l) != first.as_ref());
        add(
            "leader changes",
            want.to_string(),
            changed.to_string(),
            changed == want,
        );
    }
    if let Some(want) = e.sync_standby_changes {
        let first: Vec<String> = f
            .syncs
            .first()
            .map(|s| s.sync_standbys.clone())
            .unwrap_or_default();
        let changed = f
            .syncs
            .iter()
            .flat_map(|s| &s.sync_standbys)
            .any(|n| !first.contains(n));
        add(
            "another member becomes synchronous standby",
            want.to_string(),
            changed.to_string(),
            changed == want,
        );
    }
    if let Some(want) = e.failures {
        add(
            "transactions fail",
            want.to_string(),
            format!("{} failed", f.failed),
            (f.failed > 0) == want,
        );
    }
    if let Some([from, to]) = e.writes_between {
        let empty = empty_seconds(&f.commits, from, to);
        add(
            "a commit in every second",
            format!("from {from} s to {to} s"),
            if empty.is_empty() {
                "every second".into()
            } else {
                format!(
                    "none in the seconds from {}",
                    empty
                        .iter()
                        .map(|s| format!("{s}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            },
            empty.is_empty(),
        );
    }
    if let Some([from, to]) = e.no_writes_between {
        let n = f.commits.iter().filter(|&&t| t >= from && t <= to).count();
        add(
            "no commit",
            format!("from {from} s to {to} s"),
            format!("{n} commits"),
            n == 0,
        );
    }
    if let Some(max) = e.max_primaries {
        add(
            "members claiming primary at once",
            format!("at most {max}"),
            f.max_primaries.to_string(),
            f.max_primaries <= max,
        );
    }
    if let (Some(want), Some(limit)) = (e.lag_beyond, e.lag_bytes) {
        let seen = f.max_lag_bytes.unwrap_or(0);
        add(
            "largest replication lag",
            format!("{} {limit} bytes", if want { "beyond" } else { "at most" }),
            match f.max_lag_bytes {
                Some(b) => format!("{b} bytes"),
                None => "never known".into(),
            },
            (seen > limit) == want,
        );
    }
    if let Some(min) = e.lost_at_least {
        add(
            "lost acknowledged commits",
            format!("at least {min}"),
            f.audit.lost.to_string(),
            f.audit.lost >= min,
        );
    }
    if let Some(want) = e.rewound {
        add(
            "a rejoining member is rewound",
            want.to_string(),
            match f.rewinds.first() {
                Some(r) => format!("true ({r})"),
                None => "false".into(),
            },
            f.rewinds.is_empty() != want,
        );
    }
    if let Some(want) = e.promotion_refused {
        let refused = !f.promotion_refusals.is_empty();
        add(
            "Patroni refuses to promote",
            want.to_string(),
            match f.promotion_refusals.first() {
                Some(why) => format!("true ({why})"),
                None => "false".into(),
            },
            refused == want,
        );
    }
    checks
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use super::*;
    use crate::scenario::watch::{Observation, summarize};

    fn obs(secs: u64, leader: &str, tl: u64, sync: &[&str], primaries: &[&str]) -> Observation {
        Observation {
            at: SystemTime::UNIX_EPOCH + Duration::from_secs(secs),
            leader: Some(leader.into()),
            timeline: Some(tl),
            sync_standbys: sync.iter().map(|s| s.to_string()).collect(),
            primaries: primaries.iter().map(|s| s.to_string()).collect(),
            synchronous_standby_names: None,
            lag_bytes: Default::default(),
        }
    }

    #[test]
    fn observations_become_changes_and_split_brain_moments() {
        let o = [
            obs(0, "n1", 1, &["n2"], &["n1"]),
            obs(1, "n1", 1, &["n2"], &["n1"]),
            obs(2, "n2", 2, &["n3"], &["n1", "n2"]),
            obs(3, "n2", 2, &["n3"], &["n2"]),
        ];
        let rel = |at: SystemTime| {
            at.duration_since(SystemTime::UNIX_EPOCH)
                .unwrap()
                .as_secs_f64()
        };
        let c = summarize(&o, &rel);
        let (leaders, syncs, split, max) = (c.leaders, c.syncs, c.split_brain, c.max_primaries);
        assert_eq!(leaders.len(), 2);
        assert_eq!(leaders[1].leader.as_deref(), Some("n2"));
        assert_eq!(leaders[1].timeline, Some(2));
        assert_eq!(syncs.len(), 2);
        assert_eq!(split.len(), 1);
        assert_eq!(split[0].t, 2.0);
        assert_eq!(max, 2);
        let expect = Expect {
            leader_changes: Some(true),
            sync_standby_changes: Some(true),
            max_primaries: Some(1),
            lost: Some(0),
            ..Expect::default()
        };
        let audit = AuditCounts {
            lost: 0,
            ..AuditCounts::default()
        };
        let checks = judge(
            &expect,
            &Facts {
                audit: &audit,
                commits: vec![0.5, 1.5, 2.5],
                gap: Gap {
                    seconds: 1.0,
                    from: 0.0,
                    to: 1.0,
                },
                leaders: &leaders,
                syncs: &syncs,
                failed: 0,
                max_primaries: max,
                writes_after_last_fault: Some(true),
                max_lag_bytes: None,
                promotion_refusals: &[],
                rewinds: &[],
            },
        );
        let failed: Vec<&str> = checks
            .iter()
            .filter(|c| !c.passed)
            .map(|c| c.check.as_str())
            .collect();
        assert_eq!(failed, ["members claiming primary at once"]);
        assert_eq!(empty_seconds(&[0.5, 1.5, 3.2], 0.0, 4.0), [2.0]);
        assert!(empty_seconds(&[0.5, 1.5, 2.1, 3.9], 0.0, 4.0).is_empty());
    }
}
