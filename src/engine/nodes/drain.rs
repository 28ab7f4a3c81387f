//! Running queries before a restart: the drain waits until the coordinator has none, up to
//! `--drain-timeout`; then `--drain-timeout-action` says whether the restart goes ahead (the
//! queries fail) or waits for a quiet moment. The coordinator is asked whichever node restarts:
//! it knows every query of the cluster.

use super::docker::Container;
use super::{DrainTimeoutAction, Node, Role};
use crate::engine::client::{Client, EngineError};
use std::time::Duration;
use tokio::time::{Instant, sleep};

/// How the drain ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Drain {
    /// No query was queued or running.
    Quiet { waited: Duration },
    /// Queries were still running at the timeout.
    TimedOut { running: usize },
}

/// What a restart does after the drain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterDrain {
    /// Go ahead: no query runs, or the action at the timeout is to restart anyway.
    Restart,
    /// Not now: `running` queries still ran at the timeout, and the action is to skip.
    WaitForQuiet { running: usize },
}

/// Waits until the coordinator has no unfinished query (`GET /v1/query`; PrestoDB's
/// `/v1/cluster` if that is refused), up to `timeout`. `container` is the coordinator's, when
/// Docker has it.
pub async fn drain(
    client: &Client,
    container: Option<&Container>,
    timeout: Duration,
    mut beat: impl FnMut(),
) -> Drain {
    let started = Instant::now();
    let deadline = started + timeout;
    let mut logged = false;
    loop {
        beat();
        let running = match client.unfinished_queries().await {
            Ok(queries) => queries.len(),
            // Nothing runs on a coordinator whose container is down. A slow or reset request
            // to one that runs says nothing about its queries: ask again.
            Err(EngineError::Unreachable { .. }) => {
                let state = match container {
                    Some(container) => container.state().await,
                    None => None,
                };
                match state {
                    Some(state) if !state.running => 0,
                    _ if Instant::now() >= deadline => {
                        return Drain::TimedOut { running: 0 };
                    }
                    _ => {
                        sleep(Duration::from_millis(250)).await;
                        continue;
                    }
                }
            }
            Err(e) => match cluster_running(client).await {
                Some(n) => n,
                None => {
                    tracing::warn!(error = %e, "cannot see the coordinator's running queries (GET /v1/query, /v1/cluster); restarting without draining");
                    0
                }
            },
        };
        if running == 0 {
            return Drain::Quiet {
                waited: started.elapsed(),
            };
        }
        if Instant::now() >= deadline {
            return Drain::TimedOut { running };
        }
        if !logged {
            tracing::info!(
                running,
                drain_timeout = %humantime::format_duration(timeout),
                "waiting for running queries to finish before restarting the coordinator"
            );
            logged = true;
        }
        sleep(Duration::from_millis(250)).await;
    }
}

/// Drains before `node` restarts, and decides with `action` what the restart does when queries
/// still run at the timeout. Says in the log what it decided.
pub async fn drain_or_wait(
    client: &Client,
    container: Option<&Container>,
    timeout: Duration,
    action: DrainTimeoutAction,
    node: &Node,
    beat: impl FnMut(),
) -> AfterDrain {
    match drain(client, container, timeout, beat).await {
        Drain::Quiet { waited } => {
            if node.role == Role::Coordinator && !waited.is_zero() {
                tracing::info!(
                    waited_ms = waited.as_millis() as u64,
                    "running queries finished"
                );
            }
            AfterDrain::Restart
        }
        Drain::TimedOut { running } => match (action, node.role) {
            (DrainTimeoutAction::Skip, Role::Coordinator) => {
                tracing::info!(
                    running,
                    "queries still running at the drain timeout; the restart waits for a quiet moment"
                );
                AfterDrain::WaitForQuiet { running }
            }
            // The roll of the workers says why it stops.
            (DrainTimeoutAction::Skip, Role::Worker) => AfterDrain::WaitForQuiet { running },
            (DrainTimeoutAction::Restart, Role::Coordinator) => {
                tracing::warn!(
                    running,
                    "queries still running at the drain timeout; restarting anyway"
                );
                AfterDrain::Restart
            }
            (DrainTimeoutAction::Restart, Role::Worker) => {
                tracing::warn!(running, node = %node.id, "queries still running at the drain timeout; restarting the worker's container anyway");
                AfterDrain::Restart
            }
        },
    }
}

/// PrestoDB's `/v1/cluster`: running + queued + blocked queries of the whole cluster.
pub async fn cluster_running(client: &Client) -> Option<usize> {
    let stats = client.cluster_stats().await.ok()?;
    let n = |k: &str| {
        stats
            .get(k)
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(0)
    };
    Some((n("runningQueries") + n("queuedQueries") + n("blockedQueries")) as usize)
}
