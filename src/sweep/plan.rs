//! Sweep plans: a TOML file (workloads/*.toml) and command-line flags, merged and checked before
//! anything runs. Flags override the file; what neither gives takes the defaults below.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::cluster::control::SyncMode;
use crate::load::workload::{Builtin, Protocol};
use crate::pg::mode::SyncCommit;

/// Changes someone published for the same modes against the same baseline (a case study's,
/// say), shown beside what the sweep measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reference {
    /// Where the figures come from.
    pub name: String,
    /// Mean latency change against the baseline, in percent, per mode.
    #[serde(default)]
    pub latency_pct: std::collections::BTreeMap<SyncCommit, f64>,
    /// TPS change against the baseline, in percent, per mode.
    #[serde(default)]
    pub tps_pct: std::collections::BTreeMap<SyncCommit, f64>,
    /// What differs between the two setups, to read the comparison by.
    #[serde(default)]
    pub note: Option<String>,
}

/// Every key a plan file may hold, each optional.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanFile {
    pub name: Option<String>,
    pub workloads: Option<Vec<Builtin>>,
    pub modes: Option<Vec<SyncCommit>>,
    pub baseline: Option<SyncCommit>,
    pub scales: Option<Vec<i64>>,
    pub clients: Option<Vec<usize>>,
    pub threads: Option<Vec<usize>>,
    pub rtt_ms: Option<Vec<u32>>,
    pub zones: Option<String>,
    pub reference: Option<Reference>,
    pub duration: Option<u64>,
    pub warmup: Option<u64>,
    pub repeat: Option<u32>,
    pub protocol: Option<Protocol>,
    pub synchronous_mode: Option<SyncMode>,
    pub strict: Option<bool>,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum PlanError {
    #[error("cannot read plan {file}: {reason}")]
    Read { file: String, reason: String },
    #[error("invalid plan {file}: {reason}")]
    Invalid { file: String, reason: String },
}

impl PlanFile {
    pub fn load(path: &Path) -> Result<PlanFile, PlanError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| PlanError::Read {
            file: file.clone(),
            reason: e.to_string(),
        })?;
        PlanFile::parse(&text, &file)
    }

    pub fn parse(text: &str, file: &str) -> Result<PlanFile, PlanError> {
        toml::from_str(text).map_err(|e| PlanError::Invalid {
            file: file.to_string(),
            reason: describe_toml_error(&e, text),
        })
    }

    /// This file's values, with `over`'s values (the flags) taking precedence.
    pub fn overridden_by(self, over: PlanFile) -> PlanFile {
        PlanFile {
            name: over.name.or(self.name),
            workloads: over.workloads.or(self.workloads),
            modes: over.modes.or(self.modes),
            baseline: over.baseline.or(self.baseline),
            scales: over.scales.or(self.scales),
            clients: over.clients.or(self.clients),
            threads: over.threads.or(self.threads),
            rtt_ms: over.rtt_ms.or(self.rtt_ms),
            zones: over.zones.or(self.zones),
            reference: over.reference.or(self.reference),
            duration: over.duration.or(self.duration),
            warmup: over.warmup.or(self.warmup),
            repeat: over.repeat.or(self.repeat),
            protocol: over.protocol.or(self.protocol),
            synchronous_mode: over.synchronous_mode.or(self.synchronous_mode),
            strict: over.strict.or(self.strict),
        }
    }

    /// Fills defaults and checks the whole plan; `file` names where the values came from.
    pub fn into_plan(self, file: &str) -> Result<Plan, PlanError> {
        let invalid = |reason: String| PlanError::Invalid {
            file: file.to_string(),
            reason,
        };
        let plan = Plan {
            name: self.name.unwrap_or_else(|| "sweep".into()),
            workloads: self.workloads.unwrap_or_else(|| vec![Builtin::TpcbLike]),
            modes: self.modes.unwrap_or_else(|| SyncCommit::ALL.to_vec()),
            baseline: self.baseline.unwrap_or(SyncCommit::Off),
            scales: self.scales.unwrap_or_else(|| vec![10]),
            clients: self.clients.unwrap_or_else(|| vec![8]),
            threads: self.threads.unwrap_or_else(|| vec![2]),
            rtt_ms: self.rtt_ms.unwrap_or_else(|| vec![0]),
            zones: self.zones,
            reference: self.reference,
            duration: self.duration.unwrap_or(30),
            warmup: self.warmup.unwrap_or(5),
            repeat: self.repeat.unwrap_or(1),
            protocol: self.protocol.unwrap_or(Protocol::Prepared),
            synchronous_mode: self.synchronous_mode,
            strict: self.strict,
        };
        for (key, empty) in [
            ("workloads", plan.workloads.is_empty()),
            ("modes", plan.modes.is_empty()),
            ("scales", plan.scales.is_empty()),
            ("clients", plan.clients.is_empty()),
            ("threads", plan.threads.is_empty()),
            ("rtt_ms", plan.rtt_ms.is_empty()),
        ] {
            if empty {
                return Err(invalid(format!(
                    "key '{key}' is an empty list: give at least one value"
                )));
            }
        }
        if !plan
            .name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            || plan.name.is_empty()
        {
            return Err(invalid(format!(
                "key 'name' is '{}': use letters, digits, '-' and '_' (it names the results folder)",
                plan.name
            )));
        }
        if !plan.modes.contains(&plan.baseline) {
            return Err(invalid(format!(
                "key 'baseline' is {} but 'modes' does not include it: add it to modes or choose one of {}",
                plan.baseline,
                plan.modes
                    .iter()
                    .map(|m| m.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        if let Some(z) = &plan.zones
            && let Err(e) = crate::lab::Zones::parse(z, 3, &[], None, None)
        {
            return Err(invalid(format!("key 'zones': {e}")));
        }
        if let Some(m) = duplicate(&plan.modes) {
            return Err(invalid(format!("key 'modes' lists {m} twice")));
        }
        if let Some(s) = plan.scales.iter().find(|&&s| s < 1) {
            return Err(invalid(format!(
                "key 'scales' holds {s}: scales start at 1"
            )));
        }
        if plan.clients.contains(&0) || plan.threads.contains(&0) {
            return Err(invalid(
                "keys 'clients' and 'threads' take values of 1 or more".into(),
            ));
        }
        let min_clients = *plan.clients.iter().min().expect("not empty");
        if let Some(t) = plan.threads.iter().find(|&&t| t > min_clients) {
            return Err(invalid(format!(
                "key 'threads' holds {t}, more than the {min_clients} clients of another cell: every thread count must be at most every client count"
            )));
        }
        if plan.duration == 0 {
            return Err(invalid(
                "key 'duration' is 0: give the measured seconds per cell".into(),
            ));
        }
        if plan.repeat == 0 {
            return Err(invalid(
                "key 'repeat' is 0: give 1 or more repetitions".into(),
            ));
        }
        if let Some(r) = duplicate(&plan.rtt_ms) {
            return Err(invalid(format!("key 'rtt_ms' lists {r} twice")));
        }
        Ok(plan)
    }
}

fn duplicate<T: PartialEq + Copy>(items: &[T]) -> Option<T> {
    items
        .iter()
        .enumerate()
        .find(|(i, a)| items[..*i].contains(a))
        .map(|(_, a)| *a)
}

/// toml's message on one line, with the line number and the key it concerns.
pub fn describe_toml_error(e: &toml::de::Error, text: &str) -> String {
    let msg = crate::text::one_line(e.message());
    let Some(span) = e.span() else {
        return msg;
    };
    let before = &text[..span.start.min(text.len())];
    let line = before.matches('\n').count() + 1;
    // The key is on the nearest line at or above the error that starts with `key =`.
    let key = before
        .lines()
        .chain(text[before.len()..].lines().take(1))
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .find_map(|l| {
            let (k, _) = l.split_once('=')?;
            let k = k.trim();
            (!k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')).then_some(k)
        });
    match key {
        Some(k) if !msg.starts_with("unknown field") => format!("line {line}, key '{k}': {msg}"),
        _ => format!("line {line}: {msg}"),
    }
}

/// The plan a sweep runs: every combination of these, `repeat` times.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    pub name: String,
    pub workloads: Vec<Builtin>,
    pub modes: Vec<SyncCommit>,
    pub baseline: SyncCommit,
    pub scales: Vec<i64>,
    pub clients: Vec<usize>,
    pub threads: Vec<usize>,
    /// Round trips to add, in ms (lab only): between zones when the plan has zones, otherwise
    /// on the replication path through relays; [0] for none.
    pub rtt_ms: Vec<u32>,
    /// Zones the lab's members take in turn (etcd and this machine in the first), e.g.
    /// "a,b,c": the lab runs in network namespaces (root), every pair of zones `rtt_ms` apart.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zones: Option<String>,
    /// Published changes against the baseline to set the measured ones beside in the report.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<Reference>,
    pub duration: u64,
    pub warmup: u64,
    pub repeat: u32,
    pub protocol: Protocol,
    /// Patroni synchronous_mode for the whole sweep (None: leave as is).
    pub synchronous_mode: Option<crate::cluster::control::SyncMode>,
    pub strict: Option<bool>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(text: &str) -> Result<Plan, PlanError> {
        PlanFile::parse(text, "p.toml")?.into_plan("p.toml")
    }

    #[test]
    fn defaults_are_the_five_mode_comparison() {
        let p = plan("").unwrap();
        assert_eq!(p.modes, SyncCommit::ALL);
        assert_eq!(p.baseline, SyncCommit::Off);
        assert_eq!(p.workloads, [Builtin::TpcbLike]);
        assert_eq!(p.protocol, Protocol::Prepared);
    }

    #[test]
    fn an_unknown_key_is_named_with_its_line_and_the_allowed_keys() {
        let e = plan("name = \"x\"\nmode = [\"on\"]\n")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("invalid plan p.toml: line 2:"), "{e}");
        assert!(e.contains("mode"), "{e}");
        assert!(
            e.contains("expected one of `name`, `workloads`, `modes`"),
            "{e}"
        );
    }

    #[test]
    fn a_bad_value_names_the_allowed_values() {
        let e = plan("name = \"x\"\nmodes = [\n  \"on\",\n  \"remote_flush\",\n]")
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 4, key 'modes'"), "{e}");
        assert!(e.contains("remote_flush"), "{e}");
        assert!(e.contains("off") && e.contains("remote_apply"), "{e}");
        let e = plan("workloads = [\"tpcc\"]").unwrap_err().to_string();
        assert!(e.contains("tpcb-like"), "{e}");
    }

    #[test]
    fn inconsistent_plans_are_refused() {
        assert!(
            plan("modes = [\"on\"]\nbaseline = \"off\"")
                .unwrap_err()
                .to_string()
                .contains("'baseline' is off")
        );
        assert!(
            plan("clients = [1, 8]\nthreads = [2]")
                .unwrap_err()
                .to_string()
                .contains("'threads' holds 2")
        );
        assert!(plan("repeat = 0").is_err());
        assert!(plan("duration = 0").is_err());
        assert!(
            plan("modes = [\"on\", \"on\"]\nbaseline = \"on\"")
                .unwrap_err()
                .to_string()
                .contains("twice")
        );
        assert!(plan("name = \"a b\"").is_err());
        assert!(
            plan("clients = []")
                .unwrap_err()
                .to_string()
                .contains("empty list")
        );
    }

    #[test]
    fn flags_override_the_file() {
        let file = PlanFile::parse("clients = [4]\nduration = 60", "p.toml").unwrap();
        let flags = PlanFile {
            clients: Some(vec![16]),
            ..Default::default()
        };
        let p = file.overridden_by(flags).into_plan("p.toml").unwrap();
        assert_eq!(p.clients, [16]);
        assert_eq!(p.duration, 60);
    }

    #[test]
    fn committed_plans_are_valid() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("workloads");
        let mut n = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "toml") {
                PlanFile::load(&path)
                    .unwrap()
                    .into_plan(&path.display().to_string())
                    .unwrap();
                n += 1;
            }
        }
        assert!(n >= 3, "quick, five-modes and scaling plans");
    }
}
