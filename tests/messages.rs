//! Connection failures say what really happened: the connect timeout bounds each host's whole
//! attempt (TCP, TLS, startup, authentication) as libpq's connect_timeout does, and a server
//! that asks for a password hears how to give one.

mod common;

use std::net::TcpListener;
use std::time::{Duration, Instant};

use common::*;
use pgsyncbench::pg::conn::{ConnOptions, Env, Target};

/// Listeners that accept connections and never answer (the kernel completes the TCP handshake
/// from the backlog): only a bound on the whole attempt ends the wait.
fn silent() -> (TcpListener, String) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port().to_string();
    (l, port)
}

/// No PG* variables, no password file: only what the test names.
struct Only(Vec<(&'static str, String)>);

impl Env for Only {
    fn var(&self, name: &str) -> Option<String> {
        self.0
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.clone())
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn target(conninfo: &str, env: &[(&'static str, &str)]) -> Target {
    let env = Only(
        env.iter()
            .map(|(k, v)| (*k, v.to_string()))
            .chain([("PGPASSFILE", "/nonexistent/pgpass".to_string())])
            .collect(),
    );
    let opts = ConnOptions {
        dbname: Some(conninfo.into()),
        ..ConnOptions::default()
    };
    Target::resolve(&opts, &env).unwrap()
}

fn assert_between(took: Duration, low: u64, high: u64, what: &str) {
    assert!(
        took >= Duration::from_secs(low) && took < Duration::from_secs(high),
        "{what} took {took:?}, expected {low} s to {high} s"
    );
}

#[test]
fn connect_timeout_bounds_the_whole_attempt_from_the_connection_string_and_pgconnect_timeout() {
    let (_l, port) = silent();
    for (how, extra_arg, env) in [
        ("connect_timeout=2", "connect_timeout=2", None),
        ("PGCONNECT_TIMEOUT=2", "", Some(("PGCONNECT_TIMEOUT", "2"))),
    ] {
        let started = Instant::now();
        let mut cmd = pgsyncbench();
        cmd.args(["run", "-t", "1", "-d"])
            .arg(format!("host=127.0.0.1 port={port} {extra_arg}"));
        if let Some((k, v)) = env {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        let took = started.elapsed();
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{how}: {err}");
        assert_eq!(err.lines().count(), 1, "{how}: {err}");
        assert!(err.contains("no answer within 2 s"), "{how}: {err}");
        assert_between(took, 2, 4, how);
    }
}

#[test]
fn every_host_of_a_multi_host_target_gets_the_timeout_and_no_more() {
    let (_a, first) = silent();
    let (_b, second) = silent();
    // Both silent: each host its 2 s, the whole at most 2 s x 2 hosts.
    let started = Instant::now();
    let out = pgsyncbench()
        .args(["run", "-t", "1", "-d"])
        .arg(format!(
            "host=127.0.0.1,127.0.0.1 port={first},{second} connect_timeout=2"
        ))
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("no answer within 2 s"), "{err}");
    assert_between(started.elapsed(), 4, 6, "two silent hosts");

    // A silent first host, a real second one: the control session and the benchmark sessions
    // each give up on the first after 2 s and go on to the second.
    let s = server();
    let db = s.database("multihost");
    check(
        pgsyncbench()
            .args(["init", "-s", "1", "-q"])
            .args(s.conn_args(&db))
            .output()
            .unwrap(),
        "init",
    );
    let started = Instant::now();
    let out = pgsyncbench()
        .args(["run", "-c", "2", "-t", "5", "-d"])
        .arg(format!(
            "host=127.0.0.1,127.0.0.1 port={first},{} user=postgres dbname={db} connect_timeout=2",
            s.port
        ))
        .output()
        .unwrap();
    check(out, "run with a silent first host");
    assert_between(started.elapsed(), 4, 8, "a silent host, then a real one");
}

#[test]
fn benchmark_sessions_honour_the_same_bound() {
    let (_l, port) = silent();
    let t = target(
        &format!("host=127.0.0.1 port={port} connect_timeout=2"),
        &[],
    );
    let started = Instant::now();
    let e = runtime()
        .block_on(pgsyncbench::load::wire::connect(&t))
        .err()
        .expect("a silent server cannot be connected to");
    assert!(e.to_string().contains("no answer within 2 s"), "{e}");
    assert_between(started.elapsed(), 2, 4, "a benchmark session");
}

const OLD_HINT: &str = "is the server running and accepting connections there?";

fn assert_asks_for_a_password(message: &str) {
    assert!(message.contains("asks for a password"), "{message}");
    for way in ["PGPASSWORD", "~/.pgpass", "connection string"] {
        assert!(message.contains(way), "{message} lacks {way}");
    }
    assert!(!message.contains(OLD_HINT), "{message}");
}

#[test]
fn a_scram_user_without_a_password_is_told_how_to_give_one() {
    let s = server();
    let db = s.database("nopassword");
    let conninfo = format!(
        "host=127.0.0.1 port={} user={PASSWORD_USER} dbname={db}",
        s.port
    );
    // The command: its control session (tokio-postgres) is the first to ask.
    let out = pgsyncbench()
        .args(["run", "-t", "1", "-d", &conninfo])
        .env("PGPASSFILE", "/nonexistent/pgpass")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert_asks_for_a_password(&err);

    // Both connection paths, each on its own.
    let t = target(&conninfo, &[]);
    let rt = runtime();
    let Err(control) = rt.block_on(t.connect()) else {
        panic!("connected without a password")
    };
    assert_asks_for_a_password(&control.to_string());
    let session = rt
        .block_on(pgsyncbench::load::wire::connect(&t))
        .err()
        .expect("no password");
    assert_asks_for_a_password(&session.to_string());
}
