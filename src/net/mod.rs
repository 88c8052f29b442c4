//! Network emulation for the lab: hosts in zones with exact delays, bandwidth caps, loss,
//! stalls and partitions between them, all in user space over TUN devices (this kernel has no
//! netem; see DESIGN.md).
//!
//! Each host is a network namespace held by fd (never named, so nothing is left in /run/netns)
//! with `lo` and one TUN device carrying its address R1.R2.Z.H/16; the machine itself can be
//! one more host (a TUN in the root namespace). Every packet between hosts leaves through a
//! TUN into the router, which applies the link's policy and writes it into the destination's
//! TUN, either at once (a plain link) or from a per-link delay line with a precise timer. The
//! kernel does the rest (TCP, congestion control, retransmission), so replication, Patroni ↔
//! etcd, REST and client traffic all pay what the links say, without proxies per port.
//!
//! Why TUN and not veth + kernel qdiscs: delay must be added in user space anyway (no netem),
//! and keeping caps, loss and partitions in the same place gives one consistent model per link
//! and one place to undo: every device and namespace lives only as long as the router's fds,
//! so even kill -9 of the router leaves nothing behind.
//!
//! Files, one concern each: `clock` (precise waits), `delay` (the delay line), `link` (policy
//! and per-packet shaping), `table` (rules and precedence), `topology` (hosts, zones,
//! addresses), `netns`, `tun`, `iface` (kernel objects), `host` (running things in a host),
//! `router` (the data path), `control` (requests and answers), `daemon` (the router as a
//! process with a control socket), `client` (talking to it), `probe` (measured round trips).

pub mod client;
pub mod clock;
pub mod control;
pub mod daemon;
pub mod delay;
pub mod error;
pub mod host;
pub mod iface;
pub mod link;
pub mod netns;
pub mod probe;
pub mod router;
pub mod stamp;
pub mod table;
pub mod topology;
pub mod tun;

pub use client::RouterClient;
pub use error::Error;
pub use host::Host;
pub use link::{Jitter, Policy, Stall};
pub use probe::{RttStats, measure_rtt};
pub use router::{Change, InForce, Network};
pub use table::Group;
pub use topology::{HostSpec, NetSpec};
