//! The load engine: pgbench-compatible tables (`init`), what clients run (`workload`: a
//! built-in on the fast path, or scripts in pgbench's language from `script`), one benchmark
//! session per client over a small wire-protocol client (`wire`, `session`), clients spread
//! over worker threads as fast as they can or at a fixed rate (`engine`, `pacer`), what they
//! measure (`metrics`, `ledger`) and how it is shown and kept (`summary`, `progress`, `hlog`,
//! `run_result`).
//!
//! Owns running a load against one target and describing what it measured. Must not switch
//! cluster settings, know about sweeps or scenarios, or decide what a result means.

pub mod engine;
pub mod hlog;
pub mod init;
pub mod ledger;
pub mod merge;
pub mod metrics;
pub mod pacer;
pub mod progress;
pub mod run_result;
pub mod script;
pub mod session;
pub mod summary;
pub mod wire;
pub mod workload;
