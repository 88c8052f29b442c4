//! Network namespaces held by file descriptor, never by name: no /run/netns bind mount exists,
//! so a namespace lives exactly as long as an fd to it or a process inside it. Owns creating
//! one, opening one (from a path such as /proc/PID/fd/N), running code inside one, and making
//! a `Command` start inside one. Must not configure interfaces (see `iface`) or route packets.

use std::fs::File;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use super::error::Error;

/// A network namespace, kept alive by this handle (clones share one fd).
#[derive(Clone, Debug)]
pub struct Netns {
    fd: Arc<OwnedFd>,
    inode: u64,
}

impl Netns {
    /// A new, empty network namespace (only a `lo`, down). Needs root.
    pub fn create() -> Result<Netns, Error> {
        // unshare() moves only the calling thread: do it on a thread of its own, which ends
        // right after, leaving the namespace held by the fd alone.
        std::thread::Builder::new()
            .name("netns-create".into())
            .spawn(|| {
                // SAFETY: unshare(CLONE_NEWNET) changes only this thread's network namespace.
                if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
                    return Err(Error::privileged(
                        "creating a network namespace",
                        std::io::Error::last_os_error(),
                    ));
                }
                Netns::open_path(Path::new("/proc/thread-self/ns/net"))
            })
            .map_err(|e| Error::io("cannot start a thread", e))?
            .join()
            .unwrap_or_else(|_| {
                Err(Error::io(
                    "creating a network namespace",
                    std::io::Error::other("the thread creating it panicked"),
                ))
            })
    }

    /// The namespace the calling thread is in.
    pub fn current() -> Result<Netns, Error> {
        Netns::open_path(Path::new("/proc/thread-self/ns/net"))
    }

    /// Opens a namespace from a path (an nsfs file: /proc/PID/ns/net, /proc/PID/fd/N), and
    /// checks it is the one expected (by inode) when `expect_inode` is given: a recorded path
    /// may name another namespace once its process is gone and the pid reused.
    pub fn open(path: &Path, host: &str, expect_inode: Option<u64>) -> Result<Netns, Error> {
        let ns = Netns::open_path(path).map_err(|_| Error::NamespaceGone {
            host: host.to_string(),
        })?;
        match expect_inode {
            Some(i) if i != ns.inode => Err(Error::NamespaceGone {
                host: host.to_string(),
            }),
            _ => Ok(ns),
        }
    }

    fn open_path(path: &Path) -> Result<Netns, Error> {
        let file = File::open(path)
            .map_err(|e| Error::io(format!("cannot open {}", path.display()), e))?;
        let inode = file
            .metadata()
            .map_err(|e| Error::io(format!("cannot stat {}", path.display()), e))?
            .ino();
        Ok(Netns {
            fd: Arc::new(OwnedFd::from(file)),
            inode,
        })
    }

    /// The namespace's inode number (what `ls -l /proc/PID/ns/net` shows as net:[N]).
    pub fn inode(&self) -> u64 {
        self.inode
    }

    /// The raw fd holding the namespace (valid while this handle lives).
    pub fn raw_fd(&self) -> i32 {
        self.fd.as_raw_fd()
    }

    /// Runs `f` on a thread inside the namespace and returns its result. Sockets made there
    /// stay in the namespace and may be used from any thread afterwards.
    pub fn enter<R: Send>(&self, f: impl FnOnce() -> R + Send) -> Result<R, Error> {
        std::thread::scope(|s| {
            s.spawn(|| {
                self.join_current_thread()?;
                Ok(f())
            })
            .join()
            .unwrap_or_else(|_| {
                Err(Error::io(
                    "running inside a network namespace",
                    std::io::Error::other("the code run there panicked"),
                ))
            })
        })
    }

    /// Moves the calling thread into the namespace (for good: use on threads made for it).
    pub fn join_current_thread(&self) -> Result<(), Error> {
        // SAFETY: setns on a valid nsfs fd changes only the calling thread's namespace.
        if unsafe { libc::setns(self.fd.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
            return Err(Error::privileged(
                "entering a network namespace",
                std::io::Error::last_os_error(),
            ));
        }
        Ok(())
    }

    /// A command that will run inside the namespace.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new(program);
        self.place(&mut cmd);
        cmd
    }

    /// Makes `cmd` start inside the namespace (the child joins it before exec).
    pub fn place(&self, cmd: &mut Command) {
        let fd = self.fd.clone();
        // SAFETY: the closure only calls setns (async-signal-safe) on an fd the Arc keeps
        // open until the Command is dropped; it allocates nothing.
        unsafe {
            cmd.pre_exec(move || {
                if libc::setns(fd.as_raw_fd(), libc::CLONE_NEWNET) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
}
