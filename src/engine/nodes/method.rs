//! How a node is restarted: one type per method behind [`Method`], resolved once per node — the
//! coordinator's from `--restart-method` ([`Restarter::new`]), a worker's from
//! `--worker-restart-method` ([`Restarter::worker_method`]) — and [`Restarter`], restart mode's
//! hold on the cluster: the settings, the coordinator's method and its container.
//!
//! A new restart method is a variant of [`Method`] with its type in a module of its own, and an
//! arm in `Restarter::restart_node`.

use super::docker::{Container, ContainerState};
use super::drain::{self, AfterDrain};
use super::serving::{self, Listed, Started};
use super::shutdown::EngineShutdown;
use super::signal::Signal;
use super::{
    Node, NodeError, NodeLimits, RestartMethod, RestartSettings, Role, WorkerRestartMethod,
};
use crate::engine::client::{Client, ServerInfo};
use std::collections::BTreeSet;

/// How one node is restarted.
#[derive(Debug, Clone)]
pub enum Method {
    /// Through its container and the Docker API.
    Docker(Container),
    /// The engine's own shutdown; the restart policy of its container or pod starts it again.
    EngineShutdown(EngineShutdown),
    /// A signal to its server process through a shared PID namespace; its restart policy starts
    /// it again (the coordinator only).
    Signal(Signal),
}

impl Method {
    /// The node's container, when the method goes through Docker.
    pub fn container(&self) -> Option<&Container> {
        match self {
            Method::Docker(container) => Some(container),
            Method::EngineShutdown(_) | Method::Signal(_) => None,
        }
    }
}

/// Restart mode's hold on the nodes: its settings, and the coordinator's method and container.
pub struct Restarter {
    pub settings: RestartSettings,
    /// The coordinator's method.
    coordinator: Method,
    /// The coordinator's container (`--container`): restarted by the Docker method, watched
    /// (its state, its starts, its log) by the others.
    container: Option<Container>,
}

impl Restarter {
    /// Nothing is connected yet: a Docker daemon that is down (or a socket not mounted) is an
    /// error of a restart, reported and retried, not a reason for the agent not to start.
    pub fn new(settings: RestartSettings) -> Self {
        let container = settings
            .container
            .as_deref()
            .map(|name| Container::new(name, &settings));
        let coordinator = match settings.method {
            RestartMethod::EngineShutdown => {
                Method::EngineShutdown(EngineShutdown::new(settings.limits().stop_timeout))
            }
            RestartMethod::Signal => Method::Signal(Signal::new(settings.stop_timeout)),
            // Auto is resolved by the configuration; without a container, Docker says that none
            // is given.
            RestartMethod::Auto | RestartMethod::Docker => Method::Docker(
                container
                    .clone()
                    .unwrap_or_else(|| Container::new("", &settings)),
            ),
        };
        Restarter {
            settings,
            coordinator,
            container,
        }
    }

    /// The coordinator's container, when `--container` names it.
    pub fn container(&self) -> Option<&Container> {
        self.container.as_ref()
    }

    /// The coordinator's container's state: whether it runs, and when it last started. `None`
    /// without a container, or when Docker cannot be asked.
    pub async fn container_state(&self) -> Option<ContainerState> {
        self.container.as_ref()?.state().await
    }

    /// The coordinator's log since `since` (Unix seconds), its last `lines` lines; empty without
    /// its container.
    pub async fn log_since(&self, since: i64, lines: usize) -> String {
        match &self.container {
            Some(container) => container.log_since(since, lines).await,
            None => String::new(),
        }
    }

    pub fn limits(&self) -> NodeLimits {
        self.settings.limits()
    }

    /// Drains the coordinator before `node`'s restart: what the restart does then (see
    /// [`drain::drain_or_wait`]).
    pub async fn drain_or_wait(
        &self,
        client: &Client,
        node: &Node,
        beat: impl FnMut(),
    ) -> AfterDrain {
        drain::drain_or_wait(
            client,
            self.container(),
            self.settings.drain_timeout,
            self.settings.drain_timeout_action,
            node,
            beat,
        )
        .await
    }

    /// How `worker` is restarted (see [`WorkerRestartMethod`]): through its container when
    /// workers go through Docker and one has its address, the engine's shutdown otherwise. With
    /// `docker` asked for explicitly, a worker without a container is an error.
    pub async fn worker_method(
        &self,
        worker: &Node,
        choice: WorkerRestartMethod,
    ) -> Result<Method, NodeError> {
        let by_shutdown =
            || Method::EngineShutdown(EngineShutdown::new(self.limits().stop_timeout));
        let docker = match choice {
            WorkerRestartMethod::EngineShutdown => false,
            WorkerRestartMethod::Docker => true,
            WorkerRestartMethod::Auto => self.settings.method == RestartMethod::Docker,
        };
        if !docker {
            return Ok(by_shutdown());
        }
        let explicit = choice == WorkerRestartMethod::Docker;
        match Container::find_at(&worker.uri, &self.settings).await {
            Ok(Some(container)) => Ok(Method::Docker(container)),
            Ok(None) if explicit => Err(NodeError::NoContainerAt {
                uri: worker.uri.clone(),
            }),
            Err(e) if explicit => Err(e),
            Ok(None) => {
                tracing::debug!(node = %worker.id, uri = %worker.uri, "no container Docker runs has the worker's address; it is restarted by the engine's shutdown");
                Ok(by_shutdown())
            }
            Err(e) => {
                tracing::warn!(node = %worker.id, error = %e, "cannot look the worker's container up; it is restarted by the engine's shutdown");
                Ok(by_shutdown())
            }
        }
    }

    /// Restarts the coordinator by its method. Returns the Unix time just before, for log
    /// excerpts. `serving` says whether it answers now: one that does not has nothing to drain
    /// or finish, and is stopped at once.
    pub async fn restart(
        &self,
        client: &Client,
        presto: bool,
        serving: bool,
        beat: impl FnMut(),
    ) -> Result<i64, NodeError> {
        let since = crate::clock::now_secs() as i64;
        let coordinator = Node::coordinator(client.server());
        self.restart_node(
            client,
            &coordinator,
            &self.coordinator,
            presto,
            serving,
            beat,
        )
        .await?;
        Ok(since)
    }

    /// Stops `worker` so that it starts again with the folder's catalogs, by `method` (from
    /// [`Restarter::worker_method`]).
    pub async fn restart_worker(
        &self,
        client: &Client,
        worker: &Node,
        method: &Method,
        beat: impl FnMut(),
    ) -> Result<(), NodeError> {
        self.restart_node(client, worker, method, false, true, beat)
            .await
    }

    /// The one place that goes from a method to what it does, for either role.
    async fn restart_node(
        &self,
        client: &Client,
        node: &Node,
        method: &Method,
        presto: bool,
        serving: bool,
        mut beat: impl FnMut(),
    ) -> Result<(), NodeError> {
        match (method, node.role) {
            (Method::EngineShutdown(shutdown), _) => {
                shutdown.restart(client, node, serving, beat).await
            }
            (Method::Signal(signal), _) => signal.restart(serving, beat).await,
            (Method::Docker(container), Role::Coordinator) => {
                // Docker must answer before the engine is asked to stop: nothing else would
                // start it.
                container.reachable().await?;
                if self.settings.graceful_shutdown && presto && serving {
                    let before = container.state().await.and_then(|s| s.started_at_ms);
                    match client.request_shutdown().await {
                        Ok(()) => return container.start_after_exit(before, beat).await,
                        Err(e) => tracing::warn!(
                            error = %e,
                            "the coordinator refused a graceful shutdown; restarting its container instead"
                        ),
                    }
                }
                container.restart(serving).await
            }
            // The engine's shutdown first (its running tasks finish), the container started
            // again where no restart policy does; where the engine refuses (a Trino worker
            // without system-information write), `docker restart` once no query runs — it cuts
            // the worker's tasks.
            (Method::Docker(container), Role::Worker) => {
                let before = container.state().await.and_then(|s| s.started_at_ms);
                let shutdown = EngineShutdown::new(self.limits().stop_timeout);
                match shutdown.shut_down(client, node, &mut beat).await {
                    Ok(()) => container.start_after_exit(before, beat).await,
                    Err(NodeError::Refused { detail, .. }) => {
                        tracing::info!(node = %node.id, container = %container.name(), refusal = %detail, "the worker refused the engine's shutdown; restarting its container once no query runs");
                        if let AfterDrain::WaitForQuiet { running } =
                            self.drain_or_wait(client, node, &mut beat).await
                        {
                            return Err(NodeError::WaitsForQuiet {
                                node: node.id.clone(),
                                running,
                            });
                        }
                        container.restart(true).await
                    }
                    Err(e) => Err(e),
                }
            }
        }
    }

    /// Waits until the coordinator serves again (`/v1/info` says `starting: false`), watching its
    /// container when Docker has it: if it exits or keeps restarting, it is not coming up.
    pub async fn wait_serving(
        &self,
        client: &Client,
        beat: impl FnMut(),
    ) -> Result<ServerInfo, NodeError> {
        let coordinator = Node::coordinator(client.server());
        serving::wait_serving(
            client,
            &coordinator,
            Started,
            true,
            self.container(),
            self.settings.start_timeout,
            beat,
        )
        .await
    }

    /// Waits until a restarted worker serves again with `catalogs` where the engine says (see
    /// [`Listed`]); with `crash_fails`, a start that fails ends the wait (see
    /// [`serving::wait_serving`]).
    pub async fn wait_worker_serving(
        &self,
        client: &Client,
        worker: &Node,
        catalogs: Option<&BTreeSet<String>>,
        crash_fails: bool,
        beat: impl FnMut(),
    ) -> Result<(), NodeError> {
        serving::wait_serving(
            client,
            worker,
            Listed(catalogs),
            crash_fails,
            None,
            self.limits().start_timeout,
            beat,
        )
        .await
    }
}
