//! The rules in force: link policies set between groups of hosts (a host, a zone, or all) and
//! partitions (cuts), and their resolution into one policy per directed host pair. Owns the
//! precedence: the most recently set rule that matches a pair wins (setting a rule again moves
//! it to the top; clearing it reveals the ones below, so a `degrade` is undone by clearing
//! what it set); a pair is cut when any cut matches it. Must not touch packets or threads.

use serde::{Deserialize, Serialize};

use super::error::Error;
use super::link::Policy;
use super::topology::Topology;

/// A set of hosts a rule applies to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Group {
    Host(String),
    Zone(String),
    All,
}

impl Group {
    fn check(&self, topo: &Topology) -> Result<(), Error> {
        match self {
            Group::Host(h) => topo.index_of(h).map(|_| ()),
            Group::Zone(z) if !topo.zones.contains(z) => Err(Error::Unknown {
                kind: "zone",
                name: z.clone(),
                known: topo.zones.join(", "),
            }),
            _ => Ok(()),
        }
    }

    fn contains(&self, topo: &Topology, host: usize) -> bool {
        match self {
            Group::Host(h) => topo.hosts[host].name == *h,
            Group::Zone(z) => topo.hosts[host].zone == *z,
            Group::All => true,
        }
    }
}

/// A policy for traffic from hosts of `from` to hosts of `to` (one direction).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Rule {
    pub from: Group,
    pub to: Group,
    pub policy: Policy,
}

/// Traffic from `from` to `to` is dropped (one direction).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cut {
    pub from: Group,
    pub to: Group,
}

/// Every rule and cut in force, oldest first.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Table {
    pub rules: Vec<Rule>,
    pub cuts: Vec<Cut>,
}

impl Table {
    /// Sets `policy` from `from` to `to` (and back when `both_ways`), above every other rule.
    pub fn set(
        &mut self,
        topo: &Topology,
        from: Group,
        to: Group,
        policy: Policy,
        both_ways: bool,
    ) -> Result<(), Error> {
        from.check(topo)?;
        to.check(topo)?;
        policy.validate()?;
        for (f, t) in directions(from, to, both_ways) {
            self.rules.retain(|r| !(r.from == f && r.to == t));
            self.rules.push(Rule {
                from: f,
                to: t,
                policy: policy.clone(),
            });
        }
        Ok(())
    }

    /// Removes the rule(s) set with exactly these groups; true when one existed.
    pub fn clear(&mut self, from: &Group, to: &Group, both_ways: bool) -> bool {
        let before = self.rules.len();
        for (f, t) in directions(from.clone(), to.clone(), both_ways) {
            self.rules.retain(|r| !(r.from == f && r.to == t));
        }
        self.rules.len() != before
    }

    /// Cuts traffic from `from` to `to` (and back when `both_ways`).
    pub fn partition(
        &mut self,
        topo: &Topology,
        from: Group,
        to: Group,
        both_ways: bool,
    ) -> Result<(), Error> {
        from.check(topo)?;
        to.check(topo)?;
        for (f, t) in directions(from, to, both_ways) {
            let cut = Cut { from: f, to: t };
            if !self.cuts.contains(&cut) {
                self.cuts.push(cut);
            }
        }
        Ok(())
    }

    /// Removes the cut(s) made with exactly these groups; true when one existed.
    pub fn heal(&mut self, from: &Group, to: &Group, both_ways: bool) -> bool {
        let before = self.cuts.len();
        for (f, t) in directions(from.clone(), to.clone(), both_ways) {
            self.cuts.retain(|c| !(c.from == f && c.to == t));
        }
        self.cuts.len() != before
    }

    /// The policy and cut of the link from host `a` to host `b`.
    pub fn resolve(&self, topo: &Topology, a: usize, b: usize) -> (Policy, bool) {
        let policy = self
            .rules
            .iter()
            .rev()
            .find(|r| r.from.contains(topo, a) && r.to.contains(topo, b))
            .map(|r| r.policy.clone())
            .unwrap_or_default();
        let cut = self
            .cuts
            .iter()
            .any(|c| c.from.contains(topo, a) && c.to.contains(topo, b));
        (policy, cut)
    }
}

fn directions(from: Group, to: Group, both_ways: bool) -> Vec<(Group, Group)> {
    if both_ways && from != to {
        vec![(from.clone(), to.clone()), (to, from)]
    } else {
        vec![(from, to)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::topology::NetSpec;

    fn topo() -> Topology {
        Topology::new(&NetSpec::new(&[
            ("etcd", "a"),
            ("pg1", "a"),
            ("pg2", "b"),
            ("client", "b"),
        ]))
        .unwrap()
    }

    #[test]
    fn the_latest_matching_rule_wins_and_clearing_reveals_the_one_below() {
        let t = topo();
        let mut table = Table::default();
        let z = |s: &str| Group::Zone(s.into());
        let h = |s: &str| Group::Host(s.into());
        table
            .set(&t, z("a"), z("b"), Policy::with_rtt_us(2_000), true)
            .unwrap();
        assert_eq!(table.resolve(&t, 1, 2).0.delay_us, 1_000);
        assert_eq!(table.resolve(&t, 2, 1).0.delay_us, 1_000);
        assert_eq!(table.resolve(&t, 0, 1).0, Policy::default());
        table
            .set(
                &t,
                h("pg1"),
                Group::All,
                Policy::with_rtt_us(100_000),
                false,
            )
            .unwrap();
        assert_eq!(table.resolve(&t, 1, 2).0.delay_us, 50_000);
        assert_eq!(
            table.resolve(&t, 2, 1).0.delay_us,
            1_000,
            "one direction only"
        );
        assert!(table.clear(&h("pg1"), &Group::All, false));
        assert_eq!(table.resolve(&t, 1, 2).0.delay_us, 1_000);
    }

    #[test]
    fn a_host_is_cut_off_from_some_while_its_clients_still_reach_it() {
        let t = topo();
        let mut table = Table::default();
        let h = |s: &str| Group::Host(s.into());
        table.partition(&t, h("pg1"), h("etcd"), true).unwrap();
        table.partition(&t, h("pg1"), h("pg2"), true).unwrap();
        assert!(table.resolve(&t, 1, 0).1 && table.resolve(&t, 0, 1).1);
        assert!(table.resolve(&t, 2, 1).1);
        assert!(
            !table.resolve(&t, 3, 1).1 && !table.resolve(&t, 1, 3).1,
            "client still attached"
        );
        assert!(table.heal(&h("pg1"), &h("etcd"), true));
        assert!(!table.resolve(&t, 1, 0).1);
        assert!(table.resolve(&t, 1, 2).1);
    }

    #[test]
    fn unknown_names_and_bad_policies_are_refused() {
        let t = topo();
        let mut table = Table::default();
        let e = table
            .set(
                &t,
                Group::Zone("q".into()),
                Group::All,
                Policy::default(),
                false,
            )
            .unwrap_err();
        assert!(e.to_string().contains("unknown zone `q`"), "{e}");
        let bad = Policy {
            loss: -1.0,
            ..Policy::default()
        };
        assert!(table.set(&t, Group::All, Group::All, bad, false).is_err());
        assert!(table.rules.is_empty());
    }
}
