//! The one-shot subcommands as a CI job or an operator runs them: exit codes, output, and that
//! `plan` and `validate` change nothing.

mod common;

use common::{Folder, agent, validate};
use test_support::emulator::Emulator;

#[test]
fn validate_needs_no_engine_and_names_file_and_line() {
    let folder = Folder::new();
    folder.write("good.properties", "connector.name=tpch\n");
    folder.write("my-cat.properties", "connector.name=tpch\n");
    let ok = validate(folder.path()).output();
    assert_eq!(ok.code(), 0, "{}{}", ok.stdout, ok.stderr);
    assert!(
        ok.stdout
            .contains("my-cat.properties: warning: 'my-cat' is not a plain SQL identifier"),
        "{}",
        ok.stdout
    );

    folder.write("bad.properties", "connector.name=tpch\n\nx=\\u12G4\n");
    folder.write("Upper.properties", "connector.name=tpch\n");
    let bad = validate(folder.path()).output();
    assert_eq!(bad.code(), 1);
    assert!(
        bad.stdout
            .contains("bad.properties:3: error: malformed \\uXXXX escape"),
        "{}",
        bad.stdout
    );
    assert!(
        bad.stdout
            .contains("Upper.properties: error: catalog names must be lower case"),
        "{}",
        bad.stdout
    );
    assert!(
        bad.stdout.contains("2 valid, 2 invalid, 1 warning(s)"),
        "{}",
        bad.stdout
    );

    let json = validate(folder.path()).args(["--output", "json"]).output();
    let doc: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(doc["invalid"].as_array().unwrap().len(), 2);
    let bad_entry = doc["invalid"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["file"] == "bad.properties")
        .unwrap();
    assert_eq!(bad_entry["line"], 3);
    assert_eq!(bad_entry["catalog"], "bad");

    let missing = validate(&folder.file("nope")).output();
    assert_eq!(missing.code(), 1);
    assert!(
        missing.stderr.contains("cannot read the catalog folder"),
        "{}",
        missing.stderr
    );
}

#[test]
fn sync_exit_codes_follow_the_contract() {
    let engine = Emulator::trino().dynamic().memory_store().start();
    let folder = Folder::new();
    folder.write("a.properties", "connector.name=tpch\n");
    let converged = agent("sync", folder.path(), &engine.url()).output();
    assert_eq!(converged.code(), 0, "{}", converged.stderr);
    assert!(engine.show_catalogs().contains(&"a".to_string()));

    folder.write("b.properties", "no connector\n");
    let degraded = agent("sync", folder.path(), &engine.url()).output();
    assert_eq!(degraded.code(), 1, "{}", degraded.stderr);
    assert!(
        degraded.stderr.contains("b: invalid: b.properties"),
        "{}",
        degraded.stderr
    );

    let unreachable = agent("sync", folder.path(), "http://127.0.0.1:9").output();
    assert_eq!(unreachable.code(), 2);
    assert!(
        unreachable
            .stderr
            .contains("cannot reach the coordinator at http://127.0.0.1:9"),
        "{}",
        unreachable.stderr
    );

    let usage = agent("sync", folder.path(), &engine.url())
        .arg("--no-such-flag")
        .output();
    assert_eq!(usage.code(), 2);
}

#[test]
fn plan_prints_what_sync_would_do_and_changes_nothing() {
    let engine = Emulator::trino().dynamic().memory_store().start();
    engine.query("CREATE CATALOG theirs USING memory").unwrap();
    let folder = Folder::new();
    folder.write("a.properties", "connector.name=tpch\n");
    folder.write("theirs.properties", "connector.name=tpch\n");
    folder.write("bad.properties", "connector.name=tpch\nk=1\nk=2\n");
    let before = engine.records().len();

    let plan = agent("plan", folder.path(), &engine.url())
        .arg("--detailed-exitcode")
        .output();
    assert_eq!(plan.code(), 2, "{}{}", plan.stdout, plan.stderr);
    let lines: Vec<&str> = plan.stdout.lines().collect();
    assert!(
        lines[0].starts_with("Engine: trino 476 at http://"),
        "{}",
        plan.stdout
    );
    assert!(lines[0].ends_with("mode: dynamic"), "{}", plan.stdout);
    let row = |name: &str| {
        lines
            .iter()
            .find(|l| l.split_whitespace().next() == Some(name))
            .map(|l| l.split_whitespace().nth(1).unwrap().to_string())
    };
    assert_eq!(row("a").as_deref(), Some("create"));
    assert_eq!(row("theirs").as_deref(), Some("conflict"));
    assert_eq!(row("bad").as_deref(), Some("invalid"));
    assert!(plan.stdout.contains("Plan: 1 to create"), "{}", plan.stdout);

    let json = agent("plan", folder.path(), &engine.url())
        .args(["--output", "json"])
        .output();
    assert_eq!(json.code(), 0);
    let doc: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(doc["changes"], 1);
    assert_eq!(doc["mode"], "dynamic");

    let sent: Vec<String> = engine.records()[before..]
        .iter()
        .map(|r| r.sql.clone())
        .filter(|s| s.starts_with("CREATE") || s.starts_with("DROP"))
        .collect();
    assert!(sent.is_empty(), "plan changed something: {sent:?}");
    assert!(!engine.show_catalogs().contains(&"a".to_string()));

    assert_eq!(
        agent("sync", folder.path(), &engine.url()).output().code(),
        1
    );
    folder.remove("bad.properties");
    folder.remove("theirs.properties");
    let quiet = agent("plan", folder.path(), &engine.url())
        .arg("--detailed-exitcode")
        .output();
    assert_eq!(quiet.code(), 0, "{}", quiet.stdout);
}

#[test]
fn static_trino_gets_an_error_that_names_the_fix() {
    let engine = Emulator::trino().start();
    let folder = Folder::new();
    folder.write("a.properties", "connector.name=tpch\n");
    let auto = agent("sync", folder.path(), &engine.url()).output();
    assert_eq!(auto.code(), 2, "{}", auto.stderr);
    assert!(
        auto.stderr.contains("catalog.management=dynamic"),
        "{}",
        auto.stderr
    );

    let forced = agent("sync", folder.path(), &engine.url())
        .args(["--mode", "dynamic"])
        .output();
    assert_eq!(forced.code(), 1, "{}", forced.stderr);
    assert!(
        forced
            .stderr
            .contains("CREATE CATALOG is not supported by the static catalog store"),
        "{}",
        forced.stderr
    );
    assert!(
        forced.stderr.contains("catalog.management=dynamic"),
        "{}",
        forced.stderr
    );
}

#[test]
fn help_alone_lets_a_user_start() {
    let out = std::process::Command::new(common::BIN)
        .args(["run", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    for flag in [
        "--catalog-dir",
        "--server",
        "--user",
        "--password",
        "--access-token",
        "--ca-cert",
        "--insecure",
        "--engine",
        "--mode",
        "--state-dir",
        "--adopt",
        "--debounce",
        "--resync-interval",
        "--poll",
        "--listen",
        "--log-format",
        "--container",
        "--target-dir",
        "--drain-timeout",
        "--min-restart-interval",
    ] {
        assert!(help.contains(flag), "run --help lacks {flag}");
    }
    assert!(help.contains("CATALOG_RELOADER_CATALOG_DIR"));
}

#[test]
fn sync_can_tolerate_invalid_files_for_an_init_step() {
    let engine = Emulator::trino().dynamic().memory_store().start();
    let folder = Folder::new();
    folder.write("a.properties", "connector.name=tpch\n");
    folder.write("bad.properties", "connector.name=tpch\nk=1\nk=2\n");
    let out = agent("sync", folder.path(), &engine.url())
        .arg("--tolerate-invalid")
        .output();
    assert_eq!(out.code(), 0, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("bad: invalid: bad.properties:3: duplicate property 'k'"),
        "the bad file is still reported: {}",
        out.stderr
    );
    assert!(engine.show_catalogs().contains(&"a".to_string()));
    let unreachable = agent("sync", folder.path(), "http://127.0.0.1:9")
        .arg("--tolerate-invalid")
        .output();
    assert_eq!(
        unreachable.code(),
        2,
        "a connection error is never tolerated"
    );
}
