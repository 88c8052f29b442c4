//! Availability figures from the commits the clients saw acknowledged: the longest window with
//! no commit, and for each fault how long until writes came back (on any member, and on a
//! member other than the leader at the time of the fault).

use serde::{Deserialize, Serialize};

use crate::load::ledger::Commit;

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Gap {
    pub seconds: f64,
    /// Start and end of the window, seconds since the load started.
    pub from: f64,
    pub to: f64,
}

/// The longest window in [0, end] without a commit (the start and the end count as edges).
pub fn longest_gap(commits: &[Commit], end: f64) -> Gap {
    let mut times: Vec<f64> = commits.iter().map(|c| c.at).collect();
    times.sort_by(f64::total_cmp);
    let mut best = Gap {
        seconds: 0.0,
        from: 0.0,
        to: 0.0,
    };
    let mut prev = 0.0;
    for t in times.into_iter().chain(std::iter::once(end)) {
        if t - prev > best.seconds {
            best = Gap {
                seconds: t - prev,
                from: prev,
                to: t,
            };
        }
        prev = prev.max(t);
    }
    best
}

/// How writes came back after one fault.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recovery {
    /// Seconds after the fault of the first commit anywhere; None if none came.
    pub first_commit_after: Option<f64>,
    /// Seconds after the fault of the first commit on a member other than the leader at the
    /// time of the fault (the failover time); None if none came.
    pub first_commit_on_another_member: Option<f64>,
}

pub fn recovery(commits: &[Commit], fault_at: f64, leader_endpoint: Option<usize>) -> Recovery {
    let after = |other_only: bool| {
        commits
            .iter()
            .filter(|c| c.at >= fault_at && (!other_only || Some(c.endpoint) != leader_endpoint))
            .map(|c| c.at - fault_at)
            .min_by(f64::total_cmp)
    };
    Recovery {
        first_commit_after: after(false),
        first_commit_on_another_member: leader_endpoint.and_then(|_| after(true)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn commits(points: &[(f64, usize)]) -> Vec<Commit> {
        points
            .iter()
            .map(|&(at, endpoint)| Commit { at, endpoint })
            .collect()
    }

    #[test]
    fn the_longest_gap_may_be_at_either_edge_or_inside() {
        let c = commits(&[(1.0, 0), (1.5, 0), (9.0, 1), (9.2, 1)]);
        let g = longest_gap(&c, 10.0);
        assert_eq!((g.from, g.to), (1.5, 9.0));
        assert!((g.seconds - 7.5).abs() < 1e-9);
        assert_eq!(longest_gap(&commits(&[(0.2, 0)]), 10.0).to, 10.0);
        assert_eq!(longest_gap(&[], 4.0).seconds, 4.0);
    }

    #[test]
    fn recovery_distinguishes_the_old_leader_from_another_member() {
        let c = commits(&[(4.0, 0), (10.5, 0), (12.0, 2), (12.1, 0)]);
        let r = recovery(&c, 10.0, Some(0));
        assert_eq!(r.first_commit_after, Some(0.5));
        assert_eq!(r.first_commit_on_another_member, Some(2.0));
        let none = recovery(&c, 20.0, Some(0));
        assert_eq!(none.first_commit_after, None);
        assert_eq!(none.first_commit_on_another_member, None);
        assert_eq!(
            recovery(&c, 10.0, None).first_commit_on_another_member,
            None
        );
    }
}
