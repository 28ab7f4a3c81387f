//! File-system edge cases, end to end: the kubelet's ConfigMap update sequence, editor saves,
//! a thousand files at once, exotic characters, and secrets that must never be shown.

mod common;

use common::{Folder, PATIENCE, Scenario, agent, changes, kubelet_update, wait_for};
use std::os::unix::fs::symlink;
use std::time::Duration;
use test_support::emulator::{Emulator, RunningEmulator};

fn wait_catalogs(engine: &RunningEmulator, want: &[&str]) {
    let mut want: Vec<String> = want.iter().map(|s| s.to_string()).collect();
    want.push("system".into());
    want.sort();
    wait_for(PATIENCE, &format!("SHOW CATALOGS = {want:?}"), || {
        (engine.show_catalogs() == want).then_some(())
    });
}

#[test]
fn kubelet_configmap_updates_are_applied() {
    let engine = Emulator::trino().dynamic().memory_store().start();
    let folder = Folder::new();
    kubelet_update(
        folder.path(),
        1,
        &[("a.properties", "connector.name=tpch\n")],
    );
    let agent = agent("run", folder.path(), &engine.url())
        .args(["--debounce", "100ms"])
        .start();
    wait_catalogs(&engine, &["a"]);

    kubelet_update(
        folder.path(),
        2,
        &[
            (
                "a.properties",
                "connector.name=tpch\ntpch.splits-per-node=2\n",
            ),
            ("b.properties", "connector.name=memory\n"),
        ],
    );
    wait_catalogs(&engine, &["a", "b"]);
    wait_for(PATIENCE, "a replaced with its new definition", || {
        engine
            .records()
            .iter()
            .any(|r| r.sql.contains("\"a\"") && r.sql.contains("'2'") && r.outcome == "FINISHED")
            .then_some(())
    });

    kubelet_update(
        folder.path(),
        3,
        &[("b.properties", "connector.name=memory\n")],
    );
    wait_catalogs(&engine, &["b"]);
    agent.wait_state("a", "removed");
    assert!(
        agent.catalog("..data").is_none()
            && agent.status()["warnings"].as_array().unwrap().is_empty(),
        "{}",
        agent.status()
    );
}

#[test]
fn an_editor_atomic_save_is_one_replacement_and_never_an_invalid_state() {
    let (engine, folder, agent) = Scenario::emulated_trino()
        .with_file("a.properties", "connector.name=tpch\n")
        .run();
    agent.wait_state("a", "applied");
    // vim: write the swap file, then rename it over the original.
    folder.write_atomically(
        "a.properties",
        "connector.name=tpch\ntpch.splits-per-node=3\n",
    );
    wait_for(PATIENCE, "the replacement", || {
        engine
            .records()
            .iter()
            .any(|r| r.sql.contains("'3'") && r.outcome == "FINISHED")
            .then_some(())
    });
    agent.wait_state("a", "applied");
    let creates = engine
        .records()
        .iter()
        .filter(|r| r.sql.starts_with("CREATE"))
        .count();
    assert_eq!(creates, 2);
    assert!(
        !agent.log_text().contains(".swp"),
        "the swap file was never looked at as a catalog"
    );
}

#[test]
fn a_thousand_files_at_once_all_become_live_once_each() {
    let (engine, folder, agent) = Scenario::emulated_trino().run_past_the_first_pass();
    for i in 0..1000 {
        folder.write(&format!("c{i:04}.properties"), "connector.name=memory\n");
    }
    wait_for(
        std::time::Duration::from_secs(120),
        "1000 live catalogs",
        || (engine.show_catalogs().len() == 1001).then_some(()),
    );
    let creates: Vec<String> = engine
        .records()
        .into_iter()
        .filter(|r| r.sql.starts_with("CREATE"))
        .map(|r| r.sql)
        .collect();
    let mut unique = creates.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(creates.len(), 1000);
    assert_eq!(unique.len(), 1000);
    agent.wait_state("c0999", "applied");
}

#[test]
fn exotic_characters_reach_the_engine_exactly_as_the_file_meant_them() {
    let store = tempfile::tempdir().unwrap();
    let engine = Emulator::trino().dynamic().file_store(store.path()).start();
    let folder = Folder::new();
    // In the file: \\ is a backslash, \n a newline, \u00e9 an é; the emoji is raw UTF-8.
    folder.write(
        "pg.properties",
        "connector.name=postgresql\nconnection-url=jdbc:postgresql://db/x?opt='a;b'&p=C:\\\\dir\\n\"q\"\\u00e9😀; DROP CATALOG pg\n",
    );
    folder.write(
        "odd.properties",
        "connector.name=memory\nwe\"ird\\ key'=1\n",
    );
    let agent = agent("run", folder.path(), &engine.url()).start();
    agent.wait_state("pg", "applied");

    let stored = std::fs::read_to_string(store.path().join("pg.properties")).unwrap();
    let entries = catalog_reloader::properties::parse(&stored).unwrap();
    let url = entries
        .iter()
        .find(|e| e.key == "connection-url")
        .expect("the store file has the url");
    assert_eq!(
        url.value,
        "jdbc:postgresql://db/x?opt='a;b'&p=C:\\dir\n\"q\"é😀; DROP CATALOG pg"
    );
    assert!(engine.show_catalogs().contains(&"pg".to_string()));

    // The key arrived exactly too: the engine names it in its refusal.
    let odd = agent.wait_state("odd", "failed");
    assert!(
        odd["error"]
            .as_str()
            .unwrap()
            .contains("Configuration property 'we\"ird key'' was not used"),
        "{odd}"
    );
}

#[test]
fn a_planted_password_appears_in_no_log_status_metric_or_output() {
    const SECRET: &str = "hunter2-planted-7f3a";
    let engine = Emulator::trino().dynamic().memory_store().start();
    let folder = Folder::new();
    folder.write(
        "pg.properties",
        &format!("connector.name=postgresql\nconnection-url=jdbc:postgresql://db/x\nconnection-user=u\nconnection-password={SECRET}\n"),
    );
    folder.write(
        "broken.properties",
        &format!("connector.name=postgresql\nconnection-url=jdbc:postgresql://u:{SECRET}@db/x\nconnection-password={SECRET}\nnot.a.property=1\n"),
    );
    // The engine echoes the bad enum value in its error; that value is also a secret key's value.
    folder.write(
        "echo.properties",
        &format!(
            "connector.name=iceberg\niceberg.catalog.type={SECRET}\ns3.aws-secret-key={SECRET}\n"
        ),
    );
    folder.write(
        "dup.properties",
        &format!("connector.name=postgresql\nconnection-password={SECRET}\nconnection-password={SECRET}\n"),
    );
    let agent = agent("run", folder.path(), &engine.url()).start();
    agent.wait_state("pg", "applied");
    agent.wait_state("broken", "failed");
    agent.wait_state("dup", "invalid");
    let echo = agent.wait_state("echo", "failed");
    assert!(
        echo["error"]
            .as_str()
            .unwrap()
            .contains("Invalid value '***' for type CatalogType"),
        "{echo}"
    );
    folder.write(
        "pg.properties",
        &format!("connector.name=postgresql\nconnection-url=jdbc:postgresql://db/y\nconnection-user=u\nconnection-password={SECRET}\nbogus=1\n"),
    );
    let pg = agent.wait_state("pg", "failed");
    assert!(pg["error"].as_str().unwrap().contains("bogus"), "{pg}");

    let plan = common::agent("plan", folder.path(), &engine.url()).output();
    let sync = common::agent("sync", folder.path(), &engine.url()).output();
    let validate = common::validate(folder.path()).output();
    for (what, text) in [
        ("log", agent.log_text()),
        ("status", agent.get("/status").1),
        ("metrics", agent.metrics()),
        ("plan", format!("{}{}", plan.stdout, plan.stderr)),
        ("sync", format!("{}{}", sync.stdout, sync.stderr)),
        (
            "validate",
            format!("{}{}", validate.stdout, validate.stderr),
        ),
    ] {
        assert!(
            !text.contains(SECRET),
            "the secret leaked into the {what}:\n{text}"
        );
    }
    // It did reach the engine, which is where it belongs.
    assert!(engine.records().iter().any(|r| r.sql.contains(SECRET)));
}

#[test]
fn polling_finds_changes_without_inotify() {
    let (engine, folder, _agent) = Scenario::emulated_trino()
        .with_agent_args(["--poll=100ms"])
        .run_past_the_first_pass();
    folder.write("a.properties", "connector.name=tpch\n");
    wait_catalogs(&engine, &["a"]);
    // Two writes within the same second: only content comparison can tell them apart.
    folder.write(
        "a.properties",
        "connector.name=tpch\ntpch.splits-per-node=2\n",
    );
    wait_for(PATIENCE, "the second write", || {
        engine
            .records()
            .iter()
            .any(|r| r.sql.contains("'2'") && r.outcome == "FINISHED")
            .then_some(())
    });
    folder.remove("a.properties");
    wait_catalogs(&engine, &[]);
}

#[test]
fn a_watched_folder_that_is_deleted_and_recreated_is_watched_again() {
    let engine = Emulator::trino().dynamic().memory_store().start();
    let folder = Folder::new();
    let dir = folder.path().join("catalogs");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("a.properties"), "connector.name=tpch\n").unwrap();
    let agent = agent("run", &dir, &engine.url())
        .args(["--resync-interval", "300ms"])
        .start();
    wait_catalogs(&engine, &["a"]);
    std::fs::remove_dir_all(&dir).unwrap();
    wait_for(PATIENCE, "a pass that cannot read the folder", || {
        (agent.status()["last_pass"]["result"] == "error").then_some(())
    });
    assert!(
        engine.show_catalogs().contains(&"a".to_string()),
        "a folder that cannot be read is not an empty folder: nothing is dropped"
    );
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("b.properties"), "connector.name=tpch\n").unwrap();
    wait_catalogs(&engine, &["b"]);
    // Events work again (not only the resync): a new file appears well before the next resync
    // would matter, and the log says the watch was re-armed.
    std::fs::write(dir.join("c.properties"), "connector.name=tpch\n").unwrap();
    wait_catalogs(&engine, &["b", "c"]);
    assert!(
        agent
            .log_text()
            .contains("watching the catalog folder again")
    );
}

#[test]
fn a_link_whose_target_vanished_keeps_the_live_catalog_until_the_link_is_removed() {
    let engine = Emulator::trino().dynamic().memory_store().start();
    let folder = Folder::new();
    // A mount inside the folder (links out of it are not followed).
    let volume = folder.path().join(".volume");
    std::fs::create_dir(&volume).unwrap();
    std::fs::write(volume.join("pg.properties"), "connector.name=memory\n").unwrap();
    symlink(".volume/pg.properties", folder.file("pg.properties")).unwrap();
    // The folder is watched, not the targets of its links: the resync pass notices those.
    let agent = agent("run", folder.path(), &engine.url())
        .args(["--debounce", "50ms", "--resync-interval", "1s"])
        .start();
    agent.wait_state("pg", "applied");

    // The link's target goes away (a volume not mounted, a file removed by mistake): bad input,
    // so the live catalog stays and the error names where the link points.
    std::fs::remove_file(volume.join("pg.properties")).unwrap();
    let entry = agent.wait_state("pg", "invalid");
    assert_eq!(
        entry["error"],
        "pg.properties: symbolic link to .volume/pg.properties, which does not exist"
    );
    assert_eq!(engine.show_catalogs(), ["pg", "system"]);
    assert!(
        !engine
            .records()
            .iter()
            .any(|r| r.sql.starts_with("DROP") && r.sql.contains("\"pg\"")),
        "{:?}",
        engine.records()
    );

    // Removing the link itself is a deletion.
    folder.remove("pg.properties");
    wait_catalogs(&engine, &[]);
    agent.wait_state("pg", "removed");
}

/// DESIGN.md's second topology: the agent watches Trino's own catalog folder while Trino runs
/// `catalog.store=file`, so Trino rewrites (and on DROP deletes) the very files the agent reads.
#[test]
fn watching_the_engines_own_catalog_folder_loops_never_and_keeps_a_refused_edit() {
    let folder = Folder::new();
    let engine = Emulator::trino()
        .dynamic()
        .file_store(folder.path())
        .start();
    let agent = agent("run", folder.path(), &engine.url())
        .args(["--debounce", "50ms"])
        .start();
    agent.wait_first_pass();
    // Atomic saves: a half-written file would be a change of its own.
    folder.write_atomically("a.properties", "# mine\nconnector.name=tpch\n");
    agent.wait_state("a", "applied");
    wait_for(PATIENCE, "the engine's rewrite of the file", || {
        let written = std::fs::read_to_string(folder.file("a.properties")).ok()?;
        (!written.contains("# mine")).then_some(())
    });
    // The rewrite is a file event too: give its pass time to run (and, wrongly, to act).
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(changes(&engine).len(), 1, "its rewrite is not a change");

    // An edit the engine refuses: the catalog stays as it was, and so does the user's edit.
    let edit = "connector.name=tpch\nbogus=1\n";
    folder.write_atomically("a.properties", edit);
    let a = agent.wait_state("a", "failed");
    assert!(
        a["note"]
            .as_str()
            .unwrap()
            .starts_with("the previous definition was restored"),
        "{a}"
    );
    assert!(engine.show_catalogs().contains(&"a".to_string()));
    wait_for(PATIENCE, "the user's edit back in its file", || {
        (std::fs::read_to_string(folder.file("a.properties")).ok()? == edit).then_some(())
    });
    let after_refusal = changes(&engine).len();
    assert_eq!(
        after_refusal, 4,
        "create, then drop, refused create, restore"
    );
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(changes(&engine).len(), after_refusal, "and no loop");
    assert_eq!(agent.catalog("a").unwrap()["state"], "failed");
}
