//! The one wait until a restarted node serves again — the coordinator or a worker — and its crash
//! detection: a node that answered while starting and then closed its port has failed its start,
//! and a coordinator whose container exits or keeps restarting is not coming up.
//!
//! What "serving" means is the node's role's ([`Expect`]): the coordinator says `starting: false`
//! on `/v1/info` ([`Started`]); a worker says `ACTIVE` on its `/v1/info/state`, the coordinator
//! lists it `active`, and — on PrestoDB — it announced exactly the folder's catalogs ([`Listed`]).

use super::docker::Container;
use super::{Node, NodeError, Role, direct, nodes};
use crate::engine::client::{Client, EngineError, ServerInfo};
use std::collections::BTreeSet;
use std::future::Future;
use std::time::Duration;
use tokio::time::{Instant, sleep};

/// How often a restarting coordinator is asked whether it is up, and with how much patience per
/// request: detecting readiness late is pure added downtime.
const COORDINATOR_POLL_EVERY: Duration = Duration::from_millis(50);
const COORDINATOR_POLL_TIMEOUT: Duration = Duration::from_millis(250);
/// How often a restarting worker is asked how it is, and how long each request may take: a
/// request to an address whose process is gone can hang for a while.
const WORKER_POLL_EVERY: Duration = Duration::from_millis(250);
const WORKER_POLL_TIMEOUT: Duration = Duration::from_secs(1);

impl Role {
    /// How long a starting node that answered may keep its port closed before its start counts
    /// as failed.
    fn port_closed_grace(self) -> Duration {
        match self {
            // A failed start exits ~3.5 s after its port closes when it exits at all (measured
            // on PrestoDB 0.296).
            Role::Coordinator => Duration::from_secs(10),
            // PrestoDB 0.296 answers `ACTIVE` before it loads its catalogs; a worker with a
            // catalog it cannot load answered `ACTIVE` for ~3 s, then exited, and its restart
            // policy started it again.
            Role::Worker => Duration::from_secs(3),
        }
    }

    fn poll_every(self) -> Duration {
        match self {
            Role::Coordinator => COORDINATOR_POLL_EVERY,
            Role::Worker => WORKER_POLL_EVERY,
        }
    }
}

/// One answer of a starting node.
pub enum Answer<T> {
    /// It serves.
    Serving(T),
    /// It answered, and does not serve yet: why.
    NotYet(String),
    /// It did not answer.
    Silent(EngineError),
}

/// What "serving" means for a node, and how it is asked.
pub trait Expect {
    /// What a node that serves said.
    type Serving;
    /// Asks `node` once; `client` is the coordinator's.
    fn ask(
        &self,
        client: &Client,
        node: &Node,
    ) -> impl Future<Output = Answer<Self::Serving>> + Send;
}

/// The coordinator serves when its `/v1/info` says `starting: false`.
pub struct Started;

impl Expect for Started {
    type Serving = ServerInfo;

    async fn ask(&self, client: &Client, node: &Node) -> Answer<ServerInfo> {
        let mut slot = None;
        match direct(client, node, &mut slot)
            .info_within(COORDINATOR_POLL_TIMEOUT)
            .await
        {
            Ok(info) if !info.starting => Answer::Serving(info),
            Ok(_) => Answer::NotYet("the coordinator is still starting".into()),
            Err(e) => Answer::Silent(e),
        }
    }
}

/// A worker serves when it says `ACTIVE`, the coordinator lists it `active` and — where the
/// engine says (PrestoDB) — it announced exactly these catalogs (its catalog folder as it loaded
/// it at this start).
pub struct Listed<'a>(pub Option<&'a BTreeSet<String>>);

impl Expect for Listed<'_> {
    type Serving = ();

    async fn ask(&self, client: &Client, node: &Node) -> Answer<()> {
        let mut slot = None;
        match direct(client, node, &mut slot)
            .node_state(WORKER_POLL_TIMEOUT)
            .await
        {
            Ok(state) if state == "ACTIVE" => self.scheduled(client, node).await,
            Ok(state) => Answer::NotYet(format!("it says {state}")),
            Err(e) => Answer::Silent(e),
        }
    }
}

impl Listed<'_> {
    /// Whether the coordinator schedules work on the node again, with the catalogs it should
    /// have.
    async fn scheduled(&self, coordinator: &Client, node: &Node) -> Answer<()> {
        if let Some(expected) = self.0 {
            let announced = match coordinator.announced_catalogs().await {
                Ok(announced) => announced,
                Err(e) => {
                    return Answer::NotYet(format!(
                        "cannot read the coordinator's announcements: {e}"
                    ));
                }
            };
            match announced.get(&node.id) {
                None => {
                    return Answer::NotYet(
                        "it has not announced itself to the coordinator yet".into(),
                    );
                }
                Some(has) if has != expected => {
                    return Answer::NotYet(format!(
                        "it announced the catalogs {has:?}, not the folder's {expected:?}"
                    ));
                }
                Some(_) => {}
            }
        }
        let listed = match nodes(coordinator).await {
            Ok(listed) => listed,
            Err(e) => {
                return Answer::NotYet(format!("cannot list the coordinator's nodes: {e}"));
            }
        };
        match listed.iter().find(|n| n.id == node.id) {
            Some(n) if n.state == "active" => Answer::Serving(()),
            Some(n) => Answer::NotYet(format!("the coordinator lists it {}", n.state)),
            None => Answer::NotYet("the coordinator does not list it yet".into()),
        }
    }
}

/// Waits until `node` serves again, as `expect` says, for up to `within`.
///
/// With `crash_fails`, a node that answered and then closed its port for its role's grace has
/// failed its start (its restart policy may be starting it again: a crash loop). Without, it is
/// waited for through such starts until the limit — after a rollback, the start under way may
/// still read the old files. `container` is the coordinator's, when Docker has it: if it exits or
/// keeps restarting, the coordinator is not coming up.
pub async fn wait_serving<E: Expect>(
    client: &Client,
    node: &Node,
    expect: E,
    crash_fails: bool,
    container: Option<&Container>,
    within: Duration,
    mut beat: impl FnMut(),
) -> Result<E::Serving, NodeError> {
    let deadline = Instant::now() + within;
    let grace = node.role.port_closed_grace();
    let mut starts = match container {
        Some(container) => container.watch_starts().await,
        None => None,
    };
    // A start that fails closes the HTTP port; the process normally exits seconds later, but
    // a PrestoDB 0.296 container was seen to hang in `System.exit` for good after logging its
    // error (5 of 19 starts with an unknown connector): answered once, silent since.
    let mut answered = false;
    let mut silent_since: Option<Instant> = None;
    let mut last: String;
    loop {
        beat();
        match expect.ask(client, node).await {
            Answer::Serving(serving) => return Ok(serving),
            Answer::NotYet(why) => {
                answered = true;
                silent_since = None;
                last = why;
            }
            Answer::Silent(e) => {
                // Only a refused or reset connection is silence: on a loaded machine a
                // starting JVM can be slow to answer for a long time.
                let refused = matches!(
                    e,
                    EngineError::Unreachable {
                        timed_out: false,
                        ..
                    }
                );
                if !refused {
                    silent_since = None;
                } else if answered && silent_since.is_none() {
                    silent_since = Some(Instant::now());
                }
                last = e.to_string();
            }
        }
        if crash_fails && silent_since.is_some_and(|t| t.elapsed() >= grace) {
            return Err(port_closed(node, grace, &last));
        }
        if let Some(starts) = starts.as_mut()
            && let Some(failed) = starts.failed().await
        {
            return Err(failed);
        }
        if Instant::now() >= deadline {
            return Err(not_serving(node, within, &last));
        }
        sleep(node.role.poll_every()).await;
    }
}

/// The node answered while starting, then closed its port for `grace`.
fn port_closed(node: &Node, grace: Duration, last: &str) -> NodeError {
    let grace = humantime::format_duration(grace);
    match node.role {
        Role::Coordinator => NodeError::NotReady {
            reason: format!(
                "the coordinator answered while starting, then closed its port and has not come back for {grace} ({last})"
            ),
            exit_code: None,
        },
        Role::Worker => NodeError::NotBack {
            node: node.id.clone(),
            reason: format!(
                "it answered while starting, then closed its port for {grace}: its start failed ({last})"
            ),
        },
    }
}

/// The node did not serve `within` its start timeout.
fn not_serving(node: &Node, within: Duration, last: &str) -> NodeError {
    let within = humantime::format_duration(within);
    match node.role {
        Role::Coordinator => NodeError::NotReady {
            reason: format!("the coordinator did not become ready within {within} ({last})"),
            exit_code: None,
        },
        Role::Worker => NodeError::NotBack {
            node: node.id.clone(),
            reason: format!("not serving within {within} ({last})"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_coordinator_has_longer_to_come_back_from_a_closed_port_than_a_worker() {
        assert_eq!(
            Role::Coordinator.port_closed_grace(),
            Duration::from_secs(10)
        );
        assert_eq!(Role::Worker.port_closed_grace(), Duration::from_secs(3));
    }

    #[test]
    fn a_failed_start_is_said_as_each_role_always_said_it() {
        let coordinator = Node::coordinator("http://localhost:8080");
        let worker = Node {
            id: "w1".into(),
            uri: "http://w1:8080".into(),
            role: Role::Worker,
            state: "active".into(),
        };
        let last = "connection refused";
        assert_eq!(
            port_closed(&coordinator, Duration::from_secs(10), last).to_string(),
            "the coordinator answered while starting, then closed its port and has not come back for 10s (connection refused)"
        );
        assert_eq!(
            port_closed(&worker, Duration::from_secs(3), last).to_string(),
            "node w1 did not come back: it answered while starting, then closed its port for 3s: its start failed (connection refused)"
        );
        assert_eq!(
            not_serving(&coordinator, Duration::from_secs(300), last).to_string(),
            "the coordinator did not become ready within 5m (connection refused)"
        );
        assert_eq!(
            not_serving(&worker, Duration::from_secs(300), last).to_string(),
            "node w1 did not come back: not serving within 5m (connection refused)"
        );
    }
}
