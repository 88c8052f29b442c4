//! pgbench's built-in scripts as script text (so a built-in is just a script), with their
//! names and descriptions, and `--show-script` output.
//!
//! Owns the texts only; they must equal `pgbench --show-script=NAME` byte for byte.

/// A built-in script.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Builtin {
    /// The name `-b` selects (a unique prefix is enough).
    pub name: &'static str,
    /// What reports call it, e.g. `<builtin: TPC-B (sort of)>`.
    pub description: &'static str,
    pub text: &'static str,
}

pub const BUILTINS: [Builtin; 3] = [
    Builtin {
        name: "tpcb-like",
        description: "<builtin: TPC-B (sort of)>",
        text: "\\set aid random(1, 100000 * :scale)\n\
               \\set bid random(1, 1 * :scale)\n\
               \\set tid random(1, 10 * :scale)\n\
               \\set delta random(-5000, 5000)\n\
               BEGIN;\n\
               UPDATE pgbench_accounts SET abalance = abalance + :delta WHERE aid = :aid;\n\
               SELECT abalance FROM pgbench_accounts WHERE aid = :aid;\n\
               UPDATE pgbench_tellers SET tbalance = tbalance + :delta WHERE tid = :tid;\n\
               UPDATE pgbench_branches SET bbalance = bbalance + :delta WHERE bid = :bid;\n\
               INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (:tid, :bid, :aid, :delta, CURRENT_TIMESTAMP);\n\
               END;\n",
    },
    Builtin {
        name: "simple-update",
        description: "<builtin: simple update>",
        text: "\\set aid random(1, 100000 * :scale)\n\
               \\set bid random(1, 1 * :scale)\n\
               \\set tid random(1, 10 * :scale)\n\
               \\set delta random(-5000, 5000)\n\
               BEGIN;\n\
               UPDATE pgbench_accounts SET abalance = abalance + :delta WHERE aid = :aid;\n\
               SELECT abalance FROM pgbench_accounts WHERE aid = :aid;\n\
               INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (:tid, :bid, :aid, :delta, CURRENT_TIMESTAMP);\n\
               END;\n",
    },
    Builtin {
        name: "select-only",
        description: "<builtin: select only>",
        text: "\\set aid random(1, 100000 * :scale)\n\
               SELECT abalance FROM pgbench_accounts WHERE aid = :aid;\n",
    },
];

impl Builtin {
    /// What `pgbench --show-script=NAME` prints (to standard error).
    pub fn show(&self) -> String {
        format!("-- {}: {}\n{}\n", self.name, self.description, self.text)
    }
}

/// pgbench's list of built-ins, as printed after a bad `-b`.
pub fn list() -> String {
    // One line (errors are one line): pgbench's list, names and descriptions after a colon.
    let names: Vec<String> = BUILTINS
        .iter()
        .map(|b| format!("{} ({})", b.name, b.description))
        .collect();
    format!("use one of {}, or a prefix of one", names.join(", "))
}
