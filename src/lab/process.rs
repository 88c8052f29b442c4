//! Processes the lab starts: found on the machine, run as an unprivileged user when we are
//! root (PostgreSQL refuses root), each leading its own process group, reaped, and signalled
//! only while it is provably still the process we started.
//!
//! A pid alone proves nothing: once a process exits, the kernel may give its pid to anything
//! else. Every process the lab starts is recorded as an [`Owned`]: its pid and its start time
//! in clock ticks since boot (field 22 of /proc/PID/stat), which no later process with the same
//! pid shares. Postmasters, which Patroni starts in a session of their own, are found from
//! their data directory's postmaster.pid and checked against its start time and folder. No
//! process is ever chosen by what its command line says.

use std::ffi::OsStr;
use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

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

/// What /proc/PID/stat says about a process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stat {
    state: char,
    ppid: u32,
    pgrp: u32,
    /// Clock ticks from boot to the process's start.
    started: u64,
}

fn stat(pid: u32) -> Option<Stat> {
    if pid == 0 {
        return None;
    }
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(&text)
}

/// Fields after the command name, which is in parentheses and may itself hold spaces and ')'.
fn parse_stat(text: &str) -> Option<Stat> {
    let (_, rest) = text.rsplit_once(')')?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // fields[0] is field 3 of proc(5): state; ppid 4, pgrp 5, starttime 22.
    Some(Stat {
        state: fields.first()?.chars().next()?,
        ppid: fields.get(1)?.parse().ok()?,
        pgrp: fields.get(2)?.parse().ok()?,
        started: fields.get(19)?.parse().ok()?,
    })
}

/// Every pid in /proc.
fn all_pids() -> Vec<u32> {
    std::fs::read_dir("/proc")
        .map(|entries| {
            entries
                .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// A process this program started (or proved to belong to the lab), identified by its pid and
/// its start time. It is signalled only while a live process still has both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Owned {
    pub pid: u32,
    /// Clock ticks from boot to its start (0: not known, so never signalled).
    #[serde(default)]
    pub started: u64,
}

impl Owned {
    /// The process now running as `pid`, identified by its start time.
    pub fn of(pid: u32) -> Option<Owned> {
        stat(pid).map(|s| Owned {
            pid,
            started: s.started,
        })
    }

    fn current(&self) -> Option<Stat> {
        stat(self.pid).filter(|s| self.started != 0 && s.started == self.started)
    }

    /// Still running (a zombie does not count) and still the same process.
    pub fn is_running(&self) -> bool {
        self.current().is_some_and(|s| s.state != 'Z')
    }

    /// Stopped by SIGSTOP.
    pub fn is_stopped(&self) -> bool {
        self.current().is_some_and(|s| s.state == 'T')
    }

    /// Sends `sig` when the process is still the one recorded; false otherwise.
    pub fn signal(&self, sig: i32) -> bool {
        self.is_running() && unsafe { libc::kill(self.pid as i32, sig) } == 0
    }

    /// Live processes in the process group this process leads (every process the lab spawns
    /// leads its own), itself included, that started no earlier than it: the children it left
    /// there (Patroni's pg_basebackup, initdb or pg_ctl, say). A group id stays taken while
    /// any member lives, so the group outlives a leader that already exited.
    pub fn group(&self) -> Vec<Owned> {
        if self.started == 0 {
            return Vec::new();
        }
        all_pids()
            .into_iter()
            .filter_map(|pid| Some((pid, stat(pid)?)))
            .filter(|(_, s)| s.pgrp == self.pid && s.started >= self.started && s.state != 'Z')
            .map(|(pid, s)| Owned {
                pid,
                started: s.started,
            })
            .collect()
    }

    /// Live children of this process.
    pub fn children(&self) -> Vec<Owned> {
        if !self.is_running() {
            return Vec::new();
        }
        all_pids()
            .into_iter()
            .filter_map(|pid| Some((pid, stat(pid)?)))
            .filter(|(_, s)| s.ppid == self.pid && s.state != 'Z')
            .map(|(pid, s)| Owned {
                pid,
                started: s.started,
            })
            .collect()
    }
}

/// Waits until none of `procs` runs, or the timeout passes; returns those still running.
pub fn wait_gone(procs: &[Owned], timeout: Duration) -> Vec<Owned> {
    let deadline = Instant::now() + timeout;
    loop {
        let left: Vec<Owned> = procs.iter().copied().filter(Owned::is_running).collect();
        if left.is_empty() || Instant::now() >= deadline {
            return left;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Stops processes gracefully: `polite` (continued first, in case a scenario stopped them),
/// `grace` to exit, then SIGKILL. Returns those that still run after that.
pub fn stop(procs: &[Owned], polite: i32, grace: Duration) -> Vec<Owned> {
    for p in procs {
        p.signal(libc::SIGCONT);
        p.signal(polite);
    }
    let left = wait_gone(procs, grace);
    for p in &left {
        p.signal(libc::SIGKILL);
    }
    wait_gone(&left, Duration::from_secs(5))
}

/// Stops a process the lab spawned, then whatever it left running in its process group.
pub fn stop_with_group(leader: Owned, polite: i32, grace: Duration) -> Vec<Owned> {
    let mut left = stop(&[leader], polite, grace);
    let rest: Vec<Owned> = leader
        .group()
        .into_iter()
        .filter(|p| *p != leader)
        .collect();
    left.extend(stop(&rest, libc::SIGKILL, Duration::ZERO));
    left
}

/// Starts a long-lived process in a process group of its own (a terminal's Ctrl-C does not
/// reach it), output appended to `log`. A thread reaps it when it exits, so it never lingers as
/// a zombie while we run.
pub fn spawn_daemon(
    program: &Path,
    args: &[&OsStr],
    cwd: &Path,
    log: &Path,
    user: Option<&RunAs>,
    host: Option<&crate::net::Host>,
) -> std::io::Result<Owned> {
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
    // The host's namespace is joined before privileges are dropped: setns needs them, and
    // pre_exec closures run after Command's own uid/gid switch, so the switch is done here.
    if let Some(h) = host {
        h.place(&mut cmd);
    }
    if let Some(u) = user {
        let (uid, gid) = (u.uid, u.gid);
        // SAFETY: only async-signal-safe calls (setgroups, setgid, setuid), no allocation.
        unsafe {
            cmd.pre_exec(move || {
                if libc::setgroups(1, &gid) != 0 || libc::setgid(gid) != 0 || libc::setuid(uid) != 0
                {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
    let mut child = cmd.spawn()?;
    // Not reaped yet, so /proc still has it even if it already exited.
    let owned = Owned::of(child.id()).unwrap_or(Owned {
        pid: child.id(),
        started: 0,
    });
    std::thread::spawn(move || {
        let _ = child.wait();
    });
    Ok(owned)
}

/// A data directory's postmaster, when one runs there: the pid postmaster.pid names, proved by
/// the start time the file records (seconds since the epoch) and, where we may look, by the
/// process's working directory, which a postmaster sets to its data directory.
pub fn postmaster(data_dir: &Path) -> Option<Owned> {
    let text = std::fs::read_to_string(data_dir.join("postmaster.pid")).ok()?;
    let mut lines = text.lines();
    let pid: u32 = lines.next()?.trim().parse().ok()?;
    let _data = lines.next()?;
    let started_epoch: u64 = lines.next()?.trim().parse().ok()?;
    let owned = Owned::of(pid)?;
    let epoch = start_epoch(owned.started)?;
    if epoch.abs_diff(started_epoch) > 2 {
        return None;
    }
    if let (Ok(cwd), Ok(dir)) = (
        std::fs::read_link(format!("/proc/{pid}/cwd")),
        data_dir.canonicalize(),
    ) && cwd != dir
    {
        return None;
    }
    owned.is_running().then_some(owned)
}

/// Stops a postmaster: fast shutdown (SIGINT, as `pg_ctl stop -m fast`), then immediate
/// (SIGQUIT), then SIGKILL; its backends too, should any outlive it.
pub fn stop_postmaster(pm: Owned) -> Vec<Owned> {
    let backends = pm.children();
    let mut left = stop(&[pm], libc::SIGINT, Duration::from_secs(10));
    if !left.is_empty() {
        left = stop(&left, libc::SIGQUIT, Duration::from_secs(5));
    }
    left.extend(stop(&backends, libc::SIGKILL, Duration::ZERO));
    left
}

/// Seconds since the epoch at which a process started `ticks` after boot.
fn start_epoch(ticks: u64) -> Option<u64> {
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if hz <= 0 {
        return None;
    }
    let boot: u64 = std::fs::read_to_string("/proc/stat")
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("btime "))?
        .trim()
        .parse()
        .ok()?;
    Some(boot + ticks / hz as u64)
}

/// A free loopback TCP port. Listeners are kept open by the caller until all are chosen.
pub fn reserve_port() -> std::io::Result<std::net::TcpListener> {
    std::net::TcpListener::bind("127.0.0.1:0")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_read_after_a_command_name_with_spaces_and_parentheses() {
        let line =
            "4242 (a b) c)) S 1 4242 4242 0 -1 4194560 100 0 0 0 5 3 0 0 20 0 1 0 987654 1000 10";
        assert_eq!(
            parse_stat(line),
            Some(Stat {
                state: 'S',
                ppid: 1,
                pgrp: 4242,
                started: 987654
            })
        );
        assert_eq!(parse_stat("12 (x) S 1"), None);
    }

    #[test]
    fn a_pid_with_another_start_time_is_not_ours() {
        let me = Owned::of(std::process::id()).expect("we run");
        assert!(me.is_running());
        let impostor = Owned {
            started: me.started + 1,
            ..me
        };
        assert!(!impostor.is_running());
        assert!(!impostor.signal(0), "never signalled");
        let unknown = Owned { started: 0, ..me };
        assert!(!unknown.signal(0));
    }

    #[test]
    fn a_spawned_process_leads_its_group_and_stops() {
        let dir = std::env::temp_dir().join(format!("pgsyncbench-proc-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        // The shell leaves a child in its group, as Patroni leaves pg_basebackup.
        let p = spawn_daemon(
            Path::new("/bin/sh"),
            &[OsStr::new("-c"), OsStr::new("sleep 60 & sleep 60 & wait")],
            &dir,
            &dir.join("log"),
            None,
            None,
        )
        .unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        while p.group().len() < 3 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let group = p.group();
        assert_eq!(group.len(), 3, "the shell and its two sleeps: {group:?}");
        assert!(stop_with_group(p, libc::SIGTERM, Duration::from_secs(5)).is_empty());
        assert!(group.iter().all(|g| !g.is_running()));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
