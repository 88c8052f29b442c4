//! Sweeps: a plan (`plan`) expanded into cells run one by one on a cluster (`runner`), with
//! samplers beside the load (`sampler`), a cell's load from several generators merged
//! (`generators`), every cell written to the results folder at once
//! (`folder`).
//!
//! Owns the order of cells and the results folder's files. Must not analyse or present
//! results (that is `analysis`, `report`, `charts`).

pub mod folder;
pub mod generators;
pub mod plan;
pub mod runner;
pub mod sampler;

pub use runner::{SweepError, SweepProgress, SweepTarget, Timing, cell_order, run};
