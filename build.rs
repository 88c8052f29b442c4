// Records the harness's git revision for results manifests, when built from a git checkout.
fn main() {
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    // Ask git where its files are: in a worktree `.git` is a file naming another folder, and a
    // path that does not exist would make every build run this script again.
    match git(&["rev-parse", "--git-dir"]) {
        Some(dir) => {
            println!("cargo:rerun-if-changed={dir}/HEAD");
            println!("cargo:rerun-if-changed={dir}/index");
        }
        None => println!("cargo:rerun-if-changed=build.rs"),
    }
    let revision = git(&["describe", "--always", "--dirty", "--abbrev=12"]).unwrap_or_default();
    println!("cargo:rustc-env=PGSYNCBENCH_GIT_REVISION={revision}");
}
