//! Clusters whose nodes share no volume (Kubernetes: one pod per node): the agent next to the
//! coordinator stays the one that decides (the *leader*), and each worker pod runs a *follower*
//! that renders the worker's catalog folder from its own copy of the ConfigMap — but only at the
//! definitions the leader has released ([`crate::release`] says what is exchanged).
//!
//! A follower reads its ConfigMap with the same validation as the leader, writes a catalog only
//! when its definition has a released fingerprint, keeps a copy of every definition it wrote so a
//! withdrawn one can be put back, removes what is no longer released, and publishes what its
//! folder holds (`GET /v1/rendered`).

use crate::catalog::Flavour;
use crate::release::{
    Announcement, ClusterKey, MAX_RENDERED_BYTES, fetch, http_client, json, rendered_set,
    rendered_specs,
};
use crate::render;
use crate::scan;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Copies of earlier definitions a follower keeps per catalog (besides the released one).
const KEPT_PER_CATALOG: usize = 4;

/// One follower: the worker's catalog folder kept at the leader's released definitions.
pub struct Follower {
    /// The worker's copy of the catalog files (a ConfigMap volume).
    pub source: PathBuf,
    /// The worker's catalog folder.
    pub target: PathBuf,
    /// Copies of the definitions written so far, so a withdrawn one can be put back.
    pub store: PathBuf,
    pub flavour: Flavour,
    pub key: ClusterKey,
}

/// What one step of a follower did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct StepReport {
    pub written: Vec<String>,
    pub restored: Vec<String>,
    pub removed: Vec<String>,
    pub waiting: BTreeMap<String, String>,
}

impl Follower {
    fn stored_path(&self, name: &str, keyed: &str) -> PathBuf {
        self.store.join(format!("{name}.{keyed}.properties"))
    }

    /// Brings the worker's folder to `released` as far as the local copy of the files (or the
    /// kept copies) allow. Blocking (file work).
    pub fn step(&self, released: &BTreeMap<String, String>) -> StepReport {
        let mut report = StepReport::default();
        let current = rendered_specs(&self.target);
        // The worker's own copy of the files, validated as the leader validates its folder. A
        // folder that cannot be read at all is the same as one that shows no released
        // definition: nothing is written, nothing is removed for it.
        let behind = released.iter().any(|(name, keyed)| {
            current
                .get(name)
                .is_none_or(|(spec, _)| &self.key.keyed(spec) != keyed)
        });
        let local = if !behind {
            // Nothing to write: the copy of the files is not read.
            BTreeMap::new()
        } else {
            match scan::scan(&self.source, self.flavour) {
                Ok(desired) => desired.catalogs,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read the catalog folder");
                    BTreeMap::new()
                }
            }
        };
        if let Err(e) = std::fs::create_dir_all(&self.store) {
            tracing::warn!(store = %self.store.display(), error = %e, "cannot create the folder of kept definitions");
        }
        for (name, keyed) in released {
            if current
                .get(name)
                .is_some_and(|(spec, _)| &self.key.keyed(spec) == keyed)
            {
                // Written already; keep a copy (a folder seeded before this follower ran).
                let kept = self.stored_path(name, keyed);
                if !kept.exists() {
                    let _ = crate::files::write_atomically(&kept, &current[name].1, 0o600);
                }
                continue;
            }
            if let Some(desired) = local.get(name)
                && &self.key.keyed(&desired.spec) == keyed
            {
                let text = render::render(&desired.spec, &desired.file, crate::clock::now_millis());
                match crate::files::write_atomically(
                    &self.target.join(render::file_name(name)),
                    text.as_bytes(),
                    0o644,
                ) {
                    Ok(()) => {
                        let _ = crate::files::write_atomically(
                            &self.stored_path(name, keyed),
                            text.as_bytes(),
                            0o600,
                        );
                        report.written.push(name.clone());
                    }
                    Err(e) => {
                        report
                            .waiting
                            .insert(name.clone(), format!("cannot write its file: {e}"));
                    }
                }
                continue;
            }
            let kept = self.stored_path(name, keyed);
            if let Ok(bytes) = crate::files::read_regular(&kept, MAX_RENDERED_BYTES) {
                match crate::files::write_atomically(
                    &self.target.join(render::file_name(name)),
                    &bytes,
                    0o644,
                ) {
                    Ok(()) => report.restored.push(name.clone()),
                    Err(e) => {
                        report
                            .waiting
                            .insert(name.clone(), format!("cannot write its file: {e}"));
                    }
                }
                continue;
            }
            report.waiting.insert(
                name.clone(),
                match local.get(name) {
                    Some(_) => "this pod's copy of the catalog files has another definition than the released one (kubelet has not updated the volume yet)".to_string(),
                    None => "this pod's copy of the catalog files has no valid file for it (kubelet has not updated the volume yet)".to_string(),
                },
            );
        }
        for name in current.keys() {
            if !released.contains_key(name) {
                match render::remove(&self.target, name) {
                    Ok(()) => report.removed.push(name.clone()),
                    Err(e) => {
                        tracing::warn!(catalog = %name, error = %e, "cannot remove the catalog file")
                    }
                }
            }
        }
        self.prune(released);
        report
    }

    /// Keeps the released definition and the newest few others of each catalog.
    fn prune(&self, released: &BTreeMap<String, String>) {
        let Ok(entries) = std::fs::read_dir(&self.store) else {
            return;
        };
        let mut by_name: BTreeMap<String, Vec<(std::time::SystemTime, PathBuf, String)>> =
            BTreeMap::new();
        for entry in entries.filter_map(Result::ok) {
            let file = entry.file_name().to_string_lossy().into_owned();
            let Some(stem) = file.strip_suffix(".properties") else {
                continue;
            };
            let Some((name, keyed)) = stem.rsplit_once('.') else {
                continue;
            };
            let modified = entry
                .metadata()
                .and_then(|m| m.modified())
                .unwrap_or(std::time::UNIX_EPOCH);
            by_name.entry(name.to_string()).or_default().push((
                modified,
                entry.path(),
                keyed.to_string(),
            ));
        }
        for (name, mut kept) in by_name {
            kept.sort_by_key(|k| std::cmp::Reverse(k.0));
            let mut others = 0;
            for (_, path, keyed) in kept {
                if released.get(&name) == Some(&keyed) {
                    continue;
                }
                others += 1;
                if others > KEPT_PER_CATALOG {
                    let _ = std::fs::remove_file(path);
                }
            }
        }
    }
}

/// The newest modification time of the agent's files in `dir` (Unix milliseconds).
fn newest_change_ms(dir: &Path) -> Option<u64> {
    std::fs::read_dir(dir)
        .ok()?
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().ends_with(".properties"))
        .filter(|e| render::is_ours(&e.path()))
        .filter_map(|e| e.metadata().ok()?.modified().ok())
        .filter_map(crate::clock::unix_millis)
        .max()
}

/// What a follower shows on `/v1/rendered` and `/readyz`.
#[derive(Default)]
pub struct FollowerStatus {
    pub announcement: Announcement,
    /// The leader answered the last time it was asked, and nothing waits.
    pub in_step: bool,
    pub leader_error: Option<String>,
}

pub type SharedFollowerStatus = Arc<Mutex<FollowerStatus>>;

/// `/v1/rendered`, `/healthz`, `/readyz` of a follower.
pub fn follower_router(status: SharedFollowerStatus) -> Router {
    Router::new()
        .route("/v1/rendered", get(rendered))
        .route("/healthz", get(follower_healthz))
        .route("/readyz", get(follower_readyz))
        .with_state(status)
}

async fn rendered(State(s): State<SharedFollowerStatus>) -> Response {
    let announcement = s.lock().expect("status lock").announcement.clone();
    json(StatusCode::OK, &announcement)
}

async fn follower_healthz() -> Response {
    json(StatusCode::OK, &serde_json::json!({"status": "ok"}))
}

async fn follower_readyz(State(s): State<SharedFollowerStatus>) -> Response {
    let s = s.lock().expect("status lock");
    if s.in_step {
        return json(StatusCode::OK, &serde_json::json!({"status": "ready"}));
    }
    let reason = match &s.leader_error {
        Some(e) => format!("the leader does not answer: {e}"),
        None => format!(
            "waiting for {}",
            s.announcement
                .waiting
                .keys()
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    json(
        StatusCode::SERVICE_UNAVAILABLE,
        &serde_json::json!({"status": "not ready", "reason": reason}),
    )
}

/// The follower's loop: every `interval`, ask the leader what is released and bring the folder
/// to it. With `once` (an init step), return as soon as the folder holds every released
/// catalog, or at `deadline` with what it holds. Logs only what changes.
pub async fn run(
    follower: Follower,
    leader: String,
    interval: Duration,
    status: SharedFollowerStatus,
    once: Option<tokio::time::Instant>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> bool {
    let client = http_client(Duration::from_secs(5));
    let url = format!("{}/v1/released", leader.trim_end_matches('/'));
    let follower = Arc::new(follower);
    let mut last_error: Option<String> = None;
    let mut last_waiting: BTreeSet<String> = BTreeSet::new();
    // Until this follower changes something: the newest of the agent's files already there.
    let mut changed_at_ms = newest_change_ms(&follower.target);
    loop {
        match fetch(&client, &url).await.map_err(|e| e.to_string()) {
            Ok(released) => {
                if last_error.take().is_some() {
                    tracing::info!(leader = %leader, "the leader answers again");
                }
                let f = follower.clone();
                let wanted = released.catalogs.clone();
                let report = tokio::task::spawn_blocking(move || {
                    let report = f.step(&wanted);
                    (report, rendered_set(&f.target, &f.key))
                })
                .await;
                let Ok((report, now)) = report else {
                    continue;
                };
                for name in &report.written {
                    tracing::info!(catalog = %name, action = "write", "wrote the released definition");
                }
                for name in &report.restored {
                    tracing::info!(catalog = %name, action = "restore", "the leader withdrew a definition; put the kept copy of the released one back");
                }
                for name in &report.removed {
                    tracing::info!(catalog = %name, action = "remove", "removed a catalog the leader no longer releases");
                }
                let waiting: BTreeSet<String> = report.waiting.keys().cloned().collect();
                for name in waiting.difference(&last_waiting) {
                    tracing::warn!(catalog = %name, reason = %report.waiting[name], "cannot write the released definition yet");
                }
                if waiting.is_empty() && !last_waiting.is_empty() {
                    tracing::info!("the folder holds every released catalog");
                }
                last_waiting = waiting;
                if !(report.written.is_empty()
                    && report.restored.is_empty()
                    && report.removed.is_empty())
                {
                    changed_at_ms = Some(crate::clock::now_millis());
                }
                let complete = report.waiting.is_empty() && now == released.catalogs;
                {
                    let mut s = status.lock().expect("status lock");
                    s.announcement = Announcement {
                        catalogs: now,
                        waiting: report.waiting,
                        changed_at_ms,
                    };
                    s.in_step = complete;
                    s.leader_error = None;
                }
                if once.is_some() && complete {
                    return true;
                }
            }
            Err(e) => {
                if last_error.as_deref() != Some(e.as_str()) {
                    tracing::warn!(leader = %leader, error = %e, "the leader does not answer; the folder stays as it is");
                }
                let mut s = status.lock().expect("status lock");
                s.in_step = false;
                s.leader_error = Some(e.clone());
                last_error = Some(e);
            }
        }
        if let Some(deadline) = once
            && tokio::time::Instant::now() >= deadline
        {
            return false;
        }
        tokio::select! {
            () = tokio::time::sleep(interval) => {}
            _ = stop.wait_for(|s| *s) => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::CatalogSpec;

    fn spec(name: &str, props: &[(&str, &str)]) -> CatalogSpec {
        CatalogSpec {
            name: name.into(),
            connector: "tpch".into(),
            properties: props
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    struct Setup {
        _dirs: tempfile::TempDir,
        leader: PathBuf,
        follower: Follower,
    }

    fn setup() -> Setup {
        let dirs = tempfile::tempdir().unwrap();
        let make = |n: &str| {
            let p = dirs.path().join(n);
            std::fs::create_dir_all(&p).unwrap();
            p
        };
        let follower = Follower {
            source: make("configmap"),
            target: make("catalog"),
            store: dirs.path().join("state/released"),
            flavour: Flavour::Presto,
            key: ClusterKey::from_bytes(b"0123456789abcdef0123"),
        };
        Setup {
            leader: make("leader"),
            _dirs: dirs,
            follower,
        }
    }

    impl Setup {
        fn release(&self, spec: &CatalogSpec) {
            render::write(&self.leader, spec, "x.properties", 1).unwrap();
        }
        fn released(&self) -> BTreeMap<String, String> {
            rendered_set(&self.leader, &self.follower.key)
        }
        fn configmap(&self, name: &str, text: &str) {
            std::fs::write(
                self.follower.source.join(format!("{name}.properties")),
                text,
            )
            .unwrap();
        }
        fn holds(&self) -> BTreeMap<String, String> {
            rendered_set(&self.follower.target, &self.follower.key)
        }
    }

    #[test]
    fn a_follower_writes_only_released_definitions_and_puts_a_withdrawn_one_back() {
        let s = setup();
        let v1 = spec("sales", &[]);
        let v2 = spec("sales", &[("tpch.splits-per-node", "abc")]);
        // Released before this pod's copy shows it: nothing is written.
        s.release(&v1);
        let report = s.follower.step(&s.released());
        assert!(report.waiting.contains_key("sales"), "{report:?}");
        assert!(s.holds().is_empty());
        // The copy catches up.
        s.configmap("sales", "connector.name=tpch\n");
        let report = s.follower.step(&s.released());
        assert_eq!(report.written, ["sales"]);
        assert_eq!(s.holds(), s.released());
        // The copy changes before the leader releases it: the folder stays.
        s.configmap("sales", "connector.name=tpch\ntpch.splits-per-node=abc\n");
        let report = s.follower.step(&s.released());
        assert_eq!(report, StepReport::default());
        // Released: written.
        s.release(&v2);
        assert_eq!(s.follower.step(&s.released()).written, ["sales"]);
        assert_eq!(s.holds(), s.released());
        // Withdrawn (a node could not start with it): the kept copy of v1 goes back although the
        // pod's copy of the files still shows v2.
        s.release(&v1);
        let report = s.follower.step(&s.released());
        assert_eq!(report.restored, ["sales"]);
        assert_eq!(s.holds(), s.released());
        // No longer released: removed; a file that is not the agent's is never touched.
        std::fs::write(
            s.follower.target.join("own.properties"),
            "connector.name=tpch\n",
        )
        .unwrap();
        std::fs::remove_file(s.leader.join("sales.properties")).unwrap();
        let report = s.follower.step(&s.released());
        assert_eq!(report.removed, ["sales"]);
        assert!(s.follower.target.join("own.properties").exists());
    }

    #[test]
    fn an_invalid_copy_never_reaches_the_folder() {
        let s = setup();
        s.configmap("bad", "connector.name=\n");
        s.release(&spec("ok", &[]));
        let report = s.follower.step(&s.released());
        assert!(report.written.is_empty());
        assert!(!s.follower.target.join("bad.properties").exists());
    }
}
