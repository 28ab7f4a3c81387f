//! Turns the folder's changes and the clock into triggers; decides nothing else. The watch is on
//! the directory, never on single files (atomic saves and ConfigMap `..data` swaps replace inodes,
//! they end a watch on the file), and any relevant event means "look now": the pass rescans everything.
//!
//! Sources: inotify (native) or polling with a content digest (`--poll`, for NFS and macOS bind
//! mounts); plus a resync tick. A trailing debounce turns a burst of events into one trigger.

use crate::catalog::Flavour;
use crate::health::Heartbeats;
use crate::metrics::Metrics;
use crate::scan;
use notify::{EventKind, RecursiveMode, Watcher, event::AccessKind, event::AccessMode};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::time::{Instant, MissedTickBehavior};

/// A catalog file still open for writing holds its burst back (it is being written in chunks, and
/// what is there so far is a truncated definition), unless nothing was written to it for this long
/// (a writer that keeps the file open without writing) ...
const OPEN_WRITE_QUIET: Duration = Duration::from_secs(5);
/// ... or the burst has waited this long.
const OPEN_WRITE_MAX: Duration = Duration::from_secs(30);

/// More changed files than this in one pass are read as the whole folder.
const MAX_DIRTY_FILES: usize = 1000;

/// What the watch saw change since a pass last took it: file names in the folder, or anything
/// (`all`: the folder itself, the kubelet's `..data`, a watch error, polling).
#[derive(Debug, Default)]
pub struct Dirty {
    pub files: std::collections::BTreeSet<String>,
    pub all: bool,
}

pub type SharedDirty = Arc<std::sync::Mutex<Dirty>>;

impl Dirty {
    fn everything(&mut self) {
        self.all = true;
        self.files.clear();
    }

    /// Marks what `event` is about.
    fn mark(&mut self, dir: &Path, event: &notify::Event) {
        for path in &event.paths {
            if self.all {
                return;
            }
            let name = (path.parent() == Some(dir))
                .then(|| path.file_name().and_then(|n| n.to_str()))
                .flatten();
            match name {
                // A ConfigMap's files are links through `..data`: its swap changes them all.
                Some(name) if !name.starts_with("..") => {
                    self.files.insert(name.to_string());
                    if self.files.len() > MAX_DIRTY_FILES {
                        self.everything();
                    }
                }
                _ => self.everything(),
            }
        }
    }
}

fn mark_all(dirty: &SharedDirty) {
    dirty.lock().unwrap_or_else(|e| e.into_inner()).everything();
}

/// How often a folder that is gone is looked for.
const REARM_EVERY: Duration = Duration::from_millis(100);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Native,
    Poll(Duration),
}

#[derive(Debug, Clone)]
pub struct WatchConfig {
    pub dir: PathBuf,
    pub source: Source,
    pub debounce: Duration,
    pub resync_interval: Duration,
}

/// The watched directory's identity, to notice it being replaced (`rm -rf dir && mkdir dir`
/// silently ends an inotify watch: the kernel removes a watch with its inode).
fn dir_identity(dir: &Path) -> Option<(u64, u64)> {
    std::fs::metadata(dir).ok().map(|m| (m.dev(), m.ino()))
}

/// Our own reads of the folder produce open/read/close events; only a close after writing counts.
fn is_relevant(kind: &EventKind) -> bool {
    match kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        EventKind::Access(_) => false,
        _ => true,
    }
}

struct Armed {
    _watcher: notify::RecommendedWatcher,
    identity: Option<(u64, u64)>,
}

fn arm(
    dir: &Path,
    tx: mpsc::UnboundedSender<notify::Result<notify::Event>>,
) -> notify::Result<Armed> {
    let mut watcher = notify::recommended_watcher(move |res| {
        let _ = tx.send(res);
    })?;
    watcher.watch(dir, RecursiveMode::NonRecursive)?;
    Ok(Armed {
        _watcher: watcher,
        identity: dir_identity(dir),
    })
}

fn explain(e: &notify::Error) -> String {
    let limit = matches!(e.kind, notify::ErrorKind::MaxFilesWatch)
        || matches!(&e.kind, notify::ErrorKind::Io(io) if matches!(io.raw_os_error(), Some(24 | 28)));
    if limit {
        format!(
            "{e} (the inotify limits are exhausted: raise fs.inotify.max_user_instances / max_user_watches)"
        )
    } else {
        e.to_string()
    }
}

/// What polling compares. PrestoDB's reading keeps connector names as written (Trino's maps `-` to
/// `_`), so it tells apart every edit either engine would see; a pass then decides with the
/// engine's own reading whether anything changed.
async fn digest(dir: &Path) -> Option<[u8; 32]> {
    let dir = dir.to_path_buf();
    tokio::task::spawn_blocking(move || scan::scan(&dir, Flavour::Presto).ok().map(|d| d.digest()))
        .await
        .ok()
        .flatten()
}

/// What the watch says: look now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// Something in the folder changed (a file event, or a change found by polling): the files
    /// it names are in the [`Dirty`] set.
    Changed,
    /// The resync interval has passed: look at everything.
    Resync,
}

/// Runs until `shutdown` turns true. Sends [`Signal::Changed`] after the debounce and
/// [`Signal::Resync`] every resync interval.
pub async fn run(
    config: WatchConfig,
    triggers: mpsc::UnboundedSender<Signal>,
    mut shutdown: watch::Receiver<bool>,
    heartbeats: Arc<Heartbeats>,
    metrics: Arc<Metrics>,
    dirty: SharedDirty,
) {
    let (raw_tx, mut raw_rx) = mpsc::unbounded_channel();
    let mut source = config.source;
    let mut armed: Option<Armed> = None;
    if source == Source::Native {
        match arm(&config.dir, raw_tx.clone()) {
            Ok(a) => armed = Some(a),
            Err(e) if e.kind_is_missing_path() => {
                tracing::error!(dir = %config.dir.display(), error = %e, "the catalog folder does not exist; watching it as soon as it does");
            }
            Err(e) => {
                tracing::warn!(error = %explain(&e), "cannot watch the folder with inotify; polling it every second instead");
                source = Source::Poll(Duration::from_secs(1));
            }
        }
    }

    let mut resync = tokio::time::interval_at(
        Instant::now() + config.resync_interval,
        config.resync_interval.max(Duration::from_millis(100)),
    );
    resync.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let poll_every = match source {
        Source::Poll(d) => d,
        Source::Native => Duration::from_secs(3600),
    };
    let mut poll = tokio::time::interval(poll_every);
    poll.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut polled = if matches!(source, Source::Poll(_)) {
        digest(&config.dir).await
    } else {
        None
    };

    // A burst is flushed after `debounce` of quiet, but never later than `max_wait` after its
    // first event, so a folder that never goes quiet still gets applied.
    let max_wait = (config.debounce * 10).max(Duration::from_secs(2));
    let mut burst: Option<(Instant, Instant)> = None; // (first event, deadline)
    // Catalog files written to and not closed since, with the time of their last write.
    let mut writing: std::collections::HashMap<PathBuf, Instant> = Default::default();
    // While the folder is gone (deleted, moved away, not mounted yet), look for it this often, so
    // a re-created folder is watched before its files are written into it.
    let mut rearm = tokio::time::interval(REARM_EVERY);
    rearm.set_missed_tick_behavior(MissedTickBehavior::Delay);

    loop {
        heartbeats.beat_watch();
        let deadline = burst.map(|(_, d)| d);
        tokio::select! {
            Some(res) = raw_rx.recv() => {
                let relevant = match &res {
                    Ok(event) => {
                        note_writes(&mut writing, event);
                        if is_relevant(&event.kind) {
                            dirty
                                .lock()
                                .unwrap_or_else(|e| e.into_inner())
                                .mark(&config.dir, event);
                        }
                        // The folder itself was removed or moved away: the inotify watch died with
                        // it (a new folder may even reuse the inode number). Re-arm at the next tick.
                        let about_root = event.paths.iter().any(|p| p == &config.dir);
                        if about_root && matches!(event.kind, EventKind::Remove(_) | EventKind::Modify(notify::event::ModifyKind::Name(_))) {
                            armed = None;
                        }
                        is_relevant(&event.kind)
                    }
                    Err(e) => {
                        tracing::warn!(error = %explain(e), "watch error; rescanning");
                        mark_all(&dirty);
                        true
                    }
                };
                if relevant {
                    metrics.count_watch_event();
                    if config.debounce.is_zero() {
                        // No timer round (tokio's has millisecond ticks): look now. Events that
                        // arrive during the pass still coalesce into one more pass. Data written
                        // into a file that is still open is looked at when it is closed.
                        let still_writing = matches!(&res, Ok(e) if matches!(e.kind, EventKind::Modify(notify::event::ModifyKind::Data(_))) && e.paths.iter().any(|p| writing.contains_key(p)));
                        if still_writing {
                            continue;
                        }
                        if triggers.send(Signal::Changed).is_err() {
                            break;
                        }
                        continue;
                    }
                    let now = Instant::now();
                    let first = burst.map_or(now, |(f, _)| f);
                    burst = Some((first, (now + config.debounce).min(first + max_wait)));
                }
            }
            () = async { tokio::time::sleep_until(deadline.expect("guarded")).await }, if deadline.is_some() => {
                let now = Instant::now();
                writing.retain(|_, last| now.duration_since(*last) < OPEN_WRITE_QUIET);
                if let Some((first, _)) = burst
                    && !writing.is_empty()
                    && now.duration_since(first) < OPEN_WRITE_MAX
                {
                    // A file is still being written: look once it is closed.
                    burst = Some((first, now + config.debounce.max(Duration::from_millis(50))));
                    continue;
                }
                burst = None;
                if triggers.send(Signal::Changed).is_err() {
                    break;
                }
            }
            _ = poll.tick(), if matches!(source, Source::Poll(_)) => {
                let now = digest(&config.dir).await;
                if now != polled {
                    polled = now;
                    mark_all(&dirty);
                    metrics.count_watch_event();
                    if triggers.send(Signal::Changed).is_err() {
                        break;
                    }
                }
            }
            _ = rearm.tick(), if armed.is_none() && source == Source::Native => {
                if dir_identity(&config.dir).is_some() {
                    match arm(&config.dir, raw_tx.clone()) {
                        Ok(a) => {
                            tracing::info!(dir = %config.dir.display(), "watching the catalog folder again");
                            armed = Some(a);
                            // What it holds is read once the writes into it go quiet.
                            mark_all(&dirty);
                            metrics.count_watch_event();
                            if config.debounce.is_zero() {
                                if triggers.send(Signal::Changed).is_err() {
                                    break;
                                }
                            } else {
                                let now = Instant::now();
                                burst = Some((now, now + config.debounce));
                            }
                        }
                        Err(e) => tracing::warn!(error = %explain(&e), "cannot watch the catalog folder yet"),
                    }
                }
            }
            _ = resync.tick() => {
                if source == Source::Native {
                    let current = dir_identity(&config.dir);
                    let stale = armed.as_ref().is_none_or(|a| a.identity != current || current.is_none());
                    if stale && current.is_some() {
                        match arm(&config.dir, raw_tx.clone()) {
                            Ok(a) => {
                                tracing::info!(dir = %config.dir.display(), "watching the catalog folder again");
                                armed = Some(a);
                            }
                            Err(e) => tracing::warn!(error = %explain(&e), "cannot watch the catalog folder yet"),
                        }
                    }
                }
                if triggers.send(Signal::Resync).is_err() {
                    break;
                }
            }
            _ = shutdown.changed() => break,
        }
    }
}

/// Keeps `writing` up to date: a catalog file gets data written into it (open for writing), then
/// closed; renamed or removed, it is no longer written at that name.
fn note_writes(writing: &mut std::collections::HashMap<PathBuf, Instant>, event: &notify::Event) {
    use notify::event::{ModifyKind, RemoveKind};
    let catalog_files = event.paths.iter().filter(|p| {
        p.file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| !scan::is_ignored(n))
    });
    match event.kind {
        EventKind::Modify(ModifyKind::Data(_)) => {
            for path in catalog_files {
                writing.insert(path.clone(), Instant::now());
            }
        }
        EventKind::Access(AccessKind::Close(AccessMode::Write))
        | EventKind::Modify(ModifyKind::Name(_))
        | EventKind::Remove(RemoveKind::File | RemoveKind::Any) => {
            for path in &event.paths {
                writing.remove(path);
            }
        }
        _ => {}
    }
}

trait MissingPath {
    fn kind_is_missing_path(&self) -> bool;
}

impl MissingPath for notify::Error {
    fn kind_is_missing_path(&self) -> bool {
        matches!(self.kind, notify::ErrorKind::PathNotFound)
            || matches!(&self.kind, notify::ErrorKind::Io(io) if io.kind() == std::io::ErrorKind::NotFound)
    }
}
