//! One pass: scan → engine state → plan → apply → record. The [`Agent`] keeps what must survive
//! between passes (ledger, failure backoff, rate limits, what the engine is) and [`run`] drives
//! passes one at a time, coalescing triggers that arrive meanwhile into one more pass.

use crate::catalog::{CatalogSpec, Flavour};
use crate::config::ModeChoice;
use crate::engine::dynamic::{self, CatalogLister, Management};
use crate::engine::{Client, EngineError, ServerInfo};
use crate::ledger::{self, EngineMemo, Ledger};
use crate::metrics::Metrics;
use crate::plan::{self, Hold, HoldKind, Live, Plan, Step};
use crate::scan::{self, Desired, ScanError};
use crate::status::{self, CatalogStatus, EngineStatus, PassStatus, SharedStatus, State};
use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
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

/// How a catalog change reaches the engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Dynamic,
    Restart,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Dynamic => "dynamic",
            Mode::Restart => "restart",
        }
    }
}

pub struct Settings {
    pub catalog_dir: PathBuf,
    pub forced_flavour: Option<Flavour>,
    pub mode: ModeChoice,
    pub adopt: bool,
    /// 0 = unlimited.
    pub max_changes_per_minute: u32,
}

/// Liveness stamps for `/healthz` (Unix milliseconds).
#[derive(Debug, Default)]
pub struct Heartbeats {
    pub reconcile: AtomicU64,
    pub watch: AtomicU64,
}

pub fn now_millis() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// What a pass left behind, for the run loop, `sync`'s exit code and readiness.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PassResult {
    /// Reached the engine; every valid catalog is as its file says; no file is invalid and no
    /// catalog failed or conflicts.
    Converged,
    /// Nothing changed in the folder since the last converged pass: the engine was not contacted.
    Unchanged,
    /// Reached the engine, but some catalog is invalid, failed, in conflict or held back.
    Degraded,
    /// The pass could not run: the folder or the engine could not be read.
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
    /// Every valid catalog was applied (readiness).
    pub all_valid_applied: bool,
}

/// Everything a plan is made from, for `plan` output and for applying.
pub struct Prepared {
    pub desired: Desired,
    pub live: Live,
    pub plan: Plan,
    pub mode: Mode,
    pub info: ServerInfo,
}

#[derive(Debug, thiserror::Error)]
pub enum PassError {
    #[error(transparent)]
    Scan(#[from] ScanError),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error("{0}")]
    Unsupported(String),
}

impl PassError {
    /// True when the failure is the engine's reachability (retry with backoff, not ready).
    pub fn is_engine(&self) -> bool {
        matches!(self, PassError::Engine(_))
    }
}

struct Failure {
    fingerprint: Option<crate::catalog::Fingerprint>,
    attempts: u32,
    retry_at: Instant,
    error: String,
    error_name: Option<String>,
}

const BACKOFF_FIRST: Duration = Duration::from_secs(10);
const BACKOFF_MAX: Duration = Duration::from_secs(300);
const ENGINE_BACKOFF_MAX: Duration = Duration::from_secs(30);
const RATE_WINDOW: Duration = Duration::from_secs(60);
/// How long a removed catalog stays visible in `/status`.
const REMOVED_RETENTION_SECS: u64 = 600;

pub struct Agent {
    settings: Settings,
    client: Client,
    lister: CatalogLister,
    store: ledger::Store,
    ledger: Ledger,
    flavour: Flavour,
    last_uptime: Option<f64>,
    management: Option<Management>,
    failures: BTreeMap<String, Failure>,
    recent_changes: BTreeMap<String, VecDeque<Instant>>,
    converged_digest: Option<[u8; 32]>,
    engine_failures: u32,
    status: SharedStatus,
    metrics: Arc<Metrics>,
    stop: Arc<AtomicBool>,
}

impl Agent {
    pub fn new(
        settings: Settings,
        client: Client,
        store: ledger::Store,
        status: SharedStatus,
        metrics: Arc<Metrics>,
    ) -> Result<Self, ledger::LedgerError> {
        let loaded = store.load()?;
        if let Some(note) = &loaded.set_aside {
            tracing::error!(error = %note, "ledger set aside");
        }
        let flavour = settings.forced_flavour.unwrap_or(Flavour::Trino);
        let mut agent = Agent {
            settings,
            client,
            lister: CatalogLister::default(),
            store,
            ledger: loaded.ledger,
            flavour,
            last_uptime: None,
            management: None,
            failures: BTreeMap::new(),
            recent_changes: BTreeMap::new(),
            converged_digest: None,
            engine_failures: 0,
            status,
            metrics,
            stop: Arc::new(AtomicBool::new(false)),
        };
        agent.client.set_flavour(flavour);
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

    /// Set to stop between two statements (graceful shutdown).
    pub fn stop_flag(&self) -> Arc<AtomicBool> {
        self.stop.clone()
    }

    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    async fn scan(&self) -> Result<Desired, ScanError> {
        let dir = self.settings.catalog_dir.clone();
        let flavour = self.flavour;
        tokio::task::spawn_blocking(move || scan::scan(&dir, flavour))
            .await
            .expect("scan task does not panic")
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
        }
        let uptime = info.uptime_seconds();
        if let (Some(before), Some(now)) = (self.last_uptime, uptime)
            && now < before
        {
            tracing::info!(
                uptime = %info.uptime.as_deref().unwrap_or(""),
                "the coordinator restarted; checking its catalogs and catalog management again"
            );
            self.management = None;
            self.converged_digest = None;
        }
        self.last_uptime = uptime;
        self.update_engine_status(Some(&info), None);
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

    /// Decides how changes are applied, probing the engine when `--mode auto` needs to know.
    async fn mode(&mut self, info: &ServerInfo) -> Result<Mode, PassError> {
        let mode = match self.settings.mode {
            ModeChoice::Dynamic => Mode::Dynamic,
            ModeChoice::Restart => Mode::Restart,
            ModeChoice::Auto if self.flavour == Flavour::Presto => Mode::Restart,
            ModeChoice::Auto => {
                let management = match self.management {
                    Some(m) => m,
                    None => {
                        let m = dynamic::probe(&self.client).await?;
                        tracing::info!(
                            catalog_management = if m == Management::Dynamic { "dynamic" } else { "static" },
                            version = %info.node_version.version,
                            "probed the coordinator's catalog management"
                        );
                        self.management = Some(m);
                        self.remember_management(m);
                        m
                    }
                };
                match management {
                    Management::Dynamic => Mode::Dynamic,
                    Management::Static => Mode::Restart,
                }
            }
        };
        let mut status = self.status.lock().expect("status lock");
        if status.mode.as_deref() != Some(mode.as_str()) {
            tracing::info!(mode = mode.as_str(), engine = %self.flavour, "apply mode");
            status.mode = Some(mode.as_str().to_string());
        }
        drop(status);
        self.metrics
            .set_build(mode.as_str(), &self.flavour.to_string());
        if mode == Mode::Restart {
            return Err(PassError::Unsupported(match self.flavour {
                Flavour::Presto => "PrestoDB cannot add catalogs at run time, and restart mode is not available in this build".into(),
                Flavour::Trino => "this Trino coordinator runs with static catalog management: set catalog.management=dynamic on every node (see the README), because restart mode is not available in this build".into(),
            }));
        }
        Ok(mode)
    }

    fn remember_management(&mut self, m: Management) {
        self.ledger.engine = Some(EngineMemo {
            server: self.client.server().to_string(),
            dynamic: m == Management::Dynamic,
        });
        if let Err(e) = self.store.save(&self.ledger) {
            tracing::error!(error = %e, "cannot persist the ledger");
        }
    }

    /// Holds for catalogs in failure backoff or over their change budget.
    fn holds(&mut self, now: Instant) -> BTreeMap<String, Hold> {
        let mut holds = BTreeMap::new();
        for (name, f) in &self.failures {
            if f.retry_at > now {
                holds.insert(
                    name.clone(),
                    Hold {
                        fingerprint: f.fingerprint,
                        kind: HoldKind::Backoff,
                        reason: format!(
                            "retrying in {}s, or when the file changes",
                            (f.retry_at - now).as_secs().max(1)
                        ),
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

    /// Reads folder and engine and computes the plan; changes nothing.
    pub async fn prepare(&mut self) -> Result<Prepared, PassError> {
        let info = self.engine_info().await?;
        let desired = self.scan().await?;
        let mode = self.mode(&info).await?;
        let live = self.lister.live(&self.client).await?;
        let holds = self.holds(Instant::now());
        let plan = plan::diff(
            &desired,
            &live,
            &self.ledger,
            &holds,
            plan::Options {
                adopt: self.settings.adopt,
            },
        );
        Ok(Prepared {
            desired,
            live,
            plan,
            mode,
            info,
        })
    }

    /// One pass. Never panics on bad input or an unreachable engine: the report says what happened.
    pub async fn pass(&mut self, trigger: Trigger) -> PassReport {
        let started = Instant::now();
        let started_unix = ledger::now_secs();
        self.metrics.count_pass(trigger.label());
        let report = self.pass_inner(trigger).await;
        let duration_ms = started.elapsed().as_millis() as u64;
        let error = match &report.result {
            PassResult::Error(e) => Some(e.clone()),
            _ => None,
        };
        if report.result == PassResult::Converged {
            self.metrics.set_last_success(
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0.0, |d| d.as_secs_f64()),
            );
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
            all_valid_applied: false,
        };

        // A file event that leaves the desired state as it was when everything last converged
        // needs no engine contact at all (e.g. Trino rewriting a file it stores itself, or a touch).
        if trigger == Trigger::Event
            && let Some(converged) = self.converged_digest
        {
            match self.scan().await {
                Ok(desired) if desired.digest() == converged => {
                    return PassReport {
                        result: PassResult::Unchanged,
                        retry_in: None,
                        all_valid_applied: true,
                    };
                }
                Ok(_) => {}
                Err(e) => return error_report(e.to_string(), None),
            }
        }

        let mut attempts = 0;
        loop {
            attempts += 1;
            let prepared = match self.prepare().await {
                Ok(p) => p,
                Err(e) => {
                    let retry_in = if e.is_engine() {
                        self.engine_failures += 1;
                        Some(engine_backoff(self.engine_failures))
                    } else {
                        None
                    };
                    if let PassError::Scan(scan_error) = &e {
                        tracing::error!(error = %scan_error, "the catalog folder cannot be read; nothing is changed");
                    }
                    return error_report(e.to_string(), retry_in);
                }
            };
            self.engine_failures = 0;
            match self.apply_dynamic(&prepared).await {
                Ok(ApplyOutcome { raced: true, .. }) if attempts < 3 => {
                    // Someone else created or dropped a catalog under us: read live state again.
                    continue;
                }
                Ok(outcome) => return self.finish(&prepared, outcome),
                Err(e) => {
                    self.engine_failures += 1;
                    return error_report(e.to_string(), Some(engine_backoff(self.engine_failures)));
                }
            }
        }
    }

    fn finish(&mut self, prepared: &Prepared, outcome: ApplyOutcome) -> PassReport {
        self.record_status(prepared, &outcome);
        let status = self.status.lock().expect("status lock");
        let all_valid_applied = prepared.desired.catalogs.keys().all(|n| {
            status
                .catalogs
                .get(n)
                .is_some_and(|c| c.state == State::Applied)
        });
        let clean = all_valid_applied
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
        let mut retry_in: Option<Duration> = self
            .failures
            .values()
            .map(|f| f.retry_at.saturating_duration_since(now))
            .min();
        if let Some(free) = self
            .recent_changes
            .iter()
            .filter(|(_, t)| {
                t.len() >= self.settings.max_changes_per_minute as usize
                    && self.settings.max_changes_per_minute > 0
            })
            .filter_map(|(_, t)| t.front())
            .map(|t| (*t + RATE_WINDOW).saturating_duration_since(now))
            .min()
        {
            retry_in = Some(retry_in.map_or(free, |r| r.min(free)));
        }
        PassReport {
            result: if clean {
                PassResult::Converged
            } else {
                PassResult::Degraded
            },
            retry_in: retry_in.map(|d| d.max(Duration::from_millis(100))),
            all_valid_applied,
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
        fingerprint: Option<crate::catalog::Fingerprint>,
        error: String,
        error_name: Option<String>,
    ) {
        let attempts = match self.failures.get(name) {
            Some(f) if f.fingerprint == fingerprint => f.attempts + 1,
            _ => 1,
        };
        let backoff = (BACKOFF_FIRST * 2u32.saturating_pow(attempts - 1)).min(BACKOFF_MAX);
        self.failures.insert(
            name.to_string(),
            Failure {
                fingerprint,
                attempts,
                retry_at: Instant::now() + backoff,
                error,
                error_name,
            },
        );
    }

    fn save_ledger(&self) {
        if let Err(e) = self.store.save(&self.ledger) {
            tracing::error!(error = %e, "cannot persist the ledger; ownership may be lost if the agent restarts");
        }
    }

    /// Applies the plan's changes with CREATE/DROP CATALOG, one statement at a time.
    async fn apply_dynamic(&mut self, prepared: &Prepared) -> Result<ApplyOutcome, EngineError> {
        let mut outcome = ApplyOutcome::default();
        for (name, step) in prepared.plan.changes() {
            if self.stop.load(Ordering::Relaxed) {
                tracing::info!("stopping: remaining changes are left for the next start");
                break;
            }
            let started = Instant::now();
            let action = step.action();
            let result = match step {
                Step::Create { spec } => self.create(name, spec).await,
                Step::Invalid {
                    restore: Some(spec),
                    ..
                } => self.create(name, spec).await,
                Step::Replace { from, to } => self.replace(name, from, to).await,
                Step::Drop { previous } => self.drop_owned(name, previous).await,
                Step::Adopt { spec } => {
                    self.ledger
                        .catalogs
                        .insert(name.to_string(), ledger::Entry::new(spec.clone(), true));
                    self.save_ledger();
                    Ok(Applied::Done(None))
                }
                Step::Forget => {
                    self.ledger.catalogs.remove(name);
                    self.save_ledger();
                    Ok(Applied::Done(None))
                }
                Step::Keep | Step::Conflict { .. } | Step::Invalid { .. } | Step::Held { .. } => {
                    continue;
                }
            };
            let seconds = started.elapsed().as_secs_f64();
            let duration_ms = started.elapsed().as_millis() as u64;
            match result {
                Ok(Applied::Done(note)) => {
                    if !matches!(step, Step::Adopt { .. } | Step::Forget) {
                        self.metrics.observe_apply(action, true, seconds);
                        self.note_change(name);
                    }
                    self.failures.remove(name);
                    tracing::info!(
                        catalog = name,
                        action,
                        outcome = "ok",
                        duration_ms,
                        note = note.as_deref().unwrap_or(""),
                        "applied"
                    );
                    outcome.done.insert(name.to_string(), note);
                }
                Ok(Applied::Raced(why)) => {
                    tracing::info!(catalog = name, action, outcome = "raced", duration_ms, error = %why, "live state changed under us; reading it again");
                    outcome.raced = true;
                    break;
                }
                Ok(Applied::Refused {
                    error,
                    error_name,
                    note,
                }) => {
                    self.metrics.observe_apply(action, false, seconds);
                    self.note_change(name);
                    let fingerprint = match step {
                        Step::Create { spec } | Step::Replace { to: spec, .. } => {
                            Some(spec.fingerprint())
                        }
                        Step::Invalid {
                            restore: Some(spec),
                            ..
                        } => Some(spec.fingerprint()),
                        _ => None,
                    };
                    tracing::warn!(catalog = name, action, outcome = "failed", duration_ms, error = %error, note = note.as_deref().unwrap_or(""), "the engine refused the change");
                    self.note_failure(name, fingerprint, error.clone(), error_name.clone());
                    outcome
                        .refused
                        .insert(name.to_string(), (error, error_name, note));
                }
                Err(e) => {
                    self.metrics.observe_apply(action, false, seconds);
                    tracing::warn!(catalog = name, action, outcome = "error", duration_ms, error = %e, "lost the engine while applying");
                    return Err(e);
                }
            }
        }
        Ok(outcome)
    }

    async fn create(&mut self, name: &str, spec: &CatalogSpec) -> Result<Applied, EngineError> {
        match dynamic::create(&self.client, spec).await {
            Ok(()) => {
                self.ledger
                    .catalogs
                    .insert(name.to_string(), ledger::Entry::new(spec.clone(), false));
                self.save_ledger();
                Ok(Applied::Done(None))
            }
            Err(e) => self.refusal(e, &[spec], None),
        }
    }

    async fn replace(
        &mut self,
        name: &str,
        from: &CatalogSpec,
        to: &CatalogSpec,
    ) -> Result<Applied, EngineError> {
        match dynamic::drop_catalog(&self.client, name).await {
            Ok(()) => {}
            Err(EngineError::Query(q)) if dynamic::is_not_found(&q) => {}
            Err(e) => return self.refusal(e, &[from, to], None),
        }
        let create_error = match dynamic::create(&self.client, to).await {
            Ok(()) => {
                self.ledger
                    .catalogs
                    .insert(name.to_string(), ledger::Entry::new(to.clone(), false));
                self.save_ledger();
                return Ok(Applied::Done(None));
            }
            Err(e) if !matches!(e, EngineError::Query(_)) => return Err(e),
            Err(e) => e,
        };
        // The new definition was refused: put the previous one back so queries keep working.
        let note = match dynamic::create(&self.client, from).await {
            Ok(()) => "the previous definition was restored".to_string(),
            Err(EngineError::Query(q)) => format!(
                "the previous definition could not be restored either: {}",
                scrub(&q.to_string(), &[from, to])
            ),
            Err(e) => return Err(e),
        };
        self.refusal(create_error, &[from, to], Some(note))
    }

    async fn drop_owned(
        &mut self,
        name: &str,
        previous: &CatalogSpec,
    ) -> Result<Applied, EngineError> {
        match dynamic::drop_catalog(&self.client, name).await {
            Ok(()) => {}
            Err(EngineError::Query(q)) if dynamic::is_not_found(&q) => {}
            Err(e) => return self.refusal(e, &[previous], None),
        }
        self.ledger.catalogs.remove(name);
        self.save_ledger();
        Ok(Applied::Done(None))
    }

    /// Sorts an engine error into "engine refused this catalog" (reported per catalog), a race
    /// (re-read live state) or a lost engine (abort the pass).
    fn refusal(
        &mut self,
        e: EngineError,
        specs: &[&CatalogSpec],
        note: Option<String>,
    ) -> Result<Applied, EngineError> {
        match e {
            EngineError::Query(q) if dynamic::is_already_exists(&q) && note.is_none() => {
                Ok(Applied::Raced(q.to_string()))
            }
            EngineError::Query(q) => {
                let mut error = scrub(&q.to_string(), specs);
                if dynamic::is_static_store(&q) {
                    // Catalog management is off (or was switched off under us): say how to fix
                    // it, and probe again next pass.
                    error.push_str(" (the coordinator runs with static catalog management: set catalog.management=dynamic on every node)");
                    self.management = None;
                    self.ledger.engine = None;
                }
                Ok(Applied::Refused {
                    error,
                    error_name: Some(q.error_name),
                    note,
                })
            }
            other => Err(other),
        }
    }

    /// Writes the per-catalog status from the plan and what the engine answered.
    fn record_status(&self, prepared: &Prepared, outcome: &ApplyOutcome) {
        let now = ledger::now_secs();
        let mut status = self.status.lock().expect("status lock");
        let mut next: BTreeMap<String, CatalogStatus> = BTreeMap::new();
        let file_of = |name: &str| {
            prepared
                .desired
                .catalogs
                .get(name)
                .map(|c| c.file.clone())
                .or_else(|| {
                    prepared
                        .desired
                        .protected(name)
                        .map(|f| f.error.file.clone())
                })
        };
        for (name, step) in &prepared.plan.steps {
            let owned = self.ledger.catalogs.get(name);
            let base = |state: State, spec: Option<&CatalogSpec>| CatalogStatus {
                state,
                connector: spec.map(|s| s.connector.clone()),
                fingerprint: spec.map(|s| s.fingerprint().short()),
                file: file_of(name),
                error: None,
                error_name: None,
                note: None,
                last_change: String::new(),
                last_change_unix: 0,
            };
            let mut entry = if let Some((error, error_name, note)) = outcome.refused.get(name) {
                let mut e = base(State::Failed, owned.map(|o| &o.spec));
                e.error = Some(error.clone());
                e.error_name = error_name.clone();
                e.note = note.clone();
                e
            } else {
                match step {
                    Step::Create { spec } | Step::Replace { to: spec, .. } => {
                        if outcome.done.contains_key(name) {
                            base(State::Applied, Some(spec))
                        } else {
                            base(State::Pending, owned.map(|o| &o.spec))
                        }
                    }
                    Step::Adopt { spec } => {
                        let mut e = base(
                            if outcome.done.contains_key(name) {
                                State::Applied
                            } else {
                                State::Pending
                            },
                            Some(spec),
                        );
                        e.note = Some("adopted: taken over without changing it".into());
                        e
                    }
                    Step::Keep => base(State::Applied, owned.map(|o| &o.spec)),
                    Step::Drop { .. } | Step::Forget => {
                        if outcome.done.contains_key(name) {
                            let mut e = base(State::Removed, None);
                            e.file = None;
                            e
                        } else {
                            base(State::Pending, owned.map(|o| &o.spec))
                        }
                    }
                    Step::Conflict { reason } => {
                        let mut e = base(
                            State::Conflict,
                            prepared.desired.catalogs.get(name).map(|c| &c.spec),
                        );
                        e.error = Some(reason.clone());
                        e
                    }
                    Step::Invalid { error, restore } => {
                        let mut e = base(State::Invalid, owned.map(|o| &o.spec));
                        e.error = Some(error.to_string());
                        e.note = Some(match (restore, outcome.done.contains_key(name)) {
                            (Some(_), true) => {
                                "the last good definition was restored on the coordinator".into()
                            }
                            _ if prepared.live.contains_key(name) => {
                                "the live catalog is left as it was".into()
                            }
                            _ => "not applied".into(),
                        });
                        e
                    }
                    Step::Held { hold, wanted } => {
                        let failure = self.failures.get(name);
                        let state = match hold.kind {
                            HoldKind::Backoff => State::Failed,
                            HoldKind::RateLimited => State::Pending,
                        };
                        let spec = match wanted.as_ref() {
                            Step::Create { spec } | Step::Replace { to: spec, .. } => Some(spec),
                            _ => owned.map(|o| &o.spec),
                        };
                        let mut e = base(state, spec);
                        e.error = failure.map(|f| f.error.clone());
                        e.error_name = failure.and_then(|f| f.error_name.clone());
                        e.note = Some(hold.reason.clone());
                        e
                    }
                }
            };
            match status.catalogs.get(name) {
                Some(old) if old.state == entry.state && old.fingerprint == entry.fingerprint => {
                    entry.last_change = old.last_change.clone();
                    entry.last_change_unix = old.last_change_unix;
                }
                _ => {
                    entry.last_change = status::rfc3339(now);
                    entry.last_change_unix = now;
                }
            }
            next.insert(name.clone(), entry);
        }
        // Removed catalogs stay visible for a while after they leave the plan.
        for (name, old) in &status.catalogs {
            if old.state == State::Removed
                && !next.contains_key(name)
                && now.saturating_sub(old.last_change_unix) < REMOVED_RETENTION_SECS
            {
                next.insert(name.clone(), old.clone());
            }
        }
        status.catalogs = next;
        status.warnings = prepared
            .desired
            .warnings
            .iter()
            .map(|w| format!("{}: {}", w.file, w.message))
            .collect();
    }
}

fn scrub(text: &str, specs: &[&CatalogSpec]) -> String {
    let secrets: Vec<&str> = specs.iter().flat_map(|s| s.secret_values()).collect();
    crate::catalog::scrub_secrets(text, &secrets)
}

fn engine_backoff(failures: u32) -> Duration {
    (Duration::from_secs(1) * 2u32.saturating_pow(failures.saturating_sub(1).min(5)))
        .min(ENGINE_BACKOFF_MAX)
}

enum Applied {
    Done(Option<String>),
    Raced(String),
    Refused {
        error: String,
        error_name: Option<String>,
        note: Option<String>,
    },
}

#[derive(Default)]
struct ApplyOutcome {
    done: BTreeMap<String, Option<String>>,
    refused: BTreeMap<String, (String, Option<String>, Option<String>)>,
    raced: bool,
}

/// Readiness as `/readyz` reports it.
#[derive(Debug, Default)]
pub struct Readiness {
    pub ready: AtomicBool,
}

/// Drives passes until `shutdown` turns true: one pass at a time, triggers that arrive meanwhile
/// coalesced into one more pass, retries scheduled from the last report.
pub async fn run(
    mut agent: Agent,
    mut triggers: mpsc::UnboundedReceiver<Trigger>,
    mut shutdown: watch::Receiver<bool>,
    heartbeats: Arc<Heartbeats>,
    readiness: Arc<Readiness>,
) -> Agent {
    let stop = agent.stop_flag();
    let mut next: Option<Trigger> = Some(Trigger::Startup);
    let mut retry_at: Option<tokio::time::Instant> = None;
    loop {
        heartbeats.reconcile.store(now_millis(), Ordering::Relaxed);
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
                        Some(t) => t,
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
            trigger = trigger.max(more);
        }
        heartbeats.reconcile.store(now_millis(), Ordering::Relaxed);
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
        heartbeats.reconcile.store(now_millis(), Ordering::Relaxed);
        match &report.result {
            PassResult::Unchanged => {}
            PassResult::Error(_) => readiness.ready.store(false, Ordering::Relaxed),
            _ => readiness
                .ready
                .store(report.all_valid_applied, Ordering::Relaxed),
        }
        if stop.load(Ordering::Relaxed) || *shutdown.borrow() {
            break;
        }
        retry_at = report.retry_in.map(|d| tokio::time::Instant::now() + d);
    }
    agent.save_ledger();
    agent
}
