//! The watched folder → the desired catalogs. Owns the folder rules: which entries are catalogs,
//! which are ignored (hidden, editor and temp files, the kubelet's `..data` machinery), how links
//! are followed, and that one bad file never hides the others.

use crate::catalog::{self, CatalogSpec, FileError, Fingerprint, Flavour, Warning};
use crate::files::{self, OpenError};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// A valid catalog file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesiredCatalog {
    pub spec: CatalogSpec,
    pub fingerprint: Fingerprint,
    /// File name inside the folder.
    pub file: String,
}

/// An unusable catalog file. `catalog` is the catalog it would define, when the name says: the
/// live catalog of that name is then protected (an invalid file never drops or alters it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidFile {
    pub catalog: Option<String>,
    pub error: FileError,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Desired {
    pub catalogs: BTreeMap<String, DesiredCatalog>,
    pub invalid: Vec<InvalidFile>,
    pub warnings: Vec<Warning>,
}

impl Desired {
    /// Names an invalid file claims, so the plan leaves those live catalogs alone.
    pub fn protected(&self, name: &str) -> Option<&InvalidFile> {
        self.invalid
            .iter()
            .find(|f| f.catalog.as_deref() == Some(name))
    }

    /// Removes what `file` contributed.
    fn forget_file(&mut self, file: &str) {
        if let Ok(name) = catalog::catalog_name(file)
            && self.catalogs.get(&name).is_some_and(|c| c.file == file)
        {
            self.catalogs.remove(&name);
        }
        self.invalid.retain(|f| f.error.file != file);
        self.warnings.retain(|w| w.file != file);
    }

    /// A digest of everything a pass would act on; equal digests mean nothing to do (poll mode).
    pub fn digest(&self) -> [u8; 32] {
        let mut hash = Sha256::new();
        for (name, c) in &self.catalogs {
            hash.update(name.as_bytes());
            hash.update([0]);
            hash.update(c.fingerprint.0);
        }
        for f in &self.invalid {
            hash.update(f.error.to_string().as_bytes());
            hash.update([0]);
        }
        hash.finalize().into()
    }
}

/// The folder itself could not be read: no desired state exists, and nothing may be concluded
/// from the absence of files (in particular, nothing is dropped).
#[derive(Debug, thiserror::Error)]
#[error("cannot read the catalog folder {}: {source}", dir.display())]
pub struct ScanError {
    pub dir: PathBuf,
    #[source]
    pub source: io::Error,
}

/// Editor, temp and hidden files that are never catalogs. Anything not ending in `.properties` is
/// ignored anyway; the explicit rules matter for names like `.x.properties`.
pub fn is_ignored(file_name: &str) -> bool {
    file_name.starts_with('.')
        || file_name.ends_with('~')
        || file_name.ends_with(".swp")
        || file_name.ends_with(".tmp")
        || (file_name.starts_with('#') && file_name.ends_with('#'))
        || !file_name.ends_with(".properties")
}

/// Reads the folder. Links are followed (a ConfigMap's visible files are links into `..data`).
pub fn scan(dir: &Path, flavour: Flavour) -> Result<Desired, ScanError> {
    let scan_err = |source| ScanError {
        dir: dir.to_path_buf(),
        source,
    };
    let mut names = Vec::new();
    for entry in fs::read_dir(dir).map_err(scan_err)? {
        let entry = entry.map_err(scan_err)?;
        // The listing says which entries are links (no extra system call on most file systems).
        let link = entry.file_type().map_or(true, |t| t.is_symlink());
        names.push((entry.file_name(), link));
    }
    names.sort();

    let inside = Inside::new(dir);
    let mut desired = Desired::default();
    for (os_name, link) in names {
        scan_entry(
            dir,
            &os_name,
            link.then_some(&inside),
            flavour,
            &mut desired,
        );
    }
    Ok(desired)
}

/// Where links may lead: into the catalog folder (a ConfigMap's links go through `..data`, in it).
struct Inside(PathBuf);

impl Inside {
    fn new(dir: &Path) -> Self {
        Inside(fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf()))
    }

    /// Where a link finally leads, when that is out of the folder.
    fn escape(&self, link: &Path) -> Option<PathBuf> {
        let target = fs::canonicalize(link).ok()?;
        (!target.starts_with(&self.0)).then_some(target)
    }
}

/// Reads one entry of the folder into `desired` (nothing when it is no catalog file or is gone).
/// `links` is given when the entry is a symbolic link.
fn scan_entry(
    dir: &Path,
    os_name: &std::ffi::OsStr,
    links: Option<&Inside>,
    flavour: Flavour,
    desired: &mut Desired,
) {
    let file = os_name.to_string_lossy().into_owned();
    if is_ignored(&file) {
        return;
    }
    let path = dir.join(os_name);
    let invalid = |reason: String| InvalidFile {
        catalog: claimed_name(&file),
        error: FileError {
            file: file.clone(),
            line: None,
            reason,
        },
    };
    if os_name.to_str().is_none() {
        desired
            .invalid
            .push(invalid("the file name is not valid UTF-8".into()));
        return;
    }
    let name = match catalog::catalog_name(&file) {
        Ok(name) => name,
        Err(reason) => {
            desired.invalid.push(invalid(reason.to_string()));
            return;
        }
    };
    // A link out of the folder would have the agent read, and send to the engine, any file it
    // may read: not followed.
    if links.is_some_and(|inside| inside.escape(&path).is_some()) {
        let target = fs::read_link(&path).unwrap_or_default();
        desired.invalid.push(invalid(format!(
            "symbolic link to {}, out of the catalog folder: not followed (keep catalog files in the folder, and secrets in ${{ENV:…}} or ${{FILE:…}})",
            target.display()
        )));
        return;
    }
    // One rule for whatever stands where a catalog file should be and cannot be read as one
    // — a dangling link, a directory, a FIFO, a device, a file the agent may not read: the
    // file is invalid, and a live catalog of that name stays as it is.
    let bytes = match files::read_regular(&path, catalog::MAX_FILE_BYTES) {
        Ok(bytes) => bytes,
        Err(e) if e.is_not_found() => {
            // Gone since the listing: the catalog is absent. A link whose target is missing is
            // different: it may be a mistake (a link into a volume not mounted yet), so it is
            // invalid and a live catalog of that name stays. During a ConfigMap update the
            // kubelet leaves a removed key's link dangling for a moment; removing it is the
            // next event, whose pass then drops the catalog.
            if let Ok(target) = fs::read_link(&path) {
                desired.invalid.push(invalid(format!(
                    "symbolic link to {}, which does not exist",
                    target.display()
                )));
            }
            return;
        }
        Err(OpenError::NotRegular(what)) => {
            desired
                .invalid
                .push(invalid(format!("it is {what}, not a regular file")));
            return;
        }
        Err(e) => {
            desired.invalid.push(invalid(format!("cannot read: {e}")));
            return;
        }
    };
    let mut notes = Vec::new();
    match catalog::parse_file_noting(&file, &name, &bytes, flavour, &mut notes) {
        Ok(spec) => {
            for message in notes {
                desired.warnings.push(Warning {
                    file: file.clone(),
                    message,
                });
            }
            if let Some(message) = catalog::name_warning(&name) {
                desired.warnings.push(Warning {
                    file: file.clone(),
                    message,
                });
            }
            let fingerprint = spec.fingerprint();
            desired.catalogs.insert(
                name,
                DesiredCatalog {
                    spec,
                    fingerprint,
                    file,
                },
            );
        }
        Err(error) => desired.invalid.push(InvalidFile {
            catalog: Some(name),
            error,
        }),
    }
}

/// Reads the named files of the folder again into `desired`, which held the whole folder: what
/// each file said before is replaced by what it says now (or removed, when it is gone). A file
/// event costs what it names, not the size of the folder.
pub fn rescan_files<'a>(
    dir: &Path,
    files: impl IntoIterator<Item = &'a str>,
    flavour: Flavour,
    desired: &mut Desired,
) {
    let inside = Inside::new(dir);
    for file in files {
        desired.forget_file(file);
        // Only what a listing would show (a dangling link included).
        let Ok(meta) = fs::symlink_metadata(dir.join(file)) else {
            continue;
        };
        if !is_ignored(file) {
            let link = meta.file_type().is_symlink().then_some(&inside);
            scan_entry(dir, std::ffi::OsStr::new(file), link, flavour, desired);
        }
    }
    // In the order a whole scan gives (file names).
    desired
        .invalid
        .sort_by(|a, b| a.error.file.cmp(&b.error.file));
    desired.warnings.sort_by(|a, b| a.file.cmp(&b.file));
}

/// The catalogs a file can stand for: its catalog name, and the name an engine would make of a
/// badly named one.
pub fn names_for_file(file: &str) -> Vec<String> {
    let mut names: Vec<String> = catalog::catalog_name(file).ok().into_iter().collect();
    names.extend(claimed_name(file));
    names.dedup();
    names
}

/// The catalog a badly named file would map to in Trino (which lower-cases names), if any.
fn claimed_name(file: &str) -> Option<String> {
    let stem = file.strip_suffix(".properties")?;
    (!stem.is_empty()).then(|| stem.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    struct Folder(tempfile::TempDir);

    impl Folder {
        fn new() -> Self {
            Folder(tempfile::tempdir().unwrap())
        }
        fn with(self, name: &str, text: &str) -> Self {
            fs::write(self.0.path().join(name), text).unwrap();
            self
        }
        fn scan(&self) -> Desired {
            scan(self.0.path(), Flavour::Trino).unwrap()
        }
    }

    fn names(d: &Desired) -> Vec<&str> {
        d.catalogs.keys().map(String::as_str).collect()
    }

    #[test]
    fn only_properties_files_that_are_not_hidden_or_temp_are_catalogs() {
        let d = Folder::new()
            .with("tpch.properties", "connector.name=tpch\n")
            .with(".hidden.properties", "connector.name=tpch\n")
            .with("tpch.properties~", "x")
            .with("tpch.properties.swp", "x")
            .with("tpch.properties.tmp", "x")
            .with("#tpch.properties#", "x")
            .with("README.md", "x")
            .with("memory.PROPERTIES", "x")
            .scan();
        assert_eq!(names(&d), ["tpch"]);
        assert!(d.invalid.is_empty());
    }

    #[test]
    fn one_bad_file_does_not_hide_the_others() {
        let d = Folder::new()
            .with("a.properties", "connector.name=tpch\n")
            .with("b.properties", "x=1\n")
            .with("Caps.properties", "connector.name=tpch\n")
            .scan();
        assert_eq!(names(&d), ["a"]);
        assert_eq!(d.invalid.len(), 2);
        assert_eq!(d.protected("b").unwrap().error.file, "b.properties");
        assert!(d.protected("caps").is_some(), "Trino would call it caps");
    }

    #[test]
    fn kubelet_atomic_writer_layout_is_followed_through_links() {
        let f = Folder::new();
        let root = f.0.path();
        let gen1 = root.join("..2026_11_24_09_00_00.000000001");
        fs::create_dir(&gen1).unwrap();
        fs::write(gen1.join("tpch.properties"), "connector.name=tpch\n").unwrap();
        symlink("..2026_11_24_09_00_00.000000001", root.join("..data")).unwrap();
        symlink("..data/tpch.properties", root.join("tpch.properties")).unwrap();
        let d = f.scan();
        assert_eq!(names(&d), ["tpch"]);
        assert!(d.warnings.is_empty());
    }

    #[test]
    fn a_dangling_link_and_a_directory_are_invalid_so_a_live_catalog_stays() {
        let f = Folder::new();
        symlink(
            "../secrets/gone.properties",
            f.0.path().join("gone.properties"),
        )
        .unwrap();
        fs::create_dir(f.0.path().join("dir.properties")).unwrap();
        let d = f.scan();
        assert!(d.catalogs.is_empty());
        assert_eq!(d.invalid.len(), 2);
        assert_eq!(
            d.protected("dir").unwrap().error.to_string(),
            "dir.properties: it is a directory, not a regular file"
        );
        assert_eq!(
            d.protected("gone").unwrap().error.to_string(),
            "gone.properties: symbolic link to ../secrets/gone.properties, which does not exist"
        );
        assert!(d.warnings.is_empty());
    }

    #[test]
    fn a_missing_folder_is_an_error_not_an_empty_set() {
        let err = scan(Path::new("/nonexistent/catalogs"), Flavour::Trino).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/catalogs"));
    }

    #[test]
    fn digest_changes_with_content_only() {
        let f = Folder::new().with("a.properties", "connector.name=tpch\n");
        let d1 = f.scan().digest();
        let f = f.with("a.properties", "# comment\nconnector.name = tpch\n");
        assert_eq!(f.scan().digest(), d1);
        let f = f.with("a.properties", "connector.name=tpcds\n");
        assert_ne!(f.scan().digest(), d1);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(300))]

        /// What a file event reads — the named files again, into the folder as last read — is
        /// what reading the whole folder gives, after any sequence of changes.
        #[test]
        fn reading_the_changed_files_equals_reading_the_folder(
            ops in proptest::collection::vec((0usize..5, 0usize..6), 1..25)
        ) {
            const NAMES: [&str; 5] = ["a.properties", "b.properties", "B.properties", "c.tmp", "d.properties"];
            let f = Folder::new();
            let mut known = f.scan();
            for (which, op) in ops {
                let name = NAMES[which];
                let path = f.0.path().join(name);
                let _ = fs::remove_file(&path);
                let _ = fs::remove_dir(&path);
                match op {
                    0 => fs::write(&path, "connector.name=tpch\n").unwrap(),
                    1 => fs::write(&path, "connector.name=memory\nx=1\n").unwrap(),
                    2 => fs::write(&path, "no connector\n").unwrap(),
                    3 => fs::create_dir(&path).unwrap(),
                    4 => symlink("nowhere", &path).unwrap(),
                    _ => {}
                }
                rescan_files(f.0.path(), [name], Flavour::Trino, &mut known);
                proptest::prop_assert_eq!(&known, &f.scan());
            }
        }
    }
}
