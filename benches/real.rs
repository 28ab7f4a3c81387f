//! Whole-process benchmark on the real engines (`scripts/engines.sh` fetches and builds them):
//!
//! 1. Trino 476, dynamic (a host process, memory store), with the agent's release build: a file
//!    renamed into the folder → Trino received the `CREATE CATALOG` (its query history's create
//!    time) → the `CREATE` finished → a `SELECT` through the new catalog answered. With the
//!    default debounce and with `--debounce 0`; Trino's own `CREATE CATALOG` time from the same
//!    history, and the same statement sent by hand with the agent's client for comparison.
//! 2. Restart mode on containers (PrestoDB 0.296, Trino 476 static): a file written → Docker
//!    restarted the container → `/v1/info` said `starting: false` → the agent said `applied`
//!    (it checks that a query through the catalog answers) → a `SELECT` of ours answered.
//! 3. Start times and image sizes.
//!
//! Run: `cargo bench --bench real` (figures go into BENCHMARKS.md by hand). `REAL_CHANGES`
//! (default 200) and `RESTART_CHANGES` (default 3) set the counts; `REAL_PARTS=trino,restart,start`
//! picks parts.

mod common;

use common::{Agent, StagedFolder, by_hand, creates, http, iso_ms, now_ms, percentile};
use std::time::{Duration, Instant};
use test_support::docker::{Container, Flavour, docker_ok};
use test_support::emulator::run_query;
use test_support::free_port;
use test_support::real::{Engines, Trino};

fn summary(mut values: Vec<f64>) -> String {
    values.sort_by(f64::total_cmp);
    format!(
        "{:.1} / {:.1} / {:.1} ms",
        percentile(&values, 50.0),
        percentile(&values, 99.0),
        values[values.len() - 1]
    )
}

fn trino_dynamic(engines: &Engines, debounce: &str, changes: usize) {
    let trino = Trino::dynamic()
        .memory_store()
        .config("query.max-history=10000")
        .start(engines);
    let staged = StagedFolder::new();
    let agent = Agent::start(&staged.folder, &trino.url(), &["--debounce", debounce]);
    // Warm the engine up: the first queries of a fresh JVM are slow.
    for i in 0..20 {
        let _ = trino.query(&format!("CREATE CATALOG warm{i} USING tpch"));
        let _ = trino.query(&format!("SELECT count(*) FROM warm{i}.tiny.nation"));
    }
    let mut renamed = Vec::with_capacity(changes);
    let mut applied = Vec::with_capacity(changes);
    let mut answered = Vec::with_capacity(changes);
    for i in 0..changes {
        let name = format!("b{i:04}");
        let t0 = staged.drop_file(&name, "connector.name=tpch\n");
        let start = Instant::now();
        while !agent.applied(&name) {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "{name} not applied"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
        applied.push(now_ms() - t0);
        trino
            .query(&format!("SELECT count(*) FROM {name}.tiny.nation"))
            .expect("the new catalog answers");
        answered.push(now_ms() - t0);
        renamed.push((name, t0));
        std::thread::sleep(Duration::from_millis(20));
    }
    let history = creates(&trino.url());
    let mut received = Vec::new();
    let mut finished = Vec::new();
    let mut trino_create = Vec::new();
    for (name, t0) in &renamed {
        let (created, ended, elapsed) = history[name];
        received.push(created - t0);
        finished.push(ended - t0);
        trino_create.push(elapsed);
    }
    println!(
        "| `--debounce {debounce}` | {changes} | {} | {} | {} | {} | {} |",
        summary(received),
        summary(finished),
        summary(applied),
        summary(answered),
        summary(trino_create),
    );
    drop(agent);
    // The floor: the same statement sent by hand with the agent's own client code.
    let by_hand = by_hand(
        &trino.url(),
        (0..50).map(|i| format!("CREATE CATALOG \"hand{i:03}\" USING tpch")),
    );
    println!(
        "| by hand: `CREATE CATALOG` over HTTP (the agent's client), round trip | 50 | | {} | | | |",
        summary(by_hand)
    );
}

fn restart_mode(engines: &Engines, flavour: Flavour, changes: usize) {
    let target = tempfile::tempdir().unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(target.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let (image, catalog_dir, label) = match flavour {
        Flavour::Presto => (
            engines.presto_image.clone(),
            "/opt/presto-server/etc/catalog",
            "PrestoDB 0.296",
        ),
        Flavour::Trino => (
            engines.trino_image.clone(),
            "/etc/trino/catalog",
            "Trino 476 static",
        ),
    };
    let port = free_port();
    let coordinator = Container::run(&[
        "-p",
        &format!("127.0.0.1:{port}:8080"),
        "-v",
        &format!("{}:{catalog_dir}", target.path().display()),
        &image,
    ]);
    let url = format!("http://127.0.0.1:{port}");
    let ready = |catalog: &str| {
        run_query(
            &url,
            flavour,
            "bench",
            &format!("SELECT count(*) FROM \"{catalog}\".tiny.nation"),
        )
        .is_ok()
    };
    let start = Instant::now();
    while run_query(&url, flavour, "bench", "SELECT 1").is_err() {
        assert!(start.elapsed() < Duration::from_secs(240));
        std::thread::sleep(Duration::from_millis(200));
    }
    let source = tempfile::tempdir().unwrap();
    let agent = Agent::start(
        source.path(),
        &url,
        &[
            "--target-dir",
            &target.path().display().to_string(),
            "--container",
            coordinator.name(),
            "--mode",
            "restart",
            "--min-restart-interval",
            "1s",
        ],
    );
    let info_starting = |url: &str| -> Option<bool> {
        let info: serde_json::Value = http()
            .get(format!("{url}/v1/info"))
            .timeout(Duration::from_millis(500))
            .send()
            .ok()?
            .json()
            .ok()?;
        info["starting"].as_bool()
    };
    let started_at = || docker_ok(&["inspect", "-f", "{{.State.StartedAt}}", coordinator.name()]);
    for i in 0..changes {
        let name = format!("r{i}");
        let before = started_at();
        let t0 = now_ms();
        std::fs::write(
            source.path().join(format!("{name}.properties")),
            "connector.name=tpch\n",
        )
        .unwrap();
        let (mut restarted, mut up, mut applied) = (None, None, None);
        let deadline = Instant::now() + Duration::from_secs(300);
        while applied.is_none() {
            assert!(Instant::now() < deadline, "{name} not applied");
            if restarted.is_none() && started_at() != before {
                restarted = iso_ms(&started_at()).map(|t| t - t0);
            }
            if restarted.is_some() && up.is_none() && info_starting(&url) == Some(false) {
                up = Some(now_ms() - t0);
            }
            if agent.applied(&name) {
                applied = Some(now_ms() - t0);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let answered_right_away = ready(&name);
        let answered = now_ms() - t0;
        println!(
            "| {label} | {name} | {:.1} s | {:.1} s | {:.1} s | {:.1} s | {} |",
            restarted.unwrap_or(f64::NAN) / 1000.0,
            up.unwrap_or(f64::NAN) / 1000.0,
            applied.unwrap() / 1000.0,
            answered / 1000.0,
            if answered_right_away { "yes" } else { "no" },
        );
    }
}

fn start_times(engines: &Engines) {
    for _ in 0..3 {
        let t0 = Instant::now();
        let trino = Trino::dynamic().memory_store().start(engines);
        let up = t0.elapsed();
        drop(trino);
        println!(
            "| Trino 476, host process (`bin/launcher run`) | {:.1} s | |",
            up.as_secs_f64()
        );
    }
    for (image, flavour, label) in [
        (&engines.trino_image, Flavour::Trino, "Trino 476 image"),
        (
            &engines.presto_image,
            Flavour::Presto,
            "PrestoDB 0.296 image",
        ),
    ] {
        for _ in 0..3 {
            let port = free_port();
            let url = format!("http://127.0.0.1:{port}");
            let t0 = Instant::now();
            let container = Container::run(&["-p", &format!("127.0.0.1:{port}:8080"), image]);
            let mut up = None;
            loop {
                if up.is_none()
                    && http()
                        .get(format!("{url}/v1/info"))
                        .timeout(Duration::from_millis(500))
                        .send()
                        .ok()
                        .and_then(|r| r.json::<serde_json::Value>().ok())
                        .is_some_and(|i| i["starting"] == false)
                {
                    up = Some(t0.elapsed());
                }
                if up.is_some()
                    && run_query(
                        &url,
                        flavour,
                        "bench",
                        "SELECT count(*) FROM tpch.tiny.nation",
                    )
                    .is_ok()
                {
                    break;
                }
                assert!(t0.elapsed() < Duration::from_secs(240));
                std::thread::sleep(Duration::from_millis(50));
            }
            println!(
                "| {label}, `docker run` | {:.1} s | {:.1} s |",
                up.unwrap().as_secs_f64(),
                t0.elapsed().as_secs_f64()
            );
            drop(container);
        }
        let size: f64 = docker_ok(&["image", "inspect", "-f", "{{.Size}}", image])
            .parse()
            .unwrap();
        println!("| {label}: size | {:.0} MB | |", size / 1e6);
    }
}

fn main() {
    let engines = Engines::load().unwrap_or_else(|e| panic!("{e}"));
    let parts = std::env::var("REAL_PARTS").unwrap_or_else(|_| "trino,restart,start".into());
    let changes: usize = std::env::var("REAL_CHANGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let restarts: usize = std::env::var("RESTART_CHANGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    if parts.contains("trino") {
        println!(
            "| run | changes | file → Trino received the CREATE, p50 / p99 / max | → CREATE finished | → agent says applied | → a SELECT through it answered | Trino's own CREATE time |"
        );
        println!("|---|---|---|---|---|---|---|");
        trino_dynamic(&engines, "200ms", changes);
        trino_dynamic(&engines, "0", changes);
        println!();
    }
    if parts.contains("restart") {
        println!(
            "| engine | change | file → Docker restarted it | → `starting: false` | → agent says applied | → our SELECT answered | answered at once |"
        );
        println!("|---|---|---|---|---|---|---|");
        restart_mode(&engines, Flavour::Presto, restarts);
        restart_mode(&engines, Flavour::Trino, restarts);
        println!();
    }
    if parts.contains("start") {
        println!("| what | to `starting: false` | to a tpch query answered |");
        println!("|---|---|---|");
        start_times(&engines);
    }
}
