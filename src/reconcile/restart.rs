//! Restart mode's apply (PrestoDB, Trino with static catalogs): render the plan into the
//! coordinator's catalog folder, then — when what the coordinator runs differs from the folder —
//! drain, restart its container, wait until it is up and verify `SHOW CATALOGS`. When it does not
//! come up, restore the last known-good files, restart again, and mark the catalogs that broke it.
//!
//! Never a restart loop: at most one restart per `--min-restart-interval`, a definition that broke
//! a start is not tried again until its file changes, and after a failed rollback restarts back off.

use super::cluster::RollStop;
use super::{Agent, Applied, PassError, Prepared, catalog_names, scrub};
use crate::catalog::{CatalogSpec, Flavour};
use crate::engine::nodes::drain::AfterDrain;
use crate::engine::nodes::method::Method;
use crate::engine::nodes::{Node, NodeError, RestartMethod};
use crate::engine::startlog;
use crate::engine::{EngineError, ServerInfo};
use crate::ledger;
use crate::plan::Step;
use crate::render;
use crate::sql;
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

/// A drain that timed out with `--drain-timeout-action skip` is tried again after this long (each
/// try waits up to the drain timeout for the queries to finish).
const SKIPPED_DRAIN_RETRY: Duration = Duration::from_secs(2);
/// A roll of the workers that could not go on (too few active workers, a refusal) is tried
/// again after this long.
const WORKERS_RETRY: Duration = Duration::from_secs(10);
/// How long a started coordinator has to answer a query through each changed catalog.
const VERIFY_TIMEOUT: Duration = Duration::from_secs(60);
const VERIFY_POLL_EVERY: Duration = Duration::from_millis(200);
/// Catalogs verified at once after a start (each is two or three small queries). On a cluster
/// the queries spread over the nodes; on a 2-core machine, where PrestoDB 0.296 itself is the
/// limit, 1,000 new catalogs took 339 s instead of 360 s (benches/compare.rs).
const VERIFY_AT_ONCE: usize = 8;

/// Whether a catalog answered a query after a start.
enum Answer {
    Answered,
    /// Its connector refused (a data source down, say): the catalog is loaded all the same.
    Refused(String),
    /// Still not answering at the deadline, with the last error.
    NotYet(String),
}

/// Lines of the coordinator's log read after a failed start. Trino logs its whole configuration
/// (~800 lines) before it loads catalogs, and a Guice error repeats itself for thousands of lines
/// after; the cause is in between.
const LOG_LINES_READ: usize = 20_000;

impl Agent {
    pub(super) fn target_dir(&self) -> std::path::PathBuf {
        self.settings
            .restart
            .target_dir
            .clone()
            .expect("decide_mode checked --target-dir")
    }

    /// The owned catalogs whose file is not what the coordinator last started with.
    fn unverified(&self) -> BTreeSet<String> {
        let empty = BTreeMap::new();
        let good = self
            .book
            .ledger
            .restart
            .known_good
            .as_ref()
            .unwrap_or(&empty);
        let mut names: BTreeSet<String> = BTreeSet::new();
        for (name, entry) in &self.book.ledger.catalogs {
            if good.get(name) != Some(&entry.spec) {
                names.insert(name.clone());
            }
        }
        for name in good.keys() {
            if !self.book.ledger.catalogs.contains_key(name) {
                names.insert(name.clone());
            }
        }
        names
    }

    fn owned_specs(&self) -> BTreeMap<String, CatalogSpec> {
        self.book
            .ledger
            .catalogs
            .iter()
            .map(|(n, e)| (n.clone(), e.spec.clone()))
            .collect()
    }

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
        let mut info = self.engine_info().await.ok();
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
                .wait_serving(&self.client, || heartbeats.beat_reconcile())
                .await
                .ok();
        }
        info.is_some_and(|info| {
            super::cluster::started_after(&info, rendered, crate::clock::now_millis())
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

    /// Names the running coordinator lists, or `None` when it cannot be asked.
    async fn running_catalogs(&mut self) -> Option<BTreeSet<String>> {
        let info = self.engine_info().await.ok()?;
        if info.starting {
            return None;
        }
        match self.client.execute(sql::SHOW_CATALOGS).await {
            Ok(out) => Some(
                out.rows
                    .iter()
                    .filter_map(|r| r.first()?.as_str().map(str::to_string))
                    .filter(|n| n != crate::plan::SYSTEM_CATALOG)
                    .collect(),
            ),
            Err(e) => {
                tracing::warn!(error = %e, "cannot list the coordinator's catalogs");
                None
            }
        }
    }

    pub(super) async fn apply_restart(
        &mut self,
        prepared: &Prepared,
    ) -> Result<Applied, PassError> {
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
        if !self.checked_render_times && !self.settings.render_only && self.restarter.is_some() {
            self.checked_render_times = true;
            self.restart_due_from_render_times().await;
        }
        if self.book.ledger.restart.known_good.is_none()
            && !self.book.ledger.restart.pending
            && !self.settings.render_only
            && self.restarter.is_some()
            && prepared.plan.has_changes()
            && let Some(running) = self.running_catalogs().await
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
            self.note_change(name);
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
                .wait_serving(&self.client, || heartbeats.beat_reconcile())
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
        let running = self.running_catalogs().await;
        let in_folder = catalog_names(&self.target_catalogs().await?);
        let drift = running.as_ref().is_some_and(|r| {
            *r != in_folder && self.accepted_drift.as_ref() != Some(&(r.clone(), in_folder.clone()))
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
                .max(rollback_backoff(self.failed_rollbacks));
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

        // 4. A cluster's workers first, one at a time; each drains itself (the engine's shutdown
        // waits for its tasks) and is back serving before the next goes.
        let mut has_workers = false;
        if running.is_some() {
            match self.roll_workers().await {
                Ok(workers) => has_workers = workers,
                Err(RollStop::Waiting(why)) => {
                    tracing::warn!(reason = %why, "the workers' restart cannot go on now; trying again later");
                    for name in &waiting {
                        outcome.pending.insert(
                            name.clone(),
                            format!("waiting for the workers' restart: {why}"),
                        );
                    }
                    outcome.retry_in = Some(WORKERS_RETRY);
                    return Ok(outcome);
                }
                Err(RollStop::Failed {
                    node,
                    method,
                    error,
                    since,
                }) => {
                    self.view.restarting(Instant::now());
                    self.roll_back(
                        prepared,
                        since,
                        error,
                        &waiting,
                        &mut outcome,
                        Some((&node, &method)),
                    )
                    .await?;
                    return Ok(outcome);
                }
            }
        }

        // 5. Drain — unless the engine's own shutdown does: it waits for the tasks running on
        // the coordinator itself, which are a lone coordinator's queries. With workers, the
        // queries' tasks run there, and a coordinator's shutdown cuts them when its grace period
        // ends (PrestoDB's GracefulShutdownHandler; measured: 20 queries cut a restart). A SIGTERM
        // does not wait for queries either.
        let restarter = self.restarter.as_ref().expect("checked above");
        let heartbeats = self.out.heartbeats.clone();
        if running.is_some()
            && (has_workers
                || matches!(
                    restarter.settings.method,
                    RestartMethod::Docker | RestartMethod::Signal
                ))
            && let AfterDrain::WaitForQuiet { running } = restarter
                .drain_or_wait(
                    &self.client,
                    &Node::coordinator(self.client.server()),
                    || heartbeats.beat_reconcile(),
                )
                .await
        {
            for name in &waiting {
                outcome.pending.insert(
                    name.clone(),
                    format!("waiting for a quiet moment: {running} queries were still running at the drain timeout"),
                );
            }
            outcome.retry_in = Some(SKIPPED_DRAIN_RETRY);
            return Ok(outcome);
        }

        // 6. Restart, wait, verify.
        let started = Instant::now();
        tracing::info!(container = restarter.settings.container.as_deref().unwrap_or("(none)"), method = ?restarter.settings.method, changed = ?waiting, "restarting the coordinator");
        let since = match restarter
            .restart(
                &self.client,
                self.view.flavour() == Flavour::Presto,
                running.is_some(),
                || heartbeats.beat_reconcile(),
            )
            .await
        {
            Ok(since) => since,
            Err(e) => {
                // Docker is down or refuses: the files stay rendered and the restart is retried
                // with backoff; the catalogs say what they wait for.
                self.out
                    .metrics
                    .count_restart(crate::metrics::RestartResult::Failed);
                self.out
                    .metrics
                    .observe_apply("restart", false, started.elapsed().as_secs_f64());
                tracing::warn!(action = "restart", outcome = "error", error = %e, "cannot restart the coordinator");
                for name in &waiting {
                    outcome.pending.insert(
                        name.clone(),
                        format!("waiting for the coordinator restart, which failed: {e}"),
                    );
                }
                outcome.error = Some(e.to_string());
                return Ok(outcome);
            }
        };
        self.view.restarting(Instant::now());
        let ready = restarter
            .wait_serving(&self.client, || heartbeats.beat_reconcile())
            .await;
        match ready {
            Ok(info) => {
                let seconds = started.elapsed().as_secs_f64();
                self.verify_after_restart(&info, &waiting, &mut outcome)
                    .await;
                self.out
                    .metrics
                    .count_restart(crate::metrics::RestartResult::Ok);
                self.out.metrics.observe_apply("restart", true, seconds);
                tracing::info!(action = "restart", outcome = "ok", duration_ms = (seconds * 1000.0) as u64, changed = ?waiting, "the coordinator restarted with the new catalogs");
            }
            Err(not_ready) => {
                self.roll_back(prepared, since, not_ready, &waiting, &mut outcome, None)
                    .await?;
                self.out
                    .metrics
                    .observe_apply("restart", false, started.elapsed().as_secs_f64());
            }
        }
        Ok(outcome)
    }

    /// After a start: `SHOW CATALOGS` must list every catalog file of the folder, and each changed
    /// catalog must answer a query through it before it counts as applied. A coordinator that
    /// says `starting: false` is not ready yet: PrestoDB answers `NO_NODES_AVAILABLE` for another
    /// 1.5–3 s (measured on 0.296) while its node registers, and a status of `applied` in that
    /// window would be a lie to whoever queries the catalog at once.
    async fn verify_after_restart(
        &mut self,
        info: &ServerInfo,
        waiting: &BTreeSet<String>,
        outcome: &mut Applied,
    ) {
        let _ = self.engine_info().await;
        let deadline = Instant::now() + VERIFY_TIMEOUT;
        let running = loop {
            self.beat();
            match self.running_catalogs().await {
                Some(running) => break running,
                None if Instant::now() < deadline => tokio::time::sleep(VERIFY_POLL_EVERY).await,
                None => break BTreeSet::new(),
            }
        };
        let in_folder = self
            .target_catalogs()
            .await
            .map(|l| catalog_names(&l))
            .unwrap_or_default();
        let missing: Vec<&String> = in_folder.difference(&running).collect();
        let mut answers: std::collections::HashMap<&String, Answer> = {
            use futures_util::StreamExt;
            let this = &*self;
            futures_util::stream::iter(
                waiting
                    .iter()
                    .filter(|name| in_folder.contains(*name) && !missing.contains(name)),
            )
            .map(|name| async move { (name, this.first_answer(name, deadline).await) })
            .buffer_unordered(VERIFY_AT_ONCE)
            .collect()
            .await
        };
        for name in waiting {
            if missing.contains(&name) {
                continue;
            }
            if let Some(answer) = answers.remove(name) {
                match answer {
                    Answer::Answered => {}
                    Answer::Refused(error) => {
                        outcome.notes.insert(
                            name.clone(),
                            format!(
                                "the coordinator loaded it, but a query through it fails: {error}"
                            ),
                        );
                    }
                    Answer::NotYet(error) => {
                        let error = format!(
                            "the coordinator started and lists this catalog, but no query through it answered within {}: {error}",
                            humantime::format_duration(VERIFY_TIMEOUT)
                        );
                        let fingerprint =
                            self.book.ledger.catalogs.get(name).map(|e| e.fingerprint);
                        self.note_failure(
                            name,
                            fingerprint,
                            error.clone(),
                            None,
                            super::Until::Backoff,
                        );
                        outcome.refused.insert(name.clone(), (error, None, None));
                        continue;
                    }
                }
            }
            self.holds.succeeded(name);
            self.book.ledger.restart.broken.remove(name);
            outcome.done.insert(name.clone());
        }
        self.failed_rollbacks = 0;
        self.accepted_drift = (running != in_folder).then(|| (running.clone(), in_folder.clone()));
        for name in missing {
            if self.book.ledger.catalogs.contains_key(name) {
                let error = format!(
                    "the coordinator ({} {}) started but does not list this catalog",
                    self.view.flavour(),
                    info.node_version.version
                );
                let fingerprint = self.book.ledger.catalogs[name].fingerprint;
                self.note_failure(
                    name,
                    Some(fingerprint),
                    error.clone(),
                    None,
                    super::Until::FileChanges,
                );
                outcome.refused.insert(name.clone(), (error, None, None));
            }
        }
        self.book.ledger.restart.pending = false;
        self.book.ledger.restart.known_good = Some(self.owned_specs());
        self.book.save();
    }

    /// Whether a query through the catalog answers: it reads one row of one of its tables (found
    /// with `SHOW SCHEMAS` and `SHOW TABLES`, which a coordinator answers on its own), or, for a
    /// catalog without tables, lists its schemas. A table read is the only proof: right after
    /// `starting: false` PrestoDB 0.296 and Trino 476 answer `SHOW SCHEMAS`, `information_schema`
    /// and every `system` table, yet refuse to read a connector's table with `NO_NODES_AVAILABLE`
    /// for seconds, until the node is registered with its catalogs (measured).
    async fn first_answer(&self, name: &str, deadline: Instant) -> Answer {
        let catalog = sql::quote_identifier(name);
        loop {
            self.beat();
            let not_yet = match self.read_one_row(&catalog).await {
                Ok(()) => return Answer::Answered,
                // The coordinator is not ready for queries yet, or a transport hiccup.
                Err(EngineError::Query(q))
                    if matches!(
                        q.error_name.as_str(),
                        "NO_NODES_AVAILABLE" | "SERVER_STARTING_UP" | "SERVER_SHUTTING_DOWN"
                    ) =>
                {
                    q.to_string()
                }
                Err(EngineError::Query(q)) => return Answer::Refused(q.to_string()),
                Err(e) => e.to_string(),
            };
            if Instant::now() >= deadline {
                return Answer::NotYet(not_yet);
            }
            tokio::time::sleep(VERIFY_POLL_EVERY).await;
        }
    }

    /// `SELECT 1 FROM catalog.schema.table LIMIT 1` for the first table of the first schemas
    /// (a small one where the catalog has the usual names), or `Ok` when it has no table.
    async fn read_one_row(&self, catalog: &str) -> Result<(), EngineError> {
        let names = |out: crate::engine::client::QueryOutput| -> Vec<String> {
            out.rows
                .iter()
                .filter_map(|r| r.first()?.as_str().map(str::to_string))
                .collect()
        };
        let mut schemas: Vec<String> = names(
            self.client
                .execute(&format!("SHOW SCHEMAS FROM {catalog}"))
                .await?,
        )
        .into_iter()
        .filter(|s| s != "information_schema")
        .collect();
        // tpch's `tiny`, and the usual default schemas, before the others.
        schemas.sort_by_key(|s| !matches!(s.as_str(), "tiny" | "default" | "public"));
        for schema in schemas.iter().take(3) {
            let schema = sql::quote_identifier(schema);
            let tables = names(
                self.client
                    .execute(&format!("SHOW TABLES FROM {catalog}.{schema}"))
                    .await?,
            );
            if let Some(table) = tables.first() {
                let table = sql::quote_identifier(table);
                self.client
                    .execute(&format!("SELECT 1 FROM {catalog}.{schema}.{table} LIMIT 1"))
                    .await?;
                return Ok(());
            }
        }
        Ok(())
    }

    /// The coordinator — or `worker`, in a cluster — did not come up: put the last known-good
    /// files back, restart again (a worker: wait for its restart policy to start it with them),
    /// and blame the catalogs the coordinator's log names (all changed ones if it names none).
    /// The nodes not restarted yet never see the change.
    async fn roll_back(
        &mut self,
        prepared: &Prepared,
        since: i64,
        not_ready: NodeError,
        changed: &BTreeSet<String>,
        outcome: &mut Applied,
        worker: Option<(&Node, &Method)>,
    ) -> Result<(), PassError> {
        let who = worker.map_or_else(
            || "the coordinator".to_string(),
            |(n, _)| format!("worker {}", n.id),
        );
        let restarter = self
            .restarter
            .as_ref()
            .expect("restart mode has a restarter");
        let mut specs: Vec<&CatalogSpec> = prepared
            .desired
            .catalogs
            .values()
            .map(|c| &c.spec)
            .collect();
        specs.extend(self.book.ledger.catalogs.values().map(|e| &e.spec));
        // A worker's log is within the agent's reach only through its container.
        let log = match worker.map(|(_, method)| method.container()) {
            None => restarter.log_since(since, LOG_LINES_READ).await,
            Some(Some(container)) => container.log_since(since, LOG_LINES_READ).await,
            Some(None) => String::new(),
        };
        let diagnosis = startlog::diagnose(&log);
        let engine_error = diagnosis.error.as_deref().map(|e| scrub(e, &specs));
        let new_specs = self.owned_specs();
        let culprits = culprits(changed, &new_specs, &diagnosis);
        tracing::error!(
            reason = %not_ready,
            engine_error = engine_error.as_deref().unwrap_or("(none found in its log)"),
            culprits = ?culprits,
            node = %who,
            "a node did not come up with the new catalogs; rolling back to the last known-good set"
        );

        let good = self
            .book
            .ledger
            .restart
            .known_good
            .clone()
            .unwrap_or_default();
        let target = self.target_dir();
        for name in changed {
            let restored = match good.get(name) {
                Some(spec) => render::write(
                    &target,
                    spec,
                    "the last known-good set",
                    crate::clock::now_millis(),
                )
                .map(|()| Some(spec)),
                None => render::remove(&target, name).map(|()| None),
            };
            match restored {
                Ok(Some(spec)) => {
                    self.book
                        .ledger
                        .catalogs
                        .insert(name.clone(), ledger::Entry::new(spec.clone(), false));
                }
                Ok(None) => {
                    self.book.ledger.catalogs.remove(name);
                }
                Err(e) => {
                    tracing::error!(catalog = %name, error = %e, "cannot restore the catalog file")
                }
            }
        }
        self.book.save();

        let restarter = self
            .restarter
            .as_ref()
            .expect("restart mode has a restarter");
        let heartbeats = self.out.heartbeats.clone();
        if changed.is_empty() {
            // Nothing of ours changed since the last good start: restarting again with the same
            // files would fail the same way.
            self.failed_rollbacks = self.failed_rollbacks.saturating_add(1);
            self.out
                .metrics
                .count_restart(crate::metrics::RestartResult::Failed);
            tracing::error!(reason = %not_ready, engine_error = engine_error.as_deref().unwrap_or("(none found in its log)"), "the coordinator does not start, and none of its catalogs changed; not restarting it again until something changes or the back-off ends");
            return Err(PassError::Engine(EngineError::Protocol(format!(
                "the coordinator does not start, and none of its catalogs changed: {not_ready}"
            ))));
        }
        let again = if let Some((worker, method)) = worker {
            // Its restart policy starts it again (or already did, crash-looping): with the files
            // restored, that start is a good one. Without a policy, Docker starts its container.
            if let Some(container) = method.container()
                && let Err(e) = container.start_if_stopped().await
            {
                tracing::warn!(node = %worker.id, error = %e, "cannot start the worker's container");
            }
            let expected = self.expected_announcement().await;
            restarter
                .wait_worker_serving(&self.client, worker, expected.as_ref(), false, || {
                    heartbeats.beat_reconcile()
                })
                .await
        } else {
            match restarter
                // A coordinator that did not come up has nothing to drain: killed at once.
                .restart(
                    &self.client,
                    self.view.flavour() == Flavour::Presto,
                    false,
                    || heartbeats.beat_reconcile(),
                )
                .await
            {
                Ok(_) => restarter
                    .wait_serving(&self.client, || heartbeats.beat_reconcile())
                    .await
                    .map(drop),
                Err(e) => Err(e),
            }
        };
        self.view.restarting(Instant::now());
        let recovered = again.is_ok();
        let why = match &engine_error {
            Some(error) => format!("{who} did not start with this catalog ({not_ready}): {error}"),
            None => format!(
                "{who} did not start with this catalog: {not_ready} (its log names no error)"
            ),
        };
        for name in &culprits {
            let fingerprint = prepared.desired.catalogs.get(name).map(|c| c.fingerprint);
            self.note_failure(
                name,
                fingerprint,
                why.clone(),
                None,
                super::Until::FileChanges,
            );
            if let Some(fingerprint) = fingerprint {
                self.book.ledger.restart.broken.insert(
                    name.clone(),
                    ledger::Broken {
                        fingerprint,
                        error: why.clone(),
                    },
                );
            }
            outcome.refused.insert(
                name.clone(),
                (
                    why.clone(),
                    None,
                    Some(if recovered {
                        "rolled back; not tried again until its file changes".into()
                    } else {
                        format!("rolled back, but {who} does not start with the last known-good catalogs either")
                    }),
                ),
            );
        }
        let innocent: Vec<&String> = changed.difference(&culprits).collect();
        for name in &innocent {
            outcome.pending.insert(
                (*name).clone(),
                "rolled back together with a catalog that broke the start; applied again at the next restart".into(),
            );
        }
        if !innocent.is_empty() {
            // Without the culprit, the others go at the next restart allowed, not at the resync.
            outcome.retry_in = Some(
                self.settings
                    .restart
                    .min_restart_interval
                    .max(Duration::from_secs(1)),
            );
        }
        if recovered {
            self.failed_rollbacks = 0;
            self.out
                .metrics
                .count_restart(crate::metrics::RestartResult::RolledBack);
            self.book.ledger.restart.pending = false;
            self.book.save();
            tracing::warn!(action = "rollback", outcome = "ok", culprits = ?culprits, node = %who, "the node is back with the last known-good catalogs");
            Ok(())
        } else {
            self.failed_rollbacks = self.failed_rollbacks.saturating_add(1);
            self.out
                .metrics
                .count_restart(crate::metrics::RestartResult::Failed);
            let reason = again.err().map(|e| e.to_string()).unwrap_or_default();
            tracing::error!(action = "rollback", outcome = "failed", reason = %reason, node = %who, "the node does not start with the last known-good catalogs either");
            Err(PassError::Engine(EngineError::Protocol(format!(
                "{who} does not start, even with the last known-good catalogs: {reason}"
            ))))
        }
    }
}

/// How long to leave the coordinator alone after `failed` rollbacks in a row that did not bring
/// it back: none before the first, then 1 minute, doubling up to 30 minutes.
fn rollback_backoff(failed: u32) -> Duration {
    if failed == 0 {
        return Duration::ZERO;
    }
    (Duration::from_secs(60) * 2u32.saturating_pow(failed - 1).min(32))
        .min(Duration::from_secs(1800))
}

/// The changed catalogs a failed start blames, from what its log says (see [`startlog`]):
///
/// 1. the engine's error names them — their file, their quoted name, their connector, or a
///    property their definition has — and the log shows them loading but never added;
/// 2. else those the error names;
/// 3. else those that never finished loading;
/// 4. else every changed catalog that was added or redefined (a removal cannot break a start).
///
/// A catalog the log shows added is never blamed.
fn culprits(
    changed: &BTreeSet<String>,
    new_specs: &BTreeMap<String, CatalogSpec>,
    diagnosis: &startlog::Diagnosis,
) -> BTreeSet<String> {
    let error = diagnosis.error.as_deref().unwrap_or("");
    let properties = startlog::named_properties(error);
    let candidates: Vec<&String> = changed
        .iter()
        .filter(|n| !diagnosis.added.contains(*n))
        .collect();
    let named_by_error = |name: &str| {
        let spec = new_specs.get(name);
        let mut needles = vec![
            format!("{name}.properties"),
            format!("'{name}'"),
            format!("\"{name}\""),
            format!("catalog {name}"),
        ];
        if let Some(spec) = spec {
            needles.push(format!("connector '{}'", spec.connector));
            needles.push(format!("connector {}", spec.connector));
        }
        needles.iter().any(|n| contains_word(error, n))
            || spec.is_some_and(|s| properties.iter().any(|p| s.properties.contains_key(p)))
    };
    let named: BTreeSet<String> = candidates
        .iter()
        .filter(|n| named_by_error(n))
        .map(|n| (*n).clone())
        .collect();
    let unfinished: BTreeSet<String> = candidates
        .iter()
        .filter(|n| diagnosis.unfinished.contains(n.as_str()))
        .map(|n| (*n).clone())
        .collect();
    let both: BTreeSet<String> = named.intersection(&unfinished).cloned().collect();
    if !both.is_empty() {
        return both;
    }
    if !named.is_empty() {
        return named;
    }
    if !unfinished.is_empty() {
        return unfinished;
    }
    let redefined: BTreeSet<String> = candidates
        .iter()
        .filter(|n| new_specs.contains_key(n.as_str()))
        .map(|n| (*n).clone())
        .collect();
    if redefined.is_empty() {
        changed.clone()
    } else {
        redefined
    }
}

/// `needle` occurs in `text` and is not the start of a longer name (`catalog a` in `catalog abc`).
fn contains_word(text: &str, needle: &str) -> bool {
    let name_char = |c: char| c.is_alphanumeric() || c == '_' || c == '-';
    if !needle.chars().last().is_some_and(name_char) {
        return text.contains(needle);
    }
    text.match_indices(needle).any(|(at, _)| {
        !text[at + needle.len()..]
            .chars()
            .next()
            .is_some_and(name_char)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(name: &str, connector: &str) -> CatalogSpec {
        CatalogSpec {
            name: name.into(),
            connector: connector.into(),
            properties: Default::default(),
        }
    }

    #[test]
    fn restarts_after_failed_rollbacks_back_off_up_to_half_an_hour() {
        let minutes = |n| rollback_backoff(n).as_secs() / 60;
        assert_eq!(rollback_backoff(0), Duration::ZERO);
        assert_eq!(
            [1, 2, 3, 4, 5, 6, 7, 40].map(minutes),
            [1, 2, 4, 8, 16, 30, 30, 30]
        );
    }

    fn spec_with(name: &str, connector: &str, props: &[(&str, &str)]) -> CatalogSpec {
        CatalogSpec {
            name: name.into(),
            connector: connector.into(),
            properties: props
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    fn diagnosis(log: &str) -> startlog::Diagnosis {
        startlog::diagnose(log)
    }

    const PRESTO_ERROR: &str =
        "2026-11-27T03:26:16.455Z\tERROR\tmain\tcom.facebook.presto.server.PrestoServer\t";
    const TRINO_LINE: &str =
        "2026-11-27T05:31:56.507Z\tINFO\tmain\tio.trino.connector.StaticCatalogManager\t";
    const TRINO_ERROR: &str = "2026-11-27T05:31:56.690Z\tERROR\tmain\tio.trino.server.Server\t";

    #[test]
    fn the_log_names_the_culprit() {
        let changed: BTreeSet<String> = ["a".into(), "b".into()].into();
        let specs: BTreeMap<String, CatalogSpec> = [
            ("a".to_string(), spec("a", "tpch")),
            ("b".to_string(), spec("b", "nosuch")),
        ]
        .into();
        let log = format!("{PRESTO_ERROR}No factory for connector nosuch");
        assert_eq!(
            culprits(&changed, &specs, &diagnosis(&log)),
            ["b".to_string()].into()
        );
        let log = format!(
            "{PRESTO_ERROR}Catalog configuration etc/catalog/a.properties does not contain connector.name"
        );
        assert_eq!(
            culprits(&changed, &specs, &diagnosis(&log)),
            ["a".to_string()].into()
        );
        // A catalog whose name starts another's is not blamed for it.
        let changed_ab: BTreeSet<String> = ["a".into(), "ab".into()].into();
        let specs_ab: BTreeMap<String, CatalogSpec> = [
            ("a".to_string(), spec("a", "tpch")),
            ("ab".to_string(), spec("ab", "tpch")),
        ]
        .into();
        let log = format!("{PRESTO_ERROR}Invalid configuration in catalog ab");
        assert_eq!(
            culprits(&changed_ab, &specs_ab, &diagnosis(&log)),
            ["ab".to_string()].into()
        );
    }

    #[test]
    fn trinos_log_blames_the_catalog_that_never_loaded_and_has_the_property() {
        // Two changed catalogs with the property named; only one never finished loading.
        let changed: BTreeSet<String> = ["bad".into(), "good".into(), "other".into()].into();
        let specs: BTreeMap<String, CatalogSpec> = [
            (
                "bad".to_string(),
                spec_with("bad", "tpch", &[("tpch.splits-per-node", "abc")]),
            ),
            (
                "good".to_string(),
                spec_with("good", "tpch", &[("tpch.splits-per-node", "4")]),
            ),
            ("other".to_string(), spec("other", "tpch")),
        ]
        .into();
        let log = format!(
            "{TRINO_LINE}-- Loading catalog good --\n{TRINO_LINE}-- Added catalog good using connector tpch --\n{TRINO_LINE}-- Loading catalog bad --\n{TRINO_LINE}-- Loading catalog other --\n{TRINO_ERROR}Configuration errors:\n\n1) Error: Invalid value 'abc' for type int (property 'tpch.splits-per-node') in order to call […]\n\n1 error\n"
        );
        assert_eq!(
            culprits(&changed, &specs, &diagnosis(&log)),
            ["bad".to_string()].into()
        );
        // Without a property to go by, the ones that never finished loading.
        let log = format!(
            "{TRINO_LINE}-- Loading catalog good --\n{TRINO_LINE}-- Added catalog good using connector tpch --\n{TRINO_LINE}-- Loading catalog bad --\n{TRINO_ERROR}Something odd\n"
        );
        assert_eq!(
            culprits(&changed, &specs, &diagnosis(&log)),
            ["bad".to_string()].into()
        );
    }

    #[test]
    fn when_the_log_names_nothing_every_redefined_catalog_is_suspect() {
        let changed: BTreeSet<String> = ["a".into(), "gone".into()].into();
        let specs: BTreeMap<String, CatalogSpec> = [("a".to_string(), spec("a", "tpch"))].into();
        let log = format!("{TRINO_ERROR}1) Error: Configuration property 'x' was not used");
        assert_eq!(
            culprits(&changed, &specs, &diagnosis(&log)),
            ["a".to_string()].into()
        );
        let only_removed: BTreeSet<String> = ["gone".into()].into();
        assert_eq!(
            culprits(&only_removed, &specs, &diagnosis("")),
            only_removed
        );
    }
}
