//! Precise waiting: sleep on the kernel's high-resolution timer until shortly before a due
//! time, then spin to it. Owns the thread settings that make wake-ups prompt (timer slack,
//! real-time priority when allowed). Must not know what is being delayed.

use std::time::{Duration, Instant};

/// How early the coarse sleep ends at first; then the 98th percentile of recent wake-up
/// lateness plus a little (see [`SpinMargin`]).
pub const INITIAL_MARGIN: Duration = Duration::from_micros(60);
/// Never spin less: a wake-up on time still costs a few microseconds to get running.
pub const MIN_MARGIN: Duration = Duration::from_micros(20);
/// Never spin more: past this, waking late is the machine's problem, not worth a core.
pub const MAX_MARGIN: Duration = Duration::from_micros(200);
/// Added to the observed percentile.
const MARGIN_PAD: Duration = Duration::from_micros(10);
/// Wake-ups remembered to compute the percentile.
const WINDOW: usize = 256;

/// What a thread got when asking for prompt wake-ups.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Promptness {
    /// Timer slack set to 1 ns (the default 50 µs would blur every deadline).
    pub slack_1ns: bool,
    /// SCHED_FIFO granted (root or RLIMIT_RTPRIO): wake-ups preempt ordinary work, so a busy
    /// machine (builds on both cores) does not delay releases.
    pub realtime: bool,
}

/// Asks for prompt wake-ups for the calling thread: timer slack of 1 ns and, when `realtime`
/// is asked and permitted, SCHED_FIFO at a low real-time priority. Refusals are not errors:
/// the thread still works, only less precisely on a busy machine; the result says what held.
pub fn make_thread_prompt(realtime: bool) -> Promptness {
    // SAFETY: prctl(PR_SET_TIMERSLACK) only changes the calling thread's timer slack.
    let slack_1ns =
        unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong, 0, 0, 0) } == 0;
    let realtime = realtime && {
        let param = libc::sched_param { sched_priority: 10 };
        // SAFETY: pthread_self() is the calling thread; param is a valid sched_param.
        unsafe { libc::pthread_setschedparam(libc::pthread_self(), libc::SCHED_FIFO, &param) == 0 }
    };
    Promptness {
        slack_1ns,
        realtime,
    }
}

/// Keeps idle CPUs out of sleep states while held (PM QoS: /dev/cpu_dma_latency at 0 µs):
/// on a virtual machine a halted vCPU takes tens of microseconds to wake, which every packet
/// delivered to a sleeping receiver would pay, more the longer it slept, so a delayed path
/// would cost more than its delay. Idle CPUs poll instead; that costs power, not CPU time
/// others could use. The kernel drops the request when the fd closes (also on kill -9).
#[derive(Debug)]
pub struct AwakeCpus {
    _file: std::fs::File,
}

impl AwakeCpus {
    /// Holds the request; an error (not root, no such device) leaves CPUs as they are.
    pub fn hold() -> std::io::Result<AwakeCpus> {
        use std::io::Write;
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/cpu_dma_latency")?;
        file.write_all(&0i32.to_ne_bytes())?;
        Ok(AwakeCpus { _file: file })
    }
}

/// Spins until `due` (a short busy wait: callers sleep first and spin only the margin).
pub fn spin_until(due: Instant) -> Instant {
    loop {
        let now = Instant::now();
        if now >= due {
            return now;
        }
        std::hint::spin_loop();
    }
}

/// The margin a waiter spins before each due time: the 98th percentile of the last 256
/// wake-ups' lateness plus 10 µs, recomputed every 32 wake-ups, and raised at once by a late
/// wake-up (a busy spell starts) until the next recomputation; bounded by MIN_MARGIN and
/// MAX_MARGIN. A percentile, so a rare scheduling outlier of milliseconds (a virtual CPU
/// descheduled) does not make every later release spin for long.
#[derive(Clone, Debug)]
pub struct SpinMargin {
    margin: Duration,
    recent_us: [u32; WINDOW],
    seen: usize,
}

impl Default for SpinMargin {
    fn default() -> Self {
        SpinMargin {
            margin: INITIAL_MARGIN,
            recent_us: [0; WINDOW],
            seen: 0,
        }
    }
}

impl SpinMargin {
    pub fn get(&self) -> Duration {
        self.margin
    }

    /// Records a wake-up that was asked for `wanted` and happened at `woke`.
    pub fn observe(&mut self, wanted: Instant, woke: Instant) {
        let late = woke.saturating_duration_since(wanted);
        self.recent_us[self.seen % WINDOW] = late.as_micros().min(u128::from(u32::MAX)) as u32;
        self.seen += 1;
        if late + MARGIN_PAD > self.margin {
            self.margin = (late + MARGIN_PAD).min(MAX_MARGIN);
        }
        if self.seen.is_multiple_of(32) {
            let n = self.seen.min(WINDOW);
            let mut sorted = self.recent_us;
            let sorted = &mut sorted[..n];
            sorted.sort_unstable();
            let p98 = Duration::from_micros(u64::from(sorted[(n - 1) * 98 / 100]));
            self.margin = (p98 + MARGIN_PAD).clamp(MIN_MARGIN, MAX_MARGIN);
        }
    }
}

/// Unit tests that time things with real-time threads take this, so they do not compete for
/// the same two cores with each other.
#[cfg(test)]
pub static TIMING_TESTS: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_margin_follows_the_98th_percentile_of_lateness() {
        let mut m = SpinMargin::default();
        let t = Instant::now();
        let us = Duration::from_micros;
        m.observe(t, t + us(150));
        assert_eq!(m.get(), us(160), "raised at once");
        for _ in 0..31 {
            m.observe(t, t + us(5));
        }
        // 32 seen: the 98th percentile of 31 × 5 µs and one 150 µs is 5 µs.
        assert_eq!(m.get(), MIN_MARGIN);
        for i in 0..256 {
            m.observe(t, t + us(if i % 10 == 0 { 40 } else { 30 }));
        }
        assert_eq!(m.get(), us(50));
        m.observe(t, t + Duration::from_secs(1));
        assert_eq!(m.get(), MAX_MARGIN);
    }

    #[test]
    fn spinning_stops_at_the_due_time_not_before() {
        let _serial = TIMING_TESTS.lock().unwrap_or_else(|p| p.into_inner());
        // Real-time, or an ordinary thread preempted mid-spin would fail the ceiling.
        make_thread_prompt(true);
        let due = Instant::now() + Duration::from_micros(300);
        let at = spin_until(due);
        assert!(at >= due && at < due + Duration::from_micros(200));
    }
}
