//! The nodes of a cluster, and the restart of one node by the engine's own shutdown.
//!
//! PrestoDB, and Trino with static catalogs, read `etc/catalog` once, at start, on every node: a
//! catalog change is done when every node has restarted with it. A worker is restarted without
//! any socket or API of the platform: `PUT /v1/info/state "SHUTTING_DOWN"` makes it stop taking
//! work, wait its `shutdown.grace-period` and its running tasks, and exit 0; the container's or
//! pod's restart policy (`restart: unless-stopped`, `restartPolicy: Always`) starts it again in
//! place, with the same volumes and so with the new files.
//!
//! Measured on PrestoDB 0.296 (coordinator and two workers, `shutdown.grace-period=5s`, two
//! loaded cores): the worker shows `shutting_down` in `system.runtime.nodes` after ~10 s and
//! closes its port ~1.5 s later; restarted by `restart: unless-stopped`, it answers
//! `/v1/info/state` `ACTIVE` 45 s later, announces its new catalogs (discovery `connectorIds`)
//! 4 s after that, and is listed `active` by the coordinator 11 s after that.

use super::client::{Client, EngineError};
use std::collections::BTreeSet;
use std::time::Duration;
use tokio::time::{Instant, sleep};

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

/// A node as the coordinator lists it in `system.runtime.nodes`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub id: String,
    pub uri: String,
    pub coordinator: bool,
    /// `active`, `inactive`, `shutting_down`.
    pub state: String,
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
            coordinator: r[2].as_bool().unwrap_or(false),
            state: text(&r[3]),
        })
        .collect())
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

/// Why a node's restart did not end with the node back.
#[derive(Debug, Clone, thiserror::Error)]
pub enum NodeError {
    #[error("node {node} refused to shut down: {detail}")]
    Refused { node: String, detail: String },
    #[error("node {node} did not stop within {}", humantime::format_duration(*.within))]
    DidNotStop { node: String, within: Duration },
    #[error("node {node} did not come back: {reason}")]
    NotBack { node: String, reason: String },
}

/// How often a node is asked how it is, and how long each request may take: a request to an
/// address whose process is gone can hang for a while.
const POLL_EVERY: Duration = Duration::from_millis(250);
const POLL_TIMEOUT: Duration = Duration::from_secs(1);
/// A starting node that answered and then closed its port for this long has failed its start.
/// (PrestoDB 0.296 answers `ACTIVE` before it loads its catalogs; a worker with a catalog it
/// cannot load answered `ACTIVE` for ~3 s, then exited, and its restart policy started it again.)
const PORT_CLOSED_GRACE: Duration = Duration::from_secs(3);

/// Asks a node to shut down and waits until its process is gone. The caller then waits for it
/// with [`wait_back`].
pub async fn shut_down(
    coordinator: &Client,
    node: &Node,
    limits: NodeLimits,
    mut beat: impl FnMut(),
) -> Result<(), NodeError> {
    let direct = coordinator.for_node(&node.uri);
    direct
        .request_shutdown()
        .await
        .map_err(|e| NodeError::Refused {
            node: node.id.clone(),
            detail: refusal(&e),
        })?;
    tracing::info!(node = %node.id, uri = %node.uri, "asked the node to shut down (PUT /v1/info/state SHUTTING_DOWN)");
    let deadline = Instant::now() + limits.stop_timeout;
    loop {
        beat();
        match direct.node_state(POLL_TIMEOUT).await {
            // A refused or reset connection: the process is gone.
            Err(EngineError::Unreachable {
                timed_out: false, ..
            }) => return Ok(()),
            // Already back (a restart faster than a poll), not shutting down any more.
            Ok(state) if state == "INACTIVE" => return Ok(()),
            _ => {}
        }
        if Instant::now() >= deadline {
            return Err(NodeError::DidNotStop {
                node: node.id.clone(),
                within: limits.stop_timeout,
            });
        }
        sleep(POLL_EVERY).await;
    }
}

/// What the engine says to a shutdown request, with the fix where it is known.
fn refusal(e: &EngineError) -> String {
    match e {
        EngineError::Auth { status: 403, .. } => format!(
            "{e} — Trino lets a user shut a worker down only with system-information write access (access control), and never its coordinator"
        ),
        EngineError::Http { status: 500, body } if body.contains("coordinator") => format!(
            "{e} — Trino does not shut its coordinator down on request; restart it with --restart-method docker (its container) or signal (a shared PID namespace)"
        ),
        _ => e.to_string(),
    }
}

/// Waits until a restarted node serves again: its own `/v1/info/state` says `ACTIVE`, the
/// coordinator lists it `active`, and — on PrestoDB — it announced exactly `catalogs` (its
/// catalog folder as it loaded it at this start).
///
/// With `crash_fails`, a node that answered and then closed its port has failed its start (its
/// restart policy may be starting it again: a crash loop). Without, it is waited for through such
/// starts until the limit — after a rollback, the start under way may still read the old files.
pub async fn wait_back(
    coordinator: &Client,
    node: &Node,
    catalogs: Option<&BTreeSet<String>>,
    limits: NodeLimits,
    crash_fails: bool,
    mut beat: impl FnMut(),
) -> Result<Duration, NodeError> {
    let started = Instant::now();
    let deadline = started + limits.start_timeout;
    let direct = coordinator.for_node(&node.uri);
    let mut answered = false;
    let mut silent_since: Option<Instant> = None;
    let mut last: String;
    loop {
        beat();
        match direct.node_state(POLL_TIMEOUT).await {
            Ok(state) if state == "ACTIVE" => {
                answered = true;
                silent_since = None;
                match serving(coordinator, node, catalogs).await {
                    Ok(()) => return Ok(started.elapsed()),
                    Err(why) => last = why,
                }
            }
            Ok(state) => {
                answered = true;
                silent_since = None;
                last = format!("it says {state}");
            }
            Err(e) => {
                if matches!(
                    e,
                    EngineError::Unreachable {
                        timed_out: false,
                        ..
                    }
                ) {
                    if answered && silent_since.is_none() {
                        silent_since = Some(Instant::now());
                    }
                } else {
                    silent_since = None;
                }
                last = e.to_string();
            }
        }
        if crash_fails && silent_since.is_some_and(|t| t.elapsed() >= PORT_CLOSED_GRACE) {
            return Err(NodeError::NotBack {
                node: node.id.clone(),
                reason: format!(
                    "it answered while starting, then closed its port for {}: its start failed ({last})",
                    humantime::format_duration(PORT_CLOSED_GRACE)
                ),
            });
        }
        if Instant::now() >= deadline {
            return Err(NodeError::NotBack {
                node: node.id.clone(),
                reason: format!(
                    "not serving within {} ({last})",
                    humantime::format_duration(limits.start_timeout)
                ),
            });
        }
        sleep(POLL_EVERY).await;
    }
}

/// Whether the coordinator schedules work on the node again, with the catalogs it should have.
async fn serving(
    coordinator: &Client,
    node: &Node,
    catalogs: Option<&BTreeSet<String>>,
) -> Result<(), String> {
    if let Some(expected) = catalogs {
        let announced = coordinator
            .announced_catalogs()
            .await
            .map_err(|e| format!("cannot read the coordinator's announcements: {e}"))?;
        match announced.get(&node.id) {
            None => return Err("it has not announced itself to the coordinator yet".into()),
            Some(has) if has != expected => {
                return Err(format!(
                    "it announced the catalogs {has:?}, not the folder's {expected:?}"
                ));
            }
            Some(_) => {}
        }
    }
    let listed = nodes(coordinator)
        .await
        .map_err(|e| format!("cannot list the coordinator's nodes: {e}"))?;
    match listed.iter().find(|n| n.id == node.id) {
        Some(n) if n.state == "active" => Ok(()),
        Some(n) => Err(format!("the coordinator lists it {}", n.state)),
        None => Err("the coordinator does not list it yet".into()),
    }
}

/// The workers a roll restarts, in node-id order: active ones only, and never a node that shares
/// its id or address with a coordinator. PrestoDB 0.296 flags a node `coordinator` only while it
/// is an *active* coordinator: right after a coordinator restart, its previous entry stays listed
/// for a while as `inactive` or `shutting_down` with `coordinator = false` — at the coordinator's
/// own address. Taken for a worker, it would be the coordinator that gets shut down. A worker that
/// is not active is not running its catalogs anyway: its next start reads the folder as rendered.
pub fn workers_to_roll(listed: &[Node]) -> Vec<Node> {
    let coordinators: Vec<&Node> = listed.iter().filter(|n| n.coordinator).collect();
    let mut workers: Vec<Node> = listed
        .iter()
        .filter(|n| !n.coordinator && n.state == "active")
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
        .filter(|n| !n.coordinator && n.id != except && n.state == "active")
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(id: &str, coordinator: bool, state: &str) -> Node {
        Node {
            id: id.into(),
            uri: format!("http://{id}:8080"),
            coordinator,
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
    fn a_trino_refusal_names_the_fix() {
        let forbidden = EngineError::Auth {
            status: 403,
            message: "Management only resource".into(),
        };
        assert!(refusal(&forbidden).contains("system-information write"));
        let coordinator = EngineError::Http {
            status: 500,
            body: "Cannot shutdown coordinator".into(),
        };
        assert!(refusal(&coordinator).contains("--restart-method docker"));
    }
}
