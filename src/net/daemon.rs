//! The router as a process of its own (`pgsyncbench lab net-router --dir DIR`), so the lab
//! network outlives the command that started it: builds the network from DIR/net-spec.json,
//! publishes DIR/net-state.json (and what is in force in DIR/net-in-force.json, rewritten after
//! every change), serves the control socket DIR/net.sock, and on shutdown,
//! SIGTERM, SIGINT or SIGHUP undoes everything (kill -9 too, through the kernel: see
//! `router`). Owns the process's lifetime and the socket; must not decide policies itself.

use std::io::Write;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::net::UnixListener;
use std::path::Path;
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::Duration;

use super::control::{
    self, HostRecord, IN_FORCE_FILE, Request, Response, RouterState, SOCKET_FILE, SPEC_FILE,
    STATE_FILE,
};
use super::error::Error;
use super::router::{InForce, Network};
use super::topology::NetSpec;

/// The first line a starting router writes on its stdout: ready, or why not.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct Handshake {
    pub ready: bool,
    pub error: Option<String>,
    pub needs_root: bool,
}

/// Runs the router until told to stop. Its first stdout line is a `Handshake`.
pub fn run(dir: &Path) -> Result<(), Error> {
    let signals = install_signal_pipe()?;
    let started = start(dir);
    let handshake = match &started {
        Ok(_) => Handshake {
            ready: true,
            error: None,
            needs_root: false,
        },
        Err(e) => Handshake {
            ready: false,
            error: Some(e.to_string()),
            needs_root: e.needs_root(),
        },
    };
    say_handshake(&handshake);
    let (net, listener) = started?;
    eprintln!(
        "net-router: pid {} serving {} hosts in {}",
        std::process::id(),
        net.hosts().len(),
        dir.display()
    );
    record_in_force(dir, &net.in_force());
    serve(dir, &net, &listener, &signals);
    let _ = std::fs::remove_file(dir.join(SOCKET_FILE));
    let _ = std::fs::remove_file(dir.join(STATE_FILE));
    let _ = std::fs::remove_file(dir.join(IN_FORCE_FILE));
    drop(net);
    eprintln!("net-router: stopped; every namespace and device it made is gone");
    Ok(())
}

fn start(dir: &Path) -> Result<(Network, UnixListener), Error> {
    let spec_path = dir.join(SPEC_FILE);
    let text = std::fs::read_to_string(&spec_path)
        .map_err(|e| Error::io(format!("cannot read {}", spec_path.display()), e))?;
    let spec: NetSpec = serde_json::from_str(&text).map_err(|source| Error::Json {
        what: spec_path.display().to_string(),
        source,
    })?;
    let socket = dir.join(SOCKET_FILE);
    if control::call(dir, &socket, &Request::Status).is_ok() {
        return Err(Error::Spec(format!(
            "a network router already runs in {}: stop it first",
            dir.display()
        )));
    }
    let _ = std::fs::remove_file(&socket);
    let net = Network::start(&spec)?;
    let listener = UnixListener::bind(&socket)
        .map_err(|e| Error::io(format!("cannot listen on {}", socket.display()), e))?;
    let pid = std::process::id();
    let hosts = net
        .hosts()
        .iter()
        .zip(net.in_force().hosts)
        .map(|(h, info)| HostRecord {
            info,
            netns_path: format!("/proc/{pid}/fd/{}", h.netns().raw_fd()).into(),
            netns_inode: h.netns().inode(),
        })
        .collect();
    let state = RouterState {
        pid,
        socket,
        hosts,
        root_device: net.root_device(),
    };
    write_state(dir, &state)?;
    Ok((net, listener))
}

fn write_state(dir: &Path, state: &RouterState) -> Result<(), Error> {
    let path = dir.join(STATE_FILE);
    let tmp = path.with_extension("partial");
    let text = serde_json::to_vec_pretty(state).map_err(|source| Error::Json {
        what: "the router state to encode".into(),
        source,
    })?;
    std::fs::write(&tmp, text)
        .and_then(|()| std::fs::rename(&tmp, &path))
        .map_err(|e| Error::io(format!("cannot write {}", path.display()), e))
}

/// Writes the handshake, then points stdout at /dev/null so the starter's pipe closes.
fn say_handshake(h: &Handshake) {
    let mut out = std::io::stdout().lock();
    if let Ok(line) = serde_json::to_string(h) {
        let _ = writeln!(out, "{line}");
    }
    let _ = out.flush();
    if let Ok(null) = std::fs::OpenOptions::new().write(true).open("/dev/null") {
        // SAFETY: dup2 onto stdout of an fd we own; stdout's lock is held, so no writer races.
        unsafe { libc::dup2(null.as_raw_fd(), libc::STDOUT_FILENO) };
    }
}

/// Rewrites the in-force file (through a rename); a failure only costs the file.
fn record_in_force(dir: &Path, in_force: &InForce) {
    let path = dir.join(IN_FORCE_FILE);
    let tmp = path.with_extension("partial");
    if let Ok(text) = serde_json::to_vec_pretty(in_force)
        && std::fs::write(&tmp, text).is_ok()
    {
        let _ = std::fs::rename(&tmp, &path);
    }
}

fn serve(dir: &Path, net: &Network, listener: &UnixListener, signals: &OwnedFd) {
    let mut fds = [
        libc::pollfd {
            fd: listener.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        },
        libc::pollfd {
            fd: signals.as_raw_fd(),
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
            eprintln!(
                "net-router: poll failed: {}",
                std::io::Error::last_os_error()
            );
            return;
        }
        if fds[1].revents != 0 {
            eprintln!("net-router: signalled, stopping");
            return;
        }
        let Ok((stream, _)) = listener.accept() else {
            continue;
        };
        // A caller that sends nothing must not stall every other caller.
        let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
        let (response, stop) = match control::read_request(&stream) {
            Ok(Request::Status) => (in_force(net), false),
            Ok(Request::Apply { change }) => match net.apply(change) {
                Ok(f) => {
                    record_in_force(dir, &f);
                    (
                        Response::InForce {
                            in_force: Box::new(f),
                        },
                        false,
                    )
                }
                Err(e) => (
                    Response::Error {
                        message: e.to_string(),
                    },
                    false,
                ),
            },
            Ok(Request::Shutdown) => (Response::Bye, true),
            Err(message) => (Response::Error { message }, false),
        };
        let _ = control::write_response(&stream, &response);
        if stop {
            return;
        }
    }
}

fn in_force(net: &Network) -> Response {
    Response::InForce {
        in_force: Box::new(net.in_force()),
    }
}

/// The write end of the self-pipe the signal handler writes to.
static SIGNAL_PIPE: AtomicI32 = AtomicI32::new(-1);

extern "C" fn on_signal(_: libc::c_int) {
    let fd = SIGNAL_PIPE.load(Ordering::Relaxed);
    if fd >= 0 {
        let b = 1u8;
        // SAFETY: write(2) is async-signal-safe; one byte from a valid local.
        unsafe { libc::write(fd, (&b as *const u8).cast(), 1) };
    }
}

/// Turns SIGTERM, SIGINT and SIGHUP into a readable pipe, on whichever thread they land.
fn install_signal_pipe() -> Result<OwnedFd, Error> {
    let mut fds = [0i32; 2];
    // SAFETY: pipe2 fills two fds on success.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK) } != 0 {
        return Err(Error::io(
            "cannot create the router's signal pipe",
            std::io::Error::last_os_error(),
        ));
    }
    // The write end stays open for the process's life: the handler may run at any time.
    SIGNAL_PIPE.store(fds[1], Ordering::Relaxed);
    for sig in [libc::SIGTERM, libc::SIGINT, libc::SIGHUP] {
        // SAFETY: a zeroed sigaction with a handler that only calls write(2).
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_signal as *const () as libc::sighandler_t;
            sa.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(sig, &sa, std::ptr::null_mut());
        }
    }
    // SAFETY: fds[0] is a fresh descriptor nobody else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fds[0]) })
}
