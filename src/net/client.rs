//! Talking to a router process: start one (and wait for its handshake), open the one running
//! in a folder, apply changes, read what is in force, reach its hosts, stop it. Owns nothing
//! of the network: everything lives in the router process.

use std::io::BufRead;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::control::{self, LOG_FILE, Request, Response, RouterState, SPEC_FILE, STATE_FILE};
use super::daemon::Handshake;
use super::error::Error;
use super::host::Host;
use super::link::Policy;
use super::netns::Netns;
use super::router::{Change, InForce};
use super::table::Group;
use super::topology::{NetSpec, Topology};

/// How long a router may take to build its hosts.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a stopping router may take to exit.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// A handle on a router process.
#[derive(Debug)]
pub struct RouterClient {
    dir: PathBuf,
    state: RouterState,
    /// Present when this handle started the router (to reap it).
    child: Option<Child>,
}

impl RouterClient {
    /// Starts a router (`program lab net-router --dir DIR`, normally this very program) for
    /// `spec`, detached in a session of its own so it outlives the caller, and waits until it
    /// serves. Not root: `Error::NeedsRoot` at once.
    pub fn start(program: &Path, spec: &NetSpec, dir: &Path) -> Result<RouterClient, Error> {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            return Err(Error::NeedsRoot {
                what: "the lab network (namespaces and TUN devices)",
                source: std::io::Error::from_raw_os_error(libc::EPERM),
            });
        }
        Topology::new(spec)?;
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::io(format!("cannot create {}", dir.display()), e))?;
        let spec_path = dir.join(SPEC_FILE);
        let text = serde_json::to_vec_pretty(spec).map_err(|source| Error::Json {
            what: "the network spec to encode".into(),
            source,
        })?;
        std::fs::write(&spec_path, text)
            .map_err(|e| Error::io(format!("cannot write {}", spec_path.display()), e))?;
        let log_path = dir.join(LOG_FILE);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(|e| Error::io(format!("cannot open {}", log_path.display()), e))?;
        let mut cmd = Command::new(program);
        cmd.args(["lab", "net-router", "--dir"])
            .arg(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log);
        // SAFETY: setsid is async-signal-safe; it detaches the router from the caller's
        // session and process group, so the caller's Ctrl-C does not reach it.
        unsafe {
            cmd.pre_exec(|| {
                libc::setsid();
                Ok(())
            });
        }
        let mut child = cmd
            .spawn()
            .map_err(|e| Error::io(format!("cannot start {}", program.display()), e))?;
        let handshake = child.stdout.take().map(|out| {
            let (tx, rx) = std::sync::mpsc::channel();
            std::thread::spawn(move || {
                let mut line = String::new();
                let _ = std::io::BufReader::new(out).read_line(&mut line);
                let _ = tx.send(line);
            });
            rx.recv_timeout(START_TIMEOUT)
        });
        let not_ready = |mut child: Child| {
            let _ = child.kill();
            let _ = child.wait();
            Error::RouterNotReady {
                seconds: START_TIMEOUT.as_secs(),
                log: log_path.clone(),
            }
        };
        let Some(Ok(line)) = handshake else {
            return Err(not_ready(child));
        };
        let Ok(h) = serde_json::from_str::<Handshake>(&line) else {
            return Err(not_ready(child));
        };
        if !h.ready {
            let _ = child.wait();
            let message = h.error.unwrap_or_else(|| "no reason given".into());
            return Err(if h.needs_root {
                Error::NeedsRoot {
                    what: "the lab network",
                    source: std::io::Error::other(message),
                }
            } else {
                Error::Refused(message)
            });
        }
        let mut client = RouterClient::open(dir)?;
        client.child = Some(child);
        Ok(client)
    }

    /// The router running in `dir`.
    pub fn open(dir: &Path) -> Result<RouterClient, Error> {
        let path = dir.join(STATE_FILE);
        let text = std::fs::read_to_string(&path).map_err(|source| Error::RouterGone {
            dir: dir.to_path_buf(),
            source,
        })?;
        let state = serde_json::from_str(&text).map_err(|source| Error::Json {
            what: path.display().to_string(),
            source,
        })?;
        Ok(RouterClient {
            dir: dir.to_path_buf(),
            state,
            child: None,
        })
    }

    pub fn pid(&self) -> u32 {
        self.state.pid
    }

    pub fn state(&self) -> &RouterState {
        &self.state
    }

    /// A host, to run things in (its namespace opened from the router, checked by inode).
    pub fn host(&self, name: &str) -> Result<Host, Error> {
        let rec = self
            .state
            .hosts
            .iter()
            .find(|h| h.info.name == name)
            .ok_or_else(|| Error::Unknown {
                kind: "host",
                name: name.to_string(),
                known: self
                    .state
                    .hosts
                    .iter()
                    .map(|h| h.info.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            })?;
        let ns = Netns::open(&rec.netns_path, name, Some(rec.netns_inode))?;
        Ok(Host::new(&rec.info, ns))
    }

    /// Applies a change; returns once it is in force.
    pub fn apply(&self, change: Change) -> Result<InForce, Error> {
        self.call(&Request::Apply { change })
    }

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

    pub fn status(&self) -> Result<InForce, Error> {
        self.call(&Request::Status)
    }

    fn call(&self, request: &Request) -> Result<InForce, Error> {
        match control::call(&self.dir, &self.state.socket, request)? {
            Response::InForce { in_force } => Ok(*in_force),
            Response::Error { message } => Err(Error::Refused(message)),
            Response::Bye => Err(Error::Refused("the router is stopping".into())),
        }
    }

    /// Stops the router and waits until its process is gone (with it every namespace, device
    /// and route it made).
    pub fn stop(mut self) -> Result<(), Error> {
        match control::call(&self.dir, &self.state.socket, &Request::Shutdown) {
            Ok(_) => {}
            // Already gone: nothing to undo.
            Err(Error::RouterGone { .. }) => {}
            Err(e) => return Err(e),
        }
        let deadline = Instant::now() + STOP_TIMEOUT;
        loop {
            let gone = match self.child.as_mut() {
                Some(c) => !matches!(c.try_wait(), Ok(None)),
                None => !Path::new(&format!("/proc/{}", self.state.pid)).exists(),
            };
            if gone {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(Error::io(
                    format!("stopping the network router (pid {})", self.state.pid),
                    std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        "it did not exit; see its log",
                    ),
                ));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}
