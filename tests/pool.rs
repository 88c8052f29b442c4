//! Control-plane sessions from `pg::pool` against a real server: reused while healthy, replaced
//! when the server ended them, bounded in time when nobody answers.

mod common;

use std::time::{Duration, Instant};

use common::*;
use pgsyncbench::pg::conn::{ConnOptions, ProcessEnv, Target};
use pgsyncbench::pg::pool;

fn target(port: u16, timeout_s: u32) -> Target {
    let opts = ConnOptions {
        dbname: Some(format!(
            "host=127.0.0.1 port={port} user=postgres dbname=postgres connect_timeout={timeout_s}"
        )),
        ..Default::default()
    };
    Target::resolve(&opts, &ProcessEnv).unwrap()
}

async fn backend_pid(t: &Target) -> i32 {
    let s = pool::session(t).await.unwrap();
    s.query_one("SELECT pg_backend_pid()", &[])
        .await
        .unwrap()
        .get(0)
}

#[test]
fn sessions_are_reused_replaced_when_ended_and_bounded_in_time() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let t = target(server().port, 10);
        let first = backend_pid(&t).await;
        assert_eq!(backend_pid(&t).await, first, "a healthy session is reused");
        // The server ends it (as a restart or failover would): the next one is a new session.
        server().psql("postgres", &format!("SELECT pg_terminate_backend({first})"));
        let second = backend_pid(&t).await;
        assert_ne!(second, first);
        // Nobody listening: refused at once; a listener that never answers: bounded.
        let closed = free_port();
        let e = pool::session(&target(closed, 2)).await.unwrap_err();
        assert!(e.to_string().contains("cannot connect"), "{e}");
        let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = silent.local_addr().unwrap().port();
        let started = Instant::now();
        let e = pool::session(&target(port, 2)).await.unwrap_err();
        let took = started.elapsed();
        assert!(
            took >= Duration::from_millis(1900) && took < Duration::from_secs(5),
            "{took:?}"
        );
        assert!(e.to_string().contains("no answer within 2 s"), "{e}");
    });
}
