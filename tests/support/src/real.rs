//! The real engines, as `scripts/engines.sh` fetched and built them: Trino 476 and PrestoDB 0.296
//! as host processes (JVMs started from the unpacked servers: [`Trino`] and [`Presto`] build one,
//! a [`RealEngine`] runs it) and the engine images for containers.
//!
//! ```no_run
//! use test_support::real::{Engines, Trino};
//! let Some(engines) = Engines::required() else { return };
//! let trino = Trino::dynamic().memory_store().start(&engines);
//! trino.query("CREATE CATALOG t USING tpch").unwrap();
//! ```
//!
//! On this project's machines the engines are required: `REQUIRE_ENGINES=1` (set by `.ci/run`
//! and `scripts/test.sh`) turns a missing engine into a failure. Elsewhere — a machine off Maven
//! Central — the tests that need one skip with one line saying why.

use crate::emulator::{Flavour, QueryError, QueryOutput, count_nations, run_query, show_catalogs};
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// What `scripts/engines.sh` made, read from `target/engines/engines.env`.
#[derive(Debug, Clone)]
pub struct Engines {
    pub trino_home: PathBuf,
    pub trino_java_home: PathBuf,
    pub trino_version: String,
    pub presto_home: PathBuf,
    pub presto_java_home: PathBuf,
    pub presto_version: String,
    pub trino_image: String,
    pub presto_image: String,
}

fn engines_dir() -> PathBuf {
    crate::workspace_root().join("target/engines")
}

impl Engines {
    /// The engines, or why there are none.
    pub fn load() -> Result<Engines, String> {
        let dir = engines_dir();
        if let Ok(reason) = std::fs::read_to_string(dir.join("unavailable")) {
            return Err(format!(
                "the real engines are not available here: {}",
                reason.trim()
            ));
        }
        // Variables of the same names in the environment win (an engine built elsewhere).
        let env_file = dir.join("engines.env");
        let text = std::fs::read_to_string(&env_file).unwrap_or_default();
        let vars: BTreeMap<&str, &str> = text
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.trim(), v.trim()))
            .collect();
        let get = |key: &str| {
            std::env::var(key)
                .ok()
                .or_else(|| vars.get(key).map(|v| v.to_string()))
                .ok_or_else(|| {
                    format!(
                        "{} has no {key}: run ./scripts/engines.sh first",
                        env_file.display()
                    )
                })
        };
        Ok(Engines {
            trino_home: get("TRINO_HOME")?.into(),
            trino_java_home: get("TRINO_JAVA_HOME")?.into(),
            trino_version: get("TRINO_VERSION")?,
            presto_home: get("PRESTO_HOME")?.into(),
            presto_java_home: get("PRESTO_JAVA_HOME")?.into(),
            presto_version: get("PRESTO_VERSION")?,
            trino_image: get("TRINO_IMAGE")?,
            presto_image: get("PRESTO_IMAGE")?,
        })
    }

    /// For the first line of a real-engine test: `let Some(engines) = Engines::required() else
    /// { return };`. Panics when `REQUIRE_ENGINES=1` and the engines are missing; otherwise
    /// prints why the test is skipped.
    pub fn required() -> Option<Engines> {
        match Engines::load() {
            Ok(engines) => Some(engines),
            Err(why) if std::env::var("REQUIRE_ENGINES").is_ok_and(|v| v == "1") => {
                panic!("REQUIRE_ENGINES=1 but {why}")
            }
            Err(why) => {
                eprintln!("skipping: {why} (set REQUIRE_ENGINES=1 to fail instead)");
                None
            }
        }
    }
}

/// Trino's catalog management and store, as `config.properties` sets them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Store {
    /// `catalog.management=static`: the files of `etc/catalog`, read once at start.
    Static,
    /// `catalog.management=dynamic`, `catalog.store=memory`.
    Memory,
    /// `catalog.management=dynamic`, `catalog.store=file` with `catalog.config-dir` here.
    File(PathBuf),
}

/// A builder for one Trino coordinator process.
#[derive(Debug, Clone)]
pub struct Trino {
    store: Store,
    env: Vec<(String, String)>,
    catalogs: Vec<(String, String)>,
    config: Vec<String>,
    access_control: Option<String>,
}

impl Trino {
    pub fn dynamic() -> Trino {
        Trino {
            store: Store::Memory,
            env: Vec::new(),
            catalogs: Vec::new(),
            config: Vec::new(),
            access_control: None,
        }
    }

    pub fn static_catalogs() -> Trino {
        Trino {
            store: Store::Static,
            ..Trino::dynamic()
        }
    }

    pub fn memory_store(mut self) -> Trino {
        self.store = Store::Memory;
        self
    }

    /// `catalog.store=file` with its folder at `dir` (created if missing).
    pub fn file_store(mut self, dir: impl AsRef<Path>) -> Trino {
        self.store = Store::File(dir.as_ref().to_path_buf());
        self
    }

    /// An environment variable of the Trino process (for `${ENV:NAME}` values).
    pub fn env(mut self, key: &str, value: &str) -> Trino {
        self.env.push((key.into(), value.into()));
        self
    }

    /// A catalog file in `etc/catalog` (static mode) before the start.
    pub fn catalog(mut self, name: &str, text: &str) -> Trino {
        self.catalogs.push((name.into(), text.into()));
        self
    }

    /// A line added to `config.properties`.
    pub fn config(mut self, line: &str) -> Trino {
        self.config.push(line.into());
        self
    }

    /// `etc/access-control.properties` (e.g. `access-control.name=file` and its rules file).
    pub fn access_control(mut self, text: &str) -> Trino {
        self.access_control = Some(text.into());
        self
    }

    /// Starts the coordinator and waits until `/v1/info` says `starting: false`. Panics with the
    /// end of its log if it does not get there.
    pub fn start(self, engines: &Engines) -> RealEngine {
        let mut trino = self.launch(engines);
        trino.wait_ready(START_TIMEOUT);
        trino
    }

    /// Starts the coordinator without waiting for it: for watching the start-up itself (what
    /// `/v1/info` and queries answer while it starts, or how a start that fails ends).
    pub fn launch(self, engines: &Engines) -> RealEngine {
        RealEngine::launch(Setup::Trino(self), engines, crate::free_port())
    }

    fn write_config(&self, etc: &Path, data: &Path, port: u16) {
        let mut config = vec![
            "coordinator=true".to_string(),
            "node-scheduler.include-coordinator=true".into(),
            format!("http-server.http.port={port}"),
            format!("discovery.uri=http://127.0.0.1:{port}"),
            // Tests read the query history to prove what was (not) sent.
            "query.max-history=5000".into(),
        ];
        match &self.store {
            Store::Static => config.push("catalog.management=static".into()),
            Store::Memory => {
                config.push("catalog.management=dynamic".into());
                config.push("catalog.store=memory".into());
            }
            Store::File(store) => {
                std::fs::create_dir_all(store).expect("create the file store's folder");
                config.push("catalog.management=dynamic".into());
                config.push("catalog.store=file".into());
                // The file store's settings have their own file (trino-476-measured.md §5).
                std::fs::write(
                    etc.join("catalog-store.properties"),
                    format!("catalog.config-dir={}\n", store.display()),
                )
                .expect("write catalog-store.properties");
            }
        }
        config.extend(self.config.iter().cloned());
        std::fs::write(etc.join("config.properties"), config.join("\n") + "\n")
            .expect("write config.properties");
        // A host process must announce loopback: Docker's bridges add addresses that Trino may
        // otherwise pick, and then every query fails (real-engines.md).
        std::fs::write(
            etc.join("node.properties"),
            format!(
                "node.environment=test\nnode.id=trino-{port}\nnode.data-dir={}\nnode.internal-address=127.0.0.1\n",
                data.display()
            ),
        )
        .expect("write node.properties");
        std::fs::write(
            etc.join("jvm.config"),
            "-server\n-Xmx1G\n-XX:+UseG1GC\n-XX:+ExitOnOutOfMemoryError\n-Djdk.attach.allowAttachSelf=true\n-XX:TieredStopAtLevel=1\n",
        )
        .expect("write jvm.config");
        std::fs::write(etc.join("log.properties"), "io.trino=INFO\n")
            .expect("write log.properties");
        if let Some(text) = &self.access_control {
            std::fs::write(etc.join("access-control.properties"), text)
                .expect("write access-control.properties");
        }
    }

    /// `bin/launcher run`, which becomes the JVM.
    fn command(&self, engines: &Engines, etc: &Path, data: &Path) -> Command {
        let launcher = engines.trino_home.join("bin/launcher");
        let java_bin = engines.trino_java_home.join("bin");
        let path = format!(
            "{}:{}",
            java_bin.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut command = Command::new(launcher);
        command
            .arg("run")
            .arg("--etc-dir")
            .arg(etc)
            .arg("--data-dir")
            .arg(data)
            .env("JAVA_HOME", &engines.trino_java_home)
            .env("PATH", path)
            .envs(self.env.iter().map(|(k, v)| (k, v)));
        command
    }
}

/// A builder for one PrestoDB coordinator process, started as presto-measured.md describes:
/// `java -cp 'lib/*' com.facebook.presto.server.PrestoServer` on Java 17 with the launcher's
/// `-D` options, every listener pinned (HTTP on PORT, thrift PORT+1, JMX registry PORT+2 and
/// server PORT+3, admin PORT+4) and `node.internal-address=127.0.0.1`.
///
/// ```no_run
/// use test_support::real::{Engines, Presto};
/// let Some(engines) = Engines::required() else { return };
/// let presto = Presto::new().catalog("tpch", "connector.name=tpch\n").start(&engines);
/// assert!(presto.show_catalogs().contains(&"tpch".to_string()));
/// ```
#[derive(Debug, Clone, Default)]
pub struct Presto {
    catalogs: Vec<(String, String)>,
    config: Vec<String>,
}

impl Presto {
    /// A coordinator with no catalog but `system`.
    pub fn new() -> Presto {
        Presto::default()
    }

    /// A catalog file in `etc/catalog` before the start.
    pub fn catalog(mut self, name: &str, text: &str) -> Presto {
        self.catalogs.push((name.into(), text.into()));
        self
    }

    /// A line added to `config.properties` (e.g. `shutdown.grace-period=2s`; the default here is
    /// 5s, as measured).
    pub fn config(mut self, line: &str) -> Presto {
        self.config.push(line.into());
        self
    }

    /// Starts the coordinator without waiting for it (see [`Trino::launch`]).
    pub fn launch(self, engines: &Engines) -> RealEngine {
        RealEngine::launch(Setup::Presto(self), engines, five_free_ports())
    }

    /// Starts the coordinator and waits until `/v1/info` says `starting: false` (PrestoDB may
    /// still answer `NO_NODES_AVAILABLE` for a few seconds after that: see
    /// [`RealEngine::wait_serving`]).
    pub fn start(self, engines: &Engines) -> RealEngine {
        let mut presto = self.launch(engines);
        presto.wait_ready(START_TIMEOUT);
        presto
    }

    fn write_config(&self, engines: &Engines, etc: &Path, port: u16) {
        let mut config = vec![
            "coordinator=true".to_string(),
            "node-scheduler.include-coordinator=true".into(),
            format!("http-server.http.port={port}"),
            format!("thrift.server.port={}", port + 1),
            format!("jmx.rmiregistry.port={}", port + 2),
            format!("jmx.rmiserver.port={}", port + 3),
            format!("http-server.admin.port={}", port + 4),
            "discovery-server.enabled=true".into(),
            format!("discovery.uri=http://127.0.0.1:{port}"),
            // Docker's bridges add addresses a JVM may announce instead (real-engines.md).
            "node.internal-address=127.0.0.1".into(),
            format!(
                "plugin.dir={}",
                engines.presto_home.join("plugin").display()
            ),
            format!("catalog.config-dir={}", etc.join("catalog").display()),
            "query.max-history=5000".into(),
        ];
        if !self
            .config
            .iter()
            .any(|l| l.starts_with("shutdown.grace-period"))
        {
            config.push("shutdown.grace-period=5s".into());
        }
        config.extend(self.config.iter().cloned());
        std::fs::write(etc.join("config.properties"), config.join("\n") + "\n")
            .expect("write config.properties");
        std::fs::write(etc.join("log.properties"), "com.facebook.presto=INFO\n")
            .expect("write log.properties");
    }

    /// The JVM itself, with the launcher's options.
    fn command(engines: &Engines, dir: &Path, etc: &Path, data: &Path, port: u16) -> Command {
        let mut command = Command::new(engines.presto_java_home.join("bin/java"));
        command
            .args([
                "-server",
                "-Xmx1G",
                "-XX:+UseG1GC",
                "-XX:+ExitOnOutOfMemoryError",
                "-Djdk.attach.allowAttachSelf=true",
                "-XX:TieredStopAtLevel=1",
                "-Dnode.environment=test",
            ])
            .arg(format!("-Dnode.id=presto-{port}"))
            .arg(format!("-Dnode.data-dir={}", data.display()))
            .arg(format!(
                "-Dconfig={}",
                etc.join("config.properties").display()
            ))
            .arg(format!(
                "-Dcom.sun.management.jmxremote.rmi.port={}",
                port + 3
            ))
            .arg(format!(
                "-Dlog.levels-file={}",
                etc.join("log.properties").display()
            ))
            .arg("-cp")
            .arg(format!("{}/*", engines.presto_home.join("lib").display()))
            .arg("com.facebook.presto.server.PrestoServer")
            .current_dir(dir)
            .env("JAVA_HOME", &engines.presto_java_home);
        command
    }
}

/// A port P with P…P+4 free a moment ago: a PrestoDB coordinator pins five listeners.
fn five_free_ports() -> u16 {
    for _ in 0..200 {
        let base = crate::free_port();
        if base > 65_530 {
            continue;
        }
        let all_free =
            (1..5).all(|offset| std::net::TcpListener::bind(("127.0.0.1", base + offset)).is_ok());
        if all_free {
            return base;
        }
    }
    panic!("no five consecutive free ports on 127.0.0.1")
}

/// Which engine a [`RealEngine`] runs, with the configuration it was built with: what differs
/// between the two is only how the process is configured and started.
#[derive(Debug, Clone)]
enum Setup {
    Trino(Trino),
    Presto(Presto),
}

impl Setup {
    fn flavour(&self) -> Flavour {
        match self {
            Setup::Trino(_) => Flavour::Trino,
            Setup::Presto(_) => Flavour::Presto,
        }
    }
}

/// How long a coordinator may take to start: 8 s on an idle machine, 13–25 s while other JVMs
/// share the two cores (real-engines.md); the margin covers a test binary starting several.
const START_TIMEOUT: Duration = Duration::from_secs(120);

/// A real coordinator process — Trino 476 or PrestoDB 0.296, from [`Trino`] or [`Presto`] —;
/// killed when dropped. Everything a test asks of it (its URL, queries, catalogs, history, log,
/// a stop, a restart) is the same for both engines.
pub struct RealEngine {
    setup: Setup,
    engines: Engines,
    port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
    log: Arc<Mutex<Vec<String>>>,
}

impl RealEngine {
    fn launch(setup: Setup, engines: &Engines, port: u16) -> RealEngine {
        let prefix = match setup.flavour() {
            Flavour::Trino => "real-trino-",
            Flavour::Presto => "real-presto-",
        };
        let dir = tempfile::Builder::new()
            .prefix(prefix)
            .tempdir()
            .expect("temp dir for the engine");
        let mut engine = RealEngine {
            setup,
            engines: engines.clone(),
            port,
            dir,
            child: None,
            log: Arc::new(Mutex::new(Vec::new())),
        };
        engine.write_config();
        engine.spawn();
        engine
    }

    /// Which engine this is.
    pub fn flavour(&self) -> Flavour {
        self.setup.flavour()
    }

    fn name(&self) -> &'static str {
        match self.flavour() {
            Flavour::Trino => "Trino",
            Flavour::Presto => "PrestoDB",
        }
    }

    fn etc(&self) -> PathBuf {
        self.dir.path().join("etc")
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// `etc/catalog`: what a static coordinator loads at start.
    pub fn catalog_dir(&self) -> PathBuf {
        self.etc().join("catalog")
    }

    /// The JVM's process id while it runs (Trino's launcher `run` becomes the JVM).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    fn write_config(&self) {
        let etc = self.etc();
        std::fs::create_dir_all(self.catalog_dir()).expect("create etc/catalog");
        std::fs::create_dir_all(self.data()).expect("create the data dir");
        let catalogs = match &self.setup {
            Setup::Trino(trino) => {
                trino.write_config(&etc, &self.data(), self.port);
                &trino.catalogs
            }
            Setup::Presto(presto) => {
                presto.write_config(&self.engines, &etc, self.port);
                &presto.catalogs
            }
        };
        for (name, text) in catalogs {
            std::fs::write(self.catalog_dir().join(format!("{name}.properties")), text)
                .expect("write a catalog file");
        }
    }

    fn spawn(&mut self) {
        let mut command = match &self.setup {
            Setup::Trino(trino) => trino.command(&self.engines, &self.etc(), &self.data()),
            Setup::Presto(_) => Presto::command(
                &self.engines,
                self.dir.path(),
                &self.etc(),
                &self.data(),
                self.port,
            ),
        };
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = spawn_tied_to_this_process(command);
        collect_output(&mut child, &self.log);
        self.child = Some(child);
    }

    /// Waits for `starting: false`; panics with the end of the log if the process exits first
    /// or the time runs out.
    pub fn wait_ready(&mut self, timeout: Duration) {
        let start = Instant::now();
        loop {
            if let Some(info) = self.info()
                && info["starting"] == false
            {
                return;
            }
            if let Some(status) = self.exit_status() {
                panic!(
                    "{} exited with {status} before it was ready; its log ends with:\n{}",
                    self.name(),
                    self.log_tail(60)
                );
            }
            if start.elapsed() > timeout {
                panic!(
                    "{} was not ready after {timeout:?}; its log ends with:\n{}",
                    self.name(),
                    self.log_tail(60)
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits until `sql` (a query that reads a connector table) answers: PrestoDB says
    /// `NO_NODES_AVAILABLE` for 1.5–3 s after `starting: false` (presto-measured.md).
    pub fn wait_serving(&self, sql: &str, timeout: Duration) {
        let start = Instant::now();
        loop {
            match self.query(sql) {
                Ok(_) => return,
                Err(e) if start.elapsed() > timeout => {
                    panic!(
                        "{} did not answer {sql} within {timeout:?}: {e}",
                        self.name()
                    )
                }
                Err(_) => std::thread::sleep(Duration::from_millis(200)),
            }
        }
    }

    /// `GET /v1/info`, or `None` while it does not answer.
    pub fn info(&self) -> Option<Value> {
        let response = crate::emulator::http_client()
            .get(format!("{}/v1/info", self.url()))
            .timeout(Duration::from_secs(2))
            .send()
            .ok()?;
        response.json().ok()
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Runs `sql` as user `test`.
    pub fn query(&self, sql: &str) -> Result<QueryOutput, QueryError> {
        run_query(&self.url(), self.flavour(), "test", sql)
    }

    /// `SELECT count(*) FROM "catalog".tiny.nation`: 25 through a working tpch catalog.
    pub fn nations(&self, catalog: &str) -> Result<i64, String> {
        count_nations(&self.url(), self.flavour(), catalog)
    }

    /// `SHOW CATALOGS`, as a list. Panics if the query fails.
    pub fn show_catalogs(&self) -> Vec<String> {
        show_catalogs(&self.url(), self.flavour())
    }

    /// Whether `name` is live.
    pub fn has_catalog(&self, name: &str) -> bool {
        self.show_catalogs().iter().any(|c| c == name)
    }

    /// The coordinator's query history (`GET /v1/query`), oldest first: what was sent to it.
    pub fn history(&self) -> Vec<HistoryEntry> {
        query_history(&self.url(), self.flavour())
    }

    /// The log lines so far (stdout and stderr of the JVM, and of Trino's launcher).
    pub fn log_lines(&self) -> Vec<String> {
        self.log.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn log_tail(&self, lines: usize) -> String {
        let log = self.log_lines();
        log[log.len().saturating_sub(lines)..].join("\n")
    }

    /// Stops the coordinator as an orchestrator would (SIGTERM), waiting for the process to end
    /// (with a query in flight PrestoDB's JVM needs ~18 s after its port closes,
    /// presto-measured.md).
    pub fn stop(&mut self) -> Option<ExitStatus> {
        let mut child = self.child.take()?;
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        if let Some(status) = wait_for_child(&mut child, Duration::from_secs(60)) {
            return Some(status);
        }
        let _ = child.kill();
        child.wait().ok()
    }

    /// How the process ended, if it has (without waiting).
    pub fn exit_status(&mut self) -> Option<ExitStatus> {
        self.child
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten())
    }

    /// Waits up to `timeout` for the process to end by itself (a start that fails, or after
    /// `PUT /v1/info/state "SHUTTING_DOWN"`).
    pub fn wait_for_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        wait_for_child(self.child.as_mut()?, timeout)
    }

    /// Stops and starts again on the same port with the same configuration and folders: a
    /// coordinator restart. (With Trino's memory store its catalogs are gone afterwards.)
    pub fn restart(&mut self) {
        self.stop();
        self.start_again();
    }

    /// `kill -9`: the JVM ends at once, whatever it was doing.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts again after [`RealEngine::stop`] or [`RealEngine::kill`], on the same port with
    /// the same configuration and folders, and waits until it serves.
    pub fn start_again(&mut self) {
        assert!(self.child.is_none(), "still running");
        self.log.lock().unwrap_or_else(|e| e.into_inner()).clear();
        self.spawn();
        self.wait_ready(START_TIMEOUT);
    }
}

impl Drop for RealEngine {
    fn drop(&mut self) {
        self.kill();
    }
}

/// One query of a coordinator's history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryEntry {
    pub query_id: String,
    pub state: String,
    pub query: String,
    /// The error name of a failed query.
    pub error: Option<String>,
}

/// `GET /v1/query`, oldest first (by query id, which starts with the creation time).
pub fn query_history(url: &str, flavour: Flavour) -> Vec<HistoryEntry> {
    let response = crate::emulator::http_client()
        .get(format!("{url}/v1/query"))
        .header(flavour.user_header(), "test")
        .send()
        .unwrap_or_else(|e| panic!("GET {url}/v1/query: {e}"));
    let all: Vec<Value> = response.json().expect("/v1/query is a JSON array");
    let mut entries: Vec<HistoryEntry> = all
        .iter()
        .map(|q| HistoryEntry {
            query_id: q["queryId"].as_str().unwrap_or_default().to_string(),
            state: q["state"].as_str().unwrap_or_default().to_string(),
            query: q["query"].as_str().unwrap_or_default().to_string(),
            error: q["errorCode"]["name"].as_str().map(str::to_string),
        })
        .collect();
    entries.sort_by(|a, b| a.query_id.cmp(&b.query_id));
    entries
}

/// A coordinator shared by the tests of one test binary (a JVM takes seconds to start; tests
/// that share one use catalog names of their own). Started on first use.
pub fn shared_dynamic_trino(engines: &Engines) -> &'static RealEngine {
    static SHARED: OnceLock<RealEngine> = OnceLock::new();
    SHARED.get_or_init(|| {
        let engines = engines.clone();
        // Started from a thread that lives as long as the test process: the child is tied to
        // the thread that spawned it (see spawn_tied_to_this_process), and test threads end.
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let trino = Trino::dynamic().memory_store().start(&engines);
            tx.send(trino).expect("hand over the shared Trino");
            loop {
                std::thread::park();
            }
        });
        rx.recv().expect("the shared Trino started")
    })
}

/// Spawns `command` so that it is killed when the thread that spawned it ends — with it the
/// test process, whose statics (a shared coordinator) are never dropped. A JVM left behind would
/// hold its port and two gigabytes.
fn spawn_tied_to_this_process(mut command: Command) -> Child {
    use std::os::unix::process::CommandExt;
    // SAFETY: prctl is async-signal-safe and touches no memory of the parent.
    unsafe {
        command.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    command
        .spawn()
        .unwrap_or_else(|e| panic!("start {:?}: {e}", command.get_program()))
}

/// Waits up to `timeout` for `child` to end; its status, or `None` if it still runs.
fn wait_for_child(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let start = Instant::now();
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        if start.elapsed() > timeout {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Forwards each line of the child's stdout and stderr into `sink`.
fn collect_output(child: &mut Child, sink: &Arc<Mutex<Vec<String>>>) {
    for stream in [
        child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
        child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
    ]
    .into_iter()
    .flatten()
    {
        let sink = Arc::clone(sink);
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                sink.lock().unwrap_or_else(|e| e.into_inner()).push(line);
            }
        });
    }
}
