//! `compare BASE_DIR NEW_DIR`: a Markdown table of changes; exit 0 when nothing regressed, 1 when
//! something did, 2 when the input cannot be compared.

use super::Failure;
use crate::analysis::compare;
use crate::cli::CompareArgs;
use crate::sweep::folder::Results;

/// Exit code of input that cannot be compared (no results, nothing in common).
pub const EXIT_UNUSABLE: u8 = 2;

pub fn compare(args: CompareArgs) -> Result<u8, Failure> {
    let unusable = |e: &dyn std::fmt::Display| Failure {
        code: EXIT_UNUSABLE,
        ..Failure::new(e)
    };
    let base = Results::load(&args.base).map_err(|e| unusable(&e))?;
    let new = Results::load(&args.new).map_err(|e| unusable(&e))?;
    let c = compare::compare(&base, &new, args.threshold).map_err(|e| unusable(&e))?;
    for note in c.notes.iter().filter(|n| n.starts_with("WARNING")) {
        eprintln!("pgsyncbench: {note}");
    }
    print!("{}", crate::report::compare::markdown(&c));
    Ok(if c.regressions() > 0 { 1 } else { 0 })
}
