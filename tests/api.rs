//! The catalog API (`--api`): PUT, GET and DELETE through the agent, against the real Trino 476
//! of the test suite where the engine matters (a PUT ends with a catalog that answers a query,
//! Trino's own refusal comes back), the emulator where only the agent's side is asserted.

mod common;

use common::{Folder, NOBODY, PATIENCE, Scenario, agent, http, wait_for};
use serde_json::{Value, json};
use std::time::Duration;
use test_support::emulator::Emulator;
use test_support::proxy::{Fault, FaultyProxy};
use test_support::real::{Engines, Trino, shared_dynamic_trino};

const RW: &str = "rw-token-0123456789abcdef";
const RO: &str = "ro-token-0123456789abcdef";
const TPCH: &str = "connector.name=tpch\n";

fn token_file() -> Folder {
    let dir = Folder::new();
    dir.write(
        "tokens",
        &format!("# who rights token\nportal rw {RW}\n\ndashboard ro {RO}\n"),
    );
    dir
}

/// The agent's flags for the API with the tokens of `tokens` (from [`token_file`]).
fn api_with(tokens: &Folder) -> [String; 3] {
    [
        "--api".into(),
        "--api-token-file".into(),
        tokens.file("tokens").display().to_string(),
    ]
}

/// One call: (HTTP status, JSON body or Null).
fn call(
    method: &str,
    url: &str,
    token: Option<&str>,
    body: Option<(&str, String)>,
) -> (u16, Value) {
    let client = http();
    let mut req = client.request(method.parse().unwrap(), url);
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    if let Some((content_type, body)) = body {
        req = req.header("content-type", content_type).body(body);
    }
    let resp = req
        .timeout(Duration::from_secs(60))
        .send()
        .expect("the API answers");
    let code = resp.status().as_u16();
    let text = resp.text().unwrap_or_default();
    (code, serde_json::from_str(&text).unwrap_or(Value::Null))
}

#[test]
fn a_put_through_the_api_ends_with_a_catalog_that_answers_a_select_on_trino() {
    let Some(scenario) = Scenario::shared_trino() else {
        return;
    };
    let tokens = token_file();
    let (trino, folder, running) = scenario
        .with_agent_args(["--debounce", "50ms"])
        .with_agent_args(api_with(&tokens))
        .run();
    let url = |path: &str| running.url(path);

    // Created, applied, answering — all before the PUT returns.
    let (code, body) = call(
        "PUT",
        &url("/v1/catalogs/api_sales?wait=30s"),
        Some(RW),
        Some(("text/plain", TPCH.into())),
    );
    assert_eq!(code, 201, "{body}");
    assert_eq!(body["state"], "applied", "{body}");
    assert_eq!(trino.nations("api_sales"), Ok(25));
    assert_eq!(
        std::fs::read_to_string(folder.file("api_sales.properties")).unwrap(),
        TPCH,
        "the folder is the store"
    );

    // A JSON definition the engine refuses: Trino's own words come back, the secret does not.
    let (code, body) = call(
        "PUT",
        &url("/v1/catalogs/api_refused?wait=30s"),
        Some(RW),
        Some((
            "application/json",
            json!({"connector": "tpch", "properties": {"tpch.password": "hunter2-in-a-put"}})
                .to_string(),
        )),
    );
    assert_eq!(code, 422, "{body}");
    assert_eq!(body["state"], "failed", "{body}");
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|e| e.contains("tpch.password") && e.contains("was not used")),
        "Trino's reason: {body}"
    );
    assert_eq!(body["desired"]["properties"]["tpch.password"], "***");
    assert!(!body.to_string().contains("hunter2"), "{body}");
    assert!(!trino.has_catalog("api_refused"));

    // Reading: a read-only token may; it may not write; no token, or a wrong one, may do nothing.
    let (code, body) = call("GET", &url("/v1/catalogs/api_sales"), Some(RO), None);
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["desired"]["connector"], "tpch");
    assert_eq!(body["state"], "applied");
    assert_eq!(
        body["live"],
        json!({"connector": "tpch"}),
        "Trino's own list"
    );
    let (code, body) = call("GET", &url("/v1/catalogs"), Some(RO), None);
    assert_eq!(code, 200);
    let names: Vec<&str> = body["catalogs"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    assert_eq!(names, ["api_refused", "api_sales"]);
    assert_eq!(body["catalogs"][0]["live"], false, "refused: not in Trino");
    assert_eq!(body["catalogs"][1]["live"]["connector"], "tpch");
    let put = |token| {
        call(
            "PUT",
            &url("/v1/catalogs/api_other"),
            token,
            Some(("text/plain", TPCH.into())),
        )
        .0
    };
    assert_eq!(put(Some(RO)), 403);
    assert_eq!(put(None), 401);
    assert_eq!(put(Some("not-a-token-0123456789")), 401);
    assert!(!folder.file("api_other.properties").exists());

    // Invalid text: the same error a file gets, with its line; nothing is written.
    let (code, body) = call(
        "PUT",
        &url("/v1/catalogs/api_broken"),
        Some(RW),
        Some(("text/plain", "connector.name=tpch\nbad\\u12=1\n".into())),
    );
    assert_eq!(code, 422, "{body}");
    assert_eq!(body["line"], 2, "{body}");
    assert_eq!(body["file"], "api_broken.properties");
    assert!(!folder.file("api_broken.properties").exists());
    let (code, _) = call("GET", &url("/v1/catalogs/api_broken"), Some(RO), None);
    assert_eq!(code, 404);
    let (code, _) = call("GET", &url("/v1/catalogs/Bad.Name"), Some(RO), None);
    assert_eq!(code, 400);

    // Deleted and dropped before the DELETE returns.
    let (code, body) = call(
        "DELETE",
        &url("/v1/catalogs/api_sales?wait=30s"),
        Some(RW),
        None,
    );
    assert_eq!(code, 200, "{body}");
    assert!(!trino.has_catalog("api_sales"));
    assert!(!folder.file("api_sales.properties").exists());
    let (code, _) = call("DELETE", &url("/v1/catalogs/api_sales"), Some(RW), None);
    assert_eq!(code, 404);
    let (code, _) = call("DELETE", &url("/v1/catalogs/api_refused"), Some(RW), None);
    assert_eq!(code, 200);

    // One audit line per change, with the token's name and no value. The agent writes the line
    // before it answers, but the test reads the agent's stderr on its own thread: wait for it.
    let audit_lines = || -> Vec<Value> {
        running
            .log_json()
            .into_iter()
            .filter(|l| l["message"] == "catalog API change")
            .collect()
    };
    wait_for(PATIENCE, "the five audit lines", || {
        (audit_lines().len() >= 5).then_some(())
    });
    let log = running.log_text();
    let audit = audit_lines();
    let lines: Vec<String> = audit
        .iter()
        .map(|l| {
            let f = l;
            format!(
                "{} {} {} {}",
                f["who"].as_str().unwrap_or("?"),
                f["action"].as_str().unwrap_or("?"),
                f["catalog"].as_str().unwrap_or("?"),
                f["outcome"].as_str().unwrap_or("?")
            )
        })
        .collect();
    assert_eq!(
        lines,
        [
            "portal put api_sales created",
            "portal put api_refused created",
            "portal put api_broken invalid",
            "portal delete api_sales removed",
            "portal delete api_refused removed",
        ],
        "{log}"
    );
    assert!(!log.contains("hunter2"));
    assert!(!log.contains(RW) && !log.contains(RO));
}

#[test]
fn the_api_is_refused_where_it_would_be_open_and_tells_a_read_only_folder() {
    let engine = Emulator::trino().dynamic().memory_store().start();
    let folder = Folder::open_to_all();

    // On every address without tokens: refused at start.
    let out = agent("run", folder.path(), &engine.url())
        .args(["--api", "--listen", "0.0.0.0:0"])
        .output();
    assert_eq!(out.code(), 2, "{}", out.stderr);
    assert!(out.stderr.contains("--api-token-file"), "{}", out.stderr);

    // A token file with a mistake: its line, never its token.
    let tokens = Folder::new();
    tokens.write("tokens", "portal rw short\n");
    let out = agent("run", folder.path(), &engine.url())
        .args(["--api", "--api-token-file"])
        .arg(tokens.file("tokens").display().to_string())
        .output();
    assert_eq!(out.code(), 2, "{}", out.stderr);
    assert!(out.stderr.contains("tokens:1:"), "{}", out.stderr);
    assert!(!out.stderr.contains("short\n"), "{}", out.stderr);

    // A folder the agent may not write (as a ConfigMap is): 409 with the reason.
    let running = agent("run", folder.path(), &engine.url())
        .args(["--api", "--listen", "127.0.0.1:0"])
        .run_as(NOBODY)
        .start();
    let (code, body) = call(
        "PUT",
        &running.url("/v1/catalogs/ro"),
        None,
        Some(("text/plain", TPCH.into())),
    );
    assert_eq!(code, 409, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("read-only"),
        "{body}"
    );
    // Too large a body: refused before it is read whole.
    let (code, _) = call(
        "PUT",
        &running.url("/v1/catalogs/big"),
        None,
        Some(("text/plain", "#".repeat(2 * 1024 * 1024))),
    );
    assert_eq!(code, 413);
    // The OpenAPI document is served.
    let (code, doc) = call("GET", &running.url("/openapi.json"), None, None);
    assert_eq!(code, 200);
    assert_eq!(doc["openapi"], "3.0.3");
    assert!(doc["paths"]["/v1/catalogs/{name}"]["put"].is_object());
}

/// Without `--api` the agent's HTTP server has no catalog API at all: no route answers, with or
/// without a token, and nothing is written.
#[test]
fn the_api_is_off_unless_asked() {
    let (_engine, folder, running) = Scenario::emulated_trino().run_past_the_first_pass();
    for (method, path) in [
        ("GET", "/v1/catalogs"),
        ("GET", "/v1/catalogs/off"),
        ("PUT", "/v1/catalogs/off"),
        ("DELETE", "/v1/catalogs/off"),
        ("POST", "/v1/catalogs/off/check"),
        ("GET", "/openapi.json"),
    ] {
        let (code, body) = call(
            method,
            &running.url(path),
            Some(RW),
            Some(("text/plain", TPCH.into())),
        );
        assert_eq!(code, 404, "{method} {path}: {body}");
    }
    assert_eq!(std::fs::read_dir(folder.path()).unwrap().count(), 0);
    assert_eq!(running.status()["catalogs"], json!({}));
}

/// Writers of the same catalog at the same moment are served one after the other: exactly one
/// of them created the file (201), every other replaced it (200), the file is one of their
/// definitions whole, no temporary file is left, and each has its audit line.
#[test]
fn concurrent_writers_are_served_one_at_a_time() {
    let (_engine, folder, running) = Scenario::emulated_trino()
        .with_agent_args(["--api", "--listen", "127.0.0.1:0"])
        .run_past_the_first_pass();
    const WRITERS: usize = 16;
    let bodies: Vec<String> = (0..WRITERS)
        .map(|i| format!("connector.name=tpch\ntpch.splits-per-node={}\n", i + 1))
        .collect();
    let url = running.url("/v1/catalogs/together");
    let start = std::sync::Arc::new(std::sync::Barrier::new(WRITERS));
    let writers: Vec<_> = bodies
        .iter()
        .cloned()
        .map(|body| {
            let (url, start) = (url.clone(), start.clone());
            std::thread::spawn(move || {
                start.wait();
                call("PUT", &url, None, Some(("text/plain", body))).0
            })
        })
        .collect();
    let mut codes: Vec<u16> = writers.into_iter().map(|w| w.join().unwrap()).collect();
    codes.sort();
    let mut expected = vec![200; WRITERS - 1];
    expected.push(201);
    assert_eq!(codes, expected, "one created, the others replaced");
    let files: Vec<String> = std::fs::read_dir(folder.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(files, ["together.properties"], "no temporary file left");
    let text = std::fs::read_to_string(folder.file("together.properties")).unwrap();
    assert!(bodies.contains(&text), "one definition whole: {text:?}");
    let audit = wait_for(PATIENCE, "an audit line per write", || {
        let lines: Vec<String> = running
            .log_json()
            .into_iter()
            .filter(|l| l["message"] == "catalog API change")
            .map(|l| l["outcome"].as_str().unwrap_or_default().to_string())
            .collect();
        (lines.len() >= WRITERS).then_some(lines)
    });
    assert_eq!(
        audit.iter().filter(|o| *o == "created").count(),
        1,
        "{audit:?}"
    );
    assert_eq!(
        audit.iter().filter(|o| *o == "replaced").count(),
        WRITERS - 1
    );
    running.wait_state("together", "applied");
}

#[test]
fn a_put_racing_an_edit_on_disk_ends_with_one_of_the_two_whole_on_trino() {
    let Some(scenario) = Scenario::shared_trino() else {
        return;
    };
    let (trino, folder, running) = scenario
        .with_agent_args(["--debounce", "20ms", "--api", "--listen", "127.0.0.1:0"])
        .with_agent_args(["--max-changes-per-minute", "0"])
        .run();
    let from_api = "connector.name=tpch\ntpch.splits-per-node=1\n".to_string();
    let on_disk = "connector.name=tpch\ntpch.splits-per-node=2\n".to_string();
    let url = running.url("/v1/catalogs/api_raced");
    let api = std::thread::spawn({
        let from_api = from_api.clone();
        move || {
            for _ in 0..30 {
                let (code, body) = call("PUT", &url, None, Some(("text/plain", from_api.clone())));
                assert!(code == 200 || code == 201, "{code} {body}");
            }
        }
    });
    for _ in 0..30 {
        folder.write_atomically("api_raced.properties", &on_disk);
        std::thread::sleep(Duration::from_millis(3));
    }
    api.join().unwrap();
    let text = std::fs::read_to_string(folder.file("api_raced.properties")).unwrap();
    assert!(text == from_api || text == on_disk, "whole: {text:?}");
    // Trino ends with what the file says: its last CREATE of the catalog is that definition.
    let splits = if text == from_api { "1" } else { "2" };
    wait_for(
        Duration::from_secs(60),
        "the file's definition applied",
        || {
            let last = trino.history().into_iter().rev().find(|q| {
                q.query.starts_with("CREATE CATALOG \"api_raced\"") && q.state == "FINISHED"
            })?;
            (last.query.contains(&format!("'{splits}'"))
                && running.catalog("api_raced")?["state"] == "applied")
                .then_some(())
        },
    );
    assert_eq!(trino.nations("api_raced"), Ok(25));
    folder.remove("api_raced.properties");
    wait_for(Duration::from_secs(60), "api_raced dropped", || {
        (!trino.has_catalog("api_raced")).then_some(())
    });
}

fn check_catalogs(trino: &test_support::real::RealEngine) -> Vec<String> {
    trino
        .show_catalogs()
        .into_iter()
        .filter(|c| c.starts_with("catalog_reloader_check_"))
        .collect()
}

#[test]
fn the_connection_check_reports_trinos_answer_and_leaves_nothing_behind() {
    let Some(scenario) = Scenario::shared_trino() else {
        return;
    };
    let tokens = token_file();
    let (trino, folder, running) = scenario
        .with_agent_args(["--debounce", "50ms"])
        .with_agent_args(api_with(&tokens))
        .run_past_the_first_pass();
    let check = |name: &str, body: &str, token| {
        call(
            "POST",
            &running.url(&format!("/v1/catalogs/{name}/check")),
            token,
            Some(("text/plain", body.to_string())),
        )
    };

    // A definition Trino takes: its connector answers the probe.
    let (code, body) = check("chk_good", TPCH, Some(RW));
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["check"]["ok"], true);
    assert!(body["check"]["schemas"].as_u64() > Some(1), "{body}");
    // One Trino refuses: its own words, the secret masked.
    let refused = "connector.name=tpch\ntpch.password=hunter2-in-a-check\n";
    let (code, body) = check("chk_bad", refused, Some(RW));
    assert_eq!(code, 422, "{body}");
    assert_eq!(body["check"]["stage"], "create");
    assert_eq!(
        body["check"]["error_name"], "GENERIC_INTERNAL_ERROR",
        "{body}"
    );
    assert!(
        body["check"]["error"]
            .as_str()
            .is_some_and(|e| e.contains("tpch.password") && e.contains("was not used")),
        "{body}"
    );
    assert!(!body.to_string().contains("hunter2"), "{body}");
    // Nothing left: no file, no temporary catalog, no catalog of either name.
    assert!(
        check_catalogs(trino).is_empty(),
        "{:?}",
        trino.show_catalogs()
    );
    assert!(!trino.has_catalog("chk_good") && !trino.has_catalog("chk_bad"));
    assert_eq!(std::fs::read_dir(folder.path()).unwrap().count(), 0);
    // A read-only token may not run one; a leaky connector is not checked unless asked.
    assert_eq!(check("chk_good", TPCH, Some(RO)).0, 403);
    let (code, body) = check("chk_hive", "connector.name=hive\n", Some(RW));
    assert_eq!(code, 409, "{body}");
    assert!(body["error"].as_str().unwrap().contains("hive"), "{body}");

    // PUT ?check=true writes only what passes.
    let (code, body) = call(
        "PUT",
        &running.url("/v1/catalogs/chk_bad?check=true"),
        Some(RW),
        Some(("text/plain", refused.into())),
    );
    assert_eq!(code, 422, "{body}");
    assert_eq!(body["state"], "not written");
    assert!(!folder.file("chk_bad.properties").exists());
    let (code, body) = call(
        "PUT",
        &running.url("/v1/catalogs/chk_good?check=true&wait=30s"),
        Some(RW),
        Some(("text/plain", TPCH.into())),
    );
    assert_eq!(code, 201, "{body}");
    assert_eq!(trino.nations("chk_good"), Ok(25));
    // With an empty body, the check reads the catalog's file.
    let (code, body) = check("chk_good", "", Some(RW));
    assert_eq!(code, 200, "{body}");
    assert!(check_catalogs(trino).is_empty());
    folder.remove("chk_good.properties");
    wait_for(PATIENCE, "chk_good dropped", || {
        (!trino.has_catalog("chk_good")).then_some(())
    });
    let audit: Vec<String> = running
        .log_json()
        .into_iter()
        .filter(|l| l["message"] == "catalog API change")
        .map(|l| format!("{} {} {}", l["action"], l["catalog"], l["outcome"]))
        .collect();
    assert_eq!(
        audit,
        [
            r#""check" "chk_good" "ok""#,
            r#""check" "chk_bad" "failed""#,
            r#""put" "chk_bad" "connection check failed""#,
            r#""put" "chk_good" "created""#,
            r#""check" "chk_good" "ok""#,
        ]
    );
    // Asked for (allow_leak=true), a leaky connector is checked like any other: here Trino has
    // no hive plugin, and says so; nothing is left behind either.
    let (code, body) = call(
        "POST",
        &running.url("/v1/catalogs/chk_hive/check?allow_leak=true"),
        Some(RW),
        Some(("text/plain", "connector.name=hive\n".to_string())),
    );
    assert_eq!(code, 422, "{body}");
    assert_eq!(body["check"]["stage"], "create", "{body}");
    assert!(
        body["check"]["error"]
            .as_str()
            .is_some_and(|e| e.contains("hive")),
        "Trino's own answer about the hive connector: {body}"
    );
    assert!(check_catalogs(trino).is_empty());
    assert!(!trino.has_catalog("chk_hive"));
}

#[test]
fn a_check_killed_half_way_leaves_a_catalog_that_a_later_pass_removes() {
    let Some(engines) = Engines::required() else {
        return;
    };
    // A coordinator of its own: the other tests here assert that no temporary catalog is left on
    // the shared one.
    let trino = &Trino::dynamic().memory_store().start(&engines);
    // `catalog-reloader check` killed after its CREATE: the answer to its probe is held by a
    // proxy, and the process is killed while it waits.
    let proxy = FaultyProxy::start(&format!("127.0.0.1:{}", trino.port()));
    proxy.arm(
        &["SHOW SCHEMAS FROM"],
        Fault::HoldAnswer(Duration::from_secs(60)),
    );
    let files = Folder::new();
    files.write("killed.properties", TPCH);
    let mut cli = std::process::Command::new(common::BIN)
        .args([
            "check",
            &files.file("killed.properties").display().to_string(),
        ])
        .args(["--server", &proxy.url()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let left = wait_for(PATIENCE, "the check's temporary catalog", || {
        (proxy.fired() == 1).then_some(())?;
        check_catalogs(trino).into_iter().next()
    });
    cli.kill().unwrap();
    cli.wait().unwrap();
    // One of a check still running for all the agent knows (stamped a little ahead, so it stays
    // younger than a check may take for as long as this test waits).
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let fresh = format!("catalog_reloader_check_{}_0000beef", now + 20);
    trino
        .query(&format!("CREATE CATALOG \"{fresh}\" USING tpch"))
        .unwrap();

    // Checks here take at most 3 × 2 s + 10 s: after that the killed one's is a leftover.
    let folder = Folder::new();
    let running = agent("run", folder.path(), &trino.url())
        .args(["--resync-interval", "1s", "--statement-timeout", "2s"])
        .start();
    wait_for(Duration::from_secs(60), "the leftover dropped", || {
        (!trino.has_catalog(&left)).then_some(())
    });
    assert!(
        trino.has_catalog(&fresh),
        "a check in progress is left alone"
    );
    let status = running.status();
    assert!(
        status["catalogs"].as_object().unwrap().is_empty(),
        "never planned nor reported: {status}"
    );
    assert!(
        running
            .log_text()
            .contains("dropped a connection check's leftover catalog")
    );
    trino.query(&format!("DROP CATALOG \"{fresh}\"")).unwrap();
}

#[test]
fn check_on_the_command_line_answers_with_trinos_words() {
    let Some(engines) = Engines::required() else {
        return;
    };
    let trino = shared_dynamic_trino(&engines);
    let folder = Folder::new();
    folder.write("cli_ok.properties", TPCH);
    folder.write(
        "cli_bad.properties",
        "connector.name=tpch\ntpch.password=hunter2-on-the-cli\n",
    );
    let run = |file: &str| {
        let out = std::process::Command::new(common::BIN)
            .args(["check", &folder.file(file).display().to_string()])
            .args(["--server", &trino.url()])
            .output()
            .unwrap();
        (
            out.status.code().unwrap(),
            String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr),
        )
    };
    let (code, out) = run("cli_ok.properties");
    assert_eq!(code, 0, "{out}");
    assert!(out.starts_with("cli_ok.properties: ok:"), "{out}");
    let (code, out) = run("cli_bad.properties");
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("failed at CREATE CATALOG"), "{out}");
    assert!(
        out.contains("was not used") && !out.contains("hunter2"),
        "{out}"
    );
    assert!(check_catalogs(trino).is_empty());
}

/// schemathesis (PyPI) generates requests from `/openapi.json` — valid and invalid names, bodies,
/// query values, tokens — and checks every answer against the document: no server error, only
/// documented status codes and content types, bodies of the documented shape, authentication
/// enforced where it is declared.
#[test]
fn the_api_answers_as_its_openapi_document_says() {
    let tokens = token_file();
    let (_engine, _folder, running) = Scenario::emulated_trino()
        .with_agent_args(["--debounce", "20ms"])
        .with_agent_args(api_with(&tokens))
        .run();
    let python = test_support::python::python_with_clients();
    let st = python.parent().expect("the venv's bin").join("st");
    let out = std::process::Command::new(st)
        .args(["run", &running.url("/openapi.json"), "--checks", "all"])
        .args(["--hypothesis-max-examples", "60", "--hypothesis-seed", "14"])
        // No example database: every run is the seeded one, and no examples are stored in the
        // working tree (they had been committed by mistake; .hypothesis is ignored now).
        .args(["--hypothesis-database", "none"])
        .args(["-H", &format!("Authorization: Bearer {RW}")])
        .env("NO_COLOR", "1")
        .output()
        .expect("run schemathesis");
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{report}");
    // It ran every operation, and each check passed.
    assert!(report.contains("Collected API operations: 5"), "{report}");
    assert!(
        report.contains("ignored_auth") && report.contains("5 passed"),
        "{report}"
    );
    // Nothing it did leaked a value of the token file into the log.
    assert!(!running.log_text().contains(RW));
}

/// The probe's failure for a data source the connector cannot reach. No database is reachable
/// from this machine's Trino, so this runs on the emulator, whose JDBC catalogs fail their probe
/// with an error of its own (marked there as not recorded from a real engine).
#[test]
fn a_check_whose_connector_cannot_reach_its_database_fails_at_the_probe_and_cleans_up() {
    let (engine, _folder, running) = Scenario::emulated_trino()
        .with_agent_args(["--api", "--listen", "127.0.0.1:0"])
        .run_past_the_first_pass();
    let (code, body) = call(
        "POST",
        &running.url("/v1/catalogs/pg/check"),
        None,
        Some((
            "text/plain",
            "connector.name=postgresql\nconnection-url=jdbc:postgresql://db.invalid:5432/sales\nconnection-user=portal\nconnection-password=pg-secret-value\n".into(),
        )),
    );
    assert_eq!(code, 422, "{body}");
    assert_eq!(body["check"]["stage"], "probe", "{body}");
    assert_eq!(body["check"]["error_name"], "JDBC_ERROR", "{body}");
    assert!(body["check"]["cleanup"].is_null(), "dropped: {body}");
    assert!(!body.to_string().contains("pg-secret-value"));
    // Created, probed, dropped: nothing stays.
    let sql: Vec<String> = engine
        .records()
        .into_iter()
        .map(|r| r.sql)
        .filter(|sql| sql.contains("catalog_reloader_check_"))
        .collect();
    assert_eq!(sql.len(), 3, "{sql:#?}");
    assert!(sql[0].starts_with("CREATE CATALOG \"catalog_reloader_check_"));
    assert!(sql[1].starts_with("SHOW SCHEMAS FROM \"catalog_reloader_check_"));
    assert!(sql[2].starts_with("DROP CATALOG \"catalog_reloader_check_"));
    assert_eq!(engine.show_catalogs(), ["system"]);
}
