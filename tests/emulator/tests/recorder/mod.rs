//! The recorder: one fixed script of statements and HTTP calls, run against a coordinator (a real
//! Trino 476 / PrestoDB 0.296, or the emulator), turned into normalised JSON that can be compared.
//!
//! * [`script`] is the script: sessions (one coordinator start each) of steps.
//! * [`run_session`] runs one session against a [`Target`] and returns what it answered.
//! * [`normalise`] replaces what changes from run to run (query ids, URLs, ports, times, paths).
//!
//! Timing-dependent answers (the start-up window, a graceful shutdown) are recorded as the
//! sequence of *distinct* answers, never as times.

pub mod script;

use std::process::ExitStatus;
use std::time::{Duration, Instant};

use reqwest::blocking::{Client, RequestBuilder, Response};
use serde_json::{Map, Value, json};
use test_support::emulator::{Flavour, RunningEmulator};
use test_support::real::RealEngine;

pub use script::{Ending, Keep, Session, Step, StepKind};

/// A coordinator the script runs against.
pub trait Target {
    fn url(&self) -> String;
    /// How the process ended, if it has.
    fn exit_status(&mut self) -> Option<ExitStatus>;
    fn wait_for_exit(&mut self, timeout: Duration) -> Option<ExitStatus>;
    /// What the process logged so far (stdout and stderr).
    fn log_lines(&self) -> Vec<String>;
}

impl Target for RealEngine {
    fn url(&self) -> String {
        RealEngine::url(self)
    }
    fn exit_status(&mut self) -> Option<ExitStatus> {
        RealEngine::exit_status(self)
    }
    fn wait_for_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        RealEngine::wait_for_exit(self, timeout)
    }
    fn log_lines(&self) -> Vec<String> {
        RealEngine::log_lines(self)
    }
}

/// The emulator's `RunningEmulator` keeps its child private; an exit is seen by waiting briefly.
pub struct EmulatorTarget(pub RunningEmulator, pub Option<ExitStatus>);

impl Target for EmulatorTarget {
    fn url(&self) -> String {
        self.0.url()
    }
    fn exit_status(&mut self) -> Option<ExitStatus> {
        if self.1.is_none() {
            self.1 = self.0.wait_for_exit(Duration::from_millis(5));
        }
        self.1
    }
    fn wait_for_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        if self.1.is_none() {
            self.1 = self.0.wait_for_exit(timeout);
        }
        self.1
    }
    fn log_lines(&self) -> Vec<String> {
        self.0.stderr().lines().map(str::to_string).collect()
    }
}

fn client() -> Client {
    client_with_timeout(Duration::from_secs(60))
}

fn client_with_timeout(timeout: Duration) -> Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    Client::builder()
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("http client")
}

/// What a request that came to no HTTP answer came to. Refused, accepted but unanswered, or
/// closed without an answer are one answer here: which of them a probe meets depends on timing
/// (a JVM busy starting on two shared cores answers late, a dying one closes connections).
fn transport_failure(_error: &reqwest::Error) -> String {
    "no answer".into()
}

/// `Content-Type` without parameters.
fn media_type(response: &Response) -> Option<String> {
    response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or_default().trim().to_string())
}

// ---------------------------------------------------------------------------------------------
// Running a session

/// Runs `session` against `target`, which was just launched (not yet waited for).
pub fn run_session(session: &Session, target: &mut dyn Target) -> Value {
    let url = target.url();
    let mut out = Map::new();
    out.insert("session".into(), json!(session.name));
    out.insert("setup".into(), session.describe());
    let window = watch_start(session, target);
    let exited = window.exited;
    out.insert("start".into(), window.answers);
    if session.fails_to_start {
        let status = match exited {
            Some(status) => Some(status),
            None => target.wait_for_exit(Duration::from_secs(120)),
        };
        // The log is read by threads of its own: give them a moment to catch up with the exit.
        let mut log = error_log(&target.log_lines());
        let waited = Instant::now();
        while log.is_null() && waited.elapsed() < Duration::from_secs(3) {
            std::thread::sleep(Duration::from_millis(50));
            log = error_log(&target.log_lines());
        }
        out.insert(
            "exit".into(),
            json!({"code": status.and_then(|s| s.code()), "error_log": log}),
        );
        return normalise(Value::Object(out), &url);
    }
    assert!(
        exited.is_none(),
        "{}: the coordinator exited while starting; its log ends with:\n{}",
        session.name,
        tail(&target.log_lines())
    );
    if let Some(sql) = session.ready_probe {
        wait_serving(session, &url, sql);
    }
    let mut steps = Vec::new();
    for step in &session.steps {
        steps.push(run_step(session.flavour, &url, step));
    }
    out.insert("steps".into(), Value::Array(steps));
    if let Ending::GracefulShutdown = session.ending {
        out.insert("end".into(), graceful_shutdown(session.flavour, target));
    }
    normalise(Value::Object(out), &url)
}

/// Waits (without recording) until `sql` answers: right after the start a table read may
/// still fail NO_NODES_AVAILABLE, and the steps are not about that.
fn wait_serving(session: &Session, url: &str, sql: &str) {
    let started = Instant::now();
    let http = client();
    loop {
        let answer = probe_query(&http, session.flavour, url, sql);
        if answer == "ok" {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "{}: {sql} still answers {answer}",
            session.name
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn tail(lines: &[String]) -> String {
    lines[lines.len().saturating_sub(40)..].join("\n")
}

/// The lines of the first ERROR record of the `main` thread in a log (the one that ends a start;
/// a busy machine adds others, e.g. node-stats timeouts): the record itself without its time,
/// then its continuation lines up to the exception or the next record, blank lines left out.
pub fn error_log(lines: &[String]) -> Value {
    let Some(first) = lines.iter().position(|l| l.contains("\tERROR\tmain\t")) else {
        return Value::Null;
    };
    let mut out = Vec::new();
    let record = &lines[first];
    let without_time = record
        .split_once('\t')
        .map_or(record.as_str(), |(_, rest)| rest);
    out.push(json!(without_time));
    for line in &lines[first + 1..] {
        let is_record = line.len() > 24 && line.as_bytes()[4] == b'-' && line.contains('\t');
        if is_record || is_exception(line) || line.trim_start().starts_with("at ") || out.len() >= 8
        {
            break;
        }
        if !line.trim().is_empty() {
            out.push(json!(line));
        }
    }
    Value::Array(out)
}

/// A Java exception line (`java.lang.IllegalArgumentException: …`): the stack trace begins.
fn is_exception(line: &str) -> bool {
    let name = line.split(':').next().unwrap_or_default();
    name.contains('.')
        && !name.contains(' ')
        && name
            .rsplit('.')
            .next()
            .is_some_and(|class| class.ends_with("Exception") || class.ends_with("Error"))
}

/// What the start-up looked like, and whether the process ended meanwhile.
struct Window {
    answers: Value,
    exited: Option<ExitStatus>,
}

/// One thing probed again and again while the coordinator starts; consecutive equal answers are
/// kept once.
struct Channel {
    answers: Vec<String>,
    done: bool,
}

impl Channel {
    fn new() -> Channel {
        Channel {
            answers: Vec::new(),
            done: false,
        }
    }

    fn push(&mut self, answer: String, terminal: bool) {
        if self.answers.last() != Some(&answer) {
            self.answers.push(answer);
        }
        self.done = terminal;
    }
}

/// Probes `/v1/info`, `/v1/info/state` and a query from the moment the process is launched until
/// each reached its final answer (`starting:false`, `ACTIVE`, rows), or the process exited.
fn watch_start(session: &Session, target: &mut dyn Target) -> Window {
    let url = target.url();
    let http = client_with_timeout(Duration::from_secs(2));
    let queries = client();
    let mut info = Channel::new();
    let mut state = Channel::new();
    let mut query = Channel::new();
    let mut transient: Vec<String> = Vec::new();
    let started = Instant::now();
    let mut exited = None;
    let watch_state = true;
    let mut after_exit = 0;
    loop {
        if exited.is_none() {
            exited = target.exit_status();
        }
        // The three probes of one round go out together, so that each meets the same moment.
        let (info_answer, state_answer, query_answer) = std::thread::scope(|scope| {
            let info_probe = (!info.done).then(|| {
                scope.spawn(|| match http.get(format!("{url}/v1/info")).send() {
                    Err(e) => transport_failure(&e),
                    Ok(r) if r.status() != 200 => format!("HTTP {}", r.status().as_u16()),
                    Ok(r) => match r.json::<Value>() {
                        Ok(v) => format!("starting:{}", v["starting"]),
                        Err(_) => "not JSON".into(),
                    },
                })
            });
            let state_probe = (watch_state && !state.done).then(|| {
                scope.spawn(|| match http.get(format!("{url}/v1/info/state")).send() {
                    Err(e) => transport_failure(&e),
                    Ok(r) if r.status() != 200 => format!("HTTP {}", r.status().as_u16()),
                    Ok(r) => r
                        .json::<Value>()
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_string))
                        .unwrap_or_else(|| "not JSON".into()),
                })
            });
            let query_probe = (!query.done).then(|| {
                scope.spawn(|| probe_query(&queries, session.flavour, &url, &session.start_probe))
            });
            let join = |probe: Option<std::thread::ScopedJoinHandle<'_, String>>| {
                probe.map(|p| p.join().expect("a probe"))
            };
            (join(info_probe), join(state_probe), join(query_probe))
        });
        if let Some(answer) = info_answer {
            let terminal = answer == "starting:false";
            info.push(answer, terminal);
        }
        if let Some(answer) = state_answer {
            let terminal = answer == "ACTIVE";
            state.push(answer, terminal);
        }
        if let Some(answer) = query_answer {
            // A transient entry is an error name: the page it comes on depends on timing too
            // (on PrestoDB 0.296 NO_NODES_AVAILABLE has come on the first GET and on a later page).
            let declared = session.transient.iter().find(|name| {
                answer == **name
                    || answer
                        .strip_prefix(**name)
                        .is_some_and(|rest| rest.starts_with(' '))
            });
            if let Some(name) = declared {
                if !transient.iter().any(|seen| seen == name) {
                    transient.push(name.to_string());
                }
            } else {
                let terminal = answer == "ok";
                query.push(answer, terminal);
            }
        }
        let all_done = info.done && query.done && (state.done || !watch_state);
        if all_done {
            break;
        }
        if exited.is_some() {
            // One more round after the exit: the port is closed by then.
            after_exit += 1;
            if after_exit > 1 {
                break;
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(240),
            "{}: still not started after 4 minutes; answers so far: {:?} {:?} {:?}",
            session.name,
            info.answers,
            state.answers,
            query.answers
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let mut answers = Map::new();
    answers.insert("info".into(), json!(info.answers));
    if watch_state {
        answers.insert("info_state".into(), json!(state.answers));
    }
    answers.insert(
        "query".into(),
        json!({"sql": session.start_probe, "answers": query.answers, "transient": transient}),
    );
    Window {
        answers: Value::Object(answers),
        exited,
    }
}

/// One query while the coordinator starts: `ok`, a transport failure, or the error name and the
/// page it came on.
fn probe_query(http: &Client, flavour: Flavour, url: &str, sql: &str) -> String {
    let post = http
        .post(format!("{url}/v1/statement"))
        .header(flavour.user_header(), "test")
        .timeout(Duration::from_secs(2))
        .body(sql.to_string())
        .send();
    let mut page = match post {
        Err(e) => return transport_failure(&e),
        Ok(r) if r.status() != 200 => return format!("HTTP {} on the POST", r.status().as_u16()),
        Ok(r) => match r.json::<Value>() {
            Ok(v) => v,
            Err(_) => return "not JSON".into(),
        },
    };
    let mut gets = 0;
    loop {
        if let Some(error) = page.get("error").filter(|e| !e.is_null()) {
            let name = error["errorName"].as_str().unwrap_or("?");
            let on = match gets {
                0 => "on the POST",
                1 => "on the first GET",
                _ => "on a later page",
            };
            return format!("{name} {on}");
        }
        let Some(next) = page["nextUri"].as_str().map(str::to_string) else {
            return "ok".into();
        };
        gets += 1;
        page = match http
            .get(&next)
            .header(flavour.user_header(), "test")
            .timeout(Duration::from_secs(30))
            .send()
        {
            Err(e) => return transport_failure(&e),
            Ok(r) if r.status() != 200 => return format!("HTTP {} on a GET", r.status().as_u16()),
            Ok(r) => match r.json::<Value>() {
                Ok(v) => v,
                Err(_) => return "not JSON".into(),
            },
        };
    }
}

// ---------------------------------------------------------------------------------------------
// Steps

fn run_step(flavour: Flavour, url: &str, step: &Step) -> Value {
    let mut out = match &step.kind {
        StepKind::Sql { sql, sort_rows } => run_sql(flavour, url, sql, *sort_rows),
        StepKind::Http {
            method,
            path,
            user,
            content_type,
            body,
            basic,
            keep,
        } => {
            let http = client();
            let mut request = match *method {
                "GET" => http.get(format!("{url}{path}")),
                "PUT" => http.put(format!("{url}{path}")),
                "POST" => http.post(format!("{url}{path}")),
                other => panic!("no method {other}"),
            };
            if *user {
                request = request.header(flavour.user_header(), "test");
            }
            if let Some((name, password)) = basic {
                request = request.basic_auth(name, Some(password));
            }
            if let Some(content_type) = content_type {
                request = request.header("Content-Type", *content_type);
            }
            if let Some(body) = body {
                request = request.body(body.to_string());
            }
            let mut out = http_answer(request, keep);
            out.insert("request".into(), json!(format!("{method} {path}")));
            out
        }
    };
    out.insert("step".into(), json!(step.name));
    Value::Object(out)
}

fn http_answer(request: RequestBuilder, keep: &Keep) -> Map<String, Value> {
    let mut out = Map::new();
    let response = match request.send() {
        Ok(response) => response,
        Err(e) => {
            out.insert("transport".into(), json!(transport_failure(&e)));
            return out;
        }
    };
    out.insert("status".into(), json!(response.status().as_u16()));
    if let Some(challenge) = response.headers().get(reqwest::header::WWW_AUTHENTICATE) {
        out.insert(
            "www_authenticate".into(),
            json!(challenge.to_str().unwrap_or_default()),
        );
    }
    let media = media_type(&response);
    let text = response.text().unwrap_or_default();
    let json_body: Option<Value> = serde_json::from_str(&text).ok();
    let body = match (keep, &json_body) {
        (Keep::Json, Some(value)) => value.clone(),
        (Keep::Keys, Some(Value::Object(map))) => json!(map.keys().collect::<Vec<_>>()),
        (Keep::Cluster, Some(Value::Object(map))) => {
            // The counters that say what runs; the rest (memory, CPU, rows) only by name.
            let mut kept = Map::new();
            for (key, value) in map {
                let counts = matches!(
                    key.as_str(),
                    "runningQueries" | "blockedQueries" | "queuedQueries" | "activeWorkers"
                );
                kept.insert(
                    key.clone(),
                    if counts {
                        value.clone()
                    } else {
                        json!("<number>")
                    },
                );
            }
            Value::Object(kept)
        }
        (Keep::History, Some(Value::Array(entries))) => {
            // The fields the agent reads, for the queries of this session named in the step.
            let mut kept: Vec<Value> = entries
                .iter()
                .filter(|e| {
                    e["query"]
                        .as_str()
                        .is_some_and(|q| q.contains("rec_history"))
                })
                .map(|e| {
                    json!({
                        "queryId": e["queryId"],
                        "state": e["state"],
                        "query": e["query"],
                        "errorCode.name": e["errorCode"]["name"],
                    })
                })
                .collect();
            kept.sort_by_key(|e| e["query"].as_str().unwrap_or_default().to_string());
            Value::Array(kept)
        }
        (_, _) if text.is_empty() => json!(""),
        (_, Some(value)) => value.clone(),
        (_, None) => json!(text),
    };
    if let Some(media) = media {
        out.insert("content_type".into(), json!(media));
    }
    out.insert("body".into(), body);
    out
}

/// A statement through the client protocol: the POST's answer, then every page until the last,
/// summed up as what a client sees.
fn run_sql(flavour: Flavour, url: &str, sql: &str, sort_rows: bool) -> Map<String, Value> {
    let http = client();
    let mut out = Map::new();
    out.insert("sql".into(), json!(sql));
    let response = http
        .post(format!("{url}/v1/statement"))
        .header(flavour.user_header(), "test")
        .body(sql.to_string())
        .send()
        .unwrap_or_else(|e| panic!("POST {sql}: {e}"));
    let status = response.status().as_u16();
    let text = response.text().unwrap_or_default();
    let Ok(mut page) = serde_json::from_str::<Value>(&text) else {
        out.insert("post".into(), json!({"status": status, "body": text}));
        return out;
    };
    out.insert(
        "post".into(),
        json!({"status": status, "state": page["stats"]["state"], "keys": keys(&page)}),
    );
    let mut columns = Vec::new();
    let mut rows: Vec<Value> = Vec::new();
    loop {
        if let Some(cols) = page["columns"].as_array() {
            columns = cols
                .iter()
                .map(|c| {
                    json!(format!(
                        "{} {}",
                        c["name"].as_str().unwrap_or_default(),
                        c["type"].as_str().unwrap_or_default()
                    ))
                })
                .collect();
        }
        if let Some(data) = page["data"].as_array() {
            rows.extend(data.iter().cloned());
        }
        let next = page["nextUri"].as_str().map(str::to_string);
        let error = page.get("error").filter(|e| !e.is_null()).cloned();
        if next.is_none() || error.is_some() {
            let mut result = Map::new();
            result.insert("state".into(), page["stats"]["state"].clone());
            match error {
                Some(error) => {
                    let mut kept = Map::new();
                    for key in [
                        "errorName",
                        "errorCode",
                        "errorType",
                        "message",
                        "errorLocation",
                    ] {
                        if let Some(value) = error.get(key) {
                            kept.insert(key.into(), value.clone());
                        }
                    }
                    result.insert("error".into(), Value::Object(kept));
                    result.insert("error_keys".into(), json!(keys(&error)));
                    result.insert("has_next_uri".into(), json!(next.is_some()));
                    // Not recorded: whether the error came on a queued or an executing page, and
                    // that page's keys (an executing page adds `columns` and `updateType`). A
                    // statement that fails fast fails on the queued page, a slower one later:
                    // timing, not behaviour.
                }
                None => {
                    result.insert("columns".into(), Value::Array(columns));
                    if sort_rows {
                        rows.sort_by_key(|r| r.to_string());
                    }
                    result.insert("rows".into(), Value::Array(rows));
                    if let Some(update_type) = page.get("updateType").filter(|u| !u.is_null()) {
                        result.insert("updateType".into(), update_type.clone());
                    }
                    result.insert("last_page_keys".into(), json!(keys(&page)));
                }
            }
            out.insert("result".into(), Value::Object(result));
            return out;
        }
        let next = next.expect("a next page");
        let response = http
            .get(&next)
            .header(flavour.user_header(), "test")
            .send()
            .unwrap_or_else(|e| panic!("GET {next}: {e}"));
        let status = response.status().as_u16();
        if matches!(status, 502..=504) {
            std::thread::sleep(Duration::from_millis(50));
            continue;
        }
        let text = response.text().unwrap_or_default();
        page = serde_json::from_str(&text)
            .unwrap_or_else(|_| panic!("{sql}: HTTP {status} on {next}: {text}"));
    }
}

fn keys(value: &Value) -> Vec<String> {
    value
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}

/// PrestoDB: `PUT /v1/info/state "SHUTTING_DOWN"`, what the state then says, a `PUT "ACTIVE"`,
/// and the distinct answers of `/v1/info/state` until the process has exited.
fn graceful_shutdown(flavour: Flavour, target: &mut dyn Target) -> Value {
    let url = target.url();
    let http = client();
    let put = |body: &str| {
        let response = http
            .put(format!("{url}/v1/info/state"))
            .header(flavour.user_header(), "test")
            .header("Content-Type", "application/json")
            .body(body.to_string())
            .send()
            .expect("PUT /v1/info/state");
        let status = response.status().as_u16();
        json!({"status": status, "body": response.text().unwrap_or_default().trim_end()})
    };
    let shutting_down = put("\"SHUTTING_DOWN\"");
    let again = put("\"SHUTTING_DOWN\"");
    let active = put("\"ACTIVE\"");
    let probe = client_with_timeout(Duration::from_secs(2));
    let mut states = Channel::new();
    let started = Instant::now();
    let status = loop {
        let answer = match probe.get(format!("{url}/v1/info/state")).send() {
            Err(e) => transport_failure(&e),
            Ok(r) => r
                .json::<Value>()
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_else(|| "not JSON".into()),
        };
        states.push(answer, false);
        if let Some(status) = target.exit_status() {
            break Some(status);
        }
        if started.elapsed() > Duration::from_secs(120) {
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    // Once more after the exit: refused.
    if let Err(e) = probe.get(format!("{url}/v1/info/state")).send() {
        states.push(transport_failure(&e), true);
    }
    json!({
        "put_shutting_down": shutting_down,
        "put_shutting_down_again": again,
        "put_active": active,
        "info_state_until_exit": states.answers,
        "exit_code": status.and_then(|s| s.code()),
    })
}

// ---------------------------------------------------------------------------------------------
// Normalising

/// Replaces what differs between runs: the base URL, query ids, times, uptimes, node ids,
/// temporary paths, log times.
pub fn normalise(value: Value, base_url: &str) -> Value {
    match value {
        Value::String(s) => Value::String(normalise_text(&s, base_url)),
        Value::Array(items) => {
            Value::Array(items.into_iter().map(|v| normalise(v, base_url)).collect())
        }
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| {
                    let v = match k.as_str() {
                        "uptime" | "elapsedTime" | "createTime" => json!("<duration>"),
                        "nodeId" => json!("<node-id>"),
                        _ => normalise(v, base_url),
                    };
                    (k, v)
                })
                .collect(),
        ),
        other => other,
    }
}

fn normalise_text(text: &str, base_url: &str) -> String {
    let mut text = text.replace(base_url, "<base>");
    text = replace_query_ids(&text);
    text = replace_temp_paths(&text);
    text
}

/// `YYYYMMDD_HHMMSS_NNNNN_xxxxx` → `<query-id>`.
fn replace_query_ids(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::new();
    let mut i = 0;
    while i < bytes.len() {
        if i + 27 <= bytes.len() && is_query_id(&bytes[i..i + 27]) {
            out.push_str("<query-id>");
            i += 27;
        } else {
            let c = text[i..].chars().next().expect("a char");
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

fn is_query_id(b: &[u8]) -> bool {
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    digits(0..8)
        && b[8] == b'_'
        && digits(9..15)
        && b[15] == b'_'
        && digits(16..21)
        && b[21] == b'_'
        && b[22..27]
            .iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
}

/// `/tmp/<one folder>` → `<dir>` (the temporary folders of coordinators and their catalogs).
fn replace_temp_paths(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find("/tmp/") {
        out.push_str(&rest[..at]);
        let after = &rest[at + 5..];
        let end = after
            .find(|c: char| c == '/' || c.is_whitespace() || c == '\'' || c == '"')
            .unwrap_or(after.len());
        out.push_str("<dir>");
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

// ---------------------------------------------------------------------------------------------
// Comparing

/// Where two documents differ: `(path, expected, actual)`, in document order.
pub fn differences(expected: &Value, actual: &Value) -> Vec<(String, Value, Value)> {
    let mut out = Vec::new();
    diff(expected, actual, String::new(), &mut out);
    out
}

fn diff(expected: &Value, actual: &Value, path: String, out: &mut Vec<(String, Value, Value)>) {
    match (expected, actual) {
        (Value::Object(a), Value::Object(b)) => {
            let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
            keys.sort();
            keys.dedup();
            for key in keys {
                let sub = format!("{path}/{key}");
                match (a.get(key), b.get(key)) {
                    (Some(x), Some(y)) => diff(x, y, sub, out),
                    (x, y) => out.push((
                        sub,
                        x.cloned().unwrap_or(json!("<absent>")),
                        y.cloned().unwrap_or(json!("<absent>")),
                    )),
                }
            }
        }
        // Steps and sessions are addressed by name, so one missing step does not shift the rest.
        (Value::Array(a), Value::Array(b))
            if a.iter()
                .chain(b)
                .all(|v| v.get("step").is_some() || v.get("session").is_some()) =>
        {
            let name = |v: &Value| {
                v.get("step")
                    .or_else(|| v.get("session"))
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string()
            };
            let mut names: Vec<String> = a.iter().map(name).collect();
            for n in b.iter().map(name) {
                if !names.contains(&n) {
                    names.push(n);
                }
            }
            for n in names {
                let x = a.iter().find(|v| name(v) == n);
                let y = b.iter().find(|v| name(v) == n);
                let sub = format!("{path}/{n}");
                match (x, y) {
                    (Some(x), Some(y)) => diff(x, y, sub, out),
                    (x, y) => out.push((
                        sub,
                        x.cloned().unwrap_or(json!("<absent>")),
                        y.cloned().unwrap_or(json!("<absent>")),
                    )),
                }
            }
        }
        (a, b) if a != b => out.push((path, a.clone(), b.clone())),
        _ => {}
    }
}

/// The value at a path made of `/`-separated object keys and step/session names.
pub fn at_path<'a>(value: &'a mut Value, path: &str) -> Option<&'a mut Value> {
    let mut current = value;
    for part in path.split('/').filter(|p| !p.is_empty()) {
        current = match current {
            Value::Object(map) => map.get_mut(part)?,
            Value::Array(items) => items.iter_mut().find(|v| {
                v.get("step")
                    .or_else(|| v.get("session"))
                    .and_then(Value::as_str)
                    == Some(part)
            })?,
            _ => return None,
        };
    }
    Some(current)
}
