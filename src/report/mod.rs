//! Reports: a document model rendered to Markdown and self-contained HTML (`doc`), a sweep's
//! report (`sweep`).
//!
//! Owns how results are written up. Must not measure or analyse.

pub mod doc;
pub mod sweep;

pub use sweep::*;
