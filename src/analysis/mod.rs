//! What a results folder says: `stats` is pure mathematics (ratios with confidence
//! intervals); the rest sorts cells into groups and modes, leaves out what must not count, and
//! compares each mode with the baseline, or two folders (`compare`), once for every reader.
//!
//! Owns the figures and changes that report, charts and compare show. Must not render.

pub mod compare;
pub mod stats;
