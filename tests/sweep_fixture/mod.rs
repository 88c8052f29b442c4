//! The committed sweep fixtures (tests/fixtures/sweep-*) and scratch folders for tests that write.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use pgsyncbench::sweep::folder::Results;

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

pub fn load(name: &str) -> Results {
    Results::load(&fixture(name)).unwrap_or_else(|e| panic!("fixture {name}: {e}"))
}

pub fn pgsyncbench() -> Command {
    Command::new(env!("CARGO_BIN_EXE_pgsyncbench"))
}

/// A fresh folder of its own for one test, removed when dropped.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(tag: &str) -> Scratch {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "pgsyncbench-test-{}-{tag}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    /// A copy of a fixture's results (manifest, cells, summary.csv; not its expected outputs).
    pub fn copy_of(name: &str) -> Scratch {
        let s = Scratch::new(name);
        let src = fixture(name);
        std::fs::copy(src.join("manifest.json"), s.0.join("manifest.json")).unwrap();
        std::fs::copy(src.join("summary.csv"), s.0.join("summary.csv")).unwrap();
        std::fs::create_dir_all(s.0.join("cells")).unwrap();
        for e in std::fs::read_dir(src.join("cells")).unwrap() {
            let e = e.unwrap();
            std::fs::copy(e.path(), s.0.join("cells").join(e.file_name())).unwrap();
        }
        s
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
