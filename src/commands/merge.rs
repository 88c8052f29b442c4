//! `merge A.json B.json ... [--json OUT]`: several generators' results of one run as one result
//! (src/load/merge.rs), printed as `run` prints its own.

use super::Failure;
use super::outputs::{self, Output};
use crate::cli::MergeArgs;
use crate::load::merge::{self, Input};
use crate::load::run_result::{RunResult, write_json_file};
use crate::load::summary;

pub fn merge(args: MergeArgs) -> Result<u8, Failure> {
    if let Some(path) = &args.json {
        outputs::check(&[Output::File("--json", path)])?;
    }
    let inputs = args
        .inputs
        .iter()
        .map(|path| {
            let name = path.display().to_string();
            let text = std::fs::read_to_string(path)
                .map_err(|e| Failure::new(format!("cannot read {name}: {e}")))?;
            let result: RunResult = serde_json::from_str(&text).map_err(|e| {
                Failure::new(format!("{name} is not a pgsyncbench run result: {e}"))
            })?;
            Ok(Input { name, result })
        })
        .collect::<Result<Vec<_>, Failure>>()?;
    let merged = merge::merge(&inputs).map_err(Failure::new)?;
    print!("{}", summary::render(&merged));
    if let Some(path) = &args.json {
        write_json_file(path, &merged)
            .map_err(|e| Failure::new(format!("cannot write {}: {e}", path.display())))?;
    }
    Ok(0)
}
