//! What an operator watches: probes, metrics, status, logs, and a clean stop on SIGTERM.

mod common;

use common::{Folder, PATIENCE, Scenario, agent, wait_for};
use serde_json::Value;
use std::time::Duration;
use test_support::emulator::Emulator;

#[test]
fn readiness_follows_the_engine_and_health_stays_green() {
    let mut engine = Emulator::trino()
        .dynamic()
        .memory_store()
        .args(["--startup-delay", "1500ms"])
        .start();
    let folder = Folder::new();
    folder.write("a.properties", "connector.name=tpch\n");
    let agent = agent("run", folder.path(), &engine.url())
        .args(["--resync-interval", "300ms"])
        .start();

    // The coordinator is still starting: not ready, and it says why.
    let (code, body) = agent.get("/readyz");
    assert_eq!(code, 503, "{body}");
    assert_eq!(agent.get("/healthz").0, 200);
    wait_for(PATIENCE, "the engine to be seen as starting", || {
        let (_, body) = agent.get("/readyz");
        body.contains("still starting").then_some(())
    });

    // Started: the catalog is applied and the agent is ready.
    wait_for(PATIENCE, "ready", || {
        (agent.get("/readyz").0 == 200).then_some(())
    });
    agent.wait_state("a", "applied");
    assert_eq!(agent.metric("catalog_reloader_engine_up"), Some(1.0));
    assert!(
        agent
            .metric("catalog_reloader_last_success_timestamp_seconds")
            .unwrap()
            > 1.7e9
    );

    // The coordinator goes away: not ready, engine_up 0, still alive.
    engine.stop();
    wait_for(PATIENCE, "not ready after the engine stopped", || {
        (agent.get("/readyz").0 == 503).then_some(())
    });
    assert_eq!(agent.metric("catalog_reloader_engine_up"), Some(0.0));
    let (_, body) = agent.get("/readyz");
    assert!(body.contains("not reachable"), "{body}");
    assert_eq!(agent.status()["engine"]["up"], false);
    assert_eq!(
        agent.get("/healthz").0,
        200,
        "an unreachable engine is not the agent's death"
    );

    // Back (with its memory store empty): the catalog is re-created and the agent is ready again.
    engine.restart();
    wait_for(PATIENCE, "ready again", || {
        (agent.get("/readyz").0 == 200).then_some(())
    });
    assert!(engine.show_catalogs().contains(&"a".to_string()));
    assert_eq!(agent.metric("catalog_reloader_engine_up"), Some(1.0));
}

#[test]
fn a_pass_that_cannot_run_is_counted_by_what_failed() {
    let mut engine = Emulator::trino().dynamic().memory_store().start();
    let folder = Folder::new();
    let watched = folder.path().join("catalogs");
    std::fs::create_dir(&watched).unwrap();
    std::fs::write(watched.join("a.properties"), "connector.name=tpch\n").unwrap();
    let agent = agent("run", &watched, &engine.url())
        .args(["--resync-interval", "300ms"])
        .start();
    agent.wait_state("a", "applied");
    let errors = |kind: &str| {
        agent.metric(&format!(
            "catalog_reloader_pass_errors_total{{kind=\"{kind}\"}}"
        ))
    };
    // Every kind is there from the start, at zero, so that an alert's rate() has a series.
    for kind in [
        "scan",
        "engine_unreachable",
        "engine",
        "node",
        "unsupported",
        "ledger",
    ] {
        assert_eq!(errors(kind), Some(0.0), "{kind}");
    }

    // The folder goes away: the pass cannot read it, and nothing is dropped.
    let moved = folder.path().join("elsewhere");
    std::fs::rename(&watched, &moved).unwrap();
    wait_for(PATIENCE, "a scan error counted", || {
        (errors("scan").unwrap_or(0.0) >= 1.0).then_some(())
    });
    assert!(engine.show_catalogs().contains(&"a".to_string()));
    std::fs::rename(&moved, &watched).unwrap();

    // The coordinator goes away.
    engine.stop();
    wait_for(PATIENCE, "an unreachable engine counted", || {
        (errors("engine_unreachable").unwrap_or(0.0) >= 1.0).then_some(())
    });
    assert_eq!(errors("engine"), Some(0.0));
    assert_eq!(errors("ledger"), Some(0.0));
}

#[test]
fn a_failed_catalog_shows_in_status_and_metrics_and_the_log_has_stable_fields() {
    let (_engine, _folder, agent) = Scenario::emulated_trino()
        .with_file("good.properties", "connector.name=tpch\n")
        .with_file("bad.properties", "connector.name=nosuchconnector\n")
        .run();
    let bad = agent.wait_state("bad", "failed");
    assert_eq!(bad["error_name"], "GENERIC_INTERNAL_ERROR");
    assert!(
        bad["error"]
            .as_str()
            .unwrap()
            .contains("No factory for connector 'nosuchconnector'"),
        "{bad}"
    );
    assert_eq!(bad["file"], "bad.properties");
    agent.wait_state("good", "applied");

    let status = agent.status();
    assert_eq!(status["mode"], "dynamic");
    assert_eq!(status["engine"]["flavour"], "trino");
    assert_eq!(status["engine"]["version"], "476");
    assert!(status["last_pass"]["trigger"].is_string());
    assert!(status["last_pass"]["duration_ms"].is_u64());
    assert_eq!(
        status["catalogs"]["good"]["fingerprint"]
            .as_str()
            .unwrap()
            .len(),
        12
    );

    wait_for(PATIENCE, "the failed gauge", || {
        (agent.metric("catalog_reloader_catalogs{state=\"failed\"}") == Some(1.0)).then_some(())
    });
    assert_eq!(
        agent.metric("catalog_reloader_catalogs{state=\"applied\"}"),
        Some(1.0)
    );
    assert_eq!(
        agent.metric("catalog_reloader_apply_total{action=\"create\",result=\"failed\"}"),
        Some(1.0)
    );
    assert!(agent.metric("catalog_reloader_passes_total{trigger=\"startup\"}") == Some(1.0));
    assert!(agent.metrics().contains(
        "catalog_reloader_build_info{version=\"0.1.0\",mode=\"dynamic\",engine=\"trino\"} 1"
    ));
    // One-object-per-line JSON with the documented field names.
    let logs = agent.log_json();
    let created = logs
        .iter()
        .find(|l| l["catalog"] == "good" && l["action"] == "create")
        .expect("a log line for the create");
    assert_eq!(created["outcome"], "ok");
    assert!(created["duration_ms"].is_u64());
    assert!(created["level"] == "INFO" && created["timestamp"].is_string());
    let failed = logs
        .iter()
        .find(|l| l["catalog"] == "bad" && l["outcome"] == "failed")
        .expect("a log line for the refusal");
    assert!(failed["error"].as_str().unwrap().contains("No factory"));
    assert_eq!(agent.log_lines().len(), logs.len(), "every line is JSON");
}

#[test]
fn text_logs_have_no_colour_codes_when_not_on_a_terminal() {
    let engine = Emulator::trino().dynamic().memory_store().start();
    let folder = Folder::new();
    folder.write("a.properties", "connector.name=tpch\n");
    let out = common::agent("sync", folder.path(), &engine.url())
        .log_format("text")
        .output();
    assert_eq!(out.code(), 0, "{}", out.stderr);
    assert!(out.stderr.contains("applied"), "{}", out.stderr);
    assert!(!out.stderr.contains('\u{1b}'), "{:?}", out.stderr);
}

#[test]
fn sigterm_during_a_pass_finishes_the_statement_keeps_the_ledger_and_exits_0() {
    let state = tempfile::tempdir().unwrap();
    let (engine, _folder, agent) = Scenario::emulated_trino()
        .with_statement_latency("400ms")
        .with_files((0..10).map(|i| (format!("c{i}.properties"), "connector.name=memory\n")))
        .with_agent_args(["--state-dir", &state.path().display().to_string()])
        .run();
    wait_for(PATIENCE, "the first create to finish", || {
        engine
            .records()
            .iter()
            .any(|r| r.sql.starts_with("CREATE") && r.outcome == "FINISHED")
            .then_some(())
    });
    let (exit, took, log) = agent.terminate();
    assert!(exit.success(), "exit {exit:?}\n{log}");
    assert!(took < Duration::from_secs(5), "took {took:?}");
    assert!(log.contains("stopped"), "{log}");

    let ledger: Value =
        serde_json::from_str(&std::fs::read_to_string(state.path().join("ledger.json")).unwrap())
            .expect("the ledger is intact JSON");
    let owned: Vec<&String> = ledger["catalogs"].as_object().unwrap().keys().collect();
    let live = engine.show_catalogs();
    assert!(
        !owned.is_empty() && owned.len() < 10,
        "stopped mid-pass: {owned:?}"
    );
    for name in &owned {
        assert!(live.contains(name), "{name} is in the ledger but not live");
    }
    for name in live.iter().filter(|n| n.starts_with('c')) {
        assert!(
            owned.contains(&name),
            "{name} is live but the ledger lost it"
        );
    }
    // No statement was cut off: everything sent finished.
    assert!(
        engine
            .records()
            .iter()
            .all(|r| r.outcome != "USER_CANCELED")
    );
}

#[test]
fn the_health_subcommand_asks_the_running_agent() {
    let engine = Emulator::trino().dynamic().memory_store().start();
    let folder = Folder::new();
    let port = test_support::free_port();
    let listen = format!("0.0.0.0:{port}");
    let agent = agent("run", folder.path(), &engine.url())
        .args(["--listen", &listen])
        .start();
    let health = |extra: &[&str]| {
        std::process::Command::new(common::BIN)
            .arg("health")
            .args(extra)
            .env("CATALOG_RELOADER_LISTEN", &listen)
            .output()
            .unwrap()
    };
    assert!(health(&[]).status.success());
    wait_for(PATIENCE, "ready", || {
        health(&["--ready"]).status.success().then_some(())
    });
    drop(agent);
    let gone = health(&[]);
    assert_eq!(gone.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&gone.stderr).contains("no answer"));
}

#[test]
fn readiness_stays_once_reached_while_a_catalog_waits_on_its_rate_limit() {
    let (_engine, folder, agent) = Scenario::emulated_trino()
        .with_file("a.properties", "connector.name=tpch\n")
        .with_agent_args(["--max-changes-per-minute", "1"])
        .run();
    agent.wait_state("a", "applied");
    wait_for(PATIENCE, "ready", || {
        (agent.get("/readyz").0 == 200).then_some(())
    });
    folder.write(
        "a.properties",
        "connector.name=tpch\ntpch.splits-per-node=2\n",
    );
    let a = agent.wait_state("a", "pending");
    assert!(a["note"].as_str().unwrap().contains("rate limited"), "{a}");
    assert_eq!(
        agent.get("/readyz").0,
        200,
        "a waiting catalog does not unready the pod"
    );
    assert!(agent.metric("catalog_reloader_catalogs{state=\"pending\"}") == Some(1.0));
}

#[test]
fn drops_of_connectors_that_leak_on_drop_are_counted_and_named_per_coordinator_start() {
    let hive = "connector.name=hive\nhive.metastore.uri=thrift://metastore:9083\n";
    // The warnings are read from the JSON log (the agent of a scenario logs JSON).
    let (mut engine, folder, agent) = Scenario::emulated_trino()
        .with_file("lake.properties", hive)
        .with_file("bench.properties", "connector.name=tpch\n")
        .with_agent_args(["--debounce", "50ms", "--resync-interval", "1s"])
        .with_agent_args(["--max-changes-per-minute=100"])
        .run();
    agent.wait_state("lake", "applied");
    agent.wait_state("bench", "applied");
    let series = "catalog_reloader_leaky_drops_total{connector=\"hive\"}";
    assert_eq!(agent.metric(series), None, "nothing dropped yet");

    // A replacement drops the hive catalog once; dropping tpch costs nothing and is not counted.
    folder.write(
        "lake.properties",
        &format!("{hive}hive.max-partitions-per-scan=10\n"),
    );
    folder.remove("bench.properties");
    agent.wait_state("bench", "removed");
    wait_for(PATIENCE, "one counted drop", || {
        (agent.metric(series) == Some(1.0)).then_some(())
    });
    let warnings = |agent: &common::RunningAgent| -> Vec<Value> {
        agent
            .log_json()
            .into_iter()
            .filter(|l| l["connector"] == "hive" && l["level"] == "WARN")
            .collect()
    };
    let first = &warnings(&agent)[0];
    assert_eq!(first["catalog"], "lake");
    assert_eq!(first["drops_since_coordinator_start"], 1);
    assert!(
        first["message"]
            .as_str()
            .unwrap()
            .contains("restart the coordinator"),
        "{first}"
    );
    assert!(
        !agent.metrics().contains("connector=\"tpch\""),
        "{}",
        agent.metrics()
    );

    // A coordinator restart gives the resources back: the count in the log starts again, the
    // counter keeps counting.
    std::thread::sleep(Duration::from_secs(2));
    engine.restart();
    wait_for(PATIENCE, "lake re-created", || {
        engine
            .show_catalogs()
            .contains(&"lake".to_string())
            .then_some(())
    });
    folder.remove("lake.properties");
    agent.wait_state("lake", "removed");
    wait_for(PATIENCE, "two counted drops", || {
        (agent.metric(series) == Some(2.0)).then_some(())
    });
    let warnings = warnings(&agent);
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert_eq!(warnings[1]["drops_since_coordinator_start"], 1);
}

#[test]
fn status_shows_a_long_pass_catalog_by_catalog() {
    let (_engine, _folder, agent) = Scenario::emulated_trino()
        .with_statement_latency("30ms")
        .with_files((0..80).map(|i| (format!("c{i:02}.properties"), "connector.name=tpch\n")))
        .run();
    // While the first pass runs (no pass has finished yet), catalogs appear as they are created.
    let partial = wait_for(PATIENCE, "some catalogs applied during the pass", || {
        let status = agent.status();
        let applied = status["catalogs"].as_object().map_or(0, |c| {
            c.values().filter(|c| c["state"] == "applied").count()
        });
        (status["last_pass"].is_null() && applied > 0 && applied < 80).then_some(applied)
    });
    assert!(partial < 80);
    wait_for(PATIENCE, "the pass to finish", || {
        (agent.status()["last_pass"]["result"] == "converged").then_some(())
    });
}
