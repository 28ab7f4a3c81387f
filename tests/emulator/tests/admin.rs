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
    // Recorded on Trino 476 (default access control).
    assert_eq!(response.status().as_u16(), 403);
    assert_eq!(
        response.text().unwrap(),
        "Error 403 Forbidden: Management only resource"
    );
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
    let back = client()
        .put(format!("{}/v1/info/state", engine.url()))
        .header("X-Presto-User", "admin")
        .header("Content-Type", "application/json")
        .body("\"ACTIVE\"")
        .send()
        .unwrap();
    assert_eq!(back.status().as_u16(), 400);
    assert_eq!(back.text().unwrap(), "Cluster is shutting down");
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
            "adjustedQueueSize",
            "blockedQueries",
            "queuedQueries",
            "reservedMemory",
            "runningDrivers",
            "runningQueries",
            "runningTasks",
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
fn while_starting_statements_are_accepted_and_fail_on_their_first_get() {
    // Recorded on Trino 476: never a 503; the POST answers QUEUED and the first GET of the
    // queued URI fails the query with SERVER_STARTING_UP.
    let engine = trino().args(["--startup-delay", "3s"]).start();
    let info = json(get(&format!("{}/v1/info", engine.url())));
    assert_eq!(info["starting"], true);
    let first = json(post(&engine, "X-Trino-User", "early", "SHOW CATALOGS"));
    assert_eq!(first["stats"]["state"], "QUEUED");
    assert!(first.get("error").is_none());
    let failed = json(get(first["nextUri"].as_str().unwrap()));
    assert_eq!(failed["error"]["errorName"], "SERVER_STARTING_UP");
    assert_eq!(failed["error"]["errorCode"], 65548);
    assert_eq!(
        failed["error"]["message"],
        "Trino server is still initializing"
    );
    assert!(failed.get("nextUri").is_none());
    let records = engine.records();
    assert_eq!(
        (
            records[0].outcome.as_str(),
            records[0].error_name.as_deref(),
            records[0].user.as_deref()
        ),
        ("FAILED", Some("SERVER_STARTING_UP"), Some("early"))
    );
    eventually("starting: false", || {
        json(get(&format!("{}/v1/info", engine.url())))["starting"] == false
    });
    assert_eq!(engine.show_catalogs(), vec!["system"]);
}

#[test]
fn presto_is_inactive_while_starting_then_has_no_nodes_for_a_while() {
    let dir = catalog_dir(&[("tpch", "connector.name=tpch\n")]);
    let engine = presto()
        .catalog_dir(dir.path())
        .args(["--startup-delay", "1s", "--no-nodes-window", "2s"])
        .start();
    assert_eq!(
        json(get(&format!("{}/v1/info/state", engine.url()))),
        json!("INACTIVE")
    );
    eventually("ACTIVE", || {
        json(get(&format!("{}/v1/info/state", engine.url()))) == json!("ACTIVE")
    });
    // A table read fails NO_NODES_AVAILABLE just after the start; SHOW CATALOGS does not.
    let early = engine.query("SELECT count(*) FROM tpch.tiny.nation");
    assert_eq!(early.unwrap_err().error_name, "NO_NODES_AVAILABLE");
    assert_eq!(engine.show_catalogs(), vec!["system", "tpch"]);
    eventually("a table read answers", || {
        engine
            .query("SELECT count(*) FROM tpch.tiny.nation")
            .is_ok()
    });
    assert_eq!(
        engine
            .query("SELECT count(*) FROM tpch.tiny.nation")
            .unwrap()
            .rows,
        vec![vec![json!(25)]]
    );
}

#[test]
fn a_bad_catalog_stops_the_start_after_http_answered_starting() {
    let dir = catalog_dir(&[("bad", "connector.name=nosuchconnector\n")]);
    let mut engine = presto()
        .catalog_dir(dir.path())
        .args(["--startup-delay", "1s"])
        .start();
    assert_eq!(
        json(get(&format!("{}/v1/info", engine.url())))["starting"],
        true
    );
    let status = engine
        .wait_for_exit(Duration::from_secs(10))
        .expect("exits when the start-up ends");
    assert_eq!(status.code(), Some(1));
    // stderr is read by a thread of its own, which may still be draining the pipe after the exit.
    eventually("the start-up error on stderr", || {
        engine.stderr().contains(
            "\tERROR\tmain\tcom.facebook.presto.server.PrestoServer\tNo factory for connector nosuchconnector",
        )
    });
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
        "errorName": "CATALOG_NOT_FOUND",
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
