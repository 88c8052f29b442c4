//! The lab's zones: which zone each member, etcd and this machine sit in, the round trip
//! between each pair of zones, and the lab network (src/net/) that makes every packet between
//! zones pay it — replication, Patroni ↔ etcd, Patroni ↔ Patroni, and clients ↔ PostgreSQL.
//!
//! Owns the zone map and how it becomes link policies; must not start lab daemons (the lab
//! does, inside the hosts this module names).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::process::Owned;
use crate::net::{self, Group, NetSpec, Policy, RouterClient};

/// Host names in the lab network.
pub const ETCD_HOST: &str = "etcd";
/// This machine: the load generator and every tool run on it.
pub const CLIENT_HOST: &str = "client";
/// The second octets of the 10.x.0.0/16 ranges a lab network may take.
const FIRST_RANGE: u8 = 89;
const LAST_RANGE: u8 = 120;

/// Where everything sits and how far apart the zones are.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Zones {
    /// The zone of each member, node1 first.
    pub members: Vec<String>,
    pub etcd: String,
    /// Where this machine sits (the load generator and every tool run here).
    pub client: String,
    /// Round trip between two different zones, in milliseconds, unless `rtt` names the pair.
    pub default_rtt_ms: f64,
    /// Round trips of particular pairs.
    #[serde(default)]
    pub rtt: Vec<ZoneRtt>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ZoneRtt {
    pub a: String,
    pub b: String,
    pub ms: f64,
}

/// A round trip measured between two zones once the lab was up.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MeasuredRtt {
    pub a: String,
    pub b: String,
    /// Between which hosts it was measured.
    pub hosts: (String, String),
    pub configured_ms: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

/// What results record of a zoned lab's network.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recorded {
    pub zones: Zones,
    pub measured: Vec<MeasuredRtt>,
}

/// What lab.json keeps of the network.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NetState {
    pub dir: PathBuf,
    pub router: Owned,
    pub zones: Zones,
    /// Each host's address.
    pub hosts: BTreeMap<String, String>,
    #[serde(default)]
    pub measured: Vec<MeasuredRtt>,
}

#[derive(Debug, thiserror::Error)]
pub enum ZoneError {
    #[error(
        "--zones {0}: give zone names separated by commas, e.g. a,b,c (one per member, in turn)"
    )]
    Names(String),
    #[error("--zone-rtt {0}: give milliseconds for every pair (e.g. 1) or pairs like a-b=1.5")]
    Rtt(String),
    #[error("zone {zone} ({what}) is not one of the members' zones {zones}")]
    UnknownZone {
        zone: String,
        what: &'static str,
        zones: String,
    },
}

impl Zones {
    /// Members take the zones in turn (node1 the first, node2 the second, ...); etcd and this
    /// machine sit in the first unless told otherwise. `rtt` items are a number of ms for every
    /// pair of zones, or `a-b=ms` for one pair.
    pub fn parse(
        names: &str,
        nodes: usize,
        rtt: &[String],
        etcd: Option<&str>,
        client: Option<&str>,
    ) -> Result<Zones, ZoneError> {
        let zones: Vec<String> = names.split(',').map(|z| z.trim().to_string()).collect();
        if zones.iter().any(|z| {
            z.is_empty()
                || !z
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        }) {
            return Err(ZoneError::Names(names.into()));
        }
        let members: Vec<String> = (0..nodes).map(|i| zones[i % zones.len()].clone()).collect();
        let known = |z: &str, what: &'static str| -> Result<String, ZoneError> {
            if zones.iter().any(|k| k == z) {
                Ok(z.to_string())
            } else {
                Err(ZoneError::UnknownZone {
                    zone: z.into(),
                    what,
                    zones: zones.join(", "),
                })
            }
        };
        let mut out = Zones {
            etcd: known(etcd.unwrap_or(&zones[0]), "--etcd-zone")?,
            client: known(client.unwrap_or(&zones[0]), "--client-zone")?,
            members,
            default_rtt_ms: 0.0,
            rtt: Vec::new(),
        };
        for item in rtt.iter().flat_map(|r| r.split(',')) {
            let item = item.trim();
            match item.split_once('=') {
                None => {
                    out.default_rtt_ms = parse_ms(item).ok_or(ZoneError::Rtt(item.into()))?;
                }
                Some((pair, ms)) => {
                    let (a, b) = pair.split_once('-').ok_or(ZoneError::Rtt(item.into()))?;
                    let ms = parse_ms(ms).ok_or(ZoneError::Rtt(item.into()))?;
                    out.rtt.push(ZoneRtt {
                        a: known(a.trim(), "--zone-rtt")?,
                        b: known(b.trim(), "--zone-rtt")?,
                        ms,
                    });
                }
            }
        }
        Ok(out)
    }

    /// Every zone, in order of first appearance (members first).
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        for z in self.members.iter().chain([&self.etcd, &self.client]) {
            if !names.contains(z) {
                names.push(z.clone());
            }
        }
        names
    }

    /// The round trip between two zones (0 within one).
    pub fn rtt_ms(&self, a: &str, b: &str) -> f64 {
        if a == b {
            return 0.0;
        }
        self.rtt
            .iter()
            .rev()
            .find(|r| (r.a == a && r.b == b) || (r.a == b && r.b == a))
            .map_or(self.default_rtt_ms, |r| r.ms)
    }

    /// Every pair of different zones, once.
    pub fn pairs(&self) -> Vec<(String, String)> {
        let names = self.names();
        let mut out = Vec::new();
        for (i, a) in names.iter().enumerate() {
            for b in &names[i + 1..] {
                out.push((a.clone(), b.clone()));
            }
        }
        out
    }

    /// One line: `node1 a, node2 b, node3 c, etcd a, this machine a; 1 ms between zones`.
    pub fn describe(&self) -> String {
        let mut parts: Vec<String> = self
            .members
            .iter()
            .enumerate()
            .map(|(i, z)| format!("node{} {z}", i + 1))
            .collect();
        parts.push(format!("etcd {}", self.etcd));
        parts.push(format!("this machine {}", self.client));
        let rtts: Vec<String> = self
            .pairs()
            .iter()
            .map(|(a, b)| format!("{a}-{b} {} ms", self.rtt_ms(a, b)))
            .collect();
        format!("{}; round trips {}", parts.join(", "), rtts.join(", "))
    }

    /// The lab network's hosts: etcd, the members, and this machine.
    fn spec(&self, member_names: &[String]) -> NetSpec {
        let mut hosts: Vec<(&str, &str)> = vec![(ETCD_HOST, &self.etcd)];
        for (name, zone) in member_names.iter().zip(&self.members) {
            hosts.push((name, zone));
        }
        hosts.push((CLIENT_HOST, &self.client));
        let mut spec = NetSpec::new(&hosts);
        if let Some(h) = spec.hosts.iter_mut().find(|h| h.name == CLIENT_HOST) {
            h.root = true;
        }
        spec
    }
}

fn parse_ms(text: &str) -> Option<f64> {
    text.trim()
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && (0.0..=500.0).contains(v))
}

/// Starts the lab network in `dir` (as a daemon that outlives this command) with every pair
/// of zones at its round trip; returns it and what lab.json keeps of it.
pub fn start(
    dir: &Path,
    zones: &Zones,
    member_names: &[String],
) -> Result<(RouterClient, NetState), net::Error> {
    let exe = std::env::current_exe()
        .map_err(|e| net::Error::io("cannot find the pgsyncbench program", e))?;
    let mut spec = zones.spec(member_names);
    // Each lab network takes a /16 of its own: the first 10.x.0.0/16 from 10.89 on that this
    // machine does not route yet (another lab's, say).
    let mut second = FIRST_RANGE;
    let router = loop {
        spec.range = [10, second];
        match RouterClient::start(&exe, &spec, dir) {
            Err(net::Error::RangeInUse { .. }) if second < LAST_RANGE => second += 1,
            other => break other?,
        }
    };
    let pid = router.pid();
    let state = NetState {
        dir: dir.to_path_buf(),
        router: Owned::of(pid).unwrap_or(Owned { pid, started: 0 }),
        zones: zones.clone(),
        hosts: router
            .state()
            .hosts
            .iter()
            .map(|h| (h.info.name.clone(), h.info.addr.to_string()))
            .collect(),
        measured: Vec::new(),
    };
    set_zone_rtts(&router, zones)?;
    Ok((router, state))
}

/// Puts every pair of zones at its round trip.
pub fn set_zone_rtts(router: &RouterClient, zones: &Zones) -> Result<(), net::Error> {
    for (a, b) in zones.pairs() {
        let us = (zones.rtt_ms(&a, &b) * 1000.0).round() as u64;
        router.set_link(
            Group::Zone(a),
            Group::Zone(b),
            Policy::with_rtt_us(us),
            true,
        )?;
    }
    Ok(())
}

/// The round trip between every pair of zones, measured between a host of each.
pub fn measure(router: &RouterClient, state: &NetState) -> Result<Vec<MeasuredRtt>, net::Error> {
    let zones = &state.zones;
    // A member stands for its zone; etcd or this machine where no member sits.
    let host_in = |zone: &str| -> String {
        zones
            .members
            .iter()
            .position(|z| z == zone)
            .map(|i| format!("node{}", i + 1))
            .unwrap_or_else(|| {
                if zones.etcd == zone {
                    ETCD_HOST.into()
                } else {
                    CLIENT_HOST.into()
                }
            })
    };
    let mut out = Vec::new();
    for (a, b) in zones.pairs() {
        let (ha, hb) = (host_in(&a), host_in(&b));
        let stats = net::measure_rtt(&router.host(&ha)?, &router.host(&hb)?, 50)?;
        out.push(MeasuredRtt {
            configured_ms: zones.rtt_ms(&a, &b),
            a,
            b,
            hosts: (ha, hb),
            p50_ms: stats.p50_us / 1000.0,
            p99_ms: stats.p99_us / 1000.0,
        });
    }
    Ok(out)
}

/// A member or a zone, for the network's faults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Place {
    Member(String),
    Zone(String),
}

impl std::fmt::Display for Place {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Place::Member(m) => write!(f, "{m}"),
            Place::Zone(z) => write!(f, "zone {z}"),
        }
    }
}

/// How a degraded place reaches everything outside it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Degradation {
    /// Round trip added to the zones' own, in ms.
    pub delay_ms: f64,
    pub bandwidth_kbit: Option<u64>,
    pub loss: f64,
}

impl NetState {
    pub fn recorded(&self) -> Recorded {
        Recorded {
            zones: self.zones.clone(),
            measured: self.measured.clone(),
        }
    }

    fn zone_of(&self, host: &str) -> &str {
        let z = &self.zones;
        match host {
            ETCD_HOST => &z.etcd,
            CLIENT_HOST => &z.client,
            member => member
                .strip_prefix("node")
                .and_then(|i| i.parse::<usize>().ok())
                .and_then(|i| z.members.get(i - 1))
                .map_or(&z.client, |s| s.as_str()),
        }
    }

    /// The hosts in `place` and those outside it (this machine among them only when
    /// `with_client`).
    fn split(
        &self,
        place: &Place,
        with_client: bool,
    ) -> Result<(Vec<String>, Vec<String>), net::Error> {
        let inside = |h: &str| match place {
            Place::Member(m) => h == m,
            Place::Zone(z) => self.zone_of(h) == z,
        };
        let known = match place {
            Place::Member(m) => self.hosts.contains_key(m),
            Place::Zone(z) => self.zones.names().contains(z),
        };
        if !known {
            return Err(net::Error::Unknown {
                kind: "member or zone",
                name: place.to_string(),
                known: self.hosts.keys().cloned().collect::<Vec<_>>().join(", "),
            });
        }
        let (ins, outs): (Vec<String>, Vec<String>) =
            self.hosts.keys().cloned().partition(|h| inside(h));
        let outs = outs
            .into_iter()
            .filter(|h| with_client || h != CLIENT_HOST)
            .collect();
        Ok((ins, outs))
    }
}

/// Links between `place` and everything outside it get the degradation on top of the zones'
/// own round trips. This machine's link to a degraded member is left alone: its clients are
/// not the path that degrades (a degraded zone degrades for clients outside it, though).
pub fn degrade(
    router: &RouterClient,
    state: &NetState,
    place: &Place,
    d: &Degradation,
) -> Result<(), net::Error> {
    let (ins, outs) = state.split(place, matches!(place, Place::Zone(_)))?;
    for a in &ins {
        for b in &outs {
            let base = state.zones.rtt_ms(state.zone_of(a), state.zone_of(b));
            let mut policy = Policy::with_rtt_us(((base + d.delay_ms) * 1000.0).round() as u64);
            policy.rate_bytes_per_s = d.bandwidth_kbit.map(|k| k * 1000 / 8);
            policy.loss = d.loss;
            router.set_link(Group::Host(a.clone()), Group::Host(b.clone()), policy, true)?;
        }
    }
    Ok(())
}

/// Cuts `place` off from everything outside it, both ways; this machine (the clients) stays
/// attached when `keep_clients`.
pub fn partition(
    router: &RouterClient,
    state: &NetState,
    place: &Place,
    keep_clients: bool,
) -> Result<(), net::Error> {
    let (ins, outs) = state.split(place, !keep_clients)?;
    for a in &ins {
        for b in &outs {
            router.partition(Group::Host(a.clone()), Group::Host(b.clone()), true)?;
        }
    }
    Ok(())
}

/// Every link as the zones say again: no degradation, no partition.
pub fn restore(router: &RouterClient, state: &NetState) -> Result<(), net::Error> {
    router.apply(net::Change::Reset)?;
    set_zone_rtts(router, &state.zones)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_take_the_zones_in_turn_and_pairs_get_their_round_trips() {
        let z = Zones::parse("a,b,c", 4, &["1".into(), "a-c=2.5".into()], None, Some("b")).unwrap();
        assert_eq!(z.members, ["a", "b", "c", "a"]);
        assert_eq!((z.etcd.as_str(), z.client.as_str()), ("a", "b"));
        assert_eq!(z.rtt_ms("a", "b"), 1.0);
        assert_eq!(z.rtt_ms("c", "a"), 2.5);
        assert_eq!(z.rtt_ms("b", "b"), 0.0);
        assert_eq!(z.pairs().len(), 3);
        assert!(z.describe().contains("node4 a"), "{}", z.describe());
    }

    #[test]
    fn bad_zone_specs_say_what_is_wrong() {
        assert!(matches!(
            Zones::parse("a,,c", 3, &[], None, None),
            Err(ZoneError::Names(_))
        ));
        assert!(matches!(
            Zones::parse("a,b", 3, &["fast".into()], None, None),
            Err(ZoneError::Rtt(_))
        ));
        assert!(matches!(
            Zones::parse("a,b", 3, &["a-x=1".into()], None, None),
            Err(ZoneError::UnknownZone { .. })
        ));
        assert!(matches!(
            Zones::parse("a,b", 3, &[], Some("z"), None),
            Err(ZoneError::UnknownZone { .. })
        ));
        assert!(Zones::parse("a,b", 3, &["600".into()], None, None).is_err());
    }

    #[test]
    fn this_machine_is_the_root_host_of_the_spec() {
        let z = Zones::parse("a,b", 2, &["1".into()], Some("b"), None).unwrap();
        let spec = z.spec(&["node1".into(), "node2".into()]);
        let names: Vec<(&str, &str, bool)> = spec
            .hosts
            .iter()
            .map(|h| (h.name.as_str(), h.zone.as_str(), h.root))
            .collect();
        assert_eq!(
            names,
            [
                ("etcd", "b", false),
                ("node1", "a", false),
                ("node2", "b", false),
                ("client", "a", true)
            ]
        );
    }
}
