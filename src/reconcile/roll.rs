//! Rolling the nodes in restart mode: on a cluster, every worker first, one at a time,
//! by the engine's own shutdown and its restart policy — or through its container where the agent
//! has Docker ([`crate::engine::nodes::WorkerRestartMethod`]) —, and waited for until it serves
//! again with the folder's catalogs ([`crate::engine::nodes`]). A worker that already announces
//! exactly the folder's catalogs (restarted by an earlier pass, or started since the render) is
//! left alone, so a pass that stops half-way goes on where it stopped. Then the coordinator:
//! drained (where its restart would cut queries), restarted, waited for and verified.

use super::pass::{Applied, PassError, Prepared, catalog_names};
use super::stage::Restart;
use crate::catalog::Flavour;
use crate::engine::client::ServerInfo;
use crate::engine::nodes::RestartMethod;
use crate::engine::nodes::drain::AfterDrain;
use crate::engine::nodes::method::Method;
use crate::engine::nodes::{self, Node, NodeError};
use crate::release;
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

/// A drain that timed out with `--drain-timeout-action skip` is tried again after this long (each
/// try waits up to the drain timeout for the queries to finish).
const SKIPPED_DRAIN_RETRY: Duration = Duration::from_secs(2);
/// A roll of the workers that could not go on (too few active workers, a refusal) is tried
/// again after this long.
const WORKERS_RETRY: Duration = Duration::from_secs(10);

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
    /// when its restart began; `method` is how it was restarted (through its container, that
    /// container has its log, and starts it again).
    Failed {
        node: Node,
        method: Method,
        error: NodeError,
        since: i64,
    },
    /// The roll cannot go on now (too few active workers, a refusal); nothing is rolled back,
    /// the next pass tries again.
    Waiting(String),
}

impl Restart<'_> {
    /// Restarts the nodes so they load the folder: a cluster's workers first, then the
    /// coordinator; waits for it and verifies, or rolls back. `serving` says whether the
    /// coordinator answered before; `waiting` are the catalogs the restart is for.
    pub async fn roll_nodes(
        &mut self,
        prepared: &Prepared,
        serving: bool,
        waiting: &BTreeSet<String>,
        outcome: &mut Applied,
    ) -> Result<(), PassError> {
        // 4. A cluster's workers first, one at a time; each drains itself (the engine's shutdown
        // waits for its tasks) and is back serving before the next goes.
        let mut has_workers = false;
        if serving {
            match self.roll_workers().await {
                Ok(workers) => has_workers = workers,
                Err(RollStop::Waiting(why)) => {
                    tracing::warn!(reason = %why, "the workers' restart cannot go on now; trying again later");
                    for name in waiting {
                        outcome.pending.insert(
                            name.clone(),
                            format!("waiting for the workers' restart: {why}"),
                        );
                    }
                    outcome.retry_in = Some(WORKERS_RETRY);
                    return Ok(());
                }
                Err(RollStop::Failed {
                    node,
                    method,
                    error,
                    since,
                }) => {
                    self.view.restarting(Instant::now());
                    self.roll_back(
                        prepared,
                        since,
                        error,
                        waiting,
                        outcome,
                        Some((&node, &method)),
                    )
                    .await?;
                    return Ok(());
                }
            }
        }

        // 5. Drain — unless the engine's own shutdown does: it waits for the tasks running on
        // the coordinator itself, which are a lone coordinator's queries. With workers, the
        // queries' tasks run there, and a coordinator's shutdown cuts them when its grace period
        // ends (PrestoDB's GracefulShutdownHandler; measured: 20 queries cut a restart). A SIGTERM
        // does not wait for queries either.
        let restarter = self.restarter.as_ref().expect("checked above");
        let heartbeats = self.out.heartbeats.clone();
        if serving
            && (has_workers
                || matches!(
                    restarter.settings.method,
                    RestartMethod::Docker | RestartMethod::Signal
                ))
            && let AfterDrain::WaitForQuiet { running } = restarter
                .drain_or_wait(
                    self.client,
                    &Node::coordinator(self.client.server()),
                    || heartbeats.beat_reconcile(),
                )
                .await
        {
            for name in waiting {
                outcome.pending.insert(
                    name.clone(),
                    format!("waiting for a quiet moment: {running} queries were still running at the drain timeout"),
                );
            }
            outcome.retry_in = Some(SKIPPED_DRAIN_RETRY);
            return Ok(());
        }

        // 6. Restart, wait, verify.
        let started = Instant::now();
        tracing::info!(container = restarter.settings.container.as_deref().unwrap_or("(none)"), method = ?restarter.settings.method, changed = ?waiting, "restarting the coordinator");
        let since = match restarter
            .restart(
                self.client,
                self.view.flavour() == Flavour::Presto,
                serving,
                || heartbeats.beat_reconcile(),
            )
            .await
        {
            Ok(since) => since,
            Err(e) => {
                // Docker is down or refuses: the files stay rendered and the restart is retried
                // with backoff; the catalogs say what they wait for.
                self.out
                    .metrics
                    .count_restart(crate::metrics::RestartResult::Failed);
                self.out
                    .metrics
                    .observe_apply("restart", false, started.elapsed().as_secs_f64());
                tracing::warn!(action = "restart", outcome = "error", error = %e, "cannot restart the coordinator");
                for name in waiting {
                    outcome.pending.insert(
                        name.clone(),
                        format!("waiting for the coordinator restart, which failed: {e}"),
                    );
                }
                outcome.error = Some(e.to_string());
                return Ok(());
            }
        };
        self.view.restarting(Instant::now());
        let ready = restarter
            .wait_serving(self.client, || heartbeats.beat_reconcile())
            .await;
        match ready {
            Ok(info) => {
                let seconds = started.elapsed().as_secs_f64();
                self.verify_after_restart(&info, waiting, outcome).await;
                self.out
                    .metrics
                    .count_restart(crate::metrics::RestartResult::Ok);
                self.out.metrics.observe_apply("restart", true, seconds);
                tracing::info!(action = "restart", outcome = "ok", duration_ms = (seconds * 1000.0) as u64, changed = ?waiting, "the coordinator restarted with the new catalogs");
            }
            Err(not_ready) => {
                self.roll_back(prepared, since, not_ready, waiting, outcome, None)
                    .await?;
                self.out
                    .metrics
                    .observe_apply("restart", false, started.elapsed().as_secs_f64());
            }
        }
        Ok(())
    }

    /// The catalogs every node must announce after a start, when the engine says (PrestoDB).
    pub async fn expected_announcement(&self) -> Option<BTreeSet<String>> {
        if self.view.flavour() != Flavour::Presto {
            return None;
        }
        self.target_catalogs().await.ok().map(|t| catalog_names(&t))
    }

    /// Restarts the workers that do not run the folder's catalogs, one at a time.
    /// Returns whether the cluster has workers.
    async fn roll_workers(&mut self) -> Result<bool, RollStop> {
        let listed = match nodes::nodes(self.client).await {
            Ok(listed) => listed,
            Err(e) => {
                // An engine without system.runtime.nodes (or a user who may not read it): the
                // coordinator is all the agent can restart.
                tracing::warn!(error = %e, "cannot list the cluster's nodes (system.runtime.nodes); restarting the coordinator only");
                return Ok(false);
            }
        };
        let workers = nodes::workers_to_roll(&listed);
        if workers.is_empty() {
            return Ok(listed.iter().any(|n| !n.is_coordinator()));
        }
        let expected = self.expected_announcement().await;
        let min = self.settings.restart.min_active_workers;
        let heartbeats = self.out.heartbeats.clone();
        let rendered_at_ms = self.book.ledger.restart.rendered_at_ms;
        for worker in workers {
            // The node's own word before it is asked to shut down: a coordinator never is here
            // (its restart is the last step). One the coordinator lists active but the agent
            // cannot reach (its address is internal to a network the agent is not on) stops the
            // roll with the reason, before anything restarts.
            // The uptime is true as of this reading, not of a moment after waiting for the
            // worker's follower (up to minutes): taken later, the start would look later too.
            let read_at_ms = crate::clock::now_millis();
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
            let started_after_render =
                written_at_ms.is_some_and(|written| started_after(&info, written, read_at_ms));
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
                let now = nodes::nodes(self.client).await.unwrap_or_default();
                let others = nodes::active_workers_besides(&now, &worker.id);
                if others >= min {
                    break;
                }
                if tokio::time::Instant::now() >= deadline {
                    return Err(RollStop::Waiting(format!(
                        "restarting worker {} would leave {others} other active workers, fewer than --min-active-workers {min}{}",
                        worker.id,
                        if min > 0 && now.iter().filter(|n| !n.is_coordinator()).count() <= min {
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
            let method = self.restart_worker(&worker).await?;
            match self
                .restarter
                .as_ref()
                .expect("restart mode has a restarter")
                .wait_worker_serving(self.client, &worker, expected.as_ref(), true, || {
                    heartbeats.beat_reconcile()
                })
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
                        method,
                        error,
                        since,
                    });
                }
            }
        }
        Ok(true)
    }

    /// Stops the worker so that it starts again with the folder's catalogs, by its method (see
    /// [`crate::engine::nodes::WorkerRestartMethod`]): the engine's own shutdown (its running
    /// tasks finish) and its restart policy — or, with its container, Docker where no restart
    /// policy starts it again or the engine refuses to shut down. Returns the method it went by.
    async fn restart_worker(&self, worker: &Node) -> Result<Method, RollStop> {
        let heartbeats = self.out.heartbeats.clone();
        let restarter = self
            .restarter
            .as_ref()
            .expect("restart mode has a restarter");
        let method = restarter
            .worker_method(worker, self.settings.restart.worker_method)
            .await
            .map_err(|e| {
                RollStop::Waiting(format!("worker {} is not restarted: {e}", worker.id))
            })?;
        match restarter
            .restart_worker(self.client, worker, &method, || heartbeats.beat_reconcile())
            .await
        {
            Ok(()) => Ok(method),
            // Nothing changed on the node yet: no rollback. A worker that accepted the shutdown
            // but still runs waits for its tasks — PrestoDB 0.296 also for the task of a query
            // its client abandoned, until the coordinator cleans it up (measured: 4 minutes); it
            // takes no new work meanwhile.
            Err(e) => Err(RollStop::Waiting(match e {
                NodeError::DidNotStop { .. } => format!(
                    "{e}: it waits for tasks it still runs (PrestoDB keeps the tasks of abandoned queries for minutes); it takes no new work — restart its container or pod by hand if it stays"
                ),
                e if e.is_docker() => format!("worker {}: {e}", worker.id),
                _ => e.to_string(),
            })),
        }
    }

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
/// a doubt means "no" (see [`ServerInfo::start_window`]).
pub(super) fn started_after(info: &ServerInfo, rendered_ms: u64, now_ms: u64) -> bool {
    info.start_window(now_ms)
        .is_some_and(|start| start.after(rendered_ms))
}
