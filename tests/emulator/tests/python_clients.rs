//! The emulator speaks to third-party clients: the PyPI `trino` and `presto-python-client`
//! packages (pinned in tests/emulator/python-requirements.txt) run SHOW CATALOGS, CREATE CATALOG
//! with quoted keys and a `'` in a value, SELECT and DROP (issue 2, "How we will know").

mod common;

use std::path::Path;
use std::process::Command;

use common::*;
use serde_json::{Value, json};

fn run_client(flavour: &str, engine: &RunningEmulator) -> Value {
    let python = test_support::python::python_with_clients();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/clients.py");
    let addr = engine.addr();
    let output = Command::new(&python)
        .arg(&script)
        .args([flavour, &addr.ip().to_string(), &addr.port().to_string()])
        .output()
        .unwrap_or_else(|e| panic!("run {}: {e}", python.display()));
    assert!(
        output.status.success(),
        "{flavour} client failed:\n{}\n{}\nemulator stderr:\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
        engine.stderr()
    );
    serde_json::from_slice(&output.stdout).expect("the script prints JSON")
}

#[test]
fn the_trino_python_client_manages_catalogs() {
    let store = tempfile::tempdir().unwrap();
    let engine = trino().dynamic().file_store(store.path()).start();
    let seen = run_client("trino", &engine);
    assert_eq!(
        seen,
        json!({
            "catalogs_before": ["system"],
            "create_update_type": "CREATE CATALOG",
            "catalogs_after_create": ["py_pg", "system"],
            "select_columns": ["id", "name"],
            "select_rows": [[1, "py_pg-row-1"], [2, "py_pg-row-2"]],
            "catalogs_after_drop": ["system"],
            // Recorded on Trino 476 (recorded/trino-476.json, drop-missing).
            "second_drop": {"error_name": "CATALOG_NOT_FOUND", "message": "Catalog 'py_pg' not found"},
        })
    );
    let sent: Vec<(String, String)> = engine
        .records()
        .into_iter()
        .map(|r| (r.user.unwrap_or_default(), r.outcome))
        .collect();
    assert!(sent.iter().all(|(user, _)| user == "py-trino"), "{sent:?}");
    let create = engine
        .records()
        .into_iter()
        .find(|r| r.sql.starts_with("CREATE"))
        .unwrap();
    assert!(create.sql.contains("'o''brien'"), "{}", create.sql);
}

#[test]
fn the_presto_python_client_reads_catalogs_and_cannot_create_them() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("tpch.properties"), "connector.name=tpch\n").unwrap();
    let engine = presto().catalog_dir(dir.path()).start();
    let seen = run_client("presto", &engine);
    assert_eq!(seen["catalogs"], json!(["system", "tpch"]));
    assert_eq!(seen["select_rows"], json!([["tpch"]]));
    assert_eq!(seen["create"]["error_name"], "SYNTAX_ERROR");
    assert!(
        seen["create"]["message"]
            .as_str()
            .unwrap()
            .starts_with("line 1:8: mismatched input 'CATALOG'"),
        "{seen}"
    );
}
