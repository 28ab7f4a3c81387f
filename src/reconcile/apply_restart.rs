//! Restart mode's apply (PrestoDB, Trino with static catalogs): render the plan into the
//! coordinator's catalog folder, then — when what the coordinator runs differs from the folder —
//! roll the nodes ([`super::roll`]): drain, restart, wait until up, verify ([`super::verify`]).
//! When a node does not come up, restore the last known-good files and restart again
//! ([`super::rollback`]).
//!
//! Never a restart loop: at most one restart per `--min-restart-interval`, a definition that broke
//! a start is not tried again until its file changes, and after a failed rollback restarts back off.

use super::pass::{Applied, PassError, Prepared, catalog_names};
use super::rollback::rollback_backoff;
use super::stage::Restart;
use crate::ledger;
use crate::plan::Step;
use crate::render;
use std::time::Instant;

impl Restart<'_> {
    /// Whether the coordinator (re)started after the folder was last rendered — e.g. it was started
    /// after the init step's `sync`, or by someone else — so it loads what the folder holds. Docker
    /// says when the container started; without an answer from Docker, the coordinator's uptime
    /// does, counted so that a doubt means "no".
    async fn started_after_render(&mut self) -> bool {
        let Some(rendered) = self.book.ledger.restart.rendered_at_ms else {
            return false;
        };
        let state = match &self.restarter {
            Some(restarter) => restarter.container_state().await,
            None => None,
        };
        if let Some(state) = state {
            return state
                .started_at_ms
                .is_some_and(|started| started > rendered);
        }
        let mut info = self.stage().engine_info().await.ok();
        if info.is_none()
            && let Some(restarter) = &self.restarter
            && restarter.settings.container.is_none()
        {
            // Without Docker, a coordinator that does not answer yet is waited for: its uptime,
            // once it answers, says whether this start read the folder as rendered (a start
            // taken for a restart of the agent's would be counted, and the nodes rolled, for
            // nothing: measured after the compose sandbox's init step).
            let heartbeats = self.out.heartbeats.clone();
            info = restarter
                .wait_serving(self.client, || heartbeats.beat_reconcile())
                .await
                .ok();
        }
        info.is_some_and(|info| {
            super::roll::started_after(&info, rendered, crate::clock::now_millis())
        })
    }

    /// A fresh agent (no ledger, or one from before this was rendered) learns from the files'
    /// render times whether the coordinator started before the newest of them: then a restart is
    /// still due — a change rendered by an agent that stopped before restarting the coordinator.
    async fn restart_due_from_render_times(&mut self) {
        if self.book.ledger.restart.pending {
            return;
        }
        let Some(newest) = render::newest_render(&self.target_dir()) else {
            return;
        };
        if self
            .book
            .ledger
            .restart
            .rendered_at_ms
            .is_some_and(|known| known >= newest)
        {
            return;
        }
        let Some(restarter) = &self.restarter else {
            return;
        };
        let Some(started) = restarter
            .container_state()
            .await
            .and_then(|s| s.started_at_ms)
        else {
            return;
        };
        self.book.ledger.restart.rendered_at_ms = Some(newest);
        if started < newest {
            tracing::info!(
                "catalog files in the target folder were written after the coordinator started: it restarts to load them"
            );
            self.book.ledger.restart.pending = true;
        }
        self.book.save();
    }

    /// Render the plan into the coordinator's folder; then, when what the coordinator runs
    /// differs from the folder and a restart is allowed now, roll the nodes.
    pub async fn apply(&mut self, prepared: &Prepared) -> Result<Applied, PassError> {
        let target = self.target_dir();
        let mut outcome = Applied::default();

        // A definition that broke a start is remembered only while its file still says it.
        let before = self.book.ledger.restart.broken.len();
        self.book.ledger.restart.broken.retain(|name, broken| {
            prepared
                .desired
                .catalogs
                .get(name)
                .is_some_and(|c| c.fingerprint == broken.fingerprint)
        });
        if self.book.ledger.restart.broken.len() != before {
            self.book.save();
        }

        // 0. A fresh agent learns whether a restart is still due for files rendered earlier, and
        // (with no ledger) the set to roll back to before it changes anything:
        // the folder as it is, if the running coordinator lists exactly its catalogs.
        if !self.memory.checked_render_times
            && !self.settings.render_only
            && self.restarter.is_some()
        {
            self.memory.checked_render_times = true;
            self.restart_due_from_render_times().await;
        }
        if self.book.ledger.restart.known_good.is_none()
            && !self.book.ledger.restart.pending
            && !self.settings.render_only
            && self.restarter.is_some()
            && prepared.plan.has_changes()
            && let Some(running) = self.stage().running_catalogs().await
            && running == catalog_names(&prepared.live)
        {
            self.book.ledger.restart.known_good = Some(self.owned_specs());
        }

        // 1. Render the plan into the target folder.
        let now_ms = crate::clock::now_millis();
        let mut rendered = false;
        for (name, step) in prepared.plan.changes() {
            let source = prepared
                .desired
                .catalogs
                .get(name)
                .map_or("the ledger (last good definition)", |c| c.file.as_str());
            let written = match step {
                Step::Create { spec, .. }
                | Step::Replace { to: spec, .. }
                | Step::Invalid {
                    restore: Some(spec),
                    ..
                } => render::write(&target, spec, source, now_ms).map(|()| Some(spec)),
                Step::Drop { .. } => render::remove(&target, name).map(|()| None),
                Step::Adopt { spec } => {
                    // Own what the coordinator runs — the file in the target folder — so a later
                    // change renders the folder's definition and a rollback restores that file.
                    let running = std::fs::read(target.join(render::file_name(name)))
                        .ok()
                        .and_then(|bytes| {
                            crate::catalog::parse_file(name, name, &bytes, self.view.flavour()).ok()
                        })
                        .unwrap_or_else(|| spec.clone());
                    if let Some(good) = self.book.ledger.restart.known_good.as_mut() {
                        good.insert(name.to_string(), running.clone());
                    }
                    self.book
                        .ledger
                        .catalogs
                        .insert(name.to_string(), ledger::Entry::new(running, true));
                    outcome.done.insert(name.to_string());
                    continue;
                }
                Step::Forget => {
                    self.book.ledger.catalogs.remove(name);
                    outcome.done.insert(name.to_string());
                    continue;
                }
                _ => continue,
            };
            let file = render::file_name(name);
            match written {
                Ok(Some(spec)) => {
                    self.book
                        .ledger
                        .catalogs
                        .insert(name.to_string(), ledger::Entry::new(spec.clone(), false));
                    tracing::info!(catalog = name, action = step.action(), outcome = "rendered", file = %target.join(&file).display(), "wrote the catalog file");
                }
                Ok(None) => {
                    self.book.ledger.catalogs.remove(name);
                    tracing::info!(catalog = name, action = step.action(), outcome = "rendered", file = %target.join(&file).display(), "removed the catalog file");
                }
                Err(e) => {
                    let error = format!("cannot write {}: {e}", target.join(&file).display());
                    tracing::warn!(catalog = name, action = step.action(), outcome = "failed", error = %error, "rendering failed");
                    outcome
                        .refused
                        .insert(name.to_string(), (error, None, None));
                    continue;
                }
            }
            self.holds.note_change(name, Instant::now());
            rendered = true;
        }
        if rendered {
            self.book.ledger.restart.pending = true;
            self.book.ledger.restart.rendered_at_ms = Some(now_ms);
        }
        self.book.save();

        if self.settings.render_only {
            // An init step before the coordinator starts: the files are what it will load.
            for (name, step) in prepared.plan.changes() {
                if !outcome.refused.contains_key(name) && !matches!(step, Step::Forget) {
                    outcome.done.insert(name.to_string());
                }
            }
            return Ok(outcome);
        }

        // 2. Does the coordinator run what the folder holds?
        if self.restarter.is_none() {
            return Err(PassError::Unsupported(
                "restart mode needs --container (the coordinator's container) to restart the coordinator; `sync` only renders the target folder".into(),
            ));
        }
        if self.book.ledger.restart.pending && self.started_after_render().await {
            // It loads (or loaded) what the folder holds: wait for it and verify, as after a
            // restart of ours; a start that fails is rolled back the same way.
            tracing::info!(
                "the coordinator started after the catalog folder was rendered; waiting for it instead of restarting it"
            );
            let waiting = self.unverified();
            // Its log since the render holds its start.
            let since = self
                .book
                .ledger
                .restart
                .rendered_at_ms
                .map_or(0, |ms| (ms / 1000) as i64);
            let restarter = self.restarter.as_ref().expect("checked above");
            let heartbeats = self.out.heartbeats.clone();
            match restarter
                .wait_serving(self.client, || heartbeats.beat_reconcile())
                .await
            {
                Ok(info) => {
                    self.verify_after_restart(&info, &waiting, &mut outcome)
                        .await
                }
                Err(not_ready) => {
                    self.roll_back(prepared, since, not_ready, &waiting, &mut outcome, None)
                        .await?
                }
            }
            return Ok(outcome);
        }
        let running = self.stage().running_catalogs().await;
        let in_folder = catalog_names(&self.target_catalogs().await?);
        let drift = running.as_ref().is_some_and(|r| {
            *r != in_folder
                && self.memory.accepted_drift.as_ref() != Some(&(r.clone(), in_folder.clone()))
        });
        if !self.book.ledger.restart.pending && !drift {
            if running.is_some()
                && self.book.ledger.restart.known_good.as_ref() != Some(&self.owned_specs())
            {
                // The coordinator runs the folder as it is: that is the set to roll back to.
                for name in self.unverified() {
                    outcome.done.insert(name);
                }
                self.book.ledger.restart.known_good = Some(self.owned_specs());
                self.book.save();
            }
            return Ok(outcome);
        }
        let waiting = self.unverified();
        if drift && !self.book.ledger.restart.pending {
            tracing::info!(
                running = ?running,
                folder = ?in_folder,
                "the coordinator does not run the catalogs of its folder; restarting it"
            );
        }

        // 3. At most one restart per --min-restart-interval.
        if let Some(last) = self.view.last_restart() {
            // After a rollback that did not bring the coordinator back, the next attempts back
            // off (1, 2, 4 … 30 minutes): something outside the catalogs is wrong.
            let min = self
                .settings
                .restart
                .min_restart_interval
                .max(rollback_backoff(self.memory.failed_rollbacks));
            let elapsed = last.elapsed();
            if elapsed < min {
                let left = min - elapsed;
                for name in &waiting {
                    outcome.pending.insert(
                        name.clone(),
                        format!(
                            "waiting for the next coordinator restart (at most one every {}), in {}s",
                            humantime::format_duration(min),
                            left.as_secs().max(1)
                        ),
                    );
                }
                outcome.retry_in = Some(left);
                return Ok(outcome);
            }
        }

        self.roll_nodes(prepared, running.is_some(), &waiting, &mut outcome)
            .await?;
        Ok(outcome)
    }
}
