//! One pass: scan → engine state → plan → apply → record. The [`Agent`] keeps what must survive
//! between passes (ledger, failure backoff, rate limits, what the engine is) and [`run`] drives
//! passes one at a time, coalescing triggers that arrive meanwhile into one more pass.
//!
//! Applying differs by mode: [`dynamic`] sends CREATE/DROP CATALOG; [`restart`] renders the
//! coordinator's catalog folder and restarts its container. [`record`] turns what happened into
//! per-catalog status.

mod cluster;
mod dynamic;
mod record;
mod restart;

use crate::catalog::{CatalogSpec, Fingerprint, Flavour};
use crate::engine::catalogs::CatalogLister;
use crate::engine::nodes::method::Restarter;
use crate::engine::nodes::{NodeError, RestartSettings};
use crate::engine::{Client, EngineError, ServerInfo};
use crate::engine::{Live, LiveCatalog, Management, Mode, ModeChoice};
use crate::health::{Heartbeats, Readiness};
use crate::ledger::{self, EngineMemo, Ledger};
use crate::metrics::Metrics;
use crate::plan::{self, Hold, HoldKind, Plan};
use crate::scan::{self, Desired, ScanError};
use crate::status::{self, EngineStatus, PassStatus, SharedStatus, State};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};

/// Why a pass runs. Ordered by strength: a stronger trigger absorbs weaker ones when coalescing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Trigger {
    /// A file event (or a change found by polling). May skip the engine when nothing changed.
    Event,
    /// A retry after a failure, a backoff or a rate limit.
    Retry,
    /// The periodic full pass.
    Resync,
    /// The first pass.
    Startup,
}

impl From<crate::watch::Signal> for Trigger {
    fn from(signal: crate::watch::Signal) -> Self {
        match signal {
            crate::watch::Signal::Changed => Trigger::Event,
            crate::watch::Signal::Resync => Trigger::Resync,
        }
    }
}

impl Trigger {
    pub fn label(self) -> &'static str {
        match self {
            Trigger::Event => "event",
            Trigger::Retry => "retry",
            Trigger::Resync => "resync",
            Trigger::Startup => "startup",
        }
    }
}

/// Restart mode's settings.
#[derive(Debug, Clone, Default)]
pub struct RestartOptions {
    /// The coordinator's catalog folder.
    pub target_dir: Option<PathBuf>,
    /// How to restart the coordinator; `None` for the Docker method without `--container` (then
    /// only `sync` works).
    pub coordinator: Option<RestartSettings>,
    pub min_restart_interval: Duration,
    /// Clusters: a worker is restarted only while this many other workers are active.
    pub min_active_workers: usize,
    /// Clusters: how workers are restarted.
    pub worker_method: crate::engine::nodes::WorkerRestartMethod,
    /// Clusters without a shared volume: the port of each worker's follower.
    pub follower_port: Option<u16>,
    /// The key the leader and its followers exchange fingerprints with.
    pub cluster_key: Option<crate::release::ClusterKey>,
}

pub struct Settings {
    pub catalog_dir: PathBuf,
    pub forced_flavour: Option<Flavour>,
    pub mode: ModeChoice,
    pub adopt: bool,
    /// 0 = unlimited.
    pub max_changes_per_minute: u32,
    pub restart: RestartOptions,
    /// `sync`: in restart mode, render the target folder and stop (an init step before the
    /// coordinator starts); never restart.
    pub render_only: bool,
}

/// What a pass left behind, for the run loop, `sync`'s exit code and readiness.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PassResult {
    /// Every valid catalog is as its file says; no file is invalid and no catalog failed, conflicts
    /// or waits.
    Converged,
    /// Nothing changed in the folder since the last converged pass: the engine was not contacted.
    Unchanged,
    /// Some catalog is invalid, failed, in conflict or waiting.
    Degraded,
    /// The pass could not run: the folder, the engine or Docker could not be used.
    Error(String),
}

impl PassResult {
    pub fn label(&self) -> &'static str {
        match self {
            PassResult::Converged => "converged",
            PassResult::Unchanged => "unchanged",
            PassResult::Degraded => "degraded",
            PassResult::Error(_) => "error",
        }
    }
}

#[derive(Debug, Clone)]
pub struct PassReport {
    pub result: PassResult,
    /// When to run again without a trigger (failure backoff, rate limit, unreachable engine).
    pub retry_in: Option<Duration>,
    /// Every catalog the files ask for is applied or has a verdict; nothing waits.
    pub settled: bool,
}

/// Everything a plan is made from, for `plan` output and for applying.
pub struct Prepared {
    /// The catalogs this pass looked at, when not all (a file event: what its files stand for);
    /// status and plan say nothing about the others.
    pub scope: Option<BTreeSet<String>>,
    pub desired: Arc<Desired>,
    /// Dynamic mode: the engine's catalogs. Restart mode: the target folder's catalog files.
    pub live: Arc<Live>,
    pub plan: Plan,
    pub mode: Mode,
    /// `--mode auto` on a Trino that has not refused a change as static: dynamic is assumed.
    pub mode_assumed: bool,
    /// `None` when the engine was not asked (restart mode's render-only `sync`).
    pub info: Option<ServerInfo>,
}

#[derive(Debug, thiserror::Error)]
pub enum PassError {
    #[error(transparent)]
    Scan(#[from] ScanError),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Restart(#[from] NodeError),
    #[error("{0}")]
    Unsupported(String),
}

impl PassError {
    /// Failures that go away by themselves (engine or Docker down): retried with backoff.
    pub fn is_transient(&self) -> bool {
        matches!(self, PassError::Engine(_))
            || matches!(self, PassError::Restart(e) if e.is_transient())
    }
}

struct Failure {
    fingerprint: Option<Fingerprint>,
    attempts: u32,
    retry_at: Instant,
    error: String,
    error_name: Option<String>,
    until: Until,
    /// What was done about it (e.g. "the previous definition was restored"), kept for /status.
    note: Option<String>,
}

/// When a failed definition is tried again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Until {
    /// After a backoff (10 s, doubling to 5 min), or when its file changes: a refusal that may
    /// not repeat (a data source down, a permission not granted yet).
    Backoff,
    /// When its file changes: it kept the coordinator from starting (restart mode).
    FileChanges,
    /// When its file changes or the coordinator restarts: the engine refused it for a reason
    /// that repeats (a configuration error, no such connector, an unset environment variable).
    /// Retrying would only write the statement — literal secrets included — into the engine's
    /// query history again.
    FileOrEngineChanges,
}

const BACKOFF_FIRST: Duration = Duration::from_secs(10);
const BACKOFF_MAX: Duration = Duration::from_secs(300);
const ENGINE_BACKOFF_MAX: Duration = Duration::from_secs(30);
const RATE_WINDOW: Duration = Duration::from_secs(60);
/// How long the file of an owned catalog must stay away before the catalog is dropped (passes
/// other than the first).
const DROP_GRACE: Duration = Duration::from_secs(1);
/// How soon a ledger that could not be saved is tried again.
const LEDGER_RETRY: Duration = Duration::from_secs(5);
/// A definition that kept the coordinator from starting is not tried again until its file changes.
const UNTIL_FILE_CHANGES: Duration = Duration::from_secs(100 * 365 * 24 * 3600);
/// How long a removed catalog stays visible in `/status`.
const REMOVED_RETENTION_SECS: u64 = 600;

pub struct Agent {
    settings: Settings,
    client: Client,
    lister: CatalogLister,
    restarter: Option<Restarter>,
    store: Arc<ledger::Store>,
    ledger: Ledger,
    /// Why the ledger could not be saved, until it can again.
    ledger_error: Option<String>,
    flavour: Flavour,
    last_uptime: Option<f64>,
    /// `/v1/info` as the last pass that reached the engine saw it.
    last_info: Option<ServerInfo>,
    /// When `last_info` was read (Unix milliseconds): its uptime was true then.
    last_info_at_ms: u64,
    management: Option<Management>,
    failures: BTreeMap<String, Failure>,
    recent_changes: BTreeMap<String, VecDeque<Instant>>,
    converged_digest: Option<[u8; 32]>,
    engine_failures: u32,
    last_restart: Option<Instant>,
    /// Drops of catalogs whose connector leaks on DROP since the coordinator (last) started.
    leaky_drops: u32,
    /// Restart mode: the difference between what the coordinator lists and the folder right after
    /// a verified start (a disabled catalog, access control hiding one). Restarting again would
    /// not change it, so it is no reason to restart.
    accepted_drift: Option<(BTreeSet<String>, BTreeSet<String>)>,
    /// Dynamic mode: the engine's catalogs as the last listing showed them, kept up to date with
    /// every change the engine accepted since. A file event plans against it instead of listing
    /// again (a full query on Trino, ~100 ms); resyncs, retries and any surprise list again.
    live_cache: Option<Arc<Live>>,
    /// Changes the engine accepted during the current pass, for `live_cache` once the pass's own
    /// copy of it is gone (no copy of thousands of catalogs per change).
    live_changes: Vec<(String, Option<LiveCatalog>)>,
    /// The folder as the last read of it gave, for file events to read only what they name.
    desired_cache: Option<Arc<Desired>>,
    /// What the watch saw change (`run` only; without it every pass reads the whole folder).
    dirty: Option<crate::watch::SharedDirty>,
    /// Owned catalogs whose file is gone, since when (see [`DROP_GRACE`]).
    absent_since: BTreeMap<String, Instant>,
    /// Dynamic mode: "already exists" answers in a row per catalog the listing did not show.
    races: BTreeMap<String, u32>,
    /// Literal secret values already warned about: (catalog, key, definition).
    warned_secrets: BTreeSet<(String, String, Fingerprint)>,
    /// Restart mode: whether this process has compared the target files' render times with the
    /// coordinator's start yet.
    checked_render_times: bool,
    /// Restart mode: rollbacks in a row after which the coordinator still did not start.
    failed_rollbacks: u32,
    status: SharedStatus,
    metrics: Arc<Metrics>,
    heartbeats: Arc<Heartbeats>,
    stop: Arc<AtomicBool>,
}

impl Agent {
    pub fn new(
        settings: Settings,
        client: Client,
        store: ledger::Store,
        status: SharedStatus,
        metrics: Arc<Metrics>,
        heartbeats: Arc<Heartbeats>,
    ) -> Result<Self, String> {
        let loaded = store.load().map_err(|e| e.to_string())?;
        if let Some(note) = &loaded.set_aside {
            tracing::error!(error = %note, "ledger set aside");
            status
                .lock()
                .expect("status lock")
                .warnings
                .push(note.clone());
        }
        let restarter = match &settings.restart.coordinator {
            Some(docker) if !settings.render_only => Some(Restarter::new(docker.clone())),
            _ => None,
        };
        let flavour = settings.forced_flavour.unwrap_or(Flavour::Trino);
        let mut agent = Agent {
            settings,
            client,
            lister: CatalogLister::default(),
            restarter,
            store: Arc::new(store),
            ledger: loaded.ledger,
            ledger_error: None,
            flavour,
            last_uptime: None,
            leaky_drops: 0,
            accepted_drift: None,
            failed_rollbacks: 0,
            checked_render_times: false,
            races: BTreeMap::new(),
            absent_since: BTreeMap::new(),
            live_cache: None,
            live_changes: Vec::new(),
            desired_cache: None,
            dirty: None,
            warned_secrets: BTreeSet::new(),
            last_info: None,
            last_info_at_ms: 0,
            management: None,
            failures: BTreeMap::new(),
            recent_changes: BTreeMap::new(),
            converged_digest: None,
            engine_failures: 0,
            last_restart: None,
            status,
            metrics,
            heartbeats,
            stop: Arc::new(AtomicBool::new(false)),
        };
        agent.client.set_flavour(flavour);
        // Definitions that broke a coordinator start stay held across agent restarts, and so do
        // refusals that repeat (until the coordinator is seen to have restarted since).
        for (name, broken) in agent.ledger.restart.broken.clone() {
            agent.note_failure(
                &name,
                Some(broken.fingerprint),
                broken.error,
                None,
                Until::FileChanges,
            );
        }
        for (name, refused) in agent.ledger.refused.clone() {
            agent.note_failure(
                &name,
                Some(refused.fingerprint),
                refused.error,
                refused.error_name,
                Until::FileOrEngineChanges,
            );
        }
        if let Some(memo) = &agent.ledger.engine
            && memo.server == agent.client.server()
        {
            agent.management = Some(if memo.dynamic {
                Management::Dynamic
            } else {
                Management::Static
            });
        }
        Ok(agent)
    }

    /// A connection check's temporary catalog ([`crate::check`]) is never planned; one that a
    /// check killed half-way left behind is dropped once it is older than any check takes.
    async fn sweep_check_leftovers(&mut self, mut live: Live) -> Live {
        let temporary: Vec<String> = live
            .keys()
            .filter(|name| crate::catalog::is_check_catalog(name))
            .cloned()
            .collect();
        let now = crate::clock::now_secs();
        for name in temporary {
            live.remove(&name);
            if !crate::check::is_leftover(&name, now, self.client.statement_timeout()) {
                continue;
            }
            match crate::engine::catalogs::drop_catalog(&self.client, &name).await {
                Ok(()) => {
                    tracing::info!(catalog = %name, "dropped a connection check's leftover catalog")
                }
                Err(e) => {
                    tracing::warn!(catalog = %name, error = %e, "cannot drop a connection check's leftover catalog")
                }
            }
        }
        live
    }

    /// How many catalogs `/status` shows (a cheap measure of the agent's size).
    pub fn catalogs_known(&self) -> usize {
        self.status.lock().expect("status lock").catalogs.len()
    }

    /// The key the leader shares with its followers (`--cluster-key-file`), as loaded at start.
    pub fn cluster_key(&self) -> Option<&crate::release::ClusterKey> {
        self.settings.restart.cluster_key.as_ref()
    }

    /// Set to stop between two statements (graceful shutdown).
    pub fn stop_flag(&self) -> Arc<AtomicBool> {
        self.stop.clone()
    }

    fn beat(&self) {
        self.heartbeats.beat_reconcile();
    }

    async fn scan_dir(&self, dir: PathBuf) -> Result<Desired, ScanError> {
        let flavour = self.flavour;
        tokio::task::spawn_blocking(move || scan::scan(&dir, flavour))
            .await
            .expect("scan task does not panic")
    }

    /// Reads the whole folder, and remembers it for later file events.
    async fn scan(&mut self) -> Result<Arc<Desired>, ScanError> {
        // Taken before reading: a change made while the folder is read is read again.
        self.take_dirty();
        let desired = Arc::new(self.scan_dir(self.settings.catalog_dir.clone()).await?);
        self.desired_cache = Some(desired.clone());
        Ok(desired)
    }

    /// Passes read the files the watch reports through this.
    pub fn watch_changes(&mut self, dirty: crate::watch::SharedDirty) {
        self.dirty = Some(dirty);
    }

    /// The files changed since the last read, or `None` for "read everything".
    fn take_dirty(&mut self) -> Option<std::collections::BTreeSet<String>> {
        let dirty = self.dirty.as_ref()?;
        let mut dirty = dirty.lock().unwrap_or_else(|e| e.into_inner());
        let all = std::mem::take(&mut dirty.all);
        let files = std::mem::take(&mut dirty.files);
        (!all).then_some(files)
    }

    /// The folder after a file event: the files the watch named read again into what the agent
    /// knew, or the whole folder when it knows nothing yet or the watch cannot say what changed.
    /// Also returns the catalogs the files read stand for (`None`: the whole folder was read).
    async fn read_changes(
        &mut self,
    ) -> Result<(Arc<Desired>, Option<BTreeSet<String>>), ScanError> {
        let files = match (self.desired_cache.is_some(), self.take_dirty()) {
            (true, Some(files)) => files,
            _ => return Ok((self.scan().await?, None)),
        };
        let scope: BTreeSet<String> = files.iter().flat_map(|f| scan::names_for_file(f)).collect();
        // The last pass's copy is gone by now: no clone.
        let mut desired = Arc::unwrap_or_clone(self.desired_cache.take().expect("checked"));
        let dir = self.settings.catalog_dir.clone();
        let flavour = self.flavour;
        let read = tokio::task::spawn_blocking(move || {
            // A folder that is gone is an error, as for a whole read: never "every file gone".
            match std::fs::metadata(&dir) {
                Ok(meta) if meta.is_dir() => {}
                Ok(_) => {
                    return Err(ScanError {
                        dir,
                        source: std::io::Error::other("not a folder"),
                    });
                }
                Err(source) => return Err(ScanError { dir, source }),
            }
            scan::rescan_files(
                &dir,
                files.iter().map(String::as_str),
                flavour,
                &mut desired,
            );
            Ok(desired)
        })
        .await
        .expect("scan task does not panic")?;
        let read = Arc::new(read);
        self.desired_cache = Some(read.clone());
        Ok((read, Some(scope)))
    }

    /// Reads `/v1/info`, learns the flavour, notices coordinator restarts.
    async fn engine_info(&mut self) -> Result<ServerInfo, EngineError> {
        let info = match self.client.info().await {
            Ok(info) if info.starting => Err(EngineError::Starting),
            other => other,
        };
        let info = match info {
            Ok(info) => info,
            Err(e) => {
                self.metrics.set_engine_up(false);
                self.update_engine_status(None, Some(&e));
                return Err(e);
            }
        };
        self.metrics.set_engine_up(true);
        let flavour = self
            .settings
            .forced_flavour
            .unwrap_or_else(|| info.flavour());
        if flavour != self.flavour {
            self.flavour = flavour;
            self.client.set_flavour(flavour);
            // Files are read with the engine's rules (connector names): read them again.
            self.desired_cache = None;
        }
        let uptime = info.uptime_seconds();
        let read_at_ms = crate::clock::now_millis();
        if let (Some(before), Some(now)) = (self.last_uptime, uptime)
            && restarted_between((self.last_info_at_ms, before), (read_at_ms, now))
        {
            // A restart the agent did not make may come with a new configuration: a static
            // coordinator may now be dynamic. (After its own restarts in restart mode, the
            // configuration is the one it learnt.)
            let restarted_by_us = self
                .last_restart
                .is_some_and(|at| at.elapsed().as_secs_f64() < now + 60.0);
            tracing::info!(
                uptime = %info.uptime.as_deref().unwrap_or(""),
                restarted_by_this_agent = restarted_by_us,
                "the coordinator restarted; checking its catalogs again"
            );
            if self.settings.mode == ModeChoice::Auto && !restarted_by_us {
                if self.management == Some(Management::Static) {
                    self.ledger.engine = None;
                    self.save_ledger();
                }
                self.management = None;
            }
            self.forget_refusals_on_restart();
            self.converged_digest = None;
            self.live_cache = None;
            self.leaky_drops = 0;
            self.lister.reset();
        }
        let first_answer = self.last_uptime.is_none();
        self.last_uptime = uptime;
        self.update_engine_status(Some(&info), None);
        self.last_info = Some(info.clone());
        self.last_info_at_ms = read_at_ms;
        if first_answer {
            self.check_refusals_against_engine();
        }
        Ok(info)
    }

    fn update_engine_status(&self, info: Option<&ServerInfo>, error: Option<&EngineError>) {
        let mut status = self.status.lock().expect("status lock");
        let previous = status.engine.take();
        status.engine = Some(match info {
            Some(info) => EngineStatus {
                flavour: self.flavour.to_string(),
                version: info.node_version.version.clone(),
                environment: info.environment.clone(),
                up: true,
                error: None,
            },
            None => EngineStatus {
                flavour: previous
                    .as_ref()
                    .map_or_else(|| "unknown".into(), |p| p.flavour.clone()),
                version: previous.map_or_else(|| "unknown".into(), |p| p.version),
                environment: None,
                up: false,
                error: error.map(ToString::to_string),
            },
        });
    }

    /// Decides how changes are applied, without asking the engine anything beyond `/v1/info`.
    ///
    /// Trino says nowhere a read-only client can see whether it runs `catalog.management=static`
    /// (measured on 476: not `/v1/info`, `/v1/status`, its MBeans, `EXPLAIN`, nor the system
    /// tables), and any statement that would tell — a DROP of a catalog that does not exist, say
    /// — leaves a failed query in its history and needs a permission to drop. So `auto` takes a
    /// Trino to be dynamic until the engine refuses a change the agent had to make anyway as
    /// "not supported by the static catalog store"; it then remembers that (in the ledger, per
    /// coordinator URL) and applies in restart mode. A coordinator restart the agent did not make
    /// forgets it, as the configuration may have changed with it.
    fn decide_mode(&mut self, info: Option<&ServerInfo>) -> Result<Mode, PassError> {
        let mode = self.settings.mode.decide(self.flavour, self.management);
        {
            let mut status = self.status.lock().expect("status lock");
            if status.mode.as_deref() != Some(mode.as_str()) {
                let why = match (self.settings.mode, mode, self.flavour) {
                    (ModeChoice::Auto, Mode::Restart, Flavour::Presto) => {
                        "PrestoDB cannot add catalogs at run time"
                    }
                    (ModeChoice::Auto, Mode::Restart, Flavour::Trino) => {
                        "this Trino runs with catalog.management=static (it refused a CREATE/DROP CATALOG as such)"
                    }
                    (ModeChoice::Auto, Mode::Dynamic, _) => {
                        "a Trino: dynamic catalog management, until the coordinator refuses a change as static"
                    }
                    _ => "chosen with --mode",
                };
                tracing::info!(
                    mode = mode.as_str(),
                    engine = %self.flavour,
                    version = %info.map_or("unknown", |i| i.node_version.version.as_str()),
                    reason = why,
                    "apply mode"
                );
                status.mode = Some(mode.as_str().to_string());
            }
        }
        self.metrics
            .set_build(mode.as_str(), &self.flavour.to_string());
        if mode == Mode::Restart && self.settings.restart.target_dir.is_none() {
            return Err(PassError::Unsupported(match (self.settings.mode, self.flavour) {
                (ModeChoice::Auto, Flavour::Trino) => "this Trino coordinator runs with static catalog management: either set catalog.management=dynamic on every node (see the README), or give the agent --target-dir (the coordinator's catalog folder) and --container so it can apply changes by restarting the coordinator".to_string(),
                _ => "restart mode needs --target-dir (the coordinator's catalog folder) and, to restart the coordinator, --container".to_string(),
            }));
        }
        Ok(mode)
    }

    /// The coordinator refused a change as "not supported by the static catalog store": from now
    /// on `auto` applies in restart mode.
    fn learn_static_management(&mut self) {
        tracing::info!(
            "the coordinator refused CREATE/DROP CATALOG as not supported by its static catalog store: it runs with catalog.management=static; changes are applied in restart mode from now on"
        );
        self.management = Some(Management::Static);
        self.remember_management(Management::Static);
    }

    fn remember_management(&mut self, m: Management) {
        self.ledger.engine = Some(EngineMemo {
            server: self.client.server().to_string(),
            dynamic: m == Management::Dynamic,
        });
        self.save_ledger();
    }

    /// What is remembered per catalog — failures, races, secret warnings — goes with the catalog:
    /// once no file names it, the agent does not own it and the engine does not run it, nothing
    /// about it is kept (names come and go; memory must not grow with them).
    fn forget_absent(&mut self, desired: &Desired, live: &Live) {
        let known = |name: &str| {
            desired.catalogs.contains_key(name)
                || desired.protected(name).is_some()
                || self.ledger.catalogs.contains_key(name)
                || live.contains_key(name)
        };
        let gone: Vec<String> = self
            .failures
            .keys()
            .chain(self.races.keys())
            .filter(|n| !known(n))
            .cloned()
            .collect();
        for name in gone {
            self.failures.remove(&name);
            self.races.remove(&name);
        }
        self.warned_secrets.retain(|(name, _, fingerprint)| {
            desired
                .catalogs
                .get(name)
                .is_some_and(|c| c.fingerprint == *fingerprint)
        });
    }

    /// Owned catalogs whose file has just gone are dropped only once it has stayed away for
    /// [`DROP_GRACE`]. Not at start-up: the folder as the agent finds it is what it is.
    fn hold_removals(
        &mut self,
        trigger: Trigger,
        desired: &Desired,
        scope: Option<&BTreeSet<String>>,
        holds: &mut BTreeMap<String, Hold>,
    ) {
        let now = Instant::now();
        let is_absent = |n: &String| {
            self.ledger.catalogs.contains_key(n)
                && !desired.catalogs.contains_key(n)
                && desired.protected(n).is_none()
        };
        // A file event can only make absent what its files stand for.
        let absent: BTreeSet<String> = match scope {
            Some(scope) => scope
                .iter()
                .chain(self.absent_since.keys())
                .filter(|n| is_absent(n))
                .cloned()
                .collect(),
            None => self
                .ledger
                .catalogs
                .keys()
                .filter(|n| is_absent(n))
                .cloned()
                .collect(),
        };
        self.absent_since.retain(|n, _| absent.contains(n));
        if trigger == Trigger::Startup {
            return;
        }
        for name in absent {
            let since = *self.absent_since.entry(name.clone()).or_insert(now);
            let left = (since + DROP_GRACE).saturating_duration_since(now);
            if !left.is_zero() && !holds.contains_key(&name) {
                holds.insert(
                    name.clone(),
                    Hold {
                        fingerprint: None,
                        kind: HoldKind::Removal,
                        reason: format!(
                            "its file is gone; dropped in {}ms unless it comes back",
                            left.as_millis().max(1)
                        ),
                    },
                );
            }
        }
    }

    /// Holds for catalogs in failure backoff or over their change budget.
    fn holds(&mut self, now: Instant) -> BTreeMap<String, Hold> {
        let mut holds = BTreeMap::new();
        for (name, f) in &self.failures {
            if f.retry_at > now {
                let reason = match f.until {
                    Until::FileChanges => "not tried again until its file changes".to_string(),
                    Until::FileOrEngineChanges => {
                        "not tried again until its file changes or the coordinator restarts"
                            .to_string()
                    }
                    Until::Backoff => format!(
                        "retrying in {}s, or when the file changes",
                        (f.retry_at - now).as_secs().max(1)
                    ),
                };
                holds.insert(
                    name.clone(),
                    Hold {
                        fingerprint: f.fingerprint,
                        kind: HoldKind::Backoff,
                        reason,
                    },
                );
            }
        }
        let limit = self.settings.max_changes_per_minute as usize;
        self.recent_changes.retain(|_, times| {
            while times
                .front()
                .is_some_and(|t| now.duration_since(*t) >= RATE_WINDOW)
            {
                times.pop_front();
            }
            !times.is_empty()
        });
        if limit > 0 {
            for (name, times) in &self.recent_changes {
                if times.len() >= limit && !holds.contains_key(name) {
                    let free_at = *times.front().expect("non-empty") + RATE_WINDOW;
                    holds.insert(
                        name.clone(),
                        Hold {
                            fingerprint: None,
                            kind: HoldKind::RateLimited,
                            reason: format!(
                                "rate limited: {limit} changes in the last minute; next change in {}s",
                                (free_at - now).as_secs().max(1)
                            ),
                        },
                    );
                }
            }
        }
        holds
    }

    /// Whether this pass needs `/v1/info` before deciding the mode.
    fn mode_needs_engine(&self) -> bool {
        match self.settings.mode {
            ModeChoice::Dynamic => true,
            ModeChoice::Restart => !self.settings.render_only,
            ModeChoice::Auto => {
                !(self.flavour == Flavour::Presto
                    && self.settings.forced_flavour.is_some()
                    && self.settings.render_only)
            }
        }
    }

    /// Reads folder, engine (and in restart mode the target folder) and computes the plan;
    /// changes nothing.
    pub async fn prepare(&mut self) -> Result<Prepared, PassError> {
        self.prepare_for(Trigger::Startup, None, None).await
    }

    /// As [`Agent::prepare`]. A file event reuses what `/v1/info` said last time: a coordinator
    /// that is starting or gone refuses the catalog listing anyway, and its restarts are noticed by
    /// the resync passes, which always ask.
    /// `scanned` is the folder as this pass already read it, if it did.
    async fn prepare_for(
        &mut self,
        trigger: Trigger,
        scanned: Option<Arc<Desired>>,
        mut scope: Option<BTreeSet<String>>,
    ) -> Result<Prepared, PassError> {
        // Restart mode renders even when the coordinator is down (it may be down because of a
        // bad catalog); the coordinator is needed only later, to restart and verify.
        let restart_for_sure = self.settings.mode == ModeChoice::Restart
            || (self.settings.mode == ModeChoice::Auto
                && self.settings.forced_flavour == Some(Flavour::Presto));
        let info = if trigger == Trigger::Event
            && self.last_info.is_some()
            && self.settings.mode != ModeChoice::Restart
        {
            self.last_info.clone()
        } else if self.mode_needs_engine() {
            match self.engine_info().await {
                Ok(info) => Some(info),
                Err(_) if restart_for_sure => None,
                Err(e) => return Err(e.into()),
            }
        } else {
            None
        };
        let mode = self.decide_mode(info.as_ref())?;
        let (desired, live) = match mode {
            Mode::Dynamic => {
                self.apply_live_changes();
                let cached = match trigger {
                    Trigger::Event => self.live_cache.clone(),
                    _ => None,
                };
                if let Some(live) = cached {
                    let desired = match scanned {
                        Some(desired) => desired,
                        None => self.scan().await?,
                    };
                    (desired, live)
                } else {
                    self.live_cache = None;
                    // Compared with the engine's own list: every catalog is looked at.
                    scope = None;
                    // Two independent reads: the folder (on a blocking thread) and the engine.
                    let (desired, live) = match scanned {
                        Some(desired) => (desired, self.lister.live(&self.client).await?),
                        None => {
                            self.take_dirty();
                            let dir = self.settings.catalog_dir.clone();
                            let (desired, live) =
                                tokio::join!(self.scan_dir(dir), self.lister.live(&self.client));
                            let desired = Arc::new(desired?);
                            self.desired_cache = Some(desired.clone());
                            (desired, live?)
                        }
                    };
                    self.settle_unanswered(&live);
                    let live = Arc::new(self.sweep_check_leftovers(live).await);
                    self.live_cache = Some(live.clone());
                    (desired, live)
                }
            }
            Mode::Restart => {
                scope = None;
                let desired = match scanned {
                    Some(desired) => desired,
                    None => self.scan().await?,
                };
                let (live, ours) = self.target_catalogs_and_ours().await?;
                let live = Arc::new(live);
                // Files the agent rendered are its own, ledger or not.
                for spec in ours {
                    if !self.ledger.catalogs.contains_key(&spec.name) {
                        self.ledger
                            .catalogs
                            .insert(spec.name.clone(), ledger::Entry::new(spec, false));
                    }
                }
                (desired, live)
            }
        };
        self.forget_absent(&desired, &live);
        let mut holds = self.holds(Instant::now());
        self.hold_removals(trigger, &desired, scope.as_ref(), &mut holds);
        // A drop held back for a moment is decided by the pass after it, whatever that pass read.
        if let Some(scope) = scope.as_mut() {
            scope.extend(self.absent_since.keys().cloned());
        }
        let plan = plan::diff_within(
            &desired,
            &live,
            &self.ledger,
            &holds,
            plan::Options {
                adopt: self.settings.adopt,
            },
            scope.as_ref(),
        );
        let mode_assumed = self.settings.mode == ModeChoice::Auto
            && self.flavour == Flavour::Trino
            && self.management.is_none();
        Ok(Prepared {
            desired,
            live,
            plan,
            scope,
            mode,
            mode_assumed,
            info,
        })
    }

    /// Brings the cached listing up to date with the changes of the passes since it was read.
    fn apply_live_changes(&mut self) {
        let changes = std::mem::take(&mut self.live_changes);
        let Some(live) = self.live_cache.as_mut() else {
            return;
        };
        if changes.is_empty() {
            return;
        }
        let live = Arc::make_mut(live);
        for (name, catalog) in changes {
            match catalog {
                Some(catalog) => {
                    live.insert(name, catalog);
                }
                None => {
                    live.remove(&name);
                }
            }
        }
    }

    /// CREATEs whose answer was lost: live with the connector sent means accepted (owned now);
    /// not live means not done (the plan creates it again).
    fn settle_unanswered(&mut self, live: &Live) {
        if self.ledger.unanswered.is_empty() {
            return;
        }
        for (name, spec) in std::mem::take(&mut self.ledger.unanswered) {
            let accepted = live
                .get(&name)
                .is_some_and(|l| l.connector.as_ref().is_none_or(|c| *c == spec.connector));
            // (Also when the ledger holds an older definition: the CREATE came after its DROP.)
            if accepted {
                tracing::info!(catalog = %name, "the engine accepted a CREATE whose answer was lost; the catalog is the agent's");
                self.ledger
                    .catalogs
                    .insert(name, ledger::Entry::new(spec, false));
            }
        }
        self.save_ledger();
    }

    /// Restart mode's live state: the catalog files in the target folder, with what they define.
    async fn target_catalogs(&self) -> Result<Live, ScanError> {
        self.target_catalogs_and_ours().await.map(|(live, _)| live)
    }

    /// [`Agent::target_catalogs`], plus the definitions of the files that carry the agent's marker.
    async fn target_catalogs_and_ours(&self) -> Result<(Live, Vec<CatalogSpec>), ScanError> {
        let dir = self
            .settings
            .restart
            .target_dir
            .clone()
            .expect("decide_mode checked --target-dir");
        let target = self.scan_dir(dir.clone()).await?;
        let ours: Vec<CatalogSpec> = target
            .catalogs
            .values()
            .filter(|c| crate::render::is_ours(&dir.join(&c.file)))
            .map(|c| c.spec.clone())
            .collect();
        let mut live: Live = target
            .catalogs
            .into_iter()
            .map(|(name, c)| {
                (
                    name,
                    LiveCatalog {
                        connector: Some(c.spec.connector),
                        fingerprint: Some(c.fingerprint),
                    },
                )
            })
            .collect();
        // A file the agent cannot read is still a file the coordinator will try to load.
        for bad in target.invalid {
            if let Some(name) = bad.catalog {
                live.entry(name).or_insert(LiveCatalog {
                    connector: None,
                    fingerprint: None,
                });
            }
        }
        Ok((live, ours))
    }

    /// One pass. Never panics on bad input or an unreachable engine: the report says what happened.
    pub async fn pass(&mut self, trigger: Trigger) -> PassReport {
        let started = Instant::now();
        let started_unix = crate::clock::now_secs();
        self.beat();
        self.metrics.count_pass(trigger.label());
        let mut report = self.pass_inner(trigger).await;
        if let Some(e) = self.persist_ledger().await
            && !matches!(report.result, PassResult::Error(_))
        {
            // The catalogs are right, but a restarted agent would not know which are its own:
            // not converged, not ready, said in /status; tried again soon.
            report.result = PassResult::Error(format!(
                "{e}: the catalogs are applied, but a restarted agent would not know which are its own"
            ));
            report.retry_in = Some(
                report
                    .retry_in
                    .map_or(LEDGER_RETRY, |d| d.min(LEDGER_RETRY)),
            );
            self.converged_digest = None;
        }
        let duration_ms = started.elapsed().as_millis() as u64;
        let error = match &report.result {
            PassResult::Error(e) => Some(e.clone()),
            _ => None,
        };
        if report.result == PassResult::Converged {
            self.metrics.set_last_success(crate::clock::now_secs_f64());
        }
        {
            let mut status = self.status.lock().expect("status lock");
            status.last_pass = Some(PassStatus {
                time: status::rfc3339(started_unix),
                trigger: trigger.label().to_string(),
                duration_ms,
                result: report.result.label().to_string(),
                error,
            });
            for state in State::ALL {
                self.metrics.set_catalogs(state, status.count(state));
            }
        }
        match &report.result {
            PassResult::Unchanged => tracing::debug!(
                trigger = trigger.label(),
                duration_ms,
                "pass: folder unchanged, nothing to do"
            ),
            PassResult::Error(e) => tracing::warn!(
                trigger = trigger.label(),
                duration_ms,
                outcome = "error",
                error = %e,
                "pass failed"
            ),
            result => tracing::debug!(
                trigger = trigger.label(),
                duration_ms,
                outcome = result.label(),
                "pass done"
            ),
        }
        report
    }

    async fn pass_inner(&mut self, trigger: Trigger) -> PassReport {
        let error_report = |e: String, retry_in: Option<Duration>| PassReport {
            result: PassResult::Error(e),
            retry_in,
            settled: false,
        };

        // A file event that leaves the desired state as it was when everything last converged
        // needs no engine contact at all (e.g. Trino rewriting a file it stores itself, or a touch).
        // Otherwise the folder just read is what the pass works from.
        let mut scanned = None;
        let mut scope = None;
        if trigger == Trigger::Event {
            match self.read_changes().await {
                Ok((desired, _)) if Some(desired.digest()) == self.converged_digest => {
                    return PassReport {
                        result: PassResult::Unchanged,
                        retry_in: None,
                        settled: true,
                    };
                }
                Ok((desired, read)) => {
                    scanned = Some(desired);
                    scope = read;
                }
                Err(e) => {
                    self.desired_cache = None;
                    return error_report(e.to_string(), None);
                }
            }
        }
        // From here on the engine may change; only a clean end of this pass says "converged"
        // again (a pass cut short by a lost engine must not leave an old mark behind).
        self.converged_digest = None;

        let mut attempts = 0;
        loop {
            attempts += 1;
            let result = match self
                .prepare_for(trigger, scanned.take(), scope.take())
                .await
            {
                Ok(prepared) => {
                    let applied = match prepared.mode {
                        Mode::Dynamic => {
                            self.apply_dynamic(&prepared).await.map_err(PassError::from)
                        }
                        Mode::Restart => self.apply_restart(&prepared).await,
                    };
                    applied.map(|outcome| (prepared, outcome))
                }
                Err(e) => Err(e),
            };
            match result {
                Ok((_, outcome)) if outcome.raced && attempts < 3 => {
                    // Someone else created or dropped a catalog under us: read live state again.
                    self.live_cache = None;
                    scanned = None;
                    continue;
                }
                Ok((prepared, outcome)) => {
                    let error = outcome.error.clone();
                    if outcome.raced || error.is_some() {
                        self.live_cache = None;
                    }
                    let mut report = self.finish(&prepared, outcome);
                    match error {
                        None => self.engine_failures = 0,
                        Some(e) => {
                            self.engine_failures += 1;
                            report.result = PassResult::Error(e);
                            report.settled = false;
                            report.retry_in = Some(engine_backoff(self.engine_failures));
                        }
                    }
                    return report;
                }
                Err(e) => {
                    self.live_cache = None;
                    if let PassError::Engine(engine_error) = &e
                        && engine_error.is_connection()
                    {
                        self.metrics.set_engine_up(false);
                        self.update_engine_status(None, Some(engine_error));
                        self.last_info = None;
                    }
                    if let PassError::Scan(scan_error) = &e {
                        tracing::error!(error = %scan_error, "a catalog folder cannot be read; nothing is changed");
                    }
                    let retry_in = if e.is_transient() {
                        self.engine_failures += 1;
                        Some(engine_backoff(self.engine_failures))
                    } else {
                        None
                    };
                    return error_report(e.to_string(), retry_in);
                }
            }
        }
    }

    fn finish(&mut self, prepared: &Prepared, outcome: ApplyOutcome) -> PassReport {
        self.record_status(prepared, &outcome);
        let status = self.status.lock().expect("status lock");
        // Ready means the agent has done what it can: every catalog the files ask for is applied
        // or has a verdict (invalid file, engine refusal, conflict). Those verdicts show in
        // /status and the metrics; letting one bad file fail readiness would take a coordinator
        // pod out of its Service.
        let settled = prepared.desired.catalogs.keys().all(|n| {
            status
                .catalogs
                .get(n)
                .is_some_and(|c| c.state != State::Pending)
        });
        let clean = settled
            && [
                State::Invalid,
                State::Failed,
                State::Conflict,
                State::Pending,
            ]
            .iter()
            .all(|s| status.count(*s) == 0);
        drop(status);
        self.converged_digest = clean.then(|| prepared.desired.digest());
        let now = Instant::now();
        let limit = self.settings.max_changes_per_minute as usize;
        let waits = self
            .failures
            .values()
            .map(|f| f.retry_at.saturating_duration_since(now))
            .chain(
                self.recent_changes
                    .values()
                    .filter(|t| limit > 0 && t.len() >= limit)
                    .filter_map(|t| t.front())
                    .map(|t| (*t + RATE_WINDOW).saturating_duration_since(now)),
            )
            .chain(
                // Drops still held back (their grace may have ended during this pass: at once).
                self.absent_since
                    .iter()
                    .filter(|(name, _)| self.ledger.catalogs.contains_key(*name))
                    .map(|(_, t)| (*t + DROP_GRACE).saturating_duration_since(now)),
            )
            .chain(outcome.retry_in);
        let retry_in = waits.filter(|d| *d < BACKOFF_MAX * 2).min();
        PassReport {
            result: if clean {
                PassResult::Converged
            } else {
                PassResult::Degraded
            },
            retry_in: retry_in.map(|d| d.max(Duration::from_millis(100))),
            settled,
        }
    }

    fn note_change(&mut self, name: &str) {
        self.recent_changes
            .entry(name.to_string())
            .or_default()
            .push_back(Instant::now());
    }

    fn note_failure(
        &mut self,
        name: &str,
        fingerprint: Option<Fingerprint>,
        error: String,
        error_name: Option<String>,
        until: Until,
    ) {
        let attempts = match self.failures.get(name) {
            Some(f) if f.fingerprint == fingerprint => f.attempts + 1,
            _ => 1,
        };
        let backoff = match until {
            Until::FileChanges | Until::FileOrEngineChanges => UNTIL_FILE_CHANGES,
            Until::Backoff => (BACKOFF_FIRST * 2u32.saturating_pow(attempts - 1)).min(BACKOFF_MAX),
        };
        self.failures.insert(
            name.to_string(),
            Failure {
                fingerprint,
                attempts,
                retry_at: Instant::now() + backoff,
                error,
                error_name,
                until,
                note: None,
            },
        );
    }

    /// When the coordinator started, as far as its last `/v1/info` tells (Unix milliseconds).
    fn engine_started_ms(&self) -> Option<u64> {
        let uptime = self.last_info.as_ref()?.uptime_seconds()?;
        Some(
            self.last_info_at_ms
                .saturating_sub((uptime * 1000.0) as u64),
        )
    }

    /// A dynamic-mode refusal that repeats: held until the file or the coordinator changes, and
    /// remembered in the ledger so a restarted agent does not send it again either.
    fn hold_refusal(
        &mut self,
        name: &str,
        fingerprint: Fingerprint,
        error: String,
        error_name: Option<String>,
    ) {
        self.note_failure(
            name,
            Some(fingerprint),
            error.clone(),
            error_name.clone(),
            Until::FileOrEngineChanges,
        );
        self.ledger.refused.insert(
            name.to_string(),
            ledger::Refused {
                fingerprint,
                error,
                error_name,
                engine_started_ms: self.engine_started_ms(),
            },
        );
        self.save_ledger();
    }

    /// The coordinator restarted: what it refused may be accepted now (an environment variable
    /// set, a plugin installed). Definitions that broke a start in restart mode stay held.
    fn forget_refusals_on_restart(&mut self) {
        let before = self.failures.len();
        self.failures
            .retain(|_, f| f.until != Until::FileOrEngineChanges);
        if self.failures.len() != before {
            tracing::info!("catalogs the coordinator refused before its restart are tried again");
        }
        if !self.ledger.refused.is_empty() {
            self.ledger.refused.clear();
            self.save_ledger();
        }
    }

    /// A fresh agent's held refusals stand only if the coordinator is the one that refused them:
    /// one that started since (by more than the precision of its uptime) gets them again.
    fn check_refusals_against_engine(&mut self) {
        let (Some(started), Some(uptime)) = (
            self.engine_started_ms(),
            self.last_info.as_ref().and_then(ServerInfo::uptime_seconds),
        ) else {
            return;
        };
        // airlift prints uptime with two decimals of its unit (`3.65m`, `2.50d`): 1% of it, and
        // some seconds for the time between the answer and the clock reading.
        let tolerance_ms = 10_000 + (uptime * 10.0) as u64;
        let stale: Vec<String> = self
            .ledger
            .refused
            .iter()
            .filter(|(_, r)| {
                r.engine_started_ms
                    .is_none_or(|then| then.abs_diff(started) > tolerance_ms)
            })
            .map(|(n, _)| n.clone())
            .collect();
        if stale.is_empty() {
            return;
        }
        for name in &stale {
            self.ledger.refused.remove(name);
            if self
                .failures
                .get(name)
                .is_some_and(|f| f.until == Until::FileOrEngineChanges)
            {
                self.failures.remove(name);
            }
        }
        tracing::info!(catalogs = ?stale, "the coordinator restarted since it refused these catalogs; trying them again");
        self.save_ledger();
    }

    /// The end of a one-shot command: the ledger written whole (its journal folded in).
    pub fn save_ledger_now(&mut self) -> Option<String> {
        self.save_ledger();
        self.ledger_error.clone()
    }

    /// Writes the whole ledger (changes other than a CREATE's or a DROP's, and shutdown).
    fn save_ledger(&mut self) {
        let saved = self.store.save(&self.ledger);
        self.ledger_saved(saved);
    }

    /// Applies one change to the ledger and records it: a journal line, not the whole file.
    fn change_ledger(&mut self, change: ledger::Change) {
        change.clone().apply(&mut self.ledger);
        let recorded = self.store.record(&self.ledger, &change);
        self.ledger_saved(recorded);
    }

    fn ledger_saved(&mut self, result: Result<(), ledger::LedgerError>) {
        match result {
            Ok(()) => {}
            Err(e) => {
                if self.ledger_error.is_none() {
                    tracing::error!(error = %e, "cannot persist the ledger; what the agent owns would be forgotten if it restarted; trying again at every pass");
                }
                self.ledger_error = Some(e.to_string());
            }
        }
    }

    /// End of a pass: the journal made durable, or — after a failure — the whole ledger written
    /// again. Returns why it could not be, if so.
    async fn persist_ledger(&mut self) -> Option<String> {
        if self.ledger_error.is_some() {
            match self.store.save(&self.ledger) {
                Ok(()) => {
                    tracing::info!("the ledger is saved again");
                    self.ledger_error = None;
                }
                Err(e) => self.ledger_error = Some(e.to_string()),
            }
        } else {
            let store = self.store.clone();
            let synced = tokio::task::spawn_blocking(move || store.sync())
                .await
                .unwrap_or_else(|e| {
                    Err(ledger::LedgerError::Write {
                        path: PathBuf::from(ledger::JOURNAL_NAME),
                        source: std::io::Error::other(e.to_string()),
                    })
                });
            if let Err(e) = synced {
                tracing::error!(error = %e, "cannot persist the ledger; what the agent owns would be forgotten if it restarted; trying again at every pass");
                self.ledger_error = Some(e.to_string());
            }
        }
        self.ledger_error.clone()
    }
}

/// Engine messages can span lines (airlift's "Configuration errors:" list); a log line should not.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn scrub(text: &str, specs: &[&CatalogSpec]) -> String {
    let secrets: Vec<&str> = specs.iter().flat_map(|s| s.secret_values()).collect();
    crate::catalog::scrub_secrets(text, &secrets)
}

/// Whether the coordinator answering now is another process than the one read before, from two
/// `(read at, uptime)` readings. A smaller uptime says so at once; but a coordinator that was down
/// longer than it had been up answers with a larger one (its start takes seconds, the agent's
/// retries back off), so the start instants are compared too: they differ by at least the time the
/// old process had been up, and by no more than the uptime's rounding (airlift prints two decimals
/// of its unit: under 1%) plus the time between the engine's reading and the agent's.
fn restarted_between(before: (u64, f64), now: (u64, f64)) -> bool {
    let (before_at_ms, before_uptime) = before;
    let (now_at_ms, now_uptime) = now;
    if now_uptime < before_uptime {
        return true;
    }
    let started_before = before_at_ms as f64 - before_uptime * 1000.0;
    let started_now = now_at_ms as f64 - now_uptime * 1000.0;
    let tolerance_ms = 3_000.0 + now_uptime * 10.0;
    started_now - started_before > tolerance_ms
}

fn engine_backoff(failures: u32) -> Duration {
    (Duration::from_secs(1) * 2u32.saturating_pow(failures.saturating_sub(1).min(5)))
        .min(ENGINE_BACKOFF_MAX)
}

enum Applied {
    Done,
    Raced(String),
    /// The engine refused as "not supported by the static catalog store" (auto mode).
    StaticStore,
    Refused {
        error: String,
        error_name: Option<String>,
        note: Option<String>,
        /// The refusal will repeat until the definition or the engine changes.
        lasting: bool,
    },
}

#[derive(Default)]
struct ApplyOutcome {
    /// Changes the engine (or, in restart mode, the restarted coordinator) accepted.
    done: BTreeSet<String>,
    /// Changes refused: error, error name, note.
    refused: BTreeMap<String, (String, Option<String>, Option<String>)>,
    /// Catalogs whose definition is in place but not yet running (restart mode), with why.
    pending: BTreeMap<String, String>,
    /// Applied catalogs with something to say (restart mode: loaded, but its queries fail).
    notes: BTreeMap<String, String>,
    /// Live state changed under the pass: plan again.
    raced: bool,
    /// Run again after this long (restart mode: the restart waits for a quiet moment).
    retry_in: Option<Duration>,
    /// The pass could not finish its work (restart mode: Docker failed); statuses are still
    /// recorded, and the pass counts as failed and is retried with backoff.
    error: Option<String>,
}

/// Names of catalogs the coordinator runs, `system` excluded.
fn catalog_names(live: &Live) -> BTreeSet<String> {
    live.keys()
        .filter(|n| *n != plan::SYSTEM_CATALOG)
        .cloned()
        .collect()
}

/// From this many catalogs on, a full pass is followed by [`give_back_memory`] (at 10,000 it
/// keeps ~5 MiB off the resident size; BENCHMARKS.md).
const GIVE_BACK_FROM_CATALOGS: usize = 1000;

/// After a long pass (thousands of statements, a start-up): the allocator returns the memory the
/// pass no longer uses to the system (glibc keeps it otherwise; musl does so by itself).
fn give_back_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim has no preconditions.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Drives passes until `shutdown` turns true: one pass at a time, triggers that arrive meanwhile
/// coalesced into one more pass, retries scheduled from the last report.
pub async fn run(
    mut agent: Agent,
    mut triggers: mpsc::UnboundedReceiver<crate::watch::Signal>,
    mut shutdown: watch::Receiver<bool>,
    readiness: Arc<Readiness>,
) -> Agent {
    let stop = agent.stop_flag();
    let heartbeats = agent.heartbeats.clone();
    let mut next: Option<Trigger> = Some(Trigger::Startup);
    let mut retry_at: Option<tokio::time::Instant> = None;
    loop {
        heartbeats.beat_reconcile();
        let mut trigger = match next.take() {
            Some(t) => t,
            None => {
                let retry = async {
                    match retry_at {
                        Some(at) => tokio::time::sleep_until(at).await,
                        None => std::future::pending().await,
                    }
                };
                tokio::select! {
                    t = triggers.recv() => match t {
                        Some(t) => t.into(),
                        None => break,
                    },
                    () = retry => Trigger::Retry,
                    _ = shutdown.changed() => break,
                }
            }
        };
        if *shutdown.borrow() {
            break;
        }
        while let Ok(more) = triggers.try_recv() {
            trigger = trigger.max(more.into());
        }
        let pass_started = Instant::now();
        let report = {
            let pass = agent.pass(trigger);
            tokio::pin!(pass);
            tokio::select! {
                r = &mut pass => r,
                _ = shutdown.changed() => {
                    // Finish the statement in flight, skip the rest, within the grace period.
                    stop.store(true, Ordering::Relaxed);
                    match tokio::time::timeout(Duration::from_secs(4), &mut pass).await {
                        Ok(r) => r,
                        Err(_) => {
                            tracing::warn!("a statement was still running at shutdown; leaving it");
                            break;
                        }
                    }
                }
            }
        };
        heartbeats.beat_reconcile();
        match &report.result {
            PassResult::Unchanged => {}
            PassResult::Error(_) => readiness.pass_failed(),
            PassResult::Converged | PassResult::Degraded => readiness.pass_done(report.settled),
        }
        // A long pass, or a full one over thousands of catalogs (a resync rebuilds the folder's
        // and the engine's view beside the old ones): hand what it freed back to the system.
        if pass_started.elapsed() > Duration::from_secs(1)
            || (trigger >= Trigger::Resync && agent.catalogs_known() >= GIVE_BACK_FROM_CATALOGS)
        {
            give_back_memory();
        }
        if stop.load(Ordering::Relaxed) || *shutdown.borrow() {
            break;
        }
        retry_at = report.retry_in.map(|d| tokio::time::Instant::now() + d);
    }
    agent.save_ledger();
    agent
}

#[cfg(test)]
mod tests {
    use super::restarted_between;

    #[test]
    fn the_same_coordinator_read_again_is_not_a_restart() {
        // 12.5 s up, read again 60 s later (a little late: 0.8 s between its reading and ours).
        assert!(!restarted_between((1_000_000, 12.5), (1_060_800, 72.5)));
        // Rounded to two decimals of its unit: 3.65m then 5.00m, 81 s later.
        assert!(!restarted_between((1_000_000, 219.0), (1_081_000, 300.0)));
        // Days: 2.50d then 2.51d (rounded 0.005d = 432 s).
        assert!(!restarted_between(
            (1_000_000, 216_000.0),
            (2_000_000, 216_864.0)
        ));
    }

    #[test]
    fn a_smaller_uptime_is_a_restart() {
        assert!(restarted_between((1_000_000, 30.0), (1_010_000, 5.0)));
    }

    #[test]
    fn a_coordinator_down_longer_than_it_had_been_up_is_a_restart() {
        // Seen at 15 s of uptime, stopped, started again and first answering (no longer starting)
        // 40 s later at 20 s of uptime: the one before started at 985 s, this one at 1 035 s.
        assert!(restarted_between((1_000_000, 15.0), (1_055_000, 20.0)));
        // A short-lived one: seen at 5 s, the new one seen at 9 s, 13 s later.
        assert!(restarted_between((1_000_000, 5.0), (1_013_000, 9.0)));
    }
}
