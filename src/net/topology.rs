//! The lab network's shape: hosts placed in zones, and the address each gets. Owns validating
//! a spec and numbering: zone Z (1-based, in order of first appearance) and host H (1-based
//! within its zone) get R1.R2.Z.H in the range R1.R2.0.0/16. Must not create anything.

use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};

use super::error::Error;

/// What to build: the hosts (each in a zone), the address range and the MTU.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetSpec {
    /// The first two octets of the lab's /16 (default 10.89).
    #[serde(default = "default_range")]
    pub range: [u8; 2],
    /// MTU of every host's interface (default 9000, as inside a cloud region: fewer packets
    /// for the router to move than 1500).
    #[serde(default = "default_mtu")]
    pub mtu: u32,
    /// Give the router's threads real-time priority when permitted (default true): releases
    /// stay on time while builds or benchmarks keep both cores busy.
    #[serde(default = "default_true")]
    pub realtime: bool,
    /// Keep idle CPUs polling rather than halting while the network runs (default true; see
    /// `clock::AwakeCpus`): otherwise a receiver that slept through a long delay wakes late.
    #[serde(default = "default_true")]
    pub keep_cpus_awake: bool,
    pub hosts: Vec<HostSpec>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostSpec {
    pub name: String,
    pub zone: String,
    /// This host is the machine itself (the root namespace: the harness, tests and users'
    /// tools), reaching the lab through one more interface and a route for the range. At most
    /// one host may be it; the range must not be routed already.
    #[serde(default)]
    pub root: bool,
}

fn default_range() -> [u8; 2] {
    [10, 89]
}
fn default_mtu() -> u32 {
    9000
}
fn default_true() -> bool {
    true
}

impl NetSpec {
    /// A spec with the defaults and these (name, zone) hosts, none of them the root.
    pub fn new(hosts: &[(&str, &str)]) -> NetSpec {
        NetSpec {
            range: default_range(),
            mtu: default_mtu(),
            realtime: true,
            keep_cpus_awake: true,
            hosts: hosts
                .iter()
                .map(|(name, zone)| HostSpec {
                    name: name.to_string(),
                    zone: zone.to_string(),
                    root: false,
                })
                .collect(),
        }
    }
}

/// One host with its place and address.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HostInfo {
    pub name: String,
    pub zone: String,
    pub addr: Ipv4Addr,
    pub root: bool,
}

/// A validated spec: hosts numbered and addressed.
#[derive(Clone, Debug, PartialEq)]
pub struct Topology {
    pub hosts: Vec<HostInfo>,
    pub zones: Vec<String>,
    pub range: Ipv4Addr,
    pub mtu: u32,
    pub realtime: bool,
    pub keep_cpus_awake: bool,
}

pub const PREFIX_LEN: u8 = 16;

impl Topology {
    pub fn new(spec: &NetSpec) -> Result<Topology, Error> {
        if spec.hosts.is_empty() {
            return Err(Error::Spec("no hosts: give at least two".into()));
        }
        if !(576..=65_535).contains(&spec.mtu) {
            return Err(Error::Spec(format!(
                "mtu {} is out of range: use 576 to 65535",
                spec.mtu
            )));
        }
        if spec.hosts.iter().filter(|h| h.root).count() > 1 {
            return Err(Error::Spec(
                "more than one host is the root namespace: mark one at most".into(),
            ));
        }
        let mut zones: Vec<String> = Vec::new();
        let mut hosts: Vec<HostInfo> = Vec::new();
        for h in &spec.hosts {
            for (what, name) in [("host", &h.name), ("zone", &h.zone)] {
                if !valid_name(name) {
                    return Err(Error::Spec(format!(
                        "{what} name `{name}`: use 1 to 32 letters, digits, '-', '_' or '.'"
                    )));
                }
            }
            if hosts.iter().any(|o| o.name == h.name) {
                return Err(Error::Spec(format!("host `{}` is named twice", h.name)));
            }
            let z = match zones.iter().position(|z| *z == h.zone) {
                Some(z) => z,
                None => {
                    zones.push(h.zone.clone());
                    zones.len() - 1
                }
            };
            let in_zone = hosts.iter().filter(|o| o.zone == h.zone).count();
            if z >= 254 || in_zone >= 254 {
                return Err(Error::Spec(
                    "too many zones or hosts in a zone: at most 254 each".into(),
                ));
            }
            hosts.push(HostInfo {
                name: h.name.clone(),
                zone: h.zone.clone(),
                addr: Ipv4Addr::new(spec.range[0], spec.range[1], z as u8 + 1, in_zone as u8 + 1),
                root: h.root,
            });
        }
        if let Some(h) = hosts.iter().find(|h| zones.contains(&h.name)) {
            return Err(Error::Spec(format!(
                "`{}` is both a host and a zone: name them apart",
                h.name
            )));
        }
        Ok(Topology {
            hosts,
            zones,
            range: Ipv4Addr::new(spec.range[0], spec.range[1], 0, 0),
            mtu: spec.mtu,
            realtime: spec.realtime,
            keep_cpus_awake: spec.keep_cpus_awake,
        })
    }

    pub fn index_of(&self, host: &str) -> Result<usize, Error> {
        self.hosts
            .iter()
            .position(|h| h.name == host)
            .ok_or_else(|| Error::Unknown {
                kind: "host",
                name: host.to_string(),
                known: self
                    .hosts
                    .iter()
                    .map(|h| h.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }

    /// The range as text, e.g. 10.89.0.0/16.
    pub fn range_text(&self) -> String {
        format!("{}/{PREFIX_LEN}", self.range)
    }
}

fn valid_name(s: &str) -> bool {
    (1..=32).contains(&s.len())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_are_numbered_by_zone() {
        let t = Topology::new(&NetSpec::new(&[
            ("etcd", "a"),
            ("pg1", "a"),
            ("pg2", "b"),
            ("pg3", "c"),
        ]))
        .unwrap();
        let addrs: Vec<String> = t.hosts.iter().map(|h| h.addr.to_string()).collect();
        assert_eq!(addrs, ["10.89.1.1", "10.89.1.2", "10.89.2.1", "10.89.3.1"]);
        assert_eq!(t.zones, ["a", "b", "c"]);
        assert_eq!(t.index_of("pg2").unwrap(), 2);
        assert!(
            t.index_of("pg9")
                .unwrap_err()
                .to_string()
                .contains("pg1, pg2")
        );
    }

    #[test]
    fn bad_specs_are_refused_saying_why() {
        let err = |s: NetSpec| Topology::new(&s).unwrap_err().to_string();
        assert!(err(NetSpec::new(&[])).contains("no hosts"));
        assert!(err(NetSpec::new(&[("a", "z"), ("a", "y")])).contains("named twice"));
        assert!(err(NetSpec::new(&[("a", "b"), ("b", "c")])).contains("both a host and a zone"));
        assert!(err(NetSpec::new(&[("a b", "z")])).contains("letters"));
        let mut two_roots = NetSpec::new(&[("a", "z"), ("b", "z")]);
        two_roots.hosts.iter_mut().for_each(|h| h.root = true);
        assert!(err(two_roots).contains("root"));
    }
}
