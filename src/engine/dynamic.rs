//! Catalog operations on an engine with dynamic catalog management (Trino `catalog.management=dynamic`):
//! list live catalogs, probe whether CREATE/DROP are available, create and drop.

use super::client::{Client, EngineError, QueryError};
use crate::catalog::CatalogSpec;
use crate::plan::{Live, LiveCatalog};
use crate::sql;
use serde_json::Value;
use std::sync::atomic::{AtomicBool, Ordering};

/// A name no one uses: the probe drops it and reads the engine's answer (facts §1.6).
pub const PROBE_CATALOG: &str = "catalog_reloader_probe_does_not_exist";

/// Whether the engine can add and remove catalogs at run time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Management {
    Dynamic,
    Static,
}

/// `NOT_SUPPORTED` with "… is not supported by the static catalog store" (StaticCatalogManager,
/// facts §1.6).
pub fn is_static_store(q: &QueryError) -> bool {
    q.error_name == "NOT_SUPPORTED" && q.message.contains("static catalog store")
}

/// `Catalog '…' already exists` (facts §1.6).
pub fn is_already_exists(q: &QueryError) -> bool {
    q.error_name == "ALREADY_EXISTS" || q.message.ends_with("already exists")
}

/// `Catalog '…' does not exist` (facts §1.6).
pub fn is_not_found(q: &QueryError) -> bool {
    q.error_name == "NOT_FOUND"
        || q.error_name == "CATALOG_NOT_FOUND"
        || q.message.ends_with("does not exist")
}

/// Reads live catalogs. Remembers when `connector_name` is missing (older Trino and PrestoDB,
/// facts §2.2) so later passes go straight to the fallback.
#[derive(Default)]
pub struct CatalogLister {
    legacy: AtomicBool,
}

impl CatalogLister {
    pub async fn live(&self, client: &Client) -> Result<Live, EngineError> {
        if !self.legacy.load(Ordering::Relaxed) {
            match client.execute(sql::LIST_CATALOGS).await {
                Ok(out) => return Ok(rows_to_live(&out.rows, true)),
                // An engine without the column (or the table) keeps the fallback; any other
                // refusal (a node not ready yet, access control) only this once.
                // (Trino names the error COLUMN_NOT_FOUND; PrestoDB's name is not in the facts
                // file, its message says "cannot be resolved" as Trino's does.)
                Err(EngineError::Query(q))
                    if matches!(
                        q.error_name.as_str(),
                        "COLUMN_NOT_FOUND" | "TABLE_NOT_FOUND" | "MISSING_TABLE"
                    ) || q.message.contains("cannot be resolved") =>
                {
                    tracing::info!(
                        error = %q,
                        "system.metadata.catalogs has no connector_name here; using SHOW CATALOGS (connectors unknown)"
                    );
                    self.legacy.store(true, Ordering::Relaxed);
                }
                Err(EngineError::Query(q)) => {
                    tracing::info!(
                        error = %q,
                        "cannot read system.metadata.catalogs this time; using SHOW CATALOGS (connectors unknown)"
                    );
                }
                Err(e) => return Err(e),
            }
        }
        let out = client.execute(sql::SHOW_CATALOGS).await?;
        Ok(rows_to_live(&out.rows, false))
    }

    /// Asks `system.metadata.catalogs` again next time (the coordinator restarted, maybe upgraded).
    pub fn reset(&self) {
        self.legacy.store(false, Ordering::Relaxed);
    }
}

fn rows_to_live(rows: &[Vec<Value>], with_connector: bool) -> Live {
    rows.iter()
        .filter_map(|row| {
            let name = row.first()?.as_str()?.to_string();
            let connector = if with_connector {
                row.get(1).and_then(Value::as_str).map(str::to_string)
            } else {
                None
            };
            Some((
                name,
                LiveCatalog {
                    connector,
                    fingerprint: None,
                },
            ))
        })
        .collect()
}

/// Asks the engine whether CREATE/DROP CATALOG work, by dropping a catalog that does not exist: the
/// static store answers NOT_SUPPORTED, a dynamic one NOT_FOUND.
pub async fn probe(client: &Client) -> Result<Management, EngineError> {
    match client.execute(&sql::drop_catalog(PROBE_CATALOG)).await {
        Ok(_) => Ok(Management::Dynamic),
        Err(EngineError::Query(q)) if is_static_store(&q) => Ok(Management::Static),
        Err(EngineError::Query(q)) if is_not_found(&q) => Ok(Management::Dynamic),
        Err(e) => Err(e),
    }
}

pub async fn create(client: &Client, spec: &CatalogSpec) -> Result<(), EngineError> {
    client.execute(&sql::create_catalog(spec)).await.map(drop)
}

pub async fn drop_catalog(client: &Client, name: &str) -> Result<(), EngineError> {
    client.execute(&sql::drop_catalog(name)).await.map(drop)
}
