//! A client for Patroni's REST API: cluster state, dynamic configuration, history, switchover
//! and failover. Tolerates Patroni 3.x and 4.x (`master`/`primary`, `sync_standby`/
//! `quorum_standby`, lag values that are the string "unknown"). Credentials for unsafe methods
//! come from the URL's user info or PATRONI_RESTAPI_USERNAME / PATRONI_RESTAPI_PASSWORD, and are
//! never shown: every message names the URL without them.

use std::path::PathBuf;
use std::time::Duration;

use reqwest::{Method, StatusCode, Url};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum PatroniError {
    #[error("invalid Patroni URL '{0}': {1}")]
    BadUrl(String, String),
    #[error(
        "cannot reach Patroni at {url}: {reason}; is Patroni running and is this its REST API address?"
    )]
    Unreachable { url: String, reason: String },
    #[error("Patroni at {url} did not answer within {secs} s")]
    Timeout { url: String, secs: u64 },
    #[error(
        "{url} answered but is not a Patroni REST API ({detail}); give a member's REST address (Patroni's restapi.listen, often port 8008)"
    )]
    NotPatroni { url: String, detail: String },
    #[error(
        "Patroni at {url} refused the credentials (HTTP 401): put the REST API user and password in the URL (http://user:password@host:port) or in PATRONI_RESTAPI_USERNAME and PATRONI_RESTAPI_PASSWORD"
    )]
    Unauthorized { url: String },
    #[error("Patroni at {url} rejected {what} (HTTP {status}): {body}")]
    Rejected {
        url: String,
        what: String,
        status: u16,
        body: String,
    },
    #[error("cannot read the CA file {path}: {reason}")]
    CaFile { path: PathBuf, reason: String },
}

/// Patroni's timing, in seconds: the leader key's time to live, the wait between HA loops, and
/// how long DCS and PostgreSQL operations are retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timing {
    pub ttl: u64,
    pub loop_wait: u64,
    pub retry_timeout: u64,
}

impl Timing {
    /// What Patroni runs with when the dynamic configuration names none.
    pub const PATRONI_DEFAULTS: Timing = Timing {
        ttl: 30,
        loop_wait: 10,
        retry_timeout: 10,
    };

    /// The timing Patroni runs with for a dynamic configuration (GET /config): values it does
    /// not honour are adjusted as Patroni adjusts them, so what is quoted is what is in force.
    pub fn in_force(config: &Value) -> Timing {
        let get = |key: &str, default: u64| {
            match config.get(key) {
                Some(Value::Number(n)) => n.as_u64(),
                // Patroni takes numbers written as strings too.
                Some(Value::String(s)) => s.trim().parse().ok(),
                _ => None,
            }
            .unwrap_or(default)
        };
        let d = Timing::PATRONI_DEFAULTS;
        Timing {
            ttl: get("ttl", d.ttl),
            loop_wait: get("loop_wait", d.loop_wait),
            retry_timeout: get("retry_timeout", d.retry_timeout),
        }
        .adjusted()
    }

    /// Patroni's rules: ttl at least 20, loop_wait at least 1, retry_timeout at least 3; then
    /// loop_wait + 2 * retry_timeout <= ttl, by lowering loop_wait, or when even loop_wait 1
    /// cannot satisfy it, by setting loop_wait 1 and retry_timeout to what fits.
    pub fn adjusted(self) -> Timing {
        let ttl = self.ttl.max(20);
        let loop_wait = self.loop_wait.max(1);
        let retry_timeout = self.retry_timeout.max(3);
        if 1 + 2 * retry_timeout > ttl {
            Timing {
                ttl,
                loop_wait: 1,
                retry_timeout: (ttl - 1) / 2,
            }
        } else if loop_wait + 2 * retry_timeout > ttl {
            Timing {
                ttl,
                loop_wait: ttl - 2 * retry_timeout,
                retry_timeout,
            }
        } else {
            Timing {
                ttl,
                loop_wait,
                retry_timeout,
            }
        }
    }
}

impl std::fmt::Display for Timing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "ttl {} s, loop_wait {} s, retry_timeout {} s",
            self.ttl, self.loop_wait, self.retry_timeout
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Role {
    Leader,
    StandbyLeader,
    SyncStandby,
    QuorumStandby,
    Replica,
    Other(String),
}

impl Role {
    pub fn parse(s: &str) -> Role {
        match s {
            "leader" | "master" | "primary" => Role::Leader,
            "standby_leader" => Role::StandbyLeader,
            "sync_standby" => Role::SyncStandby,
            "quorum_standby" => Role::QuorumStandby,
            "replica" => Role::Replica,
            other => Role::Other(other.to_string()),
        }
    }

    /// patronictl's words.
    pub fn label(&self) -> &str {
        match self {
            Role::Leader => "Leader",
            Role::StandbyLeader => "Standby Leader",
            Role::SyncStandby => "Sync Standby",
            Role::QuorumStandby => "Quorum Standby",
            Role::Replica => "Replica",
            Role::Other(s) => s,
        }
    }

    /// A standby that synchronous commits wait for.
    pub fn is_synchronous(&self) -> bool {
        matches!(self, Role::SyncStandby | Role::QuorumStandby)
    }
}

impl<'de> Deserialize<'de> for Role {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Role, D::Error> {
        Ok(Role::parse(&String::deserialize(d)?))
    }
}

impl Serialize for Role {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(match self {
            Role::Leader => "leader",
            Role::StandbyLeader => "standby_leader",
            Role::SyncStandby => "sync_standby",
            Role::QuorumStandby => "quorum_standby",
            Role::Replica => "replica",
            Role::Other(o) => o,
        })
    }
}

/// Replication lag in bytes; Patroni says "unknown" when it cannot tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub enum Lag {
    Bytes(u64),
    Unknown,
    #[default]
    None,
}

impl<'de> Deserialize<'de> for Lag {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Lag, D::Error> {
        Ok(match Value::deserialize(d)? {
            Value::Number(n) => n.as_u64().map(Lag::Bytes).unwrap_or(Lag::Unknown),
            Value::Null => Lag::None,
            _ => Lag::Unknown,
        })
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Member {
    pub name: String,
    pub role: Role,
    #[serde(default)]
    pub state: String,
    #[serde(default)]
    pub api_url: Option<String>,
    #[serde(default)]
    pub host: Option<String>,
    #[serde(default)]
    pub port: Option<u16>,
    #[serde(default)]
    pub timeline: Option<u64>,
    #[serde(default)]
    pub lag: Lag,
    #[serde(default)]
    pub tags: serde_json::Map<String, Value>,
}

impl Member {
    /// Tagged nosync: never chosen as synchronous standby.
    pub fn is_nosync(&self) -> bool {
        self.tags
            .get("nosync")
            .and_then(Value::as_bool)
            .unwrap_or(false)
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Cluster {
    pub members: Vec<Member>,
    #[serde(default)]
    pub scope: Option<String>,
    #[serde(default)]
    pub pause: bool,
}

impl Cluster {
    pub fn leader(&self) -> Option<&Member> {
        self.members.iter().find(|m| m.role == Role::Leader)
    }

    /// Synchronous standbys that stream.
    pub fn streaming_sync_standbys(&self) -> impl Iterator<Item = &Member> {
        self.members
            .iter()
            .filter(|m| m.role.is_synchronous() && m.state == "streaming")
    }

    pub fn member(&self, name: &str) -> Option<&Member> {
        self.members.iter().find(|m| m.name == name)
    }
}

/// GET /patroni: the answering member's own status.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct NodeStatus {
    #[serde(default)]
    pub state: String,
    pub role: Role,
    #[serde(default)]
    pub server_version: Option<u64>,
    #[serde(default)]
    pub timeline: Option<u64>,
    pub patroni: PatroniInfo,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct PatroniInfo {
    pub version: String,
    #[serde(default)]
    pub scope: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
}

/// One entry of GET /history: a timeline switch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryEntry {
    pub timeline: u64,
    pub lsn: u64,
    pub reason: String,
    pub timestamp: Option<String>,
    pub new_leader: Option<String>,
}

#[derive(Clone)]
pub struct Patroni {
    base: Url,
    shown: String,
    http: reqwest::Client,
    credentials: Option<(String, String)>,
    timeout: Duration,
}

/// A member tagged with this reaches PostgreSQL directly at the tag's port, while other
/// members replicate through its advertised port (the lab's relays add delay there):
/// benchmark sessions take the direct port.
pub const DIRECT_PORT_TAG: &str = "pgsyncbench_direct_port";

impl std::fmt::Debug for Patroni {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.shown)
    }
}

impl Patroni {
    /// `url` is any member's REST address. `ca_file` checks HTTPS against that CA.
    pub fn new(
        url: &str,
        ca_file: Option<&std::path::Path>,
        timeout: Duration,
    ) -> Result<Patroni, PatroniError> {
        crate::pg::tls::ensure_provider();
        let mut base =
            Url::parse(url).map_err(|e| PatroniError::BadUrl(redact(url), e.to_string()))?;
        if !matches!(base.scheme(), "http" | "https") || base.host_str().is_none() {
            return Err(PatroniError::BadUrl(
                redact(url),
                "use http://host:port or https://host:port".into(),
            ));
        }
        let mut credentials = None;
        if !base.username().is_empty() {
            let user = crate::text::percent_decode(base.username());
            let password = base
                .password()
                .map(crate::text::percent_decode)
                .unwrap_or_default();
            credentials = Some((user, password));
            let _ = base.set_username("");
            let _ = base.set_password(None);
        } else if let Ok(user) = std::env::var("PATRONI_RESTAPI_USERNAME") {
            credentials = Some((
                user,
                std::env::var("PATRONI_RESTAPI_PASSWORD").unwrap_or_default(),
            ));
        }
        let shown = base.as_str().trim_end_matches('/').to_string();
        let mut builder = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout);
        if let Some(path) = ca_file {
            let pem = std::fs::read(path).map_err(|e| PatroniError::CaFile {
                path: path.to_path_buf(),
                reason: e.to_string(),
            })?;
            let cert = reqwest::Certificate::from_pem(&pem).map_err(|e| PatroniError::CaFile {
                path: path.to_path_buf(),
                reason: e.to_string(),
            })?;
            builder = builder.add_root_certificate(cert);
        }
        let http = builder
            .build()
            .map_err(|e| PatroniError::BadUrl(shown.clone(), e.to_string()))?;
        Ok(Patroni {
            base,
            shown,
            http,
            credentials,
            timeout,
        })
    }

    /// The URL as shown to people: no credentials.
    pub fn url(&self) -> &str {
        &self.shown
    }

    /// The same credentials and settings, another member's REST address.
    pub fn at(&self, api_url: &str) -> Result<Patroni, PatroniError> {
        let mut p = Patroni::new(api_url, None, self.timeout)?;
        p.http = self.http.clone();
        p.credentials = self.credentials.clone();
        Ok(p)
    }

    async fn request(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(StatusCode, String), PatroniError> {
        let url = self
            .base
            .join(path)
            .map_err(|e| PatroniError::BadUrl(self.shown.clone(), e.to_string()))?;
        let mut req = self.http.request(method.clone(), url);
        if method != Method::GET
            && let Some((user, password)) = &self.credentials
        {
            req = req.basic_auth(user, Some(password));
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req.send().await.map_err(|e| self.transport_error(e))?;
        let status = resp.status();
        let text = resp.text().await.map_err(|e| self.transport_error(e))?;
        if status == StatusCode::UNAUTHORIZED {
            return Err(PatroniError::Unauthorized {
                url: self.shown.clone(),
            });
        }
        Ok((status, text))
    }

    fn transport_error(&self, e: reqwest::Error) -> PatroniError {
        if e.is_timeout() {
            return PatroniError::Timeout {
                url: self.shown.clone(),
                secs: self.timeout.as_secs(),
            };
        }
        let mut reason = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            reason = format!("{reason}: {s}");
            source = s.source();
        }
        PatroniError::Unreachable {
            url: self.shown.clone(),
            reason: crate::text::one_line(&reason),
        }
    }

    async fn get_json(&self, path: &str) -> Result<Value, PatroniError> {
        let (status, text) = self.request(Method::GET, path, None).await?;
        let not_patroni = |detail: String| PatroniError::NotPatroni {
            url: self.shown.clone(),
            detail,
        };
        if !status.is_success() && status != StatusCode::SERVICE_UNAVAILABLE {
            return Err(not_patroni(format!(
                "GET {path} gave HTTP {}",
                status.as_u16()
            )));
        }
        serde_json::from_str(&text)
            .map_err(|_| not_patroni(format!("GET {path} did not return JSON")))
    }

    fn decode<T: for<'de> Deserialize<'de>>(
        &self,
        path: &str,
        v: Value,
    ) -> Result<T, PatroniError> {
        serde_json::from_value(v).map_err(|e| PatroniError::NotPatroni {
            url: self.shown.clone(),
            detail: format!("GET {path}: {e}"),
        })
    }

    pub async fn cluster(&self) -> Result<Cluster, PatroniError> {
        let v = self.get_json("cluster").await?;
        let mut c: Cluster = self.decode("/cluster", v)?;
        for m in &mut c.members {
            if let Some(direct) = m.tags.get(DIRECT_PORT_TAG).and_then(Value::as_u64) {
                m.port = u16::try_from(direct).ok().or(m.port);
            }
        }
        Ok(c)
    }

    pub async fn status(&self) -> Result<NodeStatus, PatroniError> {
        // /patroni answers 503 on a member that is not running; the body still says why.
        let v = self.get_json("patroni").await?;
        self.decode("/patroni", v)
    }

    /// The dynamic configuration, as `patronictl show-config` shows it.
    pub async fn config(&self) -> Result<Value, PatroniError> {
        let v = self.get_json("config").await?;
        if !v.is_object() {
            return Err(PatroniError::NotPatroni {
                url: self.shown.clone(),
                detail: "GET /config is not an object".into(),
            });
        }
        Ok(v)
    }

    /// The timing in force on the cluster, from its dynamic configuration.
    pub async fn timing(&self) -> Result<Timing, PatroniError> {
        Ok(Timing::in_force(&self.config().await?))
    }

    pub async fn history(&self) -> Result<Vec<HistoryEntry>, PatroniError> {
        let v = self.get_json("history").await?;
        let rows: Vec<Vec<Value>> = self.decode("/history", v)?;
        Ok(rows
            .into_iter()
            .map(|r| HistoryEntry {
                timeline: r.first().and_then(Value::as_u64).unwrap_or(0),
                lsn: r.get(1).and_then(Value::as_u64).unwrap_or(0),
                reason: r
                    .get(2)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
                timestamp: r.get(3).and_then(Value::as_str).map(str::to_string),
                new_leader: r.get(4).and_then(Value::as_str).map(str::to_string),
            })
            .collect())
    }

    /// PATCH /config, as `patronictl edit-config` does: a `null` value deletes a key.
    pub async fn patch_config(&self, patch: &Value) -> Result<Value, PatroniError> {
        self.send_config(Method::PATCH, patch, "the configuration change")
            .await
    }

    /// PUT /config: replaces the whole dynamic configuration (used to put a saved one back).
    pub async fn put_config(&self, config: &Value) -> Result<Value, PatroniError> {
        self.send_config(Method::PUT, config, "the saved configuration")
            .await
    }

    async fn send_config(
        &self,
        method: Method,
        body: &Value,
        what: &str,
    ) -> Result<Value, PatroniError> {
        let (status, text) = self.request(method, "config", Some(body)).await?;
        if !status.is_success() {
            return Err(self.rejected(what, status, &text));
        }
        serde_json::from_str(&text).map_err(|_| PatroniError::NotPatroni {
            url: self.shown.clone(),
            detail: "the configuration reply is not JSON".into(),
        })
    }

    fn rejected(&self, what: &str, status: StatusCode, body: &str) -> PatroniError {
        PatroniError::Rejected {
            url: self.shown.clone(),
            what: what.to_string(),
            status: status.as_u16(),
            body: crate::text::one_line(body),
        }
    }

    /// POST /switchover from the current leader to `candidate` (any healthy standby if None).
    pub async fn switchover(
        &self,
        leader: &str,
        candidate: Option<&str>,
    ) -> Result<String, PatroniError> {
        let mut body = serde_json::json!({ "leader": leader });
        if let Some(c) = candidate {
            body["candidate"] = c.into();
        }
        self.post_action("switchover", &body, "the switchover")
            .await
    }

    /// POST /failover to `candidate`.
    pub async fn failover(&self, candidate: &str) -> Result<String, PatroniError> {
        let body = serde_json::json!({ "candidate": candidate });
        self.post_action("failover", &body, "the failover").await
    }

    /// POST /restart on this member.
    pub async fn restart(&self) -> Result<String, PatroniError> {
        self.post_action("restart", &serde_json::json!({}), "the restart")
            .await
    }

    async fn post_action(
        &self,
        path: &str,
        body: &Value,
        what: &str,
    ) -> Result<String, PatroniError> {
        let (status, text) = self.request(Method::POST, path, Some(body)).await?;
        if !status.is_success() {
            return Err(self.rejected(what, status, &text));
        }
        Ok(crate::text::one_line(&text))
    }
}

/// The URL without user info, for messages.
pub fn redact(url: &str) -> String {
    match Url::parse(url) {
        Ok(mut u) => {
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.as_str().trim_end_matches('/').to_string()
        }
        Err(_) => match (url.find("://"), url.rfind('@')) {
            (Some(s), Some(at)) if at > s => format!("{}{}", &url[..s + 3], &url[at + 1..]),
            _ => url.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn timing_in_force_follows_patronis_minimums_and_rule() {
        let t = |v: Value| Timing::in_force(&v);
        let timing = |ttl, loop_wait, retry_timeout| Timing {
            ttl,
            loop_wait,
            retry_timeout,
        };
        assert_eq!(t(json!({})), Timing::PATRONI_DEFAULTS);
        assert_eq!(
            t(json!({"ttl": 10, "loop_wait": 1, "retry_timeout": 4})),
            timing(20, 1, 4)
        );
        assert_eq!(
            t(json!({"ttl": "25", "loop_wait": 0, "retry_timeout": 1})),
            timing(25, 1, 3)
        );
        // loop_wait gives way first, then retry_timeout.
        assert_eq!(
            t(json!({"ttl": 20, "loop_wait": 10, "retry_timeout": 8})),
            timing(20, 4, 8)
        );
        assert_eq!(
            t(json!({"ttl": 20, "loop_wait": 10, "retry_timeout": 15})),
            timing(20, 1, 9)
        );
        assert_eq!(
            timing(20, 1, 4).to_string(),
            "ttl 20 s, loop_wait 1 s, retry_timeout 4 s"
        );
    }

    #[test]
    fn roles_of_patroni_3_and_4_parse() {
        assert_eq!(Role::parse("master"), Role::Leader);
        assert_eq!(Role::parse("primary"), Role::Leader);
        assert_eq!(Role::parse("leader"), Role::Leader);
        assert!(Role::parse("quorum_standby").is_synchronous());
        assert!(Role::parse("sync_standby").is_synchronous());
        assert!(!Role::parse("replica").is_synchronous());
        assert_eq!(Role::parse("weird"), Role::Other("weird".into()));
    }

    #[test]
    fn cluster_json_with_unknown_lag_and_missing_fields_decodes() {
        let v = serde_json::json!({
            "members": [
                {"name": "n1", "role": "leader", "state": "running", "api_url": "http://127.0.0.1:8008/patroni", "host": "127.0.0.1", "port": 5432, "timeline": 3},
                {"name": "n2", "role": "sync_standby", "state": "streaming", "host": "127.0.0.1", "port": 5433, "timeline": 3, "lag": 0},
                {"name": "n3", "role": "replica", "state": "stopped", "lag": "unknown"}
            ],
            "scope": "demo"
        });
        let c: Cluster = serde_json::from_value(v).unwrap();
        assert_eq!(c.leader().unwrap().name, "n1");
        assert_eq!(c.member("n3").unwrap().lag, Lag::Unknown);
        assert_eq!(c.member("n2").unwrap().lag, Lag::Bytes(0));
        assert_eq!(c.member("n1").unwrap().lag, Lag::None);
        assert_eq!(c.streaming_sync_standbys().count(), 1);
    }

    #[test]
    fn urls_are_shown_without_credentials() {
        assert_eq!(
            redact("http://admin:s3cret@10.0.0.1:8008/"),
            "http://10.0.0.1:8008"
        );
        assert_eq!(redact("garbage://u:pw@x"), "garbage://x");
        let p = Patroni::new(
            "http://admin:s%40cret@127.0.0.1:8008",
            None,
            DEFAULT_TIMEOUT,
        )
        .unwrap();
        assert_eq!(p.url(), "http://127.0.0.1:8008");
        assert_eq!(p.credentials.as_ref().unwrap().1, "s@cret");
        assert!(!format!("{p:?}").contains("cret"));
    }

    #[test]
    fn bad_urls_are_rejected() {
        assert!(matches!(
            Patroni::new("127.0.0.1:8008", None, DEFAULT_TIMEOUT),
            Err(PatroniError::BadUrl(..))
        ));
        assert!(matches!(
            Patroni::new("ftp://x:1", None, DEFAULT_TIMEOUT),
            Err(PatroniError::BadUrl(..))
        ));
    }
}
