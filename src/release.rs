//! What the leader and its followers exchange on a cluster whose nodes share no volume (see
//! [`crate::follow`] for the follower).
//!
//! What the leader has released is what its own target folder holds: the leader writes a change
//! there before it rolls the workers, and puts the previous files back when a node cannot start
//! with it. It publishes, for each catalog file, a fingerprint keyed with the cluster key — never
//! a value, and nothing that lets a reader test guesses of a secret value offline without that key
//! (`GET /v1/released`). A follower publishes what its folder holds the same way
//! (`GET /v1/rendered`). The leader restarts a worker only once that worker's follower shows
//! exactly the released set: kubelet updates each pod's ConfigMap volume on its own schedule (up
//! to a minute or two apart), and a worker restarted before its copy caught up would start on the
//! old files.

use crate::catalog::{CatalogSpec, Flavour, parse_file};
use crate::render;
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The shortest cluster key accepted: 128 bits.
const MIN_KEY_BYTES: usize = 16;
/// A catalog file larger than this is not the agent's (a rendered file is small).
pub const MAX_RENDERED_BYTES: u64 = 1 << 20;

/// The secret shared by the leader and its followers (a Kubernetes Secret mounted in every pod).
#[derive(Clone)]
pub struct ClusterKey(Vec<u8>);

impl std::fmt::Debug for ClusterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClusterKey(***)")
    }
}

/// Why a cluster key file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot read the cluster key file {}: {source}", .path.display())]
    Read {
        path: PathBuf,
        source: crate::files::OpenError,
    },
    #[error(
        "the cluster key in {} is shorter than {MIN_KEY_BYTES} bytes (make one with `openssl rand -hex 32`)",
        .0.display()
    )]
    TooShort(PathBuf),
}

/// Why a leader or a follower gave no announcement.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error(transparent)]
    Request(reqwest::Error),
    #[error("HTTP {0}")]
    Status(reqwest::StatusCode),
}

impl ClusterKey {
    /// Reads the key file: its bytes, without surrounding whitespace.
    pub fn load(path: &Path) -> Result<ClusterKey, KeyError> {
        let bytes =
            crate::files::read_regular(path, 64 * 1024).map_err(|source| KeyError::Read {
                path: path.to_path_buf(),
                source,
            })?;
        let text = String::from_utf8_lossy(&bytes);
        let key = text.trim().as_bytes().to_vec();
        if key.len() < MIN_KEY_BYTES {
            return Err(KeyError::TooShort(path.to_path_buf()));
        }
        Ok(ClusterKey(key))
    }

    #[cfg(test)]
    pub fn from_bytes(bytes: &[u8]) -> ClusterKey {
        ClusterKey(bytes.to_vec())
    }

    /// The fingerprint of a definition as leader and followers exchange it: 32 hex digits of
    /// HMAC-SHA256 under the cluster key.
    pub fn keyed(&self, spec: &CatalogSpec) -> String {
        hmac_sha256(&self.0, &spec.fingerprint().0)[..16]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

/// HMAC (RFC 2104) with SHA-256.
fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut block = [0u8; 64];
    if key.len() > block.len() {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let mut inner = Sha256::new();
    inner.update(block.map(|b| b ^ 0x36));
    inner.update(message);
    let mut outer = Sha256::new();
    outer.update(block.map(|b| b ^ 0x5c));
    outer.update(inner.finalize());
    outer.finalize().into()
}

/// The catalogs a folder of rendered files holds, by name, each with its definition. Only the
/// agent's own files count (they start with [`render::MARKER`]). A rendered file is read back
/// exactly (no trimming: it escapes every character a reader could drop), so leader and follower
/// see the same definition whatever the engine.
pub fn rendered_specs(dir: &Path) -> BTreeMap<String, (CatalogSpec, Vec<u8>)> {
    let mut out = BTreeMap::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries.filter_map(Result::ok) {
        let file = entry.file_name().to_string_lossy().into_owned();
        let Some(name) = file.strip_suffix(".properties") else {
            continue;
        };
        let path = entry.path();
        if !render::is_ours(&path) {
            continue;
        }
        let Ok(bytes) = crate::files::read_regular(&path, MAX_RENDERED_BYTES) else {
            continue;
        };
        if let Ok(spec) = parse_file(&file, name, &bytes, Flavour::Presto) {
            out.insert(name.to_string(), (spec, bytes));
        }
    }
    out
}

/// What a folder of rendered files holds, as exchanged: catalog → keyed fingerprint.
pub fn rendered_set(dir: &Path, key: &ClusterKey) -> BTreeMap<String, String> {
    rendered_specs(dir)
        .into_iter()
        .map(|(name, (spec, _))| (name, key.keyed(&spec)))
        .collect()
}

/// The leader's and a follower's answer.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Announcement {
    /// Catalog name → keyed fingerprint.
    pub catalogs: BTreeMap<String, String>,
    /// Follower only: released catalogs it cannot write yet, with the reason.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub waiting: BTreeMap<String, String>,
    /// Follower only: when it last wrote, put back or removed a file (Unix milliseconds). A node
    /// that started before this has not read the folder as it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changed_at_ms: Option<u64>,
}

struct LeaderState {
    target: PathBuf,
    key: ClusterKey,
    /// The last answer, with the target folder's modification time it was read at and when: every
    /// follower asks every second, and the folder changes only with a change of the catalogs.
    cache: Mutex<Option<CachedRelease>>,
}

/// The folder's modification time, when it was read, what it held.
type CachedRelease = (
    std::time::SystemTime,
    std::time::Instant,
    BTreeMap<String, String>,
);

/// A cached answer is read again after this long even when the folder's time says nothing changed
/// (two writes within one tick of the file system's clock).
const RELEASED_CACHE_FOR: Duration = Duration::from_secs(2);

impl LeaderState {
    fn released(&self) -> BTreeMap<String, String> {
        let modified = std::fs::metadata(&self.target)
            .and_then(|m| m.modified())
            .ok();
        let mut cache = self.cache.lock().expect("cache lock");
        if let (Some(modified), Some((at, read, set))) = (modified, cache.as_ref())
            && *at == modified
            && read.elapsed() < RELEASED_CACHE_FOR
        {
            return set.clone();
        }
        let set = rendered_set(&self.target, &self.key);
        *cache = modified.map(|m| (m, std::time::Instant::now(), set.clone()));
        set
    }
}

/// `GET /v1/released` on the leader's `--listen`: what its target folder holds.
pub fn leader_router(target: PathBuf, key: ClusterKey) -> Router {
    Router::new()
        .route("/v1/released", get(released))
        .with_state(Arc::new(LeaderState {
            target,
            key,
            cache: Mutex::new(None),
        }))
}

async fn released(State(s): State<Arc<LeaderState>>) -> Response {
    let s = s.clone();
    let catalogs = tokio::task::spawn_blocking(move || s.released())
        .await
        .unwrap_or_default();
    json(
        StatusCode::OK,
        &Announcement {
            catalogs,
            ..Announcement::default()
        },
    )
}

pub fn json<T: Serialize>(code: StatusCode, value: &T) -> Response {
    (
        code,
        [(header::CONTENT_TYPE, "application/json")],
        format!("{}\n", serde_json::to_string(value).unwrap_or_default()),
    )
        .into_response()
}

/// A plain HTTP client for leader ↔ follower requests (no engine credentials).
pub fn http_client(timeout: Duration) -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(timeout)
        .build()
        .expect("an HTTP client without TLS settings builds")
}

/// Asks `url` for an [`Announcement`].
pub async fn fetch(client: &reqwest::Client, url: &str) -> Result<Announcement, FetchError> {
    let answer = client.get(url).send().await.map_err(FetchError::Request)?;
    if !answer.status().is_success() {
        return Err(FetchError::Status(answer.status()));
    }
    answer.json().await.map_err(FetchError::Request)
}

/// The follower's address for a node the coordinator lists at `node_uri`: the same host (the
/// follower shares the node's pod, hence its address), the followers' port.
pub fn follower_url(node_uri: &str, port: u16) -> Option<String> {
    let mut url = reqwest::Url::parse(node_uri).ok()?;
    url.set_port(Some(port)).ok()?;
    url.set_scheme("http").ok()?;
    url.set_path("/v1/rendered");
    url.set_query(None);
    Some(url.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn hmac_matches_rfc_4231() {
        // Test case 2.
        assert_eq!(
            hex(&hmac_sha256(b"Jefe", b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        // Test case 6: a key longer than the block.
        assert_eq!(
            hex(&hmac_sha256(
                &[0xaa; 131],
                b"Test Using Larger Than Block-Size Key - Hash Key First"
            )),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    #[test]
    fn exchanged_fingerprints_depend_on_the_key_and_show_no_value() {
        let secret = spec("pg", &[("connection-password", "hunter2hunter2")]);
        let a = ClusterKey::from_bytes(b"0123456789abcdef").keyed(&secret);
        let b = ClusterKey::from_bytes(b"fedcba9876543210").keyed(&secret);
        assert_ne!(a, b);
        assert_eq!(a.len(), 32);
        assert!(!a.contains("hunter2"));
        assert!(format!("{:?}", ClusterKey::from_bytes(b"0123456789abcdef")).contains("***"));
    }

    #[test]
    fn the_follower_is_asked_at_the_nodes_host() {
        assert_eq!(
            follower_url("http://10.1.2.3:8080", 9480).as_deref(),
            Some("http://10.1.2.3:9480/v1/rendered")
        );
        assert_eq!(
            follower_url("https://[fd00::5]:8443/", 9480).as_deref(),
            Some("http://[fd00::5]:9480/v1/rendered")
        );
        assert_eq!(follower_url("not a url", 9480), None);
    }

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

    #[test]
    fn the_leaders_cached_answer_follows_every_change_of_its_folder() {
        let dir = tempfile::tempdir().unwrap();
        let key = ClusterKey::from_bytes(b"0123456789abcdef0123");
        let release = |spec: &CatalogSpec| {
            render::write(dir.path(), spec, "x.properties", 1).unwrap();
        };
        let leader = LeaderState {
            target: dir.path().to_path_buf(),
            key: key.clone(),
            cache: Mutex::new(None),
        };
        assert!(leader.released().is_empty());
        for n in 0..20 {
            release(&spec(&format!("c{n}"), &[]));
            assert_eq!(leader.released().len(), n + 1);
        }
        release(&spec("c0", &[("tpch.splits-per-node", "2")]));
        assert_eq!(leader.released(), rendered_set(dir.path(), &key));
        std::fs::remove_file(dir.path().join("c0.properties")).unwrap();
        assert!(!leader.released().contains_key("c0"));
    }
}
