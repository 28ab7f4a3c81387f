//! Restart mode on a cluster: before the coordinator, every worker is restarted, one at a time,
//! by the engine's own shutdown and its restart policy ([`crate::engine::cluster`]) — or through
//! its container where the agent has Docker ([`WorkerRestartMethod`]) —, and waited for until it
//! serves again with the folder's catalogs. A worker that already announces exactly
//! the folder's catalogs (restarted by an earlier pass, or started since the render) is left
//! alone, so a pass that stops half-way goes on where it stopped.

use super::{Agent, catalog_names};
use crate::catalog::Flavour;
use crate::engine::client::ServerInfo;
use crate::engine::cluster::{self, Node, NodeError, NodeLimits, WorkerRestartMethod};
use crate::engine::restart::{Drain, DrainTimeoutAction, RestartMethod, Restarter};
use crate::release;
use std::collections::BTreeSet;
use std::time::Duration;

/// How long the roll waits for enough other workers to be active before it gives up for this
/// pass (a worker restarted by someone else, or still joining).
const ENOUGH_WORKERS_WAIT: Duration = Duration::from_secs(60);

/// How long the roll waits for a worker's follower to hold the released catalogs: kubelet
/// updates a pod's ConfigMap volume within its sync period plus its cache's time to live (a
/// minute each by default), so one pod may see a change two minutes after another.
const FOLLOWER_WAIT: Duration = Duration::from_secs(180);

/// How a roll of the workers ended, when it did not end with every worker serving the folder.
pub(super) enum RollStop {
    /// A worker did not come back with the new catalogs: roll back. `since` (Unix seconds) is
    /// when its restart began; `container` is its container when Docker has it (for its log, and
    /// to start it again).
    Failed {
        node: Node,
        error: NodeError,
        since: i64,
        container: Option<Box<Restarter>>,
    },
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
        if self.view.flavour() != Flavour::Presto {
            return None;
        }
        self.target_catalogs().await.ok().map(|t| catalog_names(&t))
    }

    /// Restarts the workers that do not run the folder's catalogs, one at a time.
    /// Returns whether the cluster has workers.
    pub(super) async fn roll_workers(&mut self) -> Result<bool, RollStop> {
        let listed = match cluster::nodes(&self.client).await {
            Ok(listed) => listed,
            Err(e) => {
                // An engine without system.runtime.nodes (or a user who may not read it): the
                // coordinator is all the agent can restart.
                tracing::warn!(error = %e, "cannot list the cluster's nodes (system.runtime.nodes); restarting the coordinator only");
                return Ok(false);
            }
        };
        let workers = cluster::workers_to_roll(&listed);
        if workers.is_empty() {
            return Ok(listed.iter().any(|n| !n.coordinator));
        }
        let expected = self.expected_announcement().await;
        let limits = self.node_limits();
        let min = self.settings.restart.min_active_workers;
        let heartbeats = self.out.heartbeats.clone();
        let rendered_at_ms = self.book.ledger.restart.rendered_at_ms;
        for worker in workers {
            // The node's own word before it is asked to shut down: a coordinator never is here
            // (its restart is the last step). One the coordinator lists active but the agent
            // cannot reach (its address is internal to a network the agent is not on) stops the
            // roll with the reason, before anything restarts.
            let info = match self
                .client
                .for_node(&worker.uri)
                .info_within(Duration::from_secs(5))
                .await
            {
                Ok(info) if info.coordinator == Some(true) => {
                    tracing::warn!(node = %worker.id, uri = %worker.uri, "listed as a worker but says it is a coordinator; not restarted as a worker");
                    continue;
                }
                Ok(info) => info,
                Err(e) => {
                    return Err(RollStop::Waiting(format!(
                        "worker {} does not answer the agent at {}: {e}",
                        worker.id, worker.uri
                    )));
                }
            };
            // Without a shared volume, the worker's own folder must hold the released catalogs
            // first; when it last changed counts like the render.
            let mut written_at_ms = rendered_at_ms;
            if let Some(follower) = self.settings.restart.follower_port {
                let changed = self.wait_for_follower(&worker, follower).await?;
                written_at_ms = written_at_ms.max(changed);
            }
            // Done already when it started after the files were written (an earlier pass that
            // stopped half-way, or a start by someone else) and — where the engine says —
            // announces exactly the folder's catalogs. The names alone are not enough: after an
            // edit they stay the same while the definition changed.
            let started_after_render = written_at_ms
                .is_some_and(|written| started_after(&info, written, crate::clock::now_millis()));
            let announces = match &expected {
                Some(expected) => self
                    .client
                    .announced_catalogs()
                    .await
                    .is_ok_and(|announced| announced.get(&worker.id) == Some(expected)),
                None => true,
            };
            if started_after_render && announces {
                tracing::debug!(node = %worker.id, "the worker started after the render and runs the folder's catalogs");
                continue;
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
            let since = (crate::clock::now_millis() / 1000) as i64;
            let container = self.restart_worker(&worker, limits).await?;
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
                    self.out
                        .metrics
                        .count_restart(crate::metrics::RestartResult::Ok);
                    tracing::info!(action = "restart", node = %worker.id, outcome = "ok", duration_ms = started.elapsed().as_millis() as u64, "the worker serves again with the folder's catalogs");
                }
                Err(error) => {
                    return Err(RollStop::Failed {
                        node: worker,
                        error,
                        since,
                        container: container.map(Box::new),
                    });
                }
            }
        }
        Ok(true)
    }

    /// The worker's container, when workers go through Docker (see [`WorkerRestartMethod`]).
    async fn worker_container(&self, worker: &Node) -> Result<Option<Restarter>, RollStop> {
        let method = self.settings.restart.worker_method;
        let Some(restarter) = self.restarter.as_ref() else {
            return Ok(None);
        };
        let docker = match method {
            WorkerRestartMethod::EngineShutdown => return Ok(None),
            WorkerRestartMethod::Docker => true,
            WorkerRestartMethod::Auto => restarter.settings.method == RestartMethod::Docker,
        };
        if !docker {
            return Ok(None);
        }
        let explicit = method == WorkerRestartMethod::Docker;
        match restarter.container_at(&worker.uri).await {
            Ok(Some(name)) => Ok(Some(restarter.for_container(&name))),
            Ok(None) if explicit => Err(RollStop::Waiting(format!(
                "worker {} is not restarted: no container Docker runs has its address {} (--worker-restart-method docker finds a worker's container by its address on a Docker network)",
                worker.id, worker.uri
            ))),
            Err(e) if explicit => Err(RollStop::Waiting(format!(
                "worker {} is not restarted: {e}",
                worker.id
            ))),
            Ok(None) => {
                tracing::debug!(node = %worker.id, uri = %worker.uri, "no container Docker runs has the worker's address; it is restarted by the engine's shutdown");
                Ok(None)
            }
            Err(e) => {
                tracing::warn!(node = %worker.id, error = %e, "cannot look the worker's container up; it is restarted by the engine's shutdown");
                Ok(None)
            }
        }
    }

    /// Stops the worker so that it starts again with the folder's catalogs: the engine's own
    /// shutdown (its running tasks finish) and its restart policy — or, with its container, Docker
    /// where no restart policy starts it again or the engine refuses to shut down. Returns the
    /// container it went through.
    async fn restart_worker(
        &self,
        worker: &Node,
        limits: NodeLimits,
    ) -> Result<Option<Restarter>, RollStop> {
        let heartbeats = self.out.heartbeats.clone();
        let container = self.worker_container(worker).await?;
        let before = match &container {
            Some(c) => c.container_state().await.and_then(|s| s.started_at_ms),
            None => None,
        };
        let docker_failed = |e: crate::engine::restart::RestartError| {
            RollStop::Waiting(format!("worker {}: {e}", worker.id))
        };
        match cluster::shut_down(&self.client, worker, limits, || heartbeats.beat_reconcile()).await
        {
            Ok(()) => {
                if let Some(c) = &container {
                    c.start_after_exit(before, || heartbeats.beat_reconcile())
                        .await
                        .map_err(docker_failed)?;
                }
                Ok(container)
            }
            // The engine refuses (a Trino worker without system-information write): its
            // container, once no query runs — a restart through Docker cuts the worker's tasks.
            Err(NodeError::Refused { detail, .. }) if container.is_some() => {
                let c = container.as_ref().expect("checked");
                tracing::info!(node = %worker.id, container = %c.settings.container.as_deref().unwrap_or_default(), refusal = %detail, "the worker refused the engine's shutdown; restarting its container once no query runs");
                let coordinator = self
                    .restarter
                    .as_ref()
                    .expect("a container comes with a restarter");
                if let Drain::TimedOut { running } = coordinator
                    .drain(&self.client, || heartbeats.beat_reconcile())
                    .await
                {
                    if coordinator.settings.drain_timeout_action == DrainTimeoutAction::Skip {
                        return Err(RollStop::Waiting(format!(
                            "worker {} waits for a quiet moment: {running} queries were still running at the drain timeout",
                            worker.id
                        )));
                    }
                    tracing::warn!(running, node = %worker.id, "queries still running at the drain timeout; restarting the worker's container anyway");
                }
                c.docker_restart(true).await.map_err(docker_failed)?;
                Ok(container)
            }
            // Nothing changed on the node yet: no rollback. A worker that accepted the shutdown
            // but still runs waits for its tasks — PrestoDB 0.296 also for the task of a query
            // its client abandoned, until the coordinator cleans it up (measured: 4 minutes); it
            // takes no new work meanwhile.
            Err(e) => Err(RollStop::Waiting(match e {
                NodeError::DidNotStop { .. } => format!(
                    "{e}: it waits for tasks it still runs (PrestoDB keeps the tasks of abandoned queries for minutes); it takes no new work — restart its container or pod by hand if it stays"
                ),
                _ => e.to_string(),
            })),
        }
    }
}

impl Agent {
    /// Clusters without a shared volume: waits until the worker's follower (at the worker's own
    /// address) holds exactly what the target folder holds, so the worker's restart reads it.
    /// Returns when the follower last changed the worker's folder.
    async fn wait_for_follower(&self, worker: &Node, port: u16) -> Result<Option<u64>, RollStop> {
        let key = self
            .settings
            .restart
            .cluster_key
            .clone()
            .expect("--follower-port comes with a cluster key");
        let target = self.target_dir();
        let Some(url) = release::follower_url(&worker.uri, port) else {
            return Err(RollStop::Waiting(format!(
                "cannot make the follower's address from worker {}'s address {}",
                worker.id, worker.uri
            )));
        };
        let client = release::http_client(Duration::from_secs(5));
        let deadline = tokio::time::Instant::now() + FOLLOWER_WAIT;
        let mut logged = false;
        loop {
            self.out.heartbeats.beat_reconcile();
            let released = {
                let (target, key) = (target.clone(), key.clone());
                tokio::task::spawn_blocking(move || release::rendered_set(&target, &key))
                    .await
                    .unwrap_or_default()
            };
            let why = match release::fetch(&client, &url).await {
                Ok(held) if held.catalogs == released => return Ok(held.changed_at_ms),
                Ok(held) => {
                    let mut behind: Vec<String> = held
                        .waiting
                        .iter()
                        .map(|(name, why)| format!("{name}: {why}"))
                        .collect();
                    if behind.is_empty() {
                        behind.push("it does not hold the released catalogs yet".into());
                    }
                    behind.join("; ")
                }
                Err(e) => format!("its follower does not answer at {url}: {e}"),
            };
            if !logged {
                tracing::info!(node = %worker.id, reason = %why, "waiting for the worker's follower to hold the released catalogs before restarting the worker");
                logged = true;
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(RollStop::Waiting(format!(
                    "worker {} is not restarted: after {}, {why}",
                    worker.id,
                    humantime::format_duration(FOLLOWER_WAIT)
                )));
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
}

/// Whether the node that answered `info` at `now_ms` started after `rendered_ms`, counted so that
/// a doubt means "no": airlift prints uptime with two decimals of its unit, so the start may be
/// up to a hundredth of it earlier than it says.
pub(super) fn started_after(info: &ServerInfo, rendered_ms: u64, now_ms: u64) -> bool {
    let Some(uptime) = info.uptime_seconds() else {
        return false;
    };
    let margin = uptime / 100.0 + 0.05;
    now_ms as f64 - (uptime + margin) * 1000.0 > rendered_ms as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(uptime: &str) -> ServerInfo {
        serde_json::from_value(serde_json::json!({
            "nodeVersion": {"version": "0.296"},
            "coordinator": false,
            "uptime": uptime,
        }))
        .unwrap()
    }

    #[test]
    fn a_node_started_after_the_render_only_when_its_uptime_leaves_no_doubt() {
        let now = 1_000_000_000;
        // Up 10 s, rendered 5 s ago: started before (an edit keeps the names: it must restart).
        assert!(!started_after(&info("10.00s"), now - 5_000, now));
        // Up 10 s, rendered 12 s ago: after.
        assert!(started_after(&info("10.00s"), now - 12_000, now));
        // 1.00m may be up to 0.6 s longer: a render 60.3 s ago is in doubt, hence "no".
        assert!(!started_after(&info("1.00m"), now - 60_300, now));
        assert!(!started_after(&info("junk"), 0, now));
    }
}
