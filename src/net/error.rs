//! The network emulator's errors: each says what was wrong and what to do, and keeps the error
//! it came from. Owns nothing else.

use std::io;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Namespaces, TUN devices and addresses need CAP_NET_ADMIN. Callers turn this into
    /// "zones need root; using loopback relays".
    #[error(
        "{what} needs root (CAP_NET_ADMIN): run as root, or use loopback relays without zones ({source})"
    )]
    NeedsRoot {
        what: &'static str,
        #[source]
        source: io::Error,
    },
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: io::Error,
    },
    #[error(
        "the lab network {range} is already routed on this machine ({route}): another lab runs, or choose another range"
    )]
    RangeInUse { range: String, route: String },
    #[error("bad network spec: {0}")]
    Spec(String),
    #[error("unknown {kind} `{name}` (known: {known})")]
    Unknown {
        kind: &'static str,
        name: String,
        known: String,
    },
    #[error("bad link policy: {field} = {value}; expected {expected}")]
    BadPolicy {
        field: &'static str,
        value: String,
        expected: &'static str,
    },
    #[error(
        "the network router in {dir} is not running (no answer on its socket): start the lab again ({source})"
    )]
    RouterGone {
        dir: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("the network router did not start within {seconds} s; see {log}")]
    RouterNotReady { seconds: u64, log: PathBuf },
    #[error("the network router refused the request: {0}")]
    Refused(String),
    #[error("cannot read {what}: {source}")]
    Json {
        what: String,
        #[source]
        source: serde_json::Error,
    },
    #[error(
        "host {host}'s network namespace is gone or replaced (its router exited?): start the lab again"
    )]
    NamespaceGone { host: String },
}

impl Error {
    /// An I/O error saying what was being done.
    pub fn io(what: impl Into<String>, source: io::Error) -> Error {
        Error::Io {
            what: what.into(),
            source,
        }
    }

    /// As `io`, but EPERM/EACCES say root is needed.
    pub fn privileged(what: &'static str, source: io::Error) -> Error {
        match source.raw_os_error() {
            Some(libc::EPERM) | Some(libc::EACCES) => Error::NeedsRoot { what, source },
            _ => Error::Io {
                what: what.to_string(),
                source,
            },
        }
    }

    /// True when the failure is a lack of privilege (fall back to relays).
    pub fn needs_root(&self) -> bool {
        matches!(self, Error::NeedsRoot { .. })
    }
}
