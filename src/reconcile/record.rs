//! The last stage of a pass: per-catalog status from the plan and from what the engine answered
//! (or, in restart mode, what the restarted coordinator loaded) — never from what was merely sent —
//! and the pass, the engine and the mode as `/status` and the metrics show them.

use super::holds::Holds;
use super::pass::{Applied, PassReport, PassResult, Prepared, Trigger};
use crate::catalog::{CatalogSpec, Flavour};
use crate::engine::{EngineError, Mode, ServerInfo};
use crate::health::Heartbeats;
use crate::ledger::Ledger;
use crate::metrics::Metrics;
use crate::plan::{HoldKind, Step};
use crate::status::{self, CatalogStatus, EngineStatus, PassStatus, SharedStatus, State};
use std::collections::BTreeMap;
use std::sync::Arc;

/// How long a removed catalog stays visible in `/status`.
const REMOVED_RETENTION_SECS: u64 = 600;

/// Where a pass says what it did: `/status`, the metrics, the heartbeat of `/healthz`.
pub(super) struct Outputs {
    pub status: SharedStatus,
    pub metrics: Arc<Metrics>,
    pub heartbeats: Arc<Heartbeats>,
}

impl Outputs {
    /// A long pass is a live one: `/healthz` must not call it stuck.
    pub fn beat(&self) {
        self.heartbeats.beat_reconcile();
    }

    /// How many catalogs `/status` shows (a cheap measure of the agent's size).
    pub fn catalogs_known(&self) -> usize {
        self.status.lock().expect("status lock").catalogs.len()
    }

    /// A warning for `/status` (a ledger set aside).
    pub fn warn(&self, note: String) {
        self.status.lock().expect("status lock").warnings.push(note);
    }

    /// The coordinator as the last contact found it (`info`), or why it could not be reached.
    pub fn engine(&self, flavour: Flavour, info: Option<&ServerInfo>, error: Option<&EngineError>) {
        self.metrics.set_engine_up(info.is_some());
        let mut status = self.status.lock().expect("status lock");
        let previous = status.engine.take();
        status.engine = Some(match info {
            Some(info) => EngineStatus {
                flavour: Some(flavour),
                version: info.node_version.version.clone(),
                environment: info.environment.clone(),
                up: true,
                error: None,
            },
            None => EngineStatus {
                flavour: previous.as_ref().and_then(|p| p.flavour),
                version: previous.map_or_else(|| "unknown".into(), |p| p.version),
                environment: None,
                up: false,
                error: error.map(ToString::to_string),
            },
        });
    }

    /// The apply mode in force; logged with `why` when it changes.
    pub fn mode(&self, mode: Mode, flavour: Flavour, info: Option<&ServerInfo>, why: &str) {
        {
            let mut status = self.status.lock().expect("status lock");
            if status.mode != Some(mode) {
                tracing::info!(
                    mode = mode.as_str(),
                    engine = %flavour,
                    version = %info.map_or("unknown", |i| i.node_version.version.as_str()),
                    reason = why,
                    "apply mode"
                );
                status.mode = Some(mode);
            }
        }
        self.metrics.set_build(mode.as_str(), &flavour.to_string());
    }

    /// The end of a pass: its line in `/status`, the catalogs by state in the metrics, and the log.
    pub fn pass(&self, trigger: Trigger, started_unix: u64, duration_ms: u64, report: &PassReport) {
        let error = match &report.result {
            PassResult::Error(e) => {
                self.metrics.count_pass_error(e.kind);
                Some(e.message.clone())
            }
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
    }

    /// Whether every catalog the files ask for is applied or has a verdict, and whether nothing
    /// is invalid, failed, in conflict or waiting.
    pub fn settled_and_clean(&self, prepared: &Prepared) -> (bool, bool) {
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
        (settled, clean)
    }

    /// During a pass: one catalog as the engine just took it, so `/status` shows a long pass's
    /// progress catalog by catalog (the pass's end writes every entry again).
    pub fn progress(&self, prepared: &Prepared, name: &str, step: &Step) {
        let now = crate::clock::now_secs();
        let (state, spec) = match step {
            Step::Create { spec, .. } | Step::Replace { to: spec, .. } | Step::Adopt { spec } => {
                (State::Applied, Some(spec))
            }
            Step::Drop { .. } | Step::Forget => (State::Removed, None),
            _ => return,
        };
        let entry = CatalogStatus {
            state,
            connector: spec.map(|s| s.connector.clone()),
            fingerprint: spec.map(|s| s.fingerprint().keyed_short()),
            file: spec.and_then(|_| prepared.desired.catalogs.get(name).map(|c| c.file.clone())),
            error: None,
            error_name: None,
            note: None,
            last_change_unix: now,
        };
        self.status
            .lock()
            .expect("status lock")
            .catalogs
            .insert(name.to_string(), entry);
    }

    /// Writes the per-catalog status from the plan and what the engine answered.
    pub fn catalogs(&self, prepared: &Prepared, outcome: &Applied, ledger: &Ledger, holds: &Holds) {
        let now = crate::clock::now_secs();
        let mut status = self.status.lock().expect("status lock");
        let mut old = std::mem::take(&mut status.catalogs);
        let mut next: BTreeMap<String, CatalogStatus> = BTreeMap::new();
        if let Some(scope) = &prepared.scope {
            // A pass that looked at some catalogs only: the others keep their entries, and `old`
            // holds the entries of those it looked at (which go unless the plan has them).
            let looked_at: BTreeMap<String, CatalogStatus> = scope
                .iter()
                .chain(prepared.plan.steps.keys())
                .chain(&outcome.done)
                .chain(outcome.pending.keys())
                .chain(outcome.refused.keys())
                .chain(outcome.notes.keys())
                .filter_map(|n| old.remove(n).map(|e| (n.clone(), e)))
                .collect();
            next = std::mem::replace(&mut old, looked_at);
        }
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
        // In restart mode a change rendered in one pass may be verified in a later one, whose plan
        // has nothing left to do for it: its outcome still decides its state.
        let mut steps: Vec<(&String, Step)> = prepared
            .plan
            .steps
            .iter()
            .map(|(n, s)| (n, s.clone()))
            .collect();
        let later: std::collections::BTreeSet<&String> = outcome
            .done
            .iter()
            .chain(outcome.pending.keys())
            .chain(outcome.refused.keys())
            .filter(|n| !prepared.plan.steps.contains_key(*n))
            .collect();
        for name in later {
            let step = if ledger.catalogs.contains_key(name) {
                Step::Keep
            } else {
                Step::Forget
            };
            steps.push((name, step));
        }
        let untouched = |name: &String| {
            !outcome.done.contains(name)
                && !outcome.pending.contains_key(name)
                && !outcome.notes.contains_key(name)
                && !outcome.refused.contains_key(name)
        };
        for (name, step) in &steps {
            let name: &String = name;
            // An applied catalog that stays as it is keeps its entry: with thousands of
            // catalogs, writing each again is most of a pass's time.
            if matches!(step, Step::Keep)
                && untouched(name)
                && old.get(name).is_some_and(|o| {
                    o.state == State::Applied && o.note.is_none() && o.file == file_of(name)
                })
            {
                let entry = old.remove(name).expect("checked");
                next.insert(name.clone(), entry);
                continue;
            }
            let owned = ledger.catalogs.get(name);
            let base = |state: State, spec: Option<&CatalogSpec>| CatalogStatus {
                state,
                connector: spec.map(|s| s.connector.clone()),
                fingerprint: spec.map(|s| s.fingerprint().keyed_short()),
                file: file_of(name),
                error: None,
                error_name: None,
                note: None,
                last_change_unix: 0,
            };
            let mut entry = if let Some((error, error_name, note)) = outcome.refused.get(name) {
                // Show the definition that was refused, when there is one.
                let tried = prepared.desired.catalogs.get(name).map(|c| &c.spec);
                let mut e = base(State::Failed, tried.or(owned.map(|o| &o.spec)));
                e.error = Some(error.clone());
                e.error_name = error_name.clone();
                e.note = note.clone();
                e
            } else {
                match step {
                    Step::Create { spec, .. } | Step::Replace { to: spec, .. } => {
                        if outcome.done.contains(name) {
                            base(State::Applied, Some(spec))
                        } else {
                            base(State::Pending, owned.map(|o| &o.spec))
                        }
                    }
                    Step::Adopt { spec } => {
                        let mut e = base(
                            if outcome.done.contains(name) {
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
                        if outcome.done.contains(name) {
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
                        e.note = Some(match (restore, outcome.done.contains(name)) {
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
                        let failure = holds.failure(name);
                        let state = match hold.kind {
                            HoldKind::Backoff => State::Failed,
                            HoldKind::RateLimited | HoldKind::Removal => State::Pending,
                        };
                        let spec = match wanted.as_ref() {
                            Step::Create { spec, .. } | Step::Replace { to: spec, .. } => {
                                Some(spec)
                            }
                            _ => owned.map(|o| &o.spec),
                        };
                        let mut e = base(state, spec);
                        e.error = failure.map(|f| f.error.clone());
                        e.error_name = failure.and_then(|f| f.error_name.clone());
                        e.note = Some(match failure.and_then(|f| f.note.as_deref()) {
                            Some(done) => format!("{done}; {}", hold.reason),
                            None => hold.reason.clone(),
                        });
                        e
                    }
                }
            };
            if let Some(note) = outcome.pending.get(name)
                && matches!(entry.state, State::Applied | State::Pending)
            {
                entry.state = State::Pending;
                entry.note = Some(note.clone());
            } else if let Some(note) = outcome.notes.get(name)
                && entry.state == State::Applied
            {
                entry.note = Some(note.clone());
            }
            match old.get(name) {
                Some(old) if old.state == entry.state && old.fingerprint == entry.fingerprint => {
                    entry.last_change_unix = old.last_change_unix;
                }
                _ => {
                    entry.last_change_unix = now;
                }
            }
            next.insert(name.clone(), entry);
        }
        // Removed catalogs stay visible for a while after they leave the plan.
        for (name, old) in old {
            if old.state == State::Removed
                && !next.contains_key(&name)
                && now.saturating_sub(old.last_change_unix) < REMOVED_RETENTION_SECS
            {
                next.insert(name, old);
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
