//! Restart mode's engine side: drain running queries, restart the coordinator — its container
//! through the Docker API, or the engine's own shutdown and the restart policy of its container or
//! pod —, wait until it is up, and read its log when it is not (facts §4, §5, §6).
//!
//! The Docker connection comes from `DOCKER_HOST` as the Docker CLI reads it (`unix://…`,
//! `tcp://…`; default `/var/run/docker.sock`). bollard 0.21 sends unversioned API paths
//! (rust-crates.md §1.4.3); `negotiate_version` is still called so a later bollard pins a version the
//! daemon supports.

use super::client::{Client, EngineError, ServerInfo};
use bollard::Docker;
use bollard::models::ContainerStateStatusEnum;
use bollard::query_parameters::{LogsOptionsBuilder, RestartContainerOptionsBuilder};
use futures_util::StreamExt;
use std::path::Path;
use std::time::Duration;
use tokio::time::{Instant, sleep};

/// How often, and with how much patience per request, a restarted coordinator is asked whether
/// it is up: detecting readiness late is pure added downtime.
const READY_POLL_EVERY: Duration = Duration::from_millis(50);
const READY_POLL_TIMEOUT: Duration = Duration::from_millis(250);
/// A starting coordinator that stops answering for this long has failed its start (a failed
/// start exits ~3.5 s after its port closes when it exits at all, presto-measured.md).
const PORT_CLOSED_GRACE: Duration = Duration::from_secs(10);

/// What to do when running queries do not finish within the drain timeout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DrainTimeoutAction {
    /// Restart anyway (the running queries fail).
    Restart,
    /// Do not restart now; try again at the next quiet moment.
    Skip,
}

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

/// How long a restart policy is given to start a coordinator that stopped, before the agent
/// starts it (Docker's first policy restart comes after 100 ms).
const POLICY_START_WAIT: Duration = Duration::from_secs(10);

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

#[derive(Debug, thiserror::Error)]
pub enum RestartError {
    #[error("cannot reach the Docker daemon ({host}): {detail}")]
    Docker { host: String, detail: String },
    #[error("there is no container named '{0}' (check --container)")]
    NoSuchContainer(String),
    #[error("the Docker daemon refused to restart '{container}': {detail}")]
    Refused { container: String, detail: String },
}

/// How the drain ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Drain {
    /// No query was queued or running.
    Quiet { waited: Duration },
    /// Queries were still running at the timeout.
    TimedOut { running: usize },
}

/// Why the coordinator did not come back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotReady {
    pub reason: String,
    pub exit_code: Option<i64>,
}

pub struct Restarter {
    host: String,
    pub settings: RestartSettings,
}

/// The main classes of the engines' server processes.
const SERVER_MAIN_CLASSES: [&str; 2] = [
    "io.trino.server.TrinoServer",
    "com.facebook.presto.server.PrestoServer",
];

/// The processes under `proc` (a /proc) whose command line runs a Trino or PrestoDB server, the
/// agent's own left out, in pid order.
pub fn server_processes(proc: &Path) -> Vec<libc::pid_t> {
    let own = std::process::id() as libc::pid_t;
    let Ok(entries) = std::fs::read_dir(proc) else {
        return Vec::new();
    };
    let mut found: Vec<libc::pid_t> = entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<libc::pid_t>().ok())
        .filter(|&pid| pid != own)
        .filter(|pid| {
            // A command line is short; a process may be gone between the listing and the read.
            std::fs::read(proc.join(pid.to_string()).join("cmdline")).is_ok_and(|cmdline| {
                cmdline.split(|&b| b == 0).any(|arg| {
                    SERVER_MAIN_CLASSES
                        .iter()
                        .any(|class| arg == class.as_bytes())
                })
            })
        })
        .collect();
    found.sort_unstable();
    found
}

/// The Docker host as the Docker CLI would pick it.
fn docker_host() -> String {
    std::env::var("DOCKER_HOST").unwrap_or_else(|_| "unix:///var/run/docker.sock".to_string())
}

fn docker_error(host: &str, container: &str, e: bollard::errors::Error) -> RestartError {
    use bollard::errors::Error as E;
    match e {
        E::DockerResponseServerError {
            status_code: 404, ..
        } => RestartError::NoSuchContainer(container.to_string()),
        E::DockerResponseServerError {
            status_code,
            message,
        } => RestartError::Refused {
            container: container.to_string(),
            detail: format!("HTTP {status_code}: {message}"),
        },
        other => RestartError::Docker {
            host: host.to_string(),
            detail: other.to_string(),
        },
    }
}

impl Restarter {
    /// Nothing is connected yet: a Docker daemon that is down (or a socket not mounted) is an
    /// error of a restart, reported and retried, not a reason for the agent not to start.
    pub fn new(settings: RestartSettings) -> Self {
        Restarter {
            host: docker_host(),
            settings,
        }
    }

    /// A client for one operation. bollard checks the socket when connecting, so this is where
    /// an absent daemon shows.
    async fn connect(&self) -> Result<Docker, RestartError> {
        if self.settings.container.is_none() {
            return Err(RestartError::Docker {
                host: self.host.clone(),
                detail: "no --container is given".into(),
            });
        }
        self.connect_daemon().await
    }

    /// A client for the daemon, whichever container is meant.
    async fn connect_daemon(&self) -> Result<Docker, RestartError> {
        let docker = Docker::connect_with_defaults().map_err(|e| RestartError::Docker {
            host: self.host.clone(),
            detail: e.to_string(),
        })?;
        // Above `stop_timeout`: a restart blocks while Docker stops the container.
        let docker = docker.with_timeout(self.settings.stop_timeout + Duration::from_secs(60));
        docker.negotiate_version().await.map_err(|e| self.err(e))
    }

    /// The coordinator's container, "" when none is given (nothing asks Docker then).
    fn name(&self) -> &str {
        self.settings.container.as_deref().unwrap_or_default()
    }

    fn err(&self, e: bollard::errors::Error) -> RestartError {
        docker_error(&self.host, self.name(), e)
    }

    /// The container's state as Docker reports it: whether it runs, and when it last started (Unix
    /// milliseconds). `None` when Docker cannot be asked or the container does not exist.
    pub async fn container_state(&self) -> Option<ContainerState> {
        let docker = self.connect().await.ok()?;
        let state = docker
            .inspect_container(self.name(), None)
            .await
            .ok()?
            .state?;
        let started_at_ms = started_at_ms(state.started_at.as_deref());
        Some(ContainerState {
            running: matches!(state.status, Some(ContainerStateStatusEnum::RUNNING)),
            started_at_ms,
        })
    }

    /// Waits until the coordinator has no unfinished query (`GET /v1/query`; PrestoDB's
    /// `/v1/cluster` if that is refused), up to the drain timeout.
    pub async fn drain(&self, client: &Client, mut beat: impl FnMut()) -> Drain {
        let started = Instant::now();
        let deadline = started + self.settings.drain_timeout;
        let mut logged = false;
        loop {
            beat();
            let running = match client.unfinished_queries().await {
                Ok(queries) => queries.len(),
                // Nothing runs on a coordinator whose container is down. A slow or reset request
                // to one that runs says nothing about its queries: ask again.
                Err(EngineError::Unreachable { .. }) => match self.container_state().await {
                    Some(state) if !state.running => 0,
                    _ if Instant::now() >= deadline => {
                        return Drain::TimedOut { running: 0 };
                    }
                    _ => {
                        sleep(Duration::from_millis(250)).await;
                        continue;
                    }
                },
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
                    drain_timeout = %humantime::format_duration(self.settings.drain_timeout),
                    "waiting for running queries to finish before restarting the coordinator"
                );
                logged = true;
            }
            sleep(Duration::from_millis(250)).await;
        }
    }

    /// Restarts the container (or, with graceful shutdown on PrestoDB, asks the coordinator to stop
    /// and starts the container again). Returns the Unix time just before, for log excerpts.
    ///
    /// `serving` says whether the coordinator answers now. One that does not — crash-looping on a
    /// bad catalog, or still starting — has nothing to drain and may not have installed its
    /// SIGTERM handler yet: a JVM that is PID 1 of its container then ignores the signal, and
    /// Docker waits out the whole stop timeout (measured: 30 s, exit 137, in 3 of 4 rollbacks on
    /// Trino 476). It is killed at once instead.
    pub async fn restart(
        &self,
        client: &Client,
        presto: bool,
        serving: bool,
        beat: impl FnMut(),
    ) -> Result<i64, RestartError> {
        let since = crate::clock::now_secs() as i64;
        if self.settings.method == RestartMethod::EngineShutdown {
            self.shut_down(client, serving, beat).await?;
            return Ok(since);
        }
        if self.settings.method == RestartMethod::Signal {
            self.signal(serving, beat).await?;
            return Ok(since);
        }
        // Docker must answer before the engine is asked to stop: nothing else would start it.
        self.connect().await?;
        if self.settings.graceful_shutdown && presto && serving {
            let before = self.container_state().await.and_then(|s| s.started_at_ms);
            match client.request_shutdown().await {
                Ok(()) => {
                    self.start_after_exit(before, beat).await?;
                    return Ok(since);
                }
                Err(e) => tracing::warn!(
                    error = %e,
                    "the coordinator refused a graceful shutdown; restarting its container instead"
                ),
            }
        }
        self.docker_restart(serving).await?;
        Ok(since)
    }

    /// After the engine in the container was asked to shut down (it had started at
    /// `started_before`): waits until it exits — stopped by force after the drain timeout and a
    /// margin — and starts the container again unless its restart policy does.
    pub async fn start_after_exit(
        &self,
        started_before: Option<u64>,
        mut beat: impl FnMut(),
    ) -> Result<(), RestartError> {
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
            tracing::info!(container = %self.name(), "the container has no restart policy that starts it again; docker start");
            docker
                .start_container(self.name(), None)
                .await
                .map_err(|e| self.err(e))?;
        }
        Ok(())
    }

    /// `docker restart` of the container: SIGTERM, then SIGKILL after --stop-timeout — at once
    /// when the engine in it does not serve (see [`Restarter::restart`]).
    pub async fn docker_restart(&self, serving: bool) -> Result<(), RestartError> {
        let docker = self.connect().await?;
        let stop_timeout = if serving {
            self.settings.stop_timeout.as_secs() as i32
        } else {
            0
        };
        tracing::info!(
            container = %self.name(),
            stop_timeout_s = stop_timeout,
            serving,
            "docker restart"
        );
        let options = RestartContainerOptionsBuilder::default()
            .t(stop_timeout)
            .build();
        let asked = Instant::now();
        docker
            .restart_container(self.name(), Some(options))
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
    pub async fn start_if_stopped(&self) -> Result<(), RestartError> {
        let docker = self.connect().await?;
        let state = docker
            .inspect_container(self.name(), None)
            .await
            .map_err(|e| self.err(e))?
            .state
            .unwrap_or_default();
        if !matches!(
            state.status,
            Some(ContainerStateStatusEnum::RUNNING | ContainerStateStatusEnum::RESTARTING)
        ) {
            tracing::info!(container = %self.name(), "docker start");
            docker
                .start_container(self.name(), None)
                .await
                .map_err(|e| self.err(e))?;
        }
        Ok(())
    }

    /// The same settings for another container (a worker's), restarted through Docker.
    pub fn for_container(&self, name: &str) -> Restarter {
        let mut settings = self.settings.clone();
        settings.container = Some(name.to_string());
        settings.method = RestartMethod::Docker;
        Restarter {
            host: self.host.clone(),
            settings,
        }
    }

    /// The running container that has the host of `uri` (a node's address as the coordinator
    /// lists it, `http://172.18.0.3:8080`) as its address on one of its networks, or as its name
    /// or a network alias. `None` when no container has it (the node runs elsewhere).
    pub async fn container_at(&self, uri: &str) -> Result<Option<String>, RestartError> {
        let Some(host) = reqwest::Url::parse(uri)
            .ok()
            .and_then(|u| u.host_str().map(|h| h.trim_matches(['[', ']']).to_string()))
        else {
            return Ok(None);
        };
        let docker = self.connect_daemon().await?;
        let containers = docker
            .list_containers(None)
            .await
            .map_err(|e| docker_error(&self.host, "", e))?;
        Ok(containers
            .iter()
            .find_map(|c| container_with_address(c, &host)))
    }

    /// The engine-shutdown method: `PUT /v1/info/state "SHUTTING_DOWN"`, then wait until the
    /// coordinator's process is gone; the restart policy of its container or pod starts it again.
    /// A coordinator that does not serve (crash-looping on a bad catalog, or starting) is left to
    /// that policy: its next start reads the folder as it is now.
    async fn shut_down(
        &self,
        client: &Client,
        serving: bool,
        mut beat: impl FnMut(),
    ) -> Result<(), RestartError> {
        if !serving {
            tracing::info!(
                "the coordinator does not serve; its restart policy starts it again with the folder as it is"
            );
            return Ok(());
        }
        let refused = |detail: String| RestartError::Refused {
            container: "coordinator".into(),
            detail,
        };
        client.request_shutdown().await.map_err(|e| {
            refused(match &e {
                EngineError::Auth { .. } | EngineError::Http { .. } => format!(
                    "{e} — a Trino coordinator does not shut down on request: restart it with --restart-method docker (its container) or signal (a shared PID namespace)"
                ),
                _ => e.to_string(),
            })
        })?;
        tracing::info!(
            "asked the coordinator to shut down (PUT /v1/info/state SHUTTING_DOWN); its restart policy starts it again"
        );
        let deadline = Instant::now() + self.settings.drain_timeout + Duration::from_secs(180);
        let uptime = |info: &ServerInfo| info.uptime_seconds();
        let before = client.info_within(READY_POLL_TIMEOUT).await.ok();
        loop {
            beat();
            match client.info_within(Duration::from_secs(1)).await {
                Err(EngineError::Unreachable {
                    timed_out: false, ..
                }) => return Ok(()),
                // Back already: a start younger than the one asked to stop.
                Ok(info)
                    if info.starting
                        || before
                            .as_ref()
                            .and_then(uptime)
                            .zip(uptime(&info))
                            .is_some_and(|(old, new)| new < old) =>
                {
                    return Ok(());
                }
                _ => {}
            }
            if Instant::now() >= deadline {
                return Err(refused(format!(
                    "it accepted the shutdown but still runs after {}",
                    humantime::format_duration(
                        self.settings.drain_timeout + Duration::from_secs(180)
                    )
                )));
            }
            sleep(Duration::from_millis(250)).await;
        }
    }

    /// The signal method: SIGTERM to the coordinator's server process (SIGKILL when it does not
    /// serve: it has nothing to finish, and a JVM still starting may not handle SIGTERM yet), then
    /// wait until it is gone — SIGKILL after --stop-timeout —; its restart policy starts it again.
    async fn signal(&self, serving: bool, mut beat: impl FnMut()) -> Result<(), RestartError> {
        let refused = |detail: String| RestartError::Refused {
            container: "coordinator".into(),
            detail,
        };
        let pid = match server_processes(Path::new("/proc")).as_slice() {
            [one] => *one,
            // Between two starts of a crash loop: the next start reads the folder as it is.
            [] if !serving => {
                tracing::info!(
                    "no coordinator process runs now; its restart policy starts it again with the folder as it is"
                );
                return Ok(());
            }
            [] => {
                return Err(refused(
                    "no Trino or PrestoDB server process is visible to the agent: share the coordinator's PID namespace with it (Kubernetes shareProcessNamespace: true; compose pid: \"service:…\" of a service that outlives the coordinator)".into(),
                ));
            }
            several => {
                return Err(refused(format!(
                    "{} Trino or PrestoDB server processes are visible ({several:?}); the signal method needs the coordinator's alone",
                    several.len()
                )));
            }
        };
        let send = |signal: libc::c_int| -> Result<(), RestartError> {
            // SAFETY: kill(2) with a pid read from /proc and a constant signal number.
            if unsafe { libc::kill(pid, signal) } == 0 {
                return Ok(());
            }
            let e = std::io::Error::last_os_error();
            Err(refused(match e.raw_os_error() {
                Some(libc::EPERM) => format!(
                    "the agent may not signal the coordinator's process {pid} ({e}): run the agent as the coordinator's user"
                ),
                _ => format!("cannot signal the coordinator's process {pid}: {e}"),
            }))
        };
        let gone = || {
            !Path::new(&format!("/proc/{pid}")).exists()
                || server_processes(Path::new("/proc")).first() != Some(&pid)
        };
        if serving {
            tracing::info!(
                pid,
                "SIGTERM to the coordinator's process; its restart policy starts it again"
            );
            send(libc::SIGTERM)?;
        } else {
            tracing::info!(
                pid,
                "the coordinator does not serve: SIGKILL to its process; its restart policy starts it again"
            );
            send(libc::SIGKILL)?;
        }
        let deadline = Instant::now() + self.settings.stop_timeout;
        let mut killed = !serving;
        loop {
            beat();
            if gone() {
                return Ok(());
            }
            if Instant::now() >= deadline && !killed {
                tracing::warn!(pid, stop_timeout = %humantime::format_duration(self.settings.stop_timeout), "the coordinator's process still runs; SIGKILL");
                send(libc::SIGKILL)?;
                killed = true;
            }
            if Instant::now() >= deadline + Duration::from_secs(30) {
                return Err(refused(format!("process {pid} still runs after SIGKILL")));
            }
            sleep(Duration::from_millis(100)).await;
        }
    }

    /// After a graceful shutdown request: the coordinator waits its grace period and for running
    /// queries, then exits. Bounded by the drain timeout plus a margin; then stopped by force.
    /// A restart policy (`restart: always`, `unless-stopped`) may start the container again before
    /// a poll sees it stopped: a new start time counts as stopped too.
    /// Returns whether a restart policy already started it again.
    async fn wait_stopped(
        &self,
        docker: &Docker,
        started_before: Option<u64>,
        mut beat: impl FnMut(),
    ) -> Result<bool, RestartError> {
        let deadline = Instant::now() + self.settings.drain_timeout + Duration::from_secs(180);
        loop {
            beat();
            let inspect = docker
                .inspect_container(self.name(), None)
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
                    container = %self.name(),
                    "the engine did not stop after its graceful shutdown; stopping the container"
                );
                return docker
                    .stop_container(self.name(), None)
                    .await
                    .map(|()| false)
                    .map_err(|e| self.err(e));
            }
            sleep(Duration::from_millis(250)).await;
        }
    }

    /// After the coordinator stopped: whether the container's restart policy (`always`,
    /// `unless-stopped`) started it again within a while. (A graceful shutdown exits 0, which
    /// `on-failure` does not restart.)
    async fn policy_brings_back(
        &self,
        docker: &Docker,
        started_before: Option<u64>,
        mut beat: impl FnMut(),
    ) -> Result<bool, RestartError> {
        use bollard::models::RestartPolicyNameEnum;
        let deadline = Instant::now() + POLICY_START_WAIT;
        loop {
            beat();
            let inspect = docker
                .inspect_container(self.name(), None)
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

    /// Waits for `/v1/info` to say `starting: false`, watching the container: if it exits or
    /// keeps restarting, the coordinator is not coming up.
    pub async fn wait_ready(
        &self,
        client: &Client,
        mut beat: impl FnMut(),
    ) -> Result<ServerInfo, NotReady> {
        let deadline = Instant::now() + self.settings.start_timeout;
        let mut last_error: String;
        let docker = self.connect().await.ok();
        // The start being waited for: a later start (or a higher restart count) is the restart
        // policy bringing back a coordinator that died — a crash loop, even though Docker shows
        // `running` most of the time (measured: Trino 476 with a bad catalog under `restart:
        // unless-stopped` dies every 10–15 s).
        let mut first_start: Option<(Option<String>, Option<i64>)> = None;
        // A start that fails closes the HTTP port; the process normally exits seconds later, but
        // a PrestoDB 0.296 container was seen to hang in `System.exit` for good after logging its
        // error (5 of 19 starts with an unknown connector): answered once, silent since.
        let mut answered = false;
        let mut silent_since: Option<Instant> = None;
        loop {
            beat();
            match client.info_within(READY_POLL_TIMEOUT).await {
                Ok(info) if !info.starting => return Ok(info),
                Ok(_) => {
                    answered = true;
                    silent_since = None;
                    last_error = "the coordinator is still starting".into();
                }
                Err(e) => {
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
                    last_error = e.to_string();
                }
            }
            if silent_since.is_some_and(|t| t.elapsed() >= PORT_CLOSED_GRACE) {
                return Err(NotReady {
                    reason: format!(
                        "the coordinator answered while starting, then closed its port and has not come back for {} ({last_error})",
                        humantime::format_duration(PORT_CLOSED_GRACE)
                    ),
                    exit_code: None,
                });
            }
            if let Some(docker) = &docker
                && let Ok(inspect) = docker.inspect_container(self.name(), None).await
                && let Some(state) = inspect.state
            {
                let exited = matches!(
                    state.status,
                    Some(ContainerStateStatusEnum::EXITED | ContainerStateStatusEnum::DEAD)
                );
                let this_start = (state.started_at.clone(), inspect.restart_count);
                let restarted_again = match &first_start {
                    None => {
                        first_start = Some(this_start);
                        false
                    }
                    Some(first) => *first != this_start,
                };
                let crash_looping = restarted_again
                    || (matches!(state.status, Some(ContainerStateStatusEnum::RESTARTING))
                        && state.exit_code.is_some_and(|c| c != 0));
                if exited || crash_looping {
                    return Err(NotReady {
                        reason: format!(
                            "the coordinator's container {} (exit code {})",
                            if exited { "exited" } else { "keeps restarting" },
                            state
                                .exit_code
                                .map_or_else(|| "unknown".into(), |c| c.to_string())
                        ),
                        exit_code: state.exit_code,
                    });
                }
            }
            if Instant::now() >= deadline {
                return Err(NotReady {
                    reason: format!(
                        "the coordinator did not become ready within {} ({last_error})",
                        humantime::format_duration(self.settings.start_timeout)
                    ),
                    exit_code: None,
                });
            }
            sleep(READY_POLL_EVERY).await;
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
        let mut stream = docker.logs(self.name(), Some(options));
        while let Some(Ok(chunk)) = stream.next().await {
            out.push_str(&chunk.to_string());
        }
        out.trim().to_string()
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContainerState {
    pub running: bool,
    pub started_at_ms: Option<u64>,
}

/// Presto's `/v1/cluster` (facts §4): running + queued + blocked queries.
async fn cluster_running(client: &Client) -> Option<usize> {
    let stats = client.cluster_stats().await.ok()?;
    let n = |k: &str| {
        stats
            .get(k)
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(0)
    };
    Some((n("runningQueries") + n("queuedQueries") + n("blockedQueries")) as usize)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_server_process_is_found_by_its_main_class_among_others() {
        let proc = tempfile::tempdir().unwrap();
        let process = |pid: &str, args: &[&str]| {
            let dir = proc.path().join(pid);
            std::fs::create_dir(&dir).unwrap();
            let mut cmdline = args.join("\0").into_bytes();
            cmdline.push(0);
            std::fs::write(dir.join("cmdline"), cmdline).unwrap();
        };
        process("1", &["/pause"]);
        process(
            "7",
            &[
                "java",
                "-Xmx2G",
                "-cp",
                "/usr/lib/trino/lib/*",
                "io.trino.server.TrinoServer",
            ],
        );
        // The launcher's own command line names the class only inside an argument.
        process(
            "5",
            &[
                "python3",
                "launcher.py",
                "run",
                "--main=io.trino.server.TrinoServer",
            ],
        );
        process("9", &["/catalog-reloader", "run"]);
        std::fs::create_dir(proc.path().join("self")).unwrap();
        assert_eq!(super::server_processes(proc.path()), [7]);
        process("12", &["java", "com.facebook.presto.server.PrestoServer"]);
        assert_eq!(super::server_processes(proc.path()), [7, 12]);
        assert!(super::server_processes(&proc.path().join("none")).is_empty());
    }

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
        let found = |host: &str| super::container_with_address(&summary, host);
        let name = Some("cluster-worker-1".to_string());
        assert_eq!(found("172.18.0.3"), name);
        assert_eq!(found("cluster-worker-1"), name);
        assert_eq!(found("worker-1"), name);
        assert_eq!(found("172.18.0.4"), None);
        // An empty address on another network matches nothing.
        assert_eq!(found(""), None);
        assert_eq!(found("worker"), None);
    }

    use super::started_at_ms;

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
