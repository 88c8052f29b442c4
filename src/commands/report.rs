//! `report DIR`: every output of a results folder, from the folder alone (src/report/write.rs).

use super::Failure;
use crate::cli::ReportArgs;

pub fn report(args: ReportArgs) -> Result<u8, Failure> {
    let written = crate::report::write(&args.dir)?;
    print_warnings(&written);
    println!("{written}");
    Ok(0)
}

/// What a reader must know, on stderr.
pub fn print_warnings(written: &crate::report::Written) {
    for w in &written.warnings {
        eprintln!("pgsyncbench: warning: {w}");
    }
}
