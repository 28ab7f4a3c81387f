//! What this agent owns: the catalogs it created (or adopted), with the fingerprint and definition it
//! last applied. Kept in `--state-dir/ledger.json`, written atomically (temp file, fsync, rename,
//! fsync of the folder) with mode 0600 because definitions may hold literal credentials.
//!
//! Each CREATE and DROP changes one entry; rewriting the whole file for it made a pass over 10,000
//! catalogs quadratic. Those changes are appended as one line each to `ledger.journal` (same mode)
//! instead, and the journal is folded into `ledger.json` once it holds as many lines as the ledger
//! has catalogs (and at shutdown), so a change costs the same at any size. Appends are not synced
//! one by one: a killed agent loses nothing (the kernel has the bytes); the journal is synced at
//! the end of every pass, so a machine crash can forget at most the ownership of one pass's
//! changes — which then show as conflicts, never as drops.
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

pub const FILE_NAME: &str = "ledger.json";
pub const JOURNAL_NAME: &str = "ledger.journal";
/// Far beyond any real ledger (10,000 catalogs take a few MB); a bigger file is not read.
const MAX_BYTES: u64 = 256 * 1024 * 1024;
/// The journal is folded into the ledger after this many lines at least.
const MIN_JOURNAL_LINES: usize = 1024;
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
            applied_at: crate::clock::now_secs(),
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

/// Why a ledger read from disk cannot be trusted.
#[derive(Debug, thiserror::Error)]
enum BadEntry {
    #[error("the entry {key:?} defines the catalog {name:?}")]
    Misfiled { key: String, name: String },
    #[error("catalog {0:?}: {1}")]
    Connector(String, crate::catalog::ConnectorNameError),
    #[error("catalog {0:?}: a property without a usable key")]
    PropertyKey(String),
    #[error("{0:?} is no catalog name")]
    NoName(String),
    #[error("{0:?}: {1}")]
    Name(String, crate::catalog::NameError),
}

impl Ledger {
    /// A ledger is read from disk, where anyone with access to the state dir may have edited it,
    /// and its names and connectors go into statements and file paths: each must pass the rules a
    /// catalog file's would, under the key it is filed under. Fingerprints are recomputed, not
    /// trusted.
    fn check(&mut self) -> Result<(), BadEntry> {
        fn spec_ok(key: &str, spec: &CatalogSpec) -> Result<(), BadEntry> {
            if spec.name != key {
                return Err(BadEntry::Misfiled {
                    key: key.to_string(),
                    name: spec.name.clone(),
                });
            }
            name_ok(key)?;
            crate::catalog::connector_name(&spec.connector, crate::catalog::Flavour::Presto)
                .map_err(|e| BadEntry::Connector(key.to_string(), e))?;
            if spec
                .properties
                .keys()
                .any(|k| k.is_empty() || k == crate::catalog::CONNECTOR_KEY)
            {
                return Err(BadEntry::PropertyKey(key.to_string()));
            }
            Ok(())
        }
        fn name_ok(name: &str) -> Result<(), BadEntry> {
            match crate::catalog::catalog_name(&format!("{name}.properties")) {
                Ok(n) if n == name => Ok(()),
                Ok(_) => Err(BadEntry::NoName(name.to_string())),
                Err(e) => Err(BadEntry::Name(name.to_string(), e)),
            }
        }
        for (name, entry) in &mut self.catalogs {
            spec_ok(name, &entry.spec)?;
            entry.fingerprint = entry.spec.fingerprint();
        }
        for (name, spec) in &self.unanswered {
            spec_ok(name, spec)?;
        }
        for good in self.restart.known_good.iter() {
            for (name, spec) in good {
                spec_ok(name, spec)?;
            }
        }
        for name in self.refused.keys().chain(self.restart.broken.keys()) {
            name_ok(name)?;
        }
        Ok(())
    }
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

/// One change of the ledger, as a journal line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Change {
    /// The agent owns `name` with this definition.
    Own { name: String, entry: Entry },
    /// The agent no longer owns `name`.
    Disown { name: String },
    /// A CREATE of this definition is being sent.
    Unanswered { spec: CatalogSpec },
    /// The CREATE of `name` was answered.
    Answered { name: String },
    /// The CREATE of `name` was accepted: owned, and answered — one line, so no crash between
    /// the two can leave a live catalog that is neither owned nor waiting for its answer.
    Created { name: String, entry: Entry },
}

impl Change {
    pub fn apply(self, ledger: &mut Ledger) {
        match self {
            Change::Own { name, entry } => {
                ledger.catalogs.insert(name, entry);
            }
            Change::Disown { name } => {
                ledger.catalogs.remove(&name);
            }
            Change::Unanswered { spec } => {
                ledger.unanswered.insert(spec.name.clone(), spec);
            }
            Change::Answered { name } => {
                ledger.unanswered.remove(&name);
            }
            Change::Created { name, entry } => {
                ledger.unanswered.remove(&name);
                ledger.catalogs.insert(name, entry);
            }
        }
    }
}

#[derive(Serialize, Deserialize)]
struct OnDisk {
    version: u32,
    #[serde(flatten)]
    ledger: Ledger,
}

#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error("cannot read the ledger {}: {source}", path.display())]
    Read { path: PathBuf, source: io::Error },
    #[error("cannot write the ledger {}: {source}", path.display())]
    Write { path: PathBuf, source: io::Error },
}

/// Where the ledger is persisted, if anywhere.
#[derive(Debug)]
pub struct Store {
    path: Option<PathBuf>,
    journal: std::sync::Mutex<Journal>,
}

#[derive(Debug, Default)]
struct Journal {
    /// `ledger.json` exists (read at load, or written since): changes may go to the journal.
    based: bool,
    file: Option<fs::File>,
    /// Lines appended since `ledger.json` was last written.
    lines: usize,
    /// Appended since the last sync.
    unsynced: bool,
}

/// The result of loading: the ledger, plus a note when a corrupt file was set aside.
pub struct Loaded {
    pub ledger: Ledger,
    pub set_aside: Option<String>,
}

impl Store {
    pub fn in_memory() -> Self {
        Store {
            path: None,
            journal: Default::default(),
        }
    }

    pub fn in_dir(dir: &Path) -> Self {
        Store {
            path: Some(dir.join(FILE_NAME)),
            journal: Default::default(),
        }
    }

    fn journal_path(path: &Path) -> PathBuf {
        path.with_file_name(JOURNAL_NAME)
    }

    fn journal(&self) -> std::sync::MutexGuard<'_, Journal> {
        self.journal.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records one change that `ledger` (already changed) holds: one journal line, or the whole
    /// ledger when the journal has grown as large as it.
    pub fn record(&self, ledger: &Ledger, change: &Change) -> Result<(), LedgerError> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        let (based, lines) = {
            let journal = self.journal();
            (journal.based, journal.lines)
        };
        // The first change of a new ledger writes `ledger.json`, so the file is there to read
        // from then on; later ones go to the journal until it is as long as the ledger.
        if !based || lines >= MIN_JOURNAL_LINES.max(ledger.catalogs.len()) {
            return self.save(ledger);
        }
        let werr = |source| LedgerError::Write {
            path: Self::journal_path(path),
            source,
        };
        let mut line = serde_json::to_vec(change).expect("a change serialises");
        line.push(b'\n');
        let mut journal = self.journal();
        if journal.file.is_none() {
            let file = fs::OpenOptions::new()
                .append(true)
                .create(true)
                .mode(0o600)
                .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK)
                .open(Self::journal_path(path))
                .map_err(werr)?;
            if !file.metadata().map_err(werr)?.is_file() {
                return Err(werr(io::Error::other(
                    "ledger.journal is not a regular file",
                )));
            }
            journal.file = Some(file);
        }
        let file = journal.file.as_mut().expect("opened above");
        if let Err(e) = file.write_all(&line) {
            // A part of the line may be written: the next full save truncates it away.
            journal.file = None;
            return Err(werr(e));
        }
        journal.lines += 1;
        journal.unsynced = true;
        Ok(())
    }

    /// Makes the journal's lines durable (end of a pass).
    pub fn sync(&self) -> Result<(), LedgerError> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        let mut journal = self.journal();
        if let (true, Some(file)) = (journal.unsynced, journal.file.as_ref()) {
            file.sync_data().map_err(|source| LedgerError::Write {
                path: Self::journal_path(path),
                source,
            })?;
            journal.unsynced = false;
        }
        Ok(())
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
        let bytes = match crate::files::read_regular(path, MAX_BYTES) {
            Ok(bytes) if bytes.len() as u64 > MAX_BYTES => {
                return self.set_aside(path, format!("larger than {MAX_BYTES} bytes"));
            }
            Ok(bytes) => Some(bytes),
            Err(e) if e.is_not_found() => None,
            Err(crate::files::OpenError::NotRegular(what)) => {
                return self.set_aside(path, format!("it is {what}"));
            }
            Err(crate::files::OpenError::Io(source)) => {
                return Err(LedgerError::Read {
                    path: path.clone(),
                    source,
                });
            }
        };
        self.journal().based = bytes.is_some();
        let mut ledger: Ledger = match bytes.map(|b| serde_json::from_slice::<OnDisk>(&b)) {
            None => Ledger::default(),
            Some(Ok(disk)) if disk.version == FORMAT_VERSION => disk.ledger,
            Some(Ok(disk)) => {
                return self.set_aside(path, format!("unknown format version {}", disk.version));
            }
            Some(Err(e)) => return self.set_aside(path, e.to_string()),
        };
        if let Err(why) = ledger.check() {
            return self.set_aside(path, why.to_string());
        }
        // Changes made since the ledger was last written. A line cut short by a crash, and
        // anything after it, is ignored: it was never synced, so nothing depended on it.
        let journal = Self::journal_path(path);
        let replayed = match crate::files::read_regular(&journal, MAX_BYTES) {
            Ok(bytes) => {
                let mut replayed = 0;
                for line in bytes.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
                    let Ok(change) = serde_json::from_slice::<Change>(line) else {
                        break;
                    };
                    change.apply(&mut ledger);
                    replayed += 1;
                }
                replayed
            }
            Err(e) if e.is_not_found() => 0,
            Err(e) => {
                return self.set_aside(path, format!("{}: {e}", journal.display()));
            }
        };
        if let Err(why) = ledger.check() {
            return self.set_aside(path, format!("after its journal: {why}"));
        }
        if replayed > 0 {
            // Fold the journal in now, so it starts empty.
            self.save(&ledger)?;
        }
        Ok(Loaded {
            ledger,
            set_aside: None,
        })
    }

    /// Moves an unusable ledger (and its journal) aside; the agent starts owning nothing, so
    /// nothing is dropped by mistake.
    fn set_aside(&self, path: &Path, why: String) -> Result<Loaded, LedgerError> {
        self.journal().based = false;
        let stamp = crate::clock::now_secs();
        let aside = path.with_file_name(format!("{FILE_NAME}.corrupt-{stamp}"));
        let moved = |from: &Path, to: &Path| match fs::rename(from, to) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(LedgerError::Write {
                path: from.to_path_buf(),
                source: e,
            }),
            _ => Ok(()),
        };
        moved(path, &aside)?;
        moved(
            &Self::journal_path(path),
            &path.with_file_name(format!("{JOURNAL_NAME}.corrupt-{stamp}")),
        )?;
        Ok(Loaded {
            ledger: Ledger::default(),
            set_aside: Some(format!(
                "the ledger {} could not be read ({why}); it was moved to {} and the agent starts owning no catalog",
                path.display(),
                aside.display()
            )),
        })
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
        crate::files::write_atomically(path, &text, 0o600).map_err(werr)?;
        // Everything the journal says is in the file now.
        let mut journal = self.journal();
        journal.based = true;
        journal.file = None;
        journal.lines = 0;
        journal.unsynced = false;
        match fs::remove_file(Self::journal_path(path)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(LedgerError::Write {
                path: Self::journal_path(path),
                source: e,
            }),
            _ => Ok(()),
        }
    }
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

    #[test]
    fn changes_go_to_the_journal_and_are_replayed_then_folded_in() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::in_dir(dir.path());
        let mut ledger = Ledger::default();
        ledger
            .catalogs
            .insert("a".into(), Entry::new(spec("a"), false));
        store.save(&ledger).unwrap();
        let written = fs::read(dir.path().join(FILE_NAME)).unwrap();
        for change in [
            Change::Unanswered { spec: spec("b") },
            Change::Answered { name: "b".into() },
            Change::Own {
                name: "b".into(),
                entry: Entry::new(spec("b"), false),
            },
            Change::Disown { name: "a".into() },
            Change::Unanswered { spec: spec("c") },
            Change::Created {
                name: "c".into(),
                entry: Entry::new(spec("c"), false),
            },
        ] {
            change.clone().apply(&mut ledger);
            store.record(&ledger, &change).unwrap();
        }
        store.sync().unwrap();
        assert_eq!(
            fs::read(dir.path().join(FILE_NAME)).unwrap(),
            written,
            "a change does not rewrite the ledger"
        );
        let journal = fs::read_to_string(dir.path().join(JOURNAL_NAME)).unwrap();
        assert_eq!(journal.lines().count(), 6);
        // A line cut short by a crash is ignored.
        fs::OpenOptions::new()
            .append(true)
            .open(dir.path().join(JOURNAL_NAME))
            .unwrap()
            .write_all(b"{\"op\":\"disown\",\"na")
            .unwrap();
        let loaded = Store::in_dir(dir.path()).load().unwrap();
        assert!(loaded.set_aside.is_none());
        assert_eq!(loaded.ledger, ledger);
        assert!(!dir.path().join(JOURNAL_NAME).exists(), "folded in at load");
    }

    #[test]
    fn the_first_change_of_a_new_ledger_writes_the_ledger_file() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::in_dir(dir.path());
        store.load().unwrap();
        let mut ledger = Ledger::default();
        let change = Change::Unanswered { spec: spec("a") };
        change.clone().apply(&mut ledger);
        store.record(&ledger, &change).unwrap();
        assert!(dir.path().join(FILE_NAME).exists());
        assert!(!dir.path().join(JOURNAL_NAME).exists());
        let change = Change::Answered { name: "a".into() };
        change.clone().apply(&mut ledger);
        store.record(&ledger, &change).unwrap();
        assert!(dir.path().join(JOURNAL_NAME).exists(), "then the journal");
    }

    #[test]
    fn a_ledger_whose_entries_break_the_rules_is_set_aside() {
        let cases = [
            ("../x", "../x", "tpch"),
            ("a", "b", "tpch"),
            ("a", "a", "tpch WITH (x = 'y')"),
            ("a", "a", ""),
            ("A", "A", "tpch"),
        ];
        for (key, name, connector) in cases {
            let dir = tempfile::tempdir().unwrap();
            let mut ledger = Ledger::default();
            let mut entry = Entry::new(spec(name), false);
            entry.spec.connector = connector.into();
            ledger.catalogs.insert(key.into(), entry);
            let text = serde_json::to_vec(&OnDisk {
                version: FORMAT_VERSION,
                ledger,
            })
            .unwrap();
            fs::write(dir.path().join(FILE_NAME), text).unwrap();
            let loaded = Store::in_dir(dir.path()).load().unwrap();
            assert!(
                loaded.ledger.catalogs.is_empty(),
                "{key} {name} {connector}"
            );
            assert!(loaded.set_aside.is_some(), "{key} {name} {connector}");
        }
    }

    #[test]
    fn a_fingerprint_is_recomputed_not_trusted() {
        let dir = tempfile::tempdir().unwrap();
        let mut ledger = Ledger::default();
        let mut entry = Entry::new(spec("a"), false);
        entry.fingerprint = Fingerprint([7; 32]);
        ledger.catalogs.insert("a".into(), entry);
        Store::in_dir(dir.path()).save(&ledger).unwrap();
        let loaded = Store::in_dir(dir.path()).load().unwrap();
        assert_eq!(
            loaded.ledger.catalogs["a"].fingerprint,
            spec("a").fingerprint()
        );
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]

        /// Whatever the state dir holds, loading never panics: it gives a ledger whose entries
        /// pass the rules, or sets the file aside.
        #[test]
        fn loading_never_panics(
            cut in 0usize..2000,
            flips in proptest::collection::vec((0usize..2000, proptest::prelude::any::<u8>()), 0..4),
            journal in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64),
        ) {
            let dir = tempfile::tempdir().unwrap();
            let mut ledger = Ledger::default();
            ledger.catalogs.insert("a".into(), Entry::new(spec("a"), false));
            ledger.unanswered.insert("b".into(), spec("b"));
            let mut text = serde_json::to_vec(&OnDisk { version: FORMAT_VERSION, ledger }).unwrap();
            for (at, byte) in flips {
                if !text.is_empty() {
                    let at = at % text.len();
                    text[at] = byte;
                }
            }
            text.truncate(cut.max(1));
            fs::write(dir.path().join(FILE_NAME), &text).unwrap();
            fs::write(dir.path().join(JOURNAL_NAME), &journal).unwrap();
            let loaded = Store::in_dir(dir.path()).load().unwrap();
            for (name, entry) in &loaded.ledger.catalogs {
                proptest::prop_assert_eq!(name, &entry.spec.name);
            }
        }
    }
}
