//! The agent against the coordinator emulator in Trino dynamic mode: real agent process, real folder,
//! real file events. Assertions are what a user sees: `SHOW CATALOGS`, the statements the engine
//! received (its record), `/status`.

mod common;

use common::{Folder, PATIENCE, Scenario, agent, changes, wait_for};
use std::time::Duration;
use test_support::emulator::{Emulator, RunningEmulator};

const TPCH: &str = "connector.name=tpch\ntpch.splits-per-node=4\n";

fn trino() -> RunningEmulator {
    Emulator::trino().dynamic().memory_store().start()
}

fn has_catalog(engine: &RunningEmulator, name: &str) -> bool {
    engine.show_catalogs().iter().any(|c| c == name)
}

fn wait_live(engine: &RunningEmulator, name: &str) {
    wait_for(PATIENCE, &format!("{name} in SHOW CATALOGS"), || {
        has_catalog(engine, name).then_some(())
    });
}

fn wait_gone(engine: &RunningEmulator, name: &str) {
    wait_for(PATIENCE, &format!("{name} gone from SHOW CATALOGS"), || {
        (!has_catalog(engine, name)).then_some(())
    });
}

#[test]
fn a_file_dropped_into_the_folder_becomes_a_live_catalog_and_leaves_when_deleted() {
    let (engine, folder, agent) = Scenario::emulated_trino()
        .with_agent_args(["--debounce", "50ms"])
        .run_past_the_first_pass();

    folder.write_atomically("sales.properties", TPCH);
    wait_live(&engine, "sales");
    let status = agent.wait_state("sales", "applied");
    assert_eq!(status["connector"], "tpch");
    assert_eq!(status["file"], "sales.properties");
    assert_eq!(
        engine
            .query("SELECT * FROM sales.tiny.nation LIMIT 1")
            .map(|o| o.rows.len()),
        Ok(1),
        "the new catalog answers queries"
    );

    folder.remove("sales.properties");
    wait_gone(&engine, "sales");
    agent.wait_state("sales", "removed");
    assert_eq!(
        changes(&engine),
        [
            r#"FINISHED CREATE CATALOG "sales" USING tpch WITH ("tpch.splits-per-node" = '4')"#,
            r#"FINISHED DROP CATALOG "sales""#,
        ]
    );
}

#[test]
fn an_edit_replaces_the_catalog_and_a_rename_moves_it() {
    let (engine, folder, agent) = Scenario::emulated_trino()
        .with_file("a.properties", TPCH)
        .run();
    wait_live(&engine, "a");
    agent.wait_state("a", "applied");

    folder.write(
        "a.properties",
        "connector.name=tpch\ntpch.splits-per-node=8\n",
    );
    wait_for(PATIENCE, "the replacement", || {
        changes(&engine)
            .iter()
            .any(|s| s.contains("'8'"))
            .then_some(())
    });
    folder.rename("a.properties", "b.properties");
    wait_live(&engine, "b");
    wait_gone(&engine, "a");
    assert_eq!(
        changes(&engine),
        [
            r#"FINISHED CREATE CATALOG "a" USING tpch WITH ("tpch.splits-per-node" = '4')"#,
            r#"FINISHED DROP CATALOG "a""#,
            r#"FINISHED CREATE CATALOG "a" USING tpch WITH ("tpch.splits-per-node" = '8')"#,
            // The new name first; the old one once its file has stayed away for a moment.
            r#"FINISHED CREATE CATALOG "b" USING tpch WITH ("tpch.splits-per-node" = '8')"#,
            r#"FINISHED DROP CATALOG "a""#,
        ]
    );
}

#[test]
fn an_invalid_file_is_reported_with_its_line_and_never_blocks_or_drops_anything() {
    let (engine, folder, agent) = Scenario::emulated_trino()
        .with_file("good.properties", TPCH)
        .with_file("keep.properties", TPCH)
        .with_file(
            "bad.properties",
            "connector.name=tpch\ntpch.splits-per-node=4\ntpch.splits-per-node=5\n",
        )
        .run();
    wait_live(&engine, "good");
    wait_live(&engine, "keep");
    let bad = agent.wait_state("bad", "invalid");
    assert_eq!(
        bad["error"],
        "bad.properties:3: duplicate property 'tpch.splits-per-node' (first set on line 2)"
    );
    assert!(!has_catalog(&engine, "bad"));

    // Breaking a live catalog's file leaves the live catalog exactly as it was.
    folder.write("keep.properties", "tpch.splits-per-node=4\n");
    let keep = agent.wait_state("keep", "invalid");
    assert!(
        keep["error"]
            .as_str()
            .unwrap()
            .starts_with("keep.properties: connector.name is missing"),
        "{keep}"
    );
    assert_eq!(keep["note"], "the live catalog is left as it was");
    std::thread::sleep(Duration::from_millis(500));
    assert!(has_catalog(&engine, "keep"));
    assert!(
        changes(&engine).iter().all(|s| !s.contains("DROP")),
        "{:?}",
        changes(&engine)
    );
    assert!(
        agent
            .metrics()
            .contains("catalog_reloader_catalogs{state=\"invalid\"} 2")
    );
}

#[test]
fn an_engine_refusal_is_reported_and_a_failed_replacement_restores_the_previous_definition() {
    let (engine, folder, agent) = Scenario::emulated_trino()
        .with_file(
            "pg.properties",
            "connector.name=postgresql\nconnection-url=jdbc:postgresql://db:5432/x\n",
        )
        .with_file(
            "nope.properties",
            "connector.name=tpch\nno.such.property=1\n",
        )
        .run();
    wait_live(&engine, "pg");
    let nope = agent.wait_state("nope", "failed");
    assert!(
        nope["error"]
            .as_str()
            .unwrap()
            .contains("Configuration property 'no.such.property' was not used"),
        "{nope}"
    );
    assert_eq!(nope["error_name"], "GENERIC_INTERNAL_ERROR");

    // A replacement the engine refuses: the catalog is back with its previous definition.
    folder.write(
        "pg.properties",
        "connector.name=postgresql\nconnection-url=jdbc:postgresql://db:5432/x\nbogus=1\n",
    );
    let pg = agent.wait_state("pg", "failed");
    assert_eq!(pg["note"], "the previous definition was restored");
    assert!(has_catalog(&engine, "pg"));
    let pg_changes: Vec<String> = changes(&engine)
        .into_iter()
        .filter(|s| s.contains("\"pg\""))
        .collect();
    assert_eq!(pg_changes.len(), 4, "{pg_changes:?}");
    assert!(pg_changes[1].starts_with("FINISHED DROP"));
    assert!(pg_changes[2].starts_with("FAILED CREATE") && pg_changes[2].contains("bogus"));
    assert!(pg_changes[3].starts_with("FINISHED CREATE") && !pg_changes[3].contains("bogus"));
    assert_eq!(
        pg_changes[0].replacen("FINISHED ", "", 1),
        pg_changes[3].replacen("FINISHED ", "", 1)
    );
}

#[test]
fn a_live_catalog_the_agent_did_not_create_is_a_conflict_and_left_alone() {
    let engine = trino();
    engine
        .query("CREATE CATALOG theirs USING memory")
        .expect("create an unmanaged catalog");
    let folder = Folder::new();
    folder.write("theirs.properties", TPCH);
    let agent = agent("run", folder.path(), &engine.url()).start();
    let theirs = agent.wait_state("theirs", "conflict");
    assert!(
        theirs["error"].as_str().unwrap().contains("'memory'"),
        "{theirs}"
    );
    assert_eq!(
        changes(&engine),
        ["FINISHED CREATE CATALOG theirs USING memory"]
    );
    // Deleting the file does not drop it either: the agent never owned it.
    folder.remove("theirs.properties");
    wait_for(PATIENCE, "the catalog to leave the status", || {
        agent.catalog("theirs").is_none().then_some(())
    });
    assert!(has_catalog(&engine, "theirs"));
}

#[test]
fn adopt_takes_over_a_matching_live_catalog_without_touching_it() {
    let engine = trino();
    engine.query("CREATE CATALOG theirs USING tpch").unwrap();
    let folder = Folder::new();
    folder.write("theirs.properties", TPCH);
    let state = tempfile::tempdir().unwrap();
    let out = agent("sync", folder.path(), &engine.url())
        .args(["--adopt", "--state-dir"])
        .arg(state.path().display().to_string())
        .output();
    assert_eq!(out.code(), 0, "{}", out.stderr);
    assert_eq!(
        changes(&engine),
        ["FINISHED CREATE CATALOG theirs USING tpch"]
    );
    let ledger = std::fs::read_to_string(state.path().join("ledger.json")).unwrap();
    assert!(ledger.contains("\"adopted\": true"), "{ledger}");
}

#[test]
fn an_agent_restart_with_nothing_changed_sends_no_change_statement() {
    let state = tempfile::tempdir().unwrap();
    let state_arg = state.path().display().to_string();
    let (engine, folder, first) = Scenario::emulated_trino()
        .with_file("a.properties", TPCH)
        .with_file("b.properties", "connector.name=memory\n")
        .with_agent_args(["--state-dir", &state_arg])
        .run();
    first.wait_state("a", "applied");
    first.wait_state("b", "applied");
    let (exit, _, _) = first.terminate();
    assert!(exit.success());
    let before = engine.records().len();

    let second = agent("run", folder.path(), &engine.url())
        .args(["--state-dir", &state_arg])
        .start();
    second.wait_state("a", "applied");
    second.wait_state("b", "applied");
    let after: Vec<String> = engine.records()[before..]
        .iter()
        .map(|r| r.sql.clone())
        .collect();
    assert_eq!(
        after,
        ["SELECT catalog_name, connector_name FROM system.metadata.catalogs"],
        "a restarted agent only reads the live catalogs"
    );
}

#[test]
fn a_coordinator_restart_with_the_memory_store_gets_its_catalogs_back() {
    let (mut engine, _folder, agent) = Scenario::emulated_trino()
        .with_file("a.properties", TPCH)
        .with_agent_args(["--resync-interval", "500ms"])
        .run();
    wait_live(&engine, "a");
    engine.restart();
    assert!(
        !has_catalog(&engine, "a"),
        "the memory store forgets on restart"
    );
    wait_live(&engine, "a");
    agent.wait_state("a", "applied");
}

#[test]
fn an_edit_the_engine_refuses_after_the_coordinator_lost_the_catalog_brings_the_previous_one_back()
{
    // Same situation as a replacement cut short after its DROP (by a lost connection or a stop):
    // the catalog is owned but not live, and the file says something new.
    let mut engine = trino();
    let folder = Folder::new();
    folder.write("a.properties", TPCH);
    let agent = agent("run", folder.path(), &engine.url())
        .args(["--debounce", "50ms", "--resync-interval", "500ms"])
        .start();
    agent.wait_state("a", "applied");

    engine.stop();
    folder.write("a.properties", &format!("{TPCH}bogus=1\n"));
    wait_for(PATIENCE, "the agent to notice the engine is gone", || {
        (agent.status()["engine"]["up"] == false).then_some(())
    });
    engine.restart();

    let a = agent.wait_state("a", "failed");
    assert_eq!(a["note"], "the previous definition was restored", "{a}");
    assert!(has_catalog(&engine, "a"));
    let tail: Vec<String> = changes(&engine)
        .into_iter()
        .filter(|s| s.contains("\"a\""))
        .rev()
        .take(2)
        .collect();
    assert!(
        tail[1].starts_with("FAILED CREATE") && tail[1].contains("bogus"),
        "{tail:?}"
    );
    assert!(
        tail[0].starts_with("FINISHED CREATE") && !tail[0].contains("bogus"),
        "{tail:?}"
    );
}

#[test]
fn a_pass_with_nothing_to_do_sends_no_statement() {
    let (engine, folder, agent) = Scenario::emulated_trino()
        .with_file("a.properties", TPCH)
        .with_agent_args(["--debounce", "20ms"])
        .run();
    agent.wait_state("a", "applied");
    let before = engine.records().len();
    let passes = agent.passes();
    // Same meaning, different bytes: comments, order, spacing, escaping.
    folder.write_atomically(
        "a.properties",
        "# rewritten\ntpch.splits-per-node = 4   \nconnector.name : tp\\\n    ch\n",
    );
    wait_for(PATIENCE, "a pass after the rewrite", || {
        (agent.passes() > passes).then_some(())
    });
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        engine.records().len(),
        before,
        "{:?}",
        &engine.records()[before..]
    );
}

#[test]
fn a_catalog_hidden_from_the_agents_user_is_reported_and_blocks_nothing() {
    // It exists (someone created it) but access control keeps it out of the agent's listings, so
    // a CREATE answers "already exists" every time.
    let engine = Emulator::trino()
        .dynamic()
        .memory_store()
        .args(["--hidden-catalog", "secretive"])
        .start();
    engine
        .query("CREATE CATALOG secretive USING memory")
        .unwrap();
    let folder = Folder::new();
    folder.write("secretive.properties", TPCH);
    // Sorts after "secretive": applied after it in the same pass.
    folder.write("zeta.properties", TPCH);
    let agent = agent("run", folder.path(), &engine.url()).start();
    let hidden = agent.wait_state("secretive", "failed");
    assert_eq!(hidden["error_name"], "ALREADY_EXISTS", "{hidden}");
    assert!(
        hidden["error"]
            .as_str()
            .unwrap()
            .contains("does not show it to this agent's user"),
        "{hidden}"
    );
    agent.wait_state("zeta", "applied");
    wait_for(PATIENCE, "readiness", || {
        (agent.get("/readyz").0 == 200).then_some(())
    });
    let creates = |name: &str| {
        engine
            .records()
            .iter()
            .filter(|r| r.sql.starts_with("CREATE") && r.sql.contains(&format!("\"{name}\"")))
            .count()
    };
    assert_eq!(creates("zeta"), 1);
    assert_eq!(
        creates("secretive"),
        3,
        "three tries, then a failure with backoff"
    );
}

#[test]
fn a_create_whose_answer_was_lost_is_recognised_as_the_agents_own() {
    // A slow CREATE, and the agent killed while it waits for the answer: the engine goes on and
    // creates the catalog, but the agent never heard so.
    let engine = Emulator::trino()
        .dynamic()
        .memory_store()
        .args(["--statement-latency", "1500ms"])
        .start();
    let folder = Folder::new();
    folder.write("a.properties", TPCH);
    let state = tempfile::tempdir().unwrap();
    let state_arg = state.path().display().to_string();
    let first = agent("run", folder.path(), &engine.url())
        .args(["--state-dir", &state_arg, "--mode", "dynamic"])
        .start();
    wait_for(PATIENCE, "the CREATE to be running", || {
        let queries: serde_json::Value = common::http()
            .get(format!("{}/v1/query", engine.url()))
            .header("X-Trino-User", "test")
            .send()
            .ok()?
            .json()
            .ok()?;
        queries
            .as_array()?
            .iter()
            .any(|q| {
                q["query"].as_str().is_some_and(|s| s.starts_with("CREATE"))
                    && q["state"] != "FINISHED"
            })
            .then_some(())
    });
    std::process::Command::new("kill")
        .args(["-KILL", &first.pid().to_string()])
        .status()
        .unwrap();
    wait_live(&engine, "a");

    let second = agent("run", folder.path(), &engine.url())
        .args(["--state-dir", &state_arg, "--mode", "dynamic"])
        .start();
    second.wait_state("a", "applied");
    let creates = engine
        .records()
        .iter()
        .filter(|r| r.sql.starts_with("CREATE"))
        .count();
    assert_eq!(creates, 1, "the catalog was not created twice");
    assert!(
        second
            .log_text()
            .contains("the engine accepted a CREATE whose answer was lost"),
        "{}",
        second.log_text()
    );
}

/// Catalog listings the engine has answered so far.
fn listings(engine: &RunningEmulator) -> usize {
    engine
        .records()
        .iter()
        .filter(|r| r.sql.contains("system.metadata.catalogs") || r.sql == "SHOW CATALOGS")
        .count()
}

#[test]
fn a_file_event_sends_only_its_change_and_a_surprise_lists_again() {
    let (engine, folder, agent) = Scenario::emulated_trino()
        .with_agent_args(["--debounce", "50ms"])
        .run_past_the_first_pass();
    let listed = listings(&engine);
    assert_eq!(listed, 1, "the first pass lists the catalogs");

    // Files events: the agent knows what the engine has since, and asks nothing.
    folder.write("a.properties", TPCH);
    agent.wait_state("a", "applied");
    folder.write("b.properties", TPCH);
    agent.wait_state("b", "applied");
    folder.write("a.properties", "connector.name=tpch\n");
    wait_for(PATIENCE, "a replaced", || {
        changes(&engine)
            .iter()
            .any(|c| c == r#"FINISHED CREATE CATALOG "a" USING tpch"#)
            .then_some(())
    });
    assert_eq!(listings(&engine), listed, "{:?}", engine.records());

    // Someone else creates the catalog a file is about to ask for: the engine's "already exists"
    // sends the agent back to the listing, which shows the catalog is not its own.
    engine.query("CREATE CATALOG c USING memory").unwrap();
    folder.write("c.properties", TPCH);
    let c = agent.wait_state("c", "conflict");
    assert!(listings(&engine) > listed, "{c}");
    assert!(has_catalog(&engine, "c"));
}

#[test]
fn what_file_events_did_is_what_a_full_comparison_finds() {
    let (engine, folder, agent) = Scenario::emulated_trino()
        .with_files(["a", "b", "c", "d"].map(|name| (format!("{name}.properties"), TPCH)))
        .with_agent_args(["--debounce", "50ms", "--resync-interval", "2s"])
        .run();
    agent.wait_state("d", "applied");
    // Events of every kind, each pass reading only what its files name.
    folder.write("a.properties", "connector.name=tpch\n");
    folder.remove("b.properties");
    folder.rename("c.properties", "e.properties");
    folder.write("f.properties", "connector.name=memory\n");
    folder.write("g.properties", "no connector\n");
    agent.wait_state("e", "applied");
    agent.wait_state("f", "applied");
    agent.wait_state("g", "invalid");
    wait_for(PATIENCE, "b and c dropped", || {
        (agent.catalog("b").is_some_and(|c| c["state"] == "removed")
            && agent.catalog("c").is_some_and(|c| c["state"] == "removed"))
        .then_some(())
    });
    let after_events = changes(&engine);
    let passes = agent.passes();
    // Resyncs compare everything with the engine's own list: nothing is left to do.
    wait_for(PATIENCE, "two more passes", || {
        (agent.passes() >= passes + 2).then_some(())
    });
    assert_eq!(changes(&engine), after_events);
    let mut live = engine.show_catalogs();
    live.retain(|c| c != "system");
    assert_eq!(live, ["a", "d", "e", "f"]);
}
