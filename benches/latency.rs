//! Whole-process benchmark of dynamic mode: the real agent (release build) against the coordinator
//! emulator (release build, zero statement latency).
//!
//! 1. Latency: a file renamed into the folder → its `CREATE CATALOG` finished on the engine (the
//!    emulator's record file, microsecond times). 200 changes, with the default debounce (200ms)
//!    and with `--debounce 0`. The agent's overhead is the latency minus the debounce.
//! 2. Idle: 100 catalogs applied, then 60 s with nothing to do: resident memory, CPU time, and
//!    wake-ups (context switches of all the agent's threads, from /proc) — once with the default
//!    resync interval (one resync pass falls in the window) and once with the resync outside it.
//! 3. Scale (only with `LATENCY_SCALE=100,1000,10000`): one change among that many catalogs.
//!
//! Run: `cargo bench --bench latency` (figures go into BENCHMARKS.md by hand, with the date and
//! machine). `LATENCY_CHANGES` and `IDLE_SECONDS` override the counts for a quick look;
//! `BENCH_AGENT=path` measures another build of the agent (e.g. the image's static musl binary).

mod common;

use common::{
    Agent, ProcSample, StagedFolder, by_hand, now_micros, percentile, proc_sample, proc_ticks,
    release_emulator, ticks_to_seconds,
};
use std::io::{BufRead, BufReader, Seek, SeekFrom};
use std::path::Path;
use std::time::{Duration, Instant};
use test_support::emulator::{Emulator, RunningEmulator};

/// Parses the record's `2026-11-24T09:07:21.123456Z` into a Unix time in microseconds.
fn unix_micros(rfc3339: &str) -> u128 {
    let (date, time) = rfc3339.trim_end_matches('Z').split_once('T').unwrap();
    let d: Vec<i64> = date.split('-').map(|p| p.parse().unwrap()).collect();
    let (hms, frac) = time.split_once('.').unwrap();
    let t: Vec<i64> = hms.split(':').map(|p| p.parse().unwrap()).collect();
    // Days from civil (Howard Hinnant).
    let (y, m) = if d[1] <= 2 {
        (d[0] - 1, d[1] + 9)
    } else {
        (d[0], d[1] - 3)
    };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * m + 2) / 5 + d[2] - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + t[0] * 3600 + t[1] * 60 + t[2];
    secs as u128 * 1_000_000 + frac.parse::<u128>().unwrap()
}

/// Follows the record file, returning the finish time of the CREATE of `catalog`.
struct RecordTail {
    reader: BufReader<std::fs::File>,
}

impl RecordTail {
    fn open(engine: &RunningEmulator) -> RecordTail {
        let path = engine.record_path();
        while !path.exists() {
            std::thread::sleep(Duration::from_millis(5));
        }
        let mut file = std::fs::File::open(path).unwrap();
        file.seek(SeekFrom::End(0)).unwrap();
        RecordTail {
            reader: BufReader::new(file),
        }
    }

    fn created(&mut self, catalog: &str, timeout: Duration) -> u128 {
        let needle = format!("CREATE CATALOG \\\"{catalog}\\\"");
        let start = Instant::now();
        let mut line = String::new();
        loop {
            // A line can be caught half written: keep reading until its newline.
            if self.reader.read_line(&mut line).unwrap() > 0 {
                if !line.ends_with('\n') {
                    continue;
                }
                if line.contains(&needle) && line.contains("\"FINISHED\"") {
                    let v: serde_json::Value = serde_json::from_str(&line).unwrap();
                    return unix_micros(v["time"].as_str().unwrap());
                }
                line.clear();
                continue;
            }
            assert!(start.elapsed() < timeout, "no CREATE of {catalog}");
            std::thread::sleep(Duration::from_micros(200));
        }
    }
}

/// The engine's share of a file event's pass: one CREATE (a file event plans against the listing
/// the agent keeps, so it sends no listing query), sent with the agent's own client code against
/// the same engine, with as many catalogs as the runs leave (median, ms).
fn engine_share(url: &str, rounds: usize) -> f64 {
    let mut millis = by_hand(
        url,
        (0..rounds).map(|i| format!("CREATE CATALOG \"share{i:04}\" USING memory")),
    );
    millis.sort_by(f64::total_cmp);
    percentile(&millis, 50.0)
}

/// The emulator's release build as a dynamic Trino with the memory store.
fn dynamic_trino(emulator_bin: &Path) -> RunningEmulator {
    Emulator::trino()
        .binary(emulator_bin)
        .dynamic()
        .memory_store()
        .start()
}

fn latency(emulator_bin: &Path, debounce: &str, debounce_ms: f64, changes: usize) {
    let engine = dynamic_trino(emulator_bin);
    let staged = StagedFolder::new();
    let agent = Agent::start(&staged.folder, &engine.url(), &["--debounce", debounce]);
    let mut tail = RecordTail::open(&engine);
    let mut millis = Vec::with_capacity(changes);
    for i in 0..changes {
        let name = format!("c{i:04}");
        staged.stage(&name, "connector.name=memory\n");
        let t0 = now_micros();
        staged.rename_in(&name);
        let t1 = tail.created(&name, Duration::from_secs(10));
        millis.push((t1.saturating_sub(t0)) as f64 / 1000.0);
        std::thread::sleep(Duration::from_millis(10));
    }
    drop(agent);
    let engine_ms = engine_share(&engine.url(), 50);
    millis.sort_by(f64::total_cmp);
    let (p50, p99) = (percentile(&millis, 50.0), percentile(&millis, 99.0));
    println!(
        "| `--debounce {debounce}` | {changes} | {p50:.1} ms | {:.1} ms | {p99:.1} ms | {:.1} ms | {:.1} ms | {engine_ms:.1} ms | **{:.1} ms** |",
        percentile(&millis, 90.0),
        millis[millis.len() - 1],
        p50 - debounce_ms,
        p50 - debounce_ms - engine_ms,
    );
}

/// (VmRSS kB, VmHWM kB, utime+stime ticks, context switches over all threads, threads)
/// A cold start's time, split: the time the agent spent waiting on statements (its own
/// `apply_duration_seconds` sum: the engine's work and the round trips), the rest, and the CPU
/// each process used meanwhile.
struct ColdStart {
    wall: f64,
    statements: f64,
    agent_cpu: f64,
    engine_cpu: f64,
}

static COLD_STARTS: std::sync::Mutex<Vec<(usize, ColdStart)>> = std::sync::Mutex::new(Vec::new());

fn idle(emulator_bin: &Path, seconds: u64, resync: &str) {
    let engine = dynamic_trino(emulator_bin);
    let folder = tempfile::tempdir().unwrap();
    for i in 0..100 {
        std::fs::write(
            folder.path().join(format!("c{i:03}.properties")),
            "connector.name=tpch\ntpch.splits-per-node=4\n",
        )
        .unwrap();
    }
    let agent = Agent::start(folder.path(), &engine.url(), &["--resync-interval", resync]);
    agent.wait(Duration::from_secs(60), |s| {
        s["catalogs"]
            .as_object()
            .is_some_and(|c| c.len() == 100 && c.values().all(|v| v["state"] == "applied"))
    });
    // Let the blocking pool's idle threads retire before measuring.
    std::thread::sleep(Duration::from_secs(12));
    let pid = agent.pid();
    let before = proc_sample(pid);
    let statements_before = engine.records().len();
    std::thread::sleep(Duration::from_secs(seconds));
    let after = proc_sample(pid);
    let statements = engine.records().len() - statements_before;
    println!(
        "| 100 catalogs, {seconds} s idle, `--resync-interval {resync}` | {:.1} MiB | {:.1} MiB | {:.2} s | {} | {} | {} |",
        after.rss_kib as f64 / 1024.0,
        after.peak_rss_kib as f64 / 1024.0,
        ticks_to_seconds(after.cpu_ticks.saturating_sub(before.cpu_ticks)),
        after
            .context_switches
            .saturating_sub(before.context_switches),
        after.threads,
        statements,
    );
}

/// One change among `base` catalogs: cold start to converged, then `changes` files renamed in one
/// at a time (default debounce), the agent's RSS at the end, and the statements the engine got
/// for those changes.
fn scale(emulator_bin: &Path, base: usize, changes: usize) {
    let engine = dynamic_trino(emulator_bin);
    let staged = StagedFolder::new();
    let folder = &staged.folder;
    for i in 0..base {
        std::fs::write(
            folder.join(format!("b{i:05}.properties")),
            "connector.name=memory\n",
        )
        .unwrap();
    }
    let engine_ticks_before = proc_ticks(engine.pid());
    let started = Instant::now();
    // LATENCY_STATE_DIR=1: with --state-dir, every CREATE journaled (issue 14: 10,000 catalogs
    // once took 356 s with a state dir, 16 s without).
    let state = folder.with_file_name("state");
    let state_arg = state.display().to_string();
    let mut args = vec!["--resync-interval", "15s"];
    if std::env::var_os("LATENCY_STATE_DIR").is_some() {
        args.extend(["--state-dir", state_arg.as_str()]);
    }
    let agent = Agent::start(folder, &engine.url(), &args);
    agent.wait(Duration::from_secs(600), |s| {
        s["last_pass"]["result"] == "converged"
    });
    let cold = started.elapsed().as_secs_f64();
    let cold_split = ColdStart {
        wall: cold,
        statements: agent.metric("catalog_reloader_apply_duration_seconds_sum"),
        agent_cpu: ticks_to_seconds(proc_ticks(agent.pid())),
        engine_cpu: ticks_to_seconds(proc_ticks(engine.pid()) - engine_ticks_before),
    };
    let statements_before = engine.records().len();
    let mut tail = RecordTail::open(&engine);
    let mut millis = Vec::with_capacity(changes);
    for i in 0..changes {
        let name = format!("n{i:04}");
        staged.stage(&name, "connector.name=memory\n");
        let t0 = now_micros();
        staged.rename_in(&name);
        let t1 = tail.created(&name, Duration::from_secs(30));
        millis.push((t1.saturating_sub(t0)) as f64 / 1000.0);
        std::thread::sleep(Duration::from_millis(300));
    }
    let statements = engine.records().len() - statements_before;
    let ProcSample {
        rss_kib: rss,
        peak_rss_kib: peak,
        ..
    } = proc_sample(agent.pid());
    // The next resync: the whole folder and the engine's list compared.
    let resync_from = agent.status().unwrap()["last_pass"]["time"].clone();
    agent.wait(Duration::from_secs(40), |s| {
        s["last_pass"]["trigger"] == "resync" && s["last_pass"]["time"] != resync_from
    });
    let resync = agent.status().unwrap()["last_pass"]["duration_ms"]
        .as_f64()
        .unwrap_or(f64::NAN);
    drop(agent);
    millis.sort_by(f64::total_cmp);
    let p50 = percentile(&millis, 50.0);
    COLD_STARTS.lock().unwrap().push((base, cold_split));
    println!(
        "| {base} | {cold:.1} s | {changes} | {p50:.1} ms | {:.1} ms | **{:.1} ms** | {statements} | {resync:.0} ms | {:.1} MiB | {:.1} MiB |",
        percentile(&millis, 99.0),
        p50 - 200.0,
        rss as f64 / 1024.0,
        peak as f64 / 1024.0,
    );
}

fn main() {
    // `cargo bench` passes `--bench`; ignore arguments.
    if let Ok(bases) = std::env::var("LATENCY_SCALE") {
        let emulator = release_emulator();
        println!(
            "| catalogs | cold start → converged | changes | p50 | p99 | beyond the debounce, p50 | statements for the changes | a resync pass | RSS | peak RSS |"
        );
        println!("|---|---|---|---|---|---|---|---|---|---|");
        for base in bases.split(',').filter_map(|b| b.trim().parse().ok()) {
            scale(&emulator, base, 20);
        }
        println!();
        println!(
            "| catalogs | cold start → converged | in statements (engine round trips, as the agent timed them) | the agent's own | agent CPU | engine CPU |"
        );
        println!("|---|---|---|---|---|---|");
        for (base, c) in COLD_STARTS.lock().unwrap().iter() {
            println!(
                "| {base} | {:.2} s | {:.2} s | **{:.2} s** | {:.2} s | {:.2} s |",
                c.wall,
                c.statements,
                c.wall - c.statements,
                c.agent_cpu,
                c.engine_cpu,
            );
        }
        return;
    }
    let changes: usize = std::env::var("LATENCY_CHANGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let idle_seconds: u64 = std::env::var("IDLE_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(60);
    let emulator = release_emulator();
    println!(
        "| run | changes | p50 | p90 | p99 | max | beyond the debounce, p50 | engine's share: the CREATE, p50 | agent's own, p50 |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    latency(&emulator, "200ms", 200.0, changes);
    latency(&emulator, "0", 0.0, changes);
    println!();
    println!(
        "| idle run | RSS | peak RSS | CPU time | context switches (all threads) | threads | statements |"
    );
    println!("|---|---|---|---|---|---|---|");
    idle(&emulator, idle_seconds, "60s");
    idle(&emulator, idle_seconds, "10m");
}
