//! The HTTP side: routes of the client protocol and the admin endpoints, identity and
//! authentication (facts §3.1), plain or TLS listening.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query as QueryParams, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine as _;
use serde_json::{Value, json};

use crate::catalogs::CatalogManager;
use crate::engine::EngineOptions;
use crate::error_codes::{self as codes, QueryFailure};
use crate::queries::{PageError, PageKind, QUERY_STATE_NAMES, Query, QueryState};
use crate::record::Recorder;
use crate::rng::Rng;
use crate::settings::Settings;
use crate::{Engine, clock, sql};

pub struct Emulator {
    pub settings: Settings,
    pub catalogs: Mutex<CatalogManager>,
    pub rng: Rng,
    pub recorder: Option<Recorder>,
    queries: Mutex<Vec<Arc<Query>>>,
    started: Instant,
    node_id: String,
    coordinator_id: String,
    query_counter: AtomicU64,
    slug_secret: u64,
    shutting_down: AtomicBool,
    doomed: AtomicBool,
    dying: AtomicBool,
}

impl Emulator {
    pub fn new(
        settings: Settings,
        catalogs: CatalogManager,
        recorder: Option<Recorder>,
    ) -> Emulator {
        let rng = Rng::new(settings.seed);
        let node_id = rng.hex(32);
        let coordinator_id = rng.hex(5);
        let slug_secret = rng.next_u64();
        Emulator {
            settings,
            catalogs: Mutex::new(catalogs),
            rng,
            recorder,
            queries: Mutex::new(Vec::new()),
            started: Instant::now(),
            node_id,
            coordinator_id,
            query_counter: AtomicU64::new(0),
            slug_secret,
            shutting_down: AtomicBool::new(false),
            doomed: AtomicBool::new(false),
            dying: AtomicBool::new(false),
        }
    }

    pub fn dialect(&self) -> sql::Dialect {
        sql::Dialect {
            no_if_exists: self.settings.no_if_exists,
            presto: self.settings.engine == Engine::Presto,
        }
    }

    pub fn engine_options(&self) -> EngineOptions {
        let since = self.started.elapsed();
        let window_end = self.settings.startup_delay + self.settings.no_nodes_window;
        EngineOptions {
            legacy_catalogs_table: self.settings.legacy_catalogs_table,
            catalogs_table: self.settings.catalogs_table,
            presto: self.settings.engine == Engine::Presto,
            no_nodes: since >= self.settings.startup_delay && since < window_end,
        }
    }

    /// Within `--startup-delay` (or for good when a catalog stops the start): `starting:true`,
    /// and queries fail SERVER_STARTING_UP.
    pub fn starting(&self) -> bool {
        self.doomed.load(Ordering::SeqCst) || self.started.elapsed() < self.settings.startup_delay
    }

    /// The start will fail when `--startup-delay` ends: it never gets to `starting:false`.
    pub fn doom(&self) {
        self.doomed.store(true, Ordering::SeqCst);
    }

    /// The failed start is being torn down (PrestoDB 0.296, after it logged the catalog's
    /// error and before the process ends): a new statement's POST answers HTTP 500. Recorded
    /// on a real PrestoDB 0.296 in one CI run of 2026-11-28 (the recorder's probe met it once in
    /// several runs: the window is short).
    pub fn die(&self) {
        self.dying.store(true, Ordering::SeqCst);
    }

    pub fn dying(&self) -> bool {
        self.dying.load(Ordering::SeqCst)
    }

    /// The failure of a statement dispatched while the server starts: access control is not
    /// ready (recorded on Trino 476 and PrestoDB 0.296, on the first GET of the queued URI).
    pub fn starting_failure(&self) -> QueryFailure {
        let message = match self.settings.engine {
            Engine::Trino => "Trino server is still initializing",
            Engine::Presto => "Presto server is still initializing",
        };
        QueryFailure::new(codes::SERVER_STARTING_UP, message)
    }

    fn header_prefix(&self) -> &'static str {
        match self.settings.engine {
            Engine::Trino => "X-Trino-",
            Engine::Presto => "X-Presto-",
        }
    }

    /// Trino query ids: `YYYYMMDD_HHMMSS_NNNNN_xxxxx` (NOT IN FACTS: QueryIdGenerator's format
    /// from memory).
    fn next_query_id(&self) -> String {
        let now = clock::rfc3339(SystemTime::now());
        let digits: String = now.chars().filter(char::is_ascii_digit).collect();
        let counter = self.query_counter.fetch_add(1, Ordering::SeqCst);
        format!(
            "{}_{}_{:05}_{}",
            &digits[..8],
            &digits[8..14],
            counter % 100_000,
            self.coordinator_id
        )
    }

    fn find(&self, id: &str) -> Option<Arc<Query>> {
        self.queries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .find(|q| q.id == id)
            .cloned()
    }

    fn all_queries(&self) -> Vec<Arc<Query>> {
        self.queries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn reject(&self, user: Option<&str>, sql: &str) {
        if let Some(recorder) = &self.recorder {
            recorder.record(None, user, sql, "REJECTED", None);
        }
    }

    fn base_url(&self, headers: &HeaderMap) -> String {
        let scheme = if self.settings.tls { "https" } else { "http" };
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .map(str::to_string)
            .unwrap_or_else(|| self.settings.listen.to_string());
        format!("{scheme}://{host}")
    }
}

type Shared = Arc<Emulator>;

pub fn router(emulator: Shared) -> Router {
    let mut router = Router::new()
        .route("/v1/statement", axum::routing::post(post_statement))
        .route("/v1/info", get(info))
        .route("/v1/info/state", get(get_state).put(put_state))
        .route("/v1/info/coordinator", get(|| async { StatusCode::OK }))
        .route("/v1/status", get(status).head(status))
        .route("/v1/query", get(list_queries))
        .route("/v1/query/{id}", get(query_info).delete(delete_query));
    use PageKind::{Executing, Queued};
    router = match emulator.settings.engine {
        Engine::Trino => router
            .route(
                "/v1/statement/queued/{id}/{slug}/{token}",
                get(|s, h, p| trino_page(Queued, s, h, p))
                    .delete(|s, p| trino_cancel(Queued, s, p)),
            )
            .route(
                "/v1/statement/executing/{id}/{slug}/{token}",
                get(|s, h, p| trino_page(Executing, s, h, p))
                    .delete(|s, p| trino_cancel(Executing, s, p)),
            ),
        Engine::Presto => router
            .route(
                "/v1/statement/queued/{id}/{token}",
                get(|s, h, p, q| presto_page(Queued, s, h, p, q))
                    .delete(|s, p, q| presto_cancel(Queued, s, p, q)),
            )
            .route(
                "/v1/statement/executing/{id}/{token}",
                get(|s, h, p, q| presto_page(Executing, s, h, p, q))
                    .delete(|s, p, q| presto_cancel(Executing, s, p, q)),
            )
            .route("/v1/cluster", get(cluster)),
    };
    router.with_state(emulator)
}

fn text(status: StatusCode, message: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain")],
        message.to_string(),
    )
        .into_response()
}

fn json_response(value: Value) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        value.to_string(),
    )
        .into_response()
}

// ---------------------------------------------------------------------------------------------
// Identity and authentication

/// Why a request has no identity.
enum AuthFailure {
    /// 401 with `WWW-Authenticate` challenges.
    Unauthorized {
        message: String,
        challenges: Vec<&'static str>,
    },
    /// 403 `Authentication over HTTP is not enabled`.
    InsecureForbidden,
    /// PrestoDB without `X-Presto-User`: 400 `User must be set` (recorded on 0.296).
    PrestoNoUser,
}

impl AuthFailure {
    fn into_response(self) -> Response {
        match self {
            AuthFailure::Unauthorized {
                message,
                challenges,
            } => {
                let mut response = text(StatusCode::UNAUTHORIZED, &message);
                for challenge in challenges {
                    response.headers_mut().append(
                        header::WWW_AUTHENTICATE,
                        HeaderValue::from_static(challenge),
                    );
                }
                response
            }
            AuthFailure::InsecureForbidden => text(
                StatusCode::FORBIDDEN,
                "Authentication over HTTP is not enabled",
            ),
            // Recorded on PrestoDB 0.296.
            AuthFailure::PrestoNoUser => text(StatusCode::BAD_REQUEST, "User must be set"),
        }
    }
}

const BASIC_CHALLENGE: &str = "Basic realm=\"Trino\"";
const BEARER_CHALLENGE: &str = "Bearer realm=\"Trino\"";

/// Basic credentials: ISO-8859-1, split at the first `:` (BasicAuthCredentials.java).
fn basic_credentials(value: &str) -> Result<(String, Option<String>), String> {
    let encoded = value.get("basic ".len()..).unwrap_or("").trim();
    // NOT IN FACTS: the text for undecodable credentials.
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .map_err(|_| "Malformed decoded credentials".to_string())?;
    let decoded: String = bytes.iter().map(|&b| b as char).collect();
    let (user, password) = match decoded.split_once(':') {
        Some((u, p)) => (u.to_string(), Some(p.to_string())),
        None => (decoded, None),
    };
    if user.is_empty() {
        return Err("Malformed credentials: user is empty".to_string());
    }
    Ok((user, password))
}

/// The user a request acts as (AuthenticationFilter / InsecureAuthenticator, facts §3.1).
fn authenticate(emulator: &Emulator, headers: &HeaderMap) -> Result<String, AuthFailure> {
    let user_header = format!("{}User", emulator.header_prefix());
    let header_user = headers
        .get(user_header.as_str())
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|u| !u.is_empty());
    let authorization: Vec<&str> = headers
        .get_all(header::AUTHORIZATION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    let settings = &emulator.settings;
    let authenticators_configured =
        settings.passwords.is_some() || !settings.bearer_tokens.is_empty();

    if authenticators_configured {
        if !settings.tls {
            // allow-insecure-over-http defaults to false once authentication is configured.
            return Err(AuthFailure::InsecureForbidden);
        }
        if authorization.len() > 1 {
            // AbstractBearerAuthenticator; NOT IN FACTS: the end of the sentence.
            return Err(unauthorized(
                settings,
                "Multiple Authorization headers detected".to_string(),
            ));
        }
        let Some(value) = authorization.first() else {
            // NOT IN FACTS: the text when no credentials are sent to a password/JWT server.
            return Err(unauthorized(settings, "Unauthorized".to_string()));
        };
        let mut failures = Vec::new();
        if let Some(passwords) = &settings.passwords
            && has_scheme(value, "basic ")
        {
            match basic_credentials(value) {
                Ok((user, Some(password))) if passwords.get(&user) == Some(&password) => {
                    return Ok(header_user.map_or(user, str::to_string));
                }
                // NOT IN FACTS: the password authenticator's failure text.
                Ok(_) => failures.push("Access Denied: Invalid credentials".to_string()),
                Err(message) => failures.push(message),
            }
        }
        if !settings.bearer_tokens.is_empty() && has_scheme(value, "bearer ") {
            let token = value[7..].trim();
            if settings.bearer_tokens.iter().any(|t| t == token) {
                // NOT IN FACTS: the principal of a bearer token (real JWTs carry a `sub`).
                return Ok(header_user.map_or_else(|| "jwt-user".to_string(), str::to_string));
            }
            failures.push("Unauthorized".to_string());
        }
        if failures.is_empty() {
            failures.push("Unauthorized".to_string());
        }
        // Messages of all authenticators are joined with " | " (facts §3.1).
        return Err(unauthorized(settings, failures.join(" | ")));
    }

    // The insecure authenticator: a user name, never a password.
    if let Some(value) = authorization.first()
        && has_scheme(value, "basic ")
    {
        let (user, password) =
            basic_credentials(value).map_err(|message| AuthFailure::Unauthorized {
                message,
                challenges: vec![BASIC_CHALLENGE],
            })?;
        if password.is_some_and(|p| !p.is_empty()) {
            return Err(AuthFailure::Unauthorized {
                message: "Password not allowed for insecure authentication".to_string(),
                challenges: vec![BASIC_CHALLENGE],
            });
        }
        return Ok(header_user.map_or(user, str::to_string));
    }
    match (header_user, emulator.settings.engine) {
        (Some(user), _) => Ok(user.to_string()),
        // Recorded on Trino 476.
        (None, Engine::Trino) => Err(AuthFailure::Unauthorized {
            message: "Basic authentication or X-Trino-Original-User or X-Trino-User must be sent"
                .to_string(),
            challenges: vec![BASIC_CHALLENGE],
        }),
        (None, Engine::Presto) => Err(AuthFailure::PrestoNoUser),
    }
}

/// Whether an Authorization value uses `scheme` (case-insensitive, with its trailing space).
fn has_scheme(value: &str, scheme: &str) -> bool {
    value.len() >= scheme.len() && value[..scheme.len()].eq_ignore_ascii_case(scheme)
}

fn unauthorized(settings: &Settings, message: String) -> AuthFailure {
    let mut challenges = Vec::new();
    if settings.passwords.is_some() {
        challenges.push(BASIC_CHALLENGE);
    }
    if !settings.bearer_tokens.is_empty() {
        challenges.push(BEARER_CHALLENGE);
    }
    AuthFailure::Unauthorized {
        message,
        challenges,
    }
}

// ---------------------------------------------------------------------------------------------
// Client protocol

async fn post_statement(
    State(emulator): State<Shared>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if emulator.dying() {
        return (StatusCode::INTERNAL_SERVER_ERROR, "Server is shutting down").into_response();
    }
    let sql = String::from_utf8_lossy(&body).into_owned();
    let user = match authenticate(&emulator, &headers) {
        Ok(user) => user,
        Err(failure) => {
            emulator.reject(None, &sql);
            return failure.into_response();
        }
    };
    if sql.trim().is_empty() {
        // QueuedStatementResource.postStatement; recorded: Trino 476's Jetty error page text,
        // PrestoDB 0.296's bare message.
        emulator.reject(Some(&user), &sql);
        let message = match emulator.settings.engine {
            Engine::Trino => "Error 400 Bad Request: SQL statement is empty",
            Engine::Presto => "SQL statement is empty",
        };
        return text(StatusCode::BAD_REQUEST, message);
    }
    // While starting, the statement is accepted like any other; it fails when dispatched, on
    // the first GET of its queued URI (recorded on both engines: there is never a 503).
    let source = headers
        .get(format!("{}Source", emulator.header_prefix()).as_str())
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let query = Arc::new(Query::new(
        emulator.next_query_id(),
        user,
        sql,
        source,
        emulator.slug_secret,
    ));
    emulator
        .queries
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(Arc::clone(&query));
    let base = emulator.base_url(&headers);
    json_response(query.initial_page(&emulator, &base))
}

#[derive(serde::Deserialize)]
struct SlugParam {
    slug: Option<String>,
}

async fn next_page(
    emulator: Shared,
    headers: HeaderMap,
    id: String,
    slug: String,
    kind: PageKind,
    token: u64,
) -> Response {
    // FAULT INJECTION (`--fail-rate-503`): a proxy's 503 before anything happens; the client must
    // retry the same URI.
    if emulator.rng.chance(emulator.settings.fail_rate_503) {
        // NOT IN FACTS: the body; Trino itself never sends 503 here (facts §3).
        return text(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable");
    }
    let Some(query) = emulator.find(&id) else {
        return text(StatusCode::NOT_FOUND, "Query not found");
    };
    let base = emulator.base_url(&headers);
    match query.page(&emulator, &base, kind, &slug, token).await {
        Ok(page) => json_response(page),
        Err(PageError::NotFound) => text(StatusCode::NOT_FOUND, "Query not found"),
        Err(PageError::Gone) => StatusCode::GONE.into_response(),
    }
}

fn cancel(emulator: &Emulator, id: &str, slug: &str, kind: PageKind, token: u64) -> Response {
    match emulator.find(id) {
        Some(query) if query.slug(kind, token) == slug => {
            query.cancel(emulator);
            StatusCode::NO_CONTENT.into_response()
        }
        _ => text(StatusCode::NOT_FOUND, "Query not found"),
    }
}

/// Trino's nextUri shapes: `/v1/statement/{queued|executing}/{id}/{slug}/{token}`.
type TrinoPath = Path<(String, String, u64)>;
/// PrestoDB's: `/v1/statement/{queued|executing}/{id}/{token}?slug=…`.
type PrestoPath = Path<(String, u64)>;

async fn trino_page(
    kind: PageKind,
    State(e): State<Shared>,
    h: HeaderMap,
    Path((id, slug, token)): TrinoPath,
) -> Response {
    next_page(e, h, id, slug, kind, token).await
}

async fn trino_cancel(
    kind: PageKind,
    State(e): State<Shared>,
    Path((id, slug, token)): TrinoPath,
) -> Response {
    cancel(&e, &id, &slug, kind, token)
}

async fn presto_page(
    kind: PageKind,
    State(e): State<Shared>,
    h: HeaderMap,
    Path((id, token)): PrestoPath,
    QueryParams(p): QueryParams<SlugParam>,
) -> Response {
    next_page(e, h, id, p.slug.unwrap_or_default(), kind, token).await
}

async fn presto_cancel(
    kind: PageKind,
    State(e): State<Shared>,
    Path((id, token)): PrestoPath,
    QueryParams(p): QueryParams<SlugParam>,
) -> Response {
    cancel(&e, &id, &p.slug.unwrap_or_default(), kind, token)
}

// ---------------------------------------------------------------------------------------------
// Admin endpoints (facts §4)

fn uptime(emulator: &Emulator) -> String {
    clock::airlift_duration(emulator.started.elapsed())
}

async fn info(State(emulator): State<Shared>) -> Response {
    json_response(json!({
        "nodeVersion": {"version": emulator.settings.node_version},
        "environment": emulator.settings.environment,
        "coordinator": true,
        "starting": emulator.starting(),
        "uptime": uptime(&emulator),
    }))
}

fn node_state(emulator: &Emulator) -> &'static str {
    if emulator.shutting_down.load(Ordering::SeqCst) {
        "SHUTTING_DOWN"
    } else {
        "ACTIVE"
    }
}

async fn get_state(State(emulator): State<Shared>) -> Response {
    // PrestoDB 0.296 says INACTIVE until it has started; Trino 476 says ACTIVE all along
    // (both recorded).
    if emulator.settings.engine == Engine::Presto && emulator.starting() {
        return json_response(json!("INACTIVE"));
    }
    json_response(json!(node_state(&emulator)))
}

async fn put_state(State(emulator): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(failure) = authenticate(&emulator, &headers) {
        return failure.into_response();
    }
    if emulator.settings.engine == Engine::Trino {
        // Recorded on Trino 476 with the default access control: the coordinator's state is a
        // management resource. (With system-information write permission it is 500 `Cannot
        // shutdown coordinator`, trino-476-measured.md §9; the emulator has no access control.)
        return text(
            StatusCode::FORBIDDEN,
            "Error 403 Forbidden: Management only resource",
        );
    }
    let requested: Option<String> = serde_json::from_slice(&body).ok();
    match requested.as_deref() {
        Some("SHUTTING_DOWN") => {}
        Some("ACTIVE") if !emulator.shutting_down.load(Ordering::SeqCst) => {
            return StatusCode::OK.into_response();
        }
        // Recorded on PrestoDB 0.296.
        Some("ACTIVE") => return text(StatusCode::BAD_REQUEST, "Cluster is shutting down"),
        // NOT IN FACTS: the rest of the sentence after "Invalid state transition".
        Some(other) => {
            return text(
                StatusCode::BAD_REQUEST,
                &format!("Invalid state transition to {other}"),
            );
        }
        None => return text(StatusCode::BAD_REQUEST, "Invalid state"),
    }
    if !emulator.shutting_down.swap(true, Ordering::SeqCst) {
        let emulator = Arc::clone(&emulator);
        tokio::spawn(async move {
            // PrestoDB GracefulShutdownHandler: grace period, then wait for every non-done
            // query, then stop (facts §4). NOT IN FACTS: new queries stay accepted meanwhile.
            tokio::time::sleep(emulator.settings.shutdown_grace_period).await;
            while emulator.all_queries().iter().any(|q| q.is_running()) {
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
            eprintln!("coordinator-emulator: graceful shutdown complete");
            std::process::exit(0);
        });
    }
    StatusCode::OK.into_response()
}

async fn status(State(emulator): State<Shared>) -> Response {
    let address = emulator.settings.listen.ip().to_string();
    json_response(json!({
        "nodeId": emulator.node_id,
        "nodeVersion": {"version": emulator.settings.node_version},
        "environment": emulator.settings.environment,
        "coordinator": true,
        "uptime": uptime(&emulator),
        "externalAddress": address,
        "internalAddress": address,
        // NOT IN FACTS: the contents of memoryInfo and the load figures.
        "memoryInfo": {"availablePool": {"maxBytes": 1_073_741_824u64, "reservedBytes": 0}},
        "processors": 2,
        "processCpuLoad": 0.0,
        "systemCpuLoad": 0.0,
        "heapUsed": 0,
        "heapAvailable": 1_073_741_824u64,
        "nonHeapUsed": 0,
    }))
}

#[derive(serde::Deserialize)]
struct StateFilter {
    state: Option<String>,
}

async fn list_queries(
    State(emulator): State<Shared>,
    headers: HeaderMap,
    QueryParams(filter): QueryParams<StateFilter>,
) -> Response {
    // PrestoDB 0.296 lists queries without a user (recorded); Trino 476 needs one.
    if emulator.settings.engine == Engine::Trino
        && let Err(failure) = authenticate(&emulator, &headers)
    {
        return failure.into_response();
    }
    let wanted = filter.state.map(|s| s.to_uppercase());
    if let Some(state) = &wanted
        && !QUERY_STATE_NAMES.contains(&state.as_str())
    {
        // NOT IN FACTS: the response to a state that is no QueryState name.
        return text(StatusCode::BAD_REQUEST, &format!("Invalid state: {state}"));
    }
    let base = emulator.base_url(&headers);
    let list: Vec<Value> = emulator
        .all_queries()
        .iter()
        .filter(|q| wanted.as_deref().is_none_or(|s| q.state().name() == s))
        .map(|q| q.basic_info(&emulator, &base))
        .collect();
    json_response(Value::Array(list))
}

async fn query_info(
    State(emulator): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if let Err(failure) = authenticate(&emulator, &headers) {
        return failure.into_response();
    }
    match emulator.find(&id) {
        Some(query) => json_response(query.basic_info(&emulator, &emulator.base_url(&headers))),
        // NOT IN FACTS: the answer for an unknown query id.
        None => StatusCode::GONE.into_response(),
    }
}

async fn delete_query(
    State(emulator): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if let Err(failure) = authenticate(&emulator, &headers) {
        return failure.into_response();
    }
    if let Some(query) = emulator.find(&id) {
        query.cancel(&emulator);
    }
    StatusCode::NO_CONTENT.into_response()
}

async fn cluster(State(emulator): State<Shared>) -> Response {
    let queries = emulator.all_queries();
    let count = |state: QueryState| queries.iter().filter(|q| q.state() == state).count();
    // presto-main ClusterStatsResource; the keys recorded on PrestoDB 0.296.
    json_response(json!({
        "runningQueries": count(QueryState::Running),
        "blockedQueries": 0,
        "queuedQueries": count(QueryState::Queued),
        "activeWorkers": 1,
        "runningDrivers": 0,
        "runningTasks": 0,
        "adjustedQueueSize": 0,
        "reservedMemory": 0.0,
        "totalInputRows": 0,
        "totalInputBytes": 0,
        "totalCpuTimeSecs": 0,
    }))
}
