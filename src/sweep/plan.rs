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

/// `capacity = { slo_ms = 20, percentile = 99, repeats = 2, resolution_pct = 2 }` as written,
/// each key optional (flags may give them); `slo_ms` is required in the end.
#[derive(Debug, Default, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CapacityFile {
    pub slo_ms: Option<f64>,
    pub percentile: Option<f64>,
    pub repeats: Option<u32>,
    pub resolution_pct: Option<f64>,
}

impl CapacityFile {
    pub fn overridden_by(self, over: CapacityFile) -> CapacityFile {
        CapacityFile {
            slo_ms: over.slo_ms.or(self.slo_ms),
            percentile: over.percentile.or(self.percentile),
            repeats: over.repeats.or(self.repeats),
            resolution_pct: over.resolution_pct.or(self.resolution_pct),
        }
    }
}

/// A capacity search: for each mode, the highest offered rate whose `percentile` latency
/// stays within `slo_ms` over the measured window and which the server keeps up with.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Capacity {
    /// The latency objective, ms.
    pub slo_ms: f64,
    /// Which latency percentile the objective is on (99: p99).
    pub percentile: f64,
    /// Runs at the rate found, beyond the probe that found it, that must all pass too.
    pub repeats: u32,
    /// The search stops when the passing and failing rates are this close, in percent of the
    /// closed-loop throughput that bounds it.
    pub resolution_pct: f64,
}

impl Capacity {
    pub const DEFAULT_PERCENTILE: f64 = 99.0;
    pub const DEFAULT_REPEATS: u32 = 2;
    pub const DEFAULT_RESOLUTION_PCT: f64 = 2.0;

    /// `p99`, `p99.9`: the percentile as reports name it.
    pub fn percentile_label(&self) -> String {
        format!("p{}", self.percentile)
    }
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
    pub rates: Option<Vec<u32>>,
    pub generators: Option<usize>,
    pub rtt_ms: Option<Vec<u32>>,
    pub zones: Option<String>,
    pub reference: Option<Reference>,
    pub duration: Option<u64>,
    pub warmup: Option<u64>,
    pub repeat: Option<u32>,
    pub protocol: Option<Protocol>,
    pub synchronous_mode: Option<SyncMode>,
    pub strict: Option<bool>,
    pub capacity: Option<CapacityFile>,
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
            rates: over.rates.or(self.rates),
            generators: over.generators.or(self.generators),
            rtt_ms: over.rtt_ms.or(self.rtt_ms),
            zones: over.zones.or(self.zones),
            reference: over.reference.or(self.reference),
            duration: over.duration.or(self.duration),
            warmup: over.warmup.or(self.warmup),
            repeat: over.repeat.or(self.repeat),
            protocol: over.protocol.or(self.protocol),
            synchronous_mode: over.synchronous_mode.or(self.synchronous_mode),
            strict: over.strict.or(self.strict),
            capacity: match (self.capacity, over.capacity) {
                (Some(file), Some(flags)) => Some(file.overridden_by(flags)),
                (file, flags) => flags.or(file),
            },
        }
    }

    /// Fills defaults and checks the whole plan; `file` names where the values came from.
    pub fn into_plan(self, file: &str) -> Result<Plan, PlanError> {
        let invalid = |reason: String| PlanError::Invalid {
            file: file.to_string(),
            reason,
        };
        let capacity = self
            .capacity
            .map(|c| {
                let slo_ms = c.slo_ms.ok_or_else(|| {
                    invalid(
                        "a capacity search needs its latency objective: capacity = { slo_ms = 20 } in the plan, or --slo-ms".into(),
                    )
                })?;
                Ok(Capacity {
                    slo_ms,
                    percentile: c.percentile.unwrap_or(Capacity::DEFAULT_PERCENTILE),
                    repeats: c.repeats.unwrap_or(Capacity::DEFAULT_REPEATS),
                    resolution_pct: c.resolution_pct.unwrap_or(Capacity::DEFAULT_RESOLUTION_PCT),
                })
            })
            .transpose()?;
        let plan = Plan {
            name: self.name.unwrap_or_else(|| "sweep".into()),
            workloads: self.workloads.unwrap_or_else(|| vec![Builtin::TpcbLike]),
            modes: self.modes.unwrap_or_else(|| SyncCommit::ALL.to_vec()),
            baseline: self.baseline.unwrap_or(SyncCommit::Off),
            scales: self.scales.unwrap_or_else(|| vec![10]),
            clients: self.clients.unwrap_or_else(|| vec![8]),
            threads: self.threads.unwrap_or_else(|| vec![2]),
            rates: self.rates.clone().unwrap_or_default(),
            generators: self.generators.unwrap_or(1),
            rtt_ms: self.rtt_ms.unwrap_or_else(|| vec![0]),
            zones: self.zones,
            reference: self.reference,
            duration: self.duration.unwrap_or(30),
            warmup: self.warmup.unwrap_or(5),
            repeat: self.repeat.unwrap_or(1),
            protocol: self.protocol.unwrap_or(Protocol::Prepared),
            synchronous_mode: self.synchronous_mode,
            strict: self.strict,
            capacity,
        };
        if self.rates.as_ref().is_some_and(Vec::is_empty) {
            return Err(invalid(
                "key 'rates' is an empty list: give at least one rate, or leave it out for closed-loop cells".into(),
            ));
        }
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
        if plan.rates.contains(&0) {
            return Err(invalid(
                "key 'rates' holds 0: rates are transactions per second over all clients, 1 or more (leave the key out for closed-loop cells)".into(),
            ));
        }
        if let Some(r) = duplicate(&plan.rates) {
            return Err(invalid(format!("key 'rates' lists {r} twice")));
        }
        if plan.generators == 0 || plan.generators > min_clients {
            return Err(invalid(format!(
                "key 'generators' is {}: give 1 or more, at most the {min_clients} clients of the smallest cell (each generator runs at least one client)",
                plan.generators
            )));
        }
        if let Some(c) = &plan.capacity {
            if !plan.rates.is_empty() {
                return Err(invalid(
                    "keys 'rates' and 'capacity' exclude each other: a capacity search chooses its own rates".into(),
                ));
            }
            if plan.repeat != 1 {
                return Err(invalid(format!(
                    "key 'repeat' is {} but a capacity search repeats only at the rate it finds: use capacity.repeats",
                    plan.repeat
                )));
            }
            if !(c.slo_ms > 0.0 && c.slo_ms.is_finite()) {
                return Err(invalid(format!(
                    "capacity.slo_ms is {}: give the latency objective in milliseconds, more than 0",
                    c.slo_ms
                )));
            }
            if !(c.percentile > 0.0 && c.percentile < 100.0) {
                return Err(invalid(format!(
                    "capacity.percentile is {}: give a percentile between 0 and 100, e.g. 99 or 99.9",
                    c.percentile
                )));
            }
            if !(c.resolution_pct > 0.0 && c.resolution_pct <= 50.0) {
                return Err(invalid(format!(
                    "capacity.resolution_pct is {}: give a percentage of the closed-loop throughput above 0 and at most 50",
                    c.resolution_pct
                )));
            }
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
    /// Offered rates, transactions per second over all clients, each a cell of its own;
    /// empty: closed loop (as fast as the clients can).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rates: Vec<u32>,
    /// Load generators per cell (src/sweep/generators.rs): 1 is the plain engine.
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub generators: usize,
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
    /// A capacity search instead of a sweep of fixed cells.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity: Option<Capacity>,
}

fn one() -> usize {
    1
}

fn is_one(n: &usize) -> bool {
    *n == 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(text: &str) -> Result<Plan, PlanError> {
        PlanFile::parse(text, "p.toml")?.into_plan("p.toml")
    }

    #[test]
    fn generators_are_one_by_default_and_at_most_the_smallest_cell_s_clients() {
        assert_eq!(plan("").unwrap().generators, 1);
        assert_eq!(
            plan("clients = [2, 8]\nthreads = [1]\ngenerators = 2")
                .unwrap()
                .generators,
            2
        );
        for bad in [
            "generators = 0",
            "clients = [2, 8]\nthreads = [1]\ngenerators = 3",
        ] {
            let e = plan(bad).unwrap_err().to_string();
            assert!(e.contains("key 'generators' is"), "{e}");
        }
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
    fn rates_are_positive_distinct_and_absent_means_closed_loop() {
        assert!(plan("").unwrap().rates.is_empty());
        assert_eq!(plan("rates = [200, 400]").unwrap().rates, [200, 400]);
        for (text, says) in [
            ("rates = []", "empty list"),
            ("rates = [0, 10]", "holds 0"),
            ("rates = [10, 10]", "twice"),
        ] {
            let e = plan(text).unwrap_err().to_string();
            assert!(e.contains("'rates'") && e.contains(says), "{text}: {e}");
        }
    }

    #[test]
    fn a_capacity_search_takes_defaults_and_flags_and_refuses_what_does_not_apply() {
        let p = plan("capacity = { slo_ms = 20 }").unwrap();
        assert_eq!(
            p.capacity,
            Some(Capacity {
                slo_ms: 20.0,
                percentile: 99.0,
                repeats: 2,
                resolution_pct: 2.0
            })
        );
        assert_eq!(p.capacity.unwrap().percentile_label(), "p99");
        let file = PlanFile::parse("capacity = { slo_ms = 20, repeats = 3 }", "p").unwrap();
        let flags = PlanFile {
            capacity: Some(CapacityFile {
                percentile: Some(99.9),
                ..Default::default()
            }),
            ..Default::default()
        };
        let c = file
            .overridden_by(flags)
            .into_plan("p")
            .unwrap()
            .capacity
            .unwrap();
        assert_eq!((c.slo_ms, c.percentile, c.repeats), (20.0, 99.9, 3));
        assert_eq!(c.percentile_label(), "p99.9");
        for (text, says) in [
            ("capacity = { percentile = 99 }", "slo_ms = 20"),
            ("capacity = { slo_ms = 0 }", "slo_ms is 0"),
            (
                "capacity = { slo_ms = 5, percentile = 100 }",
                "percentile is 100",
            ),
            (
                "capacity = { slo_ms = 5, resolution_pct = 0 }",
                "resolution_pct",
            ),
            (
                "capacity = { slo_ms = 5 }\nrates = [10]",
                "exclude each other",
            ),
            ("capacity = { slo_ms = 5 }\nrepeat = 2", "capacity.repeats"),
            ("capacity = { slo = 5 }", "unknown field"),
        ] {
            let e = plan(text).unwrap_err().to_string();
            assert!(e.contains(says), "{text}: {e}");
        }
    }

    #[test]
    fn manifests_written_before_rates_and_capacity_read_without_them() {
        let p = plan("").unwrap();
        let mut v = serde_json::to_value(&p).unwrap();
        assert!(
            v.get("rates").is_none() && v.get("capacity").is_none(),
            "{v}"
        );
        v.as_object_mut().unwrap().remove("rates");
        assert_eq!(serde_json::from_value::<Plan>(v).unwrap(), p);
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
