//! The recordings of the real engines (`tests/emulator/recorded/*.json`) and the emulator's
//! replay of them.
//!
//! * `emulator_replays_*` (every run, no engine needed): the script of `recorder::script` runs
//!   against the emulator, with the flags matching each recorded setup, and must give the
//!   recorded answers — except the differences listed in [`ALLOWED`], each with its reason (also
//!   in tests/emulator/README.md, "Differences from the recordings").
//! * `real_*_matches_its_recording`: the same script against the real engines that
//!   `scripts/engines.sh` built (skipped with one line when there are none; a failure under
//!   `REQUIRE_ENGINES=1`). A real answer that no longer matches its recording fails, naming the
//!   first differences.
//! * `RECORD=1` makes the `real_*` tests write the recordings instead of comparing:
//!
//!   ```text
//!   RECORD=1 cargo test -p coordinator-emulator --test recorded real_ -- --nocapture
//!   ```

mod common;
mod recorder;

use std::path::PathBuf;
use std::time::Instant;

use recorder::script::{self, Mode, Session};
use recorder::{EmulatorTarget, Target};
use serde_json::{Value, json};
use test_support::real::{Engines, Presto, Trino};

const RECORD_COMMAND: &str =
    "RECORD=1 cargo test -p coordinator-emulator --test recorded real_ -- --nocapture";

fn recording_path(engine: &str, version: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("recorded")
        .join(format!("{engine}-{version}.json"))
}

fn read_recording(engine: &str, version: &str) -> Value {
    let path = recording_path(engine, version);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "no recording {} ({e}): record it with `{RECORD_COMMAND}`",
            path.display()
        )
    });
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn today() -> String {
    let output = std::process::Command::new("date")
        .args(["-u", "+%Y-%m-%d"])
        .output()
        .expect("date");
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

// ---------------------------------------------------------------------------------------------
// Running the script

fn document(engine: &str, version: &str, sessions: Vec<Value>) -> Value {
    json!({
        "engine": engine,
        "version": version,
        "recorded": today(),
        "how": format!("{RECORD_COMMAND} (tests/emulator/tests/recorded.rs); answers normalised: <base> = http://127.0.0.1:PORT, <query-id>, <duration>, <node-id>, <dir> = a temporary folder; sequences list distinct consecutive answers"),
        "sessions": sessions,
    })
}

fn launch_real(session: &Session, engines: &Engines) -> Box<dyn Target> {
    match session.mode {
        Mode::TrinoDynamicMemory | Mode::TrinoStatic => {
            let mut trino = if session.mode == Mode::TrinoStatic {
                Trino::static_catalogs()
            } else {
                Trino::dynamic().memory_store()
            };
            for (name, text) in &session.catalogs {
                trino = trino.catalog(name, text);
            }
            for (key, value) in &session.env {
                trino = trino.env(key, value);
            }
            for line in &session.config {
                trino = trino.config(line);
            }
            Box::new(trino.launch(engines))
        }
        Mode::Presto => {
            let mut presto = Presto::new();
            for (name, text) in &session.catalogs {
                presto = presto.catalog(name, text);
            }
            for line in &session.config {
                presto = presto.config(line);
            }
            Box::new(presto.launch(engines))
        }
    }
}

fn run_real(sessions: &[Session], engines: &Engines) -> Vec<Value> {
    sessions
        .iter()
        .map(|session| {
            let started = Instant::now();
            let mut target = launch_real(session, engines);
            let answers = recorder::run_session(session, target.as_mut());
            eprintln!(
                "recorded session {} in {:.1?}",
                session.name,
                started.elapsed()
            );
            answers
        })
        .collect()
}

/// The emulator for one recorded session: the flags that match the recorded setup.
fn launch_emulator(
    session: &Session,
    node_version: &str,
    catalog_dir: &std::path::Path,
) -> EmulatorTarget {
    for (name, text) in &session.catalogs {
        std::fs::write(catalog_dir.join(format!("{name}.properties")), text).unwrap();
    }
    let mut emulator = match session.mode {
        Mode::TrinoDynamicMemory => common::trino().dynamic().memory_store(),
        Mode::TrinoStatic => common::trino().catalog_dir(catalog_dir),
        Mode::Presto => common::presto().catalog_dir(catalog_dir),
    };
    for (key, value) in &session.env {
        emulator = emulator.env(key, value);
    }
    emulator = emulator.args(["--node-version", node_version]);
    // Only the plugins the machine's engines have (real-engines.md): Trino memory and tpch,
    // PrestoDB 0.296 tpch.
    emulator = match session.mode {
        Mode::Presto => emulator.args(["--connectors", "tpch"]),
        _ => emulator.args(["--connectors", "memory,tpch"]),
    };
    // The start-up window, short: first no answer (well over the recorder's 2 s probe timeout,
    // so that a probe meets it even when the machine is busy), then starting:true, then (PrestoDB) table reads fail
    // NO_NODES_AVAILABLE for a while.
    emulator = emulator.args(["--startup-hang", "4s", "--startup-delay", "6s"]);
    if session.mode == Mode::Presto {
        emulator = emulator.args(["--no-nodes-window", "2s", "--shutdown-grace-period", "2s"]);
    }
    EmulatorTarget(emulator.start(), None)
}

/// The sessions against the emulator, all at once (each is one emulator process, mostly waiting).
fn run_emulator(sessions: &[Session], node_version: &str) -> Vec<Value> {
    std::thread::scope(|scope| {
        let runs: Vec<_> = sessions
            .iter()
            .map(|session| {
                scope.spawn(move || {
                    let dir = tempfile::tempdir().unwrap();
                    let mut target = launch_emulator(session, node_version, dir.path());
                    recorder::run_session(session, &mut target)
                })
            })
            .collect();
        runs.into_iter()
            .map(|run| run.join().expect("a session against the emulator"))
            .collect()
    })
}

/// Takes the answers a run may or may not meet out of `doc`'s start windows: `(session, seen)`.
fn take_transient(doc: &mut Value) -> Vec<(String, Value)> {
    let mut taken = Vec::new();
    for session in doc["sessions"].as_array_mut().into_iter().flatten() {
        let name = session["session"].as_str().unwrap_or_default().to_string();
        if let Some(query) = session
            .pointer_mut("/start/query")
            .and_then(Value::as_object_mut)
            && let Some(seen) = query.remove("transient")
        {
            taken.push((name, seen));
        }
    }
    taken
}

/// Reduces each start window of `doc` to its distinct answers in the order first seen. A real
/// engine's start is probed by a clock: on a busy machine a probe can time out ("no answer")
/// between two answers of the engine, or an answer can come back after another. What a real run
/// is held to is which answers the engine gave and which came first; the emulator, which is
/// deterministic, is held to the whole sequence.
fn first_seen_order(doc: &mut Value) {
    for session in doc["sessions"].as_array_mut().into_iter().flatten() {
        for pointer in ["/start/info", "/start/info_state", "/start/query/answers"] {
            if let Some(Value::Array(answers)) = session.pointer_mut(pointer) {
                let mut seen: Vec<Value> = Vec::new();
                for answer in answers.drain(..) {
                    if !seen.contains(&answer) {
                        seen.push(answer);
                    }
                }
                *answers = seen;
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Comparing

/// A difference between the emulator and a recording that stays, and why.
struct Allowed {
    /// `trino-476` or `presto-0.296`.
    recording: &'static str,
    /// `/sessions/<session>/steps/<step>/…`: object keys and step/session names.
    path: &'static str,
    /// What the emulator answers there instead.
    emulator: fn() -> Value,
    reason: &'static str,
}

/// Every difference between the emulator and the recordings that remains, with its reason.
/// Keep tests/emulator/README.md ("Differences from the recordings") in step.
const ALLOWED: &[Allowed] = &[];

/// The differences between `recorded` and `actual`, top-level bookkeeping (`recorded`, `how`)
/// aside, after the allowed ones are applied; one line each.
fn compare(name: &str, recorded: &Value, actual: &Value, allowed: &[&Allowed]) -> Vec<String> {
    let mut expected = recorded.clone();
    let mut problems = Vec::new();
    for entry in allowed {
        match recorder::at_path(&mut expected, entry.path) {
            None => problems.push(format!(
                "allow-list entry {} names nothing in the recording {name}",
                entry.path
            )),
            Some(value) => {
                let instead = (entry.emulator)();
                if *value == instead {
                    problems.push(format!(
                        "allow-list entry {} ({}) is stale: the recording says the same ({instead}); remove it",
                        entry.path, entry.reason
                    ));
                }
                *value = instead;
            }
        }
    }
    let mut actual = actual.clone();
    for doc in [&mut expected, &mut actual] {
        if let Some(object) = doc.as_object_mut() {
            object.remove("recorded");
            object.remove("how");
        }
    }
    for (path, want, got) in recorder::differences(&expected, &actual) {
        problems.push(format!("{path}: recorded {want}, got {got}"));
    }
    problems
}

fn fail_on(what: &str, problems: &[String]) {
    if problems.is_empty() {
        return;
    }
    let shown: Vec<&String> = problems.iter().take(25).collect();
    panic!(
        "{what}: {} difference(s){}:\n{}",
        problems.len(),
        if problems.len() > shown.len() {
            " (first 25)"
        } else {
            ""
        },
        shown
            .iter()
            .map(|p| format!("  {p}"))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

fn replay(recording: &str, engine: &str, version: &str, sessions: Vec<Session>) {
    let recorded = read_recording(engine, version);
    let node_version = recorded["sessions"][0]["steps"]
        .as_array()
        .and_then(|steps| steps.iter().find(|s| s["step"] == "info"))
        .and_then(|s| s["body"]["nodeVersion"]["version"].as_str())
        .expect("the recording has /v1/info")
        .to_string();
    let mut recorded = recorded;
    let mut actual = document(engine, version, run_emulator(&sessions, &node_version));
    // The emulator is deterministic: it must show every answer the script calls transient
    // (whether the recording run happened to meet them or not).
    let mut problems = Vec::new();
    take_transient(&mut recorded);
    for (name, seen) in take_transient(&mut actual) {
        let declared = sessions
            .iter()
            .find(|s| s.name == name)
            .map(|s| json!(s.transient))
            .unwrap_or_default();
        if seen != declared {
            problems.push(format!(
                "/sessions/{name}/start/query/transient: the script declares {declared}, the emulator showed {seen}"
            ));
        }
    }
    let allowed: Vec<&Allowed> = ALLOWED
        .iter()
        .filter(|a| a.recording == recording)
        .collect();
    problems.extend(compare(recording, &recorded, &actual, &allowed));
    if !problems.is_empty() && std::env::var_os("REPLAY_OUT").is_some() {
        let out = PathBuf::from(std::env::var_os("REPLAY_OUT").unwrap())
            .join(format!("{recording}.emulator.json"));
        std::fs::write(&out, serde_json::to_string_pretty(&actual).unwrap()).unwrap();
    }
    fail_on(
        &format!("the emulator's replay of recorded/{recording}.json"),
        &problems,
    );
}

fn record_or_check(engine: &str, version: &str, sessions: Vec<Session>, engines: &Engines) {
    let started = Instant::now();
    let actual = document(engine, version, run_real(&sessions, engines));
    let path = recording_path(engine, version);
    if std::env::var("RECORD").is_ok_and(|v| v == "1") {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, serde_json::to_string_pretty(&actual).unwrap() + "\n").unwrap();
        eprintln!("wrote {} in {:.1?}", path.display(), started.elapsed());
        return;
    }
    let mut recorded = read_recording(engine, version);
    let mut actual = actual;
    // What a run may or may not meet is not held against a real engine (the emulator, which
    // is deterministic, is held to it).
    take_transient(&mut recorded);
    take_transient(&mut actual);
    first_seen_order(&mut recorded);
    first_seen_order(&mut actual);
    let problems = compare(&format!("{engine}-{version}"), &recorded, &actual, &[]);
    eprintln!(
        "{engine} {version}: the script ran in {:.1?}",
        started.elapsed()
    );
    fail_on(
        &format!(
            "the real {engine} {version} no longer answers as recorded in {} (re-record with `{RECORD_COMMAND}` if the change is expected, then replay)",
            path.display()
        ),
        &problems,
    );
}

// ---------------------------------------------------------------------------------------------
// Tests

#[test]
fn emulator_replays_trino_476() {
    replay("trino-476", "trino", "476", script::trino());
}

#[test]
fn emulator_replays_presto_0_296() {
    replay("presto-0.296", "presto", "0.296", script::presto());
}

#[test]
fn real_trino_matches_its_recording() {
    let Some(engines) = Engines::required() else {
        return;
    };
    record_or_check("trino", &engines.trino_version, script::trino(), &engines);
}

#[test]
fn real_presto_matches_its_recording() {
    let Some(engines) = Engines::required() else {
        return;
    };
    record_or_check(
        "presto",
        &engines.presto_version,
        script::presto(),
        &engines,
    );
}

#[test]
fn the_allow_list_stands_in_for_the_recording_and_flags_stale_entries() {
    let recorded = json!({"sessions": [{"session": "s", "steps": [
        {"step": "a", "status": 403},
        {"step": "b", "status": 200},
    ]}], "recorded": "2026-01-01"});
    let emulator = json!({"sessions": [{"session": "s", "steps": [
        {"step": "a", "status": 500},
        {"step": "b", "status": 200},
    ]}], "recorded": "2026-02-02"});
    let differs = Allowed {
        recording: "x",
        path: "/sessions/s/steps/a/status",
        emulator: || json!(500),
        reason: "test",
    };
    let stale = Allowed {
        recording: "x",
        path: "/sessions/s/steps/b/status",
        emulator: || json!(200),
        reason: "test",
    };
    let missing = Allowed {
        recording: "x",
        path: "/sessions/s/steps/c/status",
        emulator: || json!(1),
        reason: "test",
    };
    assert_eq!(
        compare("x", &recorded, &emulator, &[]),
        ["/sessions/s/steps/a/status: recorded 403, got 500"]
    );
    assert!(compare("x", &recorded, &emulator, &[&differs]).is_empty());
    let problems = compare("x", &recorded, &emulator, &[&differs, &stale, &missing]);
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(problems[0].contains("is stale"), "{problems:?}");
    assert!(problems[1].contains("names nothing"), "{problems:?}");
}
