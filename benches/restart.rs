//! Whole-process benchmark of restart mode against the real Docker engine: the emulator's PrestoDB
//! image as the coordinator container, the release agent as a host process.
//!
//! 1. Overhead per restart: a file renamed into the folder → the coordinator lists the new catalog
//!    (polled every 10 ms through the client protocol), minus the coordinator's own restart time
//!    (the same Docker API restart, issued directly, until `/v1/info` says `starting:false`).
//! 2. Restarts per burst: 100 files renamed in as fast as possible → how many times Docker started
//!    the container (its event log).
//!
//! Run: `cargo bench --bench restart` (needs Docker; builds the emulator image like the tests do).
//! `RESTART_ROUNDS` overrides the number of timed restarts (default 10).

use bollard::Docker;
use bollard::query_parameters::RestartContainerOptionsBuilder;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use test_support::docker::{Container, Flavour, emulator_image};
use test_support::emulator::run_query;
use test_support::free_port;

const AGENT: &str = env!("CARGO_BIN_EXE_catalog-reloader");

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn lists(url: &str, catalog: &str) -> bool {
    run_query(url, Flavour::Presto, "bench", "SHOW CATALOGS")
        .is_ok_and(|o| o.rows.iter().any(|r| r[0] == catalog))
}

/// When the coordinator process started (Unix seconds, from its uptime), if it answers and is not
/// starting. Watching it is not a query, so it does not hold up the agent's drain (a poller
/// sending SHOW CATALOGS every 10 ms would always have one running).
fn started_at(url: &str) -> Option<f64> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let info: catalog_reloader::engine::ServerInfo =
        reqwest::blocking::get(format!("{url}/v1/info"))
            .ok()?
            .json()
            .ok()?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .ok()?
        .as_secs_f64();
    (!info.starting)
        .then(|| info.uptime_seconds())
        .flatten()
        .map(|u| now - u)
}

fn ready(url: &str) -> bool {
    test_support::emulator::run_query(url, Flavour::Presto, "bench", "SELECT 1").is_ok()
}

fn wait(timeout: Duration, what: &str, mut ok: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ok() {
        assert!(start.elapsed() < timeout, "timed out: {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

struct Agent(Child);

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn main() {
    let rounds: usize = std::env::var("RESTART_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    let image = emulator_image(Flavour::Presto);
    let root = tempfile::tempdir().unwrap();
    let (source, staging, target) = (
        root.path().join("source"),
        root.path().join("staging"),
        root.path().join("target"),
    );
    for d in [&source, &staging, &target] {
        std::fs::create_dir(d).unwrap();
    }
    let port = free_port();
    let coordinator = Container::run(&[
        "-p",
        &format!("127.0.0.1:{port}:8080"),
        "-v",
        &format!("{}:/opt/presto-server/etc/catalog", target.display()),
        &image,
    ]);
    let url = format!("http://127.0.0.1:{port}");
    wait(Duration::from_secs(60), "the coordinator", || ready(&url));

    // The coordinator's own restart time: the same API call the agent makes, observed the same
    // way (polling /v1/info every 10 ms until the uptime resets — that load slows Docker's stop and
    // start too, so both sides carry it).
    let docker = Docker::connect_with_defaults().unwrap();
    let mut own = Vec::new();
    for _ in 0..rounds {
        let before = started_at(&url).expect("the coordinator is up");
        let t0 = Instant::now();
        let (docker, name) = (docker.clone(), coordinator.name().to_string());
        let restart = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            let result = runtime.block_on(docker.restart_container(
                &name,
                Some(RestartContainerOptionsBuilder::default().t(30).build()),
            ));
            result.expect("Docker restarts the coordinator");
        });
        wait(Duration::from_secs(60), "restarted", || {
            started_at(&url).is_some_and(|s| s > before + 0.1)
        });
        own.push(t0.elapsed().as_secs_f64() * 1000.0);
        restart.join().unwrap();
    }

    let agent = Agent(
        Command::new(AGENT)
            .args(["run", "--catalog-dir"])
            .arg(&source)
            .args(["--server", &url, "--target-dir"])
            .arg(&target)
            .args([
                "--container",
                coordinator.name(),
                "--min-restart-interval",
                "0",
                "--listen",
                &format!("127.0.0.1:{}", free_port()),
            ])
            .args(["--log-format", "json"])
            .stdout(Stdio::null())
            .stderr(match std::env::var_os("BENCH_AGENT_LOG") {
                Some(path) => Stdio::from(std::fs::File::create(path).unwrap()),
                None => Stdio::null(),
            })
            .spawn()
            .unwrap(),
    );
    std::thread::sleep(Duration::from_secs(1));

    let mut total = Vec::new();
    for i in 0..rounds {
        let name = format!("r{i:02}");
        let staged = staging.join(format!("{name}.properties"));
        std::fs::write(&staged, "connector.name=tpch\n").unwrap();
        let before = started_at(&url).expect("the coordinator is up");
        let t0 = Instant::now();
        std::fs::rename(&staged, source.join(format!("{name}.properties"))).unwrap();
        wait(Duration::from_secs(60), "the restart", || {
            started_at(&url).is_some_and(|s| s > before + 0.1)
        });
        wait(Duration::from_secs(60), "the new catalog", || {
            lists(&url, &name)
        });
        total.push(t0.elapsed().as_secs_f64() * 1000.0);
        std::thread::sleep(Duration::from_millis(300));
    }
    let (own_ms, total_ms) = (median(own), median(total));
    println!("| measure | median |");
    println!("|---|---|");
    println!(
        "| coordinator's own restart (Docker API restart → `/v1/info` ready, polled every 10 ms), {rounds} rounds | {own_ms:.0} ms |"
    );
    println!(
        "| change → catalog listed by the restarted coordinator (default 200ms debounce), {rounds} rounds | {total_ms:.0} ms |"
    );
    println!(
        "| **agent overhead per restart** (difference) | **{:.0} ms** |",
        total_ms - own_ms
    );

    // A burst of 100 changes.
    let since = now_secs();
    for i in 0..100 {
        let name = format!("b{i:03}");
        let staged = staging.join(format!("{name}.properties"));
        std::fs::write(&staged, "connector.name=memory\n").unwrap();
        std::fs::rename(&staged, source.join(format!("{name}.properties"))).unwrap();
    }
    wait(Duration::from_secs(120), "all 100 catalogs", || {
        run_query(&url, Flavour::Presto, "bench", "SHOW CATALOGS").is_ok_and(|o| {
            o.rows
                .iter()
                .filter(|r| r[0].as_str().is_some_and(|n| n.starts_with('b')))
                .count()
                == 100
        })
    });
    std::thread::sleep(Duration::from_secs(3));
    let starts = coordinator.starts_since(since);
    println!("| restarts for a burst of 100 new files | {starts} |");
    drop(agent);
}
