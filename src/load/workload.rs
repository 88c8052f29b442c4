//! What the clients run: pgbench's built-in scripts on a fast path (their exact SQL, their
//! random ranges, and how each statement is sent under the simple, extended and prepared
//! query protocols), or script files in pgbench's language (`load::script`).

use std::fmt::Write as _;

use rand::RngExt;
use serde::{Deserialize, Serialize};

/// pgbench's rows per scale unit.
pub const ACCOUNTS_PER_SCALE: i64 = 100_000;
pub const TELLERS_PER_SCALE: i64 = 10;
pub const BRANCHES_PER_SCALE: i64 = 1;

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "kebab-case")]
pub enum Builtin {
    TpcbLike,
    SimpleUpdate,
    SelectOnly,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Protocol {
    Simple,
    Extended,
    Prepared,
}

impl From<Protocol> for crate::load::script::Protocol {
    fn from(p: Protocol) -> Self {
        match p {
            Protocol::Simple => crate::load::script::Protocol::Simple,
            Protocol::Extended => crate::load::script::Protocol::Extended,
            Protocol::Prepared => crate::load::script::Protocol::Prepared,
        }
    }
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Simple => "simple",
            Protocol::Extended => "extended",
            Protocol::Prepared => "prepared",
        }
    }
}

/// What every client runs.
#[derive(Debug, Clone)]
pub enum Workload {
    /// One built-in, on the fast path (no interpreter).
    Builtin { builtin: Builtin, scale: i64 },
    /// Script files and weighted built-ins (`-f`, `-b NAME@W`), through the interpreter.
    Scripts(std::sync::Arc<Scripts>),
}

/// The scripts of a run and the variables every client starts with.
#[derive(Debug)]
pub struct Scripts {
    pub set: crate::load::script::ScriptSet,
    /// `-D` definitions.
    pub defines: crate::load::script::Variables,
    /// The `scale` variable's value.
    pub scale: i64,
}

impl Workload {
    /// Whether its transactions write (an audit needs them to): built-ins only; scripts are
    /// not audited.
    pub fn audited_writes(&self) -> bool {
        matches!(self, Workload::Builtin { builtin, .. } if builtin.writes())
    }

    /// pgbench's "transaction type" line.
    pub fn description(&self) -> &str {
        match self {
            Workload::Builtin { builtin, .. } => builtin.description(),
            Workload::Scripts(s) => s.set.description(),
        }
    }
}

/// The script variables pgbench's built-ins use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Var {
    Aid,
    Bid,
    Tid,
    Delta,
}

impl Var {
    fn from_name(name: &str) -> Option<Var> {
        match name {
            "aid" => Some(Var::Aid),
            "bid" => Some(Var::Bid),
            "tid" => Some(Var::Tid),
            "delta" => Some(Var::Delta),
            _ => None,
        }
    }
}

const BEGIN: &str = "BEGIN;";
const END: &str = "END;";
const UPDATE_ACCOUNTS: &str =
    "UPDATE pgbench_accounts SET abalance = abalance + :delta WHERE aid = :aid;";
const SELECT_ABALANCE: &str = "SELECT abalance FROM pgbench_accounts WHERE aid = :aid;";
const UPDATE_TELLERS: &str =
    "UPDATE pgbench_tellers SET tbalance = tbalance + :delta WHERE tid = :tid;";
const UPDATE_BRANCHES: &str =
    "UPDATE pgbench_branches SET bbalance = bbalance + :delta WHERE bid = :bid;";
const INSERT_HISTORY: &str = "INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (:tid, :bid, :aid, :delta, CURRENT_TIMESTAMP);";

impl Builtin {
    /// The built-in named exactly `name`.
    pub fn from_name(name: &str) -> Option<Builtin> {
        [
            Builtin::TpcbLike,
            Builtin::SimpleUpdate,
            Builtin::SelectOnly,
        ]
        .into_iter()
        .find(|b| b.name() == name)
    }

    pub fn name(self) -> &'static str {
        match self {
            Builtin::TpcbLike => "tpcb-like",
            Builtin::SimpleUpdate => "simple-update",
            Builtin::SelectOnly => "select-only",
        }
    }

    /// pgbench's "transaction type" line.
    pub fn description(self) -> &'static str {
        match self {
            Builtin::TpcbLike => "<builtin: TPC-B (sort of)>",
            Builtin::SimpleUpdate => "<builtin: simple update>",
            Builtin::SelectOnly => "<builtin: select only>",
        }
    }

    pub fn writes(self) -> bool {
        self != Builtin::SelectOnly
    }

    /// The script's SQL, one statement per entry, exactly as pgbench's built-in.
    pub fn statements(self) -> &'static [&'static str] {
        match self {
            Builtin::TpcbLike => &[
                BEGIN,
                UPDATE_ACCOUNTS,
                SELECT_ABALANCE,
                UPDATE_TELLERS,
                UPDATE_BRANCHES,
                INSERT_HISTORY,
                END,
            ],
            Builtin::SimpleUpdate => {
                &[BEGIN, UPDATE_ACCOUNTS, SELECT_ABALANCE, INSERT_HISTORY, END]
            }
            Builtin::SelectOnly => &[SELECT_ABALANCE],
        }
    }
}

/// One transaction's variables, drawn as pgbench's `\set` lines draw them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Draw {
    pub aid: i64,
    pub bid: i64,
    pub tid: i64,
    pub delta: i64,
}

impl Draw {
    /// `random(1, 100000 * :scale)`, `random(1, 1 * :scale)`, `random(1, 10 * :scale)`,
    /// `random(-5000, 5000)`: uniform and inclusive.
    pub fn new(rng: &mut impl rand::Rng, scale: i64) -> Draw {
        Draw {
            aid: rng.random_range(1..=ACCOUNTS_PER_SCALE * scale),
            bid: rng.random_range(1..=BRANCHES_PER_SCALE * scale),
            tid: rng.random_range(1..=TELLERS_PER_SCALE * scale),
            delta: rng.random_range(-5000..=5000),
        }
    }

    pub fn get(&self, var: Var) -> i64 {
        match var {
            Var::Aid => self.aid,
            Var::Bid => self.bid,
            Var::Tid => self.tid,
            Var::Delta => self.delta,
        }
    }
}

/// A script statement split at its `:variables`, ready for each protocol.
#[derive(Debug, Clone)]
pub struct Statement {
    /// The statement with `:var` replaced by `$1`, `$2`, ... in order of first use.
    pub positional_sql: String,
    /// The variable bound to each `$n`.
    pub params: Vec<Var>,
    /// Literal text and variables in order, for the simple protocol's inline substitution.
    parts: Vec<Part>,
}

#[derive(Debug, Clone)]
enum Part {
    Text(String),
    Var(Var),
}

#[derive(Debug, thiserror::Error, PartialEq)]
#[error("unknown script variable ':{0}'")]
pub struct UnknownVariable(pub String);

impl Statement {
    pub fn parse(sql: &str) -> Result<Statement, UnknownVariable> {
        // pgbench sends the statement without its terminating semicolon.
        let sql = sql.trim().trim_end_matches(';');
        let mut parts = Vec::new();
        let mut params: Vec<Var> = Vec::new();
        let mut positional_sql = String::new();
        let mut text = String::new();
        let mut rest = sql;
        while let Some(pos) = rest.find(':') {
            let after = &rest[pos + 1..];
            let name_len = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            text.push_str(&rest[..pos]);
            if let Some(cast) = after.strip_prefix(':') {
                // a `::type` cast
                text.push_str("::");
                rest = cast;
                continue;
            }
            if name_len == 0 {
                text.push(':');
                rest = after;
                continue;
            }
            let name = &after[..name_len];
            let var = Var::from_name(name).ok_or_else(|| UnknownVariable(name.to_string()))?;
            positional_sql.push_str(&text);
            parts.push(Part::Text(std::mem::take(&mut text)));
            let index = match params.iter().position(|&v| v == var) {
                Some(i) => i,
                None => {
                    params.push(var);
                    params.len() - 1
                }
            };
            let _ = write!(positional_sql, "${}", index + 1);
            parts.push(Part::Var(var));
            rest = &after[name_len..];
        }
        text.push_str(rest);
        positional_sql.push_str(&text);
        parts.push(Part::Text(text));
        Ok(Statement {
            positional_sql,
            params,
            parts,
        })
    }

    /// The statement with values written in, as pgbench's simple protocol sends it.
    pub fn render_into(&self, draw: &Draw, out: &mut String) {
        out.clear();
        for part in &self.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Var(v) => {
                    let _ = write!(out, "{}", draw.get(*v));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::SmallRng;

    #[test]
    fn variables_become_numbered_parameters_in_order_of_first_use() {
        let s = Statement::parse(INSERT_HISTORY).unwrap();
        assert_eq!(
            s.positional_sql,
            "INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES ($1, $2, $3, $4, CURRENT_TIMESTAMP)"
        );
        assert_eq!(s.params, [Var::Tid, Var::Bid, Var::Aid, Var::Delta]);
        let s = Statement::parse(UPDATE_ACCOUNTS).unwrap();
        assert_eq!(
            s.positional_sql,
            "UPDATE pgbench_accounts SET abalance = abalance + $1 WHERE aid = $2"
        );
    }

    #[test]
    fn repeated_variable_reuses_its_parameter_and_casts_are_left_alone() {
        let s = Statement::parse("SELECT :aid::int, :aid, :delta").unwrap();
        assert_eq!(s.positional_sql, "SELECT $1::int, $1, $2");
        assert_eq!(s.params, [Var::Aid, Var::Delta]);
    }

    #[test]
    fn simple_protocol_writes_values_inline() {
        let s = Statement::parse(UPDATE_ACCOUNTS).unwrap();
        let draw = Draw {
            aid: 42,
            bid: 1,
            tid: 3,
            delta: -17,
        };
        let mut out = String::new();
        s.render_into(&draw, &mut out);
        assert_eq!(
            out,
            "UPDATE pgbench_accounts SET abalance = abalance + -17 WHERE aid = 42"
        );
    }

    #[test]
    fn unknown_variable_is_rejected() {
        assert_eq!(
            Statement::parse("SELECT :nope").unwrap_err(),
            UnknownVariable("nope".into())
        );
    }

    #[test]
    fn every_builtin_statement_parses_into_its_parameters_and_renders_as_pgbench_sends_it() {
        use Var::*;
        let draw = Draw {
            aid: 42,
            bid: 2,
            tid: 13,
            delta: -17,
        };
        // (positional SQL, parameters, the simple protocol's text for `draw`)
        let begin = ("BEGIN", vec![], "BEGIN");
        let end = ("END", vec![], "END");
        let update_accounts = (
            "UPDATE pgbench_accounts SET abalance = abalance + $1 WHERE aid = $2",
            vec![Delta, Aid],
            "UPDATE pgbench_accounts SET abalance = abalance + -17 WHERE aid = 42",
        );
        let select = (
            "SELECT abalance FROM pgbench_accounts WHERE aid = $1",
            vec![Aid],
            "SELECT abalance FROM pgbench_accounts WHERE aid = 42",
        );
        let update_tellers = (
            "UPDATE pgbench_tellers SET tbalance = tbalance + $1 WHERE tid = $2",
            vec![Delta, Tid],
            "UPDATE pgbench_tellers SET tbalance = tbalance + -17 WHERE tid = 13",
        );
        let update_branches = (
            "UPDATE pgbench_branches SET bbalance = bbalance + $1 WHERE bid = $2",
            vec![Delta, Bid],
            "UPDATE pgbench_branches SET bbalance = bbalance + -17 WHERE bid = 2",
        );
        let insert = (
            "INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES ($1, $2, $3, $4, CURRENT_TIMESTAMP)",
            vec![Tid, Bid, Aid, Delta],
            "INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (13, 2, 42, -17, CURRENT_TIMESTAMP)",
        );
        let expected = [
            (
                Builtin::TpcbLike,
                vec![
                    &begin,
                    &update_accounts,
                    &select,
                    &update_tellers,
                    &update_branches,
                    &insert,
                    &end,
                ],
            ),
            (
                Builtin::SimpleUpdate,
                vec![&begin, &update_accounts, &select, &insert, &end],
            ),
            (Builtin::SelectOnly, vec![&select]),
        ];
        let mut text = String::new();
        for (b, want) in expected {
            assert_eq!(b.statements().len(), want.len(), "{}", b.name());
            for (sql, (positional, params, rendered)) in b.statements().iter().zip(want) {
                let st = Statement::parse(sql).unwrap();
                assert_eq!(&st.positional_sql, positional, "{}", b.name());
                assert_eq!(&st.params, params, "{sql}");
                st.render_into(&draw, &mut text);
                assert_eq!(&text, rendered, "{sql}");
            }
        }
    }

    #[test]
    fn draws_stay_inside_pgbench_ranges_and_reach_their_ends() {
        let mut rng = SmallRng::seed_from_u64(7);
        let scale = 2;
        let (mut min, mut max) = (
            Draw {
                aid: i64::MAX,
                bid: i64::MAX,
                tid: i64::MAX,
                delta: i64::MAX,
            },
            Draw {
                aid: i64::MIN,
                bid: i64::MIN,
                tid: i64::MIN,
                delta: i64::MIN,
            },
        );
        for _ in 0..200_000 {
            let d = Draw::new(&mut rng, scale);
            min = Draw {
                aid: min.aid.min(d.aid),
                bid: min.bid.min(d.bid),
                tid: min.tid.min(d.tid),
                delta: min.delta.min(d.delta),
            };
            max = Draw {
                aid: max.aid.max(d.aid),
                bid: max.bid.max(d.bid),
                tid: max.tid.max(d.tid),
                delta: max.delta.max(d.delta),
            };
        }
        assert_eq!((min.bid, max.bid), (1, 2));
        assert_eq!((min.tid, max.tid), (1, 20));
        assert_eq!((min.delta, max.delta), (-5000, 5000));
        assert!(min.aid >= 1 && max.aid <= 200_000);
        assert!(
            min.aid < 10 && max.aid > 199_990,
            "aid range {}..{}",
            min.aid,
            max.aid
        );
    }
}
