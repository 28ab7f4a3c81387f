//! The client protocol's query lifecycle (facts §3): a POSTed statement waits QUEUED until the
//! client fetches its first `nextUri`, is then dispatched (parsed and run), and its results are
//! handed out over `executing` pages until a last page without `nextUri`.
//!
//! Paths and token rules follow trinodb/trino QueuedStatementResource.java: the statement is
//! submitted from the first GET of the queued URI (`waitForDispatched` → `submitIfNeeded`), a GET
//! may repeat the last token or ask for the next one (anything else is 410 GONE), an unknown query
//! or slug is 404 `Query not found`, and DELETE answers 204. PrestoDB puts the slug in a query
//! parameter: `/v1/statement/queued/{id}/{token}?slug=…` (prestodb QueuedStatementResource.java).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use serde_json::{Map, Value, json};

use crate::engine::{self, Column, Outcome};
use crate::error_codes::{self as codes, ErrorCode, QueryFailure};
use crate::server::Emulator;
use crate::sql;
use crate::{Engine, clock};

/// `io.trino.execution.QueryState`, as far as the emulator moves through it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryState {
    Queued,
    Running,
    Finished,
    Failed,
}

impl QueryState {
    pub fn name(self) -> &'static str {
        match self {
            QueryState::Queued => "QUEUED",
            QueryState::Running => "RUNNING",
            QueryState::Finished => "FINISHED",
            QueryState::Failed => "FAILED",
        }
    }

    pub fn is_done(self) -> bool {
        matches!(self, QueryState::Finished | QueryState::Failed)
    }
}

/// Every QueryState name, for validating `/v1/query?state=` (QueryState.java).
pub const QUERY_STATE_NAMES: &[&str] = &[
    "QUEUED",
    "WAITING_FOR_RESOURCES",
    "DISPATCHING",
    "PLANNING",
    "STARTING",
    "RUNNING",
    "FINISHING",
    "FINISHED",
    "FAILED",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageKind {
    Queued,
    Executing,
}

impl PageKind {
    fn path(self) -> &'static str {
        match self {
            PageKind::Queued => "queued",
            PageKind::Executing => "executing",
        }
    }
}

pub struct Query {
    pub id: String,
    pub user: String,
    pub sql: String,
    pub source: Option<String>,
    pub created: SystemTime,
    created_at: Instant,
    slug_secret: u64,
    inner: Mutex<Inner>,
    /// Wakes long-polling page requests when the query ends, as Trino's futures do.
    ended_signal: tokio::sync::Notify,
}

struct Inner {
    state: QueryState,
    dispatched: bool,
    outcome: Option<Result<Outcome, QueryFailure>>,
    update_type: Option<&'static str>,
    rows_delivered: bool,
    last_page: Option<(PageKind, u64, Value)>,
    next_page: (PageKind, u64),
    ended: Option<Instant>,
}

/// A protocol request the query cannot answer with a page.
pub enum PageError {
    /// 404 `Query not found` (text/plain).
    NotFound,
    /// 410 GONE: a token that is neither the last nor the next one.
    Gone,
}

impl Query {
    pub fn new(
        id: String,
        user: String,
        sql: String,
        source: Option<String>,
        slug_secret: u64,
    ) -> Query {
        Query {
            id,
            user,
            sql,
            source,
            created: SystemTime::now(),
            created_at: Instant::now(),
            slug_secret,
            inner: Mutex::new(Inner {
                state: QueryState::Queued,
                dispatched: false,
                outcome: None,
                update_type: None,
                rows_delivered: false,
                last_page: None,
                next_page: (PageKind::Queued, 1),
                ended: None,
            }),
            ended_signal: tokio::sync::Notify::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn state(&self) -> QueryState {
        self.lock().state
    }

    pub fn is_running(&self) -> bool {
        let inner = self.lock();
        inner.dispatched && !inner.state.is_done()
    }

    /// Trino's Slug makes a different token-bound value per context; NOT IN FACTS: its format
    /// (here a letter for the context and 16 hex digits of a keyed hash).
    pub fn slug(&self, kind: PageKind, token: u64) -> String {
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325 ^ self.slug_secret;
        for byte in self
            .id
            .bytes()
            .chain([kind as u8])
            .chain(token.to_le_bytes())
        {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        let prefix = if kind == PageKind::Queued { 'y' } else { 'z' };
        format!("{prefix}{hash:016x}")
    }

    pub fn uri(&self, emulator: &Emulator, base: &str, kind: PageKind, token: u64) -> String {
        let slug = self.slug(kind, token);
        match emulator.settings.engine {
            Engine::Trino => format!(
                "{base}/v1/statement/{}/{}/{slug}/{token}",
                kind.path(),
                self.id
            ),
            Engine::Presto => format!(
                "{base}/v1/statement/{}/{}/{token}?slug={slug}",
                kind.path(),
                self.id
            ),
        }
    }

    /// The first QueryResults, answered to the POST: QUEUED, nothing dispatched yet.
    pub fn initial_page(&self, emulator: &Emulator, base: &str) -> Value {
        let inner = self.lock();
        let mut page = self.results(
            emulator,
            base,
            &inner,
            Some(self.uri(emulator, base, PageKind::Queued, 1)),
            None,
            None,
            None,
        );
        if emulator.settings.engine == Engine::Presto {
            // Recorded on PrestoDB 0.296: a new query waits for its prerequisites first.
            page["stats"]["state"] = json!("WAITING_FOR_PREREQUISITES");
        }
        page
    }

    /// GET on a `nextUri`.
    pub async fn page(
        self: &Arc<Self>,
        emulator: &Arc<Emulator>,
        base: &str,
        kind: PageKind,
        slug: &str,
        token: u64,
    ) -> Result<Value, PageError> {
        if slug != self.slug(kind, token) {
            return Err(PageError::NotFound);
        }
        {
            let inner = self.lock();
            if let Some((k, t, page)) = &inner.last_page
                && *k == kind
                && *t == token
            {
                return Ok(page.clone());
            }
            if inner.next_page != (kind, token) {
                return Err(PageError::Gone);
            }
        }
        let page = match kind {
            PageKind::Queued => self.queued_page(emulator, base),
            PageKind::Executing => self.executing_page(emulator, base, token).await,
        };
        let mut inner = self.lock();
        inner.last_page = Some((kind, token, page.clone()));
        Ok(page)
    }

    fn queued_page(self: &Arc<Self>, emulator: &Arc<Emulator>, base: &str) -> Value {
        let mut inner = self.lock();
        if !inner.dispatched && !inner.state.is_done() {
            inner.dispatched = true;
            // Dispatch: the statement is parsed now; a syntax error fails the query right here,
            // on the queued page (DispatchManager creates a failed query). While the server
            // starts, the session's access check fails first (SERVER_STARTING_UP, recorded).
            let parsed = if emulator.starting() {
                Err(emulator.starting_failure())
            } else {
                sql::parse(&self.sql, emulator.dialect()).map_err(|error| QueryFailure {
                    code: codes::SYNTAX_ERROR,
                    message: error.to_string(),
                    location: Some(error.pos),
                })
            };
            match parsed {
                Err(failure) => {
                    drop(inner);
                    self.finish(emulator, Err(failure));
                    inner = self.lock();
                }
                Ok(statement) => {
                    inner.update_type = statement.update_type();
                    let query = Arc::clone(self);
                    let emulator = Arc::clone(emulator);
                    tokio::spawn(async move { query.run(&emulator, statement).await });
                }
            }
        }
        if let Some(Err(failure)) = &inner.outcome {
            let failure = failure.clone();
            inner.next_page = (PageKind::Queued, u64::MAX);
            return self.results(emulator, base, &inner, None, None, None, Some(&failure));
        }
        // Dispatched: redirect to the executing resource (state stays QUEUED on this page).
        inner.next_page = (PageKind::Executing, 0);
        let next = self.uri(emulator, base, PageKind::Executing, 0);
        let mut page = self.results(emulator, base, &inner, Some(next), None, None, None);
        page["stats"]["state"] = json!("QUEUED");
        page
    }

    async fn executing_page(
        self: &Arc<Self>,
        emulator: &Arc<Emulator>,
        base: &str,
        token: u64,
    ) -> Value {
        // Long-poll like Trino's default maxWait of 1s: answer as soon as the query is done.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(1);
        loop {
            let ended = self.ended_signal.notified();
            if self.lock().outcome.is_some() {
                break;
            }
            if tokio::time::timeout_at(deadline, ended).await.is_err() {
                break;
            }
        }
        let mut inner = self.lock();
        let next = self.uri(emulator, base, PageKind::Executing, token + 1);
        match inner.outcome.clone() {
            None => {
                inner.next_page = (PageKind::Executing, token + 1);
                self.results(emulator, base, &inner, Some(next), None, None, None)
            }
            Some(Err(failure)) => {
                inner.next_page = (PageKind::Executing, u64::MAX);
                self.results(emulator, base, &inner, None, None, None, Some(&failure))
            }
            Some(Ok(outcome)) => {
                if !inner.rows_delivered && !outcome.rows.is_empty() {
                    inner.rows_delivered = true;
                    inner.next_page = (PageKind::Executing, token + 1);
                    self.results(
                        emulator,
                        base,
                        &inner,
                        Some(next),
                        Some(&outcome.columns),
                        Some(&outcome.rows),
                        None,
                    )
                } else {
                    inner.rows_delivered = true;
                    inner.next_page = (PageKind::Executing, u64::MAX);
                    self.results(
                        emulator,
                        base,
                        &inner,
                        None,
                        Some(&outcome.columns),
                        None,
                        None,
                    )
                }
            }
        }
    }

    /// Runs a dispatched statement: `--statement-latency`, the statement itself, and for table
    /// reads `--query-latency` before the rows.
    async fn run(self: Arc<Self>, emulator: &Arc<Emulator>, statement: sql::Statement) {
        self.lock().state = QueryState::Running;
        // A zero sleep would still wait for tokio's next millisecond tick.
        if !emulator.settings.statement_latency.is_zero() {
            tokio::time::sleep(emulator.settings.statement_latency).await;
        }
        if self.state().is_done() {
            return; // canceled while waiting
        }
        let result = {
            let mut catalogs = emulator.catalogs.lock().unwrap_or_else(|e| e.into_inner());
            engine::execute(
                &statement,
                &mut catalogs,
                emulator.engine_options(),
                &emulator.rng,
            )
        };
        if matches!(&result, Ok(outcome) if outcome.reads_table)
            && !emulator.settings.query_latency.is_zero()
        {
            tokio::time::sleep(emulator.settings.query_latency).await;
        }
        self.finish(emulator, result);
    }

    /// Moves the query to its end state once, and records it.
    fn finish(&self, emulator: &Emulator, result: Result<Outcome, QueryFailure>) {
        let mut inner = self.lock();
        if inner.state.is_done() {
            return;
        }
        let (state, outcome, error_name) = match &result {
            Ok(_) => (QueryState::Finished, "FINISHED", None),
            Err(failure) if failure.code == codes::USER_CANCELED => {
                (QueryState::Failed, "USER_CANCELED", Some(failure.code.name))
            }
            Err(failure) => (QueryState::Failed, "FAILED", Some(failure.code.name)),
        };
        inner.state = state;
        inner.outcome = Some(result);
        inner.ended = Some(Instant::now());
        drop(inner);
        if let Some(recorder) = &emulator.recorder {
            recorder.record(
                Some(&self.id),
                Some(&self.user),
                &self.sql,
                outcome,
                error_name,
            );
        }
        self.ended_signal.notify_waiters();
    }

    /// DELETE on `nextUri` or `/v1/query/{id}`.
    pub fn cancel(&self, emulator: &Emulator) {
        // NOT IN FACTS: the message of a canceled query.
        self.cancel_with(
            emulator,
            QueryFailure::new(codes::USER_CANCELED, "Query was canceled"),
        );
    }

    /// Ends the query with `failure` unless it already ended.
    pub fn cancel_with(&self, emulator: &Emulator, failure: QueryFailure) {
        self.finish(emulator, Err(failure));
    }

    #[allow(clippy::too_many_arguments)]
    fn results(
        &self,
        emulator: &Emulator,
        base: &str,
        inner: &Inner,
        next_uri: Option<String>,
        columns: Option<&[Column]>,
        rows: Option<&[Vec<Value>]>,
        error: Option<&QueryFailure>,
    ) -> Value {
        let mut page = Map::new();
        page.insert("id".into(), json!(self.id));
        page.insert(
            "infoUri".into(),
            json!(format!("{base}/ui/query.html?{}", self.id)),
        );
        if let Some(next) = next_uri {
            page.insert("nextUri".into(), json!(next));
        }
        if let Some(columns) = columns {
            page.insert("columns".into(), json!(columns));
        }
        if let Some(rows) = rows {
            page.insert("data".into(), json!(rows));
        }
        page.insert("stats".into(), self.stats(inner));
        if let Some(error) = error {
            page.insert("error".into(), error_json(error, emulator.settings.engine));
        }
        page.insert("warnings".into(), json!([]));
        if let Some(update_type) = inner.update_type {
            page.insert("updateType".into(), json!(update_type));
        }
        Value::Object(page)
    }

    fn elapsed(&self, inner: &Inner) -> Duration {
        inner
            .ended
            .unwrap_or_else(Instant::now)
            .duration_since(self.created_at)
    }

    /// StatementStats (client/trino-client StatementStats.java). NOT IN FACTS: the values; only
    /// `state`, `queued`, `scheduled` and the elapsed times move, splits and bytes stay 0.
    fn stats(&self, inner: &Inner) -> Value {
        let elapsed = self.elapsed(inner).as_millis() as u64;
        let running = inner.state == QueryState::Running;
        let rows = match &inner.outcome {
            Some(Ok(outcome)) if outcome.reads_table => outcome.rows.len(),
            _ => 0,
        };
        json!({
            "state": inner.state.name(),
            "queued": inner.state == QueryState::Queued,
            "scheduled": inner.dispatched && inner.state != QueryState::Queued,
            "nodes": if inner.dispatched { 1 } else { 0 },
            "totalSplits": 0,
            "queuedSplits": 0,
            "runningSplits": 0,
            "completedSplits": 0,
            "cpuTimeMillis": 0,
            "wallTimeMillis": if running || inner.state.is_done() { elapsed } else { 0 },
            "queuedTimeMillis": 0,
            "elapsedTimeMillis": elapsed,
            "processedRows": rows,
            "processedBytes": 0,
            "physicalInputBytes": 0,
            "peakMemoryBytes": 0,
            "spilledBytes": 0,
        })
    }

    /// BasicQueryInfo for `/v1/query` (server/BasicQueryInfo.java; facts §4).
    pub fn basic_info(&self, emulator: &Emulator, base: &str) -> Value {
        let inner = self.lock();
        let (error_type, error_code) = match &inner.outcome {
            Some(Err(failure)) => (json!(failure.code.kind), error_code_json(failure.code)),
            _ => (Value::Null, Value::Null),
        };
        let elapsed = clock::airlift_duration(self.elapsed(&inner));
        json!({
            "queryId": self.id,
            "session": {
                "queryId": self.id,
                "user": self.user,
                "source": self.source,
                "catalog": null,
                "schema": null,
                "systemProperties": {},
            },
            "resourceGroupId": ["global"],
            "state": inner.state.name(),
            "scheduled": inner.dispatched,
            "self": format!("{base}/v1/query/{}", self.id),
            "query": self.sql,
            "updateType": inner.update_type,
            "preparedQuery": null,
            "queryStats": {
                "createTime": clock::rfc3339(self.created),
                "elapsedTime": elapsed,
                "queuedTime": "0.00ns",
            },
            "errorType": error_type,
            "errorCode": error_code,
            "queryType": query_type(&self.sql, emulator),
        })
    }
}

fn query_type(sql: &str, emulator: &Emulator) -> Value {
    match sql::parse(sql, emulator.dialect()) {
        Ok(sql::Statement::CreateCatalog { .. } | sql::Statement::DropCatalog { .. }) => {
            json!("DATA_DEFINITION")
        }
        Ok(sql::Statement::ShowCatalogs { .. } | sql::Statement::ShowSchemas { .. }) => {
            json!("DESCRIBE")
        }
        Ok(sql::Statement::Select(_)) => json!("SELECT"),
        Err(_) => Value::Null,
    }
}

fn error_code_json(code: ErrorCode) -> Value {
    json!({"code": code.code, "name": code.name, "type": code.kind})
}

/// QueryError (client/trino-client QueryError.java; facts §3). NOT IN FACTS: the PrestoDB flavour
/// reports the same numeric codes as Trino's StandardErrorCode.
pub fn error_json(failure: &QueryFailure, engine: Engine) -> Value {
    // NOT IN FACTS: the Java exception class a failure reports in failureInfo.type.
    let exception = match (engine, failure.code.name) {
        (Engine::Trino, "SYNTAX_ERROR") => "io.trino.sql.parser.ParsingException",
        (Engine::Presto, "SYNTAX_ERROR") => "com.facebook.presto.sql.parser.ParsingException",
        (Engine::Trino, "GENERIC_INTERNAL_ERROR") => "java.lang.IllegalArgumentException",
        (Engine::Presto, "GENERIC_INTERNAL_ERROR") => "java.lang.IllegalArgumentException",
        (Engine::Trino, _) => "io.trino.spi.TrinoException",
        (Engine::Presto, _) => "com.facebook.presto.spi.PrestoException",
    };
    let mut error = json!({
        "message": failure.message,
        "errorCode": failure.code.code,
        "errorName": failure.code.name,
        "errorType": failure.code.kind,
        "failureInfo": {"type": exception, "message": failure.message, "suppressed": [], "stack": []},
    });
    if engine == Engine::Presto {
        // Recorded on PrestoDB 0.296: its QueryError has `retriable`.
        error["retriable"] = json!(false);
    }
    if let Some((line, column)) = failure.location {
        let location = json!({"lineNumber": line, "columnNumber": column});
        error["errorLocation"] = location.clone();
        error["failureInfo"]["errorLocation"] = location;
    }
    error
}
