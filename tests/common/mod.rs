//! A real PostgreSQL 15 server for the tests of one test binary: started on first use in a fresh
//! folder, stopped and removed when the binary exits. As root, the server runs as `postgres`.

#![allow(dead_code)]

pub mod lab;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

pub fn pg_bin() -> PathBuf {
    PathBuf::from(std::env::var("PG_BIN").unwrap_or_else(|_| "/usr/lib/postgresql/15/bin".into()))
}

fn is_root() -> bool {
    unsafe { libc::geteuid() == 0 }
}

/// A command run as the server's owner: `postgres` when we are root.
pub fn as_server_user(program: &Path) -> Command {
    if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

pub fn check(output: Output, what: &str) -> Output {
    assert!(
        output.status.success(),
        "{what} failed ({}): {}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// A test CA and a server certificate it signed for `localhost`, in the data directory (the CA's
/// certificate is `ca.crt` there too, for sslrootcert).
fn make_certificates(data: &Path) {
    let openssl = |args: &[&str]| {
        check(
            Command::new("openssl")
                .args(args)
                .current_dir(data)
                .output()
                .unwrap(),
            &format!("openssl {}", args[0]),
        )
    };
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
        "-days",
        "2",
        "-subj",
        "/CN=pgsyncbench test CA",
    ]);
    openssl(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=localhost",
    ]);
    std::fs::write(data.join("san.ext"), "subjectAltName=DNS:localhost\n").unwrap();
    openssl(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.crt",
        "-days",
        "2",
        "-extfile",
        "san.ext",
    ]);
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(
        data.join("server.key"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    if is_root() {
        for f in [
            "server.key",
            "server.crt",
            "ca.crt",
            "ca.key",
            "server.csr",
            "san.ext",
            "ca.srl",
        ] {
            let _ = Command::new("chown")
                .arg("postgres")
                .arg(data.join(f))
                .output();
        }
    }
}

pub struct PgServer {
    pub dir: PathBuf,
    pub port: u16,
}

static SERVER: OnceLock<PgServer> = OnceLock::new();

extern "C" fn stop_at_exit() {
    if let Some(s) = SERVER.get() {
        s.stop();
    }
}

/// The shared server of this test binary.
pub fn server() -> &'static PgServer {
    SERVER.get_or_init(|| {
        let s = PgServer::start();
        unsafe { libc::atexit(stop_at_exit) };
        s
    })
}

/// The role with a SCRAM password; every other role connects without one.
pub const PASSWORD_USER: &str = "pwuser";
pub const PASSWORD: &str = "correct horse";

impl PgServer {
    fn start() -> PgServer {
        let dir = std::env::temp_dir().join(format!(
            "pgsyncbench-test-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        if is_root() {
            check(
                Command::new("chown")
                    .arg("postgres")
                    .arg(&dir)
                    .output()
                    .unwrap(),
                "chown",
            );
        }
        let data = dir.join("data");
        check(
            as_server_user(&pg_bin().join("initdb"))
                .arg("-D")
                .arg(&data)
                .args(["-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8"])
                .output()
                .unwrap(),
            "initdb",
        );
        make_certificates(&data);
        std::fs::write(
            data.join("pg_hba.conf"),
            format!(
                "local all all trust\nhost all {PASSWORD_USER} 127.0.0.1/32 scram-sha-256\nhost all all 127.0.0.1/32 trust\n"
            ),
        )
        .unwrap();
        let port = free_port();
        let opts = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=40 -c shared_buffers=32MB -c ssl=on -c ssl_cert_file=server.crt -c ssl_key_file=server.key",
            dir.display()
        );
        check(
            as_server_user(&pg_bin().join("pg_ctl"))
                .arg("-D")
                .arg(&data)
                .arg("-l")
                .arg(dir.join("server.log"))
                .args(["-w", "-o", &opts, "start"])
                .output()
                .unwrap(),
            "pg_ctl start",
        );
        let server = PgServer { dir, port };
        server.psql(
            "postgres",
            &format!("CREATE ROLE {PASSWORD_USER} LOGIN SUPERUSER PASSWORD '{PASSWORD}'"),
        );
        server
    }

    fn stop(&self) {
        let _ = as_server_user(&pg_bin().join("pg_ctl"))
            .arg("-D")
            .arg(self.dir.join("data"))
            .args(["-m", "immediate", "stop"])
            .output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }

    /// A fresh, empty database for one test.
    pub fn database(&self, name: &str) -> String {
        self.psql("postgres", &format!("DROP DATABASE IF EXISTS {name}"));
        self.psql("postgres", &format!("CREATE DATABASE {name}"));
        name.to_string()
    }

    /// Runs SQL with psql and returns its unaligned, tuples-only output.
    pub fn psql(&self, db: &str, sql: &str) -> String {
        let out = check(
            Command::new(pg_bin().join("psql"))
                .args([
                    "-X",
                    "-q",
                    "-At",
                    "-v",
                    "ON_ERROR_STOP=1",
                    "-h",
                    "127.0.0.1",
                    "-U",
                    "postgres",
                ])
                .args(["-p", &self.port.to_string(), "-d", db, "-c", sql])
                .env_clear()
                .output()
                .unwrap(),
            &format!("psql {sql}"),
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// `-h 127.0.0.1 -p PORT -U postgres -d DB`
    pub fn conn_args(&self, db: &str) -> Vec<String> {
        [
            "-h",
            "127.0.0.1",
            "-p",
            &self.port.to_string(),
            "-U",
            "postgres",
            "-d",
            db,
        ]
        .map(String::from)
        .to_vec()
    }

    pub fn pgbench(&self, db: &str, args: &[&str]) -> Output {
        Command::new(pg_bin().join("pgbench"))
            .args(args)
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
                db,
            ])
            .env_clear()
            .output()
            .unwrap()
    }
}

/// A fresh database on the test server with pgbench's tables at scale 1.
pub fn database_with_tables(name: &str) -> String {
    let db = server().database(name);
    check(
        pgsyncbench()
            .args(["init", "-s", "1", "-q"])
            .args(server().conn_args(&db))
            .output()
            .unwrap(),
        "init",
    );
    db
}

/// The pgsyncbench binary with a clean environment (no PG* variables from the caller).
pub fn pgsyncbench() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_pgsyncbench"));
    c.env_clear();
    c.env("PATH", std::env::var("PATH").unwrap_or_default());
    c.env("HOME", std::env::temp_dir());
    c
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The value after `prefix` on the line that starts with it.
pub fn field<'a>(text: &'a str, prefix: &str) -> &'a str {
    text.lines()
        .find_map(|l| l.strip_prefix(prefix))
        .unwrap_or_else(|| panic!("no line starting with {prefix:?} in:\n{text}"))
        .trim()
}

/// Resolves `https://pgsyncbench.dev/schemas/NAME` to the committed `schemas/NAME`.
struct SchemaFiles;

impl jsonschema::Retrieve for SchemaFiles {
    fn retrieve(
        &self,
        uri: &jsonschema::Uri<String>,
    ) -> Result<serde_json::Value, Box<dyn std::error::Error + Send + Sync>> {
        let name = uri
            .as_str()
            .strip_prefix("https://pgsyncbench.dev/schemas/")
            .ok_or_else(|| format!("unknown schema {}", uri.as_str()))?;
        Ok(load_schema(name))
    }
}

pub fn load_schema(name: &str) -> serde_json::Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("schemas")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Violations of a committed schema, each as "message at path"; empty when valid.
pub fn schema_violations(schema: &str, value: &serde_json::Value) -> Vec<String> {
    let validator = jsonschema::options()
        .with_retriever(SchemaFiles)
        .build(&load_schema(schema))
        .unwrap();
    validator
        .iter_errors(value)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}
