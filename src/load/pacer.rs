//! Fixed-rate load (`-R`): when each transaction is due, and waiting for it precisely.
//!
//! The schedule is pgbench's: each worker thread draws the gaps between its transactions
//! from an exponential distribution (a Poisson process) whose mean is the thread's share of
//! the rate, and a client that becomes free takes the thread's next start time. A
//! transaction's latency counts from that scheduled time, so a server stall that keeps every
//! client busy shows in the latencies of the transactions that waited (no coordinated
//! omission); how late each started is its schedule lag.
//!
//! Waiting uses a timerfd on the client's event loop: tokio's timer rounds up to whole
//! milliseconds, which would add up to a millisecond of lag to every transaction. Owns the
//! schedule and the wait; knows nothing of what runs when it is due.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

use crate::load::script::Prng;

/// One worker thread's start times, shared by its clients.
#[derive(Debug, Clone)]
pub struct Schedule(Arc<Mutex<ScheduleState>>);

#[derive(Debug)]
struct ScheduleState {
    start: Instant,
    /// The last start time handed out, µs after `start` (pgbench's throttle_trigger).
    trigger_us: u64,
    /// Mean gap between this thread's transactions, µs.
    mean_gap_us: f64,
    prng: Prng,
}

impl Schedule {
    /// A thread's schedule from `start`, at `rate_per_thread` transactions per second.
    pub fn new(start: Instant, rate_per_thread: f64, prng: Prng) -> Schedule {
        Schedule(Arc::new(Mutex::new(ScheduleState {
            start,
            trigger_us: 0,
            mean_gap_us: 1e6 / rate_per_thread,
            prng,
        })))
    }

    /// The next transaction's start time.
    pub fn next_due(&self) -> Instant {
        let mut s = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let mean = s.mean_gap_us;
        let gap = poisson_gap_us(&mut s.prng, mean);
        s.trigger_us += gap;
        s.start + Duration::from_micros(s.trigger_us)
    }
}

/// A gap drawn by inverse transform sampling, whose mean is `mean_us` (pgbench's
/// getPoissonRand, rounded to whole microseconds as it does).
fn poisson_gap_us(prng: &mut Prng, mean_us: f64) -> u64 {
    let uniform = 1.0 - prng.double();
    (-uniform.ln() * mean_us + 0.5) as u64
}

/// A client's precise timer.
pub struct Timer {
    fd: AsyncFd<OwnedFd>,
}

impl Timer {
    pub fn new() -> io::Result<Timer> {
        // SAFETY: timerfd_create has no memory arguments; the result is checked.
        let raw = unsafe {
            libc::timerfd_create(
                libc::CLOCK_MONOTONIC,
                libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
            )
        };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `raw` is a new descriptor nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        // SAFETY: the OwnedFd keeps this one descriptor open, unchanged, as long as the
        // AsyncFd that owns it.
        let fd = unsafe { AsyncFd::register_with_interest(fd, Interest::READABLE) }?;
        Ok(Timer { fd })
    }

    /// Returns at `due` (at once when it has passed).
    pub async fn sleep_until(&self, due: Instant) -> io::Result<()> {
        // No read first: timerfd_settime clears any expirations left from an earlier wait, and
        // a readiness left over only costs one empty read below. One syscall fewer per
        // transaction, and none at all when the start is already due.
        let Some(left) = due
            .checked_duration_since(Instant::now())
            .filter(|d| !d.is_zero())
        else {
            return Ok(());
        };
        let spec = libc::itimerspec {
            it_interval: libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
            it_value: libc::timespec {
                tv_sec: left.as_secs() as libc::time_t,
                tv_nsec: left.subsec_nanos() as libc::c_long,
            },
        };
        // SAFETY: the descriptor is a timerfd; `spec` is a valid itimerspec.
        if unsafe { libc::timerfd_settime(self.fd.as_raw_fd(), 0, &spec, std::ptr::null_mut()) } < 0
        {
            return Err(io::Error::last_os_error());
        }
        loop {
            let mut ready = self.fd.readable().await?;
            if self.drain() {
                return Ok(());
            }
            ready.clear_ready();
        }
    }

    /// Reads the expiration count; true when the timer had expired.
    fn drain(&self) -> bool {
        let mut count = 0u64;
        // SAFETY: reads 8 bytes into `count` from a non-blocking timerfd.
        let n = unsafe {
            libc::read(
                self.fd.as_raw_fd(),
                (&mut count as *mut u64).cast(),
                std::mem::size_of::<u64>(),
            )
        };
        n == std::mem::size_of::<u64>() as isize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gaps_average_the_mean_and_are_exponential() {
        let mut prng = Prng::from_seed(42);
        let n = 200_000;
        let gaps: Vec<u64> = (0..n).map(|_| poisson_gap_us(&mut prng, 1000.0)).collect();
        let mean = gaps.iter().sum::<u64>() as f64 / n as f64;
        assert!((mean - 1000.0).abs() < 10.0, "mean gap {mean}");
        // An exponential distribution leaves e^-1 of its mass beyond the mean.
        let beyond = gaps.iter().filter(|&&g| g > 1000).count() as f64 / n as f64;
        assert!((beyond - (-1.0f64).exp()).abs() < 0.005, "{beyond}");
    }

    #[test]
    fn the_schedule_hands_out_increasing_times_at_the_rate() {
        let start = Instant::now();
        let s = Schedule::new(start, 500.0, Prng::from_seed(7));
        let mut last = start;
        let mut due = start;
        for _ in 0..5000 {
            due = s.next_due();
            assert!(due >= last);
            last = due;
        }
        let secs = due.duration_since(start).as_secs_f64();
        assert!(
            (secs - 10.0).abs() < 0.5,
            "5000 transactions at 500/s took {secs} s"
        );
    }

    /// Runs `f` as a client's loop runs: on a current-thread runtime.
    fn on_one_thread(f: impl std::future::Future<Output = ()>) {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(f);
    }

    #[test]
    fn the_timer_wakes_at_the_due_time_not_a_millisecond_later() {
        on_one_thread(async {
            let t = Timer::new().unwrap();
            let mut late = Vec::new();
            for _ in 0..50 {
                let due = Instant::now() + Duration::from_micros(300);
                t.sleep_until(due).await.unwrap();
                let now = Instant::now();
                assert!(now >= due, "woke before the due time");
                late.push(now.duration_since(due).as_micros());
            }
            late.sort();
            // A millisecond timer would be ~700 µs late at best; a timerfd is late by the
            // wake-up alone.
            assert!(late[25] < 500, "median lateness {} µs", late[25]);
            // A due time already past returns at once.
            t.sleep_until(Instant::now()).await.unwrap();
        });
    }

    #[test]
    fn an_expiry_left_by_a_cancelled_wait_does_not_end_the_next_one_early() {
        on_one_thread(async {
            let t = Timer::new().unwrap();
            // Armed for 1 ms, then given up at once; the timer expires while nobody waits.
            let polled_once = futures_util::FutureExt::now_or_never(
                t.sleep_until(Instant::now() + Duration::from_millis(1)),
            );
            assert!(polled_once.is_none(), "a 1 ms wait ended at its first poll");
            std::thread::sleep(Duration::from_millis(3));
            let due = Instant::now() + Duration::from_millis(5);
            t.sleep_until(due).await.unwrap();
            assert!(
                Instant::now() >= due,
                "the stale expiry ended the wait early"
            );
        });
    }
}
