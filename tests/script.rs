//! The script language against the real pgbench 15: the same script files through pgbench
//! and through `pgsyncbench::load::script` must give the same values, the same SQL text, the same
//! statement splitting, the same prepared statement names, the same built-in scripts and the
//! same load-time refusals.

mod common;

use std::path::PathBuf;
use std::process::Output;

use pgsyncbench::load::script::{
    BUILTINS, LoadError, Prng, Script, ScriptArg, ScriptSet, Seeds, SqlCommand, Startup, Step,
    Variables, parse_defines,
};

/// A file in the test server's folder (removed with the server when the tests end).
fn temp_file(name: &str, text: &str) -> PathBuf {
    let dir = common::server().dir.join("scripts");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn pgbench_ok(db: &str, args: &[&str]) -> Output {
    common::check(
        common::server().pgbench(db, args),
        &format!("pgbench {args:?}"),
    )
}

/// Rows of a query as vectors of column texts (NULL as the empty string).
fn rows(db: &str, sql: &str) -> Vec<Vec<String>> {
    let out = common::server().psql(db, &format!("COPY ({sql}) TO STDOUT WITH (FORMAT csv)"));
    parse_csv(&out)
}

/// CSV as COPY writes it: quoted fields may hold commas, doubled quotes and newlines.
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => row.push(std::mem::take(&mut field)),
            ('\n', false) => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            _ => field.push(c),
        }
    }
    if !text.is_empty() {
        row.push(field);
        rows.push(row);
    }
    rows
}

/// Walks `transactions` transactions of a script for one client, handing each SQL step to
/// `on_sql` (which may store results into the variables, as the server's answer would).
fn simulate(
    script: &Script,
    vars: &mut Variables,
    rng: &mut Prng,
    transactions: usize,
    mut on_sql: impl FnMut(&SqlCommand, &mut Variables),
) {
    for _ in 0..transactions {
        let mut tx = script.begin();
        while let Some(step) = tx.next_with_debug(vars, rng, &mut |_, _| {}).unwrap() {
            if let Step::Sql(sql) = step {
                on_sql(sql, vars);
            }
        }
    }
}

/// Deterministic expressions over `:i` (and `-D` variables), each stored as text.
const EXPRESSIONS: &[&str] = &[
    "hash(:i, 5432)",
    "hash_murmur2(:i * 7919, -1)",
    "hash_fnv1a(:i, 5432)",
    "hash_fnv1a(-:i, 0)",
    "hash(:i)",
    "hash_fnv1a(:i)",
    "permute(:i, 1000, 17)",
    "permute(:i, 7, :i)",
    "permute(:i * 1000003, 9223372036854775807, 5432)",
    "permute(:i, 10)",
    "(:i * 37 + 11) % 17 - :i / 3",
    "(:i << 3) | (:i >> 1) # ~:i",
    "-:i % 7 + (1 << (:i % 62))",
    ":i * 100000000000 * 1000",
    "-9223372036854775808 + :i",
    ":i / 7.0",
    "sqrt(:i) * pi()",
    "exp(:i / 10.0)",
    "ln(:i + 0.5)",
    "pow(:i, 0.75)",
    "pow(1.5, :i)",
    "1.0 / (:i - 5)",
    "double(:i) * 1e15",
    ":i * 1e-7",
    "0.1 * :i",
    ":i * 123456789.123456789",
    "(:i - 100) * 1e-300 * 1e-10",
    "greatest(:i, 3.5, -1)",
    "least(:i, 7)",
    "abs(5 - :i)",
    "abs(2.5 - :i)",
    "int(:i / 3.0)",
    "int(:i * 0.5)",
    "mod(:i * 13, 7)",
    ":i % 2 = 0 AND :i > 3",
    "NOT (:i < 5) OR :i = 2",
    ":i IS NULL",
    "(:i > 5) IS TRUE",
    "CASE WHEN :i < 3 THEN 1 WHEN :i < 6 THEN 2.5 ELSE NULL END",
    ":foo * :i",
    ":x + :i",
    ":i >= 100 AND :i <= 150 OR NULL",
];

const TRANSACTIONS: usize = 200;

/// The expression script: `quoted` puts each value in quotes (simple protocol), else casts
/// the parameter to text (extended and prepared protocols).
fn expression_script(quoted: bool) -> String {
    let mut s = String::from("SELECT nextval('s') AS i \\gset\n");
    for (k, e) in EXPRESSIONS.iter().enumerate() {
        s.push_str(&format!("\\set e{k} {e}\n"));
    }
    let values: Vec<String> = (0..EXPRESSIONS.len())
        .map(|k| {
            if quoted {
                format!("':e{k}'")
            } else {
                format!(":e{k}::text")
            }
        })
        .collect();
    s.push_str(&format!(
        "INSERT INTO out VALUES (:i, {}, current_query());\n",
        values.join(", ")
    ));
    s
}

fn expression_db(name: &str) -> String {
    let db = common::server().database(name);
    let cols: Vec<String> = (0..EXPRESSIONS.len())
        .map(|k| format!("e{k} text"))
        .collect();
    common::server().psql(
        &db,
        &format!(
            "CREATE SEQUENCE s; CREATE TABLE out (i bigint, {}, q text)",
            cols.join(", ")
        ),
    );
    db
}

/// The client's variables and generator as pgbench sets them up for one client.
fn one_client(seed: u64, defines: &[&str]) -> (Variables, Prng) {
    let mut seeds = Seeds::new(seed);
    let (mut rngs, default_seed) = seeds.clients(1);
    let vars = Variables::for_client(
        &parse_defines(defines).unwrap(),
        Startup {
            client_id: 0,
            scale: 1,
            random_seed: seeds.random_seed(),
            default_seed,
        },
    );
    (vars, rngs.remove(0))
}

fn check_expressions(protocol: &str) {
    let quoted = protocol == "simple";
    let db = expression_db(&format!("script_expr_{protocol}"));
    let path = temp_file(&format!("expr-{protocol}.sql"), &expression_script(quoted));
    let defines = ["foo=-10.1", "x=+3"];
    pgbench_ok(
        &db,
        &[
            "-n",
            "-t",
            &TRANSACTIONS.to_string(),
            "-M",
            protocol,
            "--random-seed=5432",
            "-Dfoo=-10.1",
            "-Dx=+3",
            "-f",
            path.to_str().unwrap(),
        ],
    );
    let theirs = rows(&db, "SELECT * FROM out ORDER BY i");
    assert_eq!(theirs.len(), TRANSACTIONS);

    let script = Script::load_file(&path).unwrap();
    let (mut vars, mut rng) = one_client(5432, &defines);
    let mut next_i = 0;
    let mut ours = Vec::new();
    simulate(&script, &mut vars, &mut rng, TRANSACTIONS, |sql, vars| {
        if let Some(store) = sql.store() {
            next_i += 1;
            let i = next_i.to_string();
            store.store_row(vars, [("i", Some(i.as_str()))]).unwrap();
            return;
        }
        let mut row = vec![vars.text("i").unwrap().to_string()];
        for k in 0..EXPRESSIONS.len() {
            row.push(vars.text(&format!("e{k}")).unwrap().to_string());
        }
        // What reached the server: the whole text, or the $n text and its parameters.
        if quoted {
            row.push(sql.simple_text(vars));
        } else {
            let params: Vec<_> = sql.params(vars).map(|p| p.unwrap().to_string()).collect();
            assert_eq!(params[1..], row[1..], "parameters");
            row.push(sql.positional_text().to_string());
        }
        ours.push(row);
    });
    for (t, o) in theirs.iter().zip(&ours) {
        for (k, (a, b)) in t.iter().zip(o).enumerate() {
            let what = if k == 0 {
                "i"
            } else {
                EXPRESSIONS.get(k - 1).copied().unwrap_or("query text")
            };
            assert_eq!(a, b, "row i={}: {what}", t[0]);
        }
    }
    assert_eq!(theirs, ours);
}

#[test]
fn expressions_give_pgbench_s_values_with_the_simple_protocol() {
    check_expressions("simple");
}

#[test]
fn expressions_give_pgbench_s_values_as_parameters() {
    check_expressions("extended");
    check_expressions("prepared");
}

#[test]
fn seeded_random_functions_draw_pgbench_s_numbers_per_client() {
    let db = common::server().database("script_random");
    common::server().psql(
        &db,
        "CREATE TABLE draws (c int, k int, u bigint, e bigint, g bigint, z bigint, p bigint, h bigint)",
    );
    let text = "\\set k :k + 1\n\
        \\set u random(1, 1000000)\n\
        \\set e random_exponential(1, 1000, 3)\n\
        \\set g random_gaussian(1, 1000, 2.5)\n\
        \\set z random_zipfian(1, 1000, 1.07)\n\
        \\set p permute(:u, 1000)\n\
        \\set h hash(:u)\n\
        INSERT INTO draws VALUES (:client_id, :k, :u, :e, :g, :z, :p, :h);\n";
    let path = temp_file("random.sql", text);
    let (clients, transactions) = (3, 150);
    pgbench_ok(
        &db,
        &[
            "-n",
            "-c",
            &clients.to_string(),
            "-j",
            "2",
            "-t",
            &transactions.to_string(),
            "--random-seed=777",
            "-Dk=0",
            "-f",
            path.to_str().unwrap(),
        ],
    );
    let theirs = rows(&db, "SELECT * FROM draws ORDER BY c, k");

    let script = Script::load_file(&path).unwrap();
    let defines = parse_defines(&["k=0"]).unwrap();
    let mut seeds = Seeds::new(777);
    let (rngs, default_seed) = seeds.clients(clients);
    let mut ours = Vec::new();
    for (c, mut rng) in rngs.into_iter().enumerate() {
        let startup = Startup {
            client_id: c as i64,
            scale: 1,
            random_seed: 777,
            default_seed,
        };
        let mut vars = Variables::for_client(&defines, startup);
        simulate(&script, &mut vars, &mut rng, transactions, |_, vars| {
            let row = ["client_id", "k", "u", "e", "g", "z", "p", "h"]
                .map(|v| vars.text(v).unwrap().to_string());
            ours.push(row.to_vec());
        });
    }
    assert_eq!(theirs.len(), clients * transactions);
    assert_eq!(theirs, ours);
}

#[test]
fn builtin_scripts_are_pgbench_s() {
    for b in &BUILTINS {
        let out = std::process::Command::new(common::pg_bin().join("pgbench"))
            .arg(format!("--show-script={}", b.name))
            .output()
            .unwrap();
        assert_eq!(common::stderr(&out), b.show(), "{}", b.name);
        // The description pgbench reports is the one we load the script under.
        let set = ScriptSet::from_args(&[ScriptArg::Builtin(b.name.into())]).unwrap();
        assert_eq!(set.description(), b.description);
    }
}

/// Statements with semicolons in strings, comments, dollar quotes, parentheses and routine
/// bodies.
const SPLIT_SCRIPT: &str = "-- leading comment; not a statement\n\
\\set v 7\n\
SELECT 'a;b' <> ':v';\n\
SELECT 1 /* c;o /* nested; */ mm */ WHERE $$x;y$$ = $$x;y$$;\n\
SELECT 2 -- trailing ; comment\n  WHERE E'it\\'s;' = 'it''s;';\n\
SELECT 3 WHERE (1,\n  2) = (1, 2) AND :v = 7 AND :v::int = 7 AND '::v' = '::v';\n\
SELECT 4 WHERE $t$;$$;$t$ <> '' AND U&'a;b' = 'a;b' AND (SELECT 1 AS \"x;\"\"y\") IS NOT NULL;\n\
CREATE OR REPLACE FUNCTION pg_temp.f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT CASE WHEN true THEN 2 END; END;\n\
SELECT pg_temp.f() AS one \\gset\n\
SELECT 5 WHERE :one = 2\n";

/// The statements the server logged (log_statement = all) after byte `from` of its log.
fn logged_statements(from: u64) -> Vec<String> {
    let log = std::fs::read(common::server().dir.join("server.log")).unwrap();
    let text = String::from_utf8_lossy(&log[from as usize..]).into_owned();
    let mut out: Vec<String> = Vec::new();
    let mut in_statement = false;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix('\t') {
            if in_statement {
                let last = out.last_mut().unwrap();
                last.push('\n');
                last.push_str(rest);
            }
            continue;
        }
        in_statement = false;
        let found = ["LOG:  statement: ", "LOG:  execute <unnamed>: "]
            .iter()
            .find_map(|marker| line.split_once(marker).map(|(_, s)| s));
        if let Some(statement) = found {
            out.push(statement.to_string());
            in_statement = true;
        }
    }
    out
}

fn split_check(name: &str, protocol: &str, text: &str) {
    let db = common::server().database(&format!("script_split_{name}"));
    common::server().psql(
        &db,
        &format!("ALTER DATABASE {db} SET log_statement = 'all'"),
    );
    let path = temp_file(&format!("split-{name}.sql"), text);
    let log = common::server().dir.join("server.log");
    let from = std::fs::metadata(&log).unwrap().len();
    pgbench_ok(
        &db,
        &[
            "-n",
            "-t",
            "1",
            "-M",
            protocol,
            "-f",
            path.to_str().unwrap(),
        ],
    );
    let theirs = logged_statements(from);

    let script = Script::load_file(&path).unwrap();
    let mut vars = Variables::new();
    let mut ours = Vec::new();
    simulate(
        &script,
        &mut vars,
        &mut Prng::from_seed(0),
        1,
        |sql, vars| {
            ours.push(if protocol == "simple" {
                sql.simple_text(vars)
            } else {
                sql.positional_text().to_string()
            });
            if let Some(store) = sql.store() {
                store.store_row(vars, [("one", Some("2"))]).unwrap();
            }
        },
    );
    assert_eq!(theirs, ours);
}

#[test]
fn statements_split_as_pgbench_splits_them() {
    split_check("simple", "simple", SPLIT_SCRIPT);
    // Under the extended protocol a quoted ':v' would become the string '$1' and leave a
    // parameter without a placeholder (pgbench fails on that too).
    split_check("extended", "extended", &SPLIT_SCRIPT.replace("':v'", "'v'"));
    // A compound statement (\\;) runs under the simple protocol only.
    split_check(
        "compound",
        "simple",
        "SELECT 1 \\; SELECT 2;\nSELECT 3 \\; SELECT 4\n",
    );
}

#[test]
fn prepared_statements_have_pgbench_s_names() {
    let db = common::server().database("script_prepared");
    common::server().psql(&db, "CREATE TABLE prep (name text, statement text)");
    let a = temp_file("prep-a.sql", "SELECT 1;\n\\set x 5\nSELECT :x::int + 1;\n");
    let b = temp_file(
        "prep-b.sql",
        "SELECT 2 AS two \\gset\nINSERT INTO prep SELECT name, statement FROM pg_prepared_statements \
         WHERE NOT EXISTS (SELECT 1 FROM prep p WHERE p.name = pg_prepared_statements.name);\n",
    );
    // Several transactions so that both scripts run and every statement is prepared.
    pgbench_ok(
        &db,
        &[
            "-n",
            "-t",
            "40",
            "-M",
            "prepared",
            "--random-seed=1",
            "-f",
            a.to_str().unwrap(),
            "-f",
            b.to_str().unwrap(),
        ],
    );
    let theirs = rows(&db, "SELECT name, statement FROM prep ORDER BY name");
    let set = ScriptSet::from_args(&[
        ScriptArg::File(a.to_str().unwrap().into()),
        ScriptArg::File(b.to_str().unwrap().into()),
    ])
    .unwrap();
    let mut ours: Vec<Vec<String>> = set
        .scripts()
        .iter()
        .flat_map(|s| s.script.sql_commands())
        .map(|s| {
            vec![
                s.statement_name().to_string(),
                s.positional_text().to_string(),
            ]
        })
        .collect();
    ours.sort();
    assert_eq!(theirs, ours);
}

/// Scripts both pgbench and we refuse before connecting, with pgbench's message.
#[test]
fn load_time_errors_are_pgbench_s() {
    let cases = [
        ("\\set i 1 +\n", "syntax error"),
        (
            "\\set i noSuchFunction()\n",
            "unexpected function name (noSuchFunction)",
        ),
        ("\\set i ;\n", "unexpected character (;)"),
        ("\\set i 1 < 2 < 3\n", "syntax error"),
        (
            "\\set d ln(1.0, 2.0)\n",
            "unexpected number of arguments (ln)",
        ),
        (
            "\\set i greatest()\n",
            "at least one argument expected (greatest)",
        ),
        (
            "\\set i permute(1)\n",
            "unexpected number of arguments (permute)",
        ),
        (
            "\\set i 100000000000000000000\n",
            "bigint constant overflow (100000000000000000000)",
        ),
        ("\\set d 1e-310\n", "double constant overflow (1e-310)"),
        ("\\set i CASE TRUE THEN 1 ELSE 0 END\n", "syntax error"),
        ("\\set\n", "missing argument"),
        ("\\sleep\n", "missing argument"),
        (
            "\\sleep 1 week\n",
            "unrecognized time unit, must be us, ms or s (week)",
        ),
        (
            "\\sleep abc\n",
            "invalid sleep time, must be an integer (abc)",
        ),
        ("\\sleep too many args\n", "too many arguments"),
        ("\\nosuchcommand\n", "invalid command"),
        ("\\syncpipeline\n", "invalid command"),
        ("\\shell\n", "missing command"),
        ("\\setshell var\n", "missing argument"),
        ("\\else x\n", "unexpected argument"),
        ("\\gset\n", "\\gset must follow an SQL command"),
        ("\\set i +1\n\\gset\n", "\\gset must follow an SQL command"),
        ("SELECT 1 \\gset a b\n", "too many arguments"),
        (
            "SELECT 1 AS i \\gset\n\\gset\n",
            "\\gset must follow an SQL command",
        ),
        ("\\endif\n", "\\endif without matching \\if"),
        ("\\if 1\nSELECT 1;\n", "\\if without matching \\endif"),
        ("\\if 1\n\\else\n\\else\n\\endif\n", "\\else after \\else"),
        ("\\if 1\n\\else\n\\elif 1\n\\endif\n", "\\elif after \\else"),
        ("\\elif 1\n", "\\elif without matching \\if"),
        ("", "empty command list for script"),
        ("-- nothing\n", "empty command list for script"),
    ];
    for (i, (text, want)) in cases.iter().enumerate() {
        let path = temp_file(&format!("bad-{i}.sql"), text);
        let out = std::process::Command::new(common::pg_bin().join("pgbench"))
            .args(["-n", "-t", "1", "-h", "/nonexistent", "-f"])
            .arg(&path)
            .output()
            .unwrap();
        let pg = common::stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{text:?}: {pg}");
        assert!(pg.contains(want), "pgbench for {text:?} said {pg}");
        assert!(!pg.contains("connection"), "pgbench connected for {text:?}");
        let ours = match Script::load_file(&path) {
            Ok(_) => panic!("{text:?} loaded"),
            Err(LoadError::Syntax(e)) => e.to_string(),
            Err(e) => e.to_string(),
        };
        assert!(ours.contains(want), "we said {ours} for {text:?}");
    }
}

/// Where we refuse at load time what pgbench accepts and then always fails on when the
/// command runs.
#[test]
fn commands_that_can_never_run_are_refused_earlier_than_pgbench_does() {
    let db = common::server().database("script_earlier");
    let cases = [
        ("\\set 1x 5\n", "invalid variable name"),
        (
            "\\set i least(0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16)\n",
            "too many function arguments",
        ),
    ];
    for (i, (text, want)) in cases.iter().enumerate() {
        let path = temp_file(&format!("late-{i}.sql"), text);
        let out = common::server().pgbench(&db, &["-n", "-t", "1", "-f", path.to_str().unwrap()]);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{text:?}: {}",
            common::stderr(&out)
        );
        assert!(
            common::stderr(&out).contains(want),
            "{}",
            common::stderr(&out)
        );
        let e = Script::load_file(&path).unwrap_err().to_string();
        assert!(e.contains(want), "{e}");
    }
}

#[test]
fn variables_in_sql_follow_pgbench_across_protocols() {
    // -D values are texts: SQL gets them as written, expressions as numbers; an undefined
    // variable stays as written in simple mode and is NULL as a parameter.
    let db = common::server().database("script_vars");
    common::server().psql(
        &db,
        "CREATE TABLE t (m text, a text, b text, c text, d text)",
    );
    let text = "\\set y :x + 1\n\
        INSERT INTO t VALUES ('simple', ':x', ':y', ':undefined', :foo::text);\n";
    let ext = "\\set y :x + 1\n\
        INSERT INTO t VALUES ('extended', :x, :y::text, :undefined, :foo::text);\n";
    let a = temp_file("vars-simple.sql", text);
    let b = temp_file("vars-ext.sql", ext);
    pgbench_ok(
        &db,
        &[
            "-n",
            "-t",
            "1",
            "-Dx=+3",
            "-Dfoo=1.50",
            "-f",
            a.to_str().unwrap(),
        ],
    );
    pgbench_ok(
        &db,
        &[
            "-n",
            "-t",
            "1",
            "-M",
            "extended",
            "-Dx=+3",
            "-Dfoo=1.50",
            "-f",
            b.to_str().unwrap(),
        ],
    );
    let theirs = rows(&db, "SELECT * FROM t ORDER BY m DESC");
    for (mode, path) in [("simple", &a), ("extended", &b)] {
        let script = Script::load_file(path).unwrap();
        let mut vars = parse_defines(&["x=+3", "foo=1.50"]).unwrap();
        simulate(
            &script,
            &mut vars,
            &mut Prng::from_seed(0),
            1,
            |sql, vars| {
                if mode == "simple" {
                    assert_eq!(
                        sql.simple_text(vars),
                        "INSERT INTO t VALUES ('simple', '+3', '4', ':undefined', 1.50::text);"
                    );
                } else {
                    let p: Vec<_> = sql.params(vars).map(|p| p.map(String::from)).collect();
                    assert_eq!(
                        p,
                        [
                            Some("+3".into()),
                            Some("4".into()),
                            None,
                            Some("1.50".into())
                        ]
                    );
                }
            },
        );
    }
    assert_eq!(
        theirs,
        [
            ["simple", "+3", "4", ":undefined", "1.50"]
                .map(String::from)
                .to_vec(),
            ["extended", "+3", "4", "", "1.50"]
                .map(String::from)
                .to_vec(),
        ]
    );
}

/// `pgsyncbench run` with the same arguments as a pgbench run (plus the database).
fn ours_ok(db: &str, args: &[&str]) -> Output {
    common::check(
        common::pgsyncbench()
            .arg("run")
            .args(args)
            .args(common::server().conn_args(db))
            .output()
            .unwrap(),
        &format!("pgsyncbench run {args:?}"),
    )
}

/// The same script file run by pgbench and by `pgsyncbench run -f` leaves the same rows:
/// every expression's value, `\gset` results, and the statement text that reached the
/// server, under each protocol.
#[test]
fn run_f_leaves_the_rows_pgbench_leaves_for_the_expression_script() {
    for protocol in ["simple", "extended", "prepared"] {
        let quoted = protocol == "simple";
        let path = temp_file(
            &format!("run-expr-{protocol}.sql"),
            &expression_script(quoted),
        );
        let args = [
            "-t",
            "60",
            "-M",
            protocol,
            "--random-seed=5432",
            "-Dfoo=-10.1",
            "-Dx=+3",
            "-f",
            path.to_str().unwrap(),
        ];
        let theirs_db = expression_db(&format!("run_expr_pgbench_{protocol}"));
        pgbench_ok(&theirs_db, &[&["-n"], &args[..]].concat());
        let ours_db = expression_db(&format!("run_expr_ours_{protocol}"));
        let out = ours_ok(&ours_db, &args);
        assert!(
            stdout_of(&out).contains("number of transactions actually processed: 60/60"),
            "{}",
            stdout_of(&out)
        );
        let theirs = rows(&theirs_db, "SELECT * FROM out ORDER BY i");
        let ours = rows(&ours_db, "SELECT * FROM out ORDER BY i");
        assert_eq!(theirs.len(), 60);
        assert_eq!(theirs, ours, "{protocol}");
    }
}

/// Seeded random draws, per client over several clients and threads, and a `-D` counter:
/// the same rows from both tools.
#[test]
fn run_f_draws_pgbench_s_random_numbers_per_client() {
    let text = "\\set k :k + 1\n\
        \\set u random(1, 1000000)\n\
        \\set e random_exponential(1, 1000, 3)\n\
        \\set g random_gaussian(1, 1000, 2.5)\n\
        \\set z random_zipfian(1, 1000, 1.07)\n\
        \\set p permute(:u, 1000)\n\
        \\set h hash(:u)\n\
        INSERT INTO draws VALUES (:client_id, :k, :u, :e, :g, :z, :p, :h);\n";
    let path = temp_file("run-random.sql", text);
    let args = [
        "-c",
        "3",
        "-j",
        "2",
        "-t",
        "50",
        "-M",
        "prepared",
        "--random-seed=777",
        "-Dk=0",
        "-f",
        path.to_str().unwrap(),
    ];
    let mut tables = Vec::new();
    for tool in ["pgbench", "ours"] {
        let db = common::server().database(&format!("run_random_{tool}"));
        common::server().psql(
            &db,
            "CREATE TABLE draws (c int, k int, u bigint, e bigint, g bigint, z bigint, p bigint, h bigint)",
        );
        if tool == "pgbench" {
            pgbench_ok(&db, &[&["-n"], &args[..]].concat());
        } else {
            ours_ok(&db, &args);
        }
        tables.push(rows(&db, "SELECT * FROM draws ORDER BY c, k"));
    }
    assert_eq!(tables[0].len(), 150);
    assert_eq!(tables[0], tables[1]);
}

/// Weighted scripts are chosen as pgbench chooses them (its per-thread generator), and
/// `\if`, `\aset` and pipelines run.
#[test]
fn weighted_scripts_are_chosen_as_pgbench_chooses_them() {
    let a = temp_file(
        "run-weight-a.sql",
        "SELECT 1 AS one, 2 AS two \\aset\n\
         \\if :one + :two = 3\n\
         INSERT INTO picks VALUES (:client_id, 'a');\n\
         \\else\n\
         INSERT INTO picks VALUES (:client_id, 'wrong');\n\
         \\endif\n",
    );
    let b = temp_file(
        "run-weight-b.sql",
        "\\startpipeline\n\
         INSERT INTO picks VALUES (:client_id, 'b');\n\
         SELECT 1;\n\
         \\endpipeline\n",
    );
    let weights = [format!("{}@3", a.display()), format!("{}@1", b.display())];
    let args = [
        "-c",
        "2",
        "-j",
        "2",
        "-t",
        "80",
        "-M",
        "extended",
        "--random-seed=99",
        "-f",
        &weights[0],
        "-f",
        &weights[1],
    ];
    let mut counts = Vec::new();
    for tool in ["pgbench", "ours"] {
        let db = common::server().database(&format!("run_weight_{tool}"));
        common::server().psql(&db, "CREATE TABLE picks (c int, name text)");
        if tool == "pgbench" {
            pgbench_ok(&db, &[&["-n"], &args[..]].concat());
        } else {
            ours_ok(&db, &args);
        }
        counts.push(rows(
            &db,
            "SELECT c, name, count(*) FROM picks GROUP BY c, name ORDER BY c, name",
        ));
    }
    assert_eq!(counts[0].len(), 4, "both scripts ran for both clients");
    assert_eq!(counts[0], counts[1]);
}

fn stdout_of(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}
