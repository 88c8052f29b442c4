//! pgsyncbench: what PostgreSQL's synchronous_commit modes cost and buy on Patroni clusters.
//!
//! Data flows one way: `cli` → `commands` (one per subcommand) → the subsystems below, each of
//! which imports only those listed after it:
//!
//! - `capacity` (the highest rate meeting a latency objective) runs its probes as `sweep`
//!   cells; `sweep` (plans, cells, the results folder) and `scenario` (faults, audit,
//!   availability) drive `load` on a `cluster`, on a `lab` when pgsyncbench starts one;
//! - `report` and `charts` present what `analysis` makes of a results folder;
//! - `load` (the engine, its sessions and measurements), `cluster` (Patroni, switching modes),
//!   `lab` (local etcd + Patroni + PostgreSQL processes), `net` (the lab's network: hosts in
//!   zones, exact delays, caps, partitions);
//! - `pg` (connection options, TLS, passwords, errors, server probes), `text`, `interrupt`.

pub mod analysis;
pub mod capacity;
pub mod charts;
pub mod cli;
pub mod cluster;
pub mod commands;
pub mod interrupt;
pub mod lab;
pub mod load;
pub mod net;
pub mod pg;
pub mod report;
pub mod scenario;
pub mod sweep;
pub mod text;
