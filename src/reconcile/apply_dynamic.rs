//! Dynamic mode's apply: the plan's changes as CREATE/DROP CATALOG, one statement at a time. A
//! replacement is a drop and a create; when the engine refuses the new definition, the previous one
//! is created again so queries keep working.

use super::book::LedgerBook;
use super::engine_view::EngineView;
use super::holds::{Holds, Until};
use super::observe::Observer;
use super::pass::{Applied, Prepared, StepResult, one_line, scrub};
use super::record::Outputs;
use super::settings::Settings;
use crate::catalog::{self, CatalogSpec, Fingerprint};
use crate::engine::catalogs;
use crate::engine::{Client, EngineError, Management, ModeChoice};
use crate::ledger::{self, Change};
use crate::plan::Step;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// A create answered "already exists" although the listing did not show the catalog: read again
/// this many times (the passes' own re-reads included) before calling it a failure.
const RACES_BEFORE_FAILING: u32 = 3;

/// What dynamic mode remembers between passes, per catalog.
#[derive(Default)]
pub(super) struct DynamicMemory {
    /// "Already exists" answers in a row per catalog the listing did not show.
    races: BTreeMap<String, u32>,
    /// Literal secret values already warned about: (catalog, key, definition).
    warned_secrets: BTreeSet<(String, String, Fingerprint)>,
}

impl DynamicMemory {
    /// Nothing is kept of a catalog that `known` says nothing names any more, nor a warning
    /// about a definition that is not the one `current` says is in the folder.
    pub fn forget(
        &mut self,
        known: impl Fn(&str) -> bool,
        current: impl Fn(&str) -> Option<Fingerprint>,
    ) {
        self.races.retain(|name, _| known(name));
        self.warned_secrets
            .retain(|(name, _, fingerprint)| current(name) == Some(*fingerprint));
    }
}

/// The dynamic-mode apply stage, with what it may touch.
pub(super) struct ApplyDynamic<'a> {
    pub settings: &'a Settings,
    pub client: &'a Client,
    pub book: &'a mut LedgerBook,
    pub holds: &'a mut Holds,
    pub view: &'a mut EngineView,
    pub observer: &'a mut Observer,
    pub memory: &'a mut DynamicMemory,
    pub out: &'a Outputs,
    pub stop: &'a AtomicBool,
}

impl ApplyDynamic<'_> {
    /// Applies the plan's changes with CREATE/DROP CATALOG, one statement at a time.
    pub async fn apply(&mut self, prepared: &Prepared) -> Result<Applied, EngineError> {
        let mut outcome = Applied::default();
        // A held refusal is remembered only while its file still says it.
        let before = self.book.ledger.refused.len();
        self.book.ledger.refused.retain(|name, refused| {
            prepared
                .desired
                .catalogs
                .get(name)
                .is_some_and(|c| c.fingerprint == refused.fingerprint)
        });
        if self.book.ledger.refused.len() != before {
            self.book.save();
        }
        for (name, step) in prepared.plan.changes() {
            // A long pass is a live one: /healthz must not call it stuck.
            self.out.beat();
            if self.stop.load(Ordering::Relaxed) {
                tracing::info!("stopping: remaining changes are left for the next start");
                break;
            }
            let started = Instant::now();
            let action = step.action();
            let result = match step {
                Step::Create { spec, fallback } => {
                    let source = fallback
                        .as_ref()
                        .and_then(|_| self.source_file(prepared, name));
                    self.create(name, spec, fallback.as_ref(), source).await
                }
                Step::Invalid {
                    restore: Some(spec),
                    ..
                } => self.create(name, spec, None, None).await,
                Step::Replace { from, to } => {
                    let source = self.source_file(prepared, name);
                    self.replace(name, from, to, source).await
                }
                Step::Drop { previous } => self.drop_owned(name, previous).await,
                Step::Adopt { spec } => {
                    self.book.change(Change::Own {
                        name: name.to_string(),
                        entry: ledger::Entry::new(spec.clone(), true),
                    });
                    Ok(StepResult::Done)
                }
                Step::Forget => {
                    self.book.change(Change::Disown {
                        name: name.to_string(),
                    });
                    Ok(StepResult::Done)
                }
                Step::Keep | Step::Conflict { .. } | Step::Invalid { .. } | Step::Held { .. } => {
                    continue;
                }
            };
            let result = match result {
                Ok(StepResult::Raced(why)) => Ok(self.count_race(name, why)),
                other => other,
            };
            let seconds = started.elapsed().as_secs_f64();
            let duration_ms = started.elapsed().as_millis() as u64;
            match result {
                Ok(StepResult::Done) => {
                    if !matches!(step, Step::Adopt { .. } | Step::Forget) {
                        self.out.metrics.observe_apply(action, true, seconds);
                        self.holds.note_change(name, Instant::now());
                        // The engine took a CREATE/DROP: its catalog management is dynamic.
                        self.view.learn(Management::Dynamic);
                    }
                    self.holds.succeeded(name);
                    if self.book.ledger.refused.remove(name).is_some() {
                        self.book.save();
                    }
                    self.memory.races.remove(name);
                    tracing::info!(
                        catalog = name,
                        action,
                        outcome = "ok",
                        duration_ms,
                        "applied"
                    );
                    self.out.progress(prepared, name, step);
                    outcome.done.insert(name.to_string());
                }
                Ok(StepResult::Raced(why)) => {
                    tracing::info!(catalog = name, action, outcome = "raced", duration_ms, error = %why, "live state changed under us; reading it again after the other changes");
                    outcome.raced = true;
                }
                Ok(StepResult::StaticStore) => {
                    // Not this catalog's failure: the pass is planned again in restart mode.
                    self.learn_static_management();
                    outcome.raced = true;
                    break;
                }
                Ok(StepResult::Refused {
                    error,
                    error_name,
                    note,
                    lasting,
                }) => {
                    self.out.metrics.observe_apply(action, false, seconds);
                    self.holds.note_change(name, Instant::now());
                    let fingerprint = match step {
                        Step::Create { spec, .. } | Step::Replace { to: spec, .. } => {
                            Some(spec.fingerprint())
                        }
                        Step::Invalid {
                            restore: Some(spec),
                            ..
                        } => Some(spec.fingerprint()),
                        _ => None,
                    };
                    tracing::warn!(catalog = name, action, outcome = "failed", duration_ms, error = %one_line(&error), note = note.as_deref(), lasting, "the engine refused the change");
                    match fingerprint {
                        Some(fingerprint) if lasting => {
                            self.hold_refusal(name, fingerprint, error.clone(), error_name.clone())
                        }
                        _ => self.holds.note_failure(
                            name,
                            fingerprint,
                            error.clone(),
                            error_name.clone(),
                            Until::Backoff,
                            Instant::now(),
                        ),
                    }
                    self.holds.set_note(name, note.clone());
                    outcome
                        .refused
                        .insert(name.to_string(), (error, error_name, note));
                }
                Err(e) => {
                    self.out.metrics.observe_apply(action, false, seconds);
                    tracing::warn!(catalog = name, action, outcome = "error", duration_ms, error = %e, "lost the engine while applying");
                    return Err(e);
                }
            }
        }
        Ok(outcome)
    }

    /// The watched file of a catalog and its bytes now, for [`ApplyDynamic::keep_users_file`].
    fn source_file(&self, prepared: &Prepared, name: &str) -> Option<(PathBuf, Vec<u8>)> {
        let file = &prepared.desired.catalogs.get(name)?.file;
        let path = self.settings.catalog_dir.join(file);
        let meta = std::fs::symlink_metadata(&path).ok()?;
        if !meta.is_file() {
            return None;
        }
        Some((path.clone(), std::fs::read(&path).ok()?))
    }

    /// When the agent watches Trino's own catalog folder (`catalog.store=file`), Trino deletes the
    /// user's file on DROP and writes its own on CREATE; restoring the previous definition after a
    /// refused edit would so put the old text into the user's file, or leave none. Put the user's
    /// file back as it was: the edit stays there to be fixed (and the failure keeps it from being
    /// tried again until it changes).
    fn keep_users_file(&self, source: Option<(PathBuf, Vec<u8>)>) {
        let Some((path, original)) = source else {
            return;
        };
        if std::fs::read(&path).ok().as_deref() == Some(original.as_slice()) {
            return;
        }
        match crate::files::write_atomically(&path, &original, 0o644) {
            Ok(()) => tracing::info!(
                file = %path.display(),
                "the engine rewrote this file in the watched folder (it is also the engine's catalog store); the edited file is put back"
            ),
            Err(e) => {
                tracing::warn!(file = %path.display(), error = %e, "cannot put the edited file back")
            }
        }
    }

    async fn create(
        &mut self,
        name: &str,
        spec: &CatalogSpec,
        fallback: Option<&CatalogSpec>,
        source: Option<(PathBuf, Vec<u8>)>,
    ) -> Result<StepResult, EngineError> {
        let error = match self.send_create(spec).await {
            Ok(()) => {
                self.book.change(Change::Created {
                    name: name.to_string(),
                    entry: ledger::Entry::new(spec.clone(), false),
                });
                return Ok(StepResult::Done);
            }
            Err(e) => e,
        };
        match (fallback, &error) {
            (Some(from), EngineError::Query(q)) if !catalogs::is_already_exists(q) => {
                let note = self.restore(from, spec).await;
                self.keep_users_file(source);
                self.refusal(error, &[from, spec], Some(note?))
            }
            _ => self.refusal(error, &[spec], None),
        }
    }

    /// Puts the last applied definition back after the engine refused its successor, so queries
    /// keep working. The ledger already records `from`. Returns what happened, for the report.
    async fn restore(
        &mut self,
        from: &CatalogSpec,
        to: &CatalogSpec,
    ) -> Result<String, EngineError> {
        match self.send_create(from).await {
            Ok(()) => {
                // The ledger still owns `from`, which is what runs again.
                self.book.change(Change::Answered {
                    name: from.name.clone(),
                });
                Ok("the previous definition was restored".to_string())
            }
            Err(EngineError::Query(q)) => Ok(format!(
                "the previous definition could not be restored either: {}",
                scrub(&q.to_string(), &[from, to])
            )),
            Err(e) => Err(e),
        }
    }

    async fn replace(
        &mut self,
        name: &str,
        from: &CatalogSpec,
        to: &CatalogSpec,
        source: Option<(PathBuf, Vec<u8>)>,
    ) -> Result<StepResult, EngineError> {
        match catalogs::drop_catalog(self.client, name).await {
            Ok(()) => self.note_drop(name, &from.connector),
            Err(EngineError::Query(q)) if catalogs::is_not_found(&q) => {}
            Err(e) => return self.refusal(e, &[from, to], None),
        }
        self.observer.engine_changed(name, None);
        let create_error = match self.send_create(to).await {
            Ok(()) => {
                self.book.change(Change::Created {
                    name: name.to_string(),
                    entry: ledger::Entry::new(to.clone(), false),
                });
                return Ok(StepResult::Done);
            }
            Err(e) if !matches!(e, EngineError::Query(_)) => {
                self.keep_users_file(source);
                return Err(e);
            }
            Err(e) => e,
        };
        // The new definition was refused: put the previous one back so queries keep working. (If
        // the engine was lost instead, the ledger still holds `from`, and the next pass plans a
        // create of `to` with `from` as its fallback.)
        let note = self.restore(from, to).await;
        self.keep_users_file(source);
        self.refusal(create_error, &[from, to], Some(note?))
    }

    async fn drop_owned(
        &mut self,
        name: &str,
        previous: &CatalogSpec,
    ) -> Result<StepResult, EngineError> {
        match catalogs::drop_catalog(self.client, name).await {
            Ok(()) => self.note_drop(name, &previous.connector),
            Err(EngineError::Query(q)) if catalogs::is_not_found(&q) => {}
            Err(e) => return self.refusal(e, &[previous], None),
        }
        self.observer.engine_changed(name, None);
        self.book.change(Change::Disown {
            name: name.to_string(),
        });
        Ok(StepResult::Done)
    }

    /// "Already exists" for a catalog the listing did not show is a race: read live state again.
    /// The third time in a row, the engine keeps saying it exists while its listing does not show
    /// it — a catalog hidden from the agent's user: refused, so it blocks nothing else.
    fn count_race(&mut self, name: &str, why: String) -> StepResult {
        let races = self.memory.races.entry(name.to_string()).or_default();
        *races += 1;
        if *races < RACES_BEFORE_FAILING {
            return StepResult::Raced(why);
        }
        self.memory.races.remove(name);
        StepResult::Refused {
            error: format!(
                "{why}, but the engine's catalog list does not show it to this agent's user (access control?); it is left alone"
            ),
            error_name: Some("ALREADY_EXISTS".into()),
            note: None,
            lasting: false,
        }
    }

    /// CREATE CATALOG, remembered in the ledger until its answer is seen: a CREATE the engine
    /// accepted but whose answer was lost is then recognised as the agent's own on the next pass,
    /// instead of becoming a conflict.
    async fn send_create(&mut self, spec: &CatalogSpec) -> Result<(), EngineError> {
        self.warn_literal_secrets(spec);
        self.book.change(Change::Unanswered { spec: spec.clone() });
        let result = catalogs::create(self.client, spec).await;
        if result.is_ok() {
            self.observer.engine_changed(&spec.name, Some(spec));
        }
        // Accepted: the caller records the catalog as owned and answered in one change.
        if matches!(result, Err(EngineError::Query(_))) {
            self.book.change(Change::Answered {
                name: spec.name.clone(),
            });
        }
        result
    }

    /// A refusal that repeats: held until the file or the coordinator changes, and remembered in
    /// the ledger so a restarted agent does not send it again either.
    fn hold_refusal(
        &mut self,
        name: &str,
        fingerprint: Fingerprint,
        error: String,
        error_name: Option<String>,
    ) {
        self.holds.note_failure(
            name,
            Some(fingerprint),
            error.clone(),
            error_name.clone(),
            Until::FileOrEngineChanges,
            Instant::now(),
        );
        self.book.ledger.refused.insert(
            name.to_string(),
            ledger::Refused {
                fingerprint,
                error,
                error_name,
                engine_started_ms: self.view.started_ms(),
            },
        );
        self.book.save();
    }

    /// The coordinator refused a change as "not supported by the static catalog store": from now
    /// on `auto` applies in restart mode, and remembers it (per coordinator URL).
    fn learn_static_management(&mut self) {
        tracing::info!(
            "the coordinator refused CREATE/DROP CATALOG as not supported by its static catalog store: it runs with catalog.management=static; changes are applied in restart mode from now on"
        );
        self.view.learn(Management::Static);
        self.book.ledger.engine = Some(ledger::EngineMemo {
            server: self.client.server().to_string(),
            dynamic: false,
        });
        self.book.save();
    }

    /// A sensitive property with a literal value travels in the CREATE CATALOG statement, which
    /// Trino keeps in its query history and shows in its Web UI (and, with the file store, writes
    /// to disk). Said once per catalog, key and value; `${ENV:NAME}` is resolved by Trino instead.
    fn warn_literal_secrets(&mut self, spec: &CatalogSpec) {
        for (key, value) in &spec.properties {
            if !catalog::is_literal_secret(key, value) {
                continue;
            }
            let seen = (spec.name.clone(), key.clone(), spec.fingerprint());
            if !self.memory.warned_secrets.insert(seen) {
                continue;
            }
            tracing::warn!(
                catalog = %spec.name,
                property = %key,
                "the value of this sensitive property is written literally in the catalog file, so it travels in the CREATE CATALOG statement that Trino keeps in its query history and Web UI; write it as ${{ENV:NAME}} and set NAME in the coordinator's environment instead"
            );
        }
    }

    /// Trino documents that some connectors keep resources after DROP CATALOG (the warning in its
    /// `DROP CATALOG` documentation): each
    /// such drop is counted and named, so operators can plan a coordinator restart.
    fn note_drop(&mut self, name: &str, connector: &str) {
        let Some(leaky) = catalog::leaky_connector(connector) else {
            return;
        };
        let drops = self.view.leaky_drop();
        self.out.metrics.count_leaky_drop(leaky);
        tracing::warn!(
            catalog = name,
            connector = leaky,
            drops_since_coordinator_start = drops,
            "Trino does not release all resources of {leaky} catalogs on DROP CATALOG; restart the coordinator at a quiet moment to reclaim them"
        );
    }

    /// Sorts an engine error into "engine refused this catalog" (reported per catalog), a race
    /// (re-read live state) or a lost engine (abort the pass).
    fn refusal(
        &mut self,
        e: EngineError,
        specs: &[&CatalogSpec],
        note: Option<String>,
    ) -> Result<StepResult, EngineError> {
        match e {
            EngineError::Query(q) if catalogs::is_already_exists(&q) && note.is_none() => {
                Ok(StepResult::Raced(q.to_string()))
            }
            EngineError::Query(q)
                if catalogs::is_static_store(&q) && self.settings.mode == ModeChoice::Auto =>
            {
                Ok(StepResult::StaticStore)
            }
            EngineError::Query(q) => {
                let mut error = scrub(&q.to_string(), specs);
                if catalogs::is_static_store(&q) {
                    // --mode dynamic on a static coordinator: say how to fix it.
                    error.push_str(" (the coordinator runs with static catalog management: set catalog.management=dynamic on every node, or use --mode auto or restart)");
                }
                Ok(StepResult::Refused {
                    error,
                    lasting: catalogs::is_lasting(&q),
                    error_name: Some(q.error_name),
                    note,
                })
            }
            other => Err(other),
        }
    }
}
