//! Network emulation for the lab: hosts in zones with exact delays, bandwidth caps, loss,
//! stalls and partitions between them, all in user space over TUN devices (this kernel has no
//! netem).
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
//! Rules: a policy is set from a group of hosts (a host, a zone, or all) to another, one way or
//! both; the most recently set rule matching a pair wins, and clearing it reveals the one
//! below (so a scenario's `degrade` is undone by clearing exactly what it set). Partitions are
//! separate cuts, healed separately, so healing never loses a delay. Every change is in force
//! when the call returns.
//!
//! Precision (measured on this 2-core VM, often while others built and ran labs; see the
//! ignored `benchmark` test): a delay line releases within a few microseconds of due (median
//! 0–4 µs, p98 under 10 µs when the machine is quiet); a TCP round trip through the router at
//! R = 0.5–10 ms measures R plus the 0-delay baseline plus 10–45 µs, nearly all of it the
//! endpoints waking up after idling for R (a baseline paced by R takes most of that in); a
//! plain link adds about 10 µs to a loopback round trip (up to 45 µs under heavy load). The
//! price of precision is a busy wait of about the timer's wake-up lateness (20–80 µs here) per
//! release: 40–100 µs of router CPU per delayed packet, 7–20 µs per plain one.
//!
//! Lifetime: namespaces live while the router (or a process started inside them) holds them.
//! Lab daemons started in a host keep its namespace, without network, after the router is
//! gone: stop them first. Not root: `Error::NeedsRoot` (`Error::needs_root()`), for callers to
//! fall back to loopback relays (`lab::relay`, which uses this module's delay line).
//!
//! ```no_run
//! use pgsyncbench::net::{Group, NetSpec, Policy, RouterClient, measure_rtt};
//! # fn main() -> Result<(), pgsyncbench::net::Error> {
//! let spec = NetSpec::new(&[("etcd", "a"), ("pg1", "a"), ("pg2", "b"), ("pg3", "c")]);
//! let exe = std::env::current_exe().expect("own path");
//! let router = RouterClient::start(&exe, &spec, std::path::Path::new("/tmp/lab/net"))?;
//! // 1 ms between every pair of zones (0.5 ms each way); inside a zone, a plain wire.
//! for (x, y) in [("a", "b"), ("a", "c"), ("b", "c")] {
//!     router.set_link(Group::Zone(x.into()), Group::Zone(y.into()), Policy::with_rtt_us(1_000), true)?;
//! }
//! let pg1 = router.host("pg1")?;
//! let _postgres = pg1.command("/usr/lib/postgresql/15/bin/postgres").arg("-D").arg("/tmp/lab/pg1").spawn();
//! // Cut pg1 off from etcd and the other members (its own zone's clients still reach it).
//! router.partition(Group::Host("pg1".into()), Group::Zone("b".into()), true)?;
//! let measured = measure_rtt(&router.host("pg2")?, &router.host("pg3")?, 200)?;
//! println!("pg2 ↔ pg3: {:.0} µs", measured.p50_us);
//! router.heal_all()?;
//! router.stop()?; // or leave it running: `RouterClient::open(dir)` finds it again
//! # Ok(()) }
//! ```
//!
//! Files, one concern each: `clock` (precise waits, prompt threads), `delay` (the delay line),
//! `link` (policy and per-packet shaping), `table` (rules and precedence), `topology` (hosts,
//! zones, addresses), `netns`, `tun`, `iface` (kernel objects), `host` (running things in a
//! host), `router` (the data path), `control` (requests, answers, files), `daemon` (the router
//! as a process), `client` (talking to it), `probe` (measured round trips), `stamp` (kernel
//! arrival times for TCP, used by the relay).

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
