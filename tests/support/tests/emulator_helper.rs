//! The emulator helper itself: start, query, records, restart on the same port, start-up
//! failures, stderr.

use std::time::Duration;

use test_support::emulator::Emulator;

#[test]
fn start_query_and_record() {
    let engine = Emulator::trino().dynamic().memory_store().start();
    assert!(engine.url().starts_with("http://127.0.0.1:"));
    assert_eq!(
        engine.addr().port(),
        engine
            .url()
            .rsplit(':')
            .next()
            .unwrap()
            .parse::<u16>()
            .unwrap()
    );
    let created = engine.query("CREATE CATALOG t USING tpch").unwrap();
    assert_eq!(created.update_type.as_deref(), Some("CREATE CATALOG"));
    assert_eq!(engine.show_catalogs(), vec!["system", "t"]);
    let rows = engine.query("SELECT * FROM t.tiny.nation LIMIT 2").unwrap();
    assert_eq!(rows.columns, vec!["id", "name"]);
    assert_eq!(rows.rows.len(), 2);
    let error = engine.query("DROP CATALOG nope").unwrap_err();
    assert_eq!(error.error_name, "CATALOG_NOT_FOUND");
    let records = engine.records();
    let outcomes: Vec<(&str, &str)> = records
        .iter()
        .map(|r| (r.sql.as_str(), r.outcome.as_str()))
        .collect();
    assert_eq!(
        outcomes,
        vec![
            ("CREATE CATALOG t USING tpch", "FINISHED"),
            ("SHOW CATALOGS", "FINISHED"),
            ("SELECT * FROM t.tiny.nation LIMIT 2", "FINISHED"),
            ("DROP CATALOG nope", "FAILED"),
        ]
    );
}

#[test]
fn restart_keeps_the_port_and_forgets_the_memory_store() {
    let mut engine = Emulator::trino().dynamic().memory_store().start();
    engine.query("CREATE CATALOG t USING tpch").unwrap();
    let before = engine.addr();
    engine.restart();
    assert_eq!(engine.addr(), before);
    assert_eq!(engine.show_catalogs(), vec!["system"]);
    assert_eq!(engine.records().len(), 2, "the record file carries on");
}

#[test]
fn env_reaches_the_emulator_and_stderr_is_captured() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("pg.properties"),
        "connector.name=postgresql\nconnection-url=${ENV:PG_URL}\n",
    )
    .unwrap();
    let engine = Emulator::trino()
        .catalog_dir(dir.path())
        .env("PG_URL", "jdbc:postgresql://db/x")
        .start();
    assert_eq!(engine.show_catalogs(), vec!["pg", "system"]);

    std::fs::write(
        dir.path().join("legacy.properties"),
        "connector.name=delta-lake\nhive.metastore=file\n",
    )
    .unwrap();
    let engine = Emulator::trino()
        .catalog_dir(dir.path())
        .env("PG_URL", "x")
        .start();
    let start = std::time::Instant::now();
    while !engine
        .stderr()
        .contains("deprecated connector name 'delta-lake'")
    {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "stderr: {}",
            engine.stderr()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn run_to_exit_reports_start_up_failures() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("pg.properties"),
        "connector.name=postgresql\nconnection-url=${ENV:NOT_SET_FOR_THIS_TEST}\n",
    )
    .unwrap();
    let exited = Emulator::trino()
        .catalog_dir(dir.path())
        .run_to_exit(Duration::from_secs(20));
    assert_eq!(exited.status.code(), Some(100));
    assert!(
        exited
            .stderr
            .contains("Environment variable is not set: NOT_SET_FOR_THIS_TEST"),
        "{}",
        exited.stderr
    );
}

#[test]
fn presto_flavour_uses_presto_headers() {
    let engine = Emulator::presto().start();
    assert_eq!(engine.show_catalogs(), vec!["system"]);
    assert_eq!(
        engine
            .query("CREATE CATALOG x USING tpch")
            .unwrap_err()
            .error_name,
        "SYNTAX_ERROR"
    );
}
