//! Catalog operations on an engine with dynamic catalog management (Trino `catalog.management=dynamic`):
//! list live catalogs, create and drop.

use super::client::{Client, EngineError, QueryError};
use crate::catalog::CatalogSpec;
use crate::catalog::Fingerprint;
use crate::sql;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};

/// A catalog as the engine runs it — or, in restart mode, as the coordinator's catalog folder
/// defines it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveCatalog {
    /// `None` when the engine only answered `SHOW CATALOGS` (older versions without
    /// `system.metadata.catalogs.connector_name`).
    pub connector: Option<String>,
    /// The live definition's fingerprint, when it can be read back (restart mode's target files;
    /// an engine never tells).
    pub fingerprint: Option<Fingerprint>,
}

/// The live catalogs by name.
pub type Live = BTreeMap<String, LiveCatalog>;

/// `NOT_SUPPORTED` with "… is not supported by the static catalog store" (Trino's
/// `StaticCatalogManager`).
pub fn is_static_store(q: &QueryError) -> bool {
    q.error_name == "NOT_SUPPORTED" && q.message.contains("static catalog store")
}

/// Whether a refusal repeats until the definition or the engine changes, so that sending the
/// same statement again is pointless. From the answers of a real Trino 476
/// (recorded in `tests/emulator/`'s replies and checked by `tests/real_trino.rs`): configuration errors, an unknown connector, a
/// property that is not a varchar, an unset environment variable or unknown secret provider,
/// and statements the engine does not support. Anything else — a permission not granted yet, a
/// data source the connector could not reach while starting, an internal error — may pass later
/// and is retried with backoff.
pub fn is_lasting(q: &QueryError) -> bool {
    const LASTING_MESSAGES: [&str; 7] = [
        "Configuration errors",
        "No factory for connector",
        "Invalid connector name",
        "Environment variable is not set",
        "No secret provider",
        "Unable to create injector",
        "does not contain",
    ];
    match q.error_name.as_str() {
        "INVALID_CATALOG_PROPERTY" | "SYNTAX_ERROR" | "NOT_SUPPORTED" => true,
        "GENERIC_INTERNAL_ERROR" => LASTING_MESSAGES.iter().any(|m| q.message.contains(m)),
        _ => false,
    }
}

/// `Catalog '…' already exists` (Trino's `CoordinatorDynamicCatalogManager`).
pub fn is_already_exists(q: &QueryError) -> bool {
    q.error_name == "ALREADY_EXISTS" || q.message.ends_with("already exists")
}

/// `Catalog '…' does not exist` (Trino's `CoordinatorDynamicCatalogManager`).
pub fn is_not_found(q: &QueryError) -> bool {
    q.error_name == "NOT_FOUND"
        || q.error_name == "CATALOG_NOT_FOUND"
        || q.message.ends_with("does not exist")
}

/// Reads live catalogs. Remembers when `connector_name` is missing (older Trino and PrestoDB,
/// only `catalog_name` and `connector_id`) so later passes go straight to the fallback.
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

pub async fn create(client: &Client, spec: &CatalogSpec) -> Result<(), EngineError> {
    client.execute(&sql::create_catalog(spec)).await.map(drop)
}

pub async fn drop_catalog(client: &Client, name: &str) -> Result<(), EngineError> {
    client.execute(&sql::drop_catalog(name)).await.map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(name: &str, message: &str) -> QueryError {
        QueryError {
            error_name: name.into(),
            error_type: String::new(),
            error_code: 0,
            message: message.into(),
        }
    }

    #[test]
    fn refusals_that_repeat_are_told_from_those_that_may_pass() {
        // Real Trino 476 answers (as `tests/real_trino.rs` meets them).
        for lasting in [
            q(
                "GENERIC_INTERNAL_ERROR",
                "Configuration errors:\n\n1) Error: Configuration property 'tpch.nope' was not used\n\n1 error",
            ),
            q(
                "GENERIC_INTERNAL_ERROR",
                "No factory for connector 'postgresql'. Available factories: [memory, tpch]",
            ),
            q(
                "GENERIC_INTERNAL_ERROR",
                "Environment variable is not set: NOPE",
            ),
            q(
                "GENERIC_INTERNAL_ERROR",
                "No secret provider for key 'file'",
            ),
            q(
                "INVALID_CATALOG_PROPERTY",
                "line 1:38: Invalid value for catalog property 'tpch.splits-per-node': Cannot convert [2] to varchar",
            ),
            q(
                "NOT_SUPPORTED",
                "CREATE CATALOG with AUTHORIZATION is not yet supported",
            ),
        ] {
            assert!(is_lasting(&lasting), "{lasting}");
        }
        for passing in [
            q(
                "PERMISSION_DENIED",
                "Access Denied: Cannot create catalog ac2",
            ),
            q("CATALOG_STORE_ERROR", "Could not store catalog properties"),
            q(
                "GENERIC_INTERNAL_ERROR",
                "Failed connecting to Hive metastore",
            ),
            q("SERVER_STARTING_UP", "Trino server is still initializing"),
        ] {
            assert!(!is_lasting(&passing), "{passing}");
        }
    }
}
