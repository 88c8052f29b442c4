//! The load engine: N clients, one connection each, spread over J worker threads that each run
//! a single-threaded tokio runtime (pgbench's thread model). Every client records into its own
//! `Stats`; once a second the collector on the calling thread swaps them out and merges them
//! into a tick, which observers (progress lines, interval log) see and the timeline keeps.
//! Clients run as fast as they can, or at a fixed rate (`pacer`), retrying serialization
//! failures and deadlocks up to `max_tries`.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::{Notify, mpsc, watch};

use crate::load::ledger::{Commit, Ledger, TxnClass};
use crate::load::metrics::{Stats, TimelinePoint};
use crate::load::pacer::{Schedule, Timer};
use crate::load::script::{Prng, Seeds};
use crate::load::session::{AuditSpec, ClientSeeds, Session, ThreadChooser, TxnError};
use crate::load::workload::{Protocol, Workload};
use crate::pg::conn::Target;
use crate::pg::mode::SyncCommit;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopAfter {
    Duration(Duration),
    /// Transactions per client, as pgbench's `-t`.
    Transactions(u64),
}

#[derive(Debug, Clone)]
pub struct EngineConfig {
    pub workload: Workload,
    pub protocol: Protocol,
    pub clients: usize,
    pub threads: usize,
    pub stop: StopAfter,
    /// Load that runs but is not recorded, in whole seconds so it ends on a tick.
    pub warmup_secs: u64,
    /// Transactions per second over all clients (`-R`); as fast as possible when None.
    pub rate: Option<f64>,
    /// `--latency-limit`: at a fixed rate, transactions already this late are skipped; any
    /// transaction over it is counted late, and not retried once over it.
    pub latency_limit: Option<Duration>,
    /// Runs a transaction may take on serialization failures and deadlocks (`--max-tries`;
    /// 1 never retries, 0 retries without limit).
    pub max_tries: u32,
    /// Connected, wait for this moment before the load starts (`--start-at`: generators on
    /// several machines start together).
    pub start_at: Option<SystemTime>,
    /// Keep each second's histogram in the timeline (a generator's result, for `merge`).
    pub interval_histograms: bool,
    /// Statements each session runs once before the load.
    pub session_setup: Vec<String>,
    /// The mode every session must report after its setup, or the load does not start: a
    /// result must never carry a mode its sessions did not run under.
    pub expect_synchronous_commit: Option<SyncCommit>,
    pub seed: u64,
    /// How long transactions still running at the end may take to finish before they are
    /// abandoned (a commit waiting for a standby that never answers must not hang the run).
    pub drain_timeout: Duration,
    /// Audit every write transaction under this run id (the durability audit).
    pub audit_run_id: Option<String>,
    /// A client whose connection is lost connects again (to whichever target host accepts
    /// writes) instead of ending: the load follows the leader through a failover.
    pub reconnect: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Warmup,
    Measure,
}

/// One second of load, merged over all clients.
pub struct Tick<'a> {
    pub phase: Phase,
    /// Time since the load started (warmup included), at the end of the tick.
    pub since_start: Duration,
    pub duration: Duration,
    /// Measured transactions of the tick (empty during warmup).
    pub stats: &'a Stats,
    pub warmup_transactions: u64,
}

pub trait Observer {
    fn tick(&mut self, tick: &Tick<'_>);
}

#[derive(Debug)]
pub struct Outcome {
    pub total: Stats,
    pub timeline: Vec<TimelinePoint>,
    /// From the start of measurement to the end of the last client.
    pub measured: Duration,
    /// Time to open every connection and prepare every session.
    pub connection_time: Duration,
    pub started_at: SystemTime,
    pub interrupted: bool,
    /// Clients whose connection was lost during the run.
    pub clients_lost: usize,
    /// Clients their script stopped (an expression, `\gset` or shell error).
    pub clients_aborted: usize,
    /// Transactions still running when the drain timeout ran out.
    pub abandoned: usize,
    /// Times a client connected again after losing its connection.
    pub reconnects: usize,
    /// Per client, what each audited transaction was told (empty without an audit).
    pub ledgers: Vec<Ledger>,
    /// Benchmark sessions (reconnections included) by the synchronous_commit each reported
    /// after its setup.
    pub session_synchronous_commit: BTreeMap<String, u64>,
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("cannot make a timer for the fixed rate: {0}")]
    Timer(std::io::Error),
    #[error(
        "the start time (--start-at) had passed {:.1} s before the connections were ready; give a later one",
        late.as_secs_f64()
    )]
    StartPassed { late: Duration },
    #[error("interrupted before the load started")]
    Interrupted,
    #[error(transparent)]
    Connect(#[from] crate::pg::conn::ConnError),
    #[error("cannot prepare the benchmark session on {target}: {source}")]
    Setup {
        target: String,
        #[source]
        source: crate::load::wire::WireError,
    },
    #[error(
        "benchmark session {client} runs with synchronous_commit={reported}, not {expected}: something overrides the mode for the benchmark sessions (a role, database or connection setting?); nothing was measured"
    )]
    SessionMode {
        client: usize,
        reported: String,
        expected: SyncCommit,
    },
    #[error("cannot start worker thread: {0}")]
    Thread(std::io::Error),
}

const WARMUP: u8 = 0;
const MEASURE: u8 = 1;
const STOP: u8 = 2;

#[derive(Default)]
struct Slot {
    measured: Stats,
    warmup_transactions: u64,
    ledger: Option<Ledger>,
}

struct Shared {
    phase: AtomicU8,
    /// Woken when the phase becomes STOP: clients waiting for a scheduled start give up.
    stopping: Notify,
    slots: Vec<Mutex<Slot>>,
    /// Clients still in their loop; after the stop signal, each of them is inside a transaction.
    running: AtomicUsize,
    lost: AtomicUsize,
    /// Clients their script stopped (pgbench aborts such a client).
    aborted: AtomicUsize,
    reconnects: AtomicUsize,
    session_modes: Mutex<BTreeMap<String, u64>>,
    all_done: Notify,
    /// When the load started; commits are timed from here.
    start: std::sync::OnceLock<Instant>,
}

#[derive(Clone, Copy, PartialEq)]
enum Go {
    Wait,
    Start,
    Abort,
}

/// Runs the load against `target` and returns what it measured. `interrupt` ends the run early
/// (Ctrl-C); what was measured until then is kept.
pub async fn run(
    config: &EngineConfig,
    target: &Target,
    observers: &mut [&mut dyn Observer],
    interrupt: impl Future<Output = ()>,
) -> Result<Outcome, EngineError> {
    let shared = Arc::new(Shared {
        phase: AtomicU8::new(if config.warmup_secs > 0 {
            WARMUP
        } else {
            MEASURE
        }),
        stopping: Notify::new(),
        slots: (0..config.clients).map(|_| Mutex::default()).collect(),
        running: AtomicUsize::new(config.clients),
        lost: AtomicUsize::new(0),
        aborted: AtomicUsize::new(0),
        reconnects: AtomicUsize::new(0),
        session_modes: Mutex::default(),
        all_done: Notify::new(),
        start: std::sync::OnceLock::new(),
    });
    let (go_tx, go_rx) = watch::channel(Go::Wait);
    let (hard_stop_tx, hard_stop_rx) = watch::channel(false);
    let (ready_tx, mut ready_rx) = mpsc::unbounded_channel::<Result<(), EngineError>>();
    tokio::pin!(interrupt);

    let connect_start = Instant::now();
    let mut workers = Vec::new();
    // pgbench's order: a generator per client, the hash seed, then per thread.
    let mut seeds = Seeds::new(config.seed);
    let (mut client_prngs, default_seed) = seeds.clients(config.clients);
    for thread in 0..config.threads {
        // Clients are dealt to threads round-robin, as pgbench does.
        let ids: Vec<usize> = (thread..config.clients).step_by(config.threads).collect();
        let chooser = ThreadChooser::new(seeds.next_prng());
        let throttle = seeds.next_prng();
        let _log_sampling = seeds.next_prng();
        let worker = Worker {
            chooser: chooser.clone(),
            default_seed,
            seeds: ids
                .iter()
                .map(|&id| ClientSeeds {
                    builtin: client_seed(config.seed, id),
                    script: std::mem::replace(&mut client_prngs[id], Prng::from_seed(0)),
                    client_id: id as i64,
                    random_seed: seeds.random_seed(),
                    default_seed,
                    chooser: chooser.clone(),
                })
                .collect(),
            throttle,
            ids,
            config: config.clone(),
            target: target.clone(),
            shared: shared.clone(),
            ready: ready_tx.clone(),
            go: go_rx.clone(),
            hard_stop: hard_stop_rx.clone(),
        };
        let handle = std::thread::Builder::new()
            .name(format!("pgsyncbench-worker-{thread}"))
            .spawn(move || worker.run())
            .map_err(EngineError::Thread)?;
        workers.push(handle);
    }
    drop(ready_tx);

    let mut first_error = None;
    for _ in 0..config.threads {
        match ready_rx.recv().await {
            Some(Ok(())) => {}
            Some(Err(e)) => {
                first_error.get_or_insert(e);
            }
            None => break,
        }
    }
    if let Some(e) = first_error {
        let _ = go_tx.send(Go::Abort);
        join(workers).await;
        return Err(e);
    }
    let connection_time = connect_start.elapsed();
    if let Some(at) = config.start_at {
        // Several generators start together: each waits, connected, for the agreed time.
        match at.duration_since(SystemTime::now()) {
            Ok(wait) => tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = &mut interrupt => {
                    let _ = go_tx.send(Go::Abort);
                    join(workers).await;
                    return Err(EngineError::Interrupted);
                }
            },
            Err(late) => {
                let _ = go_tx.send(Go::Abort);
                join(workers).await;
                return Err(EngineError::StartPassed {
                    late: late.duration(),
                });
            }
        }
    }
    let started_at = SystemTime::now();
    let start = Instant::now();
    let _ = shared.start.set(start);
    let _ = go_tx.send(Go::Start);

    let mut collector = Collector {
        shared: &shared,
        observers,
        total: Stats::default(),
        timeline: Vec::new(),
        scratch: Stats::default(),
        last_tick: start,
        start,
        measure_start: (config.warmup_secs == 0).then_some(start),
        interval_histograms: config.interval_histograms,
    };
    let deadline_tick = match config.stop {
        StopAfter::Duration(d) => Some(config.warmup_secs + d.as_secs().max(1)),
        StopAfter::Transactions(_) => None,
    };

    let mut interrupted = false;
    let mut tick_index = 0u64;
    loop {
        tick_index += 1;
        let next = start + Duration::from_secs(tick_index);
        tokio::select! {
            _ = tokio::time::sleep_until(next.into()) => {}
            _ = shared.all_done.notified() => break,
            _ = &mut interrupt => { interrupted = true; break; }
        }
        let phase = if shared.phase.load(Ordering::Acquire) == WARMUP {
            Phase::Warmup
        } else {
            Phase::Measure
        };
        let ends_run = deadline_tick == Some(tick_index);
        if ends_run {
            // Stop new transactions first, so the tick closes on what actually ran.
            shared.stop();
        }
        collector.tick(phase, next);
        if phase == Phase::Warmup && tick_index == config.warmup_secs {
            shared.phase.store(MEASURE, Ordering::Release);
            collector.measure_start = Some(Instant::now());
        }
        if ends_run {
            break;
        }
    }
    shared.stop();

    // Let transactions in flight finish (they count), within the drain timeout.
    let drain = async {
        while shared.running.load(Ordering::Acquire) > 0 {
            shared.all_done.notified().await;
        }
    };
    let abandoned = match tokio::time::timeout(config.drain_timeout, drain).await {
        Ok(()) => 0,
        Err(_) => {
            let n = shared.running.load(Ordering::Acquire);
            let _ = hard_stop_tx.send(true);
            n
        }
    };
    let end = Instant::now();
    collector.finish(end);
    join(workers).await;

    let measured = collector
        .measure_start
        .map(|m| end.saturating_duration_since(m))
        .unwrap_or_default();
    let ledgers = shared
        .slots
        .iter()
        .filter_map(|s| s.lock().expect("slot lock is never poisoned").ledger.take())
        .collect();
    let session_synchronous_commit = std::mem::take(
        &mut *shared
            .session_modes
            .lock()
            .expect("the mode count is never poisoned"),
    );
    Ok(Outcome {
        ledgers,
        session_synchronous_commit,
        reconnects: shared.reconnects.load(Ordering::Acquire),
        total: collector.total,
        timeline: collector.timeline,
        measured,
        connection_time,
        started_at,
        interrupted,
        clients_lost: shared.lost.load(Ordering::Acquire),
        clients_aborted: shared.aborted.load(Ordering::Acquire),
        abandoned,
    })
}

async fn join(workers: Vec<std::thread::JoinHandle<()>>) {
    let _ = tokio::task::spawn_blocking(move || {
        for w in workers {
            let _ = w.join();
        }
    })
    .await;
}

impl Shared {
    fn stop(&self) {
        self.phase.store(STOP, Ordering::Release);
        self.stopping.notify_waiters();
    }
}

struct Collector<'a, 'o> {
    shared: &'a Shared,
    observers: &'a mut [&'o mut dyn Observer],
    total: Stats,
    timeline: Vec<TimelinePoint>,
    scratch: Stats,
    last_tick: Instant,
    start: Instant,
    measure_start: Option<Instant>,
    interval_histograms: bool,
}

impl Collector<'_, '_> {
    /// Swaps every client's stats out and merges them into `scratch`.
    fn collect(&mut self) -> u64 {
        self.scratch.clear();
        let mut warmup = 0;
        for slot in &self.shared.slots {
            let mut slot = slot.lock().expect("a client never panics holding its slot");
            self.scratch.merge(&slot.measured);
            slot.measured.clear();
            warmup += std::mem::take(&mut slot.warmup_transactions);
        }
        warmup
    }

    fn tick(&mut self, phase: Phase, now: Instant) {
        let warmup_transactions = self.collect();
        let duration = now.saturating_duration_since(self.last_tick);
        self.last_tick = now;
        if let Some(m) = self.measure_start
            && phase == Phase::Measure
        {
            let t = now.saturating_duration_since(m).as_secs_f64();
            let mut point = self.scratch.timeline_point(t, duration.as_secs_f64());
            if self.interval_histograms {
                point.histogram = Some(crate::load::metrics::encode_histogram(&self.scratch.hist));
            }
            self.timeline.push(point);
            self.total.merge(&self.scratch);
        }
        let tick = Tick {
            phase,
            since_start: now.saturating_duration_since(self.start),
            duration,
            stats: &self.scratch,
            warmup_transactions,
        };
        for o in self.observers.iter_mut() {
            o.tick(&tick);
        }
    }

    /// Collects what finished after the last tick: a partial interval of its own.
    fn finish(&mut self, now: Instant) {
        let pending: usize = self
            .shared
            .slots
            .iter()
            .map(|s| {
                let s = s.lock().expect("slot lock is never poisoned");
                (s.measured.transactions() + s.measured.failed() + s.measured.skipped) as usize
            })
            .sum();
        if pending > 0 && self.measure_start.is_some() {
            self.tick(Phase::Measure, now);
        }
    }
}

struct Worker {
    ids: Vec<usize>,
    /// Per client (in `ids` order): what its randomness starts from.
    seeds: Vec<ClientSeeds>,
    /// The thread's generator of fixed-rate start times.
    throttle: Prng,
    chooser: ThreadChooser,
    default_seed: i64,
    config: EngineConfig,
    target: Target,
    shared: Arc<Shared>,
    ready: mpsc::UnboundedSender<Result<(), EngineError>>,
    go: watch::Receiver<Go>,
    hard_stop: watch::Receiver<bool>,
}

impl Worker {
    fn run(self) {
        let runtime = match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(rt) => rt,
            Err(e) => {
                let _ = self.ready.send(Err(EngineError::Thread(e)));
                return;
            }
        };
        runtime.block_on(self.work());
    }

    async fn work(mut self) {
        let seeds = std::mem::take(&mut self.seeds);
        let opened = futures_util::future::join_all(
            self.ids
                .iter()
                .zip(seeds)
                .map(|(&id, seeds)| open_session(&self.config, &self.target, id, seeds)),
        )
        .await;
        let sessions: Result<Vec<Session>, EngineError> = opened
            .into_iter()
            .collect::<Result<Vec<Session>, EngineError>>()
            .and_then(|s| self.check_modes(s));
        let timers: Result<Vec<Option<Timer>>, EngineError> = self
            .ids
            .iter()
            .map(|_| match self.config.rate {
                Some(_) => Timer::new().map(Some).map_err(EngineError::Timer),
                None => Ok(None),
            })
            .collect();
        let (sessions, timers) = match sessions.and_then(|s| Ok((s, timers?))) {
            Ok(s) => {
                let _ = self.ready.send(Ok(()));
                s
            }
            Err(e) => {
                let _ = self.ready.send(Err(e));
                return;
            }
        };
        let go = self
            .go
            .wait_for(|g| *g != Go::Wait)
            .await
            .map(|g| *g)
            .unwrap_or(Go::Abort);
        if go == Go::Abort {
            return;
        }
        let quota = match self.config.stop {
            StopAfter::Transactions(n) => Some(n),
            StopAfter::Duration(_) => None,
        };
        let start = *self
            .shared
            .start
            .get()
            .expect("the load starts before its clients");
        let (chooser, default_seed) = (self.chooser.clone(), self.default_seed);
        let schedule = self.config.rate.map(|rate| {
            // Each thread takes its share of the rate, as pgbench's threads do.
            Schedule::new(start, rate / self.config.threads as f64, self.throttle)
        });
        let handles: Vec<_> = self
            .ids
            .iter()
            .zip(sessions)
            .zip(timers)
            .map(|((&id, session), timer)| {
                let pace = schedule.clone().zip(timer);
                tokio::spawn(client_loop(
                    id,
                    session,
                    self.shared.clone(),
                    Client {
                        quota,
                        pace,
                        config: self.config.clone(),
                        target: self.target.clone(),
                        chooser: chooser.clone(),
                        default_seed,
                    },
                ))
            })
            .collect();
        let aborts: Vec<_> = handles.iter().map(|h| h.abort_handle()).collect();
        tokio::select! {
            _ = futures_util::future::join_all(handles) => {}
            _ = self.hard_stop.wait_for(|stop| *stop) => {
                for a in aborts { a.abort(); }
            }
        }
    }

    /// Counts the sessions by the mode they reported; refuses any that is not the one expected.
    fn check_modes(&self, sessions: Vec<Session>) -> Result<Vec<Session>, EngineError> {
        for (&id, session) in self.ids.iter().zip(&sessions) {
            let reported = session.synchronous_commit();
            if let Some(expected) = self.config.expect_synchronous_commit
                && SyncCommit::from_server(reported) != Some(expected)
            {
                return Err(EngineError::SessionMode {
                    client: id,
                    reported: reported.to_string(),
                    expected,
                });
            }
        }
        for session in &sessions {
            count_mode(&self.shared, session);
        }
        Ok(sessions)
    }
}

fn count_mode(shared: &Shared, session: &Session) {
    *shared
        .session_modes
        .lock()
        .expect("the mode count is never poisoned")
        .entry(session.synchronous_commit().to_string())
        .or_default() += 1;
}

async fn open_session(
    config: &EngineConfig,
    target: &Target,
    id: usize,
    seeds: ClientSeeds,
) -> Result<Session, EngineError> {
    let conn = crate::load::wire::connect(target)
        .await
        .map_err(EngineError::Connect)?;
    let audit = config.audit_run_id.as_ref().map(|run_id| AuditSpec {
        run_id: run_id.clone(),
        client: id as u32,
    });
    Session::open(
        conn,
        &config.workload,
        config.protocol,
        &config.session_setup,
        audit.as_ref(),
        seeds,
    )
    .await
    .map_err(|e| EngineError::Setup {
        target: target.label(),
        source: e,
    })
}

/// The seed of a client's built-in draws.
fn client_seed(seed: u64, id: usize) -> u64 {
    seed ^ (id as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// What a client loop runs with besides its session.
struct Client {
    /// Transactions to run (`-t`).
    quota: Option<u64>,
    /// At a fixed rate: the thread's schedule and this client's timer.
    pace: Option<(Schedule, Timer)>,
    config: EngineConfig,
    target: Target,
    /// The thread's script chooser and the run's hash seed, for a session opened again.
    chooser: ThreadChooser,
    default_seed: i64,
}

impl Client {
    /// Seeds for a session opened again after a lost connection: fresh draws (not the
    /// start's again), the run's hash seed and the thread's chooser.
    fn seeds_again(&self, id: usize, reconnects: u64) -> ClientSeeds {
        let seed = client_seed(self.config.seed, id)
            ^ (reconnects + 1).wrapping_mul(0xD1B5_4A32_D192_ED03);
        ClientSeeds {
            builtin: seed,
            script: Prng::from_seed(seed),
            client_id: id as i64,
            random_seed: self.config.seed as i64,
            default_seed: self.default_seed,
            chooser: self.chooser.clone(),
        }
    }

    /// Another run of a failed transaction is allowed: a serialization failure or deadlock,
    /// tries left, not over the latency limit, the run not over (pgbench's rules).
    fn may_retry(&self, e: &TxnError, tries: u32, started: Instant, shared: &Shared) -> bool {
        e.is_retryable()
            && (self.config.max_tries == 0 || tries < self.config.max_tries)
            && self
                .config
                .latency_limit
                .is_none_or(|limit| started.elapsed() <= limit)
            && shared.phase.load(Ordering::Acquire) != STOP
    }
}

/// Waits for a scheduled start; false when the run stops first.
async fn wait_for_start(timer: &Timer, due: Instant, shared: &Shared) -> bool {
    let stopping = shared.stopping.notified();
    tokio::pin!(stopping);
    stopping.as_mut().enable();
    if shared.phase.load(Ordering::Acquire) == STOP {
        return false;
    }
    tokio::select! {
        r = timer.sleep_until(due) => r.is_ok(),
        _ = stopping => false,
    }
}

async fn client_loop(id: usize, mut session: Session, shared: Arc<Shared>, client: Client) {
    let config = &client.config;
    let audited = config.audit_run_id.is_some() && config.workload.audited_writes();
    if audited {
        shared.slots[id]
            .lock()
            .expect("slot lock is never poisoned")
            .ledger = Some(Ledger::new(id as u32));
    }
    let start = *shared
        .start
        .get()
        .expect("the load starts before its clients");
    let mut done = 0u64;
    let quota_met =
        |phase: u8, done: u64| client.quota.is_some_and(|q| phase == MEASURE && done >= q);
    'load: loop {
        let phase = shared.phase.load(Ordering::Acquire);
        if phase == STOP || quota_met(phase, done) {
            break;
        }
        let scheduled = match &client.pace {
            None => None,
            Some((schedule, timer)) => {
                let mut due = schedule.next_due();
                if let Some(limit) = config.latency_limit {
                    // Already later than the limit: skipped, as pgbench skips them.
                    let now = Instant::now();
                    while due + limit < now {
                        let phase = shared.phase.load(Ordering::Acquire);
                        if phase != WARMUP {
                            shared.slots[id]
                                .lock()
                                .expect("slot lock is never poisoned")
                                .measured
                                .skipped += 1;
                            done += 1;
                        }
                        if phase == STOP || quota_met(phase, done) {
                            break 'load;
                        }
                        due = schedule.next_due();
                    }
                }
                if !wait_for_start(timer, due, &shared).await {
                    break;
                }
                Some(due)
            }
        };
        // The ledger lives in the slot so that a transaction abandoned at the drain timeout
        // stays on record, as indeterminate, until its outcome is known.
        let seq = if audited {
            let mut slot = shared.slots[id]
                .lock()
                .expect("slot lock is never poisoned");
            let l = slot.ledger.as_mut().expect("audited clients have a ledger");
            let seq = l.next_seq();
            l.outcomes.push(TxnClass::Indeterminate);
            seq
        } else {
            0
        };
        let begun = Instant::now();
        let started = scheduled.unwrap_or(begun);
        let mut tries = 1;
        let result = loop {
            match session.run_transaction(tries > 1, seq).await {
                Err(e) if client.may_retry(&e, tries, started, &shared) => tries += 1,
                other => break other,
            }
        };
        let end = Instant::now();
        let latency_us = end.duration_since(started).as_micros() as u64;
        // A transaction belongs to the phase in which it completed.
        let measuring = shared.phase.load(Ordering::Acquire) != WARMUP;
        let mut ends = false;
        {
            let mut slot = shared.slots[id]
                .lock()
                .expect("slot lock is never poisoned");
            if let Some(l) = slot.ledger.as_mut() {
                let class = match &result {
                    Ok(c) if c.warned => TxnClass::Indeterminate,
                    Ok(_) => {
                        l.commits.push(Commit {
                            at: start.elapsed().as_secs_f64(),
                            endpoint: session.endpoint(),
                        });
                        TxnClass::Acknowledged
                    }
                    Err(e) => e.class(),
                };
                *l.outcomes
                    .last_mut()
                    .expect("pushed before the transaction") = class;
            }
            let m = &mut slot.measured;
            match &result {
                Ok(_) if measuring => {
                    match scheduled {
                        Some(due) => m.record_paced(
                            latency_us,
                            end.duration_since(begun).as_micros() as u64,
                            begun.duration_since(due).as_micros() as u64,
                        ),
                        None => m.record(latency_us),
                    }
                    if config
                        .latency_limit
                        .is_some_and(|limit| end.duration_since(started) > limit)
                    {
                        m.late += 1;
                    }
                    m.record_tries(tries);
                }
                Ok(_) => slot.warmup_transactions += 1,
                Err(e) => {
                    if measuring {
                        m.record_failure(e.kind());
                        m.record_tries(tries);
                    }
                    if let crate::load::session::Failure::Script(why) = &e.failure {
                        eprintln!("{why}");
                    }
                    ends = e.ends_client();
                }
            }
        }
        if measuring {
            done += 1;
        }
        let lost = matches!(&result, Err(e) if e.lost);
        if ends && !(lost && config.reconnect) {
            let counter = if lost { &shared.lost } else { &shared.aborted };
            counter.fetch_add(1, Ordering::AcqRel);
            break;
        }
        if lost {
            // Follow the leader: connect again to whichever host accepts writes.
            loop {
                if shared.phase.load(Ordering::Acquire) == STOP {
                    break 'load;
                }
                let reconnects = shared.reconnects.load(Ordering::Acquire) as u64;
                let seeds = client.seeds_again(id, reconnects);
                if let Ok(s) = open_session(config, &client.target, id, seeds).await {
                    // Counted, not refused: the load is already running.
                    count_mode(&shared, &s);
                    session = s;
                    shared.reconnects.fetch_add(1, Ordering::AcqRel);
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    drop(session);
    if shared.running.fetch_sub(1, Ordering::AcqRel) == 1 {
        shared.all_done.notify_one();
    }
}
