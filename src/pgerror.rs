//! One-line descriptions of driver errors, and how failures are classified.

use crate::metrics::CONNECTION_LOST;

/// `ERROR: message (SQLSTATE 40001)` for a server error; the driver's own words otherwise.
pub fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!(
            "{}: {} (SQLSTATE {})",
            db.severity(),
            db.message(),
            db.code().code()
        ),
        None => {
            let mut text = e.to_string();
            let mut source = std::error::Error::source(e);
            while let Some(cause) = source {
                text.push_str(": ");
                text.push_str(&cause.to_string());
                source = cause.source();
            }
            one_line(&text)
        }
    }
}

/// The failure class of an error: its SQLSTATE, or `connection` when the session is gone.
pub fn failure_kind(e: &tokio_postgres::Error) -> &str {
    match e.code() {
        Some(code) => code.code(),
        None => CONNECTION_LOST,
    }
}

pub fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}
