//! Soak: the agent (release build) against the coordinator emulator answering 5% of the requests
//! for a query's pages with 503 (a proxy's), for `SOAK_SECONDS` (default 600) of steady changes to a folder of 100 catalog
//! names — writes, edits, atomic saves, deletes, about `SOAK_RATE` (default 17) a second, so
//! 10,000 changes in 10 minutes. Then: the folder is left alone until the agent converges, and
//! the engine's catalogs and their definitions (the last `CREATE` of each) must be exactly the
//! folder's. The agent's resident memory is sampled every 30 s: it must stay flat.
//!
//! Run: `cargo bench --bench soak` (figures go into BENCHMARKS.md by hand).

mod common;

use common::{Agent, Rng, release_emulator, rss_kib};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use test_support::emulator::Emulator;

fn main() {
    let seconds: u64 = std::env::var("SOAK_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(600);
    let rate: u64 = std::env::var("SOAK_RATE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(17);
    let engine = Emulator::trino()
        .binary(release_emulator())
        .dynamic()
        .memory_store()
        .args(["--fail-rate-503", "0.05", "--seed", "11"])
        .start();
    let root = tempfile::tempdir().unwrap();
    let folder = root.path().join("catalogs");
    let staging = root.path().join("staging");
    std::fs::create_dir(&folder).unwrap();
    std::fs::create_dir(&staging).unwrap();
    let agent = Agent::spawn(&folder, &engine.url(), &["--max-changes-per-minute", "0"]);
    let pid = agent.pid();

    let mut rng = Rng(0x50a6);
    let mut model: BTreeMap<String, String> = BTreeMap::new();
    let mut samples = Vec::new();
    let started = Instant::now();
    let mut changes = 0u64;
    let mut next_sample = Duration::ZERO;
    while started.elapsed() < Duration::from_secs(seconds) {
        let name = format!("s{:03}", rng.below(100));
        let file = folder.join(format!("{name}.properties"));
        match rng.below(4) {
            0 if model.contains_key(&name) => {
                std::fs::remove_file(&file).unwrap();
                model.remove(&name);
            }
            1 => {
                let text = format!(
                    "connector.name=tpch\ntpch.splits-per-node={}\n",
                    1 + rng.below(4)
                );
                let staged = staging.join(format!("{name}.properties"));
                std::fs::write(&staged, &text).unwrap();
                std::fs::rename(&staged, &file).unwrap();
                model.insert(name, text);
            }
            _ => {
                let text = format!(
                    "connector.name=tpch\ntpch.splits-per-node={}\n",
                    1 + rng.below(4)
                );
                std::fs::write(&file, &text).unwrap();
                model.insert(name, text);
            }
        }
        changes += 1;
        if started.elapsed() >= next_sample {
            samples.push((started.elapsed().as_secs(), rss_kib(pid)));
            next_sample += Duration::from_secs(30);
        }
        std::thread::sleep(Duration::from_micros(1_000_000 / rate));
    }
    // Quiet: the agent converges, and the engine must be exactly the folder.
    let quiet = Instant::now();
    let converged = loop {
        let live: Vec<String> = engine
            .show_catalogs()
            .into_iter()
            .filter(|c| c != "system")
            .collect();
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
    let mut statements = 0;
    for record in engine.records() {
        if !record.sql.starts_with("CREATE") && !record.sql.starts_with("DROP") {
            continue;
        }
        statements += 1;
        if record.outcome == "FINISHED"
            && let Some(rest) = record.sql.strip_prefix("CREATE CATALOG \"")
        {
            let name = rest.split('"').next().unwrap().to_string();
            last_create.insert(name, record.sql.clone());
        }
    }
    let wrong: Vec<&String> = model
        .iter()
        .filter(|(name, text)| {
            let splits = text.lines().nth(1).unwrap().rsplit('=').next().unwrap();
            !last_create
                .get(*name)
                .is_some_and(|sql| sql.contains(&format!("= '{splits}')")))
        })
        .map(|(n, _)| n)
        .collect();
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
}
