//! Output paths checked before a command connects or starts a lab: a run must not measure for
//! minutes only to find it cannot write its result.

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use super::Failure;

/// A path a command will write: `flag` names it in messages ("--json", or "--out (default)").
pub enum Output<'a> {
    /// A file whose folder must exist.
    File(&'a str, &'a Path),
    /// A folder that exists or can be created.
    Folder(&'a str, &'a Path),
}

/// Checks every output; the first that cannot be written fails with one line naming it.
pub fn check(outputs: &[Output<'_>]) -> Result<(), Failure> {
    for o in outputs {
        let problem = match o {
            Output::File(_, path) => file_problem(path),
            Output::Folder(_, path) => folder_problem(path),
        };
        if let Some(problem) = problem {
            let (Output::File(flag, path) | Output::Folder(flag, path)) = o;
            return Err(Failure::new(format!(
                "{flag} {}: {problem}",
                path.display()
            )));
        }
    }
    Ok(())
}

fn file_problem(path: &Path) -> Option<String> {
    if path.is_dir() || path.file_name().is_none() {
        return Some("is a folder; give a file name".into());
    }
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if let Some(bad) = first_non_folder(&parent) {
        return Some(format!(
            "{} is not a folder; choose another path",
            bad.display()
        ));
    }
    if !parent.exists() {
        return Some(format!(
            "folder {} does not exist; create it or choose another path",
            parent.display()
        ));
    }
    if let Err(e) = probe(&parent) {
        return Some(format!(
            "cannot write in folder {} ({e}); choose another path",
            parent.display()
        ));
    }
    // An existing file is replaced; opening it without truncating tells whether that may be.
    if path.exists()
        && let Err(e) = OpenOptions::new().append(true).open(path)
    {
        return Some(format!("cannot write to it ({e}); choose another path"));
    }
    None
}

fn folder_problem(path: &Path) -> Option<String> {
    if path.exists() {
        if !path.is_dir() {
            return Some("is a file, not a folder; choose another path".into());
        }
        return probe(path)
            .err()
            .map(|e| format!("cannot write in it ({e}); choose another path"));
    }
    if let Some(bad) = first_non_folder(path) {
        return Some(format!(
            "{} is a file, not a folder; choose another path",
            bad.display()
        ));
    }
    // Created later with its missing parents: the nearest existing folder must take them.
    let existing = path
        .ancestors()
        .skip(1)
        .map(|a| {
            if a.as_os_str().is_empty() {
                Path::new(".")
            } else {
                a
            }
        })
        .find(|a| a.exists())
        .unwrap_or(Path::new("."));
    probe(existing).err().map(|e| {
        format!(
            "cannot create folders in {} ({e}); choose another path",
            existing.display()
        )
    })
}

/// The nearest existing ancestor of `path` (itself included) when it is not a folder: nothing
/// can be created below it.
fn first_non_folder(path: &Path) -> Option<&Path> {
    for a in path.ancestors().filter(|a| !a.as_os_str().is_empty()) {
        if a.is_dir() {
            return None;
        }
        // A file, or a symbolic link to nowhere.
        if a.symlink_metadata().is_ok() {
            return Some(a);
        }
    }
    None
}

/// Creates and removes a file in `dir`: the only sure test of writing there (root passes
/// permission checks, a read-only file system does not).
fn probe(dir: &Path) -> std::io::Result<()> {
    static N: AtomicU32 = AtomicU32::new(0);
    let name = format!(
        ".pgsyncbench-probe-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    );
    let path = dir.join(name);
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)?;
    std::fs::remove_file(&path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "pgsyncbench-outputs-unit-{name}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn message(o: Output<'_>) -> String {
        check(&[o]).unwrap_err().message
    }

    #[test]
    fn good_paths_pass_and_leave_nothing_behind() {
        let d = scratch("good");
        check(&[
            Output::File("--json", &d.join("r.json")),
            Output::Folder("--out", &d.join("a/b/c")),
            Output::Folder("--out", &d),
        ])
        .unwrap();
        std::fs::write(d.join("old.json"), "{}").unwrap();
        check(&[Output::File("--json", &d.join("old.json"))]).unwrap();
        let left: Vec<_> = std::fs::read_dir(&d)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left, vec![std::ffi::OsString::from("old.json")]);
    }

    #[test]
    fn each_problem_is_named_with_the_flag_and_the_path() {
        let d = scratch("bad");
        let f = d.join("file");
        std::fs::write(&f, "x").unwrap();
        let m = message(Output::File("--json", Path::new("/nonexistent-dir/x.json")));
        assert_eq!(
            m,
            "--json /nonexistent-dir/x.json: folder /nonexistent-dir does not exist; create it or choose another path"
        );
        let m = message(Output::File("--hlog", &d));
        assert!(m.ends_with(": is a folder; give a file name"), "{m}");
        let m = message(Output::File("--json", &f.join("deeper/x.json")));
        assert!(
            m.contains(&format!("{} is not a folder", f.display())),
            "{m}"
        );
        let m = message(Output::Folder("--out", &f));
        assert!(
            m.ends_with(": is a file, not a folder; choose another path"),
            "{m}"
        );
        let m = message(Output::Folder("--out", &f.join("x/y")));
        assert!(
            m.contains(&format!("{} is a file, not a folder", f.display())),
            "{m}"
        );
        // /proc takes no new files, root or not.
        let m = message(Output::Folder("--out", Path::new("/proc/pgsyncbench-x")));
        assert!(m.contains("cannot create folders in /proc"), "{m}");
    }
}
