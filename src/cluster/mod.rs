//! A Patroni cluster: its REST API (`patroni`), switching and proving its synchronous
//! settings and putting them back (`control`), its state as patronictl shows it (`status`),
//! and the environment a result records (`environment`).
//!
//! Owns every change pgsyncbench makes to a cluster's configuration. Must not run load or
//! start processes (that is `lab`).

pub mod control;
pub mod environment;
pub mod patroni;
pub mod status;
