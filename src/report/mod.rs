//! Reports: a document model rendered to Markdown and self-contained HTML (`doc`), a sweep's
//! report (`sweep`) with its offered-load section (`offered`) or a capacity search's
//! (`capacity`), the failure scenarios' section (`scenario`), `compare`'s table (`compare`), how figures are written (`format`), and the
//! one place that writes every output of a results folder (`write`).
//!
//! Owns how results are written up. Must not measure or analyse (that is `analysis`).

pub mod capacity;
pub mod compare;
pub mod doc;
pub mod format;
pub mod offered;
pub mod scenario;
pub mod sweep;
pub mod write;

pub use write::{Written, write};
