//! Admin endpoints (facts §4), start-up delay, graceful shutdown, the health-check personality,
//! and the record file.

mod common;

use std::process::Command;
use std::time::Duration;

use common::*;
use serde_json::{Value, json};

fn get_as(engine: &RunningEmulator, path: &str, header: &str) -> reqwest::blocking::Response {
    client()
        .get(format!("{}{path}", engine.url()))
        .header(header, "admin")
        .send()
        .unwrap()
}

#[test]
fn info_state_coordinator_and_status() {
    let engine = trino()
        .args(["--environment", "prod", "--node-version", "477"])
        .start();
    let info = normalize(json(get(&format!("{}/v1/info", engine.url()))), &engine);
    insta::assert_json_snapshot!(info, @r#"
    {
      "coordinator": true,
      "environment": "prod",
      "nodeVersion": {
        "version": "477"
      },
      "starting": false,
      "uptime": "[varies]"
    }
    "#);
    assert_eq!(
        json(get(&format!("{}/v1/info/state", engine.url()))),
        json!("ACTIVE")
    );
    assert_eq!(
        get(&format!("{}/v1/info/coordinator", engine.url()))
            .status()
            .as_u16(),
        200
    );
    let status = json(get(&format!("{}/v1/status", engine.url())));
    let mut keys: Vec<&String> = status.as_object().unwrap().keys().collect();
    keys.sort();
    insta::assert_json_snapshot!(keys, @r#"
    [
      "coordinator",
      "environment",
      "externalAddress",
      "heapAvailable",
      "heapUsed",
      "internalAddress",
      "memoryInfo",
      "nodeId",
      "nodeVersion",
      "nonHeapUsed",
      "processCpuLoad",
      "processors",
      "systemCpuLoad",
      "uptime"
    ]
    "#);
    // The uptime is an airlift Duration: digits, two decimals, a unit.
    let uptime = info_uptime(&engine);
    assert!(
        uptime.ends_with("ms") || uptime.ends_with('s') || uptime.ends_with('m'),
        "{uptime}"
    );
}

fn info_uptime(engine: &RunningEmulator) -> String {
    json(get(&format!("{}/v1/info", engine.url())))["uptime"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn query_list_filters_by_state_and_delete_cancels() {
    let engine = trino().args(["--statement-latency", "10s"]).start();
    let first = json(post(&engine, "X-Trino-User", "alice", "SELECT 1"));
    let id = first["id"].as_str().unwrap().to_string();
    let listed = json(get_as(&engine, "/v1/query?state=queued", "X-Trino-User"));
    assert_eq!(
        listed.as_array().unwrap().len(),
        1,
        "QUEUED until the client polls"
    );
    json(get(first["nextUri"].as_str().unwrap()));
    let running = normalize(
        json(get_as(&engine, "/v1/query?state=RUNNING", "X-Trino-User")),
        &engine,
    );
    insta::assert_json_snapshot!(running, @r#"
    [
      {
        "errorCode": null,
        "errorType": null,
        "preparedQuery": null,
        "query": "SELECT 1",
        "queryId": "{id}",
        "queryStats": {
          "createTime": "[varies]",
          "elapsedTime": "[varies]",
          "queuedTime": "0.00ns"
        },
        "queryType": "SELECT",
        "resourceGroupId": [
          "global"
        ],
        "scheduled": true,
        "self": "http://{host}/v1/query/{id}",
        "session": {
          "catalog": null,
          "queryId": "{id}",
          "schema": null,
          "source": null,
          "systemProperties": {},
          "user": "alice"
        },
        "state": "RUNNING",
        "updateType": null
      }
    ]
    "#);
    assert_eq!(
        get_as(&engine, "/v1/query?state=BOGUS", "X-Trino-User")
            .status()
            .as_u16(),
        400
    );
    assert_eq!(
        get(&format!("{}/v1/query", engine.url())).status().as_u16(),
        401,
        "needs a user"
    );
    let deleted = client()
        .delete(format!("{}/v1/query/{id}", engine.url()))
        .header("X-Trino-User", "admin")
        .send()
        .unwrap();
    assert_eq!(deleted.status().as_u16(), 204);
    let failed = json(get_as(&engine, "/v1/query?state=FAILED", "X-Trino-User"));
    assert_eq!(
        failed[0]["errorCode"],
        json!({"code": 3, "name": "USER_CANCELED", "type": "USER_ERROR"})
    );
    assert_eq!(engine.records()[0].outcome, "USER_CANCELED");
}

#[test]
fn trino_refuses_to_shut_down_its_coordinator() {
    let engine = trino().start();
    let response = client()
        .put(format!("{}/v1/info/state", engine.url()))
        .header("X-Trino-User", "admin")
        .header("Content-Type", "application/json")
        .body("\"SHUTTING_DOWN\"")
        .send()
        .unwrap();
    assert_eq!(response.status().as_u16(), 500);
    assert_eq!(response.text().unwrap(), "Cannot shutdown coordinator");
    assert_eq!(
        json(get(&format!("{}/v1/info/state", engine.url()))),
        json!("ACTIVE")
    );
}

#[test]
fn presto_shuts_down_gracefully_after_the_grace_period_and_running_queries() {
    // --query-latency slows table reads of connector catalogs: a running query to wait for.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("memory.properties"),
        "connector.name=memory\n",
    )
    .unwrap();
    let mut engine = presto()
        .catalog_dir(dir.path())
        .args([
            "--shutdown-grace-period",
            "300ms",
            "--query-latency",
            "1500ms",
        ])
        .start();
    let slow = json(post(
        &engine,
        "X-Presto-User",
        "bob",
        "SELECT * FROM memory.default.t",
    ));
    json(get(slow["nextUri"].as_str().unwrap()));
    let started = std::time::Instant::now();
    let response = client()
        .put(format!("{}/v1/info/state", engine.url()))
        .header("X-Presto-User", "admin")
        .header("Content-Type", "application/json")
        .body("\"SHUTTING_DOWN\"")
        .send()
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(
        json(get(&format!("{}/v1/info/state", engine.url()))),
        json!("SHUTTING_DOWN")
    );
    let status = engine
        .wait_for_exit(Duration::from_secs(20))
        .expect("exits after the drain");
    assert_eq!(status.code(), Some(0));
    assert!(
        started.elapsed() >= Duration::from_millis(1200),
        "left before the running query ended"
    );
    assert_eq!(engine.records()[0].outcome, "FINISHED");
}

#[test]
fn presto_cluster_stats() {
    let engine = presto().start();
    let cluster = json(get_as(&engine, "/v1/cluster", "X-Presto-User"));
    let mut keys: Vec<&String> = cluster.as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(
        keys,
        vec![
            "activeWorkers",
            "blockedQueries",
            "queuedQueries",
            "reservedMemory",
            "runningDrivers",
            "runningQueries",
            "totalCpuTimeSecs",
            "totalInputBytes",
            "totalInputRows"
        ]
    );
    let trino = trino().start();
    assert_eq!(
        get(&format!("{}/v1/cluster", trino.url()))
            .status()
            .as_u16(),
        404,
        "Trino has no /v1/cluster"
    );
}

#[test]
fn while_starting_statements_are_refused_and_recorded() {
    let engine = trino().args(["--startup-delay", "3s"]).start();
    let info = json(get(&format!("{}/v1/info", engine.url())));
    assert_eq!(info["starting"], true);
    let refused = post(&engine, "X-Trino-User", "early", "SHOW CATALOGS");
    assert_eq!(refused.status().as_u16(), 503);
    assert_eq!(
        refused.text().unwrap(),
        "Trino server is still initializing"
    );
    let records = engine.records();
    assert_eq!(
        (
            records[0].outcome.as_str(),
            records[0].query_id.as_deref(),
            records[0].user.as_deref()
        ),
        ("REJECTED", None, Some("early"))
    );
    eventually("starting: false", || {
        json(get(&format!("{}/v1/info", engine.url())))["starting"] == false
    });
    assert_eq!(engine.show_catalogs(), vec!["system"]);
}

#[test]
fn while_starting_newer_trino_fails_the_query_instead() {
    let engine = trino()
        .args(["--startup-delay", "5s", "--starting-query-error"])
        .start();
    let page = json(post(&engine, "X-Trino-User", "early", "SHOW CATALOGS"));
    assert_eq!(page["error"]["errorName"], "SERVER_STARTING_UP");
    assert_eq!(page["error"]["errorCode"], 65548);
    assert_eq!(
        page["error"]["message"],
        "Trino server is still initializing"
    );
    assert!(page.get("nextUri").is_none());
    assert_eq!(
        engine.records()[0].error_name.as_deref(),
        Some("SERVER_STARTING_UP")
    );
}

#[test]
fn health_check_personality_reads_the_port_and_waits_for_starting_false() {
    let engine = trino().args(["--startup-delay", "3s"]).start();
    let config = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        config.path(),
        format!(
            "coordinator=true\nhttp-server.http.port={}\n",
            engine.addr().port()
        ),
    )
    .unwrap();
    let check = || {
        Command::new(BIN)
            .arg("health-check")
            .arg(config.path())
            .output()
            .unwrap()
            .status
            .success()
    };
    assert!(!check(), "healthy while starting");
    eventually("healthy after the start-up delay", check);
    drop(engine);
    assert!(!check(), "healthy with nothing listening");
}

#[test]
fn the_record_file_has_one_line_per_finished_statement() {
    let engine = trino().dynamic().memory_store().start();
    engine.query("CREATE CATALOG r USING memory").unwrap();
    engine.query("DROP CATALOG nope").unwrap_err();
    client()
        .post(format!("{}/v1/statement", engine.url()))
        .body("SELECT 1")
        .send()
        .unwrap();
    let lines = std::fs::read_to_string(engine.record_path()).unwrap();
    let parsed: Vec<Value> = lines
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let normalized = normalize(Value::Array(parsed), &engine);
    insta::assert_json_snapshot!(normalized, @r#"
    [
      {
        "errorName": null,
        "outcome": "FINISHED",
        "queryId": "{id}",
        "sql": "CREATE CATALOG r USING memory",
        "time": "[varies]",
        "user": "test"
      },
      {
        "errorName": "NOT_FOUND",
        "outcome": "FAILED",
        "queryId": "{id}",
        "sql": "DROP CATALOG nope",
        "time": "[varies]",
        "user": "test"
      },
      {
        "errorName": null,
        "outcome": "REJECTED",
        "queryId": null,
        "sql": "SELECT 1",
        "time": "[varies]",
        "user": null
      }
    ]
    "#);
}

#[test]
fn sigterm_and_sigint_end_the_process_with_exit_0() {
    for signal in ["-TERM", "-INT"] {
        let mut child = Command::new(BIN)
            .args(["--listen", "127.0.0.1:0"])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut first = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(child.stdout.as_mut().unwrap()),
            &mut first,
        )
        .unwrap();
        assert!(
            first.starts_with("listening on http://127.0.0.1:"),
            "{first}"
        );
        let started = std::time::Instant::now();
        assert!(
            Command::new("kill")
                .args([signal, &child.id().to_string()])
                .status()
                .unwrap()
                .success()
        );
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(0), "{signal}");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{signal} took {:?}",
            started.elapsed()
        );
    }
}
