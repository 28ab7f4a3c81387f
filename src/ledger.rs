//! What this agent owns: the catalogs it created (or adopted), with the fingerprint and definition it
//! last applied. Kept in `--state-dir/ledger.json`, written atomically (temp file, fsync, rename,
//! fsync of the folder) with mode 0600 because definitions may hold literal credentials.
//!
//! Without a state dir the ledger lives in memory only, so after an agent restart every live catalog
//! is unowned (reported as a conflict, never dropped) until adopted — the safe side.

use crate::catalog::{CatalogSpec, Fingerprint};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

pub const FILE_NAME: &str = "ledger.json";
const FORMAT_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub fingerprint: Fingerprint,
    /// The definition the engine accepted; used to restore it when a replacement fails.
    pub spec: CatalogSpec,
    /// Seconds since the Unix epoch.
    pub applied_at: u64,
    /// Taken over with `--adopt` rather than created by the agent.
    #[serde(default)]
    pub adopted: bool,
}

impl Entry {
    pub fn new(spec: CatalogSpec, adopted: bool) -> Self {
        Entry {
            fingerprint: spec.fingerprint(),
            spec,
            applied_at: now_secs(),
            adopted,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ledger {
    pub catalogs: BTreeMap<String, Entry>,
    /// What the agent learnt about the coordinator: that it refused a change as static, so a
    /// restarted agent applies in restart mode without being refused again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine: Option<EngineMemo>,
    /// Restart mode's memory across agent restarts.
    #[serde(default, skip_serializing_if = "RestartMemo::is_empty")]
    pub restart: RestartMemo,
    /// Dynamic mode: CREATE statements sent whose answer was not seen (a lost connection, a
    /// timeout, a stop). If the catalog turns out live with that connector, the engine accepted
    /// it and the agent owns it; otherwise the plan creates it again.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub unanswered: BTreeMap<String, CatalogSpec>,
    /// Dynamic mode: definitions the engine refused for a reason that repeats, not sent again
    /// until their file changes or the coordinator restarts (after `engine_started_ms`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub refused: BTreeMap<String, Refused>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refused {
    pub fingerprint: Fingerprint,
    pub error: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_name: Option<String>,
    /// When the coordinator that refused it had started (Unix milliseconds, from its uptime).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine_started_ms: Option<u64>,
}

/// Restart mode: whether rendered files still wait for a coordinator restart, and the owned
/// catalogs the coordinator last started with successfully (what a rollback restores).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestartMemo {
    #[serde(default)]
    pub pending: bool,
    /// When the target folder was last changed (Unix milliseconds): a coordinator that started
    /// later already runs what the folder holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rendered_at_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub known_good: Option<BTreeMap<String, CatalogSpec>>,
    /// Definitions the coordinator did not start with (rolled back), and why: not tried again,
    /// by this agent or the next, until their file changes.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub broken: BTreeMap<String, Broken>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Broken {
    pub fingerprint: Fingerprint,
    pub error: String,
}

impl RestartMemo {
    pub fn is_empty(&self) -> bool {
        !self.pending
            && self.known_good.is_none()
            && self.rendered_at_ms.is_none()
            && self.broken.is_empty()
    }
}

/// Whether the coordinator at `server` manages catalogs dynamically, as last learnt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EngineMemo {
    pub server: String,
    pub dynamic: bool,
}

#[derive(Serialize, Deserialize)]
struct OnDisk {
    version: u32,
    #[serde(flatten)]
    ledger: Ledger,
}

pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error("cannot read the ledger {}: {source}", path.display())]
    Read { path: PathBuf, source: io::Error },
    #[error("cannot write the ledger {}: {source}", path.display())]
    Write { path: PathBuf, source: io::Error },
}

/// Where the ledger is persisted, if anywhere.
#[derive(Debug, Clone)]
pub struct Store {
    path: Option<PathBuf>,
}

/// The result of loading: the ledger, plus a note when a corrupt file was set aside.
pub struct Loaded {
    pub ledger: Ledger,
    pub set_aside: Option<String>,
}

impl Store {
    pub fn in_memory() -> Self {
        Store { path: None }
    }

    pub fn in_dir(dir: &Path) -> Self {
        Store {
            path: Some(dir.join(FILE_NAME)),
        }
    }

    /// Reads the ledger. A missing file is an empty ledger. A file that does not parse is renamed to
    /// `ledger.json.corrupt-<unix time>` and reported, and the agent starts with an empty ledger:
    /// every live catalog is then unowned, so nothing is dropped by mistake.
    pub fn load(&self) -> Result<Loaded, LedgerError> {
        let Some(path) = &self.path else {
            return Ok(Loaded {
                ledger: Ledger::default(),
                set_aside: None,
            });
        };
        let bytes = match fs::read(path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Ok(Loaded {
                    ledger: Ledger::default(),
                    set_aside: None,
                });
            }
            Err(source) => {
                return Err(LedgerError::Read {
                    path: path.clone(),
                    source,
                });
            }
        };
        match serde_json::from_slice::<OnDisk>(&bytes) {
            Ok(disk) if disk.version == FORMAT_VERSION => Ok(Loaded {
                ledger: disk.ledger,
                set_aside: None,
            }),
            outcome => {
                let why = match outcome {
                    Ok(disk) => format!("unknown format version {}", disk.version),
                    Err(e) => e.to_string(),
                };
                let aside = path.with_file_name(format!("{FILE_NAME}.corrupt-{}", now_secs()));
                fs::rename(path, &aside).map_err(|source| LedgerError::Write {
                    path: path.clone(),
                    source,
                })?;
                Ok(Loaded {
                    ledger: Ledger::default(),
                    set_aside: Some(format!(
                        "the ledger {} could not be read ({why}); it was moved to {} and the agent starts owning no catalog",
                        path.display(),
                        aside.display()
                    )),
                })
            }
        }
    }

    pub fn save(&self, ledger: &Ledger) -> Result<(), LedgerError> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        let werr = |source| LedgerError::Write {
            path: path.clone(),
            source,
        };
        let disk = OnDisk {
            version: FORMAT_VERSION,
            ledger: ledger.clone(),
        };
        let mut text = serde_json::to_vec_pretty(&disk).expect("ledger serialises");
        text.push(b'\n');
        write_atomically(path, &text, 0o600).map_err(werr)
    }
}

/// Writes `bytes` to `path` so that readers see either the old or the new content, never a part:
/// a temp file in the same folder, fsync, rename over the target, fsync of the folder.
pub fn write_atomically(path: &Path, bytes: &[u8], mode: u32) -> io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let file_name = path
        .file_name()
        .ok_or_else(|| io::Error::other("path has no file name"))?;
    let tmp = dir.join(format!(".{}.tmp", file_name.to_string_lossy()));
    let result = (|| {
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(mode)
            .open(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&tmp, path)?;
        fs::File::open(dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn spec(name: &str) -> CatalogSpec {
        CatalogSpec {
            name: name.into(),
            connector: "tpch".into(),
            properties: [("tpch.splits-per-node".to_string(), "4".to_string())].into(),
        }
    }

    #[test]
    fn round_trips_with_mode_0600() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::in_dir(dir.path());
        let mut ledger = Ledger::default();
        ledger
            .catalogs
            .insert("a".into(), Entry::new(spec("a"), false));
        store.save(&ledger).unwrap();
        let mode = fs::metadata(dir.path().join(FILE_NAME))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(store.load().unwrap().ledger, ledger);
        let leftovers: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(leftovers, [FILE_NAME]);
    }

    #[test]
    fn a_missing_ledger_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        let loaded = Store::in_dir(dir.path()).load().unwrap();
        assert!(loaded.ledger.catalogs.is_empty() && loaded.set_aside.is_none());
    }

    #[test]
    fn a_corrupt_ledger_is_set_aside_and_reported() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(FILE_NAME), b"{\"version\":1,\"catal").unwrap();
        let loaded = Store::in_dir(dir.path()).load().unwrap();
        assert!(loaded.ledger.catalogs.is_empty());
        let note = loaded.set_aside.unwrap();
        assert!(note.contains("moved to"), "{note}");
        let names: Vec<String> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names.len(), 1);
        assert!(names[0].starts_with("ledger.json.corrupt-"));
    }
}
