//! Failure scenarios: a workload under timed faults, with a durability audit and availability
//! figures, so a mode's cost (latency, TPS) is seen beside what it buys (no lost commits).
//!
//! `spec` reads scenario files; `run` orders a variant's steps; `actions` does what each action
//! says; `watch` follows the cluster meanwhile; `audit` and `availability` measure what the
//! faults cost; `expect` judges; `result` is what is recorded (src/report/scenario.rs writes it up).

pub mod actions;
pub mod audit;
pub mod availability;
pub mod expect;
pub mod result;
pub mod run;
pub mod spec;
pub mod watch;

pub use result::{ScenarioResult, VariantResult};
pub use spec::Scenario;
