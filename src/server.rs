//! `/healthz`, `/readyz`, `/metrics`, `/status` on `--listen`. Reads only: everything it shows is
//! written by the reconcile loop.

use crate::clock::now_millis;
use crate::health::{Heartbeats, Readiness};
use crate::metrics::Metrics;
use crate::status::SharedStatus;
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

pub struct ServerState {
    pub status: SharedStatus,
    pub metrics: Arc<Metrics>,
    pub heartbeats: Arc<Heartbeats>,
    pub readiness: Arc<Readiness>,
    /// A loop that has not stamped its heartbeat for this long is considered dead.
    pub stale_after: Duration,
}

/// Connections served at once; more are closed as soon as accepted.
const MAX_CONNECTIONS: usize = 256;
/// A request's head must arrive within this, and an idle keep-alive connection is closed after it.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(5);
/// No connection lives longer: a scraper's keep-alive reconnects, a slow reader is dropped.
const CONNECTION_LIFETIME: Duration = Duration::from_secs(60);

/// Serves `router` on `listener` until `shutdown` turns true. Unlike a plain `axum::serve`, a
/// client cannot hold memory or connections for ever: the request head must arrive within
/// [`HEADER_READ_TIMEOUT`] (idle keep-alive connections included), every connection ends after
/// [`CONNECTION_LIFETIME`], and at most [`MAX_CONNECTIONS`] are open at once.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    use hyper_util::rt::{TokioIo, TokioTimer};
    let permits = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    let mut warned_full = false;
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of file descriptors, say: wait a moment rather than spin.
                    tracing::warn!(error = %e, "the HTTP server cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = stopped(&mut shutdown) => return,
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            if !warned_full {
                tracing::warn!(
                    limit = MAX_CONNECTIONS,
                    "too many HTTP connections; closing new ones until some end"
                );
                warned_full = true;
            }
            continue;
        };
        warned_full = false;
        let service = hyper_util::service::TowerToHyperService::new(router.clone());
        let mut stop = shutdown.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_READ_TIMEOUT)
                .serve_connection(TokioIo::new(stream), service);
            tokio::pin!(connection);
            tokio::select! {
                _ = connection.as_mut() => return,
                () = tokio::time::sleep(CONNECTION_LIFETIME) => {}
                () = stopped(&mut stop) => {}
            }
            // Finish the request in flight, then close.
            connection.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(HEADER_READ_TIMEOUT, connection).await;
        });
    }
}

async fn stopped(shutdown: &mut tokio::sync::watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}

pub fn router(state: Arc<ServerState>) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/status", get(status))
        .with_state(state)
}

fn json(code: StatusCode, value: serde_json::Value) -> Response {
    (
        code,
        [(header::CONTENT_TYPE, "application/json")],
        format!("{value}\n"),
    )
        .into_response()
}

async fn healthz(State(s): State<Arc<ServerState>>) -> Response {
    let now = now_millis();
    let stale = s.stale_after.as_millis() as u64;
    let age = |beat: u64| now.saturating_sub(beat);
    let watch_age = age(s.heartbeats.watch.load(Ordering::Relaxed));
    let reconcile_age = age(s.heartbeats.reconcile.load(Ordering::Relaxed));
    let mut problems = Vec::new();
    if watch_age > stale {
        problems.push(format!(
            "the watch loop has not run for {}s",
            watch_age / 1000
        ));
    }
    if reconcile_age > stale {
        problems.push(format!(
            "the reconcile loop has not run for {}s",
            reconcile_age / 1000
        ));
    }
    if problems.is_empty() {
        json(StatusCode::OK, serde_json::json!({"status": "ok"}))
    } else {
        json(
            StatusCode::SERVICE_UNAVAILABLE,
            serde_json::json!({"status": "unhealthy", "problems": problems}),
        )
    }
}

async fn readyz(State(s): State<Arc<ServerState>>) -> Response {
    if s.readiness.is_ready() {
        return json(StatusCode::OK, serde_json::json!({"status": "ready"}));
    }
    let status = s.status.lock().expect("status lock");
    let reason = match (&status.engine, &status.last_pass) {
        (Some(engine), _) if !engine.up => format!(
            "the coordinator is not reachable: {}",
            engine.error.as_deref().unwrap_or("unknown error")
        ),
        (_, None) => "no pass has completed yet".to_string(),
        (_, Some(pass)) => match &pass.error {
            Some(e) => e.clone(),
            None => "some catalogs are still waiting to be applied".to_string(),
        },
    };
    json(
        StatusCode::SERVICE_UNAVAILABLE,
        serde_json::json!({"status": "not ready", "reason": reason}),
    )
}

async fn metrics(State(s): State<Arc<ServerState>>) -> Response {
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        s.metrics.render(),
    )
        .into_response()
}

async fn status(State(s): State<Arc<ServerState>>) -> Response {
    // Written straight from the shared status under its lock: with thousands of catalogs a copy
    // of the map and a JSON tree of it cost several times the answer itself.
    let mut body =
        serde_json::to_vec(&*s.status.lock().expect("status lock")).expect("status serialises");
    body.push(b'\n');
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::now_millis;

    fn state(watch_age_ms: u64, reconcile_age_ms: u64) -> Arc<ServerState> {
        let heartbeats = Arc::new(Heartbeats::default());
        heartbeats
            .watch
            .store(now_millis() - watch_age_ms, Ordering::Relaxed);
        heartbeats
            .reconcile
            .store(now_millis() - reconcile_age_ms, Ordering::Relaxed);
        Arc::new(ServerState {
            status: SharedStatus::default(),
            metrics: Arc::new(Metrics::new()),
            heartbeats,
            readiness: Arc::new(Readiness::default()),
            stale_after: Duration::from_secs(180),
        })
    }

    #[tokio::test(flavor = "current_thread")]
    async fn healthz_fails_when_either_loop_stops_stamping() {
        assert_eq!(healthz(State(state(1_000, 1_000))).await.status(), 200);
        let dead_watch = healthz(State(state(181_000, 1_000))).await;
        assert_eq!(dead_watch.status(), 503);
        let dead_reconcile = healthz(State(state(1_000, 200_000))).await;
        assert_eq!(dead_reconcile.status(), 503);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn readyz_says_why_it_is_not_ready() {
        let s = state(0, 0);
        let resp = readyz(State(s.clone())).await;
        assert_eq!(resp.status(), 503);
        s.readiness.ready.store(true, Ordering::Relaxed);
        assert_eq!(readyz(State(s)).await.status(), 200);
    }
}
