//! Flags and environment → a checked configuration. The names are a contract (the README's
//! "Command line"): every flag also reads `CATALOG_RELOADER_<FLAG>`, and names follow the Trino CLI.

use crate::catalog::Flavour;
use crate::engine::nodes::{
    DrainTimeoutAction, RestartMethod, RestartSettings, WorkerRestartMethod,
};
use crate::engine::{ClientConfig, ModeChoice};
use crate::reconcile::RestartOptions;
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

const AFTER_HELP: &str = "\
Every flag can also be set by an environment variable CATALOG_RELOADER_<FLAG> (upper case, '-' as '_'),
e.g. CATALOG_RELOADER_CATALOG_DIR=/catalogs. Log level: RUST_LOG (default info).

Examples:
  catalog-reloader validate --catalog-dir ./catalogs
  catalog-reloader plan --catalog-dir ./catalogs --server http://trino:8080
  catalog-reloader run --catalog-dir /catalogs --server http://localhost:8080 --state-dir /var/lib/catalog-reloader";

#[derive(Debug, Parser)]
#[command(
    name = "catalog-reloader",
    version,
    about = "Keeps a Trino or PrestoDB coordinator's catalogs in sync with a folder of NAME.properties files",
    after_help = AFTER_HELP
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,

    /// Log output format (level by RUST_LOG)
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text, env = "CATALOG_RELOADER_LOG_FORMAT")]
    pub log_format: LogFormat,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Watch the folder and keep the engine in sync (the sidecar)
    Run(RunArgs),
    /// One pass, then exit: 0 converged, 1 some catalog invalid/failed/conflict, 2 usage or connection error
    Sync(SyncArgs),
    /// Print what sync would do and change nothing (exit 0; 2 with --detailed-exitcode when changes are pending; 1 on error)
    Plan(PlanArgs),
    /// Check the folder offline, no engine needed (exit 0 all valid, 1 otherwise)
    Validate(ValidateArgs),
    /// Connection check of one catalog file: the engine creates it under a temporary name, its
    /// connector lists its schemas, and it is dropped (exit 0 it works, 1 it does not, 2 error)
    Check(CheckArgs),
    /// Ask a running agent's /healthz (or /readyz): exit 0 when it answers 200, 1 otherwise. For
    /// container health checks in images without a shell
    Health(HealthArgs),
    /// A worker's catalog folder on a cluster without a shared volume (a worker pod): render the
    /// local copy of the catalog files, but only at the definitions the leader (`run` with
    /// --cluster-key-file) has released
    Follow(FollowArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EngineChoice {
    Auto,
    Trino,
    Presto,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Args)]
pub struct FolderArgs {
    /// The watched folder of NAME.properties files
    #[arg(long, value_name = "DIR", env = "CATALOG_RELOADER_CATALOG_DIR")]
    pub catalog_dir: PathBuf,

    /// Engine flavour; auto asks the coordinator's /v1/info
    #[arg(long, value_enum, default_value_t = EngineChoice::Auto, env = "CATALOG_RELOADER_ENGINE")]
    pub engine: EngineChoice,
}

#[derive(Debug, Clone, Args)]
pub struct EngineArgs {
    /// Coordinator URL, without credentials (use --user and --password)
    #[arg(
        long,
        value_name = "URL",
        default_value = "http://localhost:8080",
        env = "CATALOG_RELOADER_SERVER"
    )]
    pub server: String,

    /// User sent as X-Trino-User / X-Presto-User
    #[arg(
        long,
        value_name = "NAME",
        default_value = "catalog-reloader",
        env = "CATALOG_RELOADER_USER"
    )]
    pub user: String,

    /// Read the password from the TRINO_PASSWORD environment variable (basic auth; needs HTTPS)
    #[arg(long, action = clap::ArgAction::SetTrue, value_parser = clap::builder::BoolishValueParser::new(), env = "CATALOG_RELOADER_PASSWORD")]
    pub password: bool,

    /// JWT bearer token (needs HTTPS)
    #[arg(
        long,
        value_name = "TOKEN",
        env = "CATALOG_RELOADER_ACCESS_TOKEN",
        hide_env_values = true
    )]
    pub access_token: Option<String>,

    /// PEM file of the CA that signed the coordinator's certificate (instead of the system roots)
    #[arg(long, value_name = "PEM", env = "CATALOG_RELOADER_CA_CERT")]
    pub ca_cert: Option<PathBuf>,

    /// Do not verify the coordinator's TLS certificate
    #[arg(long, action = clap::ArgAction::SetTrue, value_parser = clap::builder::BoolishValueParser::new(), env = "CATALOG_RELOADER_INSECURE")]
    pub insecure: bool,

    /// How changes are applied: CREATE/DROP CATALOG (dynamic) or a coordinator restart (restart)
    #[arg(long, value_enum, default_value_t = ModeChoice::Auto, env = "CATALOG_RELOADER_MODE")]
    pub mode: ModeChoice,

    /// Where the ledger (which catalogs this agent owns) is kept; in memory when unset
    #[arg(long, value_name = "DIR", env = "CATALOG_RELOADER_STATE_DIR")]
    pub state_dir: Option<PathBuf>,

    /// Take over a live catalog of the same name and connector that the agent did not create, without touching it
    #[arg(long, action = clap::ArgAction::SetTrue, value_parser = clap::builder::BoolishValueParser::new(), env = "CATALOG_RELOADER_ADOPT")]
    pub adopt: bool,

    /// Limit for one statement, all its result pages included
    #[arg(long, value_name = "DURATION", default_value = "2m", value_parser = parse_nonzero_duration, env = "CATALOG_RELOADER_STATEMENT_TIMEOUT")]
    pub statement_timeout: Duration,
}

#[derive(Debug, Clone, Args)]
pub struct RestartArgs {
    /// Restart mode: the coordinator's container (name or id), restarted through the Docker API (DOCKER_HOST)
    #[arg(long, value_name = "NAME", env = "CATALOG_RELOADER_CONTAINER")]
    pub container: Option<String>,

    /// Restart mode: how the coordinator is restarted
    #[arg(long, value_enum, default_value_t = RestartMethod::Auto, env = "CATALOG_RELOADER_RESTART_METHOD")]
    pub restart_method: RestartMethod,

    /// Restart mode, clusters: how workers are restarted
    #[arg(long, value_enum, default_value_t = WorkerRestartMethod::Auto, env = "CATALOG_RELOADER_WORKER_RESTART_METHOD")]
    pub worker_restart_method: WorkerRestartMethod,

    /// Restart mode, clusters: never restart a worker while fewer than this many other workers are active
    #[arg(
        long,
        value_name = "N",
        default_value_t = 1,
        env = "CATALOG_RELOADER_MIN_ACTIVE_WORKERS"
    )]
    pub min_active_workers: usize,

    /// Restart mode: the coordinator's catalog folder, where valid catalogs are rendered
    #[arg(long, value_name = "DIR", env = "CATALOG_RELOADER_TARGET_DIR")]
    pub target_dir: Option<PathBuf>,

    /// Restart mode: how long to wait for running queries to finish before restarting
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = parse_duration, env = "CATALOG_RELOADER_DRAIN_TIMEOUT")]
    pub drain_timeout: Duration,

    /// Restart mode: least time between two restarts
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_duration, env = "CATALOG_RELOADER_MIN_RESTART_INTERVAL")]
    pub min_restart_interval: Duration,

    /// Restart mode: at the drain timeout, restart anyway or wait for a quiet moment
    #[arg(long, value_enum, default_value_t = DrainTimeoutAction::Restart, env = "CATALOG_RELOADER_DRAIN_TIMEOUT_ACTION")]
    pub drain_timeout_action: DrainTimeoutAction,

    /// Restart mode, PrestoDB: stop the coordinator with PUT /v1/info/state SHUTTING_DOWN (it finishes running queries) before starting its container again
    #[arg(long, action = clap::ArgAction::SetTrue, value_parser = clap::builder::BoolishValueParser::new(), env = "CATALOG_RELOADER_GRACEFUL_SHUTDOWN")]
    pub graceful_shutdown: bool,

    /// Restart mode: how long the coordinator may take to start before the change is rolled back
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = parse_nonzero_duration, env = "CATALOG_RELOADER_START_TIMEOUT")]
    pub start_timeout: Duration,

    /// Restart mode: how long Docker waits for the coordinator to stop before killing it
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_duration, env = "CATALOG_RELOADER_STOP_TIMEOUT")]
    pub stop_timeout: Duration,

    /// Restart mode, clusters without a shared volume: lead `follow` agents. GET /v1/released
    /// publishes the target folder's catalogs keyed with this secret (a file), and a worker is
    /// restarted only once its follower holds them
    #[arg(long, value_name = "FILE", env = "CATALOG_RELOADER_CLUSTER_KEY_FILE")]
    pub cluster_key_file: Option<PathBuf>,

    /// Restart mode, clusters without a shared volume: the port of each worker's `follow` agent,
    /// asked at the worker's own address (needs --cluster-key-file)
    #[arg(long, value_name = "PORT", env = "CATALOG_RELOADER_FOLLOWER_PORT")]
    pub follower_port: Option<u16>,
}

impl RestartArgs {
    pub fn options(&self) -> RestartOptions {
        RestartOptions {
            target_dir: self.target_dir.clone(),
            coordinator: self.method().map(|method| RestartSettings {
                container: self.container.clone(),
                method,
                drain_timeout: self.drain_timeout,
                drain_timeout_action: self.drain_timeout_action,
                graceful_shutdown: self.graceful_shutdown,
                start_timeout: self.start_timeout,
                stop_timeout: self.stop_timeout,
            }),
            min_restart_interval: self.min_restart_interval,
            min_active_workers: self.min_active_workers,
            worker_method: self.worker_restart_method,
            follower_port: self.follower_port,
            cluster_key: None,
        }
    }

    /// The coordinator's restart method; `None` for the Docker API without a container (then only
    /// `sync` works, and `run` says what is missing).
    fn method(&self) -> Option<RestartMethod> {
        match (self.restart_method, &self.container) {
            (RestartMethod::Auto | RestartMethod::Docker, Some(_)) => Some(RestartMethod::Docker),
            (RestartMethod::Docker, None) => None,
            (RestartMethod::Auto | RestartMethod::EngineShutdown, None)
            | (RestartMethod::EngineShutdown, Some(_)) => Some(RestartMethod::EngineShutdown),
            (RestartMethod::Signal, _) => Some(RestartMethod::Signal),
        }
    }
}

#[derive(Debug, Clone, Args)]
pub struct WatchArgs {
    /// Quiet time after the last file event before a pass
    #[arg(long, value_name = "DURATION", default_value = "200ms", value_parser = parse_duration, env = "CATALOG_RELOADER_DEBOUNCE")]
    pub debounce: Duration,

    /// Full pass even without events
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_resync_interval, env = "CATALOG_RELOADER_RESYNC_INTERVAL")]
    pub resync_interval: Duration,

    /// Poll the folder instead of using inotify (bind mounts on macOS, NFS); default interval 1s
    #[arg(long, value_name = "DURATION", num_args = 0..=1, require_equals = true, default_missing_value = "1s", value_parser = parse_poll, env = "CATALOG_RELOADER_POLL")]
    pub poll: Option<Poll>,

    /// Address of /healthz, /readyz, /metrics and /status
    #[arg(
        long,
        value_name = "ADDR",
        default_value = "0.0.0.0:9480",
        env = "CATALOG_RELOADER_LISTEN"
    )]
    pub listen: SocketAddr,

    /// Most changes (create, replace, drop) applied to one catalog per minute; more wait
    #[arg(
        long,
        value_name = "N",
        default_value_t = 6,
        env = "CATALOG_RELOADER_MAX_CHANGES_PER_MINUTE"
    )]
    pub max_changes_per_minute: u32,
}

#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub folder: FolderArgs,
    #[command(flatten)]
    pub engine: EngineArgs,
    #[command(flatten)]
    pub watch: WatchArgs,
    #[command(flatten)]
    pub restart: RestartArgs,
    #[command(flatten)]
    pub api: ApiArgs,
}

#[derive(Debug, Clone, Args)]
pub struct ApiArgs {
    /// Serve the catalog API (/v1/catalogs) on --listen: changes are validated like files and
    /// written into the catalog folder
    #[arg(long, action = clap::ArgAction::SetTrue, value_parser = clap::builder::BoolishValueParser::new(), env = "CATALOG_RELOADER_API")]
    pub api: bool,

    /// Bearer tokens for the API, one a line: NAME rw|ro TOKEN (required unless --listen is a
    /// loopback address)
    #[arg(long, value_name = "FILE", env = "CATALOG_RELOADER_API_TOKEN_FILE")]
    pub api_token_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct SyncArgs {
    #[command(flatten)]
    pub folder: FolderArgs,
    #[command(flatten)]
    pub engine: EngineArgs,
    #[command(flatten)]
    pub restart: RestartArgs,
    /// Exit 0 even when some catalog is invalid, refused or in conflict (they are still reported):
    /// for an init step, where one bad file must not keep the coordinator from starting
    #[arg(long, action = clap::ArgAction::SetTrue, value_parser = clap::builder::BoolishValueParser::new(), env = "CATALOG_RELOADER_TOLERATE_INVALID")]
    pub tolerate_invalid: bool,
}

#[derive(Debug, Clone, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub folder: FolderArgs,
    #[command(flatten)]
    pub engine: EngineArgs,
    #[command(flatten)]
    pub restart: RestartArgs,
    /// Output format
    #[arg(long, value_enum, default_value_t = OutputFormat::Text, env = "CATALOG_RELOADER_OUTPUT")]
    pub output: OutputFormat,
    /// Exit 2 when changes are pending, 0 when none
    #[arg(long, action = clap::ArgAction::SetTrue, value_parser = clap::builder::BoolishValueParser::new(), env = "CATALOG_RELOADER_DETAILED_EXITCODE")]
    pub detailed_exitcode: bool,
}

#[derive(Debug, Clone, Args)]
pub struct ValidateArgs {
    #[command(flatten)]
    pub folder: FolderArgs,
    /// Output format
    #[arg(long, value_enum, default_value_t = OutputFormat::Text, env = "CATALOG_RELOADER_OUTPUT")]
    pub output: OutputFormat,
}

#[derive(Debug, Clone, Args)]
pub struct CheckArgs {
    /// The catalog file (NAME.properties)
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Engine flavour for reading the file; auto reads it as Trino would
    #[arg(long, value_enum, default_value_t = EngineChoice::Auto, env = "CATALOG_RELOADER_ENGINE")]
    pub engine: EngineChoice,
    #[command(flatten)]
    pub connection: EngineArgs,
    /// Check even a connector whose DROP does not release all resources (hive, iceberg, …)
    #[arg(long, action = clap::ArgAction::SetTrue, value_parser = clap::builder::BoolishValueParser::new(), env = "CATALOG_RELOADER_ALLOW_LEAK")]
    pub allow_leak: bool,
    /// Output format
    #[arg(long, value_enum, default_value_t = OutputFormat::Text, env = "CATALOG_RELOADER_OUTPUT")]
    pub output: OutputFormat,
}

#[derive(Debug, Clone, Args)]
pub struct FollowArgs {
    /// This node's copy of the catalog files (the ConfigMap volume)
    #[arg(long, value_name = "DIR", env = "CATALOG_RELOADER_CATALOG_DIR")]
    pub catalog_dir: PathBuf,

    /// This node's catalog folder, where released catalogs are written
    #[arg(long, value_name = "DIR", env = "CATALOG_RELOADER_TARGET_DIR")]
    pub target_dir: PathBuf,

    /// Where copies of the released definitions are kept, to put one back when the leader
    /// withdraws its successor (default: DIR/.catalog-reloader-released beside --target-dir)
    #[arg(long, value_name = "DIR", env = "CATALOG_RELOADER_STATE_DIR")]
    pub state_dir: Option<PathBuf>,

    /// Engine flavour, as the leader's (it decides how values are read)
    #[arg(long, value_enum, env = "CATALOG_RELOADER_ENGINE")]
    pub engine: FollowEngine,

    /// The leader's address (its --listen), e.g. http://presto-catalog-reloader:9480
    #[arg(long, value_name = "URL", env = "CATALOG_RELOADER_LEADER")]
    pub leader: String,

    /// The secret shared with the leader (a file)
    #[arg(long, value_name = "FILE", env = "CATALOG_RELOADER_CLUSTER_KEY_FILE")]
    pub cluster_key_file: PathBuf,

    /// Address of /v1/rendered, /healthz and /readyz (the leader asks the port at this node's address)
    #[arg(
        long,
        value_name = "ADDR",
        default_value = "0.0.0.0:9480",
        env = "CATALOG_RELOADER_LISTEN"
    )]
    pub listen: SocketAddr,

    /// How often the leader is asked
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = parse_nonzero_duration, env = "CATALOG_RELOADER_INTERVAL")]
    pub interval: Duration,

    /// An init step: exit 0 once the folder holds every released catalog, or at --timeout with
    /// what it holds when the leader answered (exit 1 when it never did)
    #[arg(long, action = clap::ArgAction::SetTrue, value_parser = clap::builder::BoolishValueParser::new(), env = "CATALOG_RELOADER_ONCE")]
    pub once: bool,

    /// With --once: how long to wait for the leader and for this node's copy of the files
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = parse_nonzero_duration, env = "CATALOG_RELOADER_TIMEOUT")]
    pub timeout: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FollowEngine {
    Trino,
    Presto,
}

#[derive(Debug, Clone, Args)]
pub struct HealthArgs {
    /// The agent's --listen address (0.0.0.0 and :: are asked on the loopback address)
    #[arg(
        long,
        value_name = "ADDR",
        default_value = "0.0.0.0:9480",
        env = "CATALOG_RELOADER_LISTEN"
    )]
    pub listen: SocketAddr,

    /// Ask /readyz instead of /healthz
    #[arg(long, action = clap::ArgAction::SetTrue, value_parser = clap::builder::BoolishValueParser::new(), env = "CATALOG_RELOADER_READY")]
    pub ready: bool,
}

/// `--poll` given: the interval; `CATALOG_RELOADER_POLL=false` turns it off again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Poll(pub Option<Duration>);

fn parse_poll(text: &str) -> Result<Poll, String> {
    match text.trim().to_ascii_lowercase().as_str() {
        "" | "false" | "off" | "no" => Ok(Poll(None)),
        "true" | "on" | "yes" => Ok(Poll(Some(Duration::from_secs(1)))),
        _ => {
            let d = parse_duration(text)?;
            if d.is_zero() {
                return Err("the poll interval must be above zero".into());
            }
            Ok(Poll(Some(d)))
        }
    }
}

/// `200ms`, `60s`, `5m`, `1h30m`; a bare `0` is zero.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    humantime::parse_duration(text)
        .map_err(|e| format!("'{text}' is not a duration like 200ms, 60s or 5m ({e})"))
}

/// [`parse_duration`] for waits that cannot be zero (a zero start timeout would roll back every
/// restart).
pub fn parse_nonzero_duration(text: &str) -> Result<Duration, String> {
    match parse_duration(text)? {
        Duration::ZERO => Err("must be longer than 0".into()),
        d => Ok(d),
    }
}

/// The resync interval: at least 100ms (every resync asks the engine for its catalogs).
pub fn parse_resync_interval(text: &str) -> Result<Duration, String> {
    match parse_duration(text)? {
        d if d < Duration::from_millis(100) => Err("must be at least 100ms".into()),
        d => Ok(d),
    }
}

impl FolderArgs {
    /// The normalisation to apply before the engine is known: Trino's unless told otherwise.
    pub fn flavour_hint(&self) -> Flavour {
        match self.engine {
            EngineChoice::Presto => Flavour::Presto,
            EngineChoice::Auto | EngineChoice::Trino => Flavour::Trino,
        }
    }

    pub fn forced_flavour(&self) -> Option<Flavour> {
        match self.engine {
            EngineChoice::Auto => None,
            EngineChoice::Trino => Some(Flavour::Trino),
            EngineChoice::Presto => Some(Flavour::Presto),
        }
    }
}

/// Why the flags give no way to authenticate.
#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    #[error("--password is set but the TRINO_PASSWORD environment variable is empty or unset")]
    NoPassword,
    #[error("use either --password or --access-token, not both")]
    Both,
}

impl EngineArgs {
    /// The client settings; reads `TRINO_PASSWORD` when `--password` is set.
    pub fn client_config(&self) -> Result<ClientConfig, CredentialsError> {
        let password = if self.password {
            match std::env::var("TRINO_PASSWORD") {
                Ok(p) if !p.is_empty() => Some(p),
                _ => return Err(CredentialsError::NoPassword),
            }
        } else {
            None
        };
        if password.is_some() && self.access_token.is_some() {
            return Err(CredentialsError::Both);
        }
        Ok(ClientConfig {
            server: self.server.clone(),
            user: self.user.clone(),
            password,
            access_token: self.access_token.clone().filter(|t| !t.is_empty()),
            ca_cert: self.ca_cert.clone(),
            insecure: self.insecure,
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(30),
            statement_timeout: self.statement_timeout,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn switches_take_boolish_environment_values() {
        // SAFETY: this test is the only one touching this variable.
        unsafe { std::env::set_var("CATALOG_RELOADER_ADOPT", "1") };
        let cli = Cli::try_parse_from(["catalog-reloader", "sync", "--catalog-dir", "/x"]).unwrap();
        unsafe { std::env::remove_var("CATALOG_RELOADER_ADOPT") };
        match cli.command {
            Command::Sync(s) => assert!(s.engine.adopt && !s.engine.insecure),
            _ => unreachable!(),
        }
        let cli = Cli::try_parse_from([
            "catalog-reloader",
            "sync",
            "--catalog-dir",
            "/x",
            "--insecure",
        ])
        .unwrap();
        match cli.command {
            Command::Sync(s) => assert!(s.engine.insecure),
            _ => unreachable!(),
        }
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        assert_eq!(parse_duration("200ms"), Ok(Duration::from_millis(200)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert!(parse_duration("5").is_err());
        let resync = |text: &str| {
            Cli::try_parse_from([
                "catalog-reloader",
                "run",
                "--catalog-dir",
                "/x",
                "--resync-interval",
                text,
            ])
            .map_err(|e| e.to_string())
        };
        let refused = resync("0").unwrap_err();
        assert!(refused.contains("must be at least 100ms"), "{refused}");
        assert!(resync("50ms").is_err());
        assert!(resync("300ms").is_ok());
    }

    #[test]
    fn poll_flag_forms() {
        let parse = |args: &[&str]| {
            let mut all = vec!["catalog-reloader", "run", "--catalog-dir", "/x"];
            all.extend_from_slice(args);
            match Cli::try_parse_from(all).unwrap().command {
                Command::Run(r) => r.watch.poll,
                _ => unreachable!(),
            }
        };
        assert_eq!(parse(&[]), None);
        assert_eq!(parse(&["--poll"]), Some(Poll(Some(Duration::from_secs(1)))));
        assert_eq!(
            parse(&["--poll=250ms"]),
            Some(Poll(Some(Duration::from_millis(250))))
        );
    }

    #[test]
    fn every_flag_names_its_environment_variable() {
        for sub in Cli::command().get_subcommands() {
            for arg in sub.get_arguments() {
                let Some(long) = arg.get_long() else { continue };
                if matches!(long, "help" | "version") {
                    continue;
                }
                let expected = format!(
                    "CATALOG_RELOADER_{}",
                    long.to_ascii_uppercase().replace('-', "_")
                );
                assert_eq!(
                    arg.get_env().and_then(|e| e.to_str()),
                    Some(expected.as_str()),
                    "--{long} of {}",
                    sub.get_name()
                );
            }
        }
    }
}
