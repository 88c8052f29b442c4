//! When bytes arrived, not when they were read: the kernel's receive timestamps on a TCP
//! socket (SO_TIMESTAMPNS). A relay that delays from the moment it reads adds its own wake-up
//! latency (tens of microseconds for a thread that slept through a long delay on a busy
//! machine) to every delay; delaying from arrival does not. Owns enabling and reading them;
//! must not decide any delay.

use std::net::TcpStream;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Asks the kernel to timestamp what arrives on `s`.
pub fn enable(s: &TcpStream) -> std::io::Result<()> {
    let on: libc::c_int = 1;
    // SAFETY: setsockopt with a valid int option value on an open socket.
    let r = unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_TIMESTAMPNS,
            (&on as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if r != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// Reads into `buf` (blocking); returns the bytes read and when the last of them arrived, if
/// the kernel said (it does not for bytes that arrived before stamping was on machine-wide,
/// a few milliseconds after the first socket anywhere enabled it) (on the monotonic clock `Instant` uses, never later than now).
pub fn recv(s: &TcpStream, buf: &mut [u8]) -> std::io::Result<(usize, Option<Instant>)> {
    // Room for one cmsg holding a timespec, aligned as cmsghdr wants.
    let mut control = [0u64; 8];
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // SAFETY: msghdr is plain data; zeroed is valid and the fields set below point at live
    // buffers for the duration of recvmsg.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = std::mem::size_of_val(&control) as _;
    let n = loop {
        // SAFETY: msg describes valid buffers.
        let n = unsafe { libc::recvmsg(s.as_raw_fd(), &mut msg, 0) };
        if n >= 0 {
            break n as usize;
        }
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::Interrupted {
            return Err(e);
        }
    };
    let (now, wall) = (Instant::now(), SystemTime::now());
    let mut arrived = None;
    // SAFETY: walking the control buffer with the CMSG macros recvmsg's result allows.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(&msg);
        while !c.is_null() {
            if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_TIMESTAMPNS {
                let ts = std::ptr::read_unaligned(libc::CMSG_DATA(c) as *const libc::timespec);
                arrived = Some(Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32));
            }
            c = libc::CMSG_NXTHDR(&msg, c);
        }
    }
    // The stamp is wall-clock time: its age, taken from now, gives the monotonic instant. An
    // age that makes no sense (a clock step) is ignored.
    let when = arrived.and_then(|at| {
        let age = wall.duration_since(UNIX_EPOCH).ok()?.checked_sub(at)?;
        (age < Duration::from_secs(1)).then(|| now - age)
    });
    Ok((n, when))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::net::TcpListener;

    #[test]
    fn bytes_read_late_say_when_they_arrived() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (s, _) = l.accept().unwrap();
        enable(&s).unwrap();
        // The kernel turns stamping on for the whole machine a little after the first socket
        // asks (until then bytes arrive unstamped, and `recv` says so).
        std::thread::sleep(Duration::from_millis(50));
        let sent = Instant::now();
        c.write_all(b"hello").unwrap();
        std::thread::sleep(Duration::from_millis(20));
        let mut buf = [0u8; 16];
        let (n, at) = recv(&s, &mut buf).unwrap();
        assert_eq!(&buf[..n], b"hello");
        let at = at.expect("no timestamp");
        let after = at.saturating_duration_since(sent);
        assert!(
            after < Duration::from_millis(5),
            "arrived {after:?} after sending"
        );
    }
}
