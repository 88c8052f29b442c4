//! Opening a benchmark session: each host in turn (libpq's multi-host rule), TLS as sslmode asks,
//! startup, authentication (trust, password, md5, SCRAM-SHA-256), and the read-write check of
//! target_session_attrs.

use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use postgres_protocol::authentication::{md5_hash, sasl};
use postgres_protocol::message::backend::Message;
use postgres_protocol::message::frontend;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UnixStream};
use tokio_postgres::config::{Host, TargetSessionAttrs};

use super::stream::Stream;
use super::{ServerMessage, WireConn, WireError};
use crate::pg::conn::{
    ConnError, NO_PASSWORD, NO_PASSWORD_HINT, Target, connect_hint, no_answer_within,
};
use crate::pg::tls::SslMode;

use fallible_iterator::FallibleIterator;

/// Connects to the first host of `target` that accepts (and is writable when
/// target_session_attrs=read-write), each attempt bounded by the connect timeout.
pub async fn connect(target: &Target) -> Result<WireConn, ConnError> {
    let config = target.config();
    let tls = target.tls_config()?.map(Arc::new);
    let ports = config.get_ports();
    let mut last = None;
    for (i, host) in config.get_hosts().iter().enumerate() {
        let port = *ports.get(i).or(ports.first()).unwrap_or(&5432);
        let attempt = async {
            let mut conn = open(target, host, port, tls.clone()).await?;
            if config.get_target_session_attrs() == TargetSessionAttrs::ReadWrite {
                let ro = conn
                    .query_value("SHOW transaction_read_only")
                    .await
                    .map_err(Failure::Wire)?;
                if ro.as_deref() == Some("on") {
                    return Err(Failure::Other("the server is read-only".into()));
                }
            }
            Ok(conn)
        };
        let timeout = target.connect_timeout();
        match tokio::time::timeout(timeout, attempt).await {
            Ok(Ok(mut conn)) => {
                conn.endpoint = i;
                return Ok(conn);
            }
            Ok(Err(f)) => last = Some(f),
            Err(_) => last = Some(Failure::Timeout(timeout)),
        }
    }
    let failure = last.unwrap_or(Failure::Other("no host to connect to".into()));
    let hint = match &failure {
        Failure::Wire(WireError::Server(m)) => connect_hint(Some(&m.code)),
        Failure::NoPassword => NO_PASSWORD_HINT,
        _ => connect_hint(None),
    };
    Err(ConnError::Connect {
        target: target.label(),
        reason: failure.to_string(),
        hint,
    })
}

#[derive(Debug, thiserror::Error)]
enum Failure {
    #[error(transparent)]
    Wire(#[from] WireError),
    #[error("{}", no_answer_within(*.0))]
    Timeout(Duration),
    #[error("{NO_PASSWORD}")]
    NoPassword,
    #[error("{0}")]
    Other(String),
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Failure {
        Failure::Wire(WireError::Io(e))
    }
}

async fn open(
    target: &Target,
    host: &Host,
    port: u16,
    tls: Option<Arc<rustls::ClientConfig>>,
) -> Result<WireConn, Failure> {
    let config = target.config();
    let stream = match host {
        Host::Unix(dir) => {
            // libpq does not use TLS on Unix sockets.
            Stream::Unix(UnixStream::connect(dir.join(format!(".s.PGSQL.{port}"))).await?)
        }
        Host::Tcp(name) => {
            let tcp = TcpStream::connect((name.as_str(), port)).await?;
            tcp.set_nodelay(true)?;
            match tls {
                Some(tls) => negotiate_tls(tcp, name, tls, target.ssl_mode()).await?,
                None => Stream::Tcp(tcp),
            }
        }
    };
    let mut conn = WireConn::new(stream);

    let user = config.get_user().unwrap_or_default();
    let mut params = vec![
        ("user", user),
        ("database", config.get_dbname().unwrap_or(user)),
    ];
    if let Some(app) = config.get_application_name() {
        params.push(("application_name", app));
    }
    if let Some(options) = config.get_options() {
        params.push(("options", options));
    }
    frontend::startup_message(params, &mut conn.out)?;
    conn.stream.write_all(&conn.out).await?;
    conn.out.clear();
    authenticate(&mut conn, user, config.get_password()).await?;
    // ParameterStatus, BackendKeyData and notices follow, up to ReadyForQuery.
    loop {
        match conn.next_message().await? {
            super::Reply::Ready => return Ok(conn),
            super::Reply::Error(m) => return Err(WireError::Server(m).into()),
            super::Reply::Other => {}
        }
    }
}

async fn negotiate_tls(
    mut tcp: TcpStream,
    host: &str,
    tls: Arc<rustls::ClientConfig>,
    mode: SslMode,
) -> Result<Stream, Failure> {
    let mut buf = BytesMut::new();
    frontend::ssl_request(&mut buf);
    tcp.write_all(&buf).await?;
    let answer = tcp.read_u8().await?;
    if answer != b'S' {
        if matches!(
            mode,
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull
        ) {
            return Err(Failure::Other(format!(
                "the server does not accept SSL connections and sslmode is {mode:?}"
            )));
        }
        return Ok(Stream::Tcp(tcp));
    }
    let name = rustls::pki_types::ServerName::try_from(host.to_string())
        .map_err(|e| Failure::Other(format!("host name {host} cannot be checked for TLS: {e}")))?;
    let stream = tokio_rustls::TlsConnector::from(tls)
        .connect(name, tcp)
        .await
        .map_err(|e| Failure::Other(format!("TLS handshake failed: {e}")))?;
    Ok(Stream::Tls(Box::new(stream)))
}

/// Reads one whole backend message through postgres-protocol's parser (startup only).
async fn read_message(conn: &mut WireConn) -> Result<Message, Failure> {
    loop {
        if let Some(m) = Message::parse(&mut conn.inb)? {
            return Ok(m);
        }
        if conn.stream.read_buf(&mut conn.inb).await? == 0 {
            return Err(WireError::Closed.into());
        }
    }
}

async fn send(conn: &mut WireConn) -> Result<(), Failure> {
    conn.stream.write_all(&conn.out).await?;
    conn.out.clear();
    Ok(())
}

async fn authenticate(
    conn: &mut WireConn,
    user: &str,
    password: Option<&[u8]>,
) -> Result<(), Failure> {
    let need_password = || password.ok_or(Failure::NoPassword);
    loop {
        match read_message(conn).await? {
            Message::AuthenticationOk => return Ok(()),
            Message::AuthenticationCleartextPassword => {
                frontend::password_message(need_password()?, &mut conn.out)?;
                send(conn).await?;
            }
            Message::AuthenticationMd5Password(body) => {
                let hash = md5_hash(user.as_bytes(), need_password()?, body.salt());
                frontend::password_message(hash.as_bytes(), &mut conn.out)?;
                send(conn).await?;
            }
            Message::AuthenticationSasl(body) => {
                let mut mechanisms = body.mechanisms();
                let mut scram_offered = false;
                while let Some(m) = mechanisms.next()? {
                    scram_offered |= m == sasl::SCRAM_SHA_256;
                }
                if !scram_offered {
                    return Err(Failure::Other(
                        "the server offers no SASL mechanism this client speaks".into(),
                    ));
                }
                let mut scram =
                    sasl::ScramSha256::new(need_password()?, sasl::ChannelBinding::unsupported());
                frontend::sasl_initial_response(
                    sasl::SCRAM_SHA_256,
                    scram.message(),
                    &mut conn.out,
                )?;
                send(conn).await?;
                match read_message(conn).await? {
                    Message::AuthenticationSaslContinue(body) => scram.update(body.data())?,
                    Message::ErrorResponse(body) => return Err(server_error(body.fields())),
                    _ => {
                        return Err(Failure::Other(
                            "unexpected reply during SCRAM authentication".into(),
                        ));
                    }
                }
                frontend::sasl_response(scram.message(), &mut conn.out)?;
                send(conn).await?;
                match read_message(conn).await? {
                    Message::AuthenticationSaslFinal(body) => scram.finish(body.data())?,
                    Message::ErrorResponse(body) => return Err(server_error(body.fields())),
                    _ => {
                        return Err(Failure::Other(
                            "unexpected reply during SCRAM authentication".into(),
                        ));
                    }
                }
            }
            Message::ErrorResponse(body) => return Err(server_error(body.fields())),
            Message::NoticeResponse(_) => {}
            _ => {
                return Err(Failure::Other(
                    "the server asks for an authentication method this client does not support"
                        .into(),
                ));
            }
        }
    }
}

fn server_error(fields: postgres_protocol::message::backend::ErrorFields<'_>) -> Failure {
    Failure::Wire(WireError::Server(ServerMessage::from_fields(fields)))
}
