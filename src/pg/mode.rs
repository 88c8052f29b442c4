//! The five `synchronous_commit` levels, weakest first.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A `synchronous_commit` level. Order is from weakest to strongest durability.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncCommit {
    Off,
    Local,
    RemoteWrite,
    On,
    RemoteApply,
}

impl SyncCommit {
    pub const ALL: [SyncCommit; 5] = [
        SyncCommit::Off,
        SyncCommit::Local,
        SyncCommit::RemoteWrite,
        SyncCommit::On,
        SyncCommit::RemoteApply,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SyncCommit::Off => "off",
            SyncCommit::Local => "local",
            SyncCommit::RemoteWrite => "remote_write",
            SyncCommit::On => "on",
            SyncCommit::RemoteApply => "remote_apply",
        }
    }

    /// Whether a commit at this level waits for a synchronous standby (when one is configured).
    pub fn waits_for_standby(self) -> bool {
        matches!(
            self,
            SyncCommit::RemoteWrite | SyncCommit::On | SyncCommit::RemoteApply
        )
    }

    /// Parses the value `SHOW synchronous_commit` prints, accepting PostgreSQL's aliases.
    pub fn from_server(value: &str) -> Option<SyncCommit> {
        match value.trim().to_ascii_lowercase().as_str() {
            "off" | "false" | "no" | "0" => Some(SyncCommit::Off),
            "local" => Some(SyncCommit::Local),
            "remote_write" => Some(SyncCommit::RemoteWrite),
            "on" | "true" | "yes" | "1" | "remote_flush" => Some(SyncCommit::On),
            "remote_apply" => Some(SyncCommit::RemoteApply),
            _ => None,
        }
    }
}

impl fmt::Display for SyncCommit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, thiserror::Error)]
#[error(
    "unknown synchronous_commit mode '{0}': use one of off, local, remote_write, on, remote_apply"
)]
pub struct UnknownMode(pub String);

impl FromStr for SyncCommit {
    type Err = UnknownMode;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SyncCommit::ALL
            .into_iter()
            .find(|m| m.as_str() == s)
            .ok_or_else(|| UnknownMode(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_five_names_and_rejects_others() {
        for m in SyncCommit::ALL {
            assert_eq!(m.as_str().parse::<SyncCommit>().unwrap(), m);
        }
        let err = "remote_flush".parse::<SyncCommit>().unwrap_err();
        assert!(err.to_string().contains("use one of off, local"));
        assert!("ON".parse::<SyncCommit>().is_err());
    }

    #[test]
    fn server_aliases_map_to_modes() {
        assert_eq!(
            SyncCommit::from_server("remote_flush"),
            Some(SyncCommit::On)
        );
        assert_eq!(SyncCommit::from_server("true"), Some(SyncCommit::On));
        assert_eq!(SyncCommit::from_server("bogus"), None);
    }

    #[test]
    fn only_remote_modes_wait_for_a_standby() {
        let waiting: Vec<_> = SyncCommit::ALL
            .into_iter()
            .filter(|m| m.waits_for_standby())
            .collect();
        assert_eq!(
            waiting,
            [
                SyncCommit::RemoteWrite,
                SyncCommit::On,
                SyncCommit::RemoteApply
            ]
        );
    }
}
