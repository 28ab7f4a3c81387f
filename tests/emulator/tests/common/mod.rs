//! Helpers for the emulator's own tests: start the real binary (through test-support), speak
//! HTTP to it, and normalise what varies between runs (ids, slugs, ports, times) before
//! snapshotting.
#![allow(dead_code)] // each test binary uses a different part

use std::time::Duration;

use reqwest::blocking::{Client, Response};
use serde_json::{Value, json};
pub use test_support::emulator::{Emulator, RunningEmulator};

pub const BIN: &str = env!("CARGO_BIN_EXE_coordinator-emulator");

pub fn trino() -> Emulator {
    Emulator::trino().binary(BIN)
}

pub fn presto() -> Emulator {
    Emulator::presto().binary(BIN)
}

pub fn client() -> Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}

/// POST /v1/statement as `user` with the flavour's user header.
pub fn post(engine: &RunningEmulator, header: &str, user: &str, sql: &str) -> Response {
    client()
        .post(format!("{}/v1/statement", engine.url()))
        .header(header, user)
        .body(sql.to_string())
        .send()
        .expect("POST /v1/statement")
}

pub fn json(response: Response) -> Value {
    let status = response.status();
    let text = response.text().expect("body");
    assert!(status.is_success(), "HTTP {status}: {text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

pub fn get(url: &str) -> Response {
    client().get(url).send().expect("GET")
}

/// Every QueryResults page of `sql`, from the POST to the page without nextUri.
pub fn pages_as(engine: &RunningEmulator, header: &str, sql: &str) -> Vec<Value> {
    let mut pages = vec![json(post(engine, header, "test", sql))];
    while let Some(next) = pages
        .last()
        .and_then(|p| p["nextUri"].as_str())
        .map(str::to_string)
    {
        pages.push(json(get(&next)));
    }
    pages
}

pub fn pages(engine: &RunningEmulator, sql: &str) -> Vec<Value> {
    pages_as(engine, "X-Trino-User", sql)
}

/// What a statement came to: its rows, or its error — the parts a user sees.
pub fn outcome(engine: &RunningEmulator, sql: &str) -> Value {
    outcome_of(pages(engine, sql), sql)
}

pub fn outcome_of(pages: Vec<Value>, sql: &str) -> Value {
    let last = pages.last().expect("a page").clone();
    if let Some(error) = last.get("error") {
        let mut error = error.clone();
        error.as_object_mut().map(|e| e.remove("failureInfo"));
        return json!({"sql": sql, "error": error});
    }
    let columns: Vec<Value> = last["columns"]
        .as_array()
        .map(|cols| {
            cols.iter()
                .map(|c| {
                    json!(format!(
                        "{} {}",
                        c["name"].as_str().unwrap(),
                        c["type"].as_str().unwrap()
                    ))
                })
                .collect()
        })
        .unwrap_or_default();
    let rows: Vec<Value> = pages
        .iter()
        .filter_map(|p| p["data"].as_array())
        .flatten()
        .cloned()
        .collect();
    json!({"sql": sql, "columns": columns, "rows": rows, "updateType": last.get("updateType")})
}

/// Replaces what changes from run to run: query ids, slugs, host:port, times.
pub fn normalize(value: Value, engine: &RunningEmulator) -> Value {
    let host = engine.addr().to_string();
    let mut text = serde_json::to_string(&value).expect("json");
    text = text.replace(&host, "{host}");
    let mut ids: Vec<String> = Vec::new();
    collect_ids(&value, &mut ids);
    for id in ids {
        text = text.replace(&id, "{id}");
    }
    let mut value: Value = serde_json::from_str(&text).expect("json");
    scrub(&mut value);
    value
}

fn collect_ids(value: &Value, ids: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                if (k == "id" || k == "queryId") && v.is_string() {
                    ids.push(v.as_str().unwrap().to_string());
                }
                collect_ids(v, ids);
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_ids(v, ids)),
        _ => {}
    }
}

fn scrub(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                match k.as_str() {
                    "elapsedTimeMillis" | "wallTimeMillis" | "uptime" | "createTime"
                    | "elapsedTime" | "time" => *v = json!("[varies]"),
                    "nextUri" | "self" => {
                        if let Some(uri) = v.as_str() {
                            *v = json!(scrub_slug(uri));
                        }
                    }
                    _ => scrub(v),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(scrub),
        _ => {}
    }
}

/// Slugs (`y…`/`z…` + 16 hex digits) become `{slug}`.
fn scrub_slug(uri: &str) -> String {
    uri.split(['/', '=']).fold(uri.to_string(), |acc, part| {
        let is_slug = part.len() == 17
            && (part.starts_with('y') || part.starts_with('z'))
            && part[1..].chars().all(|c| c.is_ascii_hexdigit());
        if is_slug {
            acc.replace(part, "{slug}")
        } else {
            acc
        }
    })
}

/// A temp dir of catalog files: `(name, contents)` → `name.properties`.
pub fn catalog_dir(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, contents) in files {
        std::fs::write(dir.path().join(format!("{name}.properties")), contents).unwrap();
    }
    dir
}

/// Runs `emulator` expecting a start-up failure: its exit code and a text on stderr.
pub fn fails_to_start(emulator: Emulator, exit_code: i32, stderr_contains: &str) {
    let exited = emulator.run_to_exit(Duration::from_secs(20));
    assert_eq!(exited.status.code(), Some(exit_code), "{}", exited.stderr);
    assert!(exited.stderr.contains(stderr_contains), "{}", exited.stderr);
}

/// Waits until `check` holds, or panics saying `what`.
pub fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let start = std::time::Instant::now();
    while !check() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}
