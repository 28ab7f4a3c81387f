//! The client REST protocol (facts §3): page sequence, path shapes, dispatch on the first queued
//! GET, tokens, cancel, 503 injection, latencies.

mod common;

use std::time::Duration;

use common::*;
use serde_json::Value;

#[test]
fn show_catalogs_walks_queued_executing_finished() {
    let dir = catalog_dir(&[("tpch", "connector.name=tpch\n")]);
    let engine = trino().catalog_dir(dir.path()).start();
    let pages = pages(&engine, "SHOW CATALOGS");
    insta::assert_json_snapshot!(normalize(Value::Array(pages), &engine));
}

#[test]
fn presto_puts_the_slug_in_a_query_parameter() {
    let engine = presto().start();
    let pages = pages_as(&engine, "X-Presto-User", "SELECT 1");
    let normalized = normalize(Value::Array(pages.clone()), &engine);
    let uris: Vec<&Value> = normalized
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p.get("nextUri"))
        .collect();
    insta::assert_json_snapshot!(uris, @r#"
    [
      "http://{host}/v1/statement/queued/{id}/1?slug={slug}",
      "http://{host}/v1/statement/executing/{id}/0?slug={slug}",
      "http://{host}/v1/statement/executing/{id}/1?slug={slug}"
    ]
    "#);
    assert_eq!(
        outcome_of(pages, "SELECT 1")["rows"],
        serde_json::json!([[1]])
    );
}

#[test]
fn a_ddl_statement_runs_only_once_the_client_fetches_the_queued_uri() {
    let engine = trino().dynamic().memory_store().start();
    let first = json(post(
        &engine,
        "X-Trino-User",
        "test",
        "CREATE CATALOG lazy USING tpch",
    ));
    assert_eq!(first["stats"]["state"], "QUEUED");
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        !engine.show_catalogs().contains(&"lazy".to_string()),
        "dispatched before the first GET"
    );
    let mut next = first["nextUri"].as_str().unwrap().to_string();
    loop {
        let page = json(get(&next));
        match page["nextUri"].as_str() {
            Some(uri) => next = uri.to_string(),
            None => break,
        }
    }
    assert!(engine.show_catalogs().contains(&"lazy".to_string()));
}

#[test]
fn unknown_queries_are_404_and_stale_tokens_410() {
    let engine = trino().start();
    let unknown = get(&format!(
        "{}/v1/statement/queued/20260101_000000_00000_aaaaa/y0000000000000000/1",
        engine.url()
    ));
    assert_eq!(unknown.status().as_u16(), 404);
    assert_eq!(unknown.text().unwrap(), "Query not found");

    let first = json(post(&engine, "X-Trino-User", "test", "SELECT 1"));
    let queued = first["nextUri"].as_str().unwrap().to_string();
    let second = json(get(&queued));
    // The same token again answers the same page; a token from the future is gone.
    assert_eq!(json(get(&queued)), second);
    let executing = second["nextUri"].as_str().unwrap();
    let skipped = executing.replace("/0", "/5");
    assert!(matches!(get(&skipped).status().as_u16(), 404 | 410));
    let wrong_slug = queued.replace("/y", "/yy");
    assert_eq!(get(&wrong_slug).status().as_u16(), 404);
}

#[test]
fn delete_on_next_uri_cancels_and_is_recorded() {
    let engine = trino().arg("--statement-latency").arg("5s").start();
    let first = json(post(&engine, "X-Trino-User", "alice", "SELECT 1"));
    let second = json(get(first["nextUri"].as_str().unwrap()));
    let executing = second["nextUri"].as_str().unwrap().to_string();
    let deleted = client().delete(&executing).send().unwrap();
    assert_eq!(deleted.status().as_u16(), 204);
    let last = json(get(&executing));
    assert_eq!(last["error"]["errorName"], "USER_CANCELED");
    assert!(last.get("nextUri").is_none());
    let records = engine.records();
    assert_eq!(records.len(), 1);
    assert_eq!(
        (records[0].outcome.as_str(), records[0].user.as_deref()),
        ("USER_CANCELED", Some("alice"))
    );
}

#[test]
fn injected_503s_are_retried_and_do_not_advance_the_query() {
    let engine = trino()
        .args(["--fail-rate-503", "0.5", "--seed", "7"])
        .start();
    let mut failures = 0;
    let first = json(post(&engine, "X-Trino-User", "test", "SHOW CATALOGS"));
    let mut next = first["nextUri"].as_str().map(str::to_string);
    let mut rows = Vec::new();
    while let Some(uri) = next {
        let response = get(&uri);
        if response.status().as_u16() == 503 {
            failures += 1;
            next = Some(uri);
            continue;
        }
        let page = json(response);
        rows.extend(page["data"].as_array().cloned().unwrap_or_default());
        next = page["nextUri"].as_str().map(str::to_string);
    }
    assert!(
        failures > 0,
        "a 50% rate over several GETs should fail at least once"
    );
    assert_eq!(rows, vec![serde_json::json!(["system"])]);
    // The test-support client retries them too.
    assert_eq!(engine.show_catalogs(), vec!["system"]);
}

#[test]
fn query_latency_keeps_a_table_read_running() {
    let dir = catalog_dir(&[("tpch", "connector.name=tpch\n")]);
    let engine = trino()
        .catalog_dir(dir.path())
        .args(["--query-latency", "3s"])
        .start();
    let first = json(post(
        &engine,
        "X-Trino-User",
        "test",
        "SELECT * FROM tpch.tiny.nation LIMIT 2",
    ));
    let second = json(get(first["nextUri"].as_str().unwrap()));
    let running = json(get(second["nextUri"].as_str().unwrap()));
    assert_eq!(running["stats"]["state"], "RUNNING");
    assert!(
        running.get("data").is_none(),
        "rows before --query-latency elapsed"
    );
    let listed = json(
        client()
            .get(format!("{}/v1/query?state=running", engine.url()))
            .header("X-Trino-User", "x")
            .send()
            .unwrap(),
    );
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["query"], "SELECT * FROM tpch.tiny.nation LIMIT 2");
    let output = engine
        .query("SELECT * FROM tpch.tiny.nation LIMIT 3")
        .unwrap();
    assert_eq!(output.rows.len(), 3);
}

#[test]
fn statement_latency_delays_the_side_effect() {
    let engine = trino()
        .dynamic()
        .memory_store()
        .args(["--statement-latency", "800ms"])
        .start();
    let started = std::time::Instant::now();
    engine.query("CREATE CATALOG slow USING memory").unwrap();
    assert!(started.elapsed() >= Duration::from_millis(800));
    assert!(engine.show_catalogs().contains(&"slow".to_string()));
}

#[test]
fn a_syntax_error_fails_on_the_first_queued_page() {
    let engine = trino().start();
    let pages = pages(&engine, "SHOW TABLES");
    assert_eq!(pages.len(), 2, "POST, then the dispatching GET fails it");
    insta::assert_json_snapshot!(normalize(pages[1].clone(), &engine));
}

#[test]
fn an_engine_error_fails_on_an_executing_page() {
    let engine = trino().dynamic().memory_store().start();
    let pages = pages(&engine, "CREATE CATALOG x USING nosuch");
    insta::assert_json_snapshot!(normalize(pages.last().unwrap().clone(), &engine));
}
