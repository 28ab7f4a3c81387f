//! Per-catalog status and the last pass, shared by `/status`, the metrics and the log. Written only
//! by the reconcile loop, from what the engine answered — never from what was merely sent.

use crate::catalog::{Flavour, ShortFingerprint};
use crate::engine::Mode;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    Applied,
    Pending,
    Invalid,
    Failed,
    Conflict,
    Removed,
}

impl State {
    pub const ALL: [State; 6] = [
        State::Applied,
        State::Pending,
        State::Invalid,
        State::Failed,
        State::Conflict,
        State::Removed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            State::Applied => "applied",
            State::Pending => "pending",
            State::Invalid => "invalid",
            State::Failed => "failed",
            State::Conflict => "conflict",
            State::Removed => "removed",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CatalogStatus {
    pub state: State,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connector: Option<String>,
    /// 12 hex digits that change with the definition in force ([`crate::catalog::Fingerprint::keyed_short`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<ShortFingerprint>,
    /// The catalog file (name inside the watched folder).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// Why it is not applied, secrets redacted: the file error with its line, or the engine's
    /// error name and message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The engine's error name, when the engine refused it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_name: Option<String>,
    /// Extra context (e.g. "adopted", "previous definition restored").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// When the state or definition last changed: seconds since the Unix epoch, shown in RFC 3339
    /// (kept as a number: `/status` holds one per catalog).
    #[serde(rename = "last_change", serialize_with = "serialize_rfc3339")]
    pub last_change_unix: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EngineStatus {
    /// `trino` or `presto`; `unknown` before the engine first answered.
    #[serde(serialize_with = "serialize_flavour")]
    pub flavour: Option<Flavour>,
    pub version: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    pub up: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PassStatus {
    /// RFC 3339 time the pass started.
    pub time: String,
    pub trigger: String,
    pub duration_ms: u64,
    /// `converged`, `unchanged`, `degraded` (some catalog invalid/failed/conflict/pending) or `error`.
    pub result: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Status {
    /// `dynamic` or `restart` once known.
    pub mode: Option<Mode>,
    pub engine: Option<EngineStatus>,
    pub last_pass: Option<PassStatus>,
    pub catalogs: BTreeMap<String, CatalogStatus>,
    /// File warnings from the last scan (names that need quoting, dangling links, …).
    pub warnings: Vec<String>,
}

impl Status {
    pub fn count(&self, state: State) -> usize {
        self.catalogs.values().filter(|c| c.state == state).count()
    }
}

pub type SharedStatus = Arc<Mutex<Status>>;

fn serialize_flavour<S: serde::Serializer>(
    flavour: &Option<Flavour>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match flavour {
        Some(flavour) => flavour.serialize(serializer),
        None => serializer.serialize_str("unknown"),
    }
}

fn serialize_rfc3339<S: serde::Serializer>(unix: &u64, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(&humantime::format_rfc3339_seconds(
        std::time::UNIX_EPOCH + std::time::Duration::from_secs(*unix),
    ))
}

pub fn rfc3339(unix: u64) -> String {
    humantime::format_rfc3339_seconds(std::time::UNIX_EPOCH + std::time::Duration::from_secs(unix))
        .to_string()
}
