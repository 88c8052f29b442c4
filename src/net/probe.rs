//! Measuring a path as traffic sees it: the round trip of small TCP messages between two hosts
//! (an echo served inside one, a client inside the other), so results can record measured
//! round trips beside configured ones. Owns the echo and the statistics; must not change links.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::error::Error;
use super::host::Host;

/// Round trips measured between two hosts, in microseconds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RttStats {
    pub samples: usize,
    pub min_us: f64,
    pub p50_us: f64,
    pub p99_us: f64,
    pub max_us: f64,
    pub mean_us: f64,
}

impl RttStats {
    /// Statistics of the given round trips (µs); None when there are none.
    pub fn of(mut us: Vec<f64>) -> Option<RttStats> {
        if us.is_empty() {
            return None;
        }
        us.sort_by(f64::total_cmp);
        let at = |p: f64| us[((us.len() - 1) as f64 * p).round() as usize];
        Some(RttStats {
            samples: us.len(),
            min_us: us[0],
            p50_us: at(0.5),
            p99_us: at(0.99),
            max_us: us[us.len() - 1],
            mean_us: us.iter().sum::<f64>() / us.len() as f64,
        })
    }
}

/// Serves a TCP echo inside `host` on an ephemeral port of its address; the thread ends when
/// the first connection closes. Returns the address to connect to.
pub fn serve_echo(host: &Host) -> Result<SocketAddr, Error> {
    let addr = host.addr;
    let listener = host
        .enter(move || TcpListener::bind((addr, 0)))?
        .map_err(|e| Error::io(format!("cannot listen on {addr} in host {}", host.name), e))?;
    let local = listener
        .local_addr()
        .map_err(|e| Error::io("cannot read the echo's address", e))?;
    std::thread::Builder::new()
        .name("net-echo".into())
        .spawn(move || {
            // Real-time when allowed: measure the path, not how soon a busy machine wakes us.
            super::clock::make_thread_prompt(true);
            if let Ok((mut s, _)) = listener.accept() {
                let _ = s.set_nodelay(true);
                let mut buf = [0u8; 64 * 1024];
                while let Ok(n) = s.read(&mut buf) {
                    if n == 0 || s.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            }
        })
        .map_err(|e| Error::io("cannot start the echo thread", e))?;
    Ok(local)
}

/// Connects from inside `host` to `to`, giving up after `timeout`.
pub fn connect_from(host: &Host, to: SocketAddr, timeout: Duration) -> Result<TcpStream, Error> {
    host.enter(move || TcpStream::connect_timeout(&to, timeout))?
        .map_err(|e| Error::io(format!("cannot connect from host {} to {to}", host.name), e))
}

/// Measures `samples` round trips of an 8-byte message from `from` to `to` over TCP (after a
/// few unmeasured ones to warm the path up), on a thread of its own with real-time priority
/// when allowed.
pub fn measure_rtt(from: &Host, to: &Host, samples: usize) -> Result<RttStats, Error> {
    measure_rtt_paced(from, to, samples, Duration::ZERO)
}

/// As `measure_rtt`, pausing `pause` before each round trip. A path with a delay of R leaves
/// every thread on it idle for R, and waking an idle thread on a busy machine costs more than
/// waking a busy one (caches gone cold: tens of microseconds here); a baseline paced by R pays
/// the same, so "paced baseline + R" is what a delay of R should measure.
pub fn measure_rtt_paced(
    from: &Host,
    to: &Host,
    samples: usize,
    pause: Duration,
) -> Result<RttStats, Error> {
    std::thread::scope(|s| {
        s.spawn(|| {
            super::clock::make_thread_prompt(true);
            measure_here(from, to, samples, pause)
        })
        .join()
        .unwrap_or_else(|_| {
            Err(Error::io(
                "measuring a round trip",
                std::io::Error::other("the measuring thread panicked"),
            ))
        })
    })
}

fn measure_here(
    from: &Host,
    to: &Host,
    samples: usize,
    pause: Duration,
) -> Result<RttStats, Error> {
    let echo = serve_echo(to)?;
    let mut s = connect_from(from, echo, Duration::from_secs(10))?;
    let io = |e| Error::io(format!("round trip from {} to {}", from.name, to.name), e);
    s.set_nodelay(true).map_err(io)?;
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(io)?;
    let mut got = [0u8; 8];
    let mut rtts = Vec::with_capacity(samples);
    for i in 0..samples + 5 {
        if !pause.is_zero() {
            std::thread::sleep(pause);
        }
        let t = Instant::now();
        s.write_all(&(i as u64).to_le_bytes()).map_err(io)?;
        s.read_exact(&mut got).map_err(io)?;
        if i >= 5 {
            rtts.push(t.elapsed().as_secs_f64() * 1e6);
        }
    }
    RttStats::of(rtts).ok_or_else(|| {
        Error::io(
            "measuring a round trip",
            std::io::Error::other("no samples asked for"),
        )
    })
}
