//! The coordinator emulator as a child process.
//!
//! ```no_run
//! use test_support::emulator::Emulator;
//! let engine = Emulator::trino().dynamic().memory_store().start();
//! engine.query("CREATE CATALOG t USING tpch").unwrap();
//! assert!(engine.show_catalogs().contains(&"t".to_string()));
//! assert_eq!(engine.records().last().unwrap().outcome, "FINISHED");
//! ```

use std::ffi::OsString;
use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::Value;

/// Which coordinator the emulator plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavour {
    Trino,
    Presto,
}

impl Flavour {
    fn engine_arg(self) -> &'static str {
        match self {
            Flavour::Trino => "trino",
            Flavour::Presto => "presto",
        }
    }

    /// The request header that names the user.
    pub fn user_header(self) -> &'static str {
        match self {
            Flavour::Trino => "X-Trino-User",
            Flavour::Presto => "X-Presto-User",
        }
    }
}

/// The emulator binary: beside the test executable, (re)built on first use if it is missing or
/// older than the emulator's sources.
pub fn binary() -> PathBuf {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY
        .get_or_init(|| {
            let target = crate::target_dir();
            let profile_dir = std::env::current_exe()
                .ok()
                .and_then(|exe| exe.parent().and_then(Path::parent).map(Path::to_path_buf))
                .unwrap_or_else(|| target.join("debug"));
            let path = profile_dir.join("coordinator-emulator");
            if crate::emulator_binary_is_stale(&path) {
                let status = crate::cargo()
                    .args(["build", "-p", "coordinator-emulator", "--target-dir"])
                    .arg(&target)
                    .current_dir(crate::workspace_root())
                    .status()
                    .expect("run cargo build -p coordinator-emulator");
                assert!(
                    status.success(),
                    "cargo build -p coordinator-emulator failed"
                );
            }
            assert!(path.exists(), "no emulator binary at {}", path.display());
            path
        })
        .clone()
}

/// How long to wait for the emulator to say where it listens.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// A builder for one emulator process.
#[derive(Debug, Clone)]
pub struct Emulator {
    flavour: Flavour,
    binary: Option<PathBuf>,
    args: Vec<OsString>,
    env: Vec<(OsString, OsString)>,
}

impl Emulator {
    /// A Trino coordinator (static catalog management unless told otherwise, as Trino).
    pub fn trino() -> Emulator {
        Emulator {
            flavour: Flavour::Trino,
            binary: None,
            args: Vec::new(),
            env: Vec::new(),
        }
    }

    /// A PrestoDB coordinator.
    pub fn presto() -> Emulator {
        Emulator {
            flavour: Flavour::Presto,
            binary: None,
            args: Vec::new(),
            env: Vec::new(),
        }
    }

    /// Runs this binary instead of the one found beside the test executable (the emulator's own
    /// tests pass `env!("CARGO_BIN_EXE_coordinator-emulator")`).
    pub fn binary(mut self, path: impl Into<PathBuf>) -> Emulator {
        self.binary = Some(path.into());
        self
    }

    /// Which coordinator this emulator plays.
    pub fn flavour(&self) -> Flavour {
        self.flavour
    }

    /// `catalog.management=dynamic`.
    pub fn dynamic(self) -> Emulator {
        self.args(["--catalog-management", "dynamic"])
    }

    /// `catalog.store=memory`: catalogs live only as long as the process.
    pub fn memory_store(self) -> Emulator {
        self.args(["--catalog-store", "memory"])
    }

    /// `catalog.store=file` writing to (and loading from) `dir`.
    pub fn file_store(self, dir: impl AsRef<Path>) -> Emulator {
        self.args(["--catalog-store", "file"]).catalog_dir(dir)
    }

    /// `catalog.config-dir`: where catalogs are loaded from at start.
    pub fn catalog_dir(self, dir: impl AsRef<Path>) -> Emulator {
        self.arg("--catalog-dir").arg(dir.as_ref())
    }

    /// Any other command-line argument.
    pub fn arg(mut self, arg: impl Into<OsString>) -> Emulator {
        self.args.push(arg.into());
        self
    }

    /// Several command-line arguments.
    pub fn args<I, S>(mut self, args: I) -> Emulator
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// An environment variable of the emulator process (what `${ENV:NAME}` resolves against).
    pub fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Emulator {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Starts the emulator on a free loopback port and waits until it listens. Panics, with its
    /// stderr, if it exits instead.
    pub fn start(self) -> RunningEmulator {
        let scratch = tempfile::tempdir().expect("temp dir for the emulator");
        let record = scratch.path().join("record.jsonl");
        let mut running = RunningEmulator {
            spec: self,
            listen: "127.0.0.1:0".to_string(),
            child: None,
            url: String::new(),
            addr: "127.0.0.1:0".parse().expect("addr"),
            record,
            stderr: Arc::new(Mutex::new(String::new())),
            _scratch: scratch,
        };
        running.spawn();
        running
    }

    /// Runs the emulator expecting it to exit on its own (a start-up failure), and returns how.
    pub fn run_to_exit(self, timeout: Duration) -> Exited {
        let mut command = self.command("127.0.0.1:0", None);
        let mut child = command
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn the emulator");
        let mut stderr = child.stderr.take().expect("stderr");
        let reader = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            text
        });
        let start = Instant::now();
        loop {
            if let Some(status) = child.try_wait().expect("wait for the emulator") {
                return Exited {
                    status,
                    stderr: reader.join().unwrap_or_default(),
                };
            }
            if start.elapsed() > timeout {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "the emulator did not exit within {timeout:?}: {}",
                    reader.join().unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn command(&self, listen: &str, record: Option<&Path>) -> Command {
        let mut command = Command::new(self.binary.clone().unwrap_or_else(binary));
        command.args(["--engine", self.flavour.engine_arg(), "--listen", listen]);
        if let Some(record) = record {
            command.arg("--record").arg(record);
        }
        command.args(&self.args);
        for (key, value) in &self.env {
            command.env(key, value);
        }
        command
    }
}

/// How an emulator that was expected to fail at start-up ended.
#[derive(Debug)]
pub struct Exited {
    pub status: ExitStatus,
    pub stderr: String,
}

/// One line of the emulator's record file.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Record {
    pub time: String,
    #[serde(rename = "queryId")]
    pub query_id: Option<String>,
    pub user: Option<String>,
    pub sql: String,
    /// `FINISHED`, `FAILED`, `USER_CANCELED` or `REJECTED`.
    pub outcome: String,
    #[serde(rename = "errorName")]
    pub error_name: Option<String>,
}

/// Rows of a finished query.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryOutput {
    /// Column names.
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Value>>,
    /// `updateType` of the final page (e.g. `CREATE CATALOG`).
    pub update_type: Option<String>,
}

/// A failed query: the engine's error, or `HTTP_<status>` when no query came to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryError {
    pub error_name: String,
    pub message: String,
}

impl std::fmt::Display for QueryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.error_name, self.message)
    }
}

impl std::error::Error for QueryError {}

/// A running emulator; killed when dropped.
pub struct RunningEmulator {
    spec: Emulator,
    listen: String,
    child: Option<Child>,
    url: String,
    addr: SocketAddr,
    record: PathBuf,
    stderr: Arc<Mutex<String>>,
    _scratch: tempfile::TempDir,
}

impl RunningEmulator {
    fn spawn(&mut self) {
        let mut command = self.spec.command(&self.listen, Some(&self.record));
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn the emulator: {e}"));
        let stderr = child.stderr.take().expect("stderr");
        let captured = Arc::clone(&self.stderr);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let mut text = captured.lock().unwrap_or_else(|e| e.into_inner());
                text.push_str(&line);
                text.push('\n');
            }
        });
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            let first = lines.next().and_then(Result::ok);
            let _ = tx.send(first);
            for _ in lines {}
        });
        let first = rx.recv_timeout(START_TIMEOUT).ok().flatten();
        let Some(first) = first else {
            let _ = child.kill();
            let status = child.wait().ok();
            std::thread::sleep(Duration::from_millis(50));
            panic!(
                "the emulator did not start ({status:?}); stderr:\n{}",
                self.stderr()
            );
        };
        let url = first
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line from the emulator: {first}"))
            .to_string();
        let hostport = url.split("://").nth(1).expect("scheme://host:port");
        self.addr = hostport
            .parse()
            .unwrap_or_else(|_| panic!("not an address: {hostport}"));
        // A restart keeps the port, as a restarted coordinator container does.
        self.listen = self.addr.to_string();
        self.url = url;
        self.child = Some(child);
    }

    /// `http://127.0.0.1:PORT` (or `https://…` with `--tls`).
    pub fn url(&self) -> String {
        self.url.clone()
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The record file: one line per statement that ended or was refused.
    /// The emulator's process id (for CPU time in benchmarks).
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("the emulator runs").id()
    }

    pub fn record_path(&self) -> &Path {
        &self.record
    }

    /// Every statement recorded so far, oldest first.
    pub fn records(&self) -> Vec<Record> {
        let text = std::fs::read_to_string(&self.record).unwrap_or_default();
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad record line {l}: {e}")))
            .collect()
    }

    /// What the emulator wrote to stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Runs `sql` as user `test` through the client protocol: POST, then follow `nextUri`
    /// (retrying 502/503/504 as clients must) until the last page.
    pub fn query(&self, sql: &str) -> Result<QueryOutput, QueryError> {
        run_query(&self.url, self.spec.flavour, "test", sql)
    }

    /// `SHOW CATALOGS`, as a list. Panics if the query fails.
    pub fn show_catalogs(&self) -> Vec<String> {
        show_catalogs(&self.url, self.spec.flavour)
    }

    /// `SHOW CATALOGS` without `system`: the catalogs that were made. Panics if the query fails.
    pub fn user_catalogs(&self) -> Vec<String> {
        let mut names = self.show_catalogs();
        names.retain(|c| c != "system");
        names
    }

    /// Stops the process (SIGKILL) and waits for it.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stops and starts again with the same arguments on the same port: a coordinator restart.
    /// The record file carries on.
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }

    /// Waits for the process to exit by itself (e.g. after a graceful shutdown).
    pub fn wait_for_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let child = self.child.as_mut()?;
        let start = Instant::now();
        while start.elapsed() < timeout {
            if let Ok(Some(status)) = child.try_wait() {
                self.child = None;
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for RunningEmulator {
    fn drop(&mut self) {
        self.stop();
    }
}

pub(crate) fn http_client() -> reqwest::blocking::Client {
    static PROVIDER: OnceLock<()> = OnceLock::new();
    PROVIDER.get_or_init(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(30))
        // The emulator's certificate is self-signed; tests that check TLS pass its PEM themselves.
        .danger_accept_invalid_certs(true)
        .build()
        .expect("http client")
}

/// `SHOW CATALOGS` of the coordinator at `url`, as a list. Panics if the query fails.
pub fn show_catalogs(url: &str, flavour: Flavour) -> Vec<String> {
    let output = run_query(url, flavour, "test", "SHOW CATALOGS")
        .unwrap_or_else(|e| panic!("SHOW CATALOGS failed: {e}"));
    output
        .rows
        .iter()
        .map(|row| row[0].as_str().unwrap_or_default().to_string())
        .collect()
}

/// `SELECT count(*) FROM "catalog".tiny.nation` on the coordinator at `url`: 25 through a working
/// tpch catalog, or the coordinator's error.
pub fn count_nations(url: &str, flavour: Flavour, catalog: &str) -> Result<i64, String> {
    run_query(
        url,
        flavour,
        "test",
        &format!("SELECT count(*) FROM \"{catalog}\".tiny.nation"),
    )
    .map(|out| out.rows[0][0].as_i64().expect("a count"))
    .map_err(|e| e.to_string())
}

/// The catalogs a coordinator at `url` lists, `system` left out; `None` while it does not answer
/// (e.g. while its container restarts).
pub fn user_catalogs(url: &str, flavour: Flavour) -> Option<Vec<String>> {
    let output = run_query(url, flavour, "test", "SHOW CATALOGS").ok()?;
    Some(
        output
            .rows
            .iter()
            .filter_map(|r| r[0].as_str().map(str::to_string))
            .filter(|n| n != "system")
            .collect(),
    )
}

/// A blocking client of the statement protocol, as `RunningEmulator::query` uses it.
pub fn run_query(
    url: &str,
    flavour: Flavour,
    user: &str,
    sql: &str,
) -> Result<QueryOutput, QueryError> {
    let client = http_client();
    let response = client
        .post(format!("{url}/v1/statement"))
        .header(flavour.user_header(), user)
        .body(sql.to_string())
        .send()
        .map_err(|e| QueryError {
            error_name: "HTTP_ERROR".into(),
            message: e.to_string(),
        })?;
    let mut page = page_json(response)?;
    let mut columns: Vec<String> = Vec::new();
    let mut rows = Vec::new();
    loop {
        if let Some(cols) = page["columns"].as_array() {
            columns = cols
                .iter()
                .map(|c| c["name"].as_str().unwrap_or_default().to_string())
                .collect();
        }
        if let Some(data) = page["data"].as_array() {
            rows.extend(
                data.iter()
                    .map(|row| row.as_array().cloned().unwrap_or_default()),
            );
        }
        if let Some(error) = page.get("error").filter(|e| !e.is_null()) {
            return Err(QueryError {
                error_name: error["errorName"].as_str().unwrap_or_default().to_string(),
                message: error["message"].as_str().unwrap_or_default().to_string(),
            });
        }
        let Some(next) = page["nextUri"].as_str().map(str::to_string) else {
            let update_type = page["updateType"].as_str().map(str::to_string);
            return Ok(QueryOutput {
                columns,
                rows,
                update_type,
            });
        };
        let mut attempts = 0;
        page = loop {
            let response = client.get(&next).send().map_err(|e| QueryError {
                error_name: "HTTP_ERROR".into(),
                message: e.to_string(),
            })?;
            let status = response.status().as_u16();
            if matches!(status, 502..=504) && attempts < 100 {
                attempts += 1;
                std::thread::sleep(Duration::from_millis(50));
                continue;
            }
            break page_json(response)?;
        };
    }
}

fn page_json(response: reqwest::blocking::Response) -> Result<Value, QueryError> {
    let status = response.status();
    let body = response.text().unwrap_or_default();
    if !status.is_success() {
        return Err(QueryError {
            error_name: format!("HTTP_{}", status.as_u16()),
            message: body,
        });
    }
    serde_json::from_str(&body).map_err(|e| QueryError {
        error_name: "BAD_JSON".into(),
        message: format!("{e}: {body}"),
    })
}
