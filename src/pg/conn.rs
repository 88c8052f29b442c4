//! Where to connect, taken as libpq takes it: `-h -p -U -d` flags, a `key=value` connection
//! string or `postgresql://` URL in place of the database name, and PG* environment variables.
//! Precedence follows psql: connection string, then flags, then environment, then defaults.

use std::path::PathBuf;
use std::time::Duration;

use rand::seq::SliceRandom;
use tokio_postgres::config::{Host, LoadBalanceHosts};
use tokio_postgres::{Client, Config, NoTls};

use crate::pg::error;
use crate::pg::pgpass;
use crate::pg::tls::{self, SslMode, TlsError};

/// libpq has no connect timeout by default; a benchmark must never hang on a dead host.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Connection flags as the user gave them.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ConnOptions {
    /// Database server host or socket directory
    #[arg(short = 'h', long = "host", value_name = "HOSTNAME")]
    pub host: Option<String>,
    /// Database server port
    #[arg(short = 'p', long = "port", value_name = "PORT")]
    pub port: Option<u16>,
    /// Connect as this database user
    #[arg(short = 'U', long = "username", value_name = "USERNAME")]
    pub user: Option<String>,
    /// Database name, or a connection string (`host=... dbname=...` or `postgresql://...`)
    #[arg(short = 'd', long = "dbname", value_name = "DBNAME")]
    pub dbname: Option<String>,
}

impl ConnOptions {
    /// Whether the user named a server at all (flags, a connection string or PGHOST).
    pub fn names_a_server(&self, env: &dyn Env) -> bool {
        self.host.is_some()
            || self.port.is_some()
            || self.dbname.as_deref().is_some_and(is_conninfo)
            || env.var("PGHOST").is_some()
            || env.var("PGHOSTADDR").is_some()
    }
}

/// Environment lookup, so resolution can be tested without touching the process environment.
pub trait Env {
    fn var(&self, name: &str) -> Option<String>;
}

pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.is_empty())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConnError {
    #[error("invalid connection string: {0}")]
    Invalid(String),
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error("cannot connect to {target}: {reason}{hint}")]
    Connect {
        target: String,
        reason: String,
        hint: &'static str,
    },
}

/// A resolved server address with credentials. Its `Display` never shows the password.
#[derive(Clone)]
pub struct Target {
    config: Config,
    ssl: SslMode,
    root_cert: Option<PathBuf>,
    timeout: Duration,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.label())
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.label())
    }
}

pub fn is_conninfo(s: &str) -> bool {
    s.contains('=') || s.starts_with("postgresql://") || s.starts_with("postgres://")
}

impl Target {
    pub fn resolve(opts: &ConnOptions, env: &dyn Env) -> Result<Target, ConnError> {
        let (mut config, ssl_keys) = match opts.dbname.as_deref().filter(|d| is_conninfo(d)) {
            Some(conninfo) => {
                let (rest, ssl_keys) = split_ssl_keys(conninfo);
                let config: Config = rest
                    .parse()
                    .map_err(|e: tokio_postgres::Error| ConnError::Invalid(error::describe(&e)))?;
                (config, ssl_keys)
            }
            None => {
                let mut config = Config::new();
                if let Some(db) = &opts.dbname {
                    config.dbname(db);
                }
                (config, Vec::new())
            }
        };

        if config.get_hosts().is_empty() && config.get_hostaddrs().is_empty() {
            let hosts = opts
                .host
                .clone()
                .or_else(|| env.var("PGHOST"))
                .unwrap_or_else(default_host);
            for host in hosts.split(',') {
                config.host(host.trim());
            }
        }
        if config.get_ports().is_empty() {
            let port = match (opts.port, env.var("PGPORT")) {
                (Some(p), _) => p,
                (None, Some(p)) => p.parse().map_err(|_| {
                    ConnError::Invalid(format!("PGPORT '{p}' is not a port number"))
                })?,
                (None, None) => 5432,
            };
            config.port(port);
        }
        if config.get_user().is_none() {
            let user = opts
                .user
                .clone()
                .or_else(|| env.var("PGUSER"))
                .or_else(|| env.var("USER"))
                .or_else(|| env.var("LOGNAME"))
                .unwrap_or_else(|| "postgres".into());
            config.user(user);
        }
        if config.get_dbname().is_none() {
            let db = env
                .var("PGDATABASE")
                .unwrap_or_else(|| config.get_user().unwrap_or_default().to_string());
            config.dbname(db);
        }
        if config.get_application_name().is_none() {
            config.application_name(env.var("PGAPPNAME").unwrap_or_else(|| "pgsyncbench".into()));
        }
        if config.get_password().is_none()
            && let Some(pw) = env
                .var("PGPASSWORD")
                .or_else(|| password_from_file(&config, env))
        {
            config.password(pw);
        }
        if let Some(attrs) = env.var("PGTARGETSESSIONATTRS")
            && !opts
                .dbname
                .as_deref()
                .is_some_and(|d| d.contains("target_session_attrs"))
        {
            let parsed: Config = format!("target_session_attrs={attrs}")
                .parse()
                .map_err(|_| {
                    ConnError::Invalid(format!("PGTARGETSESSIONATTRS '{attrs}' is not supported"))
                })?;
            config.target_session_attrs(parsed.get_target_session_attrs());
        }
        let timeout = match config.get_connect_timeout() {
            Some(t) => *t,
            None => match env.var("PGCONNECT_TIMEOUT") {
                Some(t) => Duration::from_secs(t.parse().map_err(|_| {
                    ConnError::Invalid(format!(
                        "PGCONNECT_TIMEOUT '{t}' is not a number of seconds"
                    ))
                })?),
                None => DEFAULT_CONNECT_TIMEOUT,
            },
        };
        // As libpq: under 2 s counts as 2 s; 0 (libpq's endless wait) gets the default instead.
        let timeout = match timeout.as_secs() {
            0 => DEFAULT_CONNECT_TIMEOUT,
            1 => Duration::from_secs(2),
            _ => timeout,
        };
        config.connect_timeout(timeout);

        let lookup = |key: &str, var: &str| {
            ssl_keys
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.clone())
                .or_else(|| env.var(var))
        };
        let ssl = match lookup("sslmode", "PGSSLMODE") {
            Some(m) => SslMode::parse(&m).ok_or_else(|| {
                ConnError::Invalid(format!(
                    "sslmode '{m}': use disable, allow, prefer, require, verify-ca or verify-full"
                ))
            })?,
            None => SslMode::Prefer,
        };
        config.ssl_mode(ssl.for_driver());
        let root_cert = lookup("sslrootcert", "PGSSLROOTCERT").map(PathBuf::from);
        Ok(Target {
            config,
            ssl,
            root_cert,
            timeout,
        })
    }

    /// The same credentials and database on another host and port (a cluster member).
    pub fn with_host(&self, host: &str, port: u16) -> Target {
        self.with_hosts(&[(host.to_string(), port)], false, self.timeout)
    }

    /// The same credentials and database on several hosts tried in turn, as libpq's multi-host
    /// strings do; with `read_write`, only a host that accepts writes will do
    /// (target_session_attrs=read-write).
    pub fn with_hosts(
        &self,
        hosts: &[(String, u16)],
        read_write: bool,
        timeout: Duration,
    ) -> Target {
        let mut t = self.clone();
        let mut config = Config::new();
        for (host, port) in hosts {
            config.host(host).port(*port);
        }
        if let Some(u) = self.config.get_user() {
            config.user(u);
        }
        if let Some(p) = self.config.get_password() {
            config.password(p);
        }
        if let Some(d) = self.config.get_dbname() {
            config.dbname(d);
        }
        if let Some(a) = self.config.get_application_name() {
            config.application_name(a);
        }
        if read_write {
            config.target_session_attrs(tokio_postgres::config::TargetSessionAttrs::ReadWrite);
        }
        config.ssl_mode(self.config.get_ssl_mode());
        config.connect_timeout(timeout);
        t.config = config;
        t.timeout = timeout;
        t
    }

    /// The same server, another database.
    pub fn with_dbname(&self, dbname: &str) -> Target {
        let mut t = self.clone();
        t.config.dbname(dbname);
        t
    }

    pub fn dbname(&self) -> &str {
        self.config.get_dbname().unwrap_or_default()
    }

    pub fn user(&self) -> &str {
        self.config.get_user().unwrap_or_default()
    }

    /// `host=... port=... user=... dbname=...`, never with the password.
    pub fn label(&self) -> String {
        let hosts: Vec<String> = self
            .config
            .get_hosts()
            .iter()
            .map(|h| match h {
                Host::Tcp(name) => name.clone(),
                Host::Unix(path) => path.display().to_string(),
            })
            .collect();
        let ports: Vec<String> = self.config.get_ports().iter().map(u16::to_string).collect();
        format!(
            "host={} port={} user={} dbname={}",
            hosts.join(","),
            ports.join(","),
            self.user(),
            self.dbname()
        )
    }

    pub(crate) fn config(&self) -> &Config {
        &self.config
    }

    pub(crate) fn ssl_mode(&self) -> SslMode {
        self.ssl
    }

    pub(crate) fn connect_timeout(&self) -> Duration {
        self.timeout
    }

    /// The TLS configuration sessions use; None when sslmode is disable.
    pub(crate) fn tls_config(&self) -> Result<Option<rustls::ClientConfig>, TlsError> {
        if self.ssl == SslMode::Disable {
            return Ok(None);
        }
        tls::client_config(self.ssl, self.root_cert.as_deref()).map(Some)
    }

    /// Opens a session as libpq does: hosts in turn, each whole attempt (TCP, TLS, startup,
    /// authentication, the read-write check) bounded by the connect timeout, so a target of N
    /// hosts takes at most N timeouts. tokio-postgres's own timeout covers only the TCP connect.
    pub async fn connect(&self) -> Result<Client, ConnError> {
        let mut last = None;
        for config in self.one_config_per_host() {
            match tokio::time::timeout(self.timeout, self.connect_to(&config)).await {
                Ok(Ok(client)) => return Ok(client),
                Ok(Err(e)) => last = Some(e),
                Err(_) => last = Some(self.no_answer_error()),
            }
        }
        Err(last.expect("at least one configuration to try"))
    }

    /// The target split into single-host configurations, in the order libpq tries them.
    /// Malformed host lists are left whole for tokio-postgres to explain.
    fn one_config_per_host(&self) -> Vec<Config> {
        let c = &self.config;
        let (hosts, addrs, ports) = (c.get_hosts(), c.get_hostaddrs(), c.get_ports());
        let n = hosts.len().max(addrs.len());
        let consistent = (hosts.is_empty() || addrs.is_empty() || hosts.len() == addrs.len())
            && (ports.len() <= 1 || ports.len() == n);
        if n <= 1 || !consistent {
            return vec![c.clone()];
        }
        let mut order: Vec<usize> = (0..n).collect();
        if c.get_load_balance_hosts() == LoadBalanceHosts::Random {
            order.shuffle(&mut rand::rng());
        }
        order
            .into_iter()
            .map(|i| {
                let mut one = Config::new();
                match hosts.get(i) {
                    Some(Host::Tcp(name)) => {
                        one.host(name);
                    }
                    Some(Host::Unix(path)) => {
                        one.host_path(path);
                    }
                    None => {}
                }
                if let Some(addr) = addrs.get(i) {
                    one.hostaddr(*addr);
                }
                if let Some(port) = ports.get(i).or(ports.first()) {
                    one.port(*port);
                }
                copy_settings(c, &mut one);
                one
            })
            .collect()
    }

    async fn connect_to(&self, config: &Config) -> Result<Client, ConnError> {
        let result = if self.ssl == SslMode::Disable {
            config.connect(NoTls).await.map(|(client, conn)| {
                tokio::spawn(conn);
                client
            })
        } else {
            let tls = tls::connector(self.ssl, self.root_cert.as_deref())?;
            config.connect(tls).await.map(|(client, conn)| {
                tokio::spawn(conn);
                client
            })
        };
        result.map_err(|e| self.connect_error(&e))
    }
}

impl Target {
    /// A deadpool-postgres manager for this target's control-plane sessions (`pg::pool`):
    /// the same configuration and TLS as `connect`, each session checked with a query before
    /// it is handed out again. Pooled sessions never change session settings.
    pub(crate) fn pool_manager(&self) -> Result<deadpool_postgres::Manager, ConnError> {
        let config = deadpool_postgres::ManagerConfig {
            recycling_method: deadpool_postgres::RecyclingMethod::Verified,
        };
        Ok(if self.ssl == SslMode::Disable {
            deadpool_postgres::Manager::from_config(self.config.clone(), NoTls, config)
        } else {
            let tls = tls::connector(self.ssl, self.root_cert.as_deref())?;
            deadpool_postgres::Manager::from_config(self.config.clone(), tls, config)
        })
    }

    /// How long a whole connection attempt may take: the per-host bound times the hosts.
    pub(crate) fn attempt_timeout(&self) -> Duration {
        self.timeout * self.one_config_per_host().len().max(1) as u32
    }

    /// Describes a failed connection as `connect` does.
    pub(crate) fn connect_error(&self, e: &tokio_postgres::Error) -> ConnError {
        if is_password_missing(e) {
            return ConnError::Connect {
                target: self.label(),
                reason: NO_PASSWORD.into(),
                hint: NO_PASSWORD_HINT,
            };
        }
        ConnError::Connect {
            target: self.label(),
            reason: error::describe(e),
            hint: hint_for(e),
        }
    }

    /// A connection attempt that got no answer in time.
    pub(crate) fn no_answer_error(&self) -> ConnError {
        ConnError::Connect {
            target: self.label(),
            reason: no_answer_within(self.timeout),
            hint: "; is the server running and reachable? (connect_timeout or PGCONNECT_TIMEOUT sets the limit)",
        }
    }
}

/// Everything but the hosts and ports, from one configuration to another.
fn copy_settings(from: &Config, to: &mut Config) {
    if let Some(u) = from.get_user() {
        to.user(u);
    }
    if let Some(p) = from.get_password() {
        to.password(p);
    }
    if let Some(d) = from.get_dbname() {
        to.dbname(d);
    }
    if let Some(o) = from.get_options() {
        to.options(o);
    }
    if let Some(a) = from.get_application_name() {
        to.application_name(a);
    }
    to.ssl_mode(from.get_ssl_mode())
        .ssl_negotiation(from.get_ssl_negotiation())
        .keepalives(from.get_keepalives())
        .keepalives_idle(from.get_keepalives_idle())
        .target_session_attrs(from.get_target_session_attrs())
        .channel_binding(from.get_channel_binding())
        .load_balance_hosts(from.get_load_balance_hosts());
    if let Some(t) = from.get_connect_timeout() {
        to.connect_timeout(*t);
    }
    if let Some(t) = from.get_tcp_user_timeout() {
        to.tcp_user_timeout(*t);
    }
    if let Some(i) = from.get_keepalives_interval() {
        to.keepalives_interval(i);
    }
    if let Some(r) = from.get_keepalives_retries() {
        to.keepalives_retries(r);
    }
}

/// "no answer within 2 s" (or "0.8 s" for a short probe).
pub(crate) fn no_answer_within(timeout: Duration) -> String {
    let secs = timeout.as_secs_f64();
    if secs.fract() == 0.0 {
        format!("no answer within {secs:.0} s")
    } else {
        format!("no answer within {secs:.1} s")
    }
}

/// What a server that asks for a password is told when none was found, on either connection
/// path (control sessions and benchmark sessions).
pub(crate) const NO_PASSWORD: &str = "the server asks for a password and none was given";
pub(crate) const NO_PASSWORD_HINT: &str = "; give it in PGPASSWORD, in ~/.pgpass (or the file PGPASSFILE names), or in the connection string or URL (password=...)";

/// tokio-postgres says so only in words: a configuration error, "password missing".
fn is_password_missing(e: &tokio_postgres::Error) -> bool {
    e.as_db_error().is_none() && error::describe(e).ends_with("password missing")
}

fn hint_for(e: &tokio_postgres::Error) -> &'static str {
    connect_hint(e.code().map(|c| c.code()))
}

/// What to do about a failed connection, from the SQLSTATE (None: no server answer).
pub(crate) fn connect_hint(code: Option<&str>) -> &'static str {
    match code {
        Some("28P01") | Some("28000") => {
            "; check the user name and password (PGPASSWORD, ~/.pgpass or the connection string)"
        }
        Some("3D000") => "; create the database or name another with -d",
        Some("53300") => {
            "; the server has no free connection slots: lower -c or raise max_connections"
        }
        None => "; is the server running and accepting connections there?",
        _ => "",
    }
}

fn default_host() -> String {
    let socket_dir = "/var/run/postgresql";
    if std::path::Path::new(socket_dir).is_dir() {
        socket_dir.into()
    } else {
        "localhost".into()
    }
}

fn password_from_file(config: &Config, env: &dyn Env) -> Option<String> {
    let path = env
        .var("PGPASSFILE")
        .map(PathBuf::from)
        .or_else(|| env.var("HOME").map(|h| PathBuf::from(h).join(".pgpass")))?;
    let contents = pgpass::read(&path)?;
    let host = match config.get_hosts().first()? {
        Host::Tcp(h) => h.clone(),
        Host::Unix(p) => p.display().to_string(),
    };
    let port = *config.get_ports().first().unwrap_or(&5432);
    pgpass::lookup(
        &contents,
        &host,
        port,
        config.get_dbname().unwrap_or_default(),
        config.get_user().unwrap_or_default(),
    )
}

/// Removes the TLS keys tokio-postgres does not know (sslmode's verify modes, sslrootcert) from
/// a connection string, returning the rest and the removed `(key, value)` pairs.
fn split_ssl_keys(conninfo: &str) -> (String, Vec<(String, String)>) {
    const OURS: [&str; 2] = ["sslmode", "sslrootcert"];
    let mut taken = Vec::new();
    if let Some((base, query)) = conninfo
        .split_once('?')
        .filter(|_| conninfo.contains("://"))
    {
        let kept: Vec<&str> = query
            .split('&')
            .filter(|pair| {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                if OURS.contains(&k) {
                    taken.push((k.to_string(), crate::text::percent_decode(v)));
                    false
                } else {
                    true
                }
            })
            .collect();
        let rest = if kept.is_empty() {
            base.to_string()
        } else {
            format!("{base}?{}", kept.join("&"))
        };
        return (rest, taken);
    }
    if conninfo.contains("://") {
        return (conninfo.to_string(), taken);
    }
    let mut kept = Vec::new();
    for (k, v) in keyword_pairs(conninfo) {
        if OURS.contains(&k.as_str()) {
            taken.push((k, v));
        } else {
            let escaped = v.replace('\\', "\\\\").replace('\'', "\\'");
            kept.push(format!("{k}='{escaped}'"));
        }
    }
    (kept.join(" "), taken)
}

/// Splits `key=value key2='quoted value'` into pairs, with libpq's quoting and escapes.
fn keyword_pairs(s: &str) -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let mut key = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' || c.is_whitespace() {
                break;
            }
            key.push(c);
            chars.next();
        }
        if key.is_empty() {
            return pairs;
        }
        while chars.peek().is_some_and(|c| c.is_whitespace() || *c == '=') {
            chars.next();
        }
        let mut value = String::new();
        if chars.peek() == Some(&'\'') {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => value.extend(chars.next()),
                    '\'' => break,
                    _ => value.push(c),
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                chars.next();
                if c == '\\' {
                    value.extend(chars.next());
                } else {
                    value.push(c);
                }
            }
        }
        pairs.push((key, value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    struct MapEnv(HashMap<&'static str, &'static str>);

    impl Env for MapEnv {
        fn var(&self, name: &str) -> Option<String> {
            self.0.get(name).map(|s| s.to_string())
        }
    }

    fn env(pairs: &[(&'static str, &'static str)]) -> MapEnv {
        MapEnv(pairs.iter().copied().collect())
    }

    fn opts(dbname: Option<&str>) -> ConnOptions {
        ConnOptions {
            dbname: dbname.map(str::to_string),
            ..Default::default()
        }
    }

    #[test]
    fn flags_override_environment() {
        let o = ConnOptions {
            host: Some("db.example".into()),
            port: Some(6000),
            user: Some("alice".into()),
            dbname: Some("bench".into()),
        };
        let t = Target::resolve(
            &o,
            &env(&[("PGHOST", "other"), ("PGPORT", "1"), ("PGUSER", "bob")]),
        )
        .unwrap();
        assert_eq!(
            t.label(),
            "host=db.example port=6000 user=alice dbname=bench"
        );
    }

    #[test]
    fn environment_fills_what_flags_leave_out() {
        let t = Target::resolve(
            &opts(None),
            &env(&[
                ("PGHOST", "h1"),
                ("PGPORT", "5433"),
                ("PGUSER", "u"),
                ("PGDATABASE", "d"),
            ]),
        )
        .unwrap();
        assert_eq!(t.label(), "host=h1 port=5433 user=u dbname=d");
    }

    #[test]
    fn database_defaults_to_the_user_name() {
        let t =
            Target::resolve(&opts(None), &env(&[("PGHOST", "h"), ("PGUSER", "carol")])).unwrap();
        assert_eq!(t.dbname(), "carol");
    }

    #[test]
    fn connection_string_wins_over_flags_and_keeps_several_hosts() {
        let o = ConnOptions {
            host: Some("ignored".into()),
            dbname: Some(
                "postgresql://u@h1:5001,h2:5002/app?target_session_attrs=read-write".into(),
            ),
            ..Default::default()
        };
        let t = Target::resolve(&o, &env(&[])).unwrap();
        assert_eq!(t.label(), "host=h1,h2 port=5001,5002 user=u dbname=app");
    }

    #[test]
    fn password_is_never_in_the_label() {
        let t = Target::resolve(
            &opts(Some("host=h user=u password=hunter2 dbname=d")),
            &env(&[]),
        )
        .unwrap();
        assert!(!t.label().contains("hunter2"));
        assert!(!format!("{t:?}").contains("hunter2"));
        assert!(!format!("{t}").contains("hunter2"));
    }

    #[test]
    fn verify_modes_and_root_cert_are_taken_from_urls_and_keyword_strings() {
        let (rest, keys) = split_ssl_keys(
            "postgresql://h/d?sslmode=verify-full&sslrootcert=%2Ftmp%2Fca.pem&application_name=x",
        );
        assert_eq!(rest, "postgresql://h/d?application_name=x");
        assert_eq!(
            keys,
            [
                ("sslmode".into(), "verify-full".into()),
                ("sslrootcert".into(), "/tmp/ca.pem".into())
            ]
        );
        let (rest, keys) = split_ssl_keys("host=h sslmode = 'verify-ca' options='-c a=\\'b\\''");
        assert_eq!(rest, "host='h' options='-c a=\\'b\\''");
        assert_eq!(keys, [("sslmode".into(), "verify-ca".into())]);
    }

    #[test]
    fn bad_values_are_reported_plainly() {
        let e = Target::resolve(
            &opts(None),
            &env(&[("PGHOST", "h"), ("PGSSLMODE", "maybe")]),
        )
        .unwrap_err();
        assert!(e.to_string().contains("sslmode 'maybe'"), "{e}");
        let e =
            Target::resolve(&opts(None), &env(&[("PGHOST", "h"), ("PGPORT", "x")])).unwrap_err();
        assert!(e.to_string().contains("PGPORT 'x'"), "{e}");
        let e = Target::resolve(&opts(Some("host=h bogus=1")), &env(&[])).unwrap_err();
        assert!(
            e.to_string().starts_with("invalid connection string"),
            "{e}"
        );
    }

    #[test]
    fn each_host_is_tried_alone_with_its_port_and_every_other_setting() {
        let t = Target::resolve(
            &opts(Some(
                "host=h1,h2 port=5001,5002 user=u password=p dbname=d target_session_attrs=read-write connect_timeout=3 options='-c x=1'",
            )),
            &env(&[]),
        )
        .unwrap();
        let each = t.one_config_per_host();
        assert_eq!(each.len(), 2);
        for (c, (host, port)) in each.iter().zip([("h1", 5001), ("h2", 5002)]) {
            assert_eq!(c.get_hosts(), [Host::Tcp(host.into())]);
            assert_eq!(c.get_ports(), [port]);
            assert_eq!(c.get_user(), Some("u"));
            assert_eq!(c.get_password(), Some(&b"p"[..]));
            assert_eq!(c.get_dbname(), Some("d"));
            assert_eq!(c.get_options(), Some("-c x=1"));
            assert_eq!(
                c.get_target_session_attrs(),
                tokio_postgres::config::TargetSessionAttrs::ReadWrite
            );
            assert_eq!(c.get_connect_timeout(), Some(&Duration::from_secs(3)));
        }
        // One port for every host, as libpq allows.
        let t = Target::resolve(&opts(Some("host=h1,h2 port=6000")), &env(&[])).unwrap();
        assert!(
            t.one_config_per_host()
                .iter()
                .all(|c| c.get_ports() == [6000])
        );
    }

    #[test]
    fn connect_timeout_follows_libpq_without_an_endless_wait() {
        let timeout = |conninfo: &'static str, vars: &[(&'static str, &'static str)]| {
            Target::resolve(&opts(Some(conninfo)), &env(vars))
                .unwrap()
                .connect_timeout()
        };
        assert_eq!(timeout("host=h", &[]), DEFAULT_CONNECT_TIMEOUT);
        assert_eq!(
            timeout("host=h connect_timeout=5", &[]),
            Duration::from_secs(5)
        );
        assert_eq!(
            timeout("host=h", &[("PGCONNECT_TIMEOUT", "7")]),
            Duration::from_secs(7)
        );
        assert_eq!(
            timeout("host=h connect_timeout=1", &[]),
            Duration::from_secs(2)
        );
        assert_eq!(
            timeout("host=h", &[("PGCONNECT_TIMEOUT", "0")]),
            DEFAULT_CONNECT_TIMEOUT
        );
        assert_eq!(
            no_answer_within(Duration::from_secs(2)),
            "no answer within 2 s"
        );
        assert_eq!(
            no_answer_within(Duration::from_millis(800)),
            "no answer within 0.8 s"
        );
    }

    #[test]
    fn naming_a_server_is_detected() {
        assert!(!opts(Some("bench")).names_a_server(&env(&[])));
        assert!(opts(Some("host=x")).names_a_server(&env(&[])));
        assert!(opts(None).names_a_server(&env(&[("PGHOST", "x")])));
    }
}
