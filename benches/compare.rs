//! Side by side on the real engines (issue 15): what users do today when a catalog is added,
//! against the agent, with queries running on other catalogs the whole time.
//!
//! 1. **Adds under load**: `COMPARE_QUERIES` (20) clients loop a scan (`COMPARE_TRINO_SCAN`,
//!    `COMPARE_PRESTO_SCAN`) on the `tpch` catalog while catalogs are added:
//!    * the agent on a dynamic Trino 476: a file renamed into the folder → the new catalog
//!      answers (`COMPARE_ADDS`, 50);
//!    * by hand: `CREATE CATALOG` over the HTTP API → the new catalog answers (the floor, 50);
//!    * a static Trino restarted by hand, as users do (`COMPARE_RESTARTS`, 3): the file written
//!      into `etc/catalog`, the coordinator stopped and started;
//!    * the agent's restart mode (drain first, `--drain-timeout COMPARE_DRAIN`, 60 s) on a static
//!      Trino 476 container and on a PrestoDB 0.296 container (engine shutdown,
//!      `--graceful-shutdown`), `COMPARE_RESTARTS` adds each.
//!
//!    For each: time to the new catalog answering (p50/p99); the workload's queries finished,
//!    refused (no coordinator, or one still starting: never ran) and cut off (accepted, then
//!    failed); how long a probe (`SELECT 1` every 200 ms) found no coordinator accepting queries.
//! 2. **Scale on the real Trino** (`COMPARE_SCALE`, 100,1000): the agent started on that many
//!    files (tpch and memory catalogs): time to converge, of which Trino's own `CREATE CATALOG`
//!    time; then `COMPARE_SCALE_CHANGES` (20) single changes among them: file → Trino received
//!    the `CREATE`, → the catalog answers; the agent's RSS and CPU.
//! 3. **Burst**: `COMPARE_BURST` (1,000) files renamed into the folder within about a second, on
//!    a dynamic Trino (the CREATEs Trino received: exactly one each) and on PrestoDB in restart
//!    mode (`COMPARE_PRESTO_BURST`, 1,000: the restarts Docker saw).
//! 4. **Footprint** after the Trino burst: the agent's binary and image, RSS, CPU and wake-ups
//!    (context switches) per minute idle, against the Trino JVM's.
//! 5. **A PrestoDB 0.296 cluster** (`cluster`): a coordinator and two workers in containers under
//!    `restart: unless-stopped`, configured as `compose/presto-cluster/` (the workers run every
//!    task), the agent without Docker (`--restart-method engine-shutdown`), the workload's scans
//!    running on the workers: `COMPARE_CLUSTER_ADDS` (2) catalogs added one after the other —
//!    file → the catalog answers, → every node announces it; the workload's queries refused and
//!    cut off; how long no coordinator accepted queries.
//!
//! Run: `cargo bench --bench compare` (about 60 minutes; figures go into BENCHMARKS.md by hand).
//! `COMPARE_PARTS=dynamic,restart,scale,burst,cluster` picks parts (the smoke run leaves `cluster` out). It writes
//! `target/compare/compare.csv` and, with matplotlib (installed into the test venv on first use),
//! the plot `docs/compare.png`. `COMPARE_SMOKE=1` runs everything small and fast (tiny scans, 3
//! adds, 1 restart, 50 files), as `scripts/test.sh` does so the harness cannot rot.

mod common;

use common::{
    Agent, ProcSample, StagedFolder, creates, http, percentile, proc_sample, rss_kib,
    ticks_to_seconds,
};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use test_support::docker::{Container, Flavour, docker_ok, docker_output};
use test_support::free_port;
use test_support::real::{Engines, RealEngine, Trino};

struct Settings {
    smoke: bool,
    parts: String,
    queries: usize,
    adds: usize,
    restarts: usize,
    burst: usize,
    presto_burst: usize,
    drain: String,
    scale: Vec<usize>,
    scale_changes: usize,
    cluster_adds: usize,
    trino_scan: String,
    presto_scan: String,
}

impl Settings {
    fn from_env() -> Settings {
        let smoke = std::env::var("COMPARE_SMOKE").is_ok_and(|v| v == "1");
        let text = |name: &str, full: &str, small: &str| {
            std::env::var(name).unwrap_or_else(|_| (if smoke { small } else { full }).to_string())
        };
        let number = |name: &str, full: usize, small: usize| {
            std::env::var(name)
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(if smoke { small } else { full })
        };
        Settings {
            smoke,
            // The cluster part (three JVMs, minutes per roll) stays out of the smoke run, which
            // CI runs; `COMPARE_PARTS=cluster COMPARE_SMOKE=1` runs it small.
            parts: text(
                "COMPARE_PARTS",
                "dynamic,restart,scale,burst,cluster",
                "dynamic,restart,scale,burst",
            ),
            queries: number("COMPARE_QUERIES", 20, 4),
            adds: number("COMPARE_ADDS", 50, 3),
            restarts: number("COMPARE_RESTARTS", 3, 1),
            burst: number("COMPARE_BURST", 1000, 50),
            presto_burst: number("COMPARE_PRESTO_BURST", 1000, 20),
            drain: text("COMPARE_DRAIN", "60s", "5s"),
            scale: text("COMPARE_SCALE", "100,1000", "20")
                .split(',')
                .filter_map(|n| n.trim().parse().ok())
                .collect(),
            scale_changes: number("COMPARE_SCALE_CHANGES", 20, 3),
            cluster_adds: number("COMPARE_CLUSTER_ADDS", 2, 1),
            trino_scan: text(
                "COMPARE_TRINO_SCAN",
                "SELECT count(*) FROM tpch.sf1.orders",
                "SELECT count(*) FROM tpch.tiny.orders",
            ),
            presto_scan: text(
                "COMPARE_PRESTO_SCAN",
                "SELECT count(*) FROM tpch.tiny.lineitem",
                "SELECT count(*) FROM tpch.tiny.orders",
            ),
        }
    }

    fn part(&self, name: &str) -> bool {
        self.parts.split(',').any(|p| p.trim() == name)
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn unix_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

// ---------------------------------------------------------------------------------------------
// Queries as a client sees them

/// What became of one query.
enum Outcome {
    /// It answered; milliseconds from the POST.
    Finished(f64),
    /// It never ran: no coordinator took it, or the one that did was not ready
    /// (`SERVER_STARTING_UP`, `NO_NODES_AVAILABLE`, `SERVER_SHUTTING_DOWN`, Trino's "nodes is
    /// empty").
    Refused(String),
    /// It was accepted and then failed: cut off by a stop, or cancelled.
    CutOff(String),
}

const NOT_READY: &[&str] = &[
    "SERVER_STARTING_UP",
    "NO_NODES_AVAILABLE",
    "SERVER_SHUTTING_DOWN",
];

/// One query over the client protocol, following `nextUri` (a 503 there is asked again, as
/// the protocol says).
fn submit(client: &reqwest::blocking::Client, url: &str, flavour: Flavour, sql: &str) -> Outcome {
    let started = Instant::now();
    let user = flavour.user_header();
    let post = client
        .post(format!("{url}/v1/statement"))
        .header(user, "workload")
        .body(sql.to_string())
        .send();
    let mut page: serde_json::Value = match post {
        Err(e) => return Outcome::Refused(format!("no coordinator: {}", short_error(e))),
        Ok(r) if !r.status().is_success() => {
            return Outcome::Refused(format!("HTTP {} on the POST", r.status().as_u16()));
        }
        Ok(r) => match r.json() {
            Ok(page) => page,
            Err(e) => return Outcome::Refused(format!("the POST's answer: {e}")),
        },
    };
    loop {
        if let Some(error) = page.get("error").filter(|e| !e.is_null()) {
            let name = error["errorName"].as_str().unwrap_or("?");
            let message = format!("{name}: {}", error["message"].as_str().unwrap_or_default());
            // Trino 476 fails a query that reaches a coordinator whose own node has not
            // registered yet with GENERIC_INTERNAL_ERROR "nodes is empty": it never ran either.
            let not_ready =
                NOT_READY.contains(&name) || error["message"].as_str() == Some("nodes is empty");
            return if not_ready {
                Outcome::Refused(message)
            } else {
                Outcome::CutOff(message)
            };
        }
        let Some(next) = page["nextUri"].as_str().map(str::to_string) else {
            return Outcome::Finished(ms(started.elapsed()));
        };
        let mut busy = 0;
        page = loop {
            match client.get(&next).header(user, "workload").send() {
                Ok(r) if r.status().as_u16() == 503 && busy < 50 => {
                    busy += 1;
                    std::thread::sleep(Duration::from_millis(100));
                }
                Ok(r) if r.status().is_success() => match r.json() {
                    Ok(page) => break page,
                    Err(e) => return Outcome::CutOff(format!("a page's answer: {e}")),
                },
                Ok(r) => return Outcome::CutOff(format!("HTTP {} on a page", r.status().as_u16())),
                Err(e) => {
                    return Outcome::CutOff(format!(
                        "connection lost while it ran: {}",
                        short_error(e)
                    ));
                }
            }
        };
    }
}

/// A transport error without its URL (ports and query ids differ from run to run).
fn short_error(e: reqwest::Error) -> String {
    let e = e.without_url();
    let mut text = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(inner) = source {
        text = format!("{text}: {inner}");
        source = inner.source();
    }
    text
}

/// Until `GET /v1/info` says the coordinator has started (and a second more, for its node to
/// register), or `stop`.
fn wait_until_serving(url: &str, stop: &AtomicBool) {
    let http = http();
    while !stop.load(Ordering::Relaxed) {
        let started = http
            .get(format!("{url}/v1/info"))
            .timeout(Duration::from_secs(2))
            .send()
            .ok()
            .and_then(|r| r.json::<serde_json::Value>().ok())
            .is_some_and(|info| info["starting"] == false);
        if started {
            std::thread::sleep(Duration::from_secs(1));
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[derive(Default, Clone)]
struct Seen {
    finished: usize,
    refused: usize,
    cut_off: usize,
    /// When each cut-off query failed.
    cut_off_at: Vec<SystemTime>,
    query_ms: Vec<f64>,
    errors: Vec<String>,
}

/// Clients running the scan in a loop until stopped. A client whose query fails counts it and,
/// as a job scheduler would, waits until the coordinator serves again before its next query.
struct Workload {
    stop: Arc<AtomicBool>,
    seen: Arc<Mutex<Seen>>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Workload {
    fn start(url: &str, flavour: Flavour, clients: usize, sql: &str) -> Workload {
        let stop = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(Mutex::new(Seen::default()));
        let threads = (0..clients)
            .map(|_| {
                let (stop, seen) = (Arc::clone(&stop), Arc::clone(&seen));
                let (url, sql) = (url.to_string(), sql.to_string());
                std::thread::spawn(move || {
                    let client = http();
                    while !stop.load(Ordering::Relaxed) {
                        let outcome = submit(&client, &url, flavour, &sql);
                        let failed = {
                            let mut seen = seen.lock().unwrap();
                            match outcome {
                                Outcome::Finished(took) => {
                                    seen.finished += 1;
                                    seen.query_ms.push(took);
                                    false
                                }
                                Outcome::Refused(e) => {
                                    seen.refused += 1;
                                    seen.errors.push(format!("refused: {e}"));
                                    true
                                }
                                Outcome::CutOff(e) => {
                                    seen.cut_off += 1;
                                    seen.cut_off_at.push(SystemTime::now());
                                    seen.errors.push(format!("cut off: {e}"));
                                    true
                                }
                            }
                        };
                        if failed {
                            wait_until_serving(&url, &stop);
                        }
                    }
                })
            })
            .collect();
        Workload {
            stop,
            seen,
            threads,
        }
    }

    /// Stops the clients (each finishes its query) and returns what they saw.
    fn finish(self) -> Seen {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads {
            let _ = t.join();
        }
        let mut seen = self.seen.lock().unwrap().clone();
        seen.errors.sort();
        seen.errors.dedup();
        seen.errors.truncate(4);
        seen
    }
}

/// `SELECT 1` every 200 ms: when the coordinator accepted queries.
struct Probe {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<Vec<(Instant, bool)>>,
}

impl Probe {
    fn start(url: &str, flavour: Flavour) -> Probe {
        let stop = Arc::new(AtomicBool::new(false));
        let url = url.to_string();
        let thread = {
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                let client = reqwest::blocking::Client::builder()
                    .timeout(Duration::from_secs(5))
                    .build()
                    .unwrap();
                let mut seen = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let at = Instant::now();
                    let ok = matches!(
                        submit(&client, &url, flavour, "SELECT 1"),
                        Outcome::Finished(_)
                    );
                    seen.push((at, ok));
                    std::thread::sleep(Duration::from_millis(200).saturating_sub(at.elapsed()));
                }
                seen
            })
        };
        Probe { stop, thread }
    }

    fn finish(self) -> Vec<(Instant, bool)> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap()
    }
}

/// Of the probes between `from` and `to`: (the first that failed, relative to `from`; the time
/// during which none was accepted — from each first failure to the next success).
fn outage(probes: &[(Instant, bool)], from: Instant, to: Instant) -> (Option<f64>, f64) {
    let mut first = None;
    let mut down_since = None;
    let mut down = Duration::ZERO;
    for &(at, ok) in probes.iter().filter(|(at, _)| *at >= from && *at <= to) {
        match (ok, down_since) {
            (false, None) => {
                first.get_or_insert(ms(at - from));
                down_since = Some(at);
            }
            (true, Some(since)) => {
                down += at - since;
                down_since = None;
            }
            _ => {}
        }
    }
    if let Some(since) = down_since {
        down += to.saturating_duration_since(since);
    }
    (first, ms(down))
}

/// Polls a query through `catalog` every 20 ms until it answers; the time that took.
fn until_answers(url: &str, flavour: Flavour, catalog: &str, limit: Duration) -> Duration {
    let client = http();
    let started = Instant::now();
    let sql = format!("SELECT count(*) FROM \"{catalog}\".tiny.nation");
    while started.elapsed() < limit {
        if let Outcome::Finished(_) = submit(&client, url, flavour, &sql) {
            return started.elapsed();
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("{catalog} did not answer within {limit:?}");
}

// ---------------------------------------------------------------------------------------------
// Rows of the comparison

struct Row {
    approach: String,
    adds: usize,
    p50_ms: f64,
    p99_ms: f64,
    /// File → Trino received the `CREATE` (its history), p50; dynamic with the agent only.
    received_p50_ms: Option<f64>,
    seen: Seen,
    /// Per add: time until the restart began (the first probe refused), p50.
    wait_before_ms: Option<f64>,
    /// Per add: time no query was accepted, p50.
    unavailable_ms: Option<f64>,
}

fn p50(mut values: Vec<f64>) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    Some(percentile(&values, 50.0))
}

fn row(approach: &str, millis: Vec<f64>, seen: Seen) -> Row {
    let mut sorted = millis;
    sorted.sort_by(f64::total_cmp);
    Row {
        approach: approach.to_string(),
        adds: sorted.len(),
        p50_ms: percentile(&sorted, 50.0),
        p99_ms: percentile(&sorted, 99.0),
        received_p50_ms: None,
        seen,
        wait_before_ms: None,
        unavailable_ms: None,
    }
}

fn agent_adds(s: &Settings, trino: &RealEngine) -> Row {
    let staged = StagedFolder::new();
    let agent = Agent::start(&staged.folder, &trino.url(), &[]);
    let workload = Workload::start(&trino.url(), Flavour::Trino, s.queries, &s.trino_scan);
    std::thread::sleep(Duration::from_secs(1));
    let mut millis = Vec::new();
    let mut dropped = Vec::new();
    for i in 0..s.adds {
        let name = format!("agent_add_{i:03}");
        let t0 = staged.drop_file(&name, "connector.name=tpch\n");
        let took = until_answers(
            &trino.url(),
            Flavour::Trino,
            &name,
            Duration::from_secs(120),
        );
        millis.push(ms(took));
        dropped.push((name, t0));
    }
    let seen = workload.finish();
    drop(agent);
    let history = creates(&trino.url());
    let received = dropped
        .iter()
        .filter_map(|(name, t0)| Some(history.get(name)?.0 - t0))
        .collect();
    let mut row = row(
        "the agent, dynamic Trino (file renamed into the folder, default 200 ms debounce)",
        millis,
        seen,
    );
    row.received_p50_ms = p50(received);
    row
}

fn by_hand_adds(s: &Settings, trino: &RealEngine) -> Row {
    let workload = Workload::start(&trino.url(), Flavour::Trino, s.queries, &s.trino_scan);
    std::thread::sleep(Duration::from_secs(1));
    let mut millis = Vec::new();
    for i in 0..s.adds {
        let name = format!("hand_add_{i:03}");
        let t0 = Instant::now();
        trino
            .query(&format!("CREATE CATALOG \"{name}\" USING tpch"))
            .unwrap();
        until_answers(
            &trino.url(),
            Flavour::Trino,
            &name,
            Duration::from_secs(120),
        );
        millis.push(ms(t0.elapsed()));
    }
    row(
        "by hand: CREATE CATALOG over the HTTP API, dynamic Trino (the floor)",
        millis,
        workload.finish(),
    )
}

fn restart_by_hand(s: &Settings, engines: &Engines) -> Row {
    let mut trino = Trino::static_catalogs()
        .catalog("tpch", "connector.name=tpch\n")
        .start(engines);
    let url = trino.url();
    let workload = Workload::start(&url, Flavour::Trino, s.queries, &s.trino_scan);
    let probe = Probe::start(&url, Flavour::Trino);
    std::thread::sleep(Duration::from_secs(1));
    let mut millis = Vec::new();
    let mut spans = Vec::new();
    for i in 0..s.restarts {
        let name = format!("restart_add_{i:03}");
        std::fs::write(
            trino.catalog_dir().join(format!("{name}.properties")),
            "connector.name=tpch\n",
        )
        .unwrap();
        let t0 = Instant::now();
        trino.stop();
        trino.start_again();
        until_answers(&url, Flavour::Trino, &name, Duration::from_secs(240));
        millis.push(ms(t0.elapsed()));
        spans.push((t0, Instant::now()));
        std::thread::sleep(Duration::from_secs(2));
    }
    let seen = workload.finish();
    let probes = probe.finish();
    let mut row = row(
        "by hand: static Trino, file into etc/catalog, coordinator restarted",
        millis,
        seen,
    );
    add_outages(&mut row, &probes, &spans);
    row
}

fn add_outages(row: &mut Row, probes: &[(Instant, bool)], spans: &[(Instant, Instant)]) {
    let (mut before, mut down) = (Vec::new(), Vec::new());
    for &(from, to) in spans {
        let (first, total) = outage(probes, from, to);
        before.extend(first);
        down.push(total);
    }
    row.wait_before_ms = p50(before);
    row.unavailable_ms = p50(down);
}

/// A coordinator container whose catalog folder is a host folder (holding `tpch`), as the
/// agent's restart mode runs it.
struct Coordinator {
    container: Container,
    url: String,
    target: tempfile::TempDir,
    flavour: Flavour,
}

/// A catalog folder an engine container mounts (readable by its user) holding `tpch`.
fn tpch_catalog_dir() -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt;
    let target = tempfile::tempdir().unwrap();
    std::fs::set_permissions(target.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(
        target.path().join("tpch.properties"),
        "connector.name=tpch\n",
    )
    .unwrap();
    target
}

impl Coordinator {
    fn start(engines: &Engines, flavour: Flavour) -> Coordinator {
        let target = tpch_catalog_dir();
        let (image, catalog_dir) = match flavour {
            Flavour::Presto => (&engines.presto_image, "/opt/presto-server/etc/catalog"),
            Flavour::Trino => (&engines.trino_image, "/etc/trino/catalog"),
        };
        let port = free_port();
        let publish = format!("127.0.0.1:{port}:8080");
        let mount = format!("{}:{catalog_dir}", target.path().display());
        let mut args = vec!["-p", publish.as_str(), "-v", mount.as_str()];
        if flavour == Flavour::Presto {
            // The engine shutdown waits this long before and after its queries (default 2 min).
            args.extend(["-e", "PRESTO_SHUTDOWN_GRACE_PERIOD=5s"]);
        }
        args.push(image);
        let container = Container::run(&args);
        let url = format!("http://127.0.0.1:{port}");
        let coordinator = Coordinator {
            container,
            url,
            target,
            flavour,
        };
        until_answers(&coordinator.url, flavour, "tpch", Duration::from_secs(300));
        coordinator
    }

    /// The agent in restart mode on this container; its source folder holds `tpch`, adopted.
    fn agent(&self, source: &Path, drain: &str) -> Agent {
        std::fs::write(source.join("tpch.properties"), "connector.name=tpch\n").unwrap();
        let target = self.target.path().display().to_string();
        let mut args = vec![
            "--mode",
            "restart",
            "--target-dir",
            &target,
            "--container",
            self.container.name(),
            "--min-restart-interval",
            "1s",
            "--drain-timeout",
            drain,
            "--start-timeout",
            "240s",
            "--adopt",
        ];
        if self.flavour == Flavour::Presto {
            args.push("--graceful-shutdown");
        }
        Agent::start(source, &self.url, &args)
    }
}

fn restart_mode_adds(s: &Settings, engines: &Engines, flavour: Flavour) -> (Row, Coordinator) {
    let coordinator = Coordinator::start(engines, flavour);
    let staged = StagedFolder::new();
    let agent = coordinator.agent(&staged.folder, &s.drain);
    let scan = match flavour {
        Flavour::Trino => &s.trino_scan,
        Flavour::Presto => &s.presto_scan,
    };
    let workload = Workload::start(&coordinator.url, flavour, s.queries, scan);
    let probe = Probe::start(&coordinator.url, flavour);
    std::thread::sleep(Duration::from_secs(2));
    let mut millis = Vec::new();
    let mut spans = Vec::new();
    for i in 0..s.restarts {
        let name = format!("agent_restart_{i:03}");
        let t0 = Instant::now();
        staged.drop_file(&name, "connector.name=tpch\n");
        until_answers(&coordinator.url, flavour, &name, Duration::from_secs(600));
        millis.push(ms(t0.elapsed()));
        spans.push((t0, Instant::now()));
        std::thread::sleep(Duration::from_secs(2));
    }
    let seen = workload.finish();
    let probes = probe.finish();
    drop(agent);
    let label = match flavour {
        Flavour::Trino => format!(
            "the agent's restart mode, static Trino container (drain up to {}, then docker restart)",
            s.drain
        ),
        Flavour::Presto => format!(
            "the agent's restart mode, PrestoDB 0.296 container (drain up to {}, then the engine's shutdown)",
            s.drain
        ),
    };
    let mut row = row(&label, millis, seen);
    add_outages(&mut row, &probes, &spans);
    (row, coordinator)
}

/// A PrestoDB cluster: a coordinator and two workers (compose/presto-cluster's configuration),
/// one catalog folder shared by every node, a catalog added while the workload runs on the
/// workers. Prints one table row per add.
fn cluster(s: &Settings, engines: &Engines) {
    use test_support::docker::Network;
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let etc = |file: &str| root.join("compose/presto-cluster/etc").join(file);
    let network = Network::create();
    let target = tpch_catalog_dir();
    let port = free_port();
    let node = |role: &str, name: &str, publish: Option<&str>| {
        let config = format!(
            "{}:/opt/presto-server/etc/config.properties:ro",
            etc(&format!("{role}.properties")).display()
        );
        let jvm = format!(
            "{}:/opt/presto-server/etc/jvm.config:ro",
            etc("jvm.config").display()
        );
        let catalogs = format!(
            "{}:/opt/presto-server/etc/catalog:ro",
            target.path().display()
        );
        let mut args = vec![
            "--network",
            network.name(),
            "--network-alias",
            name,
            "--hostname",
            name,
            "--restart",
            "unless-stopped",
            "--no-healthcheck",
            "-v",
            &config,
            "-v",
            &jvm,
            "-v",
            &catalogs,
        ];
        if let Some(publish) = publish {
            args.extend(["-p", publish]);
        }
        args.push(&engines.presto_image);
        Container::run(&args)
    };
    let publish = format!("127.0.0.1:{port}:8080");
    let coordinator = node("coordinator", "coordinator", Some(&publish));
    let workers = [
        node("worker", "worker-1", None),
        node("worker", "worker-2", None),
    ];
    let url = format!("http://127.0.0.1:{port}");
    until_answers(&url, Flavour::Presto, "tpch", Duration::from_secs(600));
    let restarts = || -> Vec<usize> {
        std::iter::once(&coordinator)
            .chain(&workers)
            .map(Container::restart_count)
            .collect()
    };
    // Both workers announced `catalog` to the coordinator's discovery service (the coordinator's
    // own entry is left out: a restarted coordinator's discovery lists stale entries for a while).
    let announced_everywhere = |catalog: &str| -> bool {
        let body: serde_json::Value = http()
            .get(format!("{url}/v1/service/presto"))
            .send()
            .and_then(|r| r.json())
            .unwrap_or_default();
        let services = body["services"].as_array().cloned().unwrap_or_default();
        ["worker-1", "worker-2"].iter().all(|worker| {
            services.iter().any(|s| {
                s["nodeId"] == *worker
                    && s["properties"]["connectorIds"]
                        .as_str()
                        .unwrap_or_default()
                        .split(',')
                        .any(|id| id == catalog)
            })
        })
    };

    let staged = StagedFolder::new();
    let folder = &staged.folder;
    std::fs::write(folder.join("tpch.properties"), "connector.name=tpch\n").unwrap();
    let target_arg = target.path().display().to_string();
    let log =
        std::env::temp_dir().join(format!("compare-cluster-agent-{}.log", std::process::id()));
    let _ = std::fs::remove_file(&log);
    let agent = Agent::start_logging(
        folder,
        &url,
        &[
            "--mode",
            "restart",
            "--engine",
            "presto",
            "--target-dir",
            &target_arg,
            "--restart-method",
            "engine-shutdown",
            "--min-restart-interval",
            "1s",
            "--drain-timeout",
            &s.drain,
            "--start-timeout",
            "300s",
            "--adopt",
        ],
        &log,
    );
    let workload = Workload::start(&url, Flavour::Presto, s.queries, &s.presto_scan);
    let probe = Probe::start(&url, Flavour::Presto);
    std::thread::sleep(Duration::from_secs(2));
    let mut answers = Vec::new();
    let mut everywhere = Vec::new();
    let mut spans = Vec::new();
    for i in 0..s.cluster_adds {
        let name = format!("cluster_{i:03}");
        let t0 = Instant::now();
        staged.drop_file(&name, "connector.name=tpch\n");
        until_answers(&url, Flavour::Presto, &name, Duration::from_secs(1200));
        answers.push(ms(t0.elapsed()));
        while !announced_everywhere(&name) {
            assert!(
                t0.elapsed() < Duration::from_secs(1200),
                "{name} never announced everywhere"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        everywhere.push(ms(t0.elapsed()));
        spans.push((t0, Instant::now()));
        std::thread::sleep(Duration::from_secs(2));
    }
    let seen = workload.finish();
    let probes = probe.finish();
    drop(agent);
    // The coordinator's turn begins with its drain or, when nothing runs, its shutdown (the
    // agent's log): queries cut off before that were cut off by the workers' roll.
    let coordinator_turns: Vec<SystemTime> = std::fs::read_to_string(&log)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|l| {
            let message = l["message"].as_str().unwrap_or_default();
            message.starts_with("waiting for running queries to finish before restarting")
                || message.starts_with("asked the coordinator to shut down")
        })
        .filter_map(|l| humantime::parse_rfc3339(l["timestamp"].as_str()?).ok())
        .collect();
    let _ = std::fs::remove_file(&log);
    let wall = |at: Instant| SystemTime::now() - at.elapsed();
    let in_roll = seen
        .cut_off_at
        .iter()
        .filter(|&&at| {
            spans.iter().any(|&(t0, end)| {
                let (from, to) = (wall(t0), wall(end));
                let turn = coordinator_turns
                    .iter()
                    .copied()
                    .filter(|&c| c >= from && c <= to)
                    .min()
                    .unwrap_or(to);
                at >= from && at < turn
            })
        })
        .count();
    let mut row = row(
        "the agent on a PrestoDB 0.296 cluster (coordinator + 2 workers, engine shutdown, no socket)",
        answers,
        seen,
    );
    add_outages(&mut row, &probes, &spans);
    println!(
        "| cluster | adds | catalog answers p50 | both workers announce it p50 | restarts [coordinator, worker-1, worker-2] | queries finished | refused | cut off during the workers' roll | cut off at the coordinator's turn | no query accepted p50 |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    println!(
        "| {} | {} | {:.1} s | {:.1} s | {:?} | {} | {} | {} | {} | {} |",
        row.approach,
        row.adds,
        row.p50_ms / 1000.0,
        p50(everywhere).unwrap_or_default() / 1000.0,
        restarts(),
        row.seen.finished,
        row.seen.refused,
        in_roll,
        row.seen.cut_off - in_roll,
        row.unavailable_ms
            .map_or_else(|| "-".to_string(), |v| format!("{:.1} s", v / 1000.0)),
    );
    for e in &row.seen.errors {
        println!("  {e}");
    }
    drop(workers);
    drop(coordinator);
}

fn print_rows(s: &Settings, rows: &[Row]) {
    println!(
        "| {} queries running | adds | new catalog answers, p50 | p99 | file → CREATE received, p50 | queries finished (p50 time) | refused (never ran) | cut off (were running) | until the restart began, p50 | no query accepted, p50 per add |",
        s.queries
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    let secs = |v: Option<f64>| v.map_or("—".to_string(), |v| format!("{:.1} s", v / 1000.0));
    for r in rows {
        println!(
            "| {} | {} | {:.0} ms | {:.0} ms | {} | {} ({}) | **{}** | **{}** | {} | {} |",
            r.approach,
            r.adds,
            r.p50_ms,
            r.p99_ms,
            r.received_p50_ms
                .map_or("—".to_string(), |v| format!("{v:.1} ms")),
            r.seen.finished,
            secs(p50(r.seen.query_ms.clone())),
            r.seen.refused,
            r.seen.cut_off,
            secs(r.wait_before_ms),
            secs(r.unavailable_ms),
        );
    }
    for r in rows {
        for e in &r.seen.errors {
            println!("\n{}: a failed query: {e}", r.approach);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Scale, burst, footprint

fn scale(s: &Settings, engines: &Engines) {
    println!(
        "| catalogs | cold start → all applied | of which Trino's CREATEs | agent CPU | agent RSS | one change: file → CREATE received, p50 / p99 | → the catalog answers, p50 / p99 |"
    );
    println!("|---|---|---|---|---|---|---|");
    for &n in &s.scale {
        let trino = Trino::dynamic()
            .memory_store()
            .config("query.max-history=5000")
            .start(engines);
        let staged = StagedFolder::new();
        let folder = &staged.folder;
        let names: Vec<String> = (0..n).map(|i| format!("scale_{i:05}")).collect();
        for (i, name) in names.iter().enumerate() {
            let connector = if i % 2 == 0 { "tpch" } else { "memory" };
            std::fs::write(
                folder.join(format!("{name}.properties")),
                format!("connector.name={connector}\n"),
            )
            .unwrap();
        }
        let t0 = Instant::now();
        let agent = Agent::spawn(folder, &trino.url(), &["--max-changes-per-minute", "0"]);
        agent.wait_applied(&names, Duration::from_secs(900));
        let converged = t0.elapsed();
        let cpu = ticks_to_seconds(proc_sample(agent.pid()).cpu_ticks);
        let rss = rss_kib(agent.pid()) as f64 / 1024.0;
        let history = creates(&trino.url());
        let trino_share: f64 = names
            .iter()
            .filter_map(|n| history.get(n))
            .map(|c| c.2)
            .sum();
        let (mut received, mut answered) = (Vec::new(), Vec::new());
        let mut dropped = Vec::new();
        for i in 0..s.scale_changes {
            let name = format!("scale_change_{i:03}");
            let t0 = staged.drop_file(&name, "connector.name=tpch\n");
            let took = until_answers(&trino.url(), Flavour::Trino, &name, Duration::from_secs(60));
            answered.push(ms(took));
            dropped.push((name, t0));
            std::thread::sleep(Duration::from_millis(50));
        }
        let history = creates(&trino.url());
        for (name, t0) in &dropped {
            if let Some(c) = history.get(name) {
                received.push(c.0 - t0);
            }
        }
        let spread = |mut v: Vec<f64>| {
            v.sort_by(f64::total_cmp);
            format!(
                "{:.1} / {:.1} ms",
                percentile(&v, 50.0),
                percentile(&v, 99.0)
            )
        };
        println!(
            "| {n} | {:.2} s | {:.2} s | {cpu:.2} s | {rss:.1} MiB | {} | {} |",
            converged.as_secs_f64(),
            trino_share / 1000.0,
            spread(received),
            spread(answered),
        );
        drop(agent);
        drop(staged);
    }
    println!();
}

/// `COMPARE_BURST` files in about a second on a dynamic Trino; (CREATEs Trino received,
/// distinct, seconds to all applied, the agent, its folder).
fn burst(s: &Settings, trino: &RealEngine) -> (usize, usize, f64, Agent, StagedFolder) {
    let staged = StagedFolder::new();
    let agent = Agent::start(
        &staged.folder,
        &trino.url(),
        &["--max-changes-per-minute", "0"],
    );
    let names: Vec<String> = (0..s.burst).map(|i| format!("burst_{i:04}")).collect();
    let took = rename_burst(&staged, &names, &agent);
    let creates: Vec<String> = trino
        .history()
        .into_iter()
        .filter(|q| q.query.starts_with("CREATE CATALOG \"burst_"))
        .map(|q| q.query)
        .collect();
    let distinct: std::collections::BTreeSet<&String> = creates.iter().collect();
    let distinct = distinct.len();
    (creates.len(), distinct, took, agent, staged)
}

/// Renames `names` into the folder spread over about a second, then waits until the agent says
/// every one is applied; the seconds from the first rename.
fn rename_burst(staged: &StagedFolder, names: &[String], agent: &Agent) -> f64 {
    for name in names {
        staged.stage(name, "connector.name=tpch\n");
    }
    let pause = Duration::from_secs(1) / names.len().max(1) as u32;
    let t0 = Instant::now();
    for name in names {
        staged.rename_in(name);
        std::thread::sleep(pause);
    }
    agent.wait_applied(names, Duration::from_secs(1800));
    t0.elapsed().as_secs_f64()
}

fn presto_burst(s: &Settings, coordinator: &Coordinator) {
    let staged = StagedFolder::new();
    let agent = coordinator.agent(&staged.folder, &s.drain);
    let names: Vec<String> = (0..s.presto_burst)
        .map(|i| format!("pburst_{i:04}"))
        .collect();
    let since = unix_secs();
    let took = rename_burst(&staged, &names, &agent);
    let restarts = coordinator.container.starts_since(since);
    let listed = test_support::emulator::user_catalogs(&coordinator.url, Flavour::Presto)
        .unwrap_or_default()
        .iter()
        .filter(|c| c.starts_with("pburst_"))
        .count();
    println!(
        "| {} files renamed in ~1 s, PrestoDB 0.296, restart mode | {} | restarts: **{restarts}** | catalogs listed: {listed} | {took:.1} s |",
        s.presto_burst, s.presto_burst
    );
    drop(agent);
}

fn footprint(s: &Settings, agent: &Agent, trino: &RealEngine) {
    let trino_pid = trino.pid().expect("Trino runs");
    let (agent_before, trino_before) = (proc_sample(agent.pid()), proc_sample(trino_pid));
    let idle = if s.smoke { 5 } else { 60 };
    std::thread::sleep(Duration::from_secs(idle));
    let (agent_after, trino_after) = (proc_sample(agent.pid()), proc_sample(trino_pid));
    let binary = std::fs::metadata(common::agent_binary()).map_or(0, |m| m.len());
    let musl = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target/x86_64-unknown-linux-musl/image/catalog-reloader");
    let musl = std::fs::metadata(musl).map_or("not built".to_string(), |m| {
        format!("{:.1} MiB", m.len() as f64 / 1048576.0)
    });
    let image = docker_output(&[
        "image",
        "inspect",
        "-f",
        "{{.Size}}",
        "catalog-reloader-test/agent:latest",
    ]);
    let image = String::from_utf8_lossy(&image.stdout)
        .trim()
        .parse::<f64>()
        .map_or("not built (tests/ship.rs builds it)".to_string(), |b| {
            format!("{:.1} MB", b / 1e6)
        });
    let trino_image = docker_ok(&[
        "image",
        "inspect",
        "-f",
        "{{.Size}}",
        "catalog-reloader-test/trino:476",
    ])
    .parse::<f64>()
    .map_or("—".to_string(), |b| format!("{:.0} MB", b / 1e6));
    println!(
        "| idle {idle} s, {} catalogs | RSS | CPU | wake-ups (context switches) per minute | threads | binary | image |",
        s.burst + 1
    );
    println!("|---|---|---|---|---|---|---|");
    let row = |who: &str, before: &ProcSample, after: &ProcSample, rss: String, rest: String| {
        println!(
            "| {who} | {rss} | {:.2} s | {:.0} | {} | {rest} |",
            ticks_to_seconds(after.cpu_ticks.saturating_sub(before.cpu_ticks)),
            after
                .context_switches
                .saturating_sub(before.context_switches) as f64
                * 60.0
                / idle as f64,
            after.threads,
        );
    };
    row(
        "the agent",
        &agent_before,
        &agent_after,
        format!("{:.1} MiB", agent_after.rss_kib as f64 / 1024.0),
        format!(
            "{:.1} MiB (this build), {musl} (static musl, the image's) | {image}",
            binary as f64 / 1048576.0
        ),
    );
    row(
        "the Trino 476 JVM beside it",
        &trino_before,
        &trino_after,
        format!("{:.0} MiB", trino_after.rss_kib as f64 / 1024.0),
        format!("— | {trino_image}"),
    );
}

fn main() {
    let s = Settings::from_env();
    let engines = Engines::load().expect("the real engines (./scripts/engines.sh all)");
    let mut rows = Vec::new();
    let mut presto = None;
    let started = Instant::now();

    let trino = Trino::dynamic()
        .memory_store()
        .config("query.max-history=5000")
        .start(&engines);
    trino.query("CREATE CATALOG tpch USING tpch").unwrap();
    if s.part("dynamic") {
        rows.push(agent_adds(&s, &trino));
        rows.push(by_hand_adds(&s, &trino));
        rows.push(restart_by_hand(&s, &engines));
    }
    if s.part("restart") {
        let (row, trino_container) = restart_mode_adds(&s, &engines, Flavour::Trino);
        drop(trino_container); // not beside the PrestoDB run
        rows.push(row);
        let (row, coordinator) = restart_mode_adds(&s, &engines, Flavour::Presto);
        rows.push(row);
        presto = Some(coordinator);
    }
    if !rows.is_empty() {
        print_rows(&s, &rows);
        println!();
    }
    if s.part("cluster") {
        drop(presto.take()); // not beside the cluster
        cluster(&s, &engines);
        println!();
    }
    if s.part("scale") {
        scale(&s, &engines);
    }
    if s.part("burst") {
        let (creates, distinct, took, agent, _folder) = burst(&s, &trino);
        println!("| burst | files | what the engine saw | | all applied after |");
        println!("|---|---|---|---|---|");
        println!(
            "| {} files renamed in ~1 s, dynamic Trino 476 | {} | CREATEs received: **{creates}** | distinct: {distinct} | {took:.1} s |",
            s.burst, s.burst
        );
        assert_eq!(creates, s.burst, "one CREATE per file");
        assert_eq!(distinct, s.burst);
        let coordinator = presto
            .take()
            .unwrap_or_else(|| Coordinator::start(&engines, Flavour::Presto));
        presto_burst(&s, &coordinator);
        println!();
        footprint(&s, &agent, &trino);
    }
    println!(
        "\n(the whole run: {:.1} min)",
        started.elapsed().as_secs_f64() / 60.0
    );
    if !rows.is_empty() {
        write_csv_and_plot(&rows, s.smoke);
    }
}

fn write_csv_and_plot(rows: &[Row], smoke: bool) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = root.join("target/compare");
    std::fs::create_dir_all(&out).unwrap();
    let csv = out.join("compare.csv");
    let mut text = String::from(
        "approach,adds,p50_ms,p99_ms,queries_ok,queries_refused,queries_cut_off,queries_failed,unavailable_ms\n",
    );
    for r in rows {
        text.push_str(&format!(
            "\"{}\",{},{:.1},{:.1},{},{},{},{},{}\n",
            r.approach,
            r.adds,
            r.p50_ms,
            r.p99_ms,
            r.seen.finished,
            r.seen.refused,
            r.seen.cut_off,
            r.seen.refused + r.seen.cut_off,
            r.unavailable_ms
                .map_or(String::new(), |v| format!("{v:.0}")),
        ));
    }
    std::fs::write(&csv, text).unwrap();
    let png = if smoke || rows.len() < 5 {
        out.join("compare.png")
    } else {
        root.join("docs/compare.png")
    };
    let python = test_support::python::python_with_plotting();
    let status = std::process::Command::new(python)
        .arg(root.join("benches/compare_plot.py"))
        .arg(&csv)
        .arg(&png)
        .status()
        .expect("run the plot script");
    assert!(status.success(), "the plot script failed");
    println!("\nraw figures: {}; plot: {}", csv.display(), png.display());
}
