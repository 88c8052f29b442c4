//! A TCP relay in front of a lab node's PostgreSQL for its replication connections, adding a
//! round-trip time read from a file: the kernel here has no netem, so delay is added in user
//! space. Every chunk waits half the round trip in each direction; order and bytes are kept.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::time::Instant;

/// How often the delay file is read.
const POLL: Duration = Duration::from_millis(100);

/// Reads the round-trip time (milliseconds, may be fractional) a relay adds; 0 when the file
/// is missing or holds no number.
pub fn read_rtt_us(path: &Path) -> u64 {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|t| t.trim().parse::<f64>().ok())
        .filter(|v| v.is_finite() && *v >= 0.0)
        .map(|ms| (ms * 1000.0) as u64)
        .unwrap_or(0)
}

/// Writes the round-trip time every relay of a lab adds (through a rename: never half a number).
pub fn write_rtt(path: &Path, rtt_ms: f64) -> std::io::Result<()> {
    let tmp = path.with_extension("partial");
    std::fs::write(&tmp, format!("{rtt_ms}\n"))?;
    std::fs::rename(&tmp, path)
}

/// Serves until the process ends.
pub async fn serve(listen: SocketAddr, to: SocketAddr, rtt_file: PathBuf) -> std::io::Result<()> {
    let listener = TcpListener::bind(listen).await?;
    let half_rtt_us = Arc::new(AtomicU64::new(read_rtt_us(&rtt_file) / 2));
    {
        let half = half_rtt_us.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(POLL).await;
                half.store(read_rtt_us(&rtt_file) / 2, Ordering::Relaxed);
            }
        });
    }
    loop {
        let (inbound, _) = listener.accept().await?;
        let half = half_rtt_us.clone();
        tokio::spawn(async move {
            if let Ok(outbound) = TcpStream::connect(to).await {
                let _ = inbound.set_nodelay(true);
                let _ = outbound.set_nodelay(true);
                let (ir, iw) = inbound.into_split();
                let (or, ow) = outbound.into_split();
                tokio::join!(pump(ir, ow, half.clone()), pump(or, iw, half));
            }
        });
    }
}

/// Copies one direction, each chunk held until half the round trip after it arrived.
async fn pump(mut from: OwnedReadHalf, mut to: OwnedWriteHalf, half_rtt_us: Arc<AtomicU64>) {
    let (tx, mut rx) = mpsc::unbounded_channel::<(Instant, Vec<u8>)>();
    let reader = async move {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match from.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    let due =
                        Instant::now() + Duration::from_micros(half_rtt_us.load(Ordering::Relaxed));
                    if tx.send((due, buf[..n].to_vec())).is_err() {
                        break;
                    }
                }
            }
        }
    };
    let writer = async move {
        while let Some((due, bytes)) = rx.recv().await {
            tokio::time::sleep_until(due).await;
            if to.write_all(&bytes).await.is_err() {
                break;
            }
        }
        let _ = to.shutdown().await;
    };
    tokio::join!(reader, writer);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rtt_file_is_read_leniently() {
        let dir = std::env::temp_dir().join(format!("relay-rtt-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("rtt");
        assert_eq!(read_rtt_us(&f), 0);
        write_rtt(&f, 2.5).unwrap();
        assert_eq!(read_rtt_us(&f), 2500);
        std::fs::write(&f, "lots").unwrap();
        assert_eq!(read_rtt_us(&f), 0);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[tokio::test]
    async fn bytes_arrive_in_order_after_the_delay() {
        let dir = std::env::temp_dir().join(format!("relay-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let rtt = dir.join("rtt");
        write_rtt(&rtt, 40.0).unwrap();
        // An echo server behind the relay.
        let echo = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let echo_addr = echo.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut s, _) = echo.accept().await.unwrap();
            let mut buf = [0u8; 1024];
            loop {
                let n = s.read(&mut buf).await.unwrap();
                if n == 0 {
                    break;
                }
                s.write_all(&buf[..n]).await.unwrap();
            }
        });
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let listen: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        tokio::spawn(serve(listen, echo_addr, rtt.clone()));
        tokio::time::sleep(Duration::from_millis(100)).await;
        let mut c = TcpStream::connect(listen).await.unwrap();
        let started = std::time::Instant::now();
        c.write_all(b"hello, ").await.unwrap();
        c.write_all(b"standby").await.unwrap();
        let mut got = vec![0u8; 14];
        c.read_exact(&mut got).await.unwrap();
        let took = started.elapsed();
        assert_eq!(&got, b"hello, standby");
        // At least the 40 ms asked for; at most 15 ms more: today's relay adds about 2.4 ms
        // per round trip (1 ms timer ticks), the rest is room for a busy machine. Half a round
        // trip too many anywhere (60 ms) fails.
        assert!(
            took >= Duration::from_millis(40) && took < Duration::from_millis(55),
            "round trip took {took:?}"
        );
        std::fs::remove_dir_all(dir).unwrap();
    }
}
