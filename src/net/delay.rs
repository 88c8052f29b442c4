//! The delay line: a FIFO of items, each with a due time, released in order by one dedicated
//! thread at their due time. Owns the queue, its byte bound, the hold switch (a stalled link)
//! and the precise wait. Must not decide due times or look inside items: callers (a link's
//! shaper, the relay) compute due times, the sink given at start does the delivery.
//!
//! Why a FIFO per line and not one heap for all links: every caller of a line needs its items
//! kept in order (a TCP byte stream, or packets of one link), so due times are made
//! non-decreasing at push and the releaser only ever waits for the head; a new item can never
//! be due before it, so the wait is never cut short by a push. Many items are in flight at
//! once (pipelined): a burst pushed within a microsecond is released as one batch.
//!
//! Why a futex wait and not clock_nanosleep: the coarse wait is `Condvar::wait_timeout`, a
//! futex wait on a CLOCK_MONOTONIC high-resolution timer (the timer clock_nanosleep uses, with
//! the thread's timer slack at 1 ns), which stop and un-hold can interrupt at once. It ends an
//! adaptive margin before the due time; the rest is a spin (see `clock`). Never a 1 ms wheel.
//! After a release amid dense traffic (pushes closer together than two wake-ups) the thread
//! stays awake until the next push is expected, so delays shorter than a wake-up (0 to ~50
//! µs) are met too.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::clock::{self, Promptness, SpinMargin};

/// A delay line: push items with due times, a thread hands each to the sink when due.
pub struct DelayLine<T: Send + 'static> {
    shared: Arc<Shared<T>>,
    thread: Option<JoinHandle<()>>,
    promptness: Promptness,
}

struct Shared<T> {
    state: Mutex<State<T>>,
    /// Signals the releaser: an item arrived in an empty line, hold changed, or stop.
    wake: Condvar,
    /// Signals blocked pushers: bytes were released.
    space: Condvar,
}

struct State<T> {
    queue: VecDeque<Entry<T>>,
    /// Bytes queued or being released.
    bytes: usize,
    capacity_bytes: usize,
    /// Items taken by the releaser whose sink call has not returned yet.
    releasing: usize,
    held: bool,
    stop: bool,
    /// The latest due time pushed: later pushes are never due before it (order is kept).
    last_due: Option<Instant>,
    /// When the previous item and the latest one were pushed (how dense the traffic is).
    pushed: (Option<Instant>, Option<Instant>),
    stats: LineStats,
}

/// How late releases were (the time the sink was called, less the due time).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LineStats {
    pub released: u64,
    pub late_total_ns: u64,
    pub late_max_ns: u64,
    /// Releases more than 50 µs late.
    pub late_over_50us: u64,
    /// The spin margin now (the cost of precision: this much busy wait per release).
    pub margin_us: u64,
}

struct Entry<T> {
    due: Instant,
    bytes: usize,
    item: T,
}

/// Why a push was refused; the item comes back.
#[derive(Debug)]
pub enum Refused<T> {
    /// The line already holds its capacity in bytes.
    Full(T),
    /// The line is stopping.
    Stopped(T),
}

impl<T: Send + 'static> DelayLine<T> {
    /// Starts a line whose thread (named `name`) hands due items to `sink`, holding at most
    /// `capacity_bytes` (an item larger than that is still taken when the line is empty).
    /// `realtime` asks for SCHED_FIFO on the releaser (see `clock::make_thread_prompt`).
    pub fn start(
        name: &str,
        capacity_bytes: usize,
        realtime: bool,
        mut sink: impl FnMut(T) + Send + 'static,
    ) -> std::io::Result<Self> {
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                queue: VecDeque::new(),
                bytes: 0,
                capacity_bytes,
                releasing: 0,
                held: false,
                stop: false,
                last_due: None,
                pushed: (None, None),
                stats: LineStats::default(),
            }),
            wake: Condvar::new(),
            space: Condvar::new(),
        });
        let (tx, rx) = std::sync::mpsc::channel();
        let s = shared.clone();
        let thread = std::thread::Builder::new()
            .name(name.to_string())
            .spawn(move || {
                let _ = tx.send(clock::make_thread_prompt(realtime));
                release_loop(&s, &mut sink);
            })?;
        let promptness = rx.recv().unwrap_or(Promptness {
            slack_1ns: false,
            realtime: false,
        });
        Ok(DelayLine {
            shared,
            thread: Some(thread),
            promptness,
        })
    }

    /// What the releaser thread got when asking for prompt wake-ups.
    pub fn promptness(&self) -> Promptness {
        self.promptness
    }

    /// Queues `item` (of `bytes` bytes) for release at `due`, or at the previous item's due
    /// time if that is later (order is kept). Refused when full: the caller drops it.
    pub fn push(&self, due: Instant, item: T, bytes: usize) -> Result<(), Refused<T>> {
        let mut st = self.lock();
        if st.stop {
            return Err(Refused::Stopped(item));
        }
        if st.bytes > 0 && st.bytes + bytes > st.capacity_bytes {
            return Err(Refused::Full(item));
        }
        enqueue(&self.shared, &mut st, due, item, bytes);
        Ok(())
    }

    /// As `push`, but waits for room instead of refusing (back-pressure for a byte stream).
    pub fn push_wait(&self, due: Instant, item: T, bytes: usize) -> Result<(), Refused<T>> {
        let mut st = self.lock();
        while !st.stop && st.bytes > 0 && st.bytes + bytes > st.capacity_bytes {
            st = self
                .shared
                .space
                .wait(st)
                .unwrap_or_else(|p| p.into_inner());
        }
        if st.stop {
            return Err(Refused::Stopped(item));
        }
        enqueue(&self.shared, &mut st, due, item, bytes);
        Ok(())
    }

    /// True when nothing is queued or being released: an item may then bypass the line
    /// without overtaking anything (only for a line with a single producer).
    pub fn is_idle(&self) -> bool {
        let st = self.lock();
        st.queue.is_empty() && st.releasing == 0
    }

    /// Holds every item (a stalled link) or lets them go; held items past due leave at once,
    /// in order, when released.
    pub fn set_held(&self, held: bool) {
        let mut st = self.lock();
        if st.held != held {
            st.held = held;
            self.shared.wake.notify_all();
        }
    }

    /// How late releases have been so far.
    pub fn stats(&self) -> LineStats {
        self.lock().stats
    }

    /// Items and bytes queued now.
    pub fn queued(&self) -> (usize, usize) {
        let st = self.lock();
        (st.queue.len(), st.bytes)
    }

    fn lock(&self) -> MutexGuard<'_, State<T>> {
        lock(&self.shared)
    }
}

impl<T: Send + 'static> Drop for DelayLine<T> {
    fn drop(&mut self) {
        {
            let mut st = self.lock();
            st.stop = true;
            st.queue.clear();
        }
        self.shared.wake.notify_all();
        self.shared.space.notify_all();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A poisoned lock only means a sink panicked on another thread; the queue is still sound.
fn lock<T>(shared: &Shared<T>) -> MutexGuard<'_, State<T>> {
    shared.state.lock().unwrap_or_else(|p| p.into_inner())
}

fn enqueue<T>(shared: &Shared<T>, st: &mut State<T>, due: Instant, item: T, bytes: usize) {
    let due = match st.last_due {
        Some(last) if last > due => last,
        _ => due,
    };
    st.last_due = Some(due);
    st.pushed = (st.pushed.1, Some(Instant::now()));
    let was_empty = st.queue.is_empty();
    st.queue.push_back(Entry { due, bytes, item });
    st.bytes += bytes;
    // A non-empty line's releaser already waits for an earlier (or equal) head.
    if was_empty {
        shared.wake.notify_one();
    }
}

fn release_loop<T>(shared: &Shared<T>, sink: &mut impl FnMut(T)) {
    let mut margin = SpinMargin::default();
    let mut batch: Vec<Entry<T>> = Vec::new();
    // After a release, stay awake this long for the next item: one pushed with a delay
    // shorter than a wake-up would otherwise always leave late.
    let mut linger_until = Instant::now();
    let mut st = lock(shared);
    loop {
        // Sleep until the head is within the spin margin.
        let due = loop {
            if st.stop {
                return;
            }
            let head = match st.queue.front() {
                Some(e) if !st.held => e.due,
                _ if !st.held && Instant::now() < linger_until => {
                    drop(st);
                    for _ in 0..64 {
                        std::hint::spin_loop();
                    }
                    st = lock(shared);
                    continue;
                }
                _ => {
                    st = shared.wake.wait(st).unwrap_or_else(|p| p.into_inner());
                    continue;
                }
            };
            let now = Instant::now();
            let wake_at = head.checked_sub(margin.get()).unwrap_or(head);
            if wake_at <= now {
                break head;
            }
            st = shared
                .wake
                .wait_timeout(st, wake_at - now)
                .map(|(g, _)| g)
                .unwrap_or_else(|p| p.into_inner().0);
            let woke = Instant::now();
            if woke >= wake_at {
                margin.observe(wake_at, woke);
            }
        };
        drop(st);
        let now = clock::spin_until(due);
        st = lock(shared);
        if st.held || st.stop {
            continue;
        }
        while st.queue.front().is_some_and(|e| e.due <= now) {
            if let Some(e) = st.queue.pop_front() {
                batch.push(e);
            }
        }
        st.releasing = batch.len();
        drop(st);
        let mut released = 0;
        let mut stats = LineStats::default();
        for e in batch.drain(..) {
            released += e.bytes;
            let late = Instant::now().saturating_duration_since(e.due).as_nanos() as u64;
            stats.released += 1;
            stats.late_total_ns += late;
            stats.late_max_ns = stats.late_max_ns.max(late);
            stats.late_over_50us += u64::from(late > 50_000);
            sink(e.item);
        }
        st = lock(shared);
        st.releasing = 0;
        st.bytes -= released;
        // Linger only for dense traffic (the last two pushes closer than two wake-ups), long
        // enough to see the next push: waiting awake for sparse traffic would burn CPU for
        // nothing.
        if let (Some(a), Some(b)) = st.pushed {
            let gap = b.saturating_duration_since(a);
            if gap < margin.get() * 2 {
                let window = (gap + clock::MIN_MARGIN).max(margin.get());
                linger_until = Instant::now() + window.min(clock::MAX_MARGIN);
            }
        }
        st.stats.released += stats.released;
        st.stats.late_total_ns += stats.late_total_ns;
        st.stats.late_max_ns = st.stats.late_max_ns.max(stats.late_max_ns);
        st.stats.late_over_50us += stats.late_over_50us;
        st.stats.margin_us = margin.get().as_micros() as u64;
        shared.space.notify_all();
    }
}

/// The due time `delay` after `now`, saturating far in the future instead of overflowing.
pub fn due_after(now: Instant, delay: Duration) -> Instant {
    now.checked_add(delay)
        .unwrap_or_else(|| now + Duration::from_secs(86_400))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    /// Per-item lateness in µs (release − due) for `n` items pushed `gap` apart, each due
    /// `delay` after its push.
    fn lateness(delay: Duration, n: usize, gap: Duration) -> Vec<i64> {
        let (tx, rx) = mpsc::channel::<(Instant, Instant)>();
        let line = DelayLine::start("test-delay", usize::MAX, true, move |due: Instant| {
            let _ = tx.send((due, Instant::now()));
        })
        .unwrap();
        let mut next = Instant::now();
        for _ in 0..n {
            clock::spin_until(next);
            let now = Instant::now();
            let due = now + delay;
            line.push(due, due, 1).map_err(|_| "refused").unwrap();
            next += gap;
        }
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            let (due, at) = rx.recv_timeout(delay + Duration::from_secs(5)).unwrap();
            out.push(at.duration_since(due).as_micros() as i64);
        }
        out
    }

    fn percentile(sorted: &[i64], p: f64) -> i64 {
        sorted[((sorted.len() - 1) as f64 * p).round() as usize]
    }

    /// Every setting of the issue, with 400 items and many in flight: the median and the 98th
    /// percentile of lateness must be within max(2%, 50 µs) of the delay, in one of three
    /// attempts (p99 and max are printed: on this virtual machine a few wake-ups in a thousand
    /// come late by hundreds of microseconds, whatever the timer). Releases are never early
    /// (by construction, and checked in every attempt).
    #[test]
    fn releases_are_precise_at_every_setting_with_many_items_in_flight() {
        let _serial = clock::TIMING_TESTS
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        // The pusher runs real-time as the router's and the relay's readers do: an ordinary
        // thread preempted while holding the line's lock would hold up the releaser.
        clock::make_thread_prompt(true);
        let mut report = Vec::new();
        for delay_us in [0u64, 50, 500, 1_000, 2_000, 10_000, 100_000, 500_000] {
            let delay = Duration::from_micros(delay_us);
            let bound = ((delay_us as f64 * 0.02) as i64).max(50);
            // Items pushed so that many are in flight at once.
            let n = 400;
            let gap = Duration::from_micros((delay_us / 50).clamp(20, 5_000));
            // Up to three attempts: a hiccup of the machine (other work, the hypervisor) of a
            // few hundred microseconds makes every item in flight late at once; a line that
            // is late by itself is late in every attempt.
            let mut met = false;
            for _ in 0..3 {
                let mut late = lateness(delay, n, gap);
                late.sort_unstable();
                let (p50, p98) = (percentile(&late, 0.5), percentile(&late, 0.98));
                let (p99, max) = (percentile(&late, 0.99), late[n - 1]);
                report.push(format!(
                    "{delay_us} µs: p50 {p50} p98 {p98} p99 {p99} max {max} (bound {bound})"
                ));
                assert!(
                    late[0] >= 0,
                    "released {} µs early at {delay_us} µs",
                    -late[0]
                );
                if p50 <= bound && p98 <= bound {
                    met = true;
                    break;
                }
            }
            assert!(met, "lateness at {delay_us} µs: {report:#?}");
        }
        eprintln!("delay line lateness: {report:#?}");
    }

    #[test]
    fn order_is_kept_even_when_a_later_push_asks_for_an_earlier_time() {
        let (tx, rx) = mpsc::channel();
        let line = DelayLine::start("test-order", usize::MAX, false, move |i: u32| {
            let _ = tx.send(i);
        })
        .unwrap();
        let now = Instant::now();
        line.push(now + Duration::from_millis(20), 1, 1).unwrap();
        line.push(now, 2, 1).unwrap();
        assert_eq!(rx.recv().unwrap(), 1);
        assert_eq!(rx.recv().unwrap(), 2);
        assert!(now.elapsed() >= Duration::from_millis(20));
    }

    #[test]
    fn a_held_line_releases_nothing_until_let_go() {
        let (tx, rx) = mpsc::channel();
        let line = DelayLine::start("test-hold", usize::MAX, false, move |i: u32| {
            let _ = tx.send(i);
        })
        .unwrap();
        line.set_held(true);
        line.push(Instant::now(), 7, 1).unwrap();
        assert!(rx.recv_timeout(Duration::from_millis(50)).is_err());
        assert!(!line.is_idle());
        line.set_held(false);
        assert_eq!(rx.recv_timeout(Duration::from_millis(50)).unwrap(), 7);
    }

    #[test]
    fn a_full_line_refuses_and_a_stopped_line_drops_its_items() {
        let line = DelayLine::start("test-full", 10, false, |_: u32| {}).unwrap();
        line.set_held(true);
        line.push(Instant::now(), 1, 8).unwrap();
        assert!(matches!(
            line.push(Instant::now(), 2, 8),
            Err(Refused::Full(2))
        ));
        assert_eq!(line.queued(), (1, 8));
        drop(line);
    }
}
