//! One lab cluster per test binary, started through the binary (`lab up --fast`) with Patroni
//! REST authentication from the environment, and stopped (`lab down`) when the binary exits.
//! Tests that change the cluster's configuration hold `exclusive()` so they never overlap.

use std::path::PathBuf;
use std::process::Command;
use std::sync::{Mutex, MutexGuard, OnceLock};

use pgsyncbench::cluster::patroni::Patroni;
use pgsyncbench::lab::Lab;

use super::{check, pgsyncbench, stdout};

pub const REST_USER: &str = "labadmin";
pub const REST_PASSWORD: &str = "lab-rest-secret";

pub struct SharedLab {
    pub dir: PathBuf,
    pub patroni_url: String,
    /// What `lab up` said on stderr.
    pub up_stderr: String,
}

static LAB: OnceLock<SharedLab> = OnceLock::new();
static EXCLUSIVE: Mutex<()> = Mutex::new(());

extern "C" fn lab_down_at_exit() {
    if let Some(l) = LAB.get() {
        let _ = pgsyncbench()
            .args(["lab", "down", "--dir"])
            .arg(&l.dir)
            .output();
    }
}

/// pgsyncbench with the REST credentials the shared lab's Patroni expects.
pub fn with_rest_auth() -> Command {
    let mut c = pgsyncbench();
    c.env("PATRONI_RESTAPI_USERNAME", REST_USER)
        .env("PATRONI_RESTAPI_PASSWORD", REST_PASSWORD);
    c
}

pub fn lab() -> &'static SharedLab {
    LAB.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("pgsyncbench-testlab-{}", std::process::id()));
        let out = check(
            with_rest_auth()
                .args(["lab", "up", "--fast", "--dir"])
                .arg(&dir)
                .output()
                .unwrap(),
            "lab up",
        );
        unsafe { libc::atexit(lab_down_at_exit) };
        let text = stdout(&out);
        let mut lines = text.lines();
        let patroni_url = lines
            .next()
            .expect("lab up prints the REST URL")
            .to_string();
        assert!(patroni_url.starts_with("http://127.0.0.1:"), "{text}");
        assert!(
            lines
                .next()
                .unwrap()
                .starts_with("postgresql://postgres@127.0.0.1:"),
            "{text}"
        );
        SharedLab {
            dir,
            patroni_url,
            up_stderr: super::stderr(&out),
        }
    })
}

/// Serializes tests that change the shared lab's configuration.
pub fn exclusive() -> MutexGuard<'static, ()> {
    EXCLUSIVE.lock().unwrap_or_else(|e| e.into_inner())
}

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

impl SharedLab {
    pub fn patroni(&self) -> Patroni {
        pgsyncbench::pg::tls::ensure_provider();
        Patroni::new(&self.patroni_url, None, std::time::Duration::from_secs(5)).unwrap()
    }

    pub fn config(&self) -> serde_json::Value {
        runtime().block_on(self.patroni().config()).unwrap()
    }

    /// (name, port) of the current leader.
    pub fn leader(&self) -> (String, u16) {
        let lab = Lab::open(&self.dir).unwrap();
        let c = runtime().block_on(lab.cluster()).unwrap();
        let l = c.leader().expect("a leader");
        (l.name.clone(), l.port.unwrap())
    }

    /// A setting as a new session on the leader sees it.
    pub fn leader_setting(&self, name: &str) -> String {
        let (_, port) = self.leader();
        let out = check(
            Command::new(super::pg_bin().join("psql"))
                .args([
                    "-X",
                    "-At",
                    "-h",
                    "127.0.0.1",
                    "-U",
                    "postgres",
                    "-d",
                    "postgres",
                ])
                .args(["-p", &port.to_string(), "-c", &format!("SHOW {name}")])
                .env_clear()
                .output()
                .unwrap(),
            "psql SHOW",
        );
        stdout(&out).trim().to_string()
    }

    pub fn psql_leader(&self, sql: &str) -> String {
        let (_, port) = self.leader();
        let out = check(
            Command::new(super::pg_bin().join("psql"))
                .args([
                    "-X",
                    "-At",
                    "-v",
                    "ON_ERROR_STOP=1",
                    "-h",
                    "127.0.0.1",
                    "-U",
                    "postgres",
                    "-d",
                    "postgres",
                ])
                .args(["-p", &port.to_string(), "-c", sql])
                .env_clear()
                .output()
                .unwrap(),
            "psql",
        );
        stdout(&out).trim().to_string()
    }

    /// Waits until `done` holds for the dynamic configuration, up to `secs`.
    pub fn wait_config(&self, secs: u64, done: impl Fn(&serde_json::Value) -> bool) -> bool {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
        while std::time::Instant::now() < deadline {
            if done(&self.config()) {
                return true;
            }
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
        false
    }
}

/// Processes with an argument that is `dir` or a path under it. For finding what a lab left
/// behind, never for choosing what to signal (the lab proves its processes by pid and start
/// time). Path by path, so `<dir>2` or `<dir>-x` never match.
pub fn processes_under(dir: &std::path::Path) -> Vec<u32> {
    let dir = dir.to_string_lossy().trim_end_matches('/').to_string();
    let under = format!("{dir}/");
    let me = std::process::id();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| pid != me)
        .filter(|pid| {
            let zombie = std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|s| {
                    s.rsplit_once(')')
                        .map(|(_, r)| r.trim_start().starts_with('Z'))
                })
                .unwrap_or(true);
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            !zombie
                && cmdline
                    .split(|&b| b == 0)
                    .map(String::from_utf8_lossy)
                    .any(|arg| {
                        arg == dir || arg.starts_with(&under) || arg.contains(&format!("={under}"))
                    })
        })
        .collect()
}

/// The pids a lab's lab.json records (etcd, Patronis, relays) and its members' postmasters.
pub fn lab_pids(dir: &std::path::Path) -> Vec<u32> {
    let lab = Lab::open(dir).expect("a lab");
    let s = &lab.state;
    let mut pids = vec![s.etcd.process.pid];
    for n in &s.nodes {
        pids.push(n.patroni.pid);
        pids.extend(n.relay.as_ref().map(|r| r.process.pid));
        if let Some(pm) = pgsyncbench::lab::process::postmaster(&n.data_dir()) {
            pids.push(pm.pid);
        }
    }
    pids
}

pub fn pid_alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit_once(')')
                .map(|(_, r)| !r.trim_start().starts_with('Z'))
        })
        .unwrap_or(false)
}

/// A lab of one test's own (`lab up --fast`), stopped when dropped, a failed test included.
pub struct OwnLab {
    pub dir: PathBuf,
    pub patroni_url: String,
    pub leader_url: String,
}

impl OwnLab {
    pub fn up(dir: PathBuf, extra: &[&str]) -> OwnLab {
        let out = check(
            pgsyncbench()
                .args(["lab", "up", "--fast"])
                .args(extra)
                .arg("--dir")
                .arg(&dir)
                .output()
                .unwrap(),
            "lab up",
        );
        let text = stdout(&out);
        let mut lines = text.lines();
        OwnLab {
            dir,
            patroni_url: lines.next().expect("the REST URL").to_string(),
            leader_url: lines.next().expect("the leader's URL").to_string(),
        }
    }
}

impl Drop for OwnLab {
    fn drop(&mut self) {
        if self.dir.join("lab.json").exists() {
            let _ = pgsyncbench()
                .args(["lab", "down", "--dir"])
                .arg(&self.dir)
                .output();
        }
    }
}
