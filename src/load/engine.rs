//! The load engine: N clients, one connection each, spread over J worker threads that each run
//! a single-threaded tokio runtime (pgbench's thread model). Every client records into its own
//! `Stats`; once a second the collector on the calling thread swaps them out and merges them
//! into a tick, which observers (progress lines, interval log) see and the timeline keeps.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use rand::SeedableRng;
use rand::rngs::SmallRng;
use tokio::sync::{Notify, mpsc, watch};

use crate::load::ledger::{Commit, Ledger, TxnClass};
use crate::load::metrics::{Stats, TimelinePoint};
use crate::load::session::{AuditSpec, Session};
use crate::load::workload::{Builtin, Draw, Protocol};
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
    pub builtin: Builtin,
    pub protocol: Protocol,
    pub clients: usize,
    pub threads: usize,
    pub stop: StopAfter,
    /// Load that runs but is not recorded, in whole seconds so it ends on a tick.
    pub warmup_secs: u64,
    pub scale: i64,
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
    slots: Vec<Mutex<Slot>>,
    /// Clients still in their loop; after the stop signal, each of them is inside a transaction.
    running: AtomicUsize,
    lost: AtomicUsize,
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
        slots: (0..config.clients).map(|_| Mutex::default()).collect(),
        running: AtomicUsize::new(config.clients),
        lost: AtomicUsize::new(0),
        reconnects: AtomicUsize::new(0),
        session_modes: Mutex::default(),
        all_done: Notify::new(),
        start: std::sync::OnceLock::new(),
    });
    let (go_tx, go_rx) = watch::channel(Go::Wait);
    let (hard_stop_tx, hard_stop_rx) = watch::channel(false);
    let (ready_tx, mut ready_rx) = mpsc::unbounded_channel::<Result<(), EngineError>>();

    let connect_start = Instant::now();
    let mut workers = Vec::new();
    for thread in 0..config.threads {
        // Clients are dealt to threads round-robin, as pgbench does.
        let ids: Vec<usize> = (thread..config.clients).step_by(config.threads).collect();
        let worker = Worker {
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
    };
    let deadline_tick = match config.stop {
        StopAfter::Duration(d) => Some(config.warmup_secs + d.as_secs().max(1)),
        StopAfter::Transactions(_) => None,
    };

    tokio::pin!(interrupt);
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
            shared.phase.store(STOP, Ordering::Release);
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
    shared.phase.store(STOP, Ordering::Release);

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

struct Collector<'a, 'o> {
    shared: &'a Shared,
    observers: &'a mut [&'o mut dyn Observer],
    total: Stats,
    timeline: Vec<TimelinePoint>,
    scratch: Stats,
    last_tick: Instant,
    start: Instant,
    measure_start: Option<Instant>,
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
            self.timeline
                .push(self.scratch.timeline_point(t, duration.as_secs_f64()));
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
                (s.measured.transactions() + s.measured.failed()) as usize
            })
            .sum();
        if pending > 0 && self.measure_start.is_some() {
            self.tick(Phase::Measure, now);
        }
    }
}

struct Worker {
    ids: Vec<usize>,
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
        let opened = futures_util::future::join_all(self.ids.iter().map(|&id| self.open(id))).await;
        let sessions: Result<Vec<Session>, EngineError> = opened
            .into_iter()
            .collect::<Result<Vec<Session>, EngineError>>()
            .and_then(|s| self.check_modes(s));
        let sessions = match sessions {
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
        let handles: Vec<_> = self
            .ids
            .iter()
            .zip(sessions)
            .map(|(&id, session)| {
                let rng = SmallRng::seed_from_u64(
                    self.config.seed ^ (id as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15),
                );
                tokio::spawn(client_loop(
                    id,
                    session,
                    self.shared.clone(),
                    rng,
                    quota,
                    self.config.clone(),
                    self.target.clone(),
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

    async fn open(&self, id: usize) -> Result<Session, EngineError> {
        open_session(&self.config, &self.target, id).await
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
        config.builtin,
        config.protocol,
        &config.session_setup,
        audit.as_ref(),
    )
    .await
    .map_err(|e| EngineError::Setup {
        target: target.label(),
        source: e,
    })
}

async fn client_loop(
    id: usize,
    mut session: Session,
    shared: Arc<Shared>,
    mut rng: SmallRng,
    quota: Option<u64>,
    config: EngineConfig,
    target: Target,
) {
    let audited = config.audit_run_id.is_some() && config.builtin.writes();
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
    'load: loop {
        let phase = shared.phase.load(Ordering::Acquire);
        if phase == STOP || quota.is_some_and(|q| phase == MEASURE && done >= q) {
            break;
        }
        let draw = Draw::new(&mut rng, config.scale);
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
        let result = session.run_transaction(&draw, seq).await;
        let latency_us = begun.elapsed().as_micros() as u64;
        // A transaction belongs to the phase in which it completed.
        let measuring = shared.phase.load(Ordering::Acquire) != WARMUP;
        let mut lost = false;
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
            match &result {
                Ok(_) if measuring => slot.measured.record(latency_us),
                Ok(_) => slot.warmup_transactions += 1,
                Err(e) => {
                    if measuring {
                        slot.measured.record_failure(e.kind());
                    }
                    lost = e.lost;
                }
            }
        }
        if measuring {
            done += 1;
        }
        if lost {
            if !config.reconnect {
                shared.lost.fetch_add(1, Ordering::AcqRel);
                break;
            }
            // Follow the leader: connect again to whichever host accepts writes.
            loop {
                if shared.phase.load(Ordering::Acquire) == STOP {
                    break 'load;
                }
                if let Ok(s) = open_session(&config, &target, id).await {
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
