//! Talking to PostgreSQL for control work: libpq-compatible connection options and targets
//! (`conn`, `pgpass`, `tls`), pooled control-plane sessions per server (`pool`), error
//! descriptions (`error`), what a server offers (`server`), and synchronous_commit's values
//! (`mode`).
//!
//! Owns how to reach a server and read its facts. Must not run benchmark load (that is
//! `load::wire`) or know about Patroni.

pub mod conn;
pub mod error;
pub mod mode;
pub mod pgpass;
pub mod pool;
pub mod server;
pub mod tls;
