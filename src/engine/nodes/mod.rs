//! Restarting a node in restart mode: the coordinator, or a worker of a cluster. PrestoDB, and
//! Trino with static catalogs, read `etc/catalog` once, at start, on every node: a catalog change is
//! done when every node has restarted with it.
//!
//! This module holds the vocabulary: the nodes the coordinator lists ([`Node`], [`nodes`], which
//! workers a roll restarts), the flags and settings of a restart, and the one error type
//! ([`NodeError`]). Its children do the work:
//!
//! * [`method`] — how a node is restarted: one type per method ([`docker::Container`],
//!   [`shutdown::EngineShutdown`], [`signal::Signal`]) behind [`method::Method`], resolved once
//!   per node by [`method::Restarter`], which also holds the coordinator's;
//! * [`docker`] — a node's container through the Docker API, and finding a worker's by its address;
//! * [`shutdown`] — the engine's own shutdown and the wait until the node is gone;
//! * [`signal`] — SIGTERM/SIGKILL to the coordinator's process through a shared PID namespace;
//! * [`drain`] — running queries before a restart, and whether the restart waits for a quiet moment;
//! * [`serving`] — the one wait until a restarted node serves again, with its crash detection.
//!
//! The children import this module; it never imports them (no import circle).

pub mod docker;
pub mod drain;
pub mod method;
pub mod serving;
pub mod shutdown;
pub mod signal;

use super::client::{Client, EngineError};
use std::time::Duration;

/// How the coordinator is restarted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RestartMethod {
    /// `docker` when --container is given, `engine-shutdown` otherwise
    Auto,
    /// Restart the coordinator's container through the Docker API (DOCKER_HOST)
    Docker,
    /// PUT /v1/info/state SHUTTING_DOWN; the restart policy of the container or pod starts it
    /// again (PrestoDB; no socket, no API of the platform)
    EngineShutdown,
    /// SIGTERM to the coordinator's server process, seen through a PID namespace shared with it
    /// (Kubernetes shareProcessNamespace, compose `pid: service:…`); its restart policy starts it
    /// again (a static Trino coordinator, which refuses the engine's shutdown; no socket)
    Signal,
}

/// How workers are restarted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum WorkerRestartMethod {
    /// `docker` when the coordinator is restarted through Docker and a worker's container is
    /// found there, `engine-shutdown` otherwise
    #[default]
    Auto,
    /// PUT /v1/info/state SHUTTING_DOWN on the worker; its restart policy starts it again
    EngineShutdown,
    /// The worker's container, found by the worker's address among the containers Docker runs:
    /// the engine's shutdown first where it accepts it (running tasks finish), the container
    /// started again when no restart policy does; `docker restart` after the drain where the
    /// engine refuses (a Trino worker without system-information write). Its log names the
    /// catalog of a failed start
    Docker,
}

/// What to do when running queries do not finish within the drain timeout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DrainTimeoutAction {
    /// Restart anyway (the running queries fail).
    Restart,
    /// Do not restart now; try again at the next quiet moment.
    Skip,
}

#[derive(Debug, Clone)]
pub struct RestartSettings {
    /// The coordinator's container: restarted by the Docker method, watched (state, log) by the
    /// engine-shutdown method when given.
    pub container: Option<String>,
    /// Docker or EngineShutdown (Auto is resolved by the configuration).
    pub method: RestartMethod,
    pub drain_timeout: Duration,
    pub drain_timeout_action: DrainTimeoutAction,
    /// PrestoDB only: ask the coordinator to shut down gracefully (`PUT /v1/info/state`).
    pub graceful_shutdown: bool,
    /// How long the coordinator may take to answer `starting: false` after a restart.
    pub start_timeout: Duration,
    /// Seconds Docker waits after SIGTERM before SIGKILL.
    pub stop_timeout: Duration,
}

impl RestartSettings {
    /// The limits of one node's restart, the coordinator's or a worker's.
    pub fn limits(&self) -> NodeLimits {
        NodeLimits {
            // The node's grace period and its running tasks: bounded like the coordinator's drain.
            stop_timeout: self.drain_timeout + Duration::from_secs(180),
            start_timeout: self.start_timeout,
        }
    }
}

/// Limits of one node's restart.
#[derive(Debug, Clone, Copy)]
pub struct NodeLimits {
    /// From the shutdown request until the node has stopped (its grace period, its running
    /// tasks, and a margin).
    pub stop_timeout: Duration,
    /// From the node's stop until it is back and serving.
    pub start_timeout: Duration,
}

/// What a node is to the cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Coordinator,
    Worker,
}

/// A node as the coordinator lists it in `system.runtime.nodes` — or the coordinator the agent is
/// configured with ([`Node::coordinator`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub id: String,
    pub uri: String,
    pub role: Role,
    /// `active`, `inactive`, `shutting_down`.
    pub state: String,
}

impl Node {
    /// The coordinator the agent talks to, at `server` (`--server`).
    pub fn coordinator(server: &str) -> Node {
        Node {
            id: "coordinator".into(),
            uri: server.to_string(),
            role: Role::Coordinator,
            state: "active".into(),
        }
    }

    pub fn is_coordinator(&self) -> bool {
        self.role == Role::Coordinator
    }
}

/// `client` (the coordinator's) speaking to `node` itself: the coordinator through the agent's
/// own client, a worker at its address. `slot` keeps a worker's client alive.
fn direct<'a>(client: &'a Client, node: &Node, slot: &'a mut Option<Client>) -> &'a Client {
    match node.role {
        Role::Coordinator => client,
        Role::Worker => slot.insert(client.for_node(&node.uri)),
    }
}

/// The nodes the coordinator knows now.
pub async fn nodes(client: &Client) -> Result<Vec<Node>, EngineError> {
    let out = client
        .execute("SELECT node_id, http_uri, coordinator, state FROM system.runtime.nodes")
        .await?;
    let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_string();
    Ok(out
        .rows
        .iter()
        .filter(|r| r.len() >= 4)
        .map(|r| Node {
            id: text(&r[0]),
            uri: text(&r[1]),
            role: if r[2].as_bool().unwrap_or(false) {
                Role::Coordinator
            } else {
                Role::Worker
            },
            state: text(&r[3]),
        })
        .collect())
}

/// The workers a roll restarts, in node-id order: active ones only, and never a node that shares
/// its id or address with a coordinator. PrestoDB 0.296 flags a node `coordinator` only while it
/// is an *active* coordinator: right after a coordinator restart, its previous entry stays listed
/// for a while as `inactive` or `shutting_down` with `coordinator = false` — at the coordinator's
/// own address. Taken for a worker, it would be the coordinator that gets shut down. A worker that
/// is not active is not running its catalogs anyway: its next start reads the folder as rendered.
pub fn workers_to_roll(listed: &[Node]) -> Vec<Node> {
    let coordinators: Vec<&Node> = listed.iter().filter(|n| n.is_coordinator()).collect();
    let mut workers: Vec<Node> = listed
        .iter()
        .filter(|n| !n.is_coordinator() && n.state == "active")
        .filter(|n| {
            !coordinators
                .iter()
                .any(|c| c.id == n.id || same_address(&c.uri, &n.uri))
        })
        .cloned()
        .collect();
    workers.sort_by(|a, b| a.id.cmp(&b.id));
    workers.dedup_by(|a, b| a.id == b.id);
    workers
}

fn same_address(a: &str, b: &str) -> bool {
    let key = |u: &str| u.trim_end_matches('/').to_ascii_lowercase();
    key(a) == key(b)
}

/// Active workers other than `except`, as the coordinator lists them.
pub fn active_workers_besides(listed: &[Node], except: &str) -> usize {
    listed
        .iter()
        .filter(|n| !n.is_coordinator() && n.id != except && n.state == "active")
        .count()
}

/// Why a node's restart did not end with the node back and serving.
#[derive(Debug, Clone, thiserror::Error)]
pub enum NodeError {
    /// Docker does not answer (down, or its socket not mounted): goes away by itself.
    #[error("cannot reach the Docker daemon ({host}): {detail}")]
    DockerUnreachable { host: String, detail: String },
    #[error("there is no container named '{0}' (check --container)")]
    NoSuchContainer(String),
    #[error("the Docker daemon refused to restart '{container}': {detail}")]
    DockerRefused { container: String, detail: String },
    /// `--worker-restart-method docker`, and no container has the worker's address.
    #[error(
        "no container Docker runs has its address {uri} (--worker-restart-method docker finds a worker's container by its address on a Docker network)"
    )]
    NoContainerAt { uri: String },
    /// The coordinator refused its engine's shutdown or a signal, or did not stop after either.
    /// (The text is the one these refusals have always had, Docker named or not.)
    #[error("the Docker daemon refused to restart 'coordinator': {detail}")]
    CoordinatorRefused { detail: String },
    /// A worker refused its engine's shutdown.
    #[error("node {node} refused to shut down: {detail}")]
    Refused { node: String, detail: String },
    #[error("node {node} did not stop within {}", humantime::format_duration(*.within))]
    DidNotStop { node: String, within: Duration },
    /// A worker's restart through its container waits: queries still ran at the drain timeout
    /// and `--drain-timeout-action skip` says not to cut them.
    #[error(
        "worker {node} waits for a quiet moment: {running} queries were still running at the drain timeout"
    )]
    WaitsForQuiet { node: String, running: usize },
    /// The coordinator did not come back; `exit_code` is its container's, when Docker says.
    #[error("{reason}")]
    NotReady {
        reason: String,
        exit_code: Option<i64>,
    },
    /// A worker did not come back.
    #[error("node {node} did not come back: {reason}")]
    NotBack { node: String, reason: String },
}

impl NodeError {
    /// Failures that go away by themselves (Docker down): retried with backoff.
    pub fn is_transient(&self) -> bool {
        matches!(self, NodeError::DockerUnreachable { .. })
    }

    /// Docker could not be asked, or refused.
    pub fn is_docker(&self) -> bool {
        matches!(
            self,
            NodeError::DockerUnreachable { .. }
                | NodeError::NoSuchContainer(_)
                | NodeError::DockerRefused { .. }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(id: &str, coordinator: bool, state: &str) -> Node {
        Node {
            id: id.into(),
            uri: format!("http://{id}:8080"),
            role: if coordinator {
                Role::Coordinator
            } else {
                Role::Worker
            },
            state: state.into(),
        }
    }

    #[test]
    fn only_other_active_workers_count() {
        let listed = [
            node("c", true, "active"),
            node("w1", false, "active"),
            node("w2", false, "active"),
            node("w3", false, "shutting_down"),
        ];
        assert_eq!(active_workers_besides(&listed, "w1"), 1);
        assert_eq!(active_workers_besides(&listed, "w3"), 2);
        assert_eq!(active_workers_besides(&listed, "c"), 2);
    }

    #[test]
    fn a_restarted_coordinators_old_entry_is_never_a_worker() {
        // PrestoDB right after a single coordinator restarted: the new process active, its
        // previous entry inactive — flagged coordinator = false, at the same address.
        let mut old = node("c-old", false, "inactive");
        old.uri = "http://c:8080".into();
        let mut new = node("c-new", true, "active");
        new.uri = "http://c:8080/".into();
        assert!(workers_to_roll(&[new.clone(), old.clone()]).is_empty());
        // Same id, shutting down (a stable node.id): not a worker either.
        let mut leaving = node("c", false, "shutting_down");
        leaving.uri = "http://10.0.0.9:8080".into();
        assert!(workers_to_roll(&[node("c", true, "active"), leaving]).is_empty());
        // Even were it listed active: an entry at a coordinator's address is the coordinator.
        old.state = "active".into();
        assert!(workers_to_roll(&[new, old]).is_empty());
    }

    #[test]
    fn workers_are_rolled_active_and_in_id_order() {
        let listed = [
            node("w2", false, "active"),
            node("c", true, "active"),
            node("w3", false, "inactive"),
            node("w1", false, "active"),
            node("w4", false, "shutting_down"),
            node("w1", false, "active"),
        ];
        let ids: Vec<String> = workers_to_roll(&listed).into_iter().map(|n| n.id).collect();
        assert_eq!(ids, ["w1", "w2"]);
    }

    #[test]
    fn only_an_unreachable_docker_daemon_is_transient() {
        let unreachable = NodeError::DockerUnreachable {
            host: "unix:///nonexistent/docker.sock".into(),
            detail: "no such file".into(),
        };
        assert!(unreachable.is_transient() && unreachable.is_docker());
        assert!(!NodeError::NoSuchContainer("c".into()).is_transient());
        let refused = NodeError::Refused {
            node: "w1".into(),
            detail: "403".into(),
        };
        assert!(!refused.is_transient() && !refused.is_docker());
    }
}
