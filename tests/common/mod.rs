//! Drives the real `catalog-reloader` binary for integration tests: start it against an emulator,
//! read its JSON log, its `/status`, `/metrics`, `/readyz`, and wait for what a user would see.
#![allow(dead_code)] // each test binary uses a different part

pub mod model;
pub mod sandbox;
pub mod scenario;

#[allow(unused_imports)] // not every test binary runs a scenario
pub use scenario::Scenario;

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_catalog-reloader");

/// Now, in Unix seconds (Docker's event log counts in them).
pub fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Polls `check` every 20 ms until it returns `Some`, or panics with `what` after `timeout`.
pub fn wait_for<T>(timeout: Duration, what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = check() {
            return v;
        }
        if start.elapsed() > timeout {
            panic!("timed out after {timeout:?} waiting for: {what}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub const PATIENCE: Duration = Duration::from_secs(20);

/// A blocking HTTP client (reqwest is built without a bundled crypto provider; install ring's).
pub fn http() -> reqwest::blocking::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::blocking::Client::new()
}

/// A folder of catalog files, written the way people and tools write them.
pub struct Folder {
    pub dir: tempfile::TempDir,
}

impl Folder {
    pub fn new() -> Self {
        Folder {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    /// A folder every user may list and read (temporary folders are the owner's only).
    pub fn open_to_all() -> Self {
        use std::os::unix::fs::PermissionsExt;
        let folder = Folder::new();
        std::fs::set_permissions(folder.path(), std::fs::Permissions::from_mode(0o755))
            .expect("chmod the folder");
        folder
    }

    /// Takes every permission off a file: only root may read it now.
    pub fn make_unreadable(&self, name: &str) {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(self.file(name), std::fs::Permissions::from_mode(0o000))
            .expect("chmod the file");
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Writes in place (truncate + write), like `echo > file`.
    pub fn write(&self, name: &str, text: &str) {
        std::fs::write(self.file(name), text).expect("write catalog file");
    }

    /// Writes a temp file and renames it over the target, like editors and `kubectl cp` do.
    pub fn write_atomically(&self, name: &str, text: &str) {
        let tmp = self.file(&format!(".{name}.swp"));
        std::fs::write(&tmp, text).expect("write temp file");
        std::fs::rename(&tmp, self.file(name)).expect("rename over");
    }

    pub fn remove(&self, name: &str) {
        std::fs::remove_file(self.file(name)).expect("remove catalog file");
    }

    pub fn rename(&self, from: &str, to: &str) {
        std::fs::rename(self.file(from), self.file(to)).expect("rename catalog file");
    }
}

pub struct AgentBuilder {
    args: Vec<String>,
    envs: Vec<(String, String)>,
    /// Run as this user and group id instead of the test's (root here, who reads every file).
    user: Option<u32>,
}

/// `nobody`: a user who may read only what everyone may.
pub const NOBODY: u32 = 65534;

pub fn agent(subcommand: &str, folder: &Path, server: &str) -> AgentBuilder {
    AgentBuilder {
        args: vec![
            subcommand.to_string(),
            "--catalog-dir".into(),
            folder.display().to_string(),
            "--server".into(),
            server.to_string(),
            "--log-format".into(),
            "json".into(),
        ],
        envs: vec![("RUST_LOG".into(), "info".into())],
        user: None,
    }
}

/// `validate`, which takes no engine flags.
pub fn validate(folder: &Path) -> AgentBuilder {
    AgentBuilder {
        args: vec![
            "validate".into(),
            "--catalog-dir".into(),
            folder.display().to_string(),
        ],
        envs: vec![],
        user: None,
    }
}

impl AgentBuilder {
    pub fn arg(mut self, a: impl Into<String>) -> Self {
        self.args.push(a.into());
        self
    }

    pub fn args<I: IntoIterator<Item = S>, S: Into<String>>(mut self, items: I) -> Self {
        self.args.extend(items.into_iter().map(Into::into));
        self
    }

    /// Replaces the default `--log-format json`.
    pub fn log_format(mut self, format: &str) -> Self {
        let at = self
            .args
            .iter()
            .position(|a| a == "--log-format")
            .expect("set by agent()");
        self.args[at + 1] = format.to_string();
        self
    }

    pub fn env(mut self, k: &str, v: &str) -> Self {
        self.envs.push((k.into(), v.into()));
        self
    }

    /// Runs the agent as `uid` (and the group of the same number), without root's powers.
    pub fn run_as(mut self, uid: u32) -> Self {
        self.user = Some(uid);
        self
    }

    pub fn command(&self) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.args(&self.args);
        for (k, v) in &self.envs {
            cmd.env(k, v);
        }
        if let Some(uid) = self.user {
            use std::os::unix::process::CommandExt;
            cmd.uid(uid).gid(uid);
        }
        cmd
    }

    /// Runs a one-shot subcommand (sync, plan, validate) to completion.
    pub fn output(&self) -> Outcome {
        let out = self.command().output().expect("run catalog-reloader");
        Outcome {
            status: out.status,
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Starts `run` with `--listen 127.0.0.1:0` and waits until it says where it listens.
    pub fn start(self) -> RunningAgent {
        let me = if self.args.iter().any(|a| a == "--listen") {
            self
        } else {
            self.arg("--listen").arg("127.0.0.1:0")
        };
        let mut child = me
            .command()
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start catalog-reloader");
        let log = Arc::new(Mutex::new(Vec::<String>::new()));
        let sink = log.clone();
        let stderr = child.stderr.take().expect("stderr");
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if std::env::var_os("AGENT_LOG").is_some() {
                    eprintln!("agent: {line}");
                }
                sink.lock().unwrap().push(line);
            }
        });
        let mut agent = RunningAgent {
            child,
            log,
            addr: None,
        };
        let addr = wait_for(PATIENCE, "the agent's start-up line", || {
            agent.log_json().into_iter().find_map(|l| {
                l.get("listen")
                    .and_then(Value::as_str)
                    .and_then(|a| a.parse::<SocketAddr>().ok())
            })
        });
        agent.addr = Some(addr);
        agent
    }
}

pub struct Outcome {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Outcome {
    pub fn code(&self) -> i32 {
        self.status.code().expect("exited normally")
    }
}

pub struct RunningAgent {
    child: Child,
    log: Arc<Mutex<Vec<String>>>,
    addr: Option<SocketAddr>,
}

impl RunningAgent {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr.expect("started"), path)
    }

    pub fn get(&self, path: &str) -> (u16, String) {
        let resp = http()
            .get(self.url(path))
            .timeout(Duration::from_secs(5))
            .send()
            .expect("agent answers HTTP");
        let code = resp.status().as_u16();
        (code, resp.text().unwrap_or_default())
    }

    pub fn status(&self) -> Value {
        serde_json::from_str(&self.get("/status").1).expect("/status is JSON")
    }

    /// The status entry of one catalog, if any.
    pub fn catalog(&self, name: &str) -> Option<Value> {
        self.status()["catalogs"].get(name).cloned()
    }

    /// Waits until the catalog's state is `state`, and returns its status entry.
    pub fn wait_state(&self, name: &str, state: &str) -> Value {
        self.wait_state_within(name, state, PATIENCE)
    }

    /// [`RunningAgent::wait_state`] for a change that takes longer: a restart of a real engine.
    pub fn wait_state_within(&self, name: &str, state: &str, patience: Duration) -> Value {
        wait_for(patience, &format!("catalog {name} to be {state}"), || {
            self.catalog(name).filter(|c| c["state"] == state)
        })
    }

    /// The catalogs `/status` lists in another state than `applied`.
    pub fn catalogs_not_applied(&self) -> Vec<String> {
        let status = self.status();
        status["catalogs"]
            .as_object()
            .expect("/status lists catalogs")
            .iter()
            .filter(|(_, c)| c["state"] != "applied")
            .map(|(name, _)| name.clone())
            .collect()
    }

    /// Waits for the start-up pass to finish, so later file events are not folded into it.
    pub fn wait_first_pass(&self) {
        wait_for(PATIENCE, "the first pass", || {
            (!self.status()["last_pass"].is_null()).then_some(())
        });
    }

    pub fn metrics(&self) -> String {
        self.get("/metrics").1
    }

    pub fn log_lines(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    pub fn log_text(&self) -> String {
        self.log_lines().join("\n")
    }

    pub fn log_json(&self) -> Vec<Value> {
        self.log_lines()
            .iter()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// One series of `/metrics` (its name and labels exactly as written there), if present.
    pub fn metric(&self, series: &str) -> Option<f64> {
        self.metrics()
            .lines()
            .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
            .and_then(|l| l.rsplit(' ').next()?.parse().ok())
    }

    /// Number of passes the agent has finished, from its metrics (all triggers).
    pub fn passes(&self) -> u64 {
        self.metrics()
            .lines()
            .filter(|l| l.starts_with("catalog_reloader_passes_total"))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum::<f64>() as u64
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGTERM and waits for the exit status.
    pub fn terminate(mut self) -> (ExitStatus, Duration, String) {
        let start = Instant::now();
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let status = wait_for(Duration::from_secs(15), "the agent to exit", || {
            self.child.try_wait().ok().flatten()
        });
        let took = start.elapsed();
        std::thread::sleep(Duration::from_millis(100));
        (status, took, self.log_text())
    }
}

impl Drop for RunningAgent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `entry`, the `/status` entry of catalog `name`, says what a user must see of a definition that
/// kept a node from starting in restart mode: the catalog failed, with `blame` (who did not start,
/// or the engine's own words) in its error; it is not tried again until its file changes; and its
/// file is gone from the target folder `target` (the files are put back before it is reported).
pub fn assert_rolled_back(name: &str, entry: &Value, target: &Path, blame: &str) {
    assert_eq!(entry["state"], "failed", "{entry}");
    assert!(
        entry["error"].as_str().is_some_and(|e| e.contains(blame)),
        "the error names {blame:?}: {entry}"
    );
    assert!(
        entry["note"]
            .as_str()
            .is_some_and(|n| n.contains("not tried again until its file changes")),
        "{entry}"
    );
    assert!(
        !target.join(format!("{name}.properties")).exists(),
        "{name}'s file is not in the target folder: {entry}"
    );
}

/// The agent said that it waited for the queries running on the coordinator before restarting it.
pub fn assert_waited_for_running_queries(agent: &RunningAgent) {
    assert!(
        agent
            .log_text()
            .contains("waiting for running queries to finish"),
        "{}",
        agent.log_text()
    );
}

/// One cluster of real engines at a time in a test binary: two clusters are six JVMs on two
/// cores, where even the agent's small HTTP answers were seen to take more than 5 s. Held for the
/// whole test.
pub fn one_cluster() -> std::sync::MutexGuard<'static, ()> {
    static ONE_CLUSTER: Mutex<()> = Mutex::new(());
    ONE_CLUSTER
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Statements the engine received other than the read-only catalog listing, as `OUTCOME SQL`.
pub fn changes(engine: &test_support::emulator::RunningEmulator) -> Vec<String> {
    engine
        .records()
        .into_iter()
        .filter(|r| !r.sql.starts_with("SELECT") && !r.sql.starts_with("SHOW"))
        .map(|r| format!("{} {}", r.outcome, r.sql))
        .collect()
}

/// One ConfigMap generation, written the way the kubelet's AtomicWriter does: payload into a new
/// timestamped directory, `..data_tmp` link to it, rename over `..data`, visible links for new keys,
/// stale visible links removed, old directory removed.
pub fn kubelet_update<N: AsRef<str>, T: AsRef<str>>(
    root: &Path,
    generation: u32,
    files: &[(N, T)],
) {
    let files: Vec<(&str, &str)> = files
        .iter()
        .map(|(n, t)| (n.as_ref(), t.as_ref()))
        .collect();
    let ts = format!("..2026_11_24_10_00_{generation:02}.{generation:09}");
    let new_dir = root.join(&ts);
    std::fs::create_dir(&new_dir).unwrap();
    for (name, text) in &files {
        std::fs::write(new_dir.join(name), text).unwrap();
    }
    let old_target = std::fs::read_link(root.join("..data")).ok();
    std::os::unix::fs::symlink(&ts, root.join("..data_tmp")).unwrap();
    std::fs::rename(root.join("..data_tmp"), root.join("..data")).unwrap();
    for (name, _) in &files {
        let link = root.join(name);
        if std::fs::symlink_metadata(&link).is_err() {
            std::os::unix::fs::symlink(format!("..data/{name}"), &link).unwrap();
        }
    }
    for entry in std::fs::read_dir(root).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        if !name.starts_with("..") && !files.iter().any(|(n, _)| *n == name) {
            std::fs::remove_file(root.join(&name)).unwrap();
        }
    }
    if let Some(old) = old_target {
        std::fs::remove_dir_all(root.join(old)).unwrap();
    }
}
