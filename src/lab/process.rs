//! Processes the lab starts: found on the machine, run as an unprivileged user when we are
//! root (PostgreSQL refuses root), detached into their own process group, reaped, signalled.

use std::ffi::OsStr;
use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The user lab processes run as when we are root.
#[derive(Debug, Clone)]
pub struct RunAs {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
}

/// None when we are not root: processes then run as ourselves.
pub fn unprivileged_user() -> Result<Option<RunAs>, String> {
    if unsafe { libc::geteuid() } != 0 {
        return Ok(None);
    }
    let name = "postgres";
    let cname = std::ffi::CString::new(name).expect("no NUL in a literal");
    let pw = unsafe { libc::getpwnam(cname.as_ptr()) };
    if pw.is_null() {
        return Err(
            "running as root needs a `postgres` user to run PostgreSQL and Patroni: run scripts/install-deps.sh (Debian package postgresql-15)"
                .into(),
        );
    }
    let (uid, gid) = unsafe { ((*pw).pw_uid, (*pw).pw_gid) };
    Ok(Some(RunAs {
        name: name.into(),
        uid,
        gid,
    }))
}

/// The first of: `$env_var`, the candidates, `name` on PATH.
pub fn find_program(env_var: &str, candidates: &[&str], name: &str) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(env_var).map(PathBuf::from) {
        return p.is_file().then_some(p);
    }
    candidates
        .iter()
        .map(PathBuf::from)
        .chain(
            std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
                .map(|d| d.join(name)),
        )
        .find(|p| p.is_file())
}

/// Makes `path` and everything under it belong to `user`.
pub fn chown_tree(path: &Path, user: &RunAs) -> std::io::Result<()> {
    std::os::unix::fs::chown(path, Some(user.uid), Some(user.gid))?;
    if path.is_dir() {
        for entry in std::fs::read_dir(path)? {
            chown_tree(&entry?.path(), user)?;
        }
    }
    Ok(())
}

/// Starts a long-lived process in its own process group (a terminal's Ctrl-C does not reach
/// it), output appended to `log`. A thread reaps it when it exits, so it never lingers as a
/// zombie while we run.
pub fn spawn_daemon(
    program: &Path,
    args: &[&OsStr],
    cwd: &Path,
    log: &Path,
    user: Option<&RunAs>,
) -> std::io::Result<u32> {
    let out = File::options().create(true).append(true).open(log)?;
    let mut cmd = Command::new(program);
    cmd.args(args)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(out.try_clone()?)
        .stderr(out)
        .env("HOME", cwd)
        .env("LC_ALL", "C.UTF-8")
        .process_group(0);
    // Patroni reads PATRONI_* variables as configuration; only REST API credentials (never
    // written to a file) may pass from the caller's environment.
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        if key.starts_with("PATRONI_")
            && !matches!(
                &*key,
                "PATRONI_RESTAPI_USERNAME" | "PATRONI_RESTAPI_PASSWORD"
            )
        {
            cmd.env_remove(&*key);
        }
    }
    if let Some(u) = user {
        cmd.uid(u.uid).gid(u.gid);
    }
    let mut child = cmd.spawn()?;
    let pid = child.id();
    std::thread::spawn(move || {
        let _ = child.wait();
    });
    Ok(pid)
}

/// Whether `pid` is a live (not zombie) process.
pub fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(')')
            .map(|(_, rest)| !rest.trim_start().starts_with('Z'))
            .unwrap_or(false),
        Err(_) => false,
    }
}

/// Whether `pid` is stopped (SIGSTOP).
pub fn stopped(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            stat.rsplit_once(')')
                .map(|(_, rest)| rest.trim_start().starts_with('T'))
        })
        .unwrap_or(false)
}

pub fn signal(pid: u32, sig: i32) -> bool {
    pid > 0 && unsafe { libc::kill(pid as i32, sig) } == 0
}

/// Waits until none of `pids` is alive, or the timeout passes; returns those still alive.
pub fn wait_gone(pids: &[u32], timeout: Duration) -> Vec<u32> {
    let deadline = Instant::now() + timeout;
    loop {
        let left: Vec<u32> = pids.iter().copied().filter(|&p| alive(p)).collect();
        if left.is_empty() || Instant::now() >= deadline {
            return left;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Processes whose command line mentions `needle` (to find anything left under a lab folder).
pub fn processes_mentioning(needle: &str) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let me = std::process::id();
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| pid != me && alive(pid))
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .map(|c| {
                    String::from_utf8_lossy(&c)
                        .replace('\0', " ")
                        .contains(needle)
                })
                .unwrap_or(false)
        })
        .collect()
}

/// The postmaster's pid from a data directory's postmaster.pid, if it runs.
pub fn postmaster_pid(data_dir: &Path) -> Option<u32> {
    let text = std::fs::read_to_string(data_dir.join("postmaster.pid")).ok()?;
    let pid: u32 = text.lines().next()?.trim().parse().ok()?;
    alive(pid).then_some(pid)
}

/// A free loopback TCP port. Listeners are kept open by the caller until all are chosen.
pub fn reserve_port() -> std::io::Result<std::net::TcpListener> {
    std::net::TcpListener::bind("127.0.0.1:0")
}
