//! Identity and authentication (facts §3.1): the insecure authenticator over HTTP, 403 once
//! authentication is configured but the request is plain HTTP, Basic and Bearer over HTTPS with
//! the generated certificate.

mod common;

use base64::Engine as _;
use common::*;
use reqwest::blocking::{Client, Response};

fn basic(user: &str, password: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

fn statement(client: &Client, url: &str, headers: &[(&str, &str)]) -> Response {
    let mut request = client.post(format!("{url}/v1/statement")).body("SELECT 1");
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    request.send().expect("POST")
}

fn summary(response: Response) -> (u16, Vec<String>, String) {
    let status = response.status().as_u16();
    let challenges = response
        .headers()
        .get_all("www-authenticate")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect();
    let body = response.text().unwrap();
    (
        status,
        challenges,
        if status == 200 {
            "QueryResults".into()
        } else {
            body
        },
    )
}

#[test]
fn plain_http_identifies_users_and_refuses_passwords() {
    let engine = trino().start();
    let client = client();
    let url = engine.url();
    let basic_realm = vec!["Basic realm=\"Trino\"".to_string()];
    assert_eq!(
        summary(statement(&client, &url, &[])),
        (
            401,
            basic_realm.clone(),
            "Basic authentication or X-Trino-Original-User or X-Trino-User must be sent".into()
        )
    );
    assert_eq!(
        summary(statement(
            &client,
            &url,
            &[("Authorization", &basic("alice", "secret"))]
        )),
        (
            401,
            basic_realm.clone(),
            "Password not allowed for insecure authentication".into()
        )
    );
    assert_eq!(
        summary(statement(
            &client,
            &url,
            &[("Authorization", &basic("", ""))]
        )),
        (
            401,
            basic_realm,
            "Malformed credentials: user is empty".into()
        )
    );
    assert_eq!(
        summary(statement(
            &client,
            &url,
            &[("Authorization", &basic("alice", ""))]
        ))
        .0,
        200
    );
    assert_eq!(
        summary(statement(&client, &url, &[("X-Trino-User", "alice")])).0,
        200
    );
    // Presto's header means nothing to Trino.
    assert_eq!(
        summary(statement(&client, &url, &[("X-Presto-User", "alice")])).0,
        401
    );
    let outcomes: Vec<(String, Option<String>)> = engine
        .records()
        .into_iter()
        .map(|r| (r.outcome, r.user))
        .collect();
    assert_eq!(outcomes.iter().filter(|(o, _)| o == "REJECTED").count(), 4);
}

#[test]
fn presto_wants_its_own_header() {
    let engine = presto().start();
    let client = client();
    assert_eq!(
        summary(statement(
            &client,
            &engine.url(),
            &[("X-Trino-User", "alice")]
        )),
        (400, vec![], "User must be set".into())
    );
    assert_eq!(
        summary(statement(
            &client,
            &engine.url(),
            &[("X-Presto-User", "alice")]
        ))
        .0,
        200
    );
}

#[test]
fn configured_authentication_refuses_plain_http() {
    let passwords = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(passwords.path(), "alice:secret\n").unwrap();
    let engine = trino().arg("--password-file").arg(passwords.path()).start();
    assert_eq!(
        summary(statement(
            &client(),
            &engine.url(),
            &[("Authorization", &basic("alice", "secret"))]
        )),
        (
            403,
            vec![],
            "Authentication over HTTP is not enabled".into()
        )
    );
}

#[test]
fn https_checks_passwords_and_bearer_tokens_against_the_generated_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let passwords = dir.path().join("passwords");
    std::fs::write(&passwords, "alice:secret\nbob:pa:ss\n").unwrap();
    let pem_path = dir.path().join("ca.pem");
    let engine = trino()
        .arg("--tls")
        .arg("--tls-cert-out")
        .arg(&pem_path)
        .arg("--password-file")
        .arg(&passwords)
        .args(["--bearer-token", "tok-1"])
        .start();
    assert!(
        engine.url().starts_with("https://127.0.0.1:"),
        "{}",
        engine.url()
    );
    let _ = rustls::crypto::ring::default_provider().install_default();
    // A client that trusts only the written PEM: the certificate really is the one served.
    let pem = std::fs::read(&pem_path).unwrap();
    let client = Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(&pem).unwrap()])
        .build()
        .unwrap();
    let url = engine.url();
    let both = vec![
        "Basic realm=\"Trino\"".to_string(),
        "Bearer realm=\"Trino\"".to_string(),
    ];
    assert_eq!(
        summary(statement(
            &client,
            &url,
            &[("Authorization", &basic("alice", "secret"))]
        ))
        .0,
        200
    );
    assert_eq!(
        summary(statement(
            &client,
            &url,
            &[("Authorization", &basic("bob", "pa:ss"))]
        ))
        .0,
        200,
        "split at the first ':'"
    );
    assert_eq!(
        summary(statement(
            &client,
            &url,
            &[("Authorization", &basic("alice", "wrong"))]
        )),
        (
            401,
            both.clone(),
            "Access Denied: Invalid credentials".into()
        )
    );
    assert_eq!(
        summary(statement(
            &client,
            &url,
            &[("Authorization", "Bearer tok-1")]
        ))
        .0,
        200
    );
    assert_eq!(
        summary(statement(
            &client,
            &url,
            &[("Authorization", "bearer tok-2")]
        )),
        (401, both.clone(), "Unauthorized".into())
    );
    assert_eq!(
        summary(statement(&client, &url, &[("X-Trino-User", "alice")])),
        (401, both, "Unauthorized".into())
    );
    // The test-support client follows the https nextUris.
    assert_eq!(
        test_support::emulator::run_query(
            &url,
            test_support::emulator::Flavour::Trino,
            "x",
            "SELECT 1"
        )
        .unwrap_err()
        .error_name,
        "HTTP_401"
    );
}
