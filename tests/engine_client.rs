//! The client protocol as deployments meet it: HTTPS with a private CA, passwords and tokens, a
//! proxy answering 503, older engines without `connector_name`.

mod common;

use common::{Folder, agent};
use test_support::emulator::{Emulator, RunningEmulator};

const TPCH: &str = "connector.name=tpch\n";

/// An HTTPS emulator in dynamic mode with a password file and an accepted token; returns it with
/// the path of its certificate.
fn https_engine(dir: &tempfile::TempDir) -> (RunningEmulator, String) {
    let pem = dir.path().join("coordinator.pem");
    let passwords = dir.path().join("passwords");
    std::fs::write(&passwords, "catalog-reloader:s3cret-pw\n").unwrap();
    let engine = Emulator::trino()
        .dynamic()
        .memory_store()
        .arg("--tls")
        .arg("--tls-cert-out")
        .arg(&pem)
        .arg("--password-file")
        .arg(&passwords)
        .args(["--bearer-token", "tok-123"])
        .start();
    assert!(engine.url().starts_with("https://"));
    (engine, pem.display().to_string())
}

#[test]
fn https_with_a_private_ca_and_a_password_from_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, pem) = https_engine(&dir);
    let folder = Folder::new();
    folder.write("a.properties", TPCH);

    let ok = agent("sync", folder.path(), &engine.url())
        .args(["--ca-cert", &pem, "--password"])
        .env("TRINO_PASSWORD", "s3cret-pw")
        .output();
    assert_eq!(ok.code(), 0, "{}", ok.stderr);
    assert!(engine.records().iter().any(|r| r.sql.starts_with("CREATE")
        && r.user.as_deref() == Some("catalog-reloader")
        && r.outcome == "FINISHED"));

    let wrong = agent("sync", folder.path(), &engine.url())
        .args(["--ca-cert", &pem, "--password"])
        .env("TRINO_PASSWORD", "not-it")
        .output();
    assert_eq!(wrong.code(), 2, "{}", wrong.stderr);
    assert!(
        wrong.stderr.contains("refused the credentials (HTTP 401)"),
        "{}",
        wrong.stderr
    );
    assert!(
        !wrong.stderr.contains("not-it"),
        "the password is never printed"
    );

    let unset = agent("sync", folder.path(), &engine.url())
        .args(["--ca-cert", &pem, "--password"])
        .output();
    assert_eq!(unset.code(), 2);
    assert!(unset.stderr.contains("TRINO_PASSWORD"), "{}", unset.stderr);
}

#[test]
fn an_unknown_certificate_is_refused_unless_insecure() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, _) = https_engine(&dir);
    let folder = Folder::new();
    folder.write("a.properties", TPCH);
    let refused = agent("sync", folder.path(), &engine.url())
        .args(["--access-token", "tok-123"])
        .output();
    assert_eq!(refused.code(), 2, "{}", refused.stderr);
    assert!(
        refused.stderr.contains("cannot reach the coordinator"),
        "{}",
        refused.stderr
    );
    assert!(
        refused.stderr.to_lowercase().contains("certificate"),
        "{}",
        refused.stderr
    );

    let insecure = agent("sync", folder.path(), &engine.url())
        .args(["--access-token", "tok-123", "--insecure"])
        .output();
    assert_eq!(insecure.code(), 0, "{}", insecure.stderr);
    assert!(
        engine
            .records()
            .iter()
            .any(|r| r.sql.starts_with("CREATE CATALOG \"a\"") && r.outcome == "FINISHED")
    );
}

#[test]
fn a_bearer_token_is_sent_and_never_shown() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, pem) = https_engine(&dir);
    let folder = Folder::new();
    folder.write("a.properties", TPCH);
    let ok = agent("sync", folder.path(), &engine.url())
        .args(["--ca-cert", &pem])
        .env("CATALOG_RELOADER_ACCESS_TOKEN", "tok-123")
        .output();
    assert_eq!(ok.code(), 0, "{}", ok.stderr);
    let bad = agent("sync", folder.path(), &engine.url())
        .args(["--ca-cert", &pem, "--access-token", "tok-999"])
        .output();
    assert_eq!(bad.code(), 2);
    assert!(!bad.stderr.contains("tok-999"), "{}", bad.stderr);
    let help = std::process::Command::new(common::BIN)
        .args(["sync", "--help"])
        .env("CATALOG_RELOADER_ACCESS_TOKEN", "tok-123")
        .output()
        .unwrap();
    assert!(
        !String::from_utf8_lossy(&help.stdout).contains("tok-123"),
        "--help hides the token"
    );
}

#[test]
fn credentials_are_never_sent_over_plain_http() {
    let engine = Emulator::trino().dynamic().memory_store().start();
    let folder = Folder::new();
    let out = agent("sync", folder.path(), &engine.url())
        .arg("--password")
        .env("TRINO_PASSWORD", "pw")
        .output();
    assert_eq!(out.code(), 2);
    assert!(
        out.stderr.contains("--password needs an https:// --server"),
        "{}",
        out.stderr
    );
    assert!(engine.records().is_empty(), "nothing was sent");
}

#[test]
fn credentials_in_the_server_url_are_refused_without_being_shown() {
    let engine = Emulator::trino().dynamic().memory_store().start();
    let folder = Folder::new();
    // The password's text also appears before it (the user name): it must not leak either way.
    let url = engine.url().replace("http://", "http://trino:trino@");
    let out = agent("sync", folder.path(), &url).output();
    assert_eq!(out.code(), 2, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("--server must not carry credentials (got 'http://trino:***@"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains(":trino@") && !out.stdout.contains(":trino@"));
    assert!(engine.records().is_empty(), "nothing was sent");

    // What a URL parser does not see as credentials is not shown either: a password pasted
    // unencoded, a token in the query string.
    for (url, secret) in [
        (
            engine.url().replace("http://", "http://me:pa/ss0rd@"),
            "pa/ss0rd",
        ),
        (
            format!("{}/?access_token=tok-123456", engine.url()),
            "tok-123456",
        ),
    ] {
        for command in ["sync", "plan", "run"] {
            let out = agent(command, folder.path(), &url).output();
            assert_eq!(out.code(), 2, "{command}: {}", out.stderr);
            assert!(out.stderr.contains("--server"), "{}", out.stderr);
            assert!(
                !out.stderr.contains(secret) && !out.stdout.contains(secret),
                "{command}: {}",
                out.stderr
            );
        }
    }
    assert!(engine.records().is_empty(), "nothing was sent");
}

#[test]
fn a_proxy_answering_503_is_retried() {
    let engine = Emulator::trino()
        .dynamic()
        .memory_store()
        .args(["--fail-rate-503", "0.5", "--seed", "7"])
        .start();
    let folder = Folder::new();
    for i in 0..10 {
        folder.write(&format!("c{i}.properties"), TPCH);
    }
    let out = agent("sync", folder.path(), &engine.url()).output();
    assert_eq!(out.code(), 0, "{}", out.stderr);
    assert_eq!(engine.show_catalogs().len(), 11);
    let creates = engine
        .records()
        .iter()
        .filter(|r| r.sql.starts_with("CREATE"))
        .count();
    assert_eq!(
        creates, 10,
        "each statement sent once: retries only repeat GETs"
    );
}

#[test]
fn an_engine_without_connector_name_is_read_with_show_catalogs() {
    let engine = Emulator::trino()
        .dynamic()
        .memory_store()
        .arg("--legacy-catalogs-table")
        .start();
    engine.query("CREATE CATALOG theirs USING tpch").unwrap();
    let folder = Folder::new();
    folder.write("a.properties", TPCH);
    folder.write("theirs.properties", TPCH);
    let out = agent("sync", folder.path(), &engine.url())
        .arg("--adopt")
        .output();
    assert_eq!(out.code(), 1, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("theirs: conflict: a catalog 'theirs' that this agent did not create is live, and the engine does not say its connector"),
        "{}",
        out.stderr
    );
    assert!(engine.show_catalogs().contains(&"a".to_string()));
    assert!(engine.records().iter().any(|r| r.sql == "SHOW CATALOGS"));
}
