//! Soak: the agent (release build) against the coordinator emulator answering 5% of the requests
//! for a query's pages with 503 (a proxy's), for `SOAK_SECONDS` (default 600) of steady changes to a folder of 100 catalog
//! names — writes, edits, atomic saves, deletes, about `SOAK_RATE` (default 17) a second, so
//! 10,000 changes in 10 minutes. Then: the folder is left alone until the agent converges, and
//! the engine's catalogs and their definitions (the last `CREATE` of each) must be exactly the
//! folder's. The agent's resident memory is sampled every 30 s: it must stay flat.
//!
//! `SOAK_ENGINE=trino` runs it against the real Trino 476 of `scripts/engines.sh` instead (memory
//! store), behind a proxy that answers about one request in twenty with 503; files also switch
//! `tpch.column-naming`, so the final check is what a user sees: each catalog's columns, asked of
//! Trino (`r_regionkey` or `regionkey`), plus the last CREATE of each in Trino's query history.
//!
//! Run: `cargo bench --bench soak` (figures go into BENCHMARKS.md by hand).

mod common;

use common::{Agent, StagedFolder, release_emulator, rss_kib, workload_rng};
use proptest::prelude::RngExt;
use proptest::test_runner::TestRng;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use test_support::emulator::Emulator;
use test_support::proxy::FaultyProxy;
use test_support::real::{Engines, RealEngine, Trino};

/// Where the soak's statements go, and how to ask what the engine ended with.
enum Engine {
    Emulator(test_support::emulator::RunningEmulator),
    Trino {
        trino: RealEngine,
        proxy: FaultyProxy,
    },
}

impl Engine {
    /// The URL the agent is given.
    fn url(&self) -> String {
        match self {
            Engine::Emulator(e) => e.url(),
            Engine::Trino { proxy, .. } => proxy.url(),
        }
    }

    fn live(&self) -> Vec<String> {
        let mut names = match self {
            Engine::Emulator(e) => e.show_catalogs(),
            Engine::Trino { trino, .. } => trino.show_catalogs(),
        };
        names.retain(|c| c != "system" && !c.starts_with("warm"));
        names
    }

    /// The CREATE and DROP statements the engine ran: (finished, SQL), oldest first.
    fn statements(&self) -> Vec<(bool, String)> {
        let ddl =
            |sql: &str| sql.starts_with("CREATE CATALOG \"") || sql.starts_with("DROP CATALOG \"");
        match self {
            Engine::Emulator(e) => e
                .records()
                .into_iter()
                .filter(|r| ddl(&r.sql))
                .map(|r| (r.outcome == "FINISHED", r.sql))
                .collect(),
            Engine::Trino { trino, .. } => trino
                .history()
                .into_iter()
                .filter(|q| ddl(&q.query))
                .map(|q| (q.state == "FINISHED", q.query))
                .collect(),
        }
    }
}

fn start_engine() -> Engine {
    if std::env::var("SOAK_ENGINE").is_ok_and(|v| v == "trino") {
        let engines = Engines::load().unwrap_or_else(|e| panic!("{e}"));
        let trino = Trino::dynamic()
            .memory_store()
            .config("query.max-history=40000")
            .start(&engines);
        // Warm the engine up: the first queries of a fresh JVM are slow.
        for i in 0..10 {
            let _ = trino.query(&format!("CREATE CATALOG warm{i} USING tpch"));
            let _ = trino.query(&format!("SELECT count(*) FROM warm{i}.tiny.nation"));
        }
        let proxy = FaultyProxy::start(&format!("127.0.0.1:{}", trino.port()));
        return Engine::Trino { trino, proxy };
    }
    Engine::Emulator(
        Emulator::trino()
            .binary(release_emulator())
            .dynamic()
            .memory_store()
            .args(["--fail-rate-503", "0.05", "--seed", "11"])
            .start(),
    )
}

fn catalog_text(rng: &mut TestRng) -> String {
    let naming = if rng.random_range(0..2) == 0 {
        "STANDARD"
    } else {
        "SIMPLIFIED"
    };
    format!(
        "connector.name=tpch\ntpch.column-naming={naming}\ntpch.splits-per-node={}\n",
        rng.random_range(1..=4)
    )
}

fn main() {
    let seconds: u64 = std::env::var("SOAK_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(600);
    let rate: u64 = std::env::var("SOAK_RATE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(17);
    let engine = start_engine();
    let staged = StagedFolder::new();
    let folder = &staged.folder;
    let agent = Agent::spawn(folder, &engine.url(), &["--max-changes-per-minute", "0"]);
    let pid = agent.pid();

    let mut rng = workload_rng(0x50a6);
    let mut model: BTreeMap<String, String> = BTreeMap::new();
    let mut samples = Vec::new();
    let started = Instant::now();
    let mut changes = 0u64;
    let mut next_sample = Duration::ZERO;
    while started.elapsed() < Duration::from_secs(seconds) {
        let name = format!("s{:03}", rng.random_range(0..100));
        let file = folder.join(format!("{name}.properties"));
        match rng.random_range(0..4) {
            0 if model.contains_key(&name) => {
                std::fs::remove_file(&file).unwrap();
                model.remove(&name);
            }
            1 => {
                let text = catalog_text(&mut rng);
                staged.stage(&name, &text);
                staged.rename_in(&name);
                model.insert(name, text);
            }
            _ => {
                let text = catalog_text(&mut rng);
                std::fs::write(&file, &text).unwrap();
                model.insert(name, text);
            }
        }
        changes += 1;
        if let Engine::Trino { proxy, .. } = &engine
            && rng.random_range(0..20) == 0
        {
            // The next request, whatever it is, gets a gateway's 503.
            proxy.answer_unavailable(1);
        }
        if started.elapsed() >= next_sample {
            samples.push((started.elapsed().as_secs(), rss_kib(pid)));
            next_sample += Duration::from_secs(30);
        }
        std::thread::sleep(Duration::from_micros(1_000_000 / rate));
    }
    // Quiet: the agent converges, and the engine must be exactly the folder.
    let quiet = Instant::now();
    let converged = loop {
        let live = engine.live();
        let done = agent
            .status()
            .is_some_and(|s| s["last_pass"]["result"] == "converged");
        if done && live == model.keys().cloned().collect::<Vec<_>>() {
            break Some(quiet.elapsed());
        }
        if quiet.elapsed() > Duration::from_secs(120) {
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    samples.push((started.elapsed().as_secs(), rss_kib(pid)));
    // The definition in force is the last CREATE of each catalog.
    let mut last_create: BTreeMap<String, String> = BTreeMap::new();
    let statements_run = engine.statements();
    let statements = statements_run.len();
    for (finished, sql) in statements_run {
        if finished && let Some(rest) = sql.strip_prefix("CREATE CATALOG \"") {
            let name = rest.split('"').next().unwrap().to_string();
            last_create.insert(name, sql);
        }
    }
    let value = |text: &str, key: &str| -> String {
        text.lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
            .unwrap()
            .to_string()
    };
    let wrong: Vec<&String> = model
        .iter()
        .filter(|(name, text)| {
            !last_create.get(*name).is_some_and(|sql| {
                sql.contains(&format!("= '{}'", value(text, "tpch.splits-per-node")))
                    && sql.contains(&format!("= '{}'", value(text, "tpch.column-naming")))
            })
        })
        .map(|(n, _)| n)
        .collect();
    // On Trino, what a user sees too: each catalog's columns follow its file's naming.
    let mut wrong_columns = Vec::new();
    if let Engine::Trino { trino, .. } = &engine {
        for (name, text) in &model {
            let expected = if value(text, "tpch.column-naming") == "STANDARD" {
                "r_regionkey"
            } else {
                "regionkey"
            };
            let columns = trino.query(&format!("SHOW COLUMNS FROM \"{name}\".tiny.region"));
            let first = columns.ok().and_then(|out| {
                out.rows
                    .first()
                    .and_then(|r| r[0].as_str().map(String::from))
            });
            if first.as_deref() != Some(expected) {
                wrong_columns.push(format!("{name}: {first:?}, not {expected}"));
            }
        }
        println!(
            "Trino behind a proxy: {} requests answered 503; {} catalogs asked for their columns, {} wrong",
            match &engine {
                Engine::Trino { proxy, .. } => proxy.answered_unavailable(),
                Engine::Emulator(_) => 0,
            },
            model.len(),
            wrong_columns.len()
        );
    }
    drop(agent);
    println!(
        "| seconds | changes | statements (CREATE/DROP) | converged after the last change | catalogs | wrong definitions |"
    );
    println!("|---|---|---|---|---|---|");
    println!(
        "| {seconds} | {changes} | {statements} | {} | {} | {} |",
        converged.map_or("**no**".to_string(), |d| format!(
            "{:.1} s",
            d.as_secs_f64()
        )),
        model.len(),
        wrong.len()
    );
    println!();
    println!(
        "RSS (MiB) every 30 s: {}",
        samples
            .iter()
            .map(|(t, kib)| format!("{t}s {:.1}", *kib as f64 / 1024.0))
            .collect::<Vec<_>>()
            .join(", ")
    );
    assert!(converged.is_some(), "did not converge");
    assert!(wrong.is_empty(), "wrong definitions: {wrong:?}");
    assert!(wrong_columns.is_empty(), "wrong columns: {wrong_columns:?}");
}
