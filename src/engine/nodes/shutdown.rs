//! The engine's own shutdown: `PUT /v1/info/state "SHUTTING_DOWN"` makes a node stop taking work,
//! wait its `shutdown.grace-period` and its running tasks, and exit 0; the restart policy of its
//! container or pod (`restart: unless-stopped`, `restartPolicy: Always`) starts it again in place,
//! with the same volumes and so with the new files. No socket or API of the platform is needed.
//! PrestoDB accepts it from its coordinator and its workers; Trino only from a worker, and only
//! for a user with system-information write access.
//!
//! Measured on PrestoDB 0.296 (coordinator and two workers, `shutdown.grace-period=5s`, two
//! loaded cores): the worker shows `shutting_down` in `system.runtime.nodes` after ~10 s and
//! closes its port ~1.5 s later; restarted by `restart: unless-stopped`, it answers
//! `/v1/info/state` `ACTIVE` 45 s later, announces its new catalogs (discovery `connectorIds`)
//! 4 s after that, and is listed `active` by the coordinator 11 s after that.

use super::{Node, NodeError, Role, direct};
use crate::engine::client::{Client, EngineError, ServerInfo};
use crate::engine::uptime::StartWindow;
use std::time::Duration;
use tokio::time::{Instant, sleep};

/// How often a node asked to shut down is asked whether it is gone, and how long each request
/// may take: a request to an address whose process is gone can hang for a while.
const GONE_POLL_EVERY: Duration = Duration::from_millis(250);
const GONE_POLL_TIMEOUT: Duration = Duration::from_secs(1);
/// How long the coordinator's first answer after the request may take (its start, to tell a
/// start younger than it).
const BEFORE_TIMEOUT: Duration = Duration::from_millis(250);

/// The fix for a coordinator that will not shut down on request.
const RESTART_IT_OTHERWISE: &str =
    "restart it with --restart-method docker (its container) or signal (a shared PID namespace)";

/// The engine-shutdown method.
#[derive(Debug, Clone)]
pub struct EngineShutdown {
    /// From the request until the node has stopped (its grace period, its running tasks, a
    /// margin).
    within: Duration,
}

impl EngineShutdown {
    pub fn new(within: Duration) -> EngineShutdown {
        EngineShutdown { within }
    }

    /// Restarts `node` this way. A coordinator that does not serve (crash-looping on a bad
    /// catalog, or starting) is left to its restart policy: its next start reads the folder as it
    /// is now.
    pub async fn restart(
        &self,
        client: &Client,
        node: &Node,
        serving: bool,
        beat: impl FnMut(),
    ) -> Result<(), NodeError> {
        if node.is_coordinator() && !serving {
            tracing::info!(
                "the coordinator does not serve; its restart policy starts it again with the folder as it is"
            );
            return Ok(());
        }
        self.shut_down(client, node, beat).await
    }

    /// Asks `node` to shut down and waits until its process is gone — or, a restart faster than
    /// a poll, back already. `client` is the coordinator's.
    pub async fn shut_down(
        &self,
        client: &Client,
        node: &Node,
        mut beat: impl FnMut(),
    ) -> Result<(), NodeError> {
        let mut slot = None;
        let direct = direct(client, node, &mut slot);
        direct
            .request_shutdown()
            .await
            .map_err(|e| refused(node, refusal(node.role, &e)))?;
        match node.role {
            Role::Coordinator => tracing::info!(
                "asked the coordinator to shut down (PUT /v1/info/state SHUTTING_DOWN); its restart policy starts it again"
            ),
            Role::Worker => {
                tracing::info!(node = %node.id, uri = %node.uri, "asked the node to shut down (PUT /v1/info/state SHUTTING_DOWN)")
            }
        }
        let deadline = Instant::now() + self.within;
        // The coordinator's start, to tell a younger one.
        let before = match node.role {
            Role::Coordinator => read_start(direct, BEFORE_TIMEOUT).await.1,
            Role::Worker => None,
        };
        loop {
            beat();
            if gone_or_back(direct, node.role, before.as_ref()).await {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(match node.role {
                    Role::Coordinator => NodeError::CoordinatorRefused {
                        detail: format!(
                            "it accepted the shutdown but still runs after {}",
                            humantime::format_duration(self.within)
                        ),
                    },
                    Role::Worker => NodeError::DidNotStop {
                        node: node.id.clone(),
                        within: self.within,
                    },
                });
            }
            sleep(GONE_POLL_EVERY).await;
        }
    }
}

/// `/v1/info` within `limit`, and the start it tells — allowing for the time the answer took.
async fn read_start(
    client: &Client,
    limit: Duration,
) -> (Result<ServerInfo, EngineError>, Option<StartWindow>) {
    let asked = Instant::now();
    let info = client.info_within(limit).await;
    let read_at_ms = crate::clock::now_millis();
    let start = info.as_ref().ok().and_then(|info| {
        info.start_window(read_at_ms)
            .map(|w| w.answered_within(asked.elapsed()))
    });
    (info, start)
}

/// Whether the node asked to shut down is gone (a refused or reset connection), or back already:
/// a coordinator starting, or started later than `before`; a worker `INACTIVE` (starting, not
/// shutting down any more).
async fn gone_or_back(direct: &Client, role: Role, before: Option<&StartWindow>) -> bool {
    let gone = |e: &EngineError| {
        matches!(
            e,
            EngineError::Unreachable {
                timed_out: false,
                ..
            }
        )
    };
    match role {
        Role::Coordinator => match read_start(direct, GONE_POLL_TIMEOUT).await {
            (Err(e), _) => gone(&e),
            (Ok(info), now) => {
                info.starting
                    || before
                        .zip(now)
                        .is_some_and(|(before, now)| now.later_than(before))
            }
        },
        Role::Worker => match direct.node_state(GONE_POLL_TIMEOUT).await {
            Err(e) => gone(&e),
            Ok(state) => state == "INACTIVE",
        },
    }
}

fn refused(node: &Node, detail: String) -> NodeError {
    match node.role {
        Role::Coordinator => NodeError::CoordinatorRefused { detail },
        Role::Worker => NodeError::Refused {
            node: node.id.clone(),
            detail,
        },
    }
}

/// What the engine says to a shutdown request, with the fix where it is known.
pub fn refusal(role: Role, e: &EngineError) -> String {
    match (role, e) {
        (Role::Coordinator, EngineError::Auth { .. } | EngineError::Http { .. }) => {
            format!(
                "{e} — a Trino coordinator does not shut down on request: {RESTART_IT_OTHERWISE}"
            )
        }
        (Role::Worker, EngineError::Auth { status: 403, .. }) => format!(
            "{e} — Trino lets a user shut a worker down only with system-information write access (access control), and never its coordinator"
        ),
        // A "worker" that is a coordinator after all.
        (Role::Worker, EngineError::Http { status: 500, body }) if body.contains("coordinator") => {
            format!(
                "{e} — Trino does not shut its coordinator down on request; {RESTART_IT_OTHERWISE}"
            )
        }
        _ => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trino_refusal_names_the_fix() {
        let forbidden = EngineError::Auth {
            status: 403,
            message: "Management only resource".into(),
        };
        assert!(refusal(Role::Worker, &forbidden).contains("system-information write"));
        let coordinator = EngineError::Http {
            status: 500,
            body: "Cannot shutdown coordinator".into(),
        };
        assert!(refusal(Role::Worker, &coordinator).contains("--restart-method docker"));
        // The coordinator itself: Trino refuses it whoever asks.
        assert_eq!(
            refusal(Role::Coordinator, &forbidden),
            "the coordinator refused the credentials (HTTP 403): Management only resource — a Trino coordinator does not shut down on request: restart it with --restart-method docker (its container) or signal (a shared PID namespace)"
        );
        assert!(refusal(Role::Coordinator, &coordinator).contains("or signal (a shared PID"));
    }

    #[test]
    fn other_refusals_are_said_as_the_engine_says_them() {
        let down = EngineError::Unreachable {
            url: "http://w1:8080".into(),
            detail: "connection refused".into(),
            timed_out: false,
        };
        assert_eq!(refusal(Role::Worker, &down), down.to_string());
        assert_eq!(refusal(Role::Coordinator, &down), down.to_string());
        let busy = EngineError::Http {
            status: 503,
            body: "busy".into(),
        };
        assert_eq!(refusal(Role::Worker, &busy), busy.to_string());
    }
}
