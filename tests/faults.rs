//! Faults the agent must ride out, each made for real against the coordinator emulator: the engine
//! down when the agent starts, statements slower than the timeout, the coordinator restarting in
//! the middle of a long pass, a ConfigMap swapped while a pass runs, a pass longer than `/healthz`'s
//! threshold. (Elsewhere: 503 bursts in
//! engine_client.rs, an answer lost mid-statement in dynamic.rs, the agent killed mid-pass and a
//! state dir that cannot be written in hostile.rs, the folder deleted and re-created in folder.rs,
//! the inotify limit in inotify_limit.rs.)

mod common;

use common::{Folder, PATIENCE, Scenario, agent, changes, kubelet_update, wait_for};
use std::time::{Duration, Instant};
use test_support::emulator::{Emulator, RunningEmulator};

const TPCH: &str = "connector.name=tpch\n";

fn creates(engine: &RunningEmulator, name: &str) -> usize {
    let statement = format!("FINISHED CREATE CATALOG \"{name}\" USING");
    changes(engine)
        .iter()
        .filter(|c| c.starts_with(&statement))
        .count()
}

#[test]
fn an_engine_down_when_the_agent_starts_is_waited_for() {
    let mut engine = Emulator::trino().dynamic().memory_store().start();
    engine.stop();
    let folder = Folder::new();
    folder.write("a.properties", TPCH);
    let agent = agent("run", folder.path(), &engine.url()).start();
    wait_for(PATIENCE, "a failed pass", || {
        (agent.status()["last_pass"]["result"] == "error").then_some(())
    });
    let (code, body) = agent.get("/readyz");
    assert_eq!(code, 503);
    assert!(body.contains("not reachable"), "{body}");
    assert_eq!(agent.get("/healthz").0, 200);
    // More files while it is down: all of them once it is up.
    folder.write("b.properties", TPCH);
    engine.restart();
    agent.wait_state("a", "applied");
    agent.wait_state("b", "applied");
    assert_eq!(engine.user_catalogs(), ["a", "b"]);
    assert_eq!(creates(&engine, "a"), 1);
}

#[test]
fn statements_slower_than_the_timeout_fail_the_pass_and_hang_nothing() {
    let (_engine, _folder, agent) = Scenario::emulated_trino()
        .with_statement_latency("3s")
        .with_file("a.properties", TPCH)
        .with_agent_args(["--statement-timeout", "500ms"])
        .run();
    let started = Instant::now();
    let error = wait_for(PATIENCE, "a pass that gave up", || {
        let status = agent.status();
        let pass = &status["last_pass"];
        (pass["result"] == "error").then(|| pass["error"].as_str().unwrap_or_default().to_string())
    });
    assert!(
        error.contains("500ms") || error.contains("timed out"),
        "{error}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "gave up in time"
    );
    assert_eq!(agent.get("/healthz").0, 200);
    let (code, _) = agent.get("/readyz");
    assert_eq!(code, 503);
    let (status, took, log) = agent.terminate();
    assert!(status.success(), "{log}");
    assert!(took < Duration::from_secs(6), "{took:?}");
}

#[test]
fn a_coordinator_restart_in_the_middle_of_a_long_pass_ends_with_every_catalog() {
    let (mut engine, _folder, agent) = Scenario::emulated_trino()
        .with_statement_latency("20ms")
        .with_files((0..120).map(|i| (format!("c{i:03}.properties"), TPCH)))
        .with_agent_args(["--resync-interval", "2s"])
        .run();
    wait_for(PATIENCE, "some catalogs", || {
        (engine.user_catalogs().len() >= 30).then_some(())
    });
    // The memory store forgets everything: the agent must create all of them again.
    engine.restart();
    wait_for(Duration::from_secs(60), "all 120 after the restart", || {
        (engine.user_catalogs().len() == 120
            && agent.status()["last_pass"]["result"] == "converged")
            .then_some(())
    });
    let not_applied = agent.catalogs_not_applied();
    assert!(not_applied.is_empty(), "{not_applied:?}");
}

#[test]
fn a_configmap_swapped_while_a_pass_runs_ends_as_the_last_generation_says() {
    let generation = |n: u32, count: usize, splits: u32| -> Vec<(String, String)> {
        (0..count)
            .map(|i| {
                (
                    format!("g{i:03}.properties"),
                    format!("connector.name=tpch\ntpch.splits-per-node={splits}\n# {n}\n"),
                )
            })
            .collect()
    };
    let (engine, folder, agent) = Scenario::emulated_trino()
        .with_statement_latency("20ms")
        .with_configmap(1, generation(1, 60, 1))
        .with_agent_args(["--debounce", "50ms"])
        .run();
    let update = |n: u32, files: Vec<(String, String)>| {
        kubelet_update(folder.path(), n, &files);
    };
    wait_for(PATIENCE, "the first pass under way", || {
        (engine.user_catalogs().len() >= 10).then_some(())
    });
    // Mid-pass: fewer keys, and every definition changed.
    update(2, generation(2, 40, 2));
    wait_for(Duration::from_secs(60), "the second generation", || {
        (engine.user_catalogs().len() == 40 && agent.status()["last_pass"]["result"] == "converged")
            .then_some(())
    });
    let status = agent.status();
    for i in 0..40 {
        let name = format!("g{i:03}");
        assert_eq!(status["catalogs"][&name]["state"], "applied", "{name}");
    }
    // Every live catalog has the second definition: the last CREATE of each says so.
    for i in 0..40 {
        let name = format!("g{i:03}");
        let last = changes(&engine)
            .into_iter()
            .rfind(|c| c.contains(&format!("CATALOG \"{name}\"")) && c.contains("CREATE"))
            .unwrap();
        assert!(last.contains("'2'"), "{last}");
    }
}

#[test]
fn healthz_stays_green_through_a_pass_longer_than_the_liveness_threshold() {
    // /healthz calls a loop stuck when it has not stamped for max(3 resyncs, statement timeout +
    // 60 s): 62 s here. A pass of 85 CREATEs at 0.8 s each outlasts that; it is alive all along,
    // and a liveness probe must never see it otherwise (or the kubelet kills it, in a loop).
    let count = 85;
    let (engine, _folder, agent) = Scenario::emulated_trino()
        .with_statement_latency("800ms")
        .with_files((0..count).map(|i| (format!("c{i:03}.properties"), TPCH)))
        .with_agent_args(["--statement-timeout", "2s", "--resync-interval", "5s"])
        .run();
    let started = Instant::now();
    let mut samples = 0;
    loop {
        let (code, body) = agent.get("/healthz");
        assert_eq!(
            code,
            200,
            "/healthz after {:?} of a live pass ({} catalogs live): {body}",
            started.elapsed(),
            engine.user_catalogs().len()
        );
        samples += 1;
        if agent.status()["last_pass"]["result"] == "converged" {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "the pass never ended"
        );
        std::thread::sleep(Duration::from_secs(1));
    }
    let took = started.elapsed();
    assert_eq!(engine.user_catalogs().len(), count);
    // Without this the test proves nothing: the pass must have outlasted the threshold.
    assert!(
        took > Duration::from_secs(65),
        "the pass took only {took:?}: make it longer"
    );
    eprintln!("{samples} answers of /healthz, all 200, through a pass of {took:?}");
}
