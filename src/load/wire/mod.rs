//! A lean PostgreSQL protocol client for benchmark sessions. Each client task owns its socket and
//! buffers and waits for its own replies: no driver task, no channels, no allocation per
//! transaction. It also keeps the server's notices, which say when a commit's wait for
//! synchronous replication was cancelled. Control sessions (init, probes, COPY) use
//! tokio-postgres; this module only speaks what the benchmark sends.

mod connect;
mod stream;

use std::io;

use bytes::{Buf, BytesMut};
use postgres_protocol::IsNull;
use postgres_protocol::message::backend::{ErrorFields, Message};
use postgres_protocol::message::frontend;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub use connect::connect;
use stream::Stream;

use fallible_iterator::FallibleIterator;

/// An ErrorResponse or NoticeResponse from the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerMessage {
    pub severity: String,
    pub code: String,
    pub message: String,
}

impl ServerMessage {
    fn from_fields(mut fields: ErrorFields<'_>) -> ServerMessage {
        let mut m = ServerMessage {
            severity: String::new(),
            code: String::new(),
            message: String::new(),
        };
        while let Ok(Some(field)) = fields.next() {
            let value = String::from_utf8_lossy(field.value_bytes()).into_owned();
            match field.type_() {
                b'V' => m.severity = value,
                b'S' if m.severity.is_empty() => m.severity = value,
                b'C' => m.code = value,
                b'M' => m.message = value,
                _ => {}
            }
        }
        m
    }

    /// The session ends after a FATAL or PANIC error.
    pub fn is_fatal(&self) -> bool {
        matches!(self.severity.as_str(), "FATAL" | "PANIC")
    }
}

impl std::fmt::Display for ServerMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: {} (SQLSTATE {})",
            self.severity, self.message, self.code
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum WireError {
    #[error("{0}")]
    Server(ServerMessage),
    #[error("connection lost: {0}")]
    Io(#[from] io::Error),
    #[error("server closed the connection")]
    Closed,
    #[error("protocol error: {0}")]
    Protocol(String),
}

impl WireError {
    /// The SQLSTATE of a server error.
    pub fn code(&self) -> Option<&str> {
        match self {
            WireError::Server(m) => Some(&m.code),
            _ => None,
        }
    }
}

/// Transaction status from the last ReadyForQuery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxStatus {
    Idle,
    InTransaction,
    Failed,
}

/// One result of a statement, as `\gset` and `\aset` need it: its column names, how many
/// rows it had and the last of them (a statement without rows, an INSERT say, has none).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResultSet {
    pub columns: Vec<String>,
    pub rows: usize,
    /// Column texts of the last row; `None` is SQL NULL.
    pub last_row: Vec<Option<String>>,
}

/// What of the replies is kept.
#[derive(Debug, Default)]
enum Capture {
    /// Nothing: rows are skipped unread (the benchmark's usual case).
    #[default]
    Nothing,
    /// The first column of the first row.
    FirstValue(Option<String>),
    /// Every result; `open` while a result's rows are still coming.
    Results { sets: Vec<ResultSet>, open: bool },
}

/// Which statement a Bind refers to.
#[derive(Debug, Clone, Copy)]
pub enum Statement<'a> {
    /// Parsed anew with this text (the extended protocol).
    Unnamed(&'a str),
    /// Prepared before under this name.
    Prepared(&'a str),
}

pub struct WireConn {
    stream: Stream,
    out: BytesMut,
    inb: BytesMut,
    notices: Vec<ServerMessage>,
    status: TxStatus,
    lost: bool,
    capture: Capture,
    /// Which of the target's hosts this session reached (0 for a single host).
    endpoint: usize,
}

impl WireConn {
    fn new(stream: Stream) -> WireConn {
        WireConn {
            stream,
            out: BytesMut::with_capacity(512),
            inb: BytesMut::with_capacity(8192),
            notices: Vec::new(),
            status: TxStatus::Idle,
            lost: false,
            capture: Capture::Nothing,
            endpoint: 0,
        }
    }

    /// Index of the target host this session is connected to.
    pub fn endpoint(&self) -> usize {
        self.endpoint
    }

    /// The session is gone (closed, I/O error or a FATAL error); nothing more can run on it.
    pub fn is_lost(&self) -> bool {
        self.lost
    }

    pub fn transaction_status(&self) -> TxStatus {
        self.status
    }

    /// Notices (warnings) received since the last call.
    pub fn take_notices(&mut self) -> Vec<ServerMessage> {
        std::mem::take(&mut self.notices)
    }

    pub fn has_notices(&self) -> bool {
        !self.notices.is_empty()
    }

    /// Runs SQL with the simple query protocol; rows are discarded.
    pub async fn simple(&mut self, sql: &str) -> Result<(), WireError> {
        frontend::query(sql, &mut self.out).map_err(|e| WireError::Protocol(e.to_string()))?;
        self.round_trip().await
    }

    /// The first column of the first row a query returns, as text.
    pub async fn query_value(&mut self, sql: &str) -> Result<Option<String>, WireError> {
        self.capture = Capture::FirstValue(None);
        let result = self.simple(sql).await;
        let value = match std::mem::take(&mut self.capture) {
            Capture::FirstValue(v) => v,
            _ => None,
        };
        result.map(|()| value)
    }

    /// Keeps every result of the next round trip, for `take_results`.
    pub fn capture_results(&mut self) {
        self.capture = Capture::Results {
            sets: Vec::new(),
            open: false,
        };
    }

    /// The results kept since `capture_results` (empty when none was asked for); capturing
    /// ends.
    pub fn take_results(&mut self) -> Vec<ResultSet> {
        match std::mem::take(&mut self.capture) {
            Capture::Results { sets, .. } => sets,
            _ => Vec::new(),
        }
    }

    /// Bind/Execute/Sync with text parameters (`None` is NULL): one round trip.
    pub async fn execute_text<'p>(
        &mut self,
        statement: Statement<'_>,
        params: impl Iterator<Item = Option<&'p str>>,
    ) -> Result<(), WireError> {
        self.queue_text(statement, params)?;
        frontend::sync(&mut self.out);
        self.round_trip().await
    }

    /// Buffers Bind/Execute (and Parse for an unnamed statement) without a Sync: a pipeline
    /// sends them all with `sync`.
    pub fn queue_text<'p>(
        &mut self,
        statement: Statement<'_>,
        params: impl Iterator<Item = Option<&'p str>>,
    ) -> Result<(), WireError> {
        let name = match statement {
            Statement::Unnamed(sql) => {
                frontend::parse("", sql, std::iter::empty(), &mut self.out)
                    .map_err(|e| WireError::Protocol(e.to_string()))?;
                ""
            }
            Statement::Prepared(name) => name,
        };
        frontend::bind(
            "",
            name,
            std::iter::empty(),
            params,
            |v, buf| match v {
                Some(text) => {
                    buf.extend_from_slice(text.as_bytes());
                    Ok(IsNull::No)
                }
                None => Ok(IsNull::Yes),
            },
            std::iter::empty(),
            &mut self.out,
        )
        .map_err(|_| WireError::Protocol("cannot encode parameters".into()))?;
        if matches!(self.capture, Capture::Results { .. }) {
            // Column names come only with a description of the portal.
            frontend::describe(b'P', "", &mut self.out)
                .map_err(|e| WireError::Protocol(e.to_string()))?;
        }
        frontend::execute("", 0, &mut self.out).map_err(|e| WireError::Protocol(e.to_string()))
    }

    /// Buffers a Parse of a named statement without a Sync (prepared inside a pipeline).
    pub fn queue_prepare(&mut self, name: &str, sql: &str) -> Result<(), WireError> {
        frontend::parse(name, sql, std::iter::empty(), &mut self.out)
            .map_err(|e| WireError::Protocol(e.to_string()))
    }

    /// Sends what is buffered with a Sync and reads every reply up to ReadyForQuery (the end
    /// of a pipeline); the first error is returned.
    pub async fn sync(&mut self) -> Result<(), WireError> {
        frontend::sync(&mut self.out);
        self.round_trip().await
    }

    /// Prepares a named statement; parameter types are left for the server to infer, as
    /// pgbench's prepared mode does.
    pub async fn prepare(&mut self, name: &str, sql: &str) -> Result<(), WireError> {
        frontend::parse(name, sql, std::iter::empty(), &mut self.out)
            .map_err(|e| WireError::Protocol(e.to_string()))?;
        frontend::sync(&mut self.out);
        self.round_trip().await
    }

    /// Bind/Execute/Sync of a prepared statement with text parameters: one round trip.
    pub async fn execute_prepared(&mut self, name: &str, params: &[i64]) -> Result<(), WireError> {
        self.bind_execute(name, params)?;
        self.round_trip().await
    }

    /// Parse/Bind/Execute/Sync of an unnamed statement: the extended protocol in one round trip.
    pub async fn execute_unnamed(&mut self, sql: &str, params: &[i64]) -> Result<(), WireError> {
        frontend::parse("", sql, std::iter::empty(), &mut self.out)
            .map_err(|e| WireError::Protocol(e.to_string()))?;
        self.bind_execute("", params)?;
        self.round_trip().await
    }

    fn bind_execute(&mut self, statement: &str, params: &[i64]) -> Result<(), WireError> {
        frontend::bind(
            "",
            statement,
            std::iter::empty(),
            params.iter(),
            |v, buf| {
                buf.extend_from_slice(itoa::Buffer::new().format(*v).as_bytes());
                Ok(IsNull::No)
            },
            std::iter::empty(),
            &mut self.out,
        )
        .map_err(|_| WireError::Protocol("cannot encode parameters".into()))?;
        frontend::execute("", 0, &mut self.out).map_err(|e| WireError::Protocol(e.to_string()))?;
        frontend::sync(&mut self.out);
        Ok(())
    }

    /// Sends what is buffered and reads replies up to ReadyForQuery. The first error the server
    /// reports is returned after ReadyForQuery, so the session stays usable.
    async fn round_trip(&mut self) -> Result<(), WireError> {
        let sent = self.stream.write_all(&self.out).await;
        self.out.clear();
        if let Err(e) = sent {
            self.lost = true;
            return Err(e.into());
        }
        let mut error = None;
        loop {
            match self.next_message().await {
                Ok(Reply::Ready) => break,
                Ok(Reply::Error(m)) => {
                    if m.is_fatal() {
                        self.lost = true;
                        return Err(WireError::Server(m));
                    }
                    error.get_or_insert(m);
                }
                Ok(Reply::Other) => {}
                Err(e) => {
                    self.lost = true;
                    // A FATAL error explains a close better than the close itself.
                    return Err(error.map(WireError::Server).unwrap_or(e));
                }
            }
        }
        match error {
            Some(m) => Err(WireError::Server(m)),
            None => Ok(()),
        }
    }

    /// Reads one message, filling the buffer from the socket as needed.
    async fn next_message(&mut self) -> Result<Reply, WireError> {
        loop {
            if self.inb.len() >= 5 {
                let tag = self.inb[0];
                let len = u32::from_be_bytes([self.inb[1], self.inb[2], self.inb[3], self.inb[4]])
                    as usize;
                if len < 4 {
                    return Err(WireError::Protocol(format!("message length {len}")));
                }
                if self.inb.len() > len {
                    return Ok(self.take_message(tag, len));
                }
                self.inb.reserve(len + 1 - self.inb.len());
            }
            if self.inb.capacity() - self.inb.len() < 1024 {
                self.inb.reserve(8192);
            }
            if self.stream.read_buf(&mut self.inb).await? == 0 {
                return Err(WireError::Closed);
            }
        }
    }

    /// Consumes a complete message of `len + 1` bytes at the front of the buffer.
    fn take_message(&mut self, tag: u8, len: usize) -> Reply {
        match tag {
            b'Z' => {
                self.status = match self.inb[5] {
                    b'T' => TxStatus::InTransaction,
                    b'E' => TxStatus::Failed,
                    _ => TxStatus::Idle,
                };
                self.inb.advance(len + 1);
                Reply::Ready
            }
            b'E' | b'N' => {
                let mut msg = self.inb.split_to(len + 1);
                match Message::parse(&mut msg) {
                    Ok(Some(Message::ErrorResponse(body))) => {
                        Reply::Error(ServerMessage::from_fields(body.fields()))
                    }
                    Ok(Some(Message::NoticeResponse(body))) => {
                        self.notices.push(ServerMessage::from_fields(body.fields()));
                        Reply::Other
                    }
                    _ => Reply::Error(ServerMessage {
                        severity: "ERROR".into(),
                        code: "XX000".into(),
                        message: "unreadable error message from server".into(),
                    }),
                }
            }
            b'D' | b'T' | b'C' | b'I' if !matches!(self.capture, Capture::Nothing) => {
                let mut msg = self.inb.split_to(len + 1);
                if let Ok(Some(m)) = Message::parse(&mut msg) {
                    self.capture.keep(m);
                }
                Reply::Other
            }
            _ => {
                self.inb.advance(len + 1);
                Reply::Other
            }
        }
    }
}

enum Reply {
    Ready,
    Error(ServerMessage),
    Other,
}

impl Capture {
    /// Keeps what this capture wants of a row description, data row or command end.
    fn keep(&mut self, m: Message) {
        let text = |buf: &[u8], r: Option<std::ops::Range<usize>>| {
            r.map(|r| String::from_utf8_lossy(&buf[r]).into_owned())
        };
        match (self, m) {
            (Capture::FirstValue(v @ None), Message::DataRow(row)) => {
                let buf = row.buffer();
                *v = row
                    .ranges()
                    .next()
                    .ok()
                    .flatten()
                    .and_then(|r| text(buf, r));
            }
            (Capture::Results { sets, open }, Message::RowDescription(d)) => {
                let columns = d
                    .fields()
                    .map(|f| Ok(f.name().to_string()))
                    .collect()
                    .unwrap_or_default();
                sets.push(ResultSet {
                    columns,
                    ..ResultSet::default()
                });
                *open = true;
            }
            (Capture::Results { sets, open: true }, Message::DataRow(row)) => {
                let buf = row.buffer();
                if let Some(set) = sets.last_mut() {
                    set.rows += 1;
                    set.last_row = row
                        .ranges()
                        .map(|r| Ok(text(buf, r)))
                        .collect()
                        .unwrap_or_default();
                }
            }
            (
                Capture::Results { sets, open },
                Message::CommandComplete(_) | Message::EmptyQueryResponse,
            ) => {
                // A statement without a row description had no rows: a result of its own.
                if !*open {
                    sets.push(ResultSet::default());
                }
                *open = false;
            }
            _ => {}
        }
    }
}
