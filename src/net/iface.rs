//! Interface configuration by ioctl, in the calling thread's network namespace: bring an
//! interface up, give it an IPv4 address with a prefix (the kernel adds the connected route)
//! and an MTU; and the root namespace's IPv4 routes (/proc/net/route), to refuse a range in
//! use. No netlink and no `ip` program needed. Must not create devices or namespaces.

use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use super::error::Error;

/// An interface name as the kernel wants it (NUL-terminated, at most 15 bytes).
fn ifreq_for(name: &str) -> Result<libc::ifreq, Error> {
    // SAFETY: ifreq is plain data; all zeroes is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    if name.len() >= libc::IFNAMSIZ || name.contains('\0') {
        return Err(Error::Spec(format!("interface name `{name}` is too long")));
    }
    for (dst, src) in req.ifr_name.iter_mut().zip(name.bytes()) {
        *dst = src as libc::c_char;
    }
    Ok(req)
}

fn sockaddr_in(addr: Ipv4Addr) -> libc::sockaddr {
    let sin = libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: 0,
        sin_addr: libc::in_addr {
            s_addr: u32::from(addr).to_be(),
        },
        sin_zero: [0; 8],
    };
    // SAFETY: sockaddr_in and sockaddr have the same size; the kernel reads it as sockaddr_in.
    unsafe { std::mem::transmute::<libc::sockaddr_in, libc::sockaddr>(sin) }
}

/// A socket to issue interface ioctls on, in the calling thread's namespace.
fn control_socket() -> Result<OwnedFd, Error> {
    // SAFETY: plain socket(2) call; the fd is owned right after.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(Error::io(
            "cannot open a socket to configure interfaces",
            std::io::Error::last_os_error(),
        ));
    }
    // SAFETY: fd is a fresh descriptor nobody else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn ioctl(
    sock: &OwnedFd,
    request: libc::Ioctl,
    req: &mut libc::ifreq,
    what: &'static str,
) -> Result<(), Error> {
    // SAFETY: req is a valid ifreq for these SIOC* requests, which read or write only it.
    if unsafe { libc::ioctl(sock.as_raw_fd(), request, req as *mut libc::ifreq) } != 0 {
        return Err(Error::privileged(what, std::io::Error::last_os_error()));
    }
    Ok(())
}

/// Sets `name` up (IFF_UP), keeping its other flags.
pub fn set_up(name: &str) -> Result<(), Error> {
    let sock = control_socket()?;
    let mut req = ifreq_for(name)?;
    ioctl(
        &sock,
        libc::SIOCGIFFLAGS as libc::Ioctl,
        &mut req,
        "reading interface flags",
    )?;
    // SAFETY: SIOCGIFFLAGS filled the flags member of the union.
    unsafe { req.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short };
    ioctl(
        &sock,
        libc::SIOCSIFFLAGS as libc::Ioctl,
        &mut req,
        "bringing an interface up",
    )
}

/// Gives `name` the address `addr/prefix` and `mtu`, then sets it up: the kernel adds the
/// connected route for the prefix through it.
pub fn configure(name: &str, addr: Ipv4Addr, prefix: u8, mtu: u32) -> Result<(), Error> {
    let sock = control_socket()?;
    let mut req = ifreq_for(name)?;
    req.ifr_ifru.ifru_addr = sockaddr_in(addr);
    ioctl(
        &sock,
        libc::SIOCSIFADDR as libc::Ioctl,
        &mut req,
        "setting an interface address",
    )?;
    let mut req = ifreq_for(name)?;
    req.ifr_ifru.ifru_netmask = sockaddr_in(netmask(prefix));
    ioctl(
        &sock,
        libc::SIOCSIFNETMASK as libc::Ioctl,
        &mut req,
        "setting an interface netmask",
    )?;
    let mut req = ifreq_for(name)?;
    req.ifr_ifru.ifru_mtu = mtu as libc::c_int;
    ioctl(
        &sock,
        libc::SIOCSIFMTU as libc::Ioctl,
        &mut req,
        "setting an interface MTU",
    )?;
    set_up(name)
}

pub fn netmask(prefix: u8) -> Ipv4Addr {
    Ipv4Addr::from(
        u32::MAX
            .checked_shl(32 - u32::from(prefix.min(32)))
            .unwrap_or(0),
    )
}

/// The first IPv4 route of the calling thread's namespace that overlaps `net/prefix`, as
/// text (`10.89.0.0/16 dev eth1`), ignoring default routes (they overlap everything).
pub fn overlapping_route(net: Ipv4Addr, prefix: u8) -> Result<Option<String>, Error> {
    let table = std::fs::read_to_string("/proc/net/route")
        .map_err(|e| Error::io("cannot read /proc/net/route", e))?;
    Ok(find_overlap(&table, net, prefix))
}

/// Parses /proc/net/route.
fn find_overlap(table: &str, net: Ipv4Addr, prefix: u8) -> Option<String> {
    let ours = u32::from(net) & u32::from(netmask(prefix));
    for line in table.lines().skip(1) {
        let f: Vec<&str> = line.split_whitespace().collect();
        let (Some(dev), Some(dst), Some(mask)) = (f.first(), f.get(1), f.get(7)) else {
            continue;
        };
        let (Ok(dst), Ok(mask)) = (u32::from_str_radix(dst, 16), u32::from_str_radix(mask, 16))
        else {
            continue;
        };
        // The file prints each address's bytes (network order) read as a native integer.
        let (dst, mask) = (
            u32::from_be_bytes(dst.to_ne_bytes()),
            u32::from_be_bytes(mask.to_ne_bytes()),
        );
        if mask == 0 {
            continue;
        }
        // Two prefixes overlap when they agree on the shorter of the two masks.
        let common = mask & u32::from(netmask(prefix));
        if dst & common == ours & common {
            return Some(format!(
                "{}/{} dev {dev}",
                Ipv4Addr::from(dst),
                mask.count_ones()
            ));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: &str =
        "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT
eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0
docker0\t000011AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0
eth1\t0000590A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0
";

    #[test]
    fn overlapping_routes_are_found_and_the_default_route_ignored() {
        let ten89 = Ipv4Addr::new(10, 89, 0, 0);
        assert_eq!(
            find_overlap(TABLE, ten89, 16).as_deref(),
            Some("10.89.0.0/24 dev eth1")
        );
        assert_eq!(find_overlap(TABLE, Ipv4Addr::new(10, 90, 0, 0), 16), None);
        assert!(find_overlap(TABLE, Ipv4Addr::new(172, 17, 5, 0), 24).is_some());
        assert_eq!(find_overlap(TABLE, Ipv4Addr::new(172, 18, 0, 0), 16), None);
    }

    #[test]
    fn netmasks() {
        assert_eq!(netmask(16), Ipv4Addr::new(255, 255, 0, 0));
        assert_eq!(netmask(0), Ipv4Addr::new(0, 0, 0, 0));
        assert_eq!(netmask(32), Ipv4Addr::new(255, 255, 255, 255));
    }
}
