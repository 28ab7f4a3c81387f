//! The catalog manager: which catalogs are live, how CREATE/DROP CATALOG change them, and the
//! file store that mirrors them to disk.
//!
//! Static management (StaticCatalogManager) loads the catalog dir once and refuses CREATE/DROP;
//! dynamic management (CoordinatorDynamicCatalogManager + FileCatalogStore or the memory store)
//! follows facts §1.1, §1.5 and §1.6.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::connectors::{self, ConnectorError};
use crate::error_codes::{self as codes, QueryFailure};
use crate::rng::Rng;
use crate::{Engine, clock, props};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Management {
    Static,
    Dynamic,
}

/// What `catalog.read-only=true` does (facts §1.1 documents two behaviours).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReadOnlyMode {
    /// FileCatalogStore (commits 1804b158…/1945b45a…): every CREATE/DROP fails with
    /// `Catalog store is read only`.
    Code,
    /// The docs: CREATE works but writes no file, DROP of a catalog that has a file fails.
    Docs,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Store {
    Memory,
    File {
        dir: PathBuf,
        read_only: Option<ReadOnlyMode>,
    },
}

#[derive(Debug, Clone)]
pub struct Catalog {
    pub name: String,
    pub connector: String,
    /// Properties as written (secret references unresolved), without `connector.name`.
    pub properties: Vec<(String, String)>,
    /// Loaded at start-up in dynamic mode but failed to initialize (facts §1.6).
    pub failed: bool,
    /// Backed by a file that was there at start-up (matters for `--read-only-mode docs`).
    pub from_file: bool,
}

/// A catalog the statement refers to, as a query sees it.
pub enum Lookup {
    System,
    Live,
    Failed,
    Missing,
}

/// Why start-up failed: what goes to stderr before the process exits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartupError(pub String);

impl fmt::Display for StartupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

pub struct CatalogManager {
    engine: Engine,
    management: Management,
    store: Store,
    catalogs: BTreeMap<String, Catalog>,
    /// Left out of listings, as access control filters them (`--hidden-catalog`).
    hidden: Vec<String>,
    /// The connectors whose plugins are installed (`--connectors`).
    available: Vec<String>,
}

/// One row of a catalog listing.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Listed {
    pub name: String,
    pub connector: String,
    /// Loaded at start-up but failed to initialize.
    pub failed: bool,
}

impl CatalogManager {
    pub fn new(engine: Engine, management: Management, store: Store) -> Self {
        CatalogManager {
            engine,
            management,
            store,
            catalogs: BTreeMap::new(),
            hidden: Vec::new(),
            available: connectors::known(engine)
                .into_iter()
                .map(str::to_string)
                .collect(),
        }
    }

    /// Only these connectors exist (a coordinator with only these plugins).
    pub fn restrict_connectors(&mut self, names: &[String]) {
        self.available = names.to_vec();
    }

    /// Catalogs to leave out of every listing from now on.
    pub fn hide(&mut self, names: &[String]) {
        self.hidden = names.to_vec();
    }

    /// Reads the catalog dir at start-up. `dir` is None for the memory store, which ignores files.
    /// Warnings (deprecated connector names, failed dynamic catalogs) are returned for stderr.
    pub fn load_initial(&mut self, dir: Option<&Path>) -> Result<Vec<String>, StartupError> {
        let mut warnings = Vec::new();
        let Some(dir) = dir else { return Ok(warnings) };
        let mut files = Vec::new();
        let entries = std::fs::read_dir(dir).map_err(|e| {
            StartupError(format!(
                "Cannot read catalog directory {}: {e}",
                dir.display()
            ))
        })?;
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            // `File::isFile` follows symlinks (FileCatalogStore lists regular files only).
            if name.ends_with(".properties") && path.is_file() {
                files.push((name.trim_end_matches(".properties").to_string(), path));
            }
        }
        files.sort();
        for (name, path) in files {
            let bytes = std::fs::read(&path)
                .map_err(|e| StartupError(format!("{}: {e}", path.display())))?;
            let entries = props::load(&bytes, self.engine == Engine::Trino)
                .map_err(|e| StartupError(format!("{}: {e}", path.display())))?;
            let catalog = self.catalog_from_file(&name, &path, entries, &mut warnings)?;
            let validated = self.validate(&catalog.connector, &catalog.properties);
            match (validated, self.engine, self.management) {
                (Ok(()), _, _) => {}
                (Err(message), Engine::Trino, Management::Dynamic) => {
                    // CoordinatorDynamicCatalogManager.loadInitialCatalogs catches the failure and
                    // registers a failed catalog (facts §1.6). NOT IN FACTS: the log line layout
                    // around the quoted message.
                    warnings.push(format!(
                        "{}\tERROR\tmain\tio.trino.connector.CoordinatorDynamicCatalogManager\t-- Failed to load catalog {} using connector {} --\n{message}",
                        crate::clock::rfc3339(std::time::SystemTime::now()),
                        catalog.name,
                        catalog.connector
                    ));
                    self.catalogs.insert(
                        catalog.name.clone(),
                        Catalog {
                            failed: true,
                            ..catalog
                        },
                    );
                    continue;
                }
                (Err(message), _, _) => return Err(StartupError(message)),
            }
            self.catalogs.insert(catalog.name.clone(), catalog);
        }
        Ok(warnings)
    }

    fn catalog_from_file(
        &self,
        name: &str,
        path: &Path,
        mut entries: Vec<(String, String)>,
        warnings: &mut Vec<String>,
    ) -> Result<Catalog, StartupError> {
        let position = entries.iter().position(|(k, _)| k == "connector.name");
        let Some(position) = position else {
            return Err(StartupError(match self.engine {
                // FileCatalogStore (facts §1.5)
                Engine::Trino => format!(
                    "Catalog configuration {} does not contain 'connector.name'",
                    path.display()
                ),
                // StaticCatalogStore (facts §5)
                Engine::Presto => format!(
                    "Catalog configuration {} does not contain connector.name",
                    path.display()
                ),
            }));
        };
        let (_, mut connector) = entries.remove(position);
        let catalog_name = match self.engine {
            Engine::Trino => {
                if name.eq_ignore_ascii_case("system") {
                    return Err(StartupError(
                        "Catalog name SYSTEM is reserved for internal usage".to_string(),
                    ));
                }
                // NOT IN FACTS: the log line layout around FileCatalogStore's warning text.
                if connector.contains('-') {
                    let corrected = connector.replace('-', "_");
                    warnings.push(format!(
                        "WARN\tmain\tio.trino.connector.FileCatalogStore\tCatalog '{name}' is using the deprecated connector name '{connector}'. The correct connector name is '{corrected}'"
                    ));
                    connector = corrected;
                }
                // CatalogName lower-cases (facts §1.7).
                name.to_lowercase()
            }
            // NOT IN FACTS: PrestoDB's handling of upper-case file names; kept as written.
            Engine::Presto => name.to_string(),
        };
        Ok(Catalog {
            name: catalog_name,
            connector,
            properties: entries,
            failed: false,
            from_file: true,
        })
    }

    /// Resolves secrets and instantiates the connector, as DefaultCatalogFactory does: the message
    /// of whatever fails.
    fn validate(&self, connector: &str, properties: &[(String, String)]) -> Result<(), String> {
        let resolved = match self.engine {
            Engine::Trino => {
                let mut resolved = Vec::new();
                for (key, value) in properties {
                    resolved.push((
                        key.clone(),
                        connectors::resolve_secrets(value, &connectors::process_env)?,
                    ));
                }
                resolved
            }
            // NOT IN FACTS: whether PrestoDB resolves `${ENV:…}` in catalog files; taken literally.
            Engine::Presto => properties.to_vec(),
        };
        connectors::validate(self.engine, connector, &resolved, &self.available)
            .map_err(|e: ConnectorError| e.message(self.engine))
    }

    fn read_only(&self) -> Option<ReadOnlyMode> {
        match &self.store {
            Store::File { read_only, .. } => *read_only,
            Store::Memory => None,
        }
    }

    pub fn lookup(&self, name: &str) -> Lookup {
        if name == "system" {
            return Lookup::System;
        }
        match self.catalogs.get(name) {
            Some(catalog) if catalog.failed => Lookup::Failed,
            Some(_) => Lookup::Live,
            None => Lookup::Missing,
        }
    }

    /// Every catalog a query can list, `system` included, sorted.
    pub fn list(&self) -> Vec<Listed> {
        let mut all: Vec<Listed> = self
            .catalogs
            .values()
            // NOT IN FACTS: which catalogs access control hides (`--hidden-catalog`); the facts
            // only say listings are filtered (§2.1).
            .filter(|c| !self.hidden.contains(&c.name))
            .map(|c| Listed {
                name: c.name.clone(),
                connector: c.connector.clone(),
                failed: c.failed,
            })
            .collect();
        all.push(Listed {
            name: "system".to_string(),
            connector: "system".to_string(),
            failed: false,
        });
        all.sort();
        all
    }

    /// CREATE CATALOG after CreateCatalogTask's own checks (facts §1.5 order: exists → store check
    /// → connector → activate → write the file).
    pub fn create(
        &mut self,
        name: &str,
        connector: &str,
        properties: Vec<(String, String)>,
        not_exists: bool,
        rng: &Rng,
    ) -> Result<(), QueryFailure> {
        if self.management == Management::Static {
            return Err(QueryFailure::new(
                codes::NOT_SUPPORTED,
                "CREATE CATALOG is not supported by the static catalog store",
            ));
        }
        if name == "system" || self.catalogs.contains_key(name) {
            if not_exists {
                return Ok(());
            }
            return Err(QueryFailure::new(
                codes::ALREADY_EXISTS,
                format!("Catalog '{name}' already exists"),
            ));
        }
        let read_only = self.read_only();
        if read_only == Some(ReadOnlyMode::Code) {
            return Err(QueryFailure::new(
                codes::NOT_SUPPORTED,
                "Catalog store is read only",
            ));
        }
        self.validate(connector, &properties)
            .map_err(|message| QueryFailure::new(codes::GENERIC_INTERNAL_ERROR, message))?;
        let catalog = Catalog {
            name: name.to_string(),
            connector: connector.to_string(),
            properties,
            failed: false,
            from_file: false,
        };
        let file_written = match (&self.store, read_only) {
            (
                Store::File {
                    dir,
                    read_only: None,
                },
                _,
            ) => Some(write_catalog_file(dir, &catalog, rng)),
            _ => None,
        };
        self.catalogs.insert(name.to_string(), catalog);
        if let Some(Err(error)) = file_written {
            eprintln!(
                "ERROR\tio.trino.connector.FileCatalogStore\tCould not store catalog properties: {error}"
            );
            // NOT IN FACTS: the catalog stays active after the failed write (the facts give the
            // order activate-then-write but no rollback).
            return Err(QueryFailure::new(
                codes::CATALOG_STORE_ERROR,
                "Could not store catalog properties",
            ));
        }
        Ok(())
    }

    /// DROP CATALOG after DropCatalogTask's own checks.
    pub fn drop(&mut self, name: &str, exists: bool) -> Result<(), QueryFailure> {
        if self.management == Management::Static {
            return Err(QueryFailure::new(
                codes::NOT_SUPPORTED,
                "DROP CATALOG is not supported by the static catalog store",
            ));
        }
        let read_only = self.read_only();
        if read_only == Some(ReadOnlyMode::Code) {
            // FileCatalogStore.removeCatalog calls checkModifiable() first, so even a no-op drop
            // fails (facts §1.6 caveats).
            return Err(QueryFailure::new(
                codes::NOT_SUPPORTED,
                "Catalog store is read only",
            ));
        }
        // Recorded on Trino 476: CATALOG_NOT_FOUND `Catalog 'nosuch' not found`.
        let Some(catalog) = self.catalogs.get(name) else {
            if exists {
                return Ok(());
            }
            return Err(QueryFailure::new(
                codes::CATALOG_NOT_FOUND,
                format!("Catalog '{name}' not found"),
            ));
        };
        if read_only == Some(ReadOnlyMode::Docs) && catalog.from_file {
            // NOT IN FACTS: the docs say such files "cannot be removed" but not how DROP fails.
            return Err(QueryFailure::new(
                codes::NOT_SUPPORTED,
                "Catalog store is read only",
            ));
        }
        // FileCatalogStore.removeCatalog: file deleted first, failure ignored; then deactivated.
        if let Store::File {
            dir,
            read_only: None,
        } = &self.store
        {
            let _ = std::fs::remove_file(dir.join(format!("{name}.properties")));
        }
        self.catalogs.remove(name);
        Ok(())
    }
}

/// FileCatalogStore.addOrReplaceCatalog: `java.util.Properties` with `connector.name` and every
/// property, stored to `<name>.properties.tmp`, synced, then renamed over `<name>.properties`.
/// Key order is a seeded shuffle, standing in for Hashtable order (facts §1.5).
fn write_catalog_file(dir: &Path, catalog: &Catalog, rng: &Rng) -> std::io::Result<()> {
    use std::io::Write;
    let mut entries = vec![("connector.name".to_string(), catalog.connector.clone())];
    entries.extend(catalog.properties.iter().cloned());
    rng.shuffle(&mut entries);
    let text = props::store(&entries, &clock::java_date(SystemTime::now()));
    // Properties.store(OutputStream) writes ISO-8859-1; everything above 0x7e is already escaped.
    let file = dir.join(format!("{}.properties", catalog.name));
    let tmp = dir.join(format!("{}.properties.tmp", catalog.name));
    let mut out = std::fs::File::create(&tmp)?;
    out.write_all(text.as_bytes())?;
    out.sync_all()?;
    drop(out);
    std::fs::rename(&tmp, &file)
}
