//! Capacity at a latency objective: for each mode, the highest offered rate (pgbench's `-R`)
//! whose chosen latency percentile stays within the SLO over the measured window and which the
//! server keeps up with, found by a search over rates (`search`, pure), each probe judged by
//! `verdict`, the whole read back from a results folder by `result` (capacity.json), and run on
//! a cluster by `run`, every probe a sweep cell.
//!
//! Owns the choice of rates and the judgement of probes. Uses `sweep` to run and store cells;
//! must not present results (that is `report` and `charts`).

pub mod result;
pub mod run;
pub mod search;
pub mod verdict;

pub use result::{CapacityResult, ModeCapacity, State};
