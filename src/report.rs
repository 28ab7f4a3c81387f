//! Human and JSON renderings of `validate` and `plan` results. Property values never appear: plans
//! name changed keys only.

use crate::catalog::CatalogSpec;
use crate::engine::Mode;
use crate::plan::{Plan, Step};
use crate::reconcile::Prepared;
use crate::scan::Desired;
use serde_json::json;
use std::fmt::Write;

/// `file:line: error: reason` lines, warnings, and a summary line.
pub fn validate_text(desired: &Desired) -> String {
    let mut out = String::new();
    for bad in &desired.invalid {
        let e = &bad.error;
        match e.line {
            Some(line) => writeln!(out, "{}:{}: error: {}", e.file, line, e.reason),
            None => writeln!(out, "{}: error: {}", e.file, e.reason),
        }
        .expect("write to String");
    }
    for w in &desired.warnings {
        writeln!(out, "{}: warning: {}", w.file, w.message).expect("write to String");
    }
    writeln!(
        out,
        "{} valid, {} invalid, {} warning(s)",
        desired.catalogs.len(),
        desired.invalid.len(),
        desired.warnings.len()
    )
    .expect("write to String");
    out
}

pub fn validate_json(desired: &Desired) -> serde_json::Value {
    json!({
        "valid": desired.catalogs.iter().map(|(name, c)| json!({
            "catalog": name,
            "file": c.file,
            "connector": c.spec.connector,
            "fingerprint": c.fingerprint.short(),
        })).collect::<Vec<_>>(),
        "invalid": desired.invalid.iter().map(|f| json!({
            "file": f.error.file,
            "line": f.error.line,
            "error": f.error.reason,
            "catalog": f.catalog,
        })).collect::<Vec<_>>(),
        "warnings": desired.warnings.iter().map(|w| json!({
            "file": w.file,
            "warning": w.message,
        })).collect::<Vec<_>>(),
    })
}

/// Which keys differ between two definitions (no values: they may be secrets).
fn key_changes(from: &CatalogSpec, to: &CatalogSpec) -> String {
    let mut parts = Vec::new();
    if from.connector != to.connector {
        parts.push(format!("connector {} -> {}", from.connector, to.connector));
    }
    for (k, v) in &to.properties {
        match from.properties.get(k) {
            None => parts.push(format!("+{k}")),
            Some(old) if old != v => parts.push(format!("~{k}")),
            _ => {}
        }
    }
    for k in from.properties.keys() {
        if !to.properties.contains_key(k) {
            parts.push(format!("-{k}"));
        }
    }
    parts.join(" ")
}

struct Row {
    name: String,
    action: &'static str,
    connector: String,
    detail: String,
}

fn rows(plan: &Plan) -> Vec<Row> {
    plan.steps
        .iter()
        .map(|(name, step)| {
            let (connector, detail) = match step {
                Step::Create { spec, .. } => (spec.connector.clone(), String::new()),
                Step::Replace { from, to } => (to.connector.clone(), key_changes(from, to)),
                Step::Drop { previous } => (previous.connector.clone(), "file removed".into()),
                Step::Adopt { spec } => {
                    (spec.connector.clone(), "take over the live catalog".into())
                }
                Step::Forget => (String::new(), "no longer live, no file".into()),
                Step::Keep => (String::new(), String::new()),
                Step::Conflict { reason } => (String::new(), reason.clone()),
                Step::Invalid { error, restore } => (
                    restore
                        .as_ref()
                        .map(|s| s.connector.clone())
                        .unwrap_or_default(),
                    match restore {
                        Some(_) => format!("{error} (the last good definition is re-created)"),
                        None => format!("{error} (the live catalog is left alone)"),
                    },
                ),
                Step::Held { hold, wanted } => (
                    String::new(),
                    format!("{} waits: {}", wanted.action(), hold.reason),
                ),
            };
            Row {
                name: name.clone(),
                action: step.action(),
                connector,
                detail,
            }
        })
        .collect()
}

pub fn plan_text(prepared: &Prepared, server: &str) -> String {
    let mut out = String::new();
    let engine = match &prepared.info {
        Some(info) => format!(
            "{} {} at {server}",
            info.flavour(),
            info.node_version.version
        ),
        None => format!("{server} (not asked)"),
    };
    writeln!(out, "Engine: {engine} — mode: {}", prepared.mode.as_str()).expect("write to String");
    if prepared.mode_assumed {
        writeln!(
            out,
            "(Assumed: Trino does not tell a read-only client whether its catalog management is dynamic; if it is static, the first change is refused as such and applied in restart mode.)"
        )
        .expect("write to String");
    }
    if prepared.mode == Mode::Restart && prepared.plan.has_changes() {
        writeln!(
            out,
            "The changed files are rendered into the target folder; the coordinator is then restarted."
        )
        .expect("write to String");
    }
    let rows = rows(&prepared.plan);
    if rows.is_empty() {
        writeln!(out, "No catalog files and no managed catalogs.").expect("write to String");
        return out;
    }
    let w_name = rows.iter().map(|r| r.name.len()).max().unwrap_or(0).max(7);
    let w_conn = rows
        .iter()
        .map(|r| r.connector.len())
        .max()
        .unwrap_or(0)
        .max(9);
    writeln!(
        out,
        "{:w_name$}  {:8}  {:w_conn$}  DETAIL",
        "CATALOG", "ACTION", "CONNECTOR"
    )
    .expect("write to String");
    for r in &rows {
        writeln!(
            out,
            "{:w_name$}  {:8}  {:w_conn$}  {}",
            r.name, r.action, r.connector, r.detail
        )
        .expect("write to String");
    }
    let count = |a: &str| rows.iter().filter(|r| r.action == a).count();
    writeln!(
        out,
        "Plan: {} to create, {} to replace, {} to drop, {} to adopt; {} unchanged, {} invalid, {} conflict(s), {} held.",
        count("create"),
        count("replace"),
        count("drop"),
        count("adopt"),
        count("keep"),
        count("invalid") + count("restore"),
        count("conflict"),
        count("held")
    )
    .expect("write to String");
    out
}

pub fn plan_json(prepared: &Prepared, server: &str) -> serde_json::Value {
    json!({
        "engine": {
            "flavour": prepared.info.as_ref().map(|i| i.flavour().to_string()),
            "version": prepared.info.as_ref().map(|i| i.node_version.version.clone()),
            "server": server,
        },
        "mode": prepared.mode.as_str(),
        "mode_assumed": prepared.mode_assumed,
        "changes": prepared.plan.changes().len(),
        "catalogs": rows(&prepared.plan).into_iter().map(|r| json!({
            "catalog": r.name,
            "action": r.action,
            "connector": (!r.connector.is_empty()).then_some(r.connector),
            "detail": (!r.detail.is_empty()).then_some(r.detail),
        })).collect::<Vec<_>>(),
    })
}
