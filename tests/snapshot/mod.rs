//! Comparison with committed expected files. `UPDATE_SNAPSHOTS=1` (that value only) rewrites a
//! file that differs and then fails the test: a regenerating run never passes by comparing a
//! rendering with itself. Review the diff with git, then run the tests again without it.

use std::path::Path;

pub fn snapshot(expected: &Path, actual: &str) {
    let want = std::fs::read_to_string(expected);
    if want.as_deref().ok() == Some(actual) {
        return;
    }
    let again = format!(
        "UPDATE_SNAPSHOTS=1 cargo test --test {}",
        env!("CARGO_CRATE_NAME")
    );
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some_and(|v| v == "1") {
        std::fs::create_dir_all(expected.parent().unwrap()).unwrap();
        std::fs::write(expected, actual).unwrap();
        panic!(
            "{} rewritten ({again}): review the diff, then run the tests again without UPDATE_SNAPSHOTS",
            expected.display()
        );
    }
    let want = want.unwrap_or_else(|e| {
        panic!(
            "cannot read {}: {e}; create it with {again}",
            expected.display()
        )
    });
    let line = want
        .lines()
        .zip(actual.lines())
        .position(|(a, b)| a != b)
        .unwrap_or_else(|| want.lines().count().min(actual.lines().count()));
    panic!(
        "{} differs from what is rendered now, first at line {}:\n  expected: {:?}\n  actual:   {:?}\n\
         If the change is intended, run {again} and review the diff.",
        expected.display(),
        line + 1,
        want.lines().nth(line),
        actual.lines().nth(line)
    );
}
