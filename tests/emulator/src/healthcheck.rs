//! The `health-check` personality of the binary, standing in for trinodb/trino's
//! core/docker/bin/health-check: read the HTTP port from `/etc/trino/config.properties`
//! (default 8080), GET `/v1/info`, succeed iff it says `"starting": false` (facts §6).
//! NOT IN FACTS: the real script also tries the HTTPS port; this one speaks plain HTTP only.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use crate::props;

pub fn run(config: &Path) -> ExitCode {
    let port = std::fs::read(config)
        .ok()
        .and_then(|bytes| props::load(&bytes, true).ok())
        .and_then(|entries| {
            entries
                .into_iter()
                .find(|(k, _)| k == "http-server.http.port")
        })
        .and_then(|(_, v)| v.parse::<u16>().ok())
        .unwrap_or(8080);
    match fetch_info(port) {
        Ok(body) if says_started(&body) => ExitCode::SUCCESS,
        Ok(body) => {
            eprintln!("health-check: not ready: {body}");
            ExitCode::FAILURE
        }
        Err(error) => {
            eprintln!("health-check: {error}");
            ExitCode::FAILURE
        }
    }
}

fn fetch_info(port: u16) -> std::io::Result<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    stream.write_all(b"GET /v1/info HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    Ok(response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_string())
        .unwrap_or_default())
}

/// The script's `grep -q '"starting":\s*false'`.
fn says_started(body: &str) -> bool {
    body.match_indices("\"starting\":")
        .any(|(at, m)| body[at + m.len()..].trim_start().starts_with("false"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn matches_like_the_image_script() {
        assert!(super::says_started(r#"{"starting": false}"#));
        assert!(super::says_started(r#"{"starting":false}"#));
        assert!(!super::says_started(r#"{"starting":true}"#));
    }
}
