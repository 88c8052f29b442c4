//! The router: builds the hosts (a namespace and a TUN device each, or a TUN in the caller's
//! namespace for the root host), moves every packet between them through its link (policy,
//! shaper, delay line), and applies rule changes. Owns the threads doing that and everything
//! it created: dropping the `Network` (or the process ending, even by kill -9) closes the
//! TUN fds and namespace fds, and the kernel removes the devices, their routes and the
//! namespaces (unless a process still runs inside one). Must not spawn lab daemons or talk
//! to callers (see `daemon`).
//!
//! One reader thread per host polls its TUN and forwards each packet in its own context: a
//! packet on a plain, idle link is written to the destination TUN at once (no timer, no queue:
//! the cost at 0 is a read and a write). Each link has a single producer (the source host's
//! reader), so "the link's delay line is idle" is a sound test that bypassing it cannot
//! overtake a packet. Other packets go to the link's delay line, released by its own thread.

use std::collections::HashMap;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::clock::{self, AwakeCpus, Promptness};
use super::delay::{DelayLine, LineStats};
use super::error::Error;
use super::host::Host;
use super::iface;
use super::link::{DropReason, Policy, Shaper, Stall, Verdict};
use super::netns::Netns;
use super::table::{Group, Table};
use super::topology::{HostInfo, NetSpec, PREFIX_LEN, Topology};
use super::tun::{self, Tun};

/// Bytes a link may hold in flight before dropping (a 500 ms path at 1 Gbit/s holds 62 MB).
const LINE_CAPACITY: usize = 64 << 20;
/// Read buffer: larger than any MTU allowed.
const BUF: usize = 65_536;
/// The root host's TUN name pattern (the kernel numbers it).
const ROOT_TUN: &str = "psbnet%d";
/// Each host namespace's TUN name.
const HOST_TUN: &str = "lab0";

/// A running lab network.
pub struct Network {
    inner: Arc<Inner>,
    stop: OwnedFd,
    readers: Vec<JoinHandle<()>>,
}

struct Inner {
    topo: Topology,
    hosts: Vec<HostRt>,
    by_addr: HashMap<u32, usize>,
    /// n × n, index from × n + to.
    links: Vec<Mutex<Link>>,
    table: Mutex<Table>,
    realtime_granted: Mutex<Option<bool>>,
    awake: Option<AwakeCpus>,
}

struct HostRt {
    netns: Netns,
    tun: Arc<Tun>,
}

struct Link {
    policy: Policy,
    cut: bool,
    shaper: Shaper,
    line: Option<DelayLine<Vec<u8>>>,
    counts: Counts,
}

/// Packets seen on one link since the network started.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Counts {
    pub forwarded: u64,
    pub delayed: u64,
    pub dropped_partition: u64,
    pub dropped_loss: u64,
    pub dropped_stall: u64,
    pub dropped_queue_full: u64,
}

/// A change to the rules in force.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Change {
    /// Traffic from `from` to `to` (and back when both_ways) follows `policy`.
    Set {
        from: Group,
        to: Group,
        policy: Policy,
        #[serde(default)]
        both_ways: bool,
    },
    /// Removes the rule set with exactly these groups.
    Clear {
        from: Group,
        to: Group,
        #[serde(default)]
        both_ways: bool,
    },
    /// Drops traffic from `from` to `to` (and back when both_ways).
    Partition {
        from: Group,
        to: Group,
        #[serde(default)]
        both_ways: bool,
    },
    /// Removes the partition made with exactly these groups.
    Heal {
        from: Group,
        to: Group,
        #[serde(default)]
        both_ways: bool,
    },
    /// Removes every partition.
    HealAll,
    /// Removes every rule and partition: every link a plain wire again.
    Reset,
}

/// What is in force: hosts, rules, and each link that is not a plain wire or saw traffic.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InForce {
    pub range: String,
    pub hosts: Vec<HostInfo>,
    pub table: Table,
    pub links: Vec<LinkState>,
    /// Whether the router's threads got real-time priority (None: not asked).
    pub realtime: Option<bool>,
    /// Whether idle CPUs are kept polling (see `clock::AwakeCpus`).
    pub cpus_kept_awake: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LinkState {
    pub from: String,
    pub to: String,
    pub policy: Policy,
    pub partitioned: bool,
    pub counts: Counts,
    /// How late the link's delay line released packets (absent when it never ran).
    pub lateness: Option<LineStats>,
}

impl Network {
    /// Builds the hosts and starts routing between them. Needs root (`Error::NeedsRoot`
    /// otherwise). A root host joins the caller's thread's namespace (normally the machine's)
    /// with a route for the whole range; refused when the range is routed there already.
    pub fn start(spec: &NetSpec) -> Result<Network, Error> {
        let topo = Topology::new(spec)?;
        if topo.hosts.iter().any(|h| h.root)
            && let Some(route) = iface::overlapping_route(topo.range, PREFIX_LEN)?
        {
            return Err(Error::RangeInUse {
                range: topo.range_text(),
                route,
            });
        }
        let mut hosts = Vec::with_capacity(topo.hosts.len());
        for h in &topo.hosts {
            hosts.push(build_host(h, topo.mtu)?);
        }
        let n = hosts.len();
        let by_addr = topo
            .hosts
            .iter()
            .enumerate()
            .map(|(i, h)| (u32::from(h.addr), i))
            .collect();
        let links = (0..n * n)
            .map(|i| {
                Mutex::new(Link {
                    policy: Policy::default(),
                    cut: false,
                    shaper: Shaper::new(seed(i)),
                    line: None,
                    counts: Counts::default(),
                })
            })
            .collect();
        let inner = Arc::new(Inner {
            topo,
            hosts,
            by_addr,
            links,
            table: Mutex::new(Table::default()),
            realtime_granted: Mutex::new(None),
            awake: if spec.keep_cpus_awake {
                AwakeCpus::hold().ok()
            } else {
                None
            },
        });
        // SAFETY: plain eventfd(2); owned at once.
        let efd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        if efd < 0 {
            return Err(Error::io(
                "cannot create the router's stop signal (eventfd)",
                std::io::Error::last_os_error(),
            ));
        }
        // SAFETY: efd is a fresh descriptor nobody else owns.
        let stop = unsafe { OwnedFd::from_raw_fd(efd) };
        let mut net = Network {
            inner: inner.clone(),
            stop,
            readers: Vec::new(),
        };
        for i in 0..n {
            let inner = inner.clone();
            let stop_fd = net.stop.as_raw_fd();
            let t = std::thread::Builder::new()
                .name(format!("net-read-{i}"))
                .spawn(move || reader(&inner, i, stop_fd))
                .map_err(|e| Error::io("cannot start a router thread", e))?;
            net.readers.push(t);
        }
        Ok(net)
    }

    /// A host by name, to run things in.
    pub fn host(&self, name: &str) -> Result<Host, Error> {
        let i = self.inner.topo.index_of(name)?;
        Ok(Host::new(
            &self.inner.topo.hosts[i],
            self.inner.hosts[i].netns.clone(),
        ))
    }

    pub fn hosts(&self) -> Vec<Host> {
        self.inner
            .topo
            .hosts
            .iter()
            .zip(&self.inner.hosts)
            .map(|(info, rt)| Host::new(info, rt.netns.clone()))
            .collect()
    }

    /// The TUN device of the root host, if there is one (its name in the caller's namespace).
    pub fn root_device(&self) -> Option<String> {
        self.inner
            .topo
            .hosts
            .iter()
            .zip(&self.inner.hosts)
            .find(|(h, _)| h.root)
            .map(|(_, rt)| rt.tun.name().to_string())
    }

    /// Applies a change; every packet routed after this returns follows it.
    pub fn apply(&self, change: Change) -> Result<InForce, Error> {
        self.inner.apply(change)?;
        Ok(self.in_force())
    }

    /// Sets a policy between two groups (see `Change::Set`).
    pub fn set_link(
        &self,
        from: Group,
        to: Group,
        policy: Policy,
        both_ways: bool,
    ) -> Result<InForce, Error> {
        self.apply(Change::Set {
            from,
            to,
            policy,
            both_ways,
        })
    }

    pub fn partition(&self, from: Group, to: Group, both_ways: bool) -> Result<InForce, Error> {
        self.apply(Change::Partition {
            from,
            to,
            both_ways,
        })
    }

    pub fn heal_all(&self) -> Result<InForce, Error> {
        self.apply(Change::HealAll)
    }

    pub fn in_force(&self) -> InForce {
        self.inner.in_force()
    }
}

impl Drop for Network {
    fn drop(&mut self) {
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a valid u64 to our eventfd; every reader polls it.
        unsafe {
            libc::write(
                self.stop.as_raw_fd(),
                (&one as *const u64).cast(),
                std::mem::size_of::<u64>(),
            )
        };
        for t in self.readers.drain(..) {
            let _ = t.join();
        }
        // The last Arc<Inner> goes here: delay lines stop, TUN and namespace fds close.
    }
}

fn seed(i: usize) -> u64 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    t ^ (i as u64).rotate_left(32) ^ u64::from(std::process::id())
}

/// Makes one host: a new namespace with `lo` up and a TUN carrying its address, or for the
/// root host a TUN in the calling thread's namespace.
fn build_host(h: &HostInfo, mtu: u32) -> Result<HostRt, Error> {
    let setup = |pattern: &str| -> Result<Tun, Error> {
        let tun = Tun::create(pattern)?;
        iface::configure(tun.name(), h.addr, PREFIX_LEN, mtu)?;
        Ok(tun)
    };
    let (netns, tun) = if h.root {
        (Netns::current()?, setup(ROOT_TUN)?)
    } else {
        let ns = Netns::create()?;
        let tun = ns.enter(|| {
            iface::set_up("lo")?;
            setup(HOST_TUN)
        })??;
        (ns, tun)
    };
    Ok(HostRt {
        netns,
        tun: Arc::new(tun),
    })
}

fn reader(inner: &Inner, me: usize, stop_fd: i32) {
    let got = clock::make_thread_prompt(inner.topo.realtime);
    inner.note_promptness(got);
    let tun = &inner.hosts[me].tun;
    let mut buf = vec![0u8; BUF];
    let mut fds = [
        libc::pollfd {
            fd: tun.raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        },
        libc::pollfd {
            fd: stop_fd,
            events: libc::POLLIN,
            revents: 0,
        },
    ];
    loop {
        // SAFETY: fds is a valid array of two pollfd.
        let r = unsafe { libc::poll(fds.as_mut_ptr(), 2, -1) };
        if r < 0 {
            if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return;
        }
        if fds[1].revents != 0 {
            return;
        }
        // Drain every packet waiting: one poll per burst, not per packet.
        loop {
            match tun.recv(&mut buf) {
                Ok(n) => inner.route(me, &buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => return,
            }
        }
    }
}

impl Inner {
    fn link(&self, from: usize, to: usize) -> MutexGuard<'_, Link> {
        // A poisoned link only means a panic elsewhere; its state is still consistent.
        self.links[from * self.hosts.len() + to]
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    fn note_promptness(&self, got: Promptness) {
        if self.topo.realtime {
            let mut r = self
                .realtime_granted
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            *r = Some(r.unwrap_or(true) && got.realtime);
        }
    }

    fn route(&self, me: usize, packet: &[u8]) {
        let Some((_, dst)) = tun::ipv4_endpoints(packet) else {
            return;
        };
        let Some(&to) = self.by_addr.get(&dst) else {
            return;
        };
        if to == me {
            return;
        }
        let now = Instant::now();
        let mut guard = self.link(me, to);
        let link = &mut *guard;
        let due = match link.shaper.admit(&link.policy, link.cut, now, packet.len()) {
            Verdict::Drop(reason) => {
                link.counts.count_drop(reason);
                return;
            }
            Verdict::Now if link.line.as_ref().is_none_or(|l| l.is_idle()) => {
                link.counts.forwarded += 1;
                drop(guard);
                let _ = self.hosts[to].tun.send(packet);
                return;
            }
            Verdict::Now => now,
            Verdict::At(due) => due,
        };
        if link.line.is_none() {
            match self.start_line(me, to) {
                Ok(line) => link.line = Some(line),
                Err(_) => {
                    link.counts.dropped_queue_full += 1;
                    return;
                }
            }
        }
        if let Some(line) = &link.line {
            match line.push(due, packet.to_vec(), packet.len()) {
                Ok(()) => link.counts.delayed += 1,
                Err(_) => link.counts.dropped_queue_full += 1,
            }
        }
    }

    fn start_line(&self, from: usize, to: usize) -> std::io::Result<DelayLine<Vec<u8>>> {
        let dst = self.hosts[to].tun.clone();
        let line = DelayLine::start(
            &format!("net-line-{from}-{to}"),
            LINE_CAPACITY,
            self.topo.realtime,
            move |p: Vec<u8>| {
                let _ = dst.send(&p);
            },
        )?;
        self.note_promptness(line.promptness());
        Ok(line)
    }

    fn apply(&self, change: Change) -> Result<(), Error> {
        let mut table = self.table.lock().unwrap_or_else(|p| p.into_inner());
        let mut next = table.clone();
        let topo = &self.topo;
        match change {
            Change::Set {
                from,
                to,
                policy,
                both_ways,
            } => next.set(topo, from, to, policy, both_ways)?,
            Change::Clear {
                from,
                to,
                both_ways,
            } => {
                next.clear(&from, &to, both_ways);
            }
            Change::Partition {
                from,
                to,
                both_ways,
            } => next.partition(topo, from, to, both_ways)?,
            Change::Heal {
                from,
                to,
                both_ways,
            } => {
                next.heal(&from, &to, both_ways);
            }
            Change::HealAll => next.cuts.clear(),
            Change::Reset => next = Table::default(),
        }
        let n = self.hosts.len();
        for a in 0..n {
            for b in (0..n).filter(|b| *b != a) {
                let (policy, cut) = next.resolve(topo, a, b);
                let mut link = self.link(a, b);
                if link.policy.rate_bytes_per_s != policy.rate_bytes_per_s
                    || link.policy.burst_bytes != policy.burst_bytes
                {
                    link.shaper.reset_bucket();
                }
                // Start the line now rather than on the first packet: starting a thread costs
                // tens of microseconds the first packet would pay.
                if !policy.is_plain() && link.line.is_none() {
                    let line = self
                        .start_line(a, b)
                        .map_err(|e| Error::io("cannot start a delay line thread", e))?;
                    link.line = Some(line);
                }
                if let Some(line) = &link.line {
                    line.set_held(policy.stall == Stall::Hold);
                }
                link.policy = policy;
                link.cut = cut;
            }
        }
        *table = next;
        Ok(())
    }

    fn in_force(&self) -> InForce {
        let table = self.table.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let n = self.hosts.len();
        let mut links = Vec::new();
        for a in 0..n {
            for b in (0..n).filter(|b| *b != a) {
                let link = self.link(a, b);
                if link.policy != Policy::default() || link.cut || link.counts != Counts::default()
                {
                    links.push(LinkState {
                        from: self.topo.hosts[a].name.clone(),
                        to: self.topo.hosts[b].name.clone(),
                        policy: link.policy.clone(),
                        partitioned: link.cut,
                        counts: link.counts.clone(),
                        lateness: link.line.as_ref().map(|l| l.stats()),
                    });
                }
            }
        }
        InForce {
            range: self.topo.range_text(),
            hosts: self.topo.hosts.clone(),
            table,
            links,
            realtime: *self
                .realtime_granted
                .lock()
                .unwrap_or_else(|p| p.into_inner()),
            cpus_kept_awake: self.awake.is_some(),
        }
    }
}

impl Counts {
    fn count_drop(&mut self, reason: DropReason) {
        match reason {
            DropReason::Partition => self.dropped_partition += 1,
            DropReason::Loss => self.dropped_loss += 1,
            DropReason::Stall => self.dropped_stall += 1,
            DropReason::QueueFull => self.dropped_queue_full += 1,
        }
    }
}
