//! The connection check: the engine creates a catalog definition under a temporary name, answers
//! a probe that only the connector can answer (`SHOW SCHEMAS FROM tmp` makes it reach its data
//! source), and drops it again. The engine's own answer is the result; nothing stays behind.
//!
//! Temporary names are `catalog_reloader_check_<unix seconds>_<random>`: files may not use the
//! prefix, the reconcile loop never plans such a catalog, and one left behind by a check that was
//! killed half-way is dropped by a later full pass once it is older than any check can take
//! ([`leftover_after`]: its three statements, each bounded by the statement timeout).

use crate::catalog::{self, CHECK_PREFIX, CatalogSpec};
use crate::engine::catalogs;
use crate::engine::client::{Client, EngineError};
use serde::Serialize;
use std::time::Duration;

/// Older than this, a check's temporary catalog is a leftover: a check sends three statements,
/// each bounded by `statement_timeout` (a check run with a longer timeout than the agent's could
/// lose its catalog before its last statement; it then reports the probe as failed).
pub fn leftover_after(statement_timeout: Duration) -> Duration {
    statement_timeout * 3 + Duration::from_secs(10)
}

/// Whether a check's temporary catalog was created long enough ago to be a leftover.
pub fn is_leftover(name: &str, now_secs: u64, statement_timeout: Duration) -> bool {
    let Some(rest) = name.strip_prefix(CHECK_PREFIX) else {
        return false;
    };
    let created: u64 = rest
        .split('_')
        .next()
        .and_then(|s| s.parse().ok())
        // A name of the prefix that this agent did not make: not ours to judge by age.
        .unwrap_or(u64::MAX);
    created != u64::MAX
        && now_secs.saturating_sub(created) > leftover_after(statement_timeout).as_secs()
}

fn temporary_name(now_secs: u64) -> String {
    use std::hash::BuildHasher;
    let random = std::collections::hash_map::RandomState::new().hash_one(now_secs);
    format!("{CHECK_PREFIX}{now_secs}_{:08x}", random as u32)
}

/// What a check found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckResult {
    /// The engine created the catalog and its connector answered the probe.
    pub ok: bool,
    /// Where it stopped: `create` (the engine refused the definition), `probe` (the connector
    /// could not answer), or `done`.
    pub stage: &'static str,
    /// The engine's error, secrets masked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_name: Option<String>,
    /// Schemas the connector listed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schemas: Option<usize>,
    /// When the temporary catalog could not be dropped: why (a later pass removes it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cleanup: Option<String>,
}

/// Why a check was not run at all.
#[derive(Debug, thiserror::Error)]
pub enum CheckRefused {
    #[error(
        "a check of a {0} catalog is not run: Trino documents that dropping one does not release all of its resources, so every check would cost the coordinator memory until it restarts; ask for it explicitly to run it anyway"
    )]
    LeakyConnector(String),
    #[error("{0}")]
    Engine(String),
}

/// Runs the check of `spec` on the engine behind `client`.
pub async fn check(
    client: &Client,
    spec: &CatalogSpec,
    allow_leak: bool,
) -> Result<CheckResult, CheckRefused> {
    if let Some(leaky) = catalog::leaky_connector(&spec.connector)
        && !allow_leak
    {
        return Err(CheckRefused::LeakyConnector(leaky.to_string()));
    }
    let now = crate::clock::now_secs();
    let temp = CatalogSpec {
        name: temporary_name(now),
        ..spec.clone()
    };
    let scrub = |e: &EngineError| catalog::scrub_specs(&e.to_string(), &[spec]);
    let error_name = |e: &EngineError| match e {
        EngineError::Query(q) => Some(q.error_name.clone()),
        _ => None,
    };
    match catalogs::create(client, &temp).await {
        Ok(()) => {}
        Err(e @ EngineError::Query(_)) => {
            return Ok(CheckResult {
                ok: false,
                stage: "create",
                error: Some(scrub(&e)),
                error_name: error_name(&e),
                schemas: None,
                cleanup: None,
            });
        }
        Err(e) => return Err(CheckRefused::Engine(scrub(&e))),
    }
    let probe = client
        .execute(&format!(
            "SHOW SCHEMAS FROM {}",
            crate::sql::quote_identifier(&temp.name)
        ))
        .await;
    let cleanup = catalogs::drop_catalog(client, &temp.name)
        .await
        .err()
        .map(|e| {
            format!(
                "the temporary catalog {} could not be dropped ({}); the agent's next full pass removes it",
                temp.name,
                scrub(&e)
            )
        });
    Ok(match probe {
        Ok(out) => CheckResult {
            ok: true,
            stage: "done",
            error: None,
            error_name: None,
            schemas: Some(out.rows.len()),
            cleanup,
        },
        Err(e) => CheckResult {
            ok: false,
            stage: "probe",
            error: Some(scrub(&e)),
            error_name: error_name(&e),
            schemas: None,
            cleanup,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::is_check_catalog;

    #[test]
    fn only_old_temporary_names_of_this_form_are_leftovers() {
        let now = 1_800_000_000;
        let timeout = Duration::from_secs(120);
        let fresh = temporary_name(now - 60);
        let old = temporary_name(now - 7 * 60);
        assert!(is_check_catalog(&fresh) && is_check_catalog(&old));
        assert!(!is_leftover(&fresh, now, timeout));
        assert!(is_leftover(&old, now, timeout));
        assert!(!is_leftover("catalog_reloader_check_x", now, timeout));
        assert!(!is_leftover("sales", now, timeout));
    }
}
