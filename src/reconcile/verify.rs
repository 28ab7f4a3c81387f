//! After a start: does the coordinator run what its folder holds? `SHOW CATALOGS` must list every
//! catalog file, and each changed catalog must answer a query through it before it counts as
//! applied.

use super::holds::Until;
use super::pass::{Applied, catalog_names};
use super::stage::Restart;
use crate::engine::{EngineError, ServerInfo};
use crate::sql;
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

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

impl Restart<'_> {
    /// After a start: `SHOW CATALOGS` must list every catalog file of the folder, and each changed
    /// catalog must answer a query through it before it counts as applied. A coordinator that
    /// says `starting: false` is not ready yet: PrestoDB answers `NO_NODES_AVAILABLE` for another
    /// 1.5–3 s (measured on 0.296) while its node registers, and a status of `applied` in that
    /// window would be a lie to whoever queries the catalog at once.
    pub async fn verify_after_restart(
        &mut self,
        info: &ServerInfo,
        waiting: &BTreeSet<String>,
        outcome: &mut Applied,
    ) {
        let _ = self.stage().engine_info().await;
        let deadline = Instant::now() + VERIFY_TIMEOUT;
        let running = loop {
            self.out.beat();
            match self.stage().running_catalogs().await {
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
                        self.holds.note_failure(
                            name,
                            fingerprint,
                            error.clone(),
                            None,
                            Until::Backoff,
                            Instant::now(),
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
        self.memory.failed_rollbacks = 0;
        self.memory.accepted_drift =
            (running != in_folder).then(|| (running.clone(), in_folder.clone()));
        for name in missing {
            if self.book.ledger.catalogs.contains_key(name) {
                let error = format!(
                    "the coordinator ({} {}) started but does not list this catalog",
                    self.view.flavour(),
                    info.node_version.version
                );
                let fingerprint = self.book.ledger.catalogs[name].fingerprint;
                self.holds.note_failure(
                    name,
                    Some(fingerprint),
                    error.clone(),
                    None,
                    Until::FileChanges,
                    Instant::now(),
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
            self.out.beat();
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
}
