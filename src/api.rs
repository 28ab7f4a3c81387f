//! The catalog API (`--api`): portals and scripts read and change catalogs over HTTP, and the
//! folder stays the one source of truth. A PUT is validated exactly like a file and written into
//! the folder atomically; the watch and the reconcile loop then apply it as they apply any file.
//! `?wait=` answers once the agent has applied (or failed) that very definition.
//!
//! Access: bearer tokens from `--api-token-file`, each read-write or read-only; without a token
//! file the API answers on a loopback address only. Every change is one audit line (who — the
//! token's name —, what, the outcome); values are never logged or returned unmasked.

// Helpers return the refusing `Response` itself as their error: one per request, moved once, so
// its size (what clippy's result_large_err is about) costs nothing that matters.
#![allow(clippy::result_large_err)]

use crate::catalog::{self, CONNECTOR_KEY, CatalogSpec, Flavour};
use crate::properties;
use crate::status::{SharedStatus, State as CatalogState};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// The longest `?wait=` honoured.
const MAX_WAIT: Duration = Duration::from_secs(300);
/// A request body may be at most a catalog file's size (and some JSON around it).
const MAX_BODY_BYTES: usize = catalog::MAX_FILE_BYTES as usize + 64 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    ReadOnly,
    ReadWrite,
}

#[derive(Clone)]
pub struct Token {
    pub name: String,
    pub access: Access,
    secret: Vec<u8>,
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Token")
            .field("name", &self.name)
            .field("access", &self.access)
            .field("secret", &"***")
            .finish()
    }
}

/// Reads a token file: one token a line, `NAME rw|ro TOKEN`; blank lines and `#` comments are
/// skipped. Errors name the file and line, never the token.
pub fn load_tokens(path: &std::path::Path) -> Result<Vec<Token>, TokenFileError> {
    let file = || path.to_path_buf();
    let bytes =
        crate::files::read_regular(path, 1024 * 1024).map_err(|source| TokenFileError::Read {
            file: file(),
            source,
        })?;
    let text = String::from_utf8(bytes).map_err(|_| TokenFileError::NotUtf8(file()))?;
    let mut tokens: Vec<Token> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let bad = |problem: TokenLine| TokenFileError::Line {
            file: file(),
            line: i + 1,
            problem,
        };
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [name, access, secret] = fields[..] else {
            return Err(bad(TokenLine::Fields));
        };
        let access = match access {
            "rw" => Access::ReadWrite,
            "ro" => Access::ReadOnly,
            _ => return Err(bad(TokenLine::Access(access.to_string()))),
        };
        if secret.len() < 16 {
            return Err(bad(TokenLine::Short(name.to_string())));
        }
        if tokens.iter().any(|t| t.name == name) {
            return Err(bad(TokenLine::Twice(name.to_string())));
        }
        tokens.push(Token {
            name: name.to_string(),
            access,
            secret: secret.as_bytes().to_vec(),
        });
    }
    if tokens.is_empty() {
        return Err(TokenFileError::Empty(file()));
    }
    Ok(tokens)
}

/// Why a token file cannot be used. Names the file and line, never a token.
#[derive(Debug, thiserror::Error)]
pub enum TokenFileError {
    #[error("cannot read the token file {}: {source}", .file.display())]
    Read {
        file: PathBuf,
        source: crate::files::OpenError,
    },
    #[error("{}: the token file is not UTF-8", .0.display())]
    NotUtf8(PathBuf),
    #[error("{}:{line}: {problem}", .file.display())]
    Line {
        file: PathBuf,
        line: usize,
        problem: TokenLine,
    },
    #[error("{}: no token in the file", .0.display())]
    Empty(PathBuf),
}

/// What is wrong with one line of a token file.
#[derive(Debug, thiserror::Error)]
pub enum TokenLine {
    #[error("expected three fields, NAME rw|ro TOKEN (the token itself is not shown)")]
    Fields,
    #[error("the second field must be rw or ro, not '{0}'")]
    Access(String),
    #[error("the token of '{0}' is shorter than 16 characters")]
    Short(String),
    #[error("a second token named '{0}'")]
    Twice(String),
}

/// Equal without an early exit on the first differing byte (the time taken tells nothing about
/// how much of a guess was right).
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

pub struct ApiState {
    pub folder: PathBuf,
    pub status: SharedStatus,
    /// `None`: no token file (allowed on a loopback address only).
    pub tokens: Option<Vec<Token>>,
    /// The engine flavour to validate against before the engine has been asked.
    pub flavour_hint: Flavour,
    /// One change at a time: each reads, checks and writes a file.
    pub writers: tokio::sync::Mutex<()>,
    /// For connection checks and the live view: a client of the engine of its own.
    pub client: crate::engine::Client,
    /// Reads the engine's catalogs for `GET` (remembers an engine without `connector_name`).
    pub lister: crate::engine::catalogs::CatalogLister,
}

/// What the engine itself lists, asked at the time of a `GET` (one listing query): `live` is the
/// engine's word, not the agent's memory of it.
async fn live_now(state: &ApiState) -> Result<crate::engine::Live, crate::engine::EngineError> {
    state.lister.live(&state.client).await
}

/// `live` for one catalog: its connector as the engine lists it (`null` when the engine does not
/// say), `false` when the engine has no such catalog, and why when the engine could not be asked.
fn live_field(
    out: &mut Value,
    live: &Result<crate::engine::Live, crate::engine::EngineError>,
    name: &str,
) {
    match live {
        Ok(live) => {
            out["live"] = match live.get(name) {
                Some(catalog) => json!({ "connector": catalog.connector }),
                None => Value::Bool(false),
            };
        }
        Err(e) => {
            out["live"] = Value::Null;
            out["live_error"] = Value::String(e.to_string());
        }
    }
}

impl ApiState {
    fn flavour(&self) -> Flavour {
        match self.status.lock().expect("status lock").engine.as_ref() {
            Some(engine) if engine.flavour == Some(Flavour::Presto) => Flavour::Presto,
            Some(_) => Flavour::Trino,
            None => self.flavour_hint,
        }
    }
}

pub fn router(state: Arc<ApiState>) -> Router {
    Router::new()
        .route("/openapi.json", get(openapi))
        .route("/v1/catalogs", get(list))
        .route(
            "/v1/catalogs/{name}",
            put(put_catalog).get(get_one).delete(delete),
        )
        .route("/v1/catalogs/{name}/check", post(check_catalog))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

fn answer(code: StatusCode, value: Value) -> Response {
    (
        code,
        [(header::CONTENT_TYPE, "application/json")],
        format!("{value}\n"),
    )
        .into_response()
}

fn problem(code: StatusCode, message: impl Into<String>) -> Response {
    answer(code, json!({ "error": message.into() }))
}

/// Who is asking, or the answer that refuses them.
fn caller(state: &ApiState, headers: &HeaderMap, write: bool) -> Result<String, Response> {
    let Some(tokens) = &state.tokens else {
        return Ok("local".into());
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let Some(given) = given else {
        let mut refused = problem(
            StatusCode::UNAUTHORIZED,
            "a bearer token is required (Authorization: Bearer TOKEN)",
        );
        refused
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, "Bearer".parse().expect("header"));
        return Err(refused);
    };
    // Every token is compared, whichever matches.
    let mut found: Option<&Token> = None;
    for token in tokens {
        if constant_time_eq(token.secret.as_slice(), given.as_bytes()) {
            found = Some(token);
        }
    }
    match found {
        None => Err(problem(StatusCode::UNAUTHORIZED, "unknown token")),
        Some(t) if write && t.access == Access::ReadOnly => Err(problem(
            StatusCode::FORBIDDEN,
            format!("the token '{}' may read only", t.name),
        )),
        Some(t) => Ok(t.name.clone()),
    }
}

fn audit(who: &str, action: &str, catalog: &str, outcome: &str) {
    tracing::info!(target: "catalog_reloader::audit", who, action, catalog, outcome, "catalog API change");
}

/// The catalog name a path stands for, checked as a file name would be.
fn checked_name(name: &str) -> Result<String, Response> {
    catalog::catalog_name(&format!("{name}.properties"))
        .map_err(|reason| problem(StatusCode::BAD_REQUEST, format!("{name}: {reason}")))
}

#[derive(serde::Deserialize, Default)]
struct WaitQuery {
    wait: Option<String>,
    /// PUT: run the connection check first, and write nothing if it fails.
    #[serde(default)]
    check: bool,
    /// Check even a connector whose DROP leaks resources.
    #[serde(default)]
    allow_leak: bool,
}

fn wait_limit(query: &WaitQuery) -> Result<Option<Duration>, Response> {
    let Some(text) = &query.wait else {
        return Ok(None);
    };
    let wait = humantime::parse_duration(text).map_err(|e| {
        problem(
            StatusCode::BAD_REQUEST,
            format!("wait: {e} (write it like 30s or 2m)"),
        )
    })?;
    Ok(Some(wait.min(MAX_WAIT)))
}

/// The body as a catalog file's text: the text itself, or JSON `{"connector": …, "properties":
/// {…}}` written out as one.
fn file_text(headers: &HeaderMap, body: &Bytes) -> Result<Vec<u8>, Response> {
    let json_body = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(';').next().unwrap_or("").trim() == "application/json");
    if !json_body {
        return Ok(body.to_vec());
    }
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Definition {
        connector: String,
        #[serde(default)]
        properties: BTreeMap<String, String>,
    }
    let definition: Definition = serde_json::from_slice(body).map_err(|e| {
        problem(
            StatusCode::BAD_REQUEST,
            format!(
                "the body is not a catalog definition {{\"connector\": …, \"properties\": {{…}}}}: {e}"
            ),
        )
    })?;
    if definition.properties.contains_key(CONNECTOR_KEY) {
        return Err(problem(
            StatusCode::BAD_REQUEST,
            "give the connector as \"connector\", not as a property",
        ));
    }
    let mut text = format!(
        "{}={}\n",
        properties::escape(CONNECTOR_KEY, true),
        properties::escape(&definition.connector, false)
    );
    for (key, value) in &definition.properties {
        text.push_str(&properties::escape(key, true));
        text.push('=');
        text.push_str(&properties::escape(value, false));
        text.push('\n');
    }
    Ok(text.into_bytes())
}

fn masked_properties(spec: &CatalogSpec) -> Value {
    spec.properties
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(catalog::redact_value(k, v))))
        .collect::<serde_json::Map<_, _>>()
        .into()
}

/// [`describe_now`] on a blocking thread: it reads the catalog's file, and no file I/O runs on
/// the runtime's only thread.
async fn describe(state: &Arc<ApiState>, name: &str) -> Option<Value> {
    let (state, name) = (Arc::clone(state), name.to_string());
    tokio::task::spawn_blocking(move || describe_now(&state, &name))
        .await
        .expect("describe does not panic")
}

/// One catalog as the API shows it: the status entry, and the file's definition when it is valid.
fn describe_now(state: &ApiState, name: &str) -> Option<Value> {
    let status = state
        .status
        .lock()
        .expect("status lock")
        .catalogs
        .get(name)
        .map(|entry| serde_json::to_value(entry).expect("status serialises"));
    let file = format!("{name}.properties");
    let desired = crate::files::read_regular(&state.folder.join(&file), catalog::MAX_FILE_BYTES)
        .ok()
        .and_then(|bytes| catalog::parse_file(&file, name, &bytes, state.flavour()).ok())
        .map(|spec| json!({ "connector": spec.connector, "properties": masked_properties(&spec) }));
    if status.is_none() && desired.is_none() {
        return None;
    }
    let mut out = json!({ "name": name });
    if let Some(Value::Object(fields)) = status {
        out.as_object_mut().expect("object").extend(fields);
    }
    out["desired"] = desired.unwrap_or(Value::Null);
    Some(out)
}

async fn list(State(state): State<Arc<ApiState>>, headers: HeaderMap) -> Response {
    if let Err(refused) = caller(&state, &headers, false) {
        return refused;
    }
    let live = live_now(&state).await;
    let catalogs: Vec<Value> = {
        let status = state.status.lock().expect("status lock");
        status
            .catalogs
            .iter()
            .map(|(name, entry)| {
                let mut value = json!({ "name": name });
                if let Value::Object(fields) = serde_json::to_value(entry).expect("serialises") {
                    value.as_object_mut().expect("object").extend(fields);
                }
                live_field(&mut value, &live, name);
                value
            })
            .collect()
    };
    answer(StatusCode::OK, json!({ "catalogs": catalogs }))
}

async fn get_one(
    State(state): State<Arc<ApiState>>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Err(refused) = caller(&state, &headers, false) {
        return refused;
    }
    let name = match checked_name(&name) {
        Ok(n) => n,
        Err(r) => return r,
    };
    let live = live_now(&state).await;
    let mut value = match describe(&state, &name).await {
        Some(value) => value,
        None if live.as_ref().is_ok_and(|l| l.contains_key(&name)) => json!({ "name": name }),
        None => return problem(StatusCode::NOT_FOUND, format!("no catalog '{name}'")),
    };
    live_field(&mut value, &live, &name);
    answer(StatusCode::OK, value)
}

/// A definition that is not a valid catalog file: 422 with the file, line and reason, as
/// `validate` names them.
fn invalid_file(e: &catalog::FileError) -> Response {
    answer(
        StatusCode::UNPROCESSABLE_ENTITY,
        json!({ "error": e.to_string(), "file": e.file, "line": e.line, "reason": e.reason }),
    )
}

/// Why the folder refused a write, for the caller.
fn write_refused(e: &std::io::Error) -> Response {
    let read_only = matches!(
        e.raw_os_error(),
        Some(libc::EROFS | libc::EACCES | libc::EPERM)
    );
    if read_only {
        problem(
            StatusCode::CONFLICT,
            format!(
                "the catalog folder cannot be written ({e}): it is read-only here (a ConfigMap or a read-only mount); change the catalogs where the folder comes from"
            ),
        )
    } else {
        problem(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("cannot write the catalog file: {e}"),
        )
    }
}

async fn put_catalog(
    State(state): State<Arc<ApiState>>,
    Path(name): Path<String>,
    Query(query): Query<WaitQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let who = match caller(&state, &headers, true) {
        Ok(w) => w,
        Err(r) => return r,
    };
    let name = match checked_name(&name) {
        Ok(n) => n,
        Err(r) => return r,
    };
    let wait = match wait_limit(&query) {
        Ok(w) => w,
        Err(r) => return r,
    };
    let text = match file_text(&headers, &body) {
        Ok(t) => t,
        Err(r) => return r,
    };
    let file = format!("{name}.properties");
    let spec = match catalog::parse_file(&file, &name, &text, state.flavour()) {
        Ok(spec) => spec,
        Err(e) => {
            audit(&who, "put", &name, "invalid");
            return invalid_file(&e);
        }
    };
    if query.check {
        match run_check(&state, &spec, query.allow_leak).await {
            Ok(result) if result.ok => {}
            Ok(result) => {
                audit(&who, "put", &name, "connection check failed");
                return answer(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    json!({ "name": name, "state": "not written", "check": result }),
                );
            }
            Err(refused) => return refused,
        }
    }
    let path = state.folder.join(&file);
    let created = {
        let _one_at_a_time = state.writers.lock().await;
        let write_path = path.clone();
        let written = tokio::task::spawn_blocking(move || {
            let existed = std::fs::symlink_metadata(&write_path).is_ok();
            crate::files::write_atomically(&write_path, &text, 0o644).map(|()| !existed)
        })
        .await
        .expect("the write does not panic");
        match written {
            Ok(created) => created,
            Err(e) => {
                audit(&who, "put", &name, "refused by the folder");
                return write_refused(&e);
            }
        }
    };
    audit(
        &who,
        "put",
        &name,
        if created { "created" } else { "replaced" },
    );
    let code = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let Some(wait) = wait else {
        return answer(
            code,
            json!({ "name": name, "file": file, "state": "written" }),
        );
    };
    let want = spec.fingerprint().keyed_short();
    let settled = wait_for_status(&state, &name, wait, |entry| {
        entry.is_some_and(|e| {
            e.fingerprint == Some(want)
                && matches!(
                    e.state,
                    CatalogState::Applied | CatalogState::Failed | CatalogState::Conflict
                )
        })
    })
    .await;
    let described = describe(&state, &name)
        .await
        .unwrap_or_else(|| json!({ "name": name }));
    match (settled, described["state"].as_str()) {
        (false, _) => answer(StatusCode::ACCEPTED, described),
        (true, Some("applied")) => answer(code, described),
        _ => answer(StatusCode::UNPROCESSABLE_ENTITY, described),
    }
}

async fn delete(
    State(state): State<Arc<ApiState>>,
    Path(name): Path<String>,
    Query(query): Query<WaitQuery>,
    headers: HeaderMap,
) -> Response {
    let who = match caller(&state, &headers, true) {
        Ok(w) => w,
        Err(r) => return r,
    };
    let name = match checked_name(&name) {
        Ok(n) => n,
        Err(r) => return r,
    };
    let wait = match wait_limit(&query) {
        Ok(w) => w,
        Err(r) => return r,
    };
    let path = state.folder.join(format!("{name}.properties"));
    {
        let _one_at_a_time = state.writers.lock().await;
        let removed = tokio::task::spawn_blocking(move || std::fs::remove_file(&path))
            .await
            .expect("the removal does not panic");
        match removed {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return problem(
                    StatusCode::NOT_FOUND,
                    format!("no catalog file for '{name}'"),
                );
            }
            Err(e) => {
                audit(&who, "delete", &name, "refused by the folder");
                return write_refused(&e);
            }
        }
    }
    audit(&who, "delete", &name, "removed");
    let Some(wait) = wait else {
        return answer(
            StatusCode::OK,
            json!({ "name": name, "state": "file removed" }),
        );
    };
    let settled = wait_for_status(&state, &name, wait, |entry| {
        entry.is_none_or(|e| {
            matches!(
                e.state,
                CatalogState::Removed | CatalogState::Failed | CatalogState::Conflict
            )
        })
    })
    .await;
    let described = describe(&state, &name)
        .await
        .unwrap_or_else(|| json!({ "name": name, "state": "removed" }));
    match (settled, described["state"].as_str()) {
        (false, _) => answer(StatusCode::ACCEPTED, described),
        (true, Some("removed")) => answer(StatusCode::OK, described),
        _ => answer(StatusCode::UNPROCESSABLE_ENTITY, described),
    }
}

/// The connection check, or the answer that says why it is not run.
async fn run_check(
    state: &ApiState,
    spec: &CatalogSpec,
    allow_leak: bool,
) -> Result<crate::check::CheckResult, Response> {
    let mode = state.status.lock().expect("status lock").mode;
    if mode == Some(crate::engine::Mode::Restart) {
        return Err(problem(
            StatusCode::CONFLICT,
            "the connection check needs an engine that creates catalogs at run time (dynamic catalog management); this one applies catalogs by restarting",
        ));
    }
    crate::check::check(&state.client, spec, allow_leak)
        .await
        .map_err(|refused| match refused {
            crate::check::CheckRefused::LeakyConnector(_) => {
                problem(StatusCode::CONFLICT, refused.to_string())
            }
            crate::check::CheckRefused::Engine(_) => {
                problem(StatusCode::BAD_GATEWAY, refused.to_string())
            }
        })
}

/// `POST /v1/catalogs/{name}/check`: the definition in the body, or the catalog's file when the
/// body is empty, created under a temporary name, probed and dropped.
async fn check_catalog(
    State(state): State<Arc<ApiState>>,
    Path(name): Path<String>,
    Query(query): Query<WaitQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    // A check changes the engine for a moment: it needs a read-write token.
    let who = match caller(&state, &headers, true) {
        Ok(w) => w,
        Err(r) => return r,
    };
    let name = match checked_name(&name) {
        Ok(n) => n,
        Err(r) => return r,
    };
    let file = format!("{name}.properties");
    let text = if body.is_empty() {
        let path = state.folder.join(&file);
        let read = tokio::task::spawn_blocking(move || {
            crate::files::read_regular(&path, catalog::MAX_FILE_BYTES)
        })
        .await
        .expect("the read does not panic");
        match read {
            Ok(bytes) => bytes,
            Err(e) if e.is_not_found() => {
                return problem(
                    StatusCode::NOT_FOUND,
                    format!("no catalog file for '{name}', and no definition in the body"),
                );
            }
            Err(e) => return problem(StatusCode::INTERNAL_SERVER_ERROR, format!("{file}: {e}")),
        }
    } else {
        match file_text(&headers, &body) {
            Ok(t) => t,
            Err(r) => return r,
        }
    };
    let spec = match catalog::parse_file(&file, &name, &text, state.flavour()) {
        Ok(spec) => spec,
        Err(e) => {
            return invalid_file(&e);
        }
    };
    match run_check(&state, &spec, query.allow_leak).await {
        Ok(result) => {
            audit(
                &who,
                "check",
                &name,
                if result.ok { "ok" } else { "failed" },
            );
            let code = if result.ok {
                StatusCode::OK
            } else {
                StatusCode::UNPROCESSABLE_ENTITY
            };
            answer(code, json!({ "name": name, "check": result }))
        }
        Err(refused) => refused,
    }
}

/// Polls the catalog's status entry until `done` says so or `limit` passes.
async fn wait_for_status(
    state: &ApiState,
    name: &str,
    limit: Duration,
    done: impl Fn(Option<&crate::status::CatalogStatus>) -> bool,
) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if done(state.status.lock().expect("status lock").catalogs.get(name)) {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn openapi() -> Response {
    answer(StatusCode::OK, openapi_document())
}

/// The OpenAPI 3 description of the catalog API.
pub fn openapi_document() -> Value {
    let error = json!({ "$ref": "#/components/schemas/Error" });
    let catalog = json!({ "$ref": "#/components/schemas/Catalog" });
    let name = json!({
        "name": "name", "in": "path", "required": true,
        "description": "The catalog name: a-z, 0-9, '_' and '-', at most 128 bytes, not 'system'",
        "schema": { "type": "string", "pattern": "^[a-z0-9_-]{1,128}$" }
    });
    let wait = json!({
        "name": "wait", "in": "query", "required": false,
        "description": "Answer only once the agent applied (or failed) the change, waiting at most this long (30s, 2m; at most 5m)",
        "schema": { "type": "string", "pattern": "^[0-9]+(ms|s|m)$" }
    });
    let check = json!({
        "name": "check", "in": "query", "required": false,
        "description": "Run the connection check first; write nothing if it fails",
        "schema": { "type": "boolean" }
    });
    let allow_leak = json!({
        "name": "allow_leak", "in": "query", "required": false,
        "description": "Check even a connector whose DROP does not release all resources (hive, iceberg, delta_lake, hudi, paimon)",
        "schema": { "type": "boolean" }
    });
    let definition_body = |required: bool| {
        json!({
            "required": required,
            "content": {
                "text/plain": {
                    "schema": { "type": "string" },
                    "example": "connector.name=memory\nmemory.max-data-per-node=64MB\n"
                },
                "application/json": {
                    "schema": { "$ref": "#/components/schemas/Definition" },
                    "example": { "connector": "memory", "properties": { "memory.max-data-per-node": "64MB" } }
                }
            }
        })
    };
    let json_check = |description: &str| {
        json!({
            "description": description,
            "content": { "application/json": { "schema": { "$ref": "#/components/schemas/CheckAnswer" } } }
        })
    };
    let json_error = |description: &str| {
        json!({
            "description": description,
            "content": { "application/json": { "schema": error } }
        })
    };
    let json_catalog = |description: &str| {
        json!({
            "description": description,
            "content": { "application/json": { "schema": catalog } }
        })
    };
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "catalog-reloader catalog API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Read and change the catalogs of the watched folder. A change is validated like a file and written into the folder; the agent applies it like any file. Values of sensitive properties are shown as ***."
        },
        "components": {
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer" } },
            "schemas": {
                "Error": {
                    "type": "object", "required": ["error"],
                    "properties": {
                        "error": { "type": "string" },
                        "file": { "type": "string" },
                        "line": { "type": "integer", "nullable": true },
                        "reason": { "type": "string" }
                    }
                },
                "Catalog": {
                    "type": "object", "required": ["name"],
                    "properties": {
                        "name": { "type": "string" },
                        "state": { "type": "string", "enum": ["applied", "pending", "invalid", "failed", "conflict", "removed", "written", "file removed", "not written"] },
                        "check": { "type": "object" },
                        "live": {
                            "description": "What the engine lists now: its connector (null when the engine does not say), false when it has no such catalog; null with live_error when it could not be asked",
                            "nullable": true,
                            "oneOf": [
                                { "type": "boolean" },
                                { "type": "object", "properties": { "connector": { "type": "string", "nullable": true } } }
                            ]
                        },
                        "live_error": { "type": "string" },
                        "connector": { "type": "string" },
                        "fingerprint": { "type": "string" },
                        "file": { "type": "string" },
                        "error": { "type": "string" },
                        "error_name": { "type": "string" },
                        "note": { "type": "string" },
                        "last_change": { "type": "string" },
                        "desired": {
                            "type": "object", "nullable": true,
                            "properties": {
                                "connector": { "type": "string" },
                                "properties": { "type": "object", "additionalProperties": { "type": "string" } }
                            }
                        }
                    }
                },
                "CheckAnswer": {
                    "type": "object",
                    "properties": {
                        "name": { "type": "string" },
                        "error": { "type": "string" },
                        "file": { "type": "string" },
                        "line": { "type": "integer", "nullable": true },
                        "reason": { "type": "string" },
                        "check": {
                            "type": "object", "required": ["ok", "stage"],
                            "properties": {
                                "ok": { "type": "boolean" },
                                "stage": { "type": "string", "enum": ["create", "probe", "done"] },
                                "error": { "type": "string" },
                                "error_name": { "type": "string" },
                                "schemas": { "type": "integer" },
                                "cleanup": { "type": "string" }
                            }
                        }
                    }
                },
                "Definition": {
                    "type": "object", "required": ["connector"], "additionalProperties": false,
                    "properties": {
                        "connector": { "type": "string" },
                        "properties": { "type": "object", "additionalProperties": { "type": "string" } }
                    }
                }
            }
        },
        "security": [ { "bearer": [] } ],
        "paths": {
            "/v1/catalogs/{name}/check": {
                "parameters": [ name ],
                "post": {
                    "summary": "Connection check: the engine creates the definition (the body, or the catalog's file when the body is empty) under a temporary name, its connector lists its schemas, and it is dropped",
                    "parameters": [ allow_leak ],
                    "requestBody": definition_body(false),
                    "responses": {
                        "200": json_check("The engine created it and the connector answered"),
                        "400": json_error("Not a valid name or body"),
                        "401": json_error("No token, or an unknown one"),
                        "403": json_error("A read-only token"),
                        "404": json_error("No body and no file for this catalog"),
                        "409": json_error("Not run: a leaky connector, or an engine that applies catalogs by restarting"),
                        "413": { "description": "The body is larger than a catalog file may be" },
                        "422": json_check("Invalid (file, line and reason), or the engine's refusal or the connector's failure"),
                        "502": json_error("The engine could not be reached")
                    }
                }
            },
            "/v1/catalogs": {
                "get": {
                    "summary": "Every catalog the agent knows, with its state",
                    "responses": {
                        "200": {
                            "description": "The catalogs",
                            "content": { "application/json": { "schema": {
                                "type": "object", "required": ["catalogs"],
                                "properties": { "catalogs": { "type": "array", "items": catalog } }
                            } } }
                        },
                        "401": json_error("No token, or an unknown one")
                    }
                }
            },
            "/v1/catalogs/{name}": {
                "parameters": [ name ],
                "get": {
                    "summary": "One catalog: its state and the file's definition (sensitive values masked)",
                    "responses": {
                        "200": json_catalog("The catalog"),
                        "400": json_error("Not a valid catalog name"),
                        "401": json_error("No token, or an unknown one"),
                        "404": json_error("No such catalog")
                    }
                },
                "put": {
                    "summary": "Write the catalog's file: properties text, or a JSON definition",
                    "parameters": [ wait, check, allow_leak ],
                    "requestBody": definition_body(true),
                    "responses": {
                        "200": json_catalog("Replaced (and, with wait, applied)"),
                        "201": json_catalog("Created (and, with wait, applied)"),
                        "202": json_catalog("Written; not applied within the wait"),
                        "400": json_error("Not a valid name, body or wait"),
                        "401": json_error("No token, or an unknown one"),
                        "403": json_error("A read-only token"),
                        "409": json_error("The folder cannot be written (a ConfigMap), or a check that is not run (a leaky connector, restart mode)"),
                        "413": { "description": "The body is larger than a catalog file may be" },
                        "422": json_error("Invalid (file, line and reason), refused by the engine (its own words), or a failed check"),
                        "502": json_error("The engine could not be reached for the check")
                    }
                },
                "delete": {
                    "summary": "Remove the catalog's file",
                    "parameters": [ wait ],
                    "responses": {
                        "200": json_catalog("Removed (and, with wait, dropped)"),
                        "202": json_catalog("Removed; not dropped within the wait"),
                        "400": json_error("Not a valid name or wait"),
                        "401": json_error("No token, or an unknown one"),
                        "403": json_error("A read-only token"),
                        "404": json_error("No file for this catalog"),
                        "409": json_error("The folder cannot be written (a ConfigMap)"),
                        "422": json_error("The engine refused the drop")
                    }
                }
            }
        }
    })
}
