//! A node's container through the Docker API: its state and last start, `docker restart`,
//! `docker start` where no restart policy starts it, its log, the starts of a crash loop — and
//! finding the container a worker's address belongs to.
//!
//! The Docker connection comes from `DOCKER_HOST` as the Docker CLI reads it (`unix://…`,
//! `tcp://…`; default `/var/run/docker.sock`). bollard 0.21 sends API paths without a version;
//! `negotiate_version` is still called so a later bollard pins a version the daemon supports.

use super::{NodeError, RestartSettings};
use bollard::Docker;
use bollard::models::ContainerStateStatusEnum;
use bollard::query_parameters::{LogsOptionsBuilder, RestartContainerOptionsBuilder};
use futures_util::StreamExt;
use std::time::Duration;
use tokio::time::{Instant, sleep};

/// How long a restart policy is given to start a coordinator that stopped, before the agent
/// starts it (Docker's first policy restart comes after 100 ms).
const POLICY_START_WAIT: Duration = Duration::from_secs(10);

/// A node's container.
#[derive(Debug, Clone)]
pub struct Container {
    /// Its name or id; empty when none is given (nothing asks Docker then).
    name: String,
    /// The Docker host as the Docker CLI would pick it, for errors.
    host: String,
    /// How long Docker waits after SIGTERM before SIGKILL (--stop-timeout).
    stop_timeout: Duration,
    /// How long an engine asked to shut down may take to exit: its drain and grace period, and a
    /// margin.
    exit_timeout: Duration,
}

/// The container's state as Docker reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContainerState {
    pub running: bool,
    /// When it last started (Unix milliseconds).
    pub started_at_ms: Option<u64>,
}

/// The Docker host as the Docker CLI would pick it.
fn docker_host() -> String {
    std::env::var("DOCKER_HOST").unwrap_or_else(|_| "unix:///var/run/docker.sock".to_string())
}

fn docker_error(host: &str, container: &str, e: bollard::errors::Error) -> NodeError {
    use bollard::errors::Error as E;
    match e {
        E::DockerResponseServerError {
            status_code: 404, ..
        } => NodeError::NoSuchContainer(container.to_string()),
        E::DockerResponseServerError {
            status_code,
            message,
        } => NodeError::DockerRefused {
            container: container.to_string(),
            detail: format!("HTTP {status_code}: {message}"),
        },
        other => NodeError::DockerUnreachable {
            host: host.to_string(),
            detail: other.to_string(),
        },
    }
}

impl Container {
    /// The container `name` (the coordinator's `--container`, or one found by
    /// [`Container::find_at`]). Nothing is connected yet: a Docker daemon that is down (or a
    /// socket not mounted) is an error of a restart, reported and retried, not a reason for the
    /// agent not to start.
    pub fn new(name: &str, settings: &RestartSettings) -> Container {
        Container {
            name: name.to_string(),
            host: docker_host(),
            stop_timeout: settings.stop_timeout,
            exit_timeout: settings.limits().stop_timeout,
        }
    }

    /// The running container that has the host of `uri` (a node's address as the coordinator
    /// lists it, `http://172.18.0.3:8080`) as its address on one of its networks, or as its name
    /// or a network alias. `None` when no container has it (the node runs elsewhere).
    pub async fn find_at(
        uri: &str,
        settings: &RestartSettings,
    ) -> Result<Option<Container>, NodeError> {
        let Some(host) = reqwest::Url::parse(uri)
            .ok()
            .and_then(|u| u.host_str().map(|h| h.trim_matches(['[', ']']).to_string()))
        else {
            return Ok(None);
        };
        // Through the coordinator's connection (its container named in the connection's errors).
        let coordinator =
            Container::new(settings.container.as_deref().unwrap_or_default(), settings);
        let docker = coordinator.connect_daemon().await?;
        let containers = docker
            .list_containers(None)
            .await
            .map_err(|e| docker_error(&coordinator.host, "", e))?;
        Ok(containers
            .iter()
            .find_map(|c| container_with_address(c, &host))
            .map(|name| Container::new(&name, settings)))
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// A client for one operation on this container. bollard checks the socket when connecting,
    /// so this is where an absent daemon shows.
    async fn connect(&self) -> Result<Docker, NodeError> {
        if self.name.is_empty() {
            return Err(NodeError::DockerUnreachable {
                host: self.host.clone(),
                detail: "no --container is given".into(),
            });
        }
        self.connect_daemon().await
    }

    /// A client for the daemon, whichever container is meant.
    async fn connect_daemon(&self) -> Result<Docker, NodeError> {
        let docker = Docker::connect_with_defaults().map_err(|e| NodeError::DockerUnreachable {
            host: self.host.clone(),
            detail: e.to_string(),
        })?;
        // Above `stop_timeout`: a restart blocks while Docker stops the container.
        let docker = docker.with_timeout(self.stop_timeout + Duration::from_secs(60));
        docker.negotiate_version().await.map_err(|e| self.err(e))
    }

    fn err(&self, e: bollard::errors::Error) -> NodeError {
        docker_error(&self.host, &self.name, e)
    }

    /// Whether Docker answers for this container: asked before the engine in it is told to stop,
    /// since nothing else would start it again.
    pub async fn reachable(&self) -> Result<(), NodeError> {
        self.connect().await.map(drop)
    }

    /// Whether it runs, and when it last started. `None` when Docker cannot be asked or the
    /// container does not exist.
    pub async fn state(&self) -> Option<ContainerState> {
        let docker = self.connect().await.ok()?;
        let state = docker
            .inspect_container(&self.name, None)
            .await
            .ok()?
            .state?;
        let started_at_ms = started_at_ms(state.started_at.as_deref());
        Some(ContainerState {
            running: matches!(state.status, Some(ContainerStateStatusEnum::RUNNING)),
            started_at_ms,
        })
    }

    /// After the engine in the container was asked to shut down (it had started at
    /// `started_before`): waits until it exits — stopped by force after the drain timeout and a
    /// margin — and starts the container again unless its restart policy does.
    pub async fn start_after_exit(
        &self,
        started_before: Option<u64>,
        mut beat: impl FnMut(),
    ) -> Result<(), NodeError> {
        let docker = self.connect().await?;
        let restarted = self
            .wait_stopped(&docker, started_before, &mut beat)
            .await?;
        // A restart policy brings it back by itself; starting it as well raced with Docker's
        // own start (two starts seen on a loaded machine).
        if !restarted
            && !self
                .policy_brings_back(&docker, started_before, &mut beat)
                .await?
        {
            tracing::info!(container = %self.name, "the container has no restart policy that starts it again; docker start");
            self.start(&docker).await?;
        }
        Ok(())
    }

    /// `docker restart`: SIGTERM, then SIGKILL after --stop-timeout — at once when the engine in
    /// it does not serve. One that does not — crash-looping on a bad catalog, or still starting —
    /// has nothing to drain and may not have installed its SIGTERM handler yet: a JVM that is
    /// PID 1 of its container then ignores the signal, and Docker waits out the whole stop
    /// timeout (measured: 30 s, exit 137, in 3 of 4 rollbacks on Trino 476).
    pub async fn restart(&self, serving: bool) -> Result<(), NodeError> {
        let docker = self.connect().await?;
        let stop_timeout = if serving {
            self.stop_timeout.as_secs() as i32
        } else {
            0
        };
        tracing::info!(
            container = %self.name,
            stop_timeout_s = stop_timeout,
            serving,
            "docker restart"
        );
        let options = RestartContainerOptionsBuilder::default()
            .t(stop_timeout)
            .build();
        let asked = Instant::now();
        docker
            .restart_container(&self.name, Some(options))
            .await
            .map_err(|e| self.err(e))?;
        tracing::debug!(
            took_ms = asked.elapsed().as_millis() as u64,
            "Docker restarted the container"
        );
        Ok(())
    }

    /// Starts the container if it does not run (a node whose start failed and that no restart
    /// policy starts again).
    pub async fn start_if_stopped(&self) -> Result<(), NodeError> {
        let docker = self.connect().await?;
        let state = docker
            .inspect_container(&self.name, None)
            .await
            .map_err(|e| self.err(e))?
            .state
            .unwrap_or_default();
        if !matches!(
            state.status,
            Some(ContainerStateStatusEnum::RUNNING | ContainerStateStatusEnum::RESTARTING)
        ) {
            tracing::info!(container = %self.name, "docker start");
            self.start(&docker).await?;
        }
        Ok(())
    }

    /// `docker start`.
    async fn start(&self, docker: &Docker) -> Result<(), NodeError> {
        docker
            .start_container(&self.name, None)
            .await
            .map_err(|e| self.err(e))
    }

    /// After a graceful shutdown request: the engine waits its grace period and for running
    /// queries, then exits. Bounded by the drain timeout plus a margin; then stopped by force.
    /// A restart policy (`restart: always`, `unless-stopped`) may start the container again before
    /// a poll sees it stopped: a new start time counts as stopped too.
    /// Returns whether a restart policy already started it again.
    async fn wait_stopped(
        &self,
        docker: &Docker,
        started_before: Option<u64>,
        mut beat: impl FnMut(),
    ) -> Result<bool, NodeError> {
        let deadline = Instant::now() + self.exit_timeout;
        loop {
            beat();
            let inspect = docker
                .inspect_container(&self.name, None)
                .await
                .map_err(|e| self.err(e))?;
            let Some(state) = inspect.state else {
                return Ok(false);
            };
            let started = started_at_ms(state.started_at.as_deref());
            let restarted = started_before.is_some() && started != started_before;
            if restarted {
                return Ok(true);
            }
            if !matches!(state.status, Some(ContainerStateStatusEnum::RUNNING)) {
                return Ok(false);
            }
            if Instant::now() >= deadline {
                tracing::warn!(
                    container = %self.name,
                    "the engine did not stop after its graceful shutdown; stopping the container"
                );
                return docker
                    .stop_container(&self.name, None)
                    .await
                    .map(|()| false)
                    .map_err(|e| self.err(e));
            }
            sleep(Duration::from_millis(250)).await;
        }
    }

    /// After the engine stopped: whether the container's restart policy (`always`,
    /// `unless-stopped`) started it again within a while. (A graceful shutdown exits 0, which
    /// `on-failure` does not restart.)
    async fn policy_brings_back(
        &self,
        docker: &Docker,
        started_before: Option<u64>,
        mut beat: impl FnMut(),
    ) -> Result<bool, NodeError> {
        use bollard::models::RestartPolicyNameEnum;
        let deadline = Instant::now() + POLICY_START_WAIT;
        loop {
            beat();
            let inspect = docker
                .inspect_container(&self.name, None)
                .await
                .map_err(|e| self.err(e))?;
            let policy = inspect
                .host_config
                .as_ref()
                .and_then(|h| h.restart_policy.as_ref())
                .and_then(|p| p.name);
            if !matches!(
                policy,
                Some(RestartPolicyNameEnum::ALWAYS | RestartPolicyNameEnum::UNLESS_STOPPED)
            ) {
                return Ok(false);
            }
            let state = inspect.state.unwrap_or_default();
            let started = started_at_ms(state.started_at.as_deref());
            if matches!(state.status, Some(ContainerStateStatusEnum::RUNNING))
                && started != started_before
            {
                return Ok(true);
            }
            if Instant::now() >= deadline {
                return Ok(false);
            }
            sleep(Duration::from_millis(100)).await;
        }
    }

    /// The container's log since `since` (Unix seconds), its last `lines` lines.
    pub async fn log_since(&self, since: i64, lines: usize) -> String {
        let options = LogsOptionsBuilder::default()
            .stdout(true)
            .stderr(true)
            .since(since.saturating_sub(1) as i32)
            .tail(&lines.to_string())
            .build();
        let Ok(docker) = self.connect().await else {
            return String::new();
        };
        let mut out = String::new();
        let mut stream = docker.logs(&self.name, Some(options));
        while let Some(Ok(chunk)) = stream.next().await {
            out.push_str(&chunk.to_string());
        }
        out.trim().to_string()
    }

    /// Watches the container's starts while the engine in it starts; `None` when Docker cannot
    /// be asked (the wait goes on without).
    pub async fn watch_starts(&self) -> Option<StartWatch> {
        Some(StartWatch {
            docker: self.connect().await.ok()?,
            name: self.name.clone(),
            first: None,
        })
    }
}

/// A container's starts, seen while the engine in it is waited for.
pub struct StartWatch {
    docker: Docker,
    name: String,
    /// The start being waited for: a later start (or a higher restart count) is the restart
    /// policy bringing back a coordinator that died — a crash loop, even though Docker shows
    /// `running` most of the time (measured: Trino 476 with a bad catalog under `restart:
    /// unless-stopped` dies every 10–15 s).
    first: Option<(Option<String>, Option<i64>)>,
}

impl StartWatch {
    /// Why the coordinator in the container is not coming up — it exited, or keeps restarting —
    /// or `None` (also when Docker does not answer this time).
    pub async fn failed(&mut self) -> Option<NodeError> {
        let inspect = self.docker.inspect_container(&self.name, None).await.ok()?;
        let state = inspect.state?;
        let exited = matches!(
            state.status,
            Some(ContainerStateStatusEnum::EXITED | ContainerStateStatusEnum::DEAD)
        );
        let this_start = (state.started_at.clone(), inspect.restart_count);
        let restarted_again = match &self.first {
            None => {
                self.first = Some(this_start);
                false
            }
            Some(first) => *first != this_start,
        };
        let crash_looping = restarted_again
            || (matches!(state.status, Some(ContainerStateStatusEnum::RESTARTING))
                && state.exit_code.is_some_and(|c| c != 0));
        (exited || crash_looping).then(|| NodeError::NotReady {
            reason: format!(
                "the coordinator's container {} (exit code {})",
                if exited { "exited" } else { "keeps restarting" },
                state
                    .exit_code
                    .map_or_else(|| "unknown".into(), |c| c.to_string())
            ),
            exit_code: state.exit_code,
        })
    }
}

/// The container's name (without Docker's leading `/`) when `host` is its address on one of its
/// networks, its name, or one of its network aliases.
fn container_with_address(
    container: &bollard::models::ContainerSummary,
    host: &str,
) -> Option<String> {
    if host.is_empty() {
        return None;
    }
    let names: Vec<&str> = container
        .names
        .iter()
        .flatten()
        .map(|n| n.trim_start_matches('/'))
        .collect();
    let networks = container
        .network_settings
        .as_ref()
        .and_then(|n| n.networks.as_ref());
    let has = names.contains(&host)
        || networks.is_some_and(|networks| {
            networks.values().any(|e| {
                e.ip_address.as_deref() == Some(host)
                    || e.global_ipv6_address.as_deref() == Some(host)
                    || e.aliases.iter().flatten().any(|a| a == host)
            })
        });
    has.then(|| names.first().map(|n| n.to_string())).flatten()
}

/// Docker's `State.StartedAt` (RFC 3339 with nanoseconds; the zero time for a container never
/// started) as Unix milliseconds.
fn started_at_ms(text: Option<&str>) -> Option<u64> {
    let time = humantime::parse_rfc3339(text?).ok()?;
    let ms = time.duration_since(std::time::UNIX_EPOCH).ok()?.as_millis() as u64;
    (ms > 0).then_some(ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_node_address_finds_its_container_by_ip_name_or_alias() {
        let summary: bollard::models::ContainerSummary =
            serde_json::from_value(serde_json::json!({
                "Id": "abc",
                "Names": ["/cluster-worker-1"],
                "NetworkSettings": {"Networks": {
                    "bridge": {"IPAddress": ""},
                    "cluster": {"IPAddress": "172.18.0.3", "Aliases": ["worker-1", "abc"]}
                }}
            }))
            .unwrap();
        let found = |host: &str| container_with_address(&summary, host);
        let name = Some("cluster-worker-1".to_string());
        assert_eq!(found("172.18.0.3"), name);
        assert_eq!(found("cluster-worker-1"), name);
        assert_eq!(found("worker-1"), name);
        assert_eq!(found("172.18.0.4"), None);
        // An empty address on another network matches nothing.
        assert_eq!(found(""), None);
        assert_eq!(found("worker"), None);
    }

    #[test]
    fn docker_start_times_are_read_to_the_millisecond() {
        assert_eq!(
            started_at_ms(Some("2026-11-24T12:00:00.123456789Z")),
            Some(1_795_521_600_123)
        );
        assert_eq!(started_at_ms(Some("0001-01-01T00:00:00Z")), None);
        assert_eq!(started_at_ms(Some("garbage")), None);
        assert_eq!(started_at_ms(None), None);
    }
}
