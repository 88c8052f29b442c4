//! A lab host as callers see it: its name, zone, address and network namespace, and the ways
//! to run something there (a daemon started with `command`, or code with `enter`). Owns
//! nothing of the router: a `Host` stays valid only while its namespace is held (by the router
//! or a process inside it).

use std::net::Ipv4Addr;
use std::process::Command;

use super::error::Error;
use super::netns::Netns;
use super::topology::HostInfo;

#[derive(Clone, Debug)]
pub struct Host {
    pub name: String,
    pub zone: String,
    pub addr: Ipv4Addr,
    netns: Netns,
}

impl Host {
    pub fn new(info: &HostInfo, netns: Netns) -> Host {
        Host {
            name: info.name.clone(),
            zone: info.zone.clone(),
            addr: info.addr,
            netns,
        }
    }

    /// A command that starts inside this host (its network namespace; everything else, such as
    /// files, users and other namespaces, is the machine's). Daemons bind `addr` or 0.0.0.0.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        self.netns.command(program)
    }

    /// Makes an existing command start inside this host.
    pub fn place(&self, cmd: &mut Command) {
        self.netns.place(cmd)
    }

    /// Runs `f` on a thread inside this host; sockets it makes belong to the host.
    pub fn enter<R: Send>(&self, f: impl FnOnce() -> R + Send) -> Result<R, Error> {
        self.netns.enter(f)
    }

    pub fn netns(&self) -> &Netns {
        &self.netns
    }
}
