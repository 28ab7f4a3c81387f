//! What a pass is about and what it gives back: why it runs ([`Trigger`]), what it read and
//! planned ([`Prepared`]), what the engine accepted ([`Applied`]), how it ended ([`PassReport`]).

use crate::catalog::CatalogSpec;
use crate::engine::nodes::NodeError;
use crate::engine::{EngineError, Live, Mode, ServerInfo};
use crate::metrics::PassErrorKind;
use crate::plan::{Plan, SYSTEM_CATALOG};
use crate::scan::{Desired, ScanError};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

/// Why a pass runs. Ordered by strength: a stronger trigger absorbs weaker ones when coalescing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Trigger {
    /// A file event (or a change found by polling). May skip the engine when nothing changed.
    Event,
    /// A retry after a failure, a backoff or a rate limit.
    Retry,
    /// The periodic full pass.
    Resync,
    /// The first pass.
    Startup,
}

impl From<crate::watch::Signal> for Trigger {
    fn from(signal: crate::watch::Signal) -> Self {
        match signal {
            crate::watch::Signal::Changed => Trigger::Event,
            crate::watch::Signal::Resync => Trigger::Resync,
        }
    }
}

impl Trigger {
    pub fn label(self) -> &'static str {
        match self {
            Trigger::Event => "event",
            Trigger::Retry => "retry",
            Trigger::Resync => "resync",
            Trigger::Startup => "startup",
        }
    }
}

/// What a pass left behind, for the run loop, `sync`'s exit code and readiness.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PassResult {
    /// Every valid catalog is as its file says; no file is invalid and no catalog failed, conflicts
    /// or waits.
    Converged,
    /// Nothing changed in the folder since the last converged pass: the engine was not contacted.
    Unchanged,
    /// Some catalog is invalid, failed, in conflict or waiting.
    Degraded,
    /// The pass could not run: the folder, the engine or Docker could not be used.
    Error(PassFailure),
}

/// Why a pass could not run: what kind of thing failed (a metric's label) and what happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PassFailure {
    pub kind: PassErrorKind,
    pub message: String,
}

impl PassFailure {
    pub fn new(kind: PassErrorKind, message: impl Into<String>) -> Self {
        PassFailure {
            kind,
            message: message.into(),
        }
    }
}

impl std::fmt::Display for PassFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl PassResult {
    pub fn label(&self) -> &'static str {
        match self {
            PassResult::Converged => "converged",
            PassResult::Unchanged => "unchanged",
            PassResult::Degraded => "degraded",
            PassResult::Error(_) => "error",
        }
    }
}

#[derive(Debug, Clone)]
pub struct PassReport {
    pub result: PassResult,
    /// When to run again without a trigger (failure backoff, rate limit, unreachable engine).
    pub retry_in: Option<Duration>,
    /// Every catalog the files ask for is applied or has a verdict; nothing waits.
    pub settled: bool,
}

/// Everything a plan is made from, for `plan` output and for applying.
pub struct Prepared {
    /// The catalogs this pass looked at, when not all (a file event: what its files stand for);
    /// status and plan say nothing about the others.
    pub scope: Option<BTreeSet<String>>,
    pub desired: Arc<Desired>,
    /// Dynamic mode: the engine's catalogs. Restart mode: the target folder's catalog files.
    pub live: Arc<Live>,
    pub plan: Plan,
    pub mode: Mode,
    /// `--mode auto` on a Trino that has not refused a change as static: dynamic is assumed.
    pub mode_assumed: bool,
    /// `None` when the engine was not asked (restart mode's render-only `sync`).
    pub info: Option<ServerInfo>,
}

#[derive(Debug, thiserror::Error)]
pub enum PassError {
    #[error(transparent)]
    Scan(#[from] ScanError),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Restart(#[from] NodeError),
    #[error("{0}")]
    Unsupported(String),
}

impl PassError {
    pub fn kind(&self) -> PassErrorKind {
        match self {
            PassError::Scan(_) => PassErrorKind::Scan,
            PassError::Engine(e) if e.is_connection() => PassErrorKind::EngineUnreachable,
            PassError::Engine(_) => PassErrorKind::Engine,
            PassError::Restart(_) => PassErrorKind::Node,
            PassError::Unsupported(_) => PassErrorKind::Unsupported,
        }
    }

    /// Failures that go away by themselves (engine or Docker down): retried with backoff.
    pub fn is_transient(&self) -> bool {
        matches!(self, PassError::Engine(_))
            || matches!(self, PassError::Restart(e) if e.is_transient())
    }
}

/// What the engine made of one dynamic-mode step.
pub(super) enum StepResult {
    Done,
    Raced(String),
    /// The engine refused as "not supported by the static catalog store" (auto mode).
    StaticStore,
    Refused {
        error: String,
        error_name: Option<String>,
        note: Option<String>,
        /// The refusal will repeat until the definition or the engine changes.
        lasting: bool,
    },
}

/// What the apply stage got the engine to accept, and what not: the only thing status is recorded
/// from (with the plan). Built by the apply stages from the engine's answers, never from what was
/// merely sent.
#[derive(Default)]
pub(super) struct Applied {
    /// Changes the engine (or, in restart mode, the restarted coordinator) accepted.
    pub done: BTreeSet<String>,
    /// Changes refused: error, error name, note.
    pub refused: BTreeMap<String, (String, Option<String>, Option<String>)>,
    /// Catalogs whose definition is in place but not yet running (restart mode), with why.
    pub pending: BTreeMap<String, String>,
    /// Applied catalogs with something to say (restart mode: loaded, but its queries fail).
    pub notes: BTreeMap<String, String>,
    /// Live state changed under the pass: plan again.
    pub raced: bool,
    /// Run again after this long (restart mode: the restart waits for a quiet moment).
    pub retry_in: Option<Duration>,
    /// The pass could not finish its work (restart mode: Docker failed); statuses are still
    /// recorded, and the pass counts as failed and is retried with backoff.
    pub error: Option<String>,
}

/// Names of catalogs the coordinator runs, `system` excluded.
pub(super) fn catalog_names(live: &Live) -> BTreeSet<String> {
    live.keys()
        .filter(|n| *n != SYSTEM_CATALOG)
        .cloned()
        .collect()
}

/// Engine messages can span lines (airlift's "Configuration errors:" list); a log line should not.
pub(super) fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `text` with the secret values of `specs` masked.
pub(super) fn scrub(text: &str, specs: &[&CatalogSpec]) -> String {
    crate::catalog::scrub_specs(text, specs)
}
