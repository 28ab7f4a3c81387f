//! The first stage of a pass: what the folder asks for and what the engine runs. The folder is read
//! whole, or — after a file event — only the files the watch named, into what the last read gave;
//! the engine's catalogs are listed, or — after a file event in dynamic mode — taken from the last
//! listing kept up to date with every change the engine accepted since. In restart mode, "live"
//! is the coordinator's catalog folder.

use crate::catalog::{CatalogSpec, Flavour};
use crate::engine::catalogs::CatalogLister;
use crate::engine::{Client, EngineError, Live, LiveCatalog};
use crate::scan::{self, Desired, ScanError};
use crate::watch::SharedDirty;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub(super) struct Observer {
    catalog_dir: PathBuf,
    lister: CatalogLister,
    /// The folder as the last read of it gave, for file events to read only what they name.
    desired_cache: Option<Arc<Desired>>,
    /// Dynamic mode: the engine's catalogs as the last listing showed them, kept up to date with
    /// every change the engine accepted since. A file event plans against it instead of listing
    /// again (a full query on Trino, ~100 ms); resyncs, retries and any surprise list again.
    live_cache: Option<Arc<Live>>,
    /// Changes the engine accepted during the current pass, for `live_cache` once the pass's own
    /// copy of it is gone (no copy of thousands of catalogs per change).
    live_changes: Vec<(String, Option<LiveCatalog>)>,
    /// What the watch saw change (`run` only; without it every pass reads the whole folder).
    dirty: Option<SharedDirty>,
    /// The folder's digest when everything last converged: a file event that leaves the folder
    /// so needs no engine contact at all.
    converged_digest: Option<[u8; 32]>,
}

/// Reads a folder of catalog files on a blocking thread.
pub(super) async fn scan_dir(dir: PathBuf, flavour: Flavour) -> Result<Desired, ScanError> {
    tokio::task::spawn_blocking(move || scan::scan(&dir, flavour))
        .await
        .expect("scan task does not panic")
}

/// Restart mode's live state: the catalog files in the coordinator's folder `dir`, with what they
/// define, and the definitions of the files that carry the agent's marker (its own).
pub(super) async fn read_target(
    dir: &Path,
    flavour: Flavour,
) -> Result<(Live, Vec<CatalogSpec>), ScanError> {
    let target = scan_dir(dir.to_path_buf(), flavour).await?;
    let ours: Vec<CatalogSpec> = target
        .catalogs
        .values()
        .filter(|c| crate::render::is_ours(&dir.join(&c.file)))
        .map(|c| c.spec.clone())
        .collect();
    let mut live: Live = target
        .catalogs
        .into_iter()
        .map(|(name, c)| {
            (
                name,
                LiveCatalog {
                    connector: Some(c.spec.connector),
                    fingerprint: Some(c.fingerprint),
                },
            )
        })
        .collect();
    // A file the agent cannot read is still a file the coordinator will try to load.
    for bad in target.invalid {
        if let Some(name) = bad.catalog {
            live.entry(name).or_insert(LiveCatalog {
                connector: None,
                fingerprint: None,
            });
        }
    }
    Ok((live, ours))
}

impl Observer {
    pub fn new(catalog_dir: PathBuf) -> Self {
        Observer {
            catalog_dir,
            lister: CatalogLister::default(),
            desired_cache: None,
            live_cache: None,
            live_changes: Vec::new(),
            dirty: None,
            converged_digest: None,
        }
    }

    /// Passes read the files the watch reports through this.
    pub fn watch_changes(&mut self, dirty: SharedDirty) {
        self.dirty = Some(dirty);
    }

    /// Whether `desired` is the folder as it was when everything last converged.
    pub fn is_converged(&self, desired: &Desired) -> bool {
        Some(desired.digest()) == self.converged_digest
    }

    /// Everything converged with the folder as `digest` says, or (`None`) it may not have.
    pub fn set_converged(&mut self, digest: Option<[u8; 32]>) {
        self.converged_digest = digest;
    }

    /// The folder must be read again whole (another engine flavour reads files otherwise, or
    /// the last read failed).
    pub fn forget_folder(&mut self) {
        self.desired_cache = None;
    }

    /// The engine must be listed again.
    pub fn forget_live(&mut self) {
        self.live_cache = None;
    }

    /// The coordinator restarted: nothing known of it holds.
    pub fn engine_restarted(&mut self) {
        self.converged_digest = None;
        self.live_cache = None;
        self.lister.reset();
    }

    /// Reads the whole folder, and remembers it for later file events.
    pub async fn scan(&mut self, flavour: Flavour) -> Result<Arc<Desired>, ScanError> {
        // Taken before reading: a change made while the folder is read is read again.
        self.take_dirty();
        let desired = Arc::new(scan_dir(self.catalog_dir.clone(), flavour).await?);
        self.desired_cache = Some(desired.clone());
        Ok(desired)
    }

    /// The files changed since the last read, or `None` for "read everything".
    fn take_dirty(&mut self) -> Option<BTreeSet<String>> {
        let dirty = self.dirty.as_ref()?;
        let mut dirty = dirty.lock().unwrap_or_else(|e| e.into_inner());
        let all = std::mem::take(&mut dirty.all);
        let files = std::mem::take(&mut dirty.files);
        (!all).then_some(files)
    }

    /// The folder after a file event: the files the watch named read again into what the agent
    /// knew, or the whole folder when it knows nothing yet or the watch cannot say what changed.
    /// Also returns the catalogs the files read stand for (`None`: the whole folder was read).
    pub async fn read_changes(
        &mut self,
        flavour: Flavour,
    ) -> Result<(Arc<Desired>, Option<BTreeSet<String>>), ScanError> {
        let files = match (self.desired_cache.is_some(), self.take_dirty()) {
            (true, Some(files)) => files,
            _ => return Ok((self.scan(flavour).await?, None)),
        };
        let scope: BTreeSet<String> = files.iter().flat_map(|f| scan::names_for_file(f)).collect();
        // The last pass's copy is gone by now: no clone.
        let mut desired = Arc::unwrap_or_clone(self.desired_cache.take().expect("checked"));
        let dir = self.catalog_dir.clone();
        let read = tokio::task::spawn_blocking(move || {
            // A folder that is gone is an error, as for a whole read: never "every file gone".
            match std::fs::metadata(&dir) {
                Ok(meta) if meta.is_dir() => {}
                Ok(_) => {
                    return Err(ScanError {
                        dir,
                        source: std::io::Error::other("not a folder"),
                    });
                }
                Err(source) => return Err(ScanError { dir, source }),
            }
            scan::rescan_files(
                &dir,
                files.iter().map(String::as_str),
                flavour,
                &mut desired,
            );
            Ok(desired)
        })
        .await
        .expect("scan task does not panic")?;
        let read = Arc::new(read);
        self.desired_cache = Some(read.clone());
        Ok((read, Some(scope)))
    }

    /// The listing kept from the last pass (for a file event), brought up to date with the
    /// changes of the passes since it was read.
    pub fn cached_live(&mut self) -> Option<Arc<Live>> {
        let changes = std::mem::take(&mut self.live_changes);
        let live = self.live_cache.as_mut()?;
        if !changes.is_empty() {
            let live = Arc::make_mut(live);
            for (name, catalog) in changes {
                match catalog {
                    Some(catalog) => {
                        live.insert(name, catalog);
                    }
                    None => {
                        live.remove(&name);
                    }
                }
            }
        }
        Some(live.clone())
    }

    /// The folder (`scanned`, or read now) and the engine's listing, read side by side.
    pub async fn read_with_listing(
        &mut self,
        client: &Client,
        flavour: Flavour,
        scanned: Option<Arc<Desired>>,
    ) -> Result<(Arc<Desired>, Result<Live, EngineError>), ScanError> {
        self.live_cache = None;
        self.live_changes.clear();
        match scanned {
            Some(desired) => Ok((desired, self.lister.live(client).await)),
            None => {
                self.take_dirty();
                let dir = self.catalog_dir.clone();
                let (desired, live) =
                    tokio::join!(scan_dir(dir, flavour), self.lister.live(client));
                let desired = Arc::new(desired?);
                self.desired_cache = Some(desired.clone());
                Ok((desired, live))
            }
        }
    }

    /// Keeps a fresh listing for the file events to come.
    pub fn keep_listing(&mut self, live: Arc<Live>) {
        self.live_cache = Some(live);
    }

    /// Keeps the cached listing as the engine now is after a change it accepted.
    pub fn engine_changed(&mut self, name: &str, created: Option<&CatalogSpec>) {
        if self.live_cache.is_none() {
            return;
        }
        let catalog = created.map(|spec| LiveCatalog {
            connector: Some(spec.connector.clone()),
            fingerprint: None,
        });
        self.live_changes.push((name.to_string(), catalog));
    }
}
