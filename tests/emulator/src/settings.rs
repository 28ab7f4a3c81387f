//! Command line + (in container mode) the engine's own etc dir → one checked Settings.
//!
//! Container mode reads what the real images read (facts §1.1, §6): for Trino
//! `config.properties` (`http-server.http.port`, `catalog.management` — the official image ships
//! `catalog.management=${ENV:CATALOG_MANAGEMENT}` —, `catalog.store`, and for static management
//! `catalog.config-dir` or its legacy name `plugin.config-dir`), `catalog-store.properties` for
//! the dynamic file store's directory, and `node.properties` (`node.environment`).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::catalogs::{Management, Store};
use crate::cli::{Args, EngineArg, ManagementArg, StoreArg};
use crate::connectors::{configuration_errors, process_env, resolve_secrets};
use crate::{Engine, props};

pub struct Settings {
    pub engine: Engine,
    pub node_version: String,
    pub environment: String,
    pub listen: SocketAddr,
    pub management: Management,
    pub store: Store,
    /// Where catalogs are loaded from at start (None: nothing to load).
    pub load_dir: Option<PathBuf>,
    pub no_if_exists: bool,
    pub legacy_catalogs_table: bool,
    pub hidden_catalogs: Vec<String>,
    pub startup_delay: Duration,
    pub startup_hang: Duration,
    pub no_nodes_window: Duration,
    pub connectors: Option<Vec<String>>,
    pub catalogs_table: crate::engine::CatalogsTable,
    pub statement_latency: Duration,
    pub query_latency: Duration,
    pub fail_rate_503: f64,
    pub seed: u64,
    pub record: Option<PathBuf>,
    pub tls: bool,
    pub tls_cert_out: Option<PathBuf>,
    /// user → password
    pub passwords: Option<HashMap<String, String>>,
    pub bearer_tokens: Vec<String>,
    pub shutdown_grace_period: Duration,
}

/// Why the emulator cannot start: the message for stderr and the exit code.
#[derive(Debug)]
pub struct SettingsError {
    pub message: String,
    pub exit_code: i32,
}

impl Settings {
    pub fn from_args(args: Args) -> Result<Settings, SettingsError> {
        let engine = match args.engine {
            EngineArg::Trino => Engine::Trino,
            EngineArg::Presto => Engine::Presto,
        };
        // A broken engine config fails start-up like the engine: exit 100 (Trino Server.java)
        // or 1 (PrestoServer.java), facts §4/§5.
        let startup_exit = if engine == Engine::Trino { 100 } else { 1 };
        let usage = |message: String| SettingsError {
            message,
            exit_code: 2,
        };
        let from_etc = match &args.etc_dir {
            Some(dir) => Some(
                EtcConfig::read(engine, dir).map_err(|message| SettingsError {
                    message,
                    exit_code: startup_exit,
                })?,
            ),
            None => None,
        };
        let etc = from_etc.as_ref();

        let management = match args.catalog_management {
            Some(ManagementArg::Static) => Management::Static,
            Some(ManagementArg::Dynamic) => Management::Dynamic,
            None => etc.map_or(Management::Static, |e| e.management),
        };
        if engine == Engine::Presto && management == Management::Dynamic {
            return Err(usage(
                "--catalog-management dynamic: PrestoDB has no dynamic catalogs (facts §5)".into(),
            ));
        }
        let file_store = match args.catalog_store {
            Some(StoreArg::File) => true,
            Some(StoreArg::Memory) => false,
            None => etc.is_none_or(|e| e.file_store),
        };
        let catalog_dir = args
            .catalog_dir
            .clone()
            .or_else(|| etc.and_then(|e| e.catalog_dir.clone()));
        let read_only = args.catalog_read_only || etc.is_some_and(|e| e.read_only);
        let (store, load_dir) = match management {
            Management::Static => (Store::Memory, catalog_dir.clone()),
            Management::Dynamic if file_store => {
                let dir = catalog_dir
                    .clone()
                    .ok_or_else(|| usage("the dynamic file store needs --catalog-dir".into()))?;
                let read_only = read_only.then_some(args.read_only_mode);
                (
                    Store::File {
                        dir: dir.clone(),
                        read_only,
                    },
                    Some(dir),
                )
            }
            Management::Dynamic => (Store::Memory, None),
        };
        let listen_text = match (&args.listen, etc) {
            (Some(listen), _) => listen.clone(),
            (None, Some(etc)) => format!("0.0.0.0:{}", etc.port),
            (None, None) => "127.0.0.1:8080".to_string(),
        };
        let listen: SocketAddr = listen_text
            .parse()
            .map_err(|_| usage(format!("--listen {listen_text}: not an IP:PORT")))?;
        let passwords = match &args.password_file {
            Some(path) => Some(read_password_file(path).map_err(usage)?),
            None => None,
        };
        if let Some(names) = &args.connectors {
            let known = crate::connectors::known(engine);
            if let Some(unknown) = names.iter().find(|n| !known.contains(&n.as_str())) {
                return Err(usage(format!(
                    "--connectors: the emulator has no connector '{unknown}' (it has {})",
                    known.join(", ")
                )));
            }
        }
        let seed = args.seed.unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        });
        Ok(Settings {
            engine,
            node_version: args.node_version.clone().unwrap_or_else(|| {
                match engine {
                    Engine::Trino => "476",
                    Engine::Presto => "0.296-8661b73",
                }
                .to_string()
            }),
            environment: args
                .environment
                .clone()
                .or_else(|| etc.and_then(|e| e.environment.clone()))
                .unwrap_or_else(|| "test".to_string()),
            listen,
            management,
            store,
            load_dir,
            no_if_exists: args.no_if_exists,
            legacy_catalogs_table: args.legacy_catalogs_table,
            hidden_catalogs: args.hidden_catalogs.clone(),
            startup_delay: args.startup_delay,
            startup_hang: args.startup_hang,
            no_nodes_window: args.no_nodes_window,
            connectors: args.connectors.clone(),
            catalogs_table: args.catalogs_table,
            statement_latency: args.statement_latency,
            query_latency: args.query_latency,
            fail_rate_503: args.fail_rate_503,
            seed,
            record: args.record,
            tls: args.tls,
            tls_cert_out: args.tls_cert_out,
            passwords,
            bearer_tokens: args.bearer_tokens,
            shutdown_grace_period: args.shutdown_grace_period,
        })
    }
}

/// NOT IN FACTS (by design): the password file is emulator-specific, `user:password` per line;
/// Trino's own file authenticator uses bcrypt/PBKDF2 hashes.
fn read_password_file(path: &Path) -> Result<HashMap<String, String>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("--password-file {}: {e}", path.display()))?;
    Ok(text
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once(':'))
        .map(|(u, p)| (u.to_string(), p.to_string()))
        .collect())
}

/// What the etc dir says.
struct EtcConfig {
    port: u16,
    management: Management,
    file_store: bool,
    catalog_dir: Option<PathBuf>,
    read_only: bool,
    environment: Option<String>,
}

fn read_properties(path: &Path) -> Result<Option<HashMap<String, String>>, String> {
    match std::fs::read(path) {
        Ok(bytes) => {
            let entries =
                props::load(&bytes, true).map_err(|e| format!("{}: {e}", path.display()))?;
            Ok(Some(entries.into_iter().collect()))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

impl EtcConfig {
    fn read(engine: Engine, dir: &Path) -> Result<EtcConfig, String> {
        let mut config = read_properties(&dir.join("config.properties"))?.unwrap_or_default();
        // Newer Trino resolves secrets in config.properties (the image's ${ENV:CATALOG_MANAGEMENT}).
        if engine == Engine::Trino {
            for value in config.values_mut() {
                *value = resolve_secrets(value, &process_env)?;
            }
        }
        let node = read_properties(&dir.join("node.properties"))?.unwrap_or_default();
        let port = match config.get("http-server.http.port") {
            Some(port) => port
                .parse()
                .map_err(|_| format!("Invalid http-server.http.port: {port}"))?,
            None => 8080,
        };
        let management = match config
            .get("catalog.management")
            .map(|m| m.to_lowercase())
            .as_deref()
        {
            None | Some("static") => Management::Static,
            Some("dynamic") if engine == Engine::Trino => Management::Dynamic,
            Some(other) => {
                // NOT IN FACTS: the enum's Java type name in airlift's coercion error.
                return Err(configuration_errors(&[format!(
                    "Invalid value '{other}' for type CatalogMangementMode (property 'catalog.management')"
                )]));
            }
        };
        let file_store = match config
            .get("catalog.store")
            .map(|s| s.to_lowercase())
            .as_deref()
        {
            None | Some("file") => true,
            Some("memory") => false,
            // CatalogStoreManager (facts §1.1)
            Some(other) => return Err(format!("Catalog store {other} is not registered")),
        };
        let config_dir = config
            .get("catalog.config-dir")
            .or_else(|| config.get("plugin.config-dir"))
            .map(PathBuf::from);
        let (catalog_dir, read_only) = match management {
            Management::Static => (
                Some(config_dir.unwrap_or_else(|| dir.join("catalog"))),
                false,
            ),
            Management::Dynamic => {
                if config.contains_key("catalog.config-dir") {
                    // trinodb/charts #332, trinodb/trino #26443 (facts §1.1 "Important gotcha").
                    return Err(configuration_errors(&[
                        "Configuration property 'catalog.config-dir' was not used. Did you mean to use 'catalog.store'?".to_string(),
                    ]));
                }
                let store =
                    read_properties(&dir.join("catalog-store.properties"))?.unwrap_or_default();
                let catalog_dir = store
                    .get("catalog.config-dir")
                    .map(PathBuf::from)
                    .unwrap_or_else(|| dir.join("catalog"));
                let read_only = store
                    .get("catalog.read-only")
                    .is_some_and(|v| v.eq_ignore_ascii_case("true"));
                (Some(catalog_dir), read_only)
            }
        };
        Ok(EtcConfig {
            port,
            management,
            file_store,
            catalog_dir,
            read_only,
            environment: node.get("node.environment").cloned(),
        })
    }
}
