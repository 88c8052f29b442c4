//! Failure scenarios: a workload under timed faults, with a durability audit and availability
//! figures, so a mode's cost (latency, TPS) is seen beside what it buys (no lost commits).

pub mod audit;
pub mod availability;
pub mod report;
pub mod run;
pub mod spec;
pub mod watch;

pub use run::{ScenarioResult, VariantResult};
pub use spec::Scenario;
