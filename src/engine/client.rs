//! The coordinator's client REST protocol (Trino's and PrestoDB's `client/` documentation): `POST /v1/statement`, follow `nextUri` until it
//! is absent, retry 502/503/504, fail on any other status; plus `GET /v1/info`. One code path serves
//! Trino and PrestoDB: only the header prefix differs (`X-Trino-` / `X-Presto-`).

use crate::catalog::Flavour;
use serde::Deserialize;
use serde_json::Value;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;
use tokio::time::{Instant, sleep};

/// How long a request may be retried (502/503/504, a page GET that failed) before a warning says so.
const SLOW_RETRY_WARNING: Duration = Duration::from_secs(5);

/// How to reach and authenticate to the coordinator.
#[derive(Clone)]
pub struct ClientConfig {
    pub server: String,
    pub user: String,
    pub password: Option<String>,
    pub access_token: Option<String>,
    pub ca_cert: Option<PathBuf>,
    pub insecure: bool,
    pub connect_timeout: Duration,
    /// Limit for one HTTP request.
    pub request_timeout: Duration,
    /// Limit for one statement, all its `nextUri` pages included.
    pub statement_timeout: Duration,
}

impl fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientConfig")
            .field("server", &self.server)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("access_token", &self.access_token.as_ref().map(|_| "***"))
            .field("ca_cert", &self.ca_cert)
            .field("insecure", &self.insecure)
            .finish()
    }
}

/// An error the engine reported for a statement (`QueryResults.error`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryError {
    pub error_name: String,
    pub error_type: String,
    pub error_code: i64,
    pub message: String,
}

impl fmt::Display for QueryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.error_name, self.message)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("cannot reach the coordinator at {url}: {detail}")]
    Unreachable {
        url: String,
        detail: String,
        /// The request got no answer in time (as opposed to a refused or reset connection).
        timed_out: bool,
    },
    #[error("the coordinator refused the credentials (HTTP {status}): {message}")]
    Auth { status: u16, message: String },
    #[error("the coordinator answered HTTP {status}: {body}")]
    Http { status: u16, body: String },
    #[error("the coordinator sent something this client does not understand: {0}")]
    Protocol(String),
    #[error("the coordinator is still starting")]
    Starting,
    #[error("the statement did not finish within {0:?}")]
    Timeout(Duration),
    #[error("{0}")]
    Query(QueryError),
    #[error("invalid client configuration: {0}")]
    Config(String),
}

impl EngineError {
    /// True when the engine could not be talked to at all (as opposed to refusing something).
    pub fn is_connection(&self) -> bool {
        matches!(
            self,
            EngineError::Unreachable { .. }
                | EngineError::Starting
                | EngineError::Timeout(_)
                | EngineError::Http { .. }
                | EngineError::Protocol(_)
                | EngineError::Auth { .. }
        )
    }
}

/// `GET /v1/info`. Field sets vary across versions, so everything but the version is
/// optional.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ServerInfo {
    pub node_version: NodeVersion,
    #[serde(default)]
    pub environment: Option<String>,
    #[serde(default)]
    pub coordinator: Option<bool>,
    #[serde(default)]
    pub starting: bool,
    #[serde(default)]
    pub uptime: Option<String>,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct NodeVersion {
    pub version: String,
}

impl ServerInfo {
    /// PrestoDB versions look like `0.293`, Trino's like `476`.
    pub fn flavour(&self) -> Flavour {
        if self.node_version.version.starts_with("0.") {
            Flavour::Presto
        } else {
            Flavour::Trino
        }
    }

    /// Uptime in seconds, parsed from airlift's Duration text (`12.34m`), when present.
    pub fn uptime_seconds(&self) -> Option<f64> {
        let text = self.uptime.as_deref()?.trim();
        let split = text.find(|c: char| c.is_ascii_alphabetic())?;
        let value: f64 = text[..split].parse().ok()?;
        let unit = match &text[split..] {
            "ns" => 1e-9,
            "us" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            "d" => 86400.0,
            _ => return None,
        };
        Some(value * unit)
    }
}

/// The rows of a finished statement.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QueryOutput {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Value>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct QueryResults {
    #[serde(default)]
    next_uri: Option<String>,
    #[serde(default)]
    columns: Option<Vec<Column>>,
    #[serde(default)]
    data: Option<Vec<Vec<Value>>>,
    #[serde(default)]
    error: Option<WireError>,
}

#[derive(Deserialize)]
struct Column {
    name: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireError {
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    error_code: Option<i64>,
    #[serde(default)]
    error_name: Option<String>,
    #[serde(default)]
    error_type: Option<String>,
}

/// One entry of `GET /v1/query` (the engines' `BasicQueryInfo`).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QueryInfo {
    pub query_id: String,
    pub state: String,
    #[serde(default)]
    pub query: Option<String>,
}

pub struct Client {
    http: reqwest::Client,
    base: String,
    config: ClientConfig,
    header_prefix: &'static str,
}

impl Client {
    /// The limit of one statement, all its pages included.
    pub fn statement_timeout(&self) -> Duration {
        self.config.statement_timeout
    }

    pub fn new(config: ClientConfig) -> Result<Self, EngineError> {
        let base = config.server.trim_end_matches('/').to_string();
        let https = base.starts_with("https://");
        if !https && !base.starts_with("http://") {
            return Err(EngineError::Config(format!(
                "--server must start with http:// or https:// (got '{}')",
                crate::catalog::redact_value("server", &base)
            )));
        }
        // Credentials in the URL would be sent by reqwest as Basic auth (over plain HTTP too) and
        // would travel with the URL into logs, /status and error messages. The Trino CLI takes
        // them as --user and --password; so does the agent.
        // Anywhere in the URL: a password pasted unencoded (`user:pa/ss@host`) ends the host part
        // early for a URL parser, and its `@` is still there.
        if base.contains('@') {
            return Err(EngineError::Config(format!(
                "--server must not carry credentials (got '{}'): use --user, and --password with TRINO_PASSWORD",
                crate::catalog::redact_value("server", &base)
            )));
        }
        if base.contains(['?', '#']) {
            return Err(EngineError::Config(format!(
                "--server takes scheme://host:port (and a path), no query string or fragment (got '{}'): give tokens with --password or the engine's own authentication",
                crate::catalog::redact_value("server", &base)
            )));
        }
        // Trino only accepts credentials over TLS (`http-server.authentication.allow-insecure-over-http`
        // is off by default), and its CLI refuses to send them
        // over plain HTTP; so do we, rather than leak them.
        if !https && config.password.is_some() {
            return Err(EngineError::Config(
                "--password needs an https:// --server: Trino accepts passwords only over HTTPS"
                    .into(),
            ));
        }
        if !https && config.access_token.is_some() {
            return Err(EngineError::Config(
                "--access-token needs an https:// --server: Trino accepts tokens only over HTTPS"
                    .into(),
            ));
        }
        // reqwest is built without a bundled crypto provider (ring keeps the static binary small
        // and needs no C toolchain beyond cc); it must be installed once before any client exists.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut builder = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .timeout(config.request_timeout)
            // No client-side idle timeout: its timer would wake an idle agent every 30 s. A pooled
            // connection the server closes is noticed by its own task and dropped.
            .pool_idle_timeout(None)
            .pool_max_idle_per_host(2)
            .user_agent(concat!("catalog-reloader/", env!("CARGO_PKG_VERSION")));
        if https {
            if let Some(path) = &config.ca_cert {
                let pem = std::fs::read(path).map_err(|e| {
                    EngineError::Config(format!("cannot read --ca-cert {}: {e}", path.display()))
                })?;
                let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
                    EngineError::Config(format!(
                        "--ca-cert {} holds no PEM certificate: {e}",
                        path.display()
                    ))
                })?;
                builder = builder.tls_certs_only(certs);
            }
            if config.insecure {
                builder = builder.tls_danger_accept_invalid_certs(true);
            }
        }
        let http = builder
            .build()
            .map_err(|e| EngineError::Config(format!("cannot build the HTTP client: {e}")))?;
        Ok(Client {
            http,
            base,
            config,
            header_prefix: "X-Trino-",
        })
    }

    pub fn server(&self) -> &str {
        &self.base
    }

    /// The same client, speaking to another node of the cluster (its `http_uri` from
    /// `system.runtime.nodes`). Credentials go only where they went to the coordinator: over
    /// HTTPS; a worker on plain HTTP gets none.
    pub fn for_node(&self, uri: &str) -> Client {
        let base = uri.trim_end_matches('/').to_string();
        let mut config = self.config.clone();
        if !base.starts_with("https://") {
            config.password = None;
            config.access_token = None;
        }
        Client {
            http: self.http.clone(),
            base,
            config,
            header_prefix: self.header_prefix,
        }
    }

    /// `GET /v1/info/state`: `ACTIVE`, `INACTIVE` (starting) or `SHUTTING_DOWN`.
    pub async fn node_state(&self, limit: Duration) -> Result<String, EngineError> {
        self.get_json("/v1/info/state", Some(limit)).await
    }

    /// The catalogs each node announced to the coordinator's discovery service (PrestoDB's
    /// `GET /v1/service/presto`, property `connectorIds`), by node id. A node loads its catalog
    /// folder at start, so this is what each node really runs.
    pub async fn announced_catalogs(
        &self,
    ) -> Result<std::collections::BTreeMap<String, std::collections::BTreeSet<String>>, EngineError>
    {
        #[derive(serde::Deserialize)]
        struct Services {
            services: Vec<Service>,
        }
        #[derive(serde::Deserialize)]
        struct Service {
            #[serde(rename = "nodeId")]
            node_id: String,
            #[serde(default)]
            properties: std::collections::BTreeMap<String, String>,
        }
        let found: Services = self
            .get_json("/v1/service/presto", Some(self.config.request_timeout))
            .await?;
        Ok(found
            .services
            .into_iter()
            .map(|s| {
                let ids = s
                    .properties
                    .get("connectorIds")
                    .map(|ids| {
                        ids.split(',')
                            .map(str::trim)
                            .filter(|id| !id.is_empty() && *id != "system")
                            .map(str::to_string)
                            .collect()
                    })
                    .unwrap_or_default();
                (s.node_id, ids)
            })
            .collect())
    }

    /// Picks the header family: `X-Presto-*` for PrestoDB, `X-Trino-*` otherwise.
    pub fn set_flavour(&mut self, flavour: Flavour) {
        self.header_prefix = match flavour {
            Flavour::Trino => "X-Trino-",
            Flavour::Presto => "X-Presto-",
        };
    }

    fn request(&self, method: reqwest::Method, url: &str) -> reqwest::RequestBuilder {
        let mut req = self
            .http
            .request(method, url)
            .header(format!("{}User", self.header_prefix), &self.config.user)
            .header(format!("{}Source", self.header_prefix), "catalog-reloader");
        if let Some(password) = &self.config.password {
            req = req.basic_auth(&self.config.user, Some(password));
        } else if let Some(token) = &self.config.access_token {
            req = req.bearer_auth(token);
        }
        req
    }

    fn unreachable(&self, e: &reqwest::Error) -> EngineError {
        // reqwest's Display is terse ("error sending request"); the source chain says why.
        let mut detail = e.to_string();
        let mut source = std::error::Error::source(e);
        while let Some(s) = source {
            detail = format!("{detail}: {s}");
            source = s.source();
        }
        EngineError::Unreachable {
            url: self.base.clone(),
            detail,
            timed_out: e.is_timeout(),
        }
    }

    pub async fn info(&self) -> Result<ServerInfo, EngineError> {
        self.info_within(self.config.request_timeout).await
    }

    /// `GET /v1/info` with its own time limit: while a coordinator restarts, a request can hang on
    /// a connection to an address that is gone (TCP retries after a second); polls for readiness
    /// give up quickly and ask again.
    pub async fn info_within(&self, limit: Duration) -> Result<ServerInfo, EngineError> {
        self.get_json("/v1/info", Some(limit)).await
    }

    /// Queries that are not finished yet (`GET /v1/query`), for draining.
    pub async fn unfinished_queries(&self) -> Result<Vec<QueryInfo>, EngineError> {
        let all: Vec<QueryInfo> = self.get_json("/v1/query", None).await?;
        Ok(all
            .into_iter()
            .filter(|q| !matches!(q.state.as_str(), "FINISHED" | "FAILED"))
            .collect())
    }

    /// PrestoDB's `GET /v1/cluster`, as raw JSON.
    pub async fn cluster_stats(&self) -> Result<Value, EngineError> {
        self.get_json("/v1/cluster", None).await
    }

    /// A `GET` of one of the coordinator's JSON resources.
    async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        limit: Option<Duration>,
    ) -> Result<T, EngineError> {
        let url = format!("{}{path}", self.base);
        let mut req = self.request(reqwest::Method::GET, &url);
        if let Some(limit) = limit {
            req = req.timeout(limit);
        }
        let resp = req.send().await.map_err(|e| self.unreachable(&e))?;
        let resp = self.check_status(resp).await?;
        resp.json()
            .await
            .map_err(|e| EngineError::Protocol(format!("{path}: {e}")))
    }

    /// `PUT /v1/info/state "SHUTTING_DOWN"`: a PrestoDB coordinator then waits its grace period and
    /// its running queries, and exits. Trino coordinators refuse it.
    pub async fn request_shutdown(&self) -> Result<(), EngineError> {
        let url = format!("{}/v1/info/state", self.base);
        let resp = self
            .request(reqwest::Method::PUT, &url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body("\"SHUTTING_DOWN\"")
            .send()
            .await
            .map_err(|e| self.unreachable(&e))?;
        self.check_status(resp).await.map(drop)
    }

    async fn check_status(
        &self,
        resp: reqwest::Response,
    ) -> Result<reqwest::Response, EngineError> {
        let status = resp.status().as_u16();
        if resp.status().is_success() {
            return Ok(resp);
        }
        let body = resp.text().await.unwrap_or_default();
        let body = body.trim().chars().take(500).collect::<String>();
        Err(match status {
            401 | 403 => EngineError::Auth {
                status,
                message: body,
            },
            _ => EngineError::Http { status, body },
        })
    }

    /// Runs one statement to completion and returns its rows, or the engine's error.
    pub async fn execute(&self, sql: &str) -> Result<QueryOutput, EngineError> {
        let deadline = Instant::now() + self.config.statement_timeout;
        let url = format!("{}/v1/statement", self.base);
        let mut page = self
            .send_retrying(deadline, || {
                self.request(reqwest::Method::POST, &url)
                    .header(reqwest::header::CONTENT_TYPE, "text/plain; charset=utf-8")
                    .body(sql.to_string())
            })
            .await?;
        let mut output = QueryOutput::default();
        loop {
            if let Some(columns) = page.columns.take()
                && output.columns.is_empty()
            {
                output.columns = columns.into_iter().map(|c| c.name).collect();
            }
            if let Some(rows) = page.data.take() {
                output.rows.extend(rows);
            }
            if let Some(err) = page.error.take() {
                return Err(EngineError::Query(QueryError {
                    error_name: err.error_name.unwrap_or_else(|| "UNKNOWN".into()),
                    error_type: err.error_type.unwrap_or_default(),
                    error_code: err.error_code.unwrap_or(-1),
                    message: err.message.unwrap_or_default(),
                }));
            }
            let Some(next) = page.next_uri.take() else {
                return Ok(output);
            };
            if Instant::now() >= deadline {
                // Cancel rather than leave the statement running on the coordinator.
                let _ = self.request(reqwest::Method::DELETE, &next).send().await;
                return Err(EngineError::Timeout(self.config.statement_timeout));
            }
            page = self
                .send_retrying(deadline, || self.request(reqwest::Method::GET, &next))
                .await?;
        }
    }

    /// Sends a request, retrying HTTP 502/503/504 (and, for the `nextUri` GETs, any failure of
    /// the connection: refused, reset, an answer cut off or not given in time) after 100 ms ×
    /// attempt, capped at 1 s, until the deadline — what the protocol asks of clients and what
    /// Trino's Java client does. A page GET may be repeated: the coordinator answers
    /// the same token with the same page. The POST is not: a second one is a second statement.
    /// No single request outlives the statement's deadline (a proxy that holds an answer back
    /// would otherwise keep a pass waiting for the request timeout, 30 s, per page).
    async fn send_retrying(
        &self,
        deadline: Instant,
        build: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<QueryResults, EngineError> {
        let mut attempt: u32 = 0;
        let since = Instant::now();
        let mut warned = false;
        loop {
            attempt += 1;
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(EngineError::Timeout(self.config.statement_timeout));
            }
            let mut req = build().build().map_err(|e| self.unreachable(&e))?;
            *req.timeout_mut() = Some(left.min(self.config.request_timeout));
            let is_get = req.method() == reqwest::Method::GET;
            let retry_after = Duration::from_millis(u64::from(attempt.min(10)) * 100);
            let can_retry = Instant::now() + retry_after < deadline;
            let mut why = String::new();
            let failed = match self.http.execute(req).await {
                Ok(resp) if matches!(resp.status().as_u16(), 502..=504) && can_retry => {
                    why = format!("HTTP {}", resp.status());
                    None
                }
                Ok(resp) => {
                    let resp = self.check_status(resp).await?;
                    match resp.text().await {
                        Ok(text) => {
                            return serde_json::from_str(&text).map_err(|e| {
                                EngineError::Protocol(format!(
                                    "not a QueryResults document ({e}): {}",
                                    text.chars().take(200).collect::<String>()
                                ))
                            });
                        }
                        Err(e) => Some(e),
                    }
                }
                Err(e) => Some(e),
            };
            if let Some(e) = failed {
                if !(is_get && can_retry) {
                    return Err(if e.is_timeout() && Instant::now() >= deadline {
                        EngineError::Timeout(self.config.statement_timeout)
                    } else {
                        self.unreachable(&e)
                    });
                }
                let error = self.unreachable(&e);
                tracing::debug!(%error, attempt, "a result page failed; asking for it again");
                why = error.to_string();
            }
            // A few retries are routine (a gateway's hiccup); a long run of them is worth a word,
            // once per request: the pass is not stuck, the engine (or what is before it) is.
            if !warned && since.elapsed() >= SLOW_RETRY_WARNING {
                warned = true;
                tracing::warn!(
                    tries = attempt,
                    last = %why,
                    "the engine has not answered properly for {}s ({attempt} tries, the last: \
                     {why}); still trying until the statement timeout ({}s)",
                    since.elapsed().as_secs(),
                    self.config.statement_timeout.as_secs()
                );
            }
            sleep(retry_after).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(version: &str, uptime: Option<&str>) -> ServerInfo {
        ServerInfo {
            node_version: NodeVersion {
                version: version.into(),
            },
            environment: None,
            coordinator: Some(true),
            starting: false,
            uptime: uptime.map(Into::into),
        }
    }

    #[test]
    fn flavour_from_version() {
        assert_eq!(info("476", None).flavour(), Flavour::Trino);
        assert_eq!(info("476-e.1", None).flavour(), Flavour::Trino);
        assert_eq!(info("0.293", None).flavour(), Flavour::Presto);
    }

    #[test]
    fn uptime_parses_airlift_durations() {
        assert_eq!(info("1", Some("12.50m")).uptime_seconds(), Some(750.0));
        assert_eq!(info("1", Some("3.00s")).uptime_seconds(), Some(3.0));
        assert_eq!(info("1", Some("junk")).uptime_seconds(), None);
    }

    #[test]
    fn credentials_are_refused_over_plain_http() {
        let config = ClientConfig {
            server: "http://localhost:8080".into(),
            user: "u".into(),
            password: Some("p".into()),
            access_token: None,
            ca_cert: None,
            insecure: false,
            connect_timeout: Duration::from_secs(1),
            request_timeout: Duration::from_secs(1),
            statement_timeout: Duration::from_secs(1),
        };
        let err = Client::new(config.clone()).err().unwrap();
        assert!(err.to_string().contains("https://"), "{err}");
        let debug = format!("{config:?}");
        assert!(!debug.contains("\"p\""), "{debug}");
    }
}
