//! pgsyncbench: what PostgreSQL's synchronous_commit modes cost and buy on Patroni clusters.

pub mod cli;
pub mod commands;
pub mod conn;
pub mod control;
pub mod doc;
pub mod engine;
pub mod hlog;
pub mod init;
pub mod lab;
pub mod metrics;
pub mod mode;
pub mod patroni;
pub mod pgerror;
pub mod pgpass;
pub mod progress;
pub mod result;
pub mod results;
pub mod server;
pub mod session;
pub mod stats;
pub mod status;
pub mod summary;
pub mod text;
pub mod tls;
pub mod wire;
pub mod workload;
