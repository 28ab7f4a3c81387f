//! Side by side on the real Trino 476 (issue 15): what users do today when a catalog is added,
//! against the agent, with queries running on other catalogs the whole time.
//!
//! 1. **Adds under load**: `COMPARE_QUERIES` (20) clients loop `SELECT count(*) FROM
//!    tpch.sf1.orders` while catalogs are added, `COMPARE_ADDS` (50) at a time each way:
//!    * the agent on a dynamic Trino: a file renamed into the folder → the new catalog answers;
//!    * by hand: `CREATE CATALOG` over the HTTP API → the new catalog answers (the floor);
//!    * a static Trino restarted by hand, as users do (`COMPARE_RESTARTS`, 3): the file written
//!      into `etc/catalog`, the coordinator stopped and started → the new catalog answers.
//!
//!    For each: time to the new catalog answering (p50/p99), queries failed, and for the restart
//!    how long no query was accepted.
//! 2. **Burst**: `COMPARE_BURST` (1,000) files renamed into the folder within about a second:
//!    the CREATEs Trino received (exactly one each), time until all answer.
//! 3. **Footprint** after the burst: the agent's binary, RSS and CPU, against the Trino JVM's.
//!
//! Run: `cargo bench --bench compare` (about 10 minutes; figures go into BENCHMARKS.md by hand).
//! It writes `target/compare/compare.csv` and, with matplotlib (installed into the test venv on
//! first use), the plot `docs/compare.png`. `COMPARE_SMOKE=1` runs everything small and fast
//! (tiny scans, 3 adds, 1 restart, 50 files), as `scripts/test.sh` does so the harness cannot rot.

mod common;

use common::{Agent, percentile, proc_ticks, rss_kib, ticks_to_seconds};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use test_support::emulator::{Flavour, run_query};
use test_support::real::{Engines, RunningTrino, Trino};

struct Settings {
    smoke: bool,
    queries: usize,
    adds: usize,
    restarts: usize,
    burst: usize,
    scan: &'static str,
}

impl Settings {
    fn from_env() -> Settings {
        let smoke = std::env::var("COMPARE_SMOKE").is_ok_and(|v| v == "1");
        let number = |name: &str, full: usize, small: usize| {
            std::env::var(name)
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(if smoke { small } else { full })
        };
        Settings {
            smoke,
            queries: number("COMPARE_QUERIES", 20, 4),
            adds: number("COMPARE_ADDS", 50, 3),
            restarts: number("COMPARE_RESTARTS", 3, 1),
            burst: number("COMPARE_BURST", 1000, 50),
            scan: if smoke {
                "SELECT count(*) FROM tpch.tiny.orders"
            } else {
                "SELECT count(*) FROM tpch.sf1.orders"
            },
        }
    }
}

/// Clients running the scan in a loop until stopped; what they saw. A client whose query fails
/// (cut off, refused, failed by a coordinator still starting) counts one failure and, as a job
/// scheduler would, waits until the coordinator serves again before its next query; the time
/// without a coordinator is reported on its own.
struct Workload {
    stop: Arc<AtomicBool>,
    ok: Arc<AtomicUsize>,
    failed: Arc<AtomicUsize>,
    errors: Arc<std::sync::Mutex<Vec<String>>>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Workload {
    fn start(url: &str, clients: usize, sql: &'static str) -> Workload {
        let stop = Arc::new(AtomicBool::new(false));
        let ok = Arc::new(AtomicUsize::new(0));
        let failed = Arc::new(AtomicUsize::new(0));
        let errors = Arc::new(std::sync::Mutex::new(Vec::new()));
        let threads = (0..clients)
            .map(|_| {
                let (stop, ok, failed, errors) = (
                    Arc::clone(&stop),
                    Arc::clone(&ok),
                    Arc::clone(&failed),
                    Arc::clone(&errors),
                );
                let url = url.to_string();
                std::thread::spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        match run_query(&url, Flavour::Trino, "workload", sql) {
                            Ok(_) => {
                                ok.fetch_add(1, Ordering::Relaxed);
                            }
                            Err(e) => {
                                failed.fetch_add(1, Ordering::Relaxed);
                                errors.lock().unwrap().push(e.to_string());
                                wait_until_serving(&url, &stop);
                            }
                        }
                    }
                })
            })
            .collect();
        Workload {
            stop,
            ok,
            failed,
            errors,
            threads,
        }
    }

    /// Stops the clients (each finishes its query) and returns (finished, failed, a few errors).
    fn finish(self) -> (usize, usize, Vec<String>) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads {
            let _ = t.join();
        }
        let mut errors = self.errors.lock().unwrap().clone();
        errors.sort();
        errors.dedup();
        errors.truncate(3);
        (
            self.ok.load(Ordering::Relaxed),
            self.failed.load(Ordering::Relaxed),
            errors,
        )
    }
}

/// Until `GET /v1/info` says the coordinator has started (and a second more, for its node to
/// register), or `stop`.
fn wait_until_serving(url: &str, stop: &AtomicBool) {
    let http = common::http();
    while !stop.load(Ordering::Relaxed) {
        let started = http
            .get(format!("{url}/v1/info"))
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

/// Polls a query through `catalog` every 5 ms until it answers; the time that took.
fn until_answers(trino: &RunningTrino, catalog: &str, limit: Duration) -> Duration {
    let started = Instant::now();
    let sql = format!("SELECT count(*) FROM \"{catalog}\".tiny.nation");
    while started.elapsed() < limit {
        if trino.query(&sql).is_ok() {
            return started.elapsed();
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    panic!("{catalog} did not answer within {limit:?}");
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// One row of the comparison.
struct Row {
    approach: String,
    adds: usize,
    p50_ms: f64,
    p99_ms: f64,
    queries_ok: usize,
    queries_failed: usize,
    /// How long no query was accepted, per add (restart only).
    unavailable_ms: Option<f64>,
    errors: Vec<String>,
}

fn row(
    approach: &str,
    mut millis: Vec<f64>,
    workload: (usize, usize, Vec<String>),
    unavailable: Option<Vec<f64>>,
) -> Row {
    millis.sort_by(f64::total_cmp);
    Row {
        approach: approach.to_string(),
        adds: millis.len(),
        p50_ms: percentile(&millis, 50.0),
        p99_ms: percentile(&millis, 99.0),
        queries_ok: workload.0,
        queries_failed: workload.1,
        unavailable_ms: unavailable.map(|mut u| {
            u.sort_by(f64::total_cmp);
            percentile(&u, 50.0)
        }),
        errors: workload.2,
    }
}

fn agent_adds(s: &Settings, trino: &RunningTrino) -> Row {
    let root = tempfile::tempdir().unwrap();
    let (folder, staging) = (root.path().join("catalogs"), root.path().join("staging"));
    std::fs::create_dir(&folder).unwrap();
    std::fs::create_dir(&staging).unwrap();
    let agent = Agent::start(&folder, &trino.url(), &[]);
    let workload = Workload::start(&trino.url(), s.queries, s.scan);
    std::thread::sleep(Duration::from_secs(1));
    let mut millis = Vec::new();
    for i in 0..s.adds {
        let name = format!("agent_add_{i:03}");
        let staged = staging.join(format!("{name}.properties"));
        std::fs::write(&staged, "connector.name=tpch\n").unwrap();
        let t0 = Instant::now();
        std::fs::rename(&staged, folder.join(format!("{name}.properties"))).unwrap();
        until_answers(trino, &name, Duration::from_secs(60));
        millis.push(ms(t0.elapsed()));
    }
    let seen = workload.finish();
    drop(agent);
    row(
        "the agent, dynamic Trino (file renamed into the folder, default 200 ms debounce)",
        millis,
        seen,
        None,
    )
}

fn by_hand_adds(s: &Settings, trino: &RunningTrino) -> Row {
    let workload = Workload::start(&trino.url(), s.queries, s.scan);
    std::thread::sleep(Duration::from_secs(1));
    let mut millis = Vec::new();
    for i in 0..s.adds {
        let name = format!("hand_add_{i:03}");
        let t0 = Instant::now();
        trino
            .query(&format!("CREATE CATALOG \"{name}\" USING tpch"))
            .unwrap();
        until_answers(trino, &name, Duration::from_secs(60));
        millis.push(ms(t0.elapsed()));
    }
    row(
        "by hand: CREATE CATALOG over the HTTP API, dynamic Trino (the floor)",
        millis,
        workload.finish(),
        None,
    )
}

fn restart_adds(s: &Settings, engines: &Engines) -> Row {
    let mut trino = Trino::static_catalogs()
        .catalog("tpch", "connector.name=tpch\n")
        .start(engines);
    let workload = Workload::start(&trino.url(), s.queries, s.scan);
    std::thread::sleep(Duration::from_secs(1));
    let mut millis = Vec::new();
    let mut unavailable = Vec::new();
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
        until_answers(&trino, &name, Duration::from_secs(120));
        millis.push(ms(t0.elapsed()));
        // Until the coordinator accepts queries again: the same moment here (the new catalog's
        // first query is the first one it takes).
        unavailable.push(ms(t0.elapsed()));
        std::thread::sleep(Duration::from_secs(2));
    }
    row(
        "by hand: static Trino, file into etc/catalog, coordinator restarted",
        millis,
        workload.finish(),
        Some(unavailable),
    )
}

/// `COMPARE_BURST` files in about a second; (CREATEs Trino received, distinct, seconds to all
/// answering).
fn burst(s: &Settings, trino: &RunningTrino) -> (usize, usize, f64, Agent) {
    let root = tempfile::tempdir().unwrap();
    let (folder, staging) = (root.path().join("catalogs"), root.path().join("staging"));
    std::fs::create_dir(&folder).unwrap();
    std::fs::create_dir(&staging).unwrap();
    let agent = Agent::start(&folder, &trino.url(), &["--max-changes-per-minute", "0"]);
    let names: Vec<String> = (0..s.burst).map(|i| format!("burst_{i:04}")).collect();
    for name in &names {
        std::fs::write(
            staging.join(format!("{name}.properties")),
            "connector.name=tpch\n",
        )
        .unwrap();
    }
    let pause = Duration::from_secs(1) / s.burst as u32;
    let t0 = Instant::now();
    for name in &names {
        let file = format!("{name}.properties");
        std::fs::rename(staging.join(&file), folder.join(&file)).unwrap();
        std::thread::sleep(pause);
    }
    agent.wait(Duration::from_secs(600), |status| {
        names
            .iter()
            .all(|n| status["catalogs"][n]["state"] == "applied")
    });
    let took = t0.elapsed().as_secs_f64();
    let creates: Vec<String> = trino
        .history()
        .into_iter()
        .filter(|q| q.query.starts_with("CREATE CATALOG \"burst_"))
        .map(|q| q.query)
        .collect();
    let distinct: std::collections::BTreeSet<&String> = creates.iter().collect();
    std::mem::forget(root); // the agent still watches it for the footprint
    (creates.len(), distinct.len(), took, agent)
}

fn main() {
    let s = Settings::from_env();
    let engines = Engines::load().expect("the real engines (./scripts/engines.sh trino)");
    let trino = Trino::dynamic().memory_store().start(&engines);
    trino.query("CREATE CATALOG tpch USING tpch").unwrap();

    let rows = vec![
        agent_adds(&s, &trino),
        by_hand_adds(&s, &trino),
        restart_adds(&s, &engines),
    ];
    println!(
        "| {} queries running | adds | new catalog answers, p50 | p99 | queries finished | queries failed | no query accepted, per add |",
        s.queries
    );
    println!("|---|---|---|---|---|---|---|");
    for r in &rows {
        println!(
            "| {} | {} | {:.0} ms | {:.0} ms | {} | **{}** | {} |",
            r.approach,
            r.adds,
            r.p50_ms,
            r.p99_ms,
            r.queries_ok,
            r.queries_failed,
            r.unavailable_ms
                .map_or("—".to_string(), |u| format!("{:.1} s", u / 1000.0)),
        );
    }
    for r in &rows {
        for e in &r.errors {
            println!("\n{}: a failed query said: {e}", r.approach);
        }
    }

    let (creates, distinct, took, agent) = burst(&s, &trino);
    println!();
    println!("| burst | files | CREATEs Trino received | distinct | all answering after |");
    println!("|---|---|---|---|---|");
    println!(
        "| {} files renamed in ~1 s, dynamic Trino | {} | **{creates}** | {distinct} | {took:.1} s |",
        s.burst, s.burst
    );
    assert_eq!(creates, s.burst, "one CREATE per file");
    assert_eq!(distinct, s.burst);

    // Footprint, with the burst's catalogs: the agent against the JVM it serves.
    let agent_cpu_before = proc_ticks(agent.pid());
    let trino_pid = trino.pid().expect("Trino runs");
    let trino_cpu_before = proc_ticks(trino_pid);
    let idle = if s.smoke { 5 } else { 60 };
    std::thread::sleep(Duration::from_secs(idle));
    let binary = std::fs::metadata(common::agent_binary()).map_or(0, |m| m.len());
    println!();
    println!(
        "| idle {idle} s, {} catalogs | RSS | CPU | binary |",
        s.burst + 1
    );
    println!("|---|---|---|---|");
    println!(
        "| the agent | {:.1} MiB | {:.2} s | {:.1} MiB |",
        rss_kib(agent.pid()) as f64 / 1024.0,
        ticks_to_seconds(proc_ticks(agent.pid()) - agent_cpu_before),
        binary as f64 / 1024.0 / 1024.0
    );
    println!(
        "| the Trino 476 JVM | {:.0} MiB | {:.2} s | — |",
        rss_kib(trino_pid) as f64 / 1024.0,
        ticks_to_seconds(proc_ticks(trino_pid) - trino_cpu_before),
    );
    drop(agent);

    write_csv_and_plot(&rows, s.smoke);
}

fn write_csv_and_plot(rows: &[Row], smoke: bool) {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = root.join("target/compare");
    std::fs::create_dir_all(&out).unwrap();
    let csv = out.join("compare.csv");
    let mut text = String::from("approach,adds,p50_ms,p99_ms,queries_ok,queries_failed\n");
    for r in rows {
        text.push_str(&format!(
            "\"{}\",{},{:.1},{:.1},{},{}\n",
            r.approach, r.adds, r.p50_ms, r.p99_ms, r.queries_ok, r.queries_failed
        ));
    }
    std::fs::write(&csv, text).unwrap();
    let png = if smoke {
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
