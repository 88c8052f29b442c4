//! The router's control protocol: one JSON request per connection on its unix socket, one JSON
//! answer back, sent only once the change is in force (every packet routed after the answer
//! follows it). Owns the message types and their framing; the daemon serves them, the client
//! sends them.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::error::Error;
use super::router::{Change, InForce};
use super::topology::HostInfo;

/// What a caller asks the router.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "request", rename_all = "snake_case")]
pub enum Request {
    /// What is in force now.
    Status,
    /// Apply a change; answered with what is in force after it.
    Apply { change: Change },
    /// Undo everything and exit (the answer comes first).
    Shutdown,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "answer", rename_all = "snake_case")]
pub enum Response {
    InForce { in_force: Box<InForce> },
    Error { message: String },
    Bye,
}

/// Files of a router in its folder.
pub const SPEC_FILE: &str = "net-spec.json";
pub const STATE_FILE: &str = "net-state.json";
pub const SOCKET_FILE: &str = "net.sock";
pub const LOG_FILE: &str = "net-router.log";
/// What is in force, rewritten after every change (for reports, without asking the router).
pub const IN_FORCE_FILE: &str = "net-in-force.json";

/// What a running router publishes for callers (in STATE_FILE): its pid and, per host, where
/// to open its network namespace (an fd of the router, through /proc) and the namespace's
/// inode, checked on opening so a reused pid is never mistaken for the router.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RouterState {
    pub pid: u32,
    pub socket: PathBuf,
    pub hosts: Vec<HostRecord>,
    /// The root host's TUN device, if any (in the machine's namespace).
    pub root_device: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HostRecord {
    #[serde(flatten)]
    pub info: HostInfo,
    pub netns_path: PathBuf,
    pub netns_inode: u64,
}

/// Sends one request and reads the answer.
pub fn call(dir: &Path, socket: &Path, request: &Request) -> Result<Response, Error> {
    let gone = |source| Error::RouterGone {
        dir: dir.to_path_buf(),
        source,
    };
    let mut stream = UnixStream::connect(socket).map_err(gone)?;
    let mut line = serde_json::to_vec(request).map_err(|source| Error::Json {
        what: "a request to encode".into(),
        source,
    })?;
    line.push(b'\n');
    stream.write_all(&line).map_err(gone)?;
    let mut answer = String::new();
    BufReader::new(&stream)
        .read_line(&mut answer)
        .map_err(gone)?;
    if answer.is_empty() {
        return Err(gone(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "the router closed the connection without answering",
        )));
    }
    serde_json::from_str(&answer).map_err(|source| Error::Json {
        what: "the router's answer".into(),
        source,
    })
}

/// Reads one request from a connection (the daemon's side).
pub fn read_request(stream: &UnixStream) -> Result<Request, String> {
    let mut line = String::new();
    BufReader::new(stream)
        .read_line(&mut line)
        .map_err(|e| format!("cannot read the request: {e}"))?;
    serde_json::from_str(&line).map_err(|e| format!("not a valid request ({e}): {}", line.trim()))
}

/// Writes one answer (the daemon's side).
pub fn write_response(mut stream: &UnixStream, response: &Response) -> std::io::Result<()> {
    let mut line = serde_json::to_vec(response).map_err(std::io::Error::other)?;
    line.push(b'\n');
    stream.write_all(&line)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::link::Policy;
    use crate::net::table::Group;

    #[test]
    fn requests_read_as_written() {
        let r = Request::Apply {
            change: Change::Set {
                from: Group::Zone("a".into()),
                to: Group::All,
                policy: Policy::with_rtt_us(2_000),
                both_ways: true,
            },
        };
        let text = serde_json::to_string(&r).unwrap();
        assert_eq!(serde_json::from_str::<Request>(&text).unwrap(), r);
        let hand = r#"{"request":"apply","change":{"op":"partition","from":{"host":"pg1"},"to":"all","both_ways":true}}"#;
        assert!(matches!(
            serde_json::from_str::<Request>(hand).unwrap(),
            Request::Apply {
                change: Change::Partition {
                    both_ways: true,
                    ..
                }
            }
        ));
    }
}
