//! Prometheus metrics. Labels carry only fixed vocabularies (states, actions, results, triggers,
//! versions): never a property value, a catalog definition or a URL with credentials.

use crate::status::State;
use prometheus_client::encoding::{EncodeLabelSet, text::encode};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::sync::Mutex;
use std::sync::atomic::AtomicU64;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabels {
    state: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ApplyLabels {
    action: &'static str,
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TriggerLabels {
    trigger: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabels {
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabels {
    kind: &'static str,
}

/// Why a pass could not run: the `kind` of `catalog_reloader_pass_errors_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PassErrorKind {
    /// A catalog folder (the watched one, or the coordinator's) cannot be read.
    Scan,
    /// The coordinator does not answer, answers with an HTTP error, refuses the credentials or is
    /// still starting.
    EngineUnreachable,
    /// The coordinator answered, but not as the pass needed (a node that does not start).
    Engine,
    /// A node's restart could not be done (Docker down or refusing, a refused shutdown).
    Node,
    /// The configuration cannot do what the engine needs (restart mode without --target-dir).
    Unsupported,
    /// The ledger cannot be saved.
    Ledger,
}

impl PassErrorKind {
    pub const ALL: [PassErrorKind; 6] = [
        PassErrorKind::Scan,
        PassErrorKind::EngineUnreachable,
        PassErrorKind::Engine,
        PassErrorKind::Node,
        PassErrorKind::Unsupported,
        PassErrorKind::Ledger,
    ];

    pub fn label(self) -> &'static str {
        match self {
            PassErrorKind::Scan => "scan",
            PassErrorKind::EngineUnreachable => "engine_unreachable",
            PassErrorKind::Engine => "engine",
            PassErrorKind::Node => "node",
            PassErrorKind::Unsupported => "unsupported",
            PassErrorKind::Ledger => "ledger",
        }
    }
}

/// How a restart of a node ended: the `result` of `catalog_reloader_restarts_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestartResult {
    /// It came back with the new catalogs.
    Ok,
    /// It did not, and came back with the last known-good ones.
    RolledBack,
    /// It could not be restarted, or did not come back even with the last known-good catalogs.
    Failed,
}

impl RestartResult {
    pub fn label(self) -> &'static str {
        match self {
            RestartResult::Ok => "ok",
            RestartResult::RolledBack => "rolled_back",
            RestartResult::Failed => "failed",
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ConnectorLabels {
    connector: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BuildLabels {
    version: String,
    mode: String,
    engine: String,
}

pub struct Metrics {
    registry: Registry,
    catalogs: Family<StateLabels, Gauge>,
    apply: Family<ApplyLabels, Counter>,
    apply_duration: Histogram,
    passes: Family<TriggerLabels, Counter>,
    pass_errors: Family<KindLabels, Counter>,
    last_success: Gauge<f64, AtomicU64>,
    engine_up: Gauge,
    watch_events: Counter,
    build_info: Family<BuildLabels, Gauge>,
    build_current: Mutex<Option<BuildLabels>>,
    restarts: Family<ResultLabels, Counter>,
    leaky_drops: Family<ConnectorLabels, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("catalog_reloader");
        let catalogs = Family::<StateLabels, Gauge>::default();
        registry.register(
            "catalogs",
            "Catalogs known to the agent, by state (applied, pending, invalid, failed, conflict, removed)",
            catalogs.clone(),
        );
        let apply = Family::<ApplyLabels, Counter>::default();
        registry.register(
            "apply",
            "Changes applied to the engine, by action (create, replace, drop, adopt, restore, restart) and result (ok, failed)",
            apply.clone(),
        );
        let apply_duration = Histogram::new([
            0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0,
        ]);
        registry.register(
            "apply_duration_seconds",
            "Time to apply one change, engine round trips included",
            apply_duration.clone(),
        );
        let passes = Family::<TriggerLabels, Counter>::default();
        registry.register(
            "passes",
            "Reconcile passes, by what triggered them (startup, event, resync, retry)",
            passes.clone(),
        );
        let pass_errors = Family::<KindLabels, Counter>::default();
        registry.register(
            "pass_errors",
            "Passes that could not run, by kind (scan, engine_unreachable, engine, node, unsupported, ledger)",
            pass_errors.clone(),
        );
        let last_success = Gauge::<f64, AtomicU64>::default();
        registry.register(
            "last_success_timestamp_seconds",
            "Unix time of the last pass that reached the engine and converged",
            last_success.clone(),
        );
        let engine_up = Gauge::default();
        registry.register(
            "engine_up",
            "1 when the last contact with the coordinator succeeded and it was not starting, else 0",
            engine_up.clone(),
        );
        let watch_events = Counter::default();
        registry.register(
            "watch_events",
            "File system events seen in the watched folder (or changes found by polling)",
            watch_events.clone(),
        );
        let build_info = Family::<BuildLabels, Gauge>::default();
        registry.register(
            "build_info",
            "Always 1: the agent's version, the apply mode in force and the engine flavour",
            build_info.clone(),
        );
        let restarts = Family::<ResultLabels, Counter>::default();
        registry.register(
            "restarts",
            "Coordinator restarts in restart mode, by result (ok, rolled_back, failed)",
            restarts.clone(),
        );
        let leaky_drops = Family::<ConnectorLabels, Counter>::default();
        registry.register(
            "leaky_drops",
            "Catalogs dropped (alone or as part of a replacement) whose connector Trino documents as not releasing all resources on DROP (hive, iceberg, delta_lake, hudi, paimon); a coordinator restart reclaims them",
            leaky_drops.clone(),
        );
        let metrics = Metrics {
            registry,
            catalogs,
            apply,
            apply_duration,
            passes,
            pass_errors,
            last_success,
            engine_up,
            watch_events,
            build_info,
            build_current: Mutex::new(None),
            restarts,
            leaky_drops,
        };
        for state in State::ALL {
            metrics.set_catalogs(state, 0);
        }
        for kind in PassErrorKind::ALL {
            let _ = metrics
                .pass_errors
                .get_or_create(&KindLabels { kind: kind.label() });
        }
        metrics.set_build("unknown", "unknown");
        metrics
    }

    pub fn set_catalogs(&self, state: State, count: usize) {
        self.catalogs
            .get_or_create(&StateLabels {
                state: state.as_str(),
            })
            .set(count as i64);
    }

    pub fn observe_apply(&self, action: &'static str, ok: bool, seconds: f64) {
        self.apply
            .get_or_create(&ApplyLabels {
                action,
                result: if ok { "ok" } else { "failed" },
            })
            .inc();
        self.apply_duration.observe(seconds);
    }

    pub fn count_pass(&self, trigger: &'static str) {
        self.passes.get_or_create(&TriggerLabels { trigger }).inc();
    }

    pub fn count_pass_error(&self, kind: PassErrorKind) {
        self.pass_errors
            .get_or_create(&KindLabels { kind: kind.label() })
            .inc();
    }

    pub fn set_last_success(&self, unix_seconds: f64) {
        self.last_success.set(unix_seconds);
    }

    pub fn set_engine_up(&self, up: bool) {
        self.engine_up.set(i64::from(up));
    }

    pub fn count_watch_event(&self) {
        self.watch_events.inc();
    }

    pub fn count_restart(&self, result: RestartResult) {
        self.restarts
            .get_or_create(&ResultLabels {
                result: result.label(),
            })
            .inc();
    }

    /// `connector` is one of [`crate::catalog::LEAKY_CONNECTORS`]: a fixed vocabulary.
    pub fn count_leaky_drop(&self, connector: &'static str) {
        self.leaky_drops
            .get_or_create(&ConnectorLabels { connector })
            .inc();
    }

    /// Keeps exactly one `build_info` series: the current mode and engine.
    pub fn set_build(&self, mode: &str, engine: &str) {
        let labels = BuildLabels {
            version: env!("CARGO_PKG_VERSION").to_string(),
            mode: mode.to_string(),
            engine: engine.to_string(),
        };
        let mut current = self.build_current.lock().expect("metrics lock");
        if current.as_ref() == Some(&labels) {
            return;
        }
        if let Some(old) = current.take() {
            self.build_info.remove(&old);
        }
        self.build_info.get_or_create(&labels).set(1);
        *current = Some(labels);
    }

    /// The OpenMetrics text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        encode(&mut out, &self.registry).expect("writing to a String cannot fail");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_names_help_and_labels_are_pinned() {
        let m = Metrics::new();
        m.set_build("dynamic", "trino");
        m.observe_apply("create", true, 0.02);
        m.observe_apply("replace", false, 0.3);
        m.count_pass("startup");
        m.count_pass("event");
        m.count_watch_event();
        m.set_engine_up(true);
        m.set_catalogs(State::Applied, 3);
        m.count_restart(RestartResult::Ok);
        m.count_pass_error(PassErrorKind::EngineUnreachable);
        m.count_leaky_drop("hive");
        m.set_last_success(1_700_000_000.0);
        let text = m.render().replace(env!("CARGO_PKG_VERSION"), "<version>");
        insta::assert_snapshot!(sorted_within_families(&text));
    }

    /// Series within a family come out in hash order; sort them so the snapshot is stable.
    fn sorted_within_families(text: &str) -> String {
        let mut out = Vec::new();
        let mut samples: Vec<&str> = Vec::new();
        for line in text.lines() {
            if line.starts_with('#') {
                samples.sort_unstable();
                out.append(&mut samples);
                out.push(line);
            } else {
                samples.push(line);
            }
        }
        samples.sort_unstable();
        out.append(&mut samples);
        out.join("\n")
    }

    #[test]
    fn build_info_keeps_one_series() {
        let m = Metrics::new();
        m.set_build("dynamic", "trino");
        m.set_build("restart", "presto");
        let series: Vec<&str> = m
            .render()
            .lines()
            .filter(|l| l.starts_with("catalog_reloader_build_info{"))
            .map(|_| "x")
            .collect();
        assert_eq!(series.len(), 1);
        assert!(m.render().contains("mode=\"restart\",engine=\"presto\"} 1"));
    }
}
