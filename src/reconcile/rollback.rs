//! A node did not come up with the new catalogs: put the last known-good files back, restart it
//! again (a worker: wait for its restart policy to start it with them), and blame the catalogs
//! its log names.

use super::holds::Until;
use super::pass::{Applied, PassError, Prepared, scrub};
use super::stage::Restart;
use crate::catalog::{CatalogSpec, Flavour};
use crate::engine::EngineError;
use crate::engine::nodes::method::Method;
use crate::engine::nodes::{Node, NodeError};
use crate::engine::startlog;
use crate::ledger;
use crate::render;
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

/// Lines of the coordinator's log read after a failed start. Trino logs its whole configuration
/// (~800 lines) before it loads catalogs, and a Guice error repeats itself for thousands of lines
/// after; the cause is in between.
const LOG_LINES_READ: usize = 20_000;

impl Restart<'_> {
    /// The coordinator — or `worker`, in a cluster — did not come up: put the last known-good
    /// files back, restart again (a worker: wait for its restart policy to start it with them),
    /// and blame the catalogs the coordinator's log names (all changed ones if it names none).
    /// The nodes not restarted yet never see the change.
    pub async fn roll_back(
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
            self.memory.failed_rollbacks = self.memory.failed_rollbacks.saturating_add(1);
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
                .wait_worker_serving(self.client, worker, expected.as_ref(), false, || {
                    heartbeats.beat_reconcile()
                })
                .await
        } else {
            match restarter
                // A coordinator that did not come up has nothing to drain: killed at once.
                .restart(
                    self.client,
                    self.view.flavour() == Flavour::Presto,
                    false,
                    || heartbeats.beat_reconcile(),
                )
                .await
            {
                Ok(_) => restarter
                    .wait_serving(self.client, || heartbeats.beat_reconcile())
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
            self.holds.note_failure(
                name,
                fingerprint,
                why.clone(),
                None,
                Until::FileChanges,
                Instant::now(),
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
            self.memory.failed_rollbacks = 0;
            self.out
                .metrics
                .count_restart(crate::metrics::RestartResult::RolledBack);
            self.book.ledger.restart.pending = false;
            self.book.save();
            tracing::warn!(action = "rollback", outcome = "ok", culprits = ?culprits, node = %who, "the node is back with the last known-good catalogs");
            Ok(())
        } else {
            self.memory.failed_rollbacks = self.memory.failed_rollbacks.saturating_add(1);
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
pub(super) fn rollback_backoff(failed: u32) -> Duration {
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
