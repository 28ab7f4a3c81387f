//! The catalog API (`--api`): portals and scripts read and change catalogs over HTTP, and the
//! folder stays the one source of truth. A PUT is validated exactly like a file and written into
//! the folder atomically; the watch and the reconcile loop then apply it as they apply any file.
//! `?wait=` answers once the agent has applied (or failed) that very definition.
//!
//! Access: bearer tokens from `--api-token-file`, each read-write or read-only; without a token
//! file the API answers on a loopback address only. Every change is one audit line (who — the
//! token's name —, what, the outcome); values are never logged or returned unmasked.
//!
//! [`auth`] reads the token file and says who a request comes from; `openapi.json` describes the
//! API (served at `/v1/openapi.json`).

// Helpers return the refusing `Response` itself as their error: one per request, moved once, so
// its size (what clippy's result_large_err is about) costs nothing that matters.
#![allow(clippy::result_large_err)]

mod auth;

use auth::Refusal;
pub use auth::{Access, Token, TokenFileError, TokenLine, load_tokens};

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
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    auth::who(state.tokens.as_deref(), given, write).map_err(|refusal| match refusal {
        Refusal::NoToken => {
            let mut refused = problem(
                StatusCode::UNAUTHORIZED,
                "a bearer token is required (Authorization: Bearer TOKEN)",
            );
            refused
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, "Bearer".parse().expect("header"));
            refused
        }
        Refusal::Unknown => problem(StatusCode::UNAUTHORIZED, "unknown token"),
        Refusal::ReadOnly(name) => problem(
            StatusCode::FORBIDDEN,
            format!("the token '{name}' may read only"),
        ),
    })
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

/// The OpenAPI 3 description of the catalog API (`openapi.json`, with this build's version).
pub fn openapi_document() -> Value {
    let mut document: Value = serde_json::from_str(include_str!("openapi.json"))
        .expect("openapi.json is JSON (a unit test reads it)");
    document["info"]["version"] = Value::String(env!("CARGO_PKG_VERSION").to_string());
    document
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_openapi_document_is_json_with_this_builds_version_and_every_route() {
        let document = super::openapi_document();
        assert_eq!(document["openapi"], "3.0.3");
        assert_eq!(document["info"]["version"], env!("CARGO_PKG_VERSION"));
        for path in [
            "/v1/catalogs",
            "/v1/catalogs/{name}",
            "/v1/catalogs/{name}/check",
        ] {
            assert!(document["paths"][path].is_object(), "{path}");
        }
    }
}
