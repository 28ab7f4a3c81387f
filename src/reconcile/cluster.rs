//! Restart mode on a cluster: before the coordinator, every worker is restarted, one at a time,
//! by the engine's own shutdown and its restart policy ([`crate::engine::cluster`]), and waited
//! for until it serves again with the folder's catalogs. A worker that already announces exactly
//! the folder's catalogs (restarted by an earlier pass, or started since the render) is left
//! alone, so a pass that stops half-way goes on where it stopped.

use super::{Agent, catalog_names};
use crate::catalog::Flavour;
use crate::engine::cluster::{self, Node, NodeError, NodeLimits};
use std::collections::BTreeSet;
use std::time::Duration;

/// How long the roll waits for enough other workers to be active before it gives up for this
/// pass (a worker restarted by someone else, or still joining).
const ENOUGH_WORKERS_WAIT: Duration = Duration::from_secs(60);

/// How a roll of the workers ended, when it did not end with every worker serving the folder.
pub(super) enum RollStop {
    /// A worker did not come back with the new catalogs: roll back.
    Failed { node: Node, error: NodeError },
    /// The roll cannot go on now (too few active workers, a refusal); nothing is rolled back,
    /// the next pass tries again.
    Waiting(String),
}

impl Agent {
    /// The limits of one node's restart.
    pub(super) fn node_limits(&self) -> NodeLimits {
        let coordinator = self
            .settings
            .restart
            .coordinator
            .as_ref()
            .expect("restart mode has restart settings");
        NodeLimits {
            // The node's grace period and its running tasks: bounded like the coordinator's drain.
            stop_timeout: coordinator.drain_timeout + Duration::from_secs(180),
            start_timeout: coordinator.start_timeout,
        }
    }

    /// The catalogs every node must announce after a start, when the engine says (PrestoDB).
    pub(super) async fn expected_announcement(&self) -> Option<BTreeSet<String>> {
        if self.flavour != Flavour::Presto {
            return None;
        }
        self.target_catalogs().await.ok().map(|t| catalog_names(&t))
    }

    /// Restarts the workers that do not run the folder's catalogs, one at a time.
    /// Returns how many were restarted.
    pub(super) async fn roll_workers(&mut self) -> Result<usize, RollStop> {
        let listed = match cluster::nodes(&self.client).await {
            Ok(listed) => listed,
            Err(e) => {
                // An engine without system.runtime.nodes (or a user who may not read it): the
                // coordinator is all the agent can restart.
                tracing::warn!(error = %e, "cannot list the cluster's nodes (system.runtime.nodes); restarting the coordinator only");
                return Ok(0);
            }
        };
        let workers = cluster::workers_to_roll(&listed);
        if workers.is_empty() {
            return Ok(0);
        }
        let expected = self.expected_announcement().await;
        let limits = self.node_limits();
        let min = self.settings.restart.min_active_workers;
        let heartbeats = self.heartbeats.clone();
        let mut restarted = 0;
        for worker in workers {
            if let Some(expected) = &expected
                && let Ok(announced) = self.client.announced_catalogs().await
                && announced.get(&worker.id) == Some(expected)
            {
                tracing::debug!(node = %worker.id, "the worker already runs the folder's catalogs");
                continue;
            }
            // The node's own word before it is asked to shut down: a coordinator never is here
            // (its restart is the last step). One the coordinator lists active but the agent
            // cannot reach (its address is internal to a network the agent is not on) stops the
            // roll with the reason, before anything restarts.
            match self
                .client
                .for_node(&worker.uri)
                .info_within(Duration::from_secs(5))
                .await
            {
                Ok(info) if info.coordinator == Some(true) => {
                    tracing::warn!(node = %worker.id, uri = %worker.uri, "listed as a worker but says it is a coordinator; not restarted as a worker");
                    continue;
                }
                Ok(_) => {}
                Err(e) => {
                    return Err(RollStop::Waiting(format!(
                        "worker {} does not answer the agent at {}: {e}",
                        worker.id, worker.uri
                    )));
                }
            }
            // Never below --min-active-workers: wait a while for the others to be active.
            let deadline = tokio::time::Instant::now() + ENOUGH_WORKERS_WAIT;
            loop {
                heartbeats.beat_reconcile();
                let now = cluster::nodes(&self.client).await.unwrap_or_default();
                let others = cluster::active_workers_besides(&now, &worker.id);
                if others >= min {
                    break;
                }
                if tokio::time::Instant::now() >= deadline {
                    return Err(RollStop::Waiting(format!(
                        "restarting worker {} would leave {others} other active workers, fewer than --min-active-workers {min}{}",
                        worker.id,
                        if min > 0 && now.iter().filter(|n| !n.coordinator).count() <= min {
                            " (the cluster has no more workers than that: lower --min-active-workers to restart them at all)"
                        } else {
                            ""
                        }
                    )));
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            let started = std::time::Instant::now();
            match cluster::shut_down(&self.client, &worker, limits, || {
                heartbeats.beat_reconcile()
            })
            .await
            {
                Ok(()) => {}
                // Nothing changed on the node yet: no rollback. A worker that accepted the
                // shutdown but still runs waits for its tasks — PrestoDB 0.296 also for the task of
                // a query its client abandoned, until the coordinator cleans it up (measured: 4
                // minutes); it takes no new work meanwhile.
                Err(e) => {
                    return Err(RollStop::Waiting(match e {
                        NodeError::DidNotStop { .. } => format!(
                            "{e}: it waits for tasks it still runs (PrestoDB keeps the tasks of abandoned queries for minutes); it takes no new work — restart its container or pod by hand if it stays"
                        ),
                        _ => e.to_string(),
                    }));
                }
            }
            match cluster::wait_back(
                &self.client,
                &worker,
                expected.as_ref(),
                limits,
                true,
                || heartbeats.beat_reconcile(),
            )
            .await
            {
                Ok(_) => {
                    restarted += 1;
                    self.metrics.count_restart("ok");
                    tracing::info!(action = "restart", node = %worker.id, outcome = "ok", duration_ms = started.elapsed().as_millis() as u64, "the worker serves again with the folder's catalogs");
                }
                Err(error) => {
                    return Err(RollStop::Failed {
                        node: worker,
                        error,
                    });
                }
            }
        }
        Ok(restarted)
    }
}
