//! TUN devices: a layer-3 interface whose packets (plain IPv4, no header: IFF_NO_PI) are read
//! and written through a file descriptor. Non-persistent: the device, its addresses and routes
//! vanish when the fd closes, even on kill -9 of the process holding it. Owns creating the
//! device and packet I/O on it; configuration is `iface`'s, routing the router's.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;

use super::error::Error;

#[derive(Debug)]
pub struct Tun {
    file: File,
    name: String,
}

impl Tun {
    /// Creates a TUN device in the calling thread's network namespace, named after `pattern`
    /// (`%d` is replaced by the kernel with the first free number). Non-blocking.
    pub fn create(pattern: &str) -> Result<Tun, Error> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open("/dev/net/tun")
            .map_err(|e| Error::privileged("opening /dev/net/tun", e))?;
        // SAFETY: ifreq is plain data; all zeroes is valid.
        let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
        if pattern.len() >= libc::IFNAMSIZ {
            return Err(Error::Spec(format!(
                "TUN name pattern `{pattern}` is too long"
            )));
        }
        for (d, s) in req.ifr_name.iter_mut().zip(pattern.bytes()) {
            *d = s as libc::c_char;
        }
        req.ifr_ifru.ifru_flags = (libc::IFF_TUN | libc::IFF_NO_PI) as libc::c_short;
        // SAFETY: TUNSETIFF reads and writes the ifreq passed; the fd is /dev/net/tun.
        if unsafe {
            libc::ioctl(
                file.as_raw_fd(),
                libc::TUNSETIFF,
                &mut req as *mut libc::ifreq,
            )
        } != 0
        {
            return Err(Error::privileged(
                "creating a TUN device",
                std::io::Error::last_os_error(),
            ));
        }
        let name: String = req
            .ifr_name
            .iter()
            .take_while(|c| **c != 0)
            .map(|c| *c as u8 as char)
            .collect();
        Ok(Tun { file, name })
    }

    /// The device's name in its namespace.
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn raw_fd(&self) -> i32 {
        self.file.as_raw_fd()
    }

    /// Reads one packet; `WouldBlock` when none is waiting.
    pub fn recv(&self, buf: &mut [u8]) -> std::io::Result<usize> {
        (&self.file).read(buf)
    }

    /// Writes one packet into the device's namespace, as if it arrived from the wire.
    pub fn send(&self, packet: &[u8]) -> std::io::Result<usize> {
        (&self.file).write(packet)
    }
}

/// The IPv4 source and destination of a packet, or None for anything else (IPv6, runts).
pub fn ipv4_endpoints(packet: &[u8]) -> Option<(u32, u32)> {
    if packet.len() < 20 || packet[0] >> 4 != 4 {
        return None;
    }
    let src = u32::from_be_bytes([packet[12], packet[13], packet[14], packet[15]]);
    let dst = u32::from_be_bytes([packet[16], packet[17], packet[18], packet[19]]);
    Some((src, dst))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_of_ipv4_only() {
        let mut p = [0u8; 20];
        p[0] = 0x45;
        p[12..16].copy_from_slice(&[10, 89, 1, 1]);
        p[16..20].copy_from_slice(&[10, 89, 2, 1]);
        assert_eq!(ipv4_endpoints(&p), Some((0x0A59_0101, 0x0A59_0201)));
        p[0] = 0x60;
        assert_eq!(ipv4_endpoints(&p), None);
        assert_eq!(ipv4_endpoints(&p[..10]), None);
    }
}
