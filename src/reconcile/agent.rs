//! The agent: what each stage remembers between passes, and a pass that runs the stages in
//! order — observe, plan, apply, record.

use super::apply_dynamic::{ApplyDynamic, DynamicMemory};
use super::book::LedgerBook;
use super::engine_view::EngineView;
use super::holds::{self, Holds, Until};
use super::observe::{self, Observer};
use super::pass::{Applied, PassError, PassFailure, PassReport, PassResult, Prepared, Trigger};
use super::record::Outputs;
use super::settings::Settings;
use super::stage::{Restart, RestartMemory, Stage};

use crate::engine::nodes::method::Restarter;
use crate::engine::{Client, EngineError, Live, Management, Mode, ServerInfo};
use crate::health::Heartbeats;
use crate::ledger::{self, LedgerError};
use crate::metrics::{Metrics, PassErrorKind};
use crate::plan;
use crate::scan::Desired;
use crate::status::SharedStatus;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

/// How soon a ledger that could not be saved is tried again.
const LEDGER_RETRY: Duration = Duration::from_secs(5);

pub struct Agent {
    settings: Settings,
    client: Client,
    /// The ledger: what the agent owns.
    book: LedgerBook,
    /// What the agent knows of the coordinator, and the mode.
    view: EngineView,
    /// What holds changes back: failures, rate limits, removals in their grace.
    holds: Holds,
    /// The folder and the engine as last read.
    observer: Observer,
    /// Dynamic mode's memory of races and secret warnings.
    dynamic: DynamicMemory,
    out: Outputs,
    stop: Arc<AtomicBool>,
    /// Passes in a row that could not run (the engine or Docker could not be used).
    failed_passes: u32,
    /// Restart mode: how the nodes are restarted.
    restarter: Option<Restarter>,
    /// Restart mode's memory between passes.
    restart: RestartMemory,
}

impl Agent {
    pub fn new(
        settings: Settings,
        mut client: Client,
        store: ledger::Store,
        status: SharedStatus,
        metrics: Arc<Metrics>,
        heartbeats: Arc<Heartbeats>,
    ) -> Result<Self, LedgerError> {
        let out = Outputs {
            status,
            metrics,
            heartbeats,
        };
        let (book, set_aside) = LedgerBook::load(store)?;
        if let Some(note) = set_aside {
            tracing::error!(error = %note, "ledger set aside");
            out.warn(note);
        }
        let restarter = match &settings.restart.coordinator {
            Some(docker) if !settings.render_only => Some(Restarter::new(docker.clone())),
            _ => None,
        };
        let mut view =
            EngineView::new(settings.forced_flavour, settings.mode, settings.render_only);
        client.set_flavour(view.flavour());
        let now = Instant::now();
        let mut holds = Holds::new(settings.max_changes_per_minute);
        // Definitions that broke a coordinator start stay held across agent restarts, and so do
        // refusals that repeat (until the coordinator is seen to have restarted since).
        for (name, broken) in &book.ledger.restart.broken {
            holds.note_failure(
                name,
                Some(broken.fingerprint),
                broken.error.clone(),
                None,
                Until::FileChanges,
                now,
            );
        }
        for (name, refused) in &book.ledger.refused {
            holds.note_failure(
                name,
                Some(refused.fingerprint),
                refused.error.clone(),
                refused.error_name.clone(),
                Until::FileOrEngineChanges,
                now,
            );
        }
        if let Some(memo) = &book.ledger.engine
            && memo.server == client.server()
        {
            view.learn(if memo.dynamic {
                Management::Dynamic
            } else {
                Management::Static
            });
        }
        Ok(Agent {
            observer: Observer::new(settings.catalog_dir.clone()),
            settings,
            client,
            book,
            view,
            holds,
            dynamic: DynamicMemory::default(),
            out,
            stop: Arc::new(AtomicBool::new(false)),
            failed_passes: 0,
            restarter,
            restart: RestartMemory::default(),
        })
    }

    /// How many catalogs `/status` shows (a cheap measure of the agent's size).
    pub fn catalogs_known(&self) -> usize {
        self.out.catalogs_known()
    }

    /// The key the leader shares with its followers (`--cluster-key-file`), as loaded at start.
    pub fn cluster_key(&self) -> Option<&crate::release::ClusterKey> {
        self.settings.restart.cluster_key.as_ref()
    }

    /// Set to stop between two statements (graceful shutdown).
    pub fn stop_flag(&self) -> Arc<AtomicBool> {
        self.stop.clone()
    }

    pub fn heartbeats(&self) -> Arc<Heartbeats> {
        self.out.heartbeats.clone()
    }

    /// Passes read the files the watch reports through this.
    pub fn watch_changes(&mut self, dirty: crate::watch::SharedDirty) {
        self.observer.watch_changes(dirty);
    }

    /// The end of a one-shot command, or of `run`: the ledger written whole (its journal folded
    /// in). Returns why it could not be, if so.
    pub fn save_ledger_now(&mut self) -> Option<String> {
        self.book.save();
        self.book.error().cloned()
    }

    /// The apply mode, said in `/status` and the log; an error when restart mode lacks what it
    /// needs.
    fn decide_mode(&mut self, info: Option<&ServerInfo>) -> Result<Mode, PassError> {
        let mode = self.view.mode();
        self.out
            .mode(mode, self.view.flavour(), info, self.view.reason(mode));
        if mode == Mode::Restart && self.settings.restart.target_dir.is_none() {
            return Err(PassError::Unsupported(
                self.view.without_target_dir().to_string(),
            ));
        }
        Ok(mode)
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

    /// CREATEs whose answer was lost: live with the connector sent means accepted (owned now);
    /// not live means not done (the plan creates it again).
    fn settle_unanswered(&mut self, live: &Live) {
        if self.book.ledger.unanswered.is_empty() {
            return;
        }
        for (name, spec) in std::mem::take(&mut self.book.ledger.unanswered) {
            let accepted = live
                .get(&name)
                .is_some_and(|l| l.connector.as_ref().is_none_or(|c| *c == spec.connector));
            // (Also when the ledger holds an older definition: the CREATE came after its DROP.)
            if accepted {
                tracing::info!(catalog = %name, "the engine accepted a CREATE whose answer was lost; the catalog is the agent's");
                self.book
                    .ledger
                    .catalogs
                    .insert(name, ledger::Entry::new(spec, false));
            }
        }
        self.book.save();
    }

    /// Reads folder, engine (and in restart mode the target folder) and computes the plan;
    /// changes nothing.
    pub async fn prepare(&mut self) -> Result<Prepared, PassError> {
        self.prepare_for(Trigger::Startup, None, None).await
    }

    /// Observe and plan. A file event reuses what `/v1/info` said last time (see
    /// [`EngineView::may_reuse_info`]); `scanned` is the folder as this pass already read it, if
    /// it did, and `scope` the catalogs its files stand for.
    async fn prepare_for(
        &mut self,
        trigger: Trigger,
        scanned: Option<Arc<Desired>>,
        mut scope: Option<BTreeSet<String>>,
    ) -> Result<Prepared, PassError> {
        // Observe: the engine's word first, for the mode.
        let info = if trigger == Trigger::Event && self.view.may_reuse_info() {
            self.view.last_info().cloned()
        } else if self.view.mode_needs_engine() {
            match self.stage().engine_info().await {
                Ok(info) => Some(info),
                Err(_) if self.view.restart_for_sure() => None,
                Err(e) => return Err(e.into()),
            }
        } else {
            None
        };
        let mode = self.decide_mode(info.as_ref())?;
        let flavour = self.view.flavour();
        // Observe: the folder, and the engine's catalogs (dynamic) or its folder (restart).
        let (desired, live) = match mode {
            Mode::Dynamic => {
                let cached = match trigger {
                    Trigger::Event => self.observer.cached_live(),
                    _ => None,
                };
                if let Some(live) = cached {
                    let desired = match scanned {
                        Some(desired) => desired,
                        None => self.observer.scan(flavour).await?,
                    };
                    (desired, live)
                } else {
                    // Compared with the engine's own list: every catalog is looked at.
                    scope = None;
                    let (desired, live) = self
                        .observer
                        .read_with_listing(&self.client, flavour, scanned)
                        .await?;
                    let live = live?;
                    self.settle_unanswered(&live);
                    let live = Arc::new(self.sweep_check_leftovers(live).await);
                    self.observer.keep_listing(live.clone());
                    (desired, live)
                }
            }
            Mode::Restart => {
                scope = None;
                let desired = match scanned {
                    Some(desired) => desired,
                    None => self.observer.scan(flavour).await?,
                };
                let (live, ours) =
                    observe::read_target(&self.settings.target_dir(), flavour).await?;
                // Files the agent rendered are its own, ledger or not.
                for spec in ours {
                    if !self.book.ledger.catalogs.contains_key(&spec.name) {
                        self.book
                            .ledger
                            .catalogs
                            .insert(spec.name.clone(), ledger::Entry::new(spec, false));
                    }
                }
                (desired, Arc::new(live))
            }
        };
        // What is remembered per catalog goes with the catalog: once no file names it, the agent
        // does not own it and the engine does not run it, nothing about it is kept.
        let known = |name: &str| {
            desired.catalogs.contains_key(name)
                || desired.protected(name).is_some()
                || self.book.ledger.catalogs.contains_key(name)
                || live.contains_key(name)
        };
        self.holds.forget_unknown(known);
        self.dynamic.forget(known, |name| {
            desired.catalogs.get(name).map(|c| c.fingerprint)
        });
        // Plan, with what is held back.
        let now = Instant::now();
        let mut holds = self.holds.at(now);
        let absent = holds::absent_owned(
            &self.book.ledger,
            &desired,
            scope.as_ref(),
            self.holds.removals_waiting(),
        );
        self.holds.hold_removals(trigger, absent, &mut holds, now);
        // A drop held back for a moment is decided by the pass after it, whatever that pass read.
        if let Some(scope) = scope.as_mut() {
            scope.extend(self.holds.removals_waiting().cloned());
        }
        let plan = plan::diff_within(
            &desired,
            &live,
            &self.book.ledger,
            &holds,
            plan::Options {
                adopt: self.settings.adopt,
            },
            scope.as_ref(),
        );
        Ok(Prepared {
            desired,
            live,
            plan,
            scope,
            mode,
            mode_assumed: self.view.mode_assumed(),
            info,
        })
    }

    /// One pass. Never panics on bad input or an unreachable engine: the report says what happened.
    pub async fn pass(&mut self, trigger: Trigger) -> PassReport {
        let started = Instant::now();
        let started_unix = crate::clock::now_secs();
        self.out.beat();
        self.out.metrics.count_pass(trigger.label());
        let mut report = self.pass_inner(trigger).await;
        if let Some(e) = self.book.persist().await
            && !matches!(report.result, PassResult::Error(_))
        {
            // The catalogs are right, but a restarted agent would not know which are its own:
            // not converged, not ready, said in /status; tried again soon.
            report.result = PassResult::Error(PassFailure::new(
                PassErrorKind::Ledger,
                format!(
                    "{e}: the catalogs are applied, but a restarted agent would not know which are its own"
                ),
            ));
            report.retry_in = Some(
                report
                    .retry_in
                    .map_or(LEDGER_RETRY, |d| d.min(LEDGER_RETRY)),
            );
            self.observer.set_converged(None);
        }
        let duration_ms = started.elapsed().as_millis() as u64;
        self.out.pass(trigger, started_unix, duration_ms, &report);
        report
    }

    async fn pass_inner(&mut self, trigger: Trigger) -> PassReport {
        let error_report = |e: PassFailure, retry_in: Option<Duration>| PassReport {
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
            match self.observer.read_changes(self.view.flavour()).await {
                Ok((desired, _)) if self.observer.is_converged(&desired) => {
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
                    self.observer.forget_folder();
                    return error_report(
                        PassFailure::new(PassErrorKind::Scan, e.to_string()),
                        None,
                    );
                }
            }
        }
        // From here on the engine may change; only a clean end of this pass says "converged"
        // again (a pass cut short by a lost engine must not leave an old mark behind).
        self.observer.set_converged(None);

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
                    applied.map(|applied| (prepared, applied))
                }
                Err(e) => Err(e),
            };
            match result {
                Ok((_, applied)) if applied.raced && attempts < 3 => {
                    // Someone else created or dropped a catalog under us: read live state again.
                    self.observer.forget_live();
                    scanned = None;
                    continue;
                }
                Ok((prepared, applied)) => {
                    let error = applied.error.clone();
                    if applied.raced || error.is_some() {
                        self.observer.forget_live();
                    }
                    let mut report = self.finish(&prepared, applied);
                    match error {
                        None => self.failed_passes = 0,
                        Some(e) => {
                            self.failed_passes += 1;
                            // The restart could not be made (Docker down or refusing).
                            report.result =
                                PassResult::Error(PassFailure::new(PassErrorKind::Node, e));
                            report.settled = false;
                            report.retry_in = Some(holds::engine_backoff(self.failed_passes));
                        }
                    }
                    return report;
                }
                Err(e) => {
                    self.observer.forget_live();
                    if let PassError::Engine(engine_error) = &e
                        && engine_error.is_connection()
                    {
                        self.out
                            .engine(self.view.flavour(), None, Some(engine_error));
                        self.view.lost();
                    }
                    if let PassError::Scan(scan_error) = &e {
                        tracing::error!(error = %scan_error, "a catalog folder cannot be read; nothing is changed");
                    }
                    let retry_in = if e.is_transient() {
                        self.failed_passes += 1;
                        Some(holds::engine_backoff(self.failed_passes))
                    } else {
                        None
                    };
                    return error_report(PassFailure::new(e.kind(), e.to_string()), retry_in);
                }
            }
        }
    }

    /// What a stage may touch, for this pass.
    fn stage(&mut self) -> Stage<'_> {
        Stage {
            client: &mut self.client,
            book: &mut self.book,
            holds: &mut self.holds,
            view: &mut self.view,
            observer: &mut self.observer,
            out: &self.out,
        }
    }

    /// Apply in restart mode: render the coordinator's folder and roll its nodes.
    async fn apply_restart(&mut self, prepared: &Prepared) -> Result<Applied, PassError> {
        Restart {
            settings: &self.settings,
            client: &mut self.client,
            book: &mut self.book,
            holds: &mut self.holds,
            view: &mut self.view,
            observer: &mut self.observer,
            out: &self.out,
            memory: &mut self.restart,
            restarter: self.restarter.as_ref(),
        }
        .apply(prepared)
        .await
    }

    /// Apply in dynamic mode: CREATE/DROP CATALOG.
    async fn apply_dynamic(&mut self, prepared: &Prepared) -> Result<Applied, EngineError> {
        ApplyDynamic {
            settings: &self.settings,
            client: &self.client,
            book: &mut self.book,
            holds: &mut self.holds,
            view: &mut self.view,
            observer: &mut self.observer,
            memory: &mut self.dynamic,
            out: &self.out,
            stop: &self.stop,
        }
        .apply(prepared)
        .await
    }

    /// Record: per-catalog status from the plan and what was applied; whether the pass converged
    /// and when to run again.
    fn finish(&mut self, prepared: &Prepared, applied: Applied) -> PassReport {
        self.out
            .catalogs(prepared, &applied, &self.book.ledger, &self.holds);
        let (settled, clean) = self.out.settled_and_clean(prepared);
        self.observer
            .set_converged(clean.then(|| prepared.desired.digest()));
        let owned = |name: &str| self.book.ledger.catalogs.contains_key(name);
        let retry_in = self.holds.soonest(Instant::now(), owned, applied.retry_in);
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
}
