//! The four subcommands, wired from their arguments. Exit codes are part of the contract
//! (the README's "Command line" section; `tests/cli.rs` holds them to it).

/// `println!` and friends without their panic: the agent's output may go to a pipe that is closed
/// (`catalog-reloader plan | head -1`), and that must never crash it.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}
macro_rules! say_raw {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stdout(), $($arg)*);
    }};
}
macro_rules! say_err {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

use crate::catalog::{self, Flavour, redact_value};
use crate::config::{
    CheckArgs, EngineArgs, EngineChoice, FolderArgs, FollowArgs, HealthArgs, OutputFormat,
    PlanArgs, RestartArgs, RunArgs, SyncArgs, ValidateArgs,
};
use crate::engine::Client;
use crate::files;
use crate::health::{Heartbeats, Readiness};
use crate::ledger;
use crate::metrics::Metrics;
use crate::metrics::PassErrorKind;
use crate::reconcile::{self, Agent, PassFailure, PassResult, Settings, Trigger};
use crate::report;
use crate::scan;
use crate::server::{self, ServerState};
use crate::status::SharedStatus;
use crate::watch::{self, Source, WatchConfig};
use std::process::ExitCode;
use std::sync::Arc;
use tokio::sync::{mpsc, watch as watch_channel};

/// Exit codes of `sync` (and of errors in `plan`/`run` before they start).
pub const EXIT_OK: u8 = 0;
pub const EXIT_DEGRADED: u8 = 1;
pub const EXIT_ERROR: u8 = 2;

fn shown_server(server: &str) -> String {
    redact_value("server", server)
}

/// What differs between the subcommands when they build an agent.
struct Wiring {
    max_changes_per_minute: u32,
    render_only: bool,
    status: SharedStatus,
    metrics: Arc<Metrics>,
    heartbeats: Arc<Heartbeats>,
}

impl Wiring {
    fn one_shot(render_only: bool) -> Self {
        Wiring {
            max_changes_per_minute: 0,
            render_only,
            status: SharedStatus::default(),
            metrics: Arc::new(Metrics::new()),
            heartbeats: Arc::new(Heartbeats::default()),
        }
    }
}

/// What keeps a subcommand from starting: reported, and the process exits (the runtime side —
/// what a pass meets — is [`reconcile::PassError`], reported and survived).
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Credentials(#[from] crate::config::CredentialsError),
    #[error(transparent)]
    Client(#[from] crate::engine::EngineError),
    #[error("cannot create --state-dir {}: {source}", .dir.display())]
    StateDir {
        dir: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Ledger(#[from] ledger::LedgerError),
    #[error(transparent)]
    ClusterKey(#[from] crate::release::KeyError),
    #[error(transparent)]
    Tokens(#[from] crate::api::TokenFileError),
    #[error(
        "--api on {0} answers other machines: give --api-token-file, or listen on a loopback address (127.0.0.1)"
    )]
    OpenApi(std::net::SocketAddr),
    /// Flags that do not go together.
    #[error("{0}")]
    Flags(&'static str),
}

fn build_agent(
    folder: &FolderArgs,
    engine: &EngineArgs,
    restart: &RestartArgs,
    wiring: Wiring,
) -> Result<Agent, StartError> {
    let client = Client::new(engine.client_config()?)?;
    let store = match &engine.state_dir {
        Some(dir) => {
            std::fs::create_dir_all(dir).map_err(|source| StartError::StateDir {
                dir: dir.clone(),
                source,
            })?;
            ledger::Store::in_dir(dir)
        }
        None => ledger::Store::in_memory(),
    };
    let mut restart_options = restart.options();
    if let Some(file) = &restart.cluster_key_file {
        if restart.target_dir.is_none() {
            return Err(StartError::Flags(
                "--cluster-key-file leads followers in restart mode: it needs --target-dir",
            ));
        }
        restart_options.cluster_key = Some(crate::release::ClusterKey::load(file)?);
    } else if restart.follower_port.is_some() {
        return Err(StartError::Flags(
            "--follower-port needs --cluster-key-file (the secret the followers share)",
        ));
    }
    let settings = Settings {
        catalog_dir: folder.catalog_dir.clone(),
        forced_flavour: folder.forced_flavour(),
        mode: engine.mode,
        adopt: engine.adopt,
        max_changes_per_minute: wiring.max_changes_per_minute,
        restart: restart_options,
        render_only: wiring.render_only,
    };
    Agent::new(
        settings,
        client,
        store,
        wiring.status,
        wiring.metrics,
        wiring.heartbeats,
    )
    .map_err(StartError::from)
}

pub fn validate(args: &ValidateArgs) -> ExitCode {
    let desired = match scan::scan(&args.folder.catalog_dir, args.folder.flavour_hint()) {
        Ok(d) => d,
        Err(e) => {
            say_err!("error: {e}");
            return ExitCode::from(EXIT_DEGRADED);
        }
    };
    match args.output {
        OutputFormat::Text => say_raw!("{}", report::validate_text(&desired)),
        OutputFormat::Json => say!("{}", report::validate_json(&desired)),
    }
    ExitCode::from(if desired.invalid.is_empty() {
        EXIT_OK
    } else {
        EXIT_DEGRADED
    })
}

pub async fn plan(args: &PlanArgs) -> ExitCode {
    let mut agent = match build_agent(
        &args.folder,
        &args.engine,
        &args.restart,
        Wiring::one_shot(true),
    ) {
        Ok(a) => a,
        Err(e) => {
            say_err!("error: {e}");
            return ExitCode::from(EXIT_ERROR);
        }
    };
    let prepared = match agent.prepare().await {
        Ok(p) => p,
        Err(e) => {
            say_err!("error: {e}");
            return ExitCode::from(1);
        }
    };
    let server = shown_server(&args.engine.server);
    match args.output {
        OutputFormat::Text => say_raw!("{}", report::plan_text(&prepared, &server)),
        OutputFormat::Json => say!("{}", report::plan_json(&prepared, &server)),
    }
    ExitCode::from(if args.detailed_exitcode && prepared.plan.has_changes() {
        2
    } else {
        0
    })
}

pub async fn sync(args: &SyncArgs) -> ExitCode {
    let wiring = Wiring::one_shot(true);
    let status = wiring.status.clone();
    let mut agent = match build_agent(&args.folder, &args.engine, &args.restart, wiring) {
        Ok(a) => a,
        Err(e) => {
            say_err!("error: {e}");
            return ExitCode::from(EXIT_ERROR);
        }
    };
    let mut report = agent.pass(Trigger::Startup).await;
    if let Some(e) = agent.save_ledger_now()
        && !matches!(report.result, PassResult::Error(_))
    {
        report.result = PassResult::Error(PassFailure::new(PassErrorKind::Ledger, e));
    }
    let status = status.lock().expect("status lock").clone();
    for (name, c) in &status.catalogs {
        if let Some(error) = &c.error {
            say_err!("{name}: {}: {error}", c.state.as_str());
        }
    }
    match report.result {
        PassResult::Converged | PassResult::Unchanged => ExitCode::from(EXIT_OK),
        PassResult::Degraded if args.tolerate_invalid => ExitCode::from(EXIT_OK),
        PassResult::Degraded => ExitCode::from(EXIT_DEGRADED),
        PassResult::Error(e) => {
            say_err!("error: {e}");
            ExitCode::from(EXIT_ERROR)
        }
    }
}

/// `check FILE`: the connection check of one catalog file on the engine.
pub async fn check(args: &CheckArgs) -> ExitCode {
    let file = args
        .file
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = match catalog::catalog_name(&file) {
        Ok(name) => name,
        Err(reason) => {
            say_err!("{file}: {reason}");
            return ExitCode::from(EXIT_DEGRADED);
        }
    };
    let bytes = match files::read_regular(&args.file, catalog::MAX_FILE_BYTES) {
        Ok(bytes) => bytes,
        Err(e) => {
            say_err!("{file}: cannot read: {e}");
            return ExitCode::from(EXIT_DEGRADED);
        }
    };
    let flavour = match args.engine {
        EngineChoice::Presto => Flavour::Presto,
        EngineChoice::Auto | EngineChoice::Trino => Flavour::Trino,
    };
    let spec = match catalog::parse_file(&file, &name, &bytes, flavour) {
        Ok(spec) => spec,
        Err(e) => {
            say_err!("{e}");
            return ExitCode::from(EXIT_DEGRADED);
        }
    };
    let client = match args
        .connection
        .client_config()
        .map_err(StartError::from)
        .and_then(|c| Client::new(c).map_err(StartError::from))
    {
        Ok(client) => client,
        Err(e) => {
            say_err!("error: {e}");
            return ExitCode::from(EXIT_ERROR);
        }
    };
    let result = match crate::check::check(&client, &spec, args.allow_leak).await {
        Ok(result) => result,
        Err(e) => {
            say_err!("{file}: {e}");
            return ExitCode::from(EXIT_ERROR);
        }
    };
    match args.output {
        OutputFormat::Json => say!(
            "{}",
            serde_json::json!({ "name": name, "file": file, "check": result })
        ),
        OutputFormat::Text if result.ok => say!(
            "{file}: ok: the engine created '{name}' ({} connector) and it listed {} schema(s)",
            spec.connector,
            result.schemas.unwrap_or(0)
        ),
        OutputFormat::Text => say!(
            "{file}: failed at {}: {}",
            if result.stage == "create" {
                "CREATE CATALOG"
            } else {
                "the probe (SHOW SCHEMAS)"
            },
            result.error.as_deref().unwrap_or("")
        ),
    }
    if let Some(cleanup) = &result.cleanup {
        say_err!("warning: {cleanup}");
    }
    ExitCode::from(if result.ok { EXIT_OK } else { EXIT_DEGRADED })
}

/// The catalog API's state when `--api` is given, or why it cannot be served.
fn api_state(
    args: &RunArgs,
    status: &SharedStatus,
) -> Result<Option<Arc<crate::api::ApiState>>, StartError> {
    if !args.api.api {
        if args.api.api_token_file.is_some() {
            return Err(StartError::Flags("--api-token-file is given without --api"));
        }
        return Ok(None);
    }
    let tokens = match &args.api.api_token_file {
        Some(path) => Some(crate::api::load_tokens(path)?),
        None if args.watch.listen.ip().is_loopback() => None,
        None => return Err(StartError::OpenApi(args.watch.listen)),
    };
    Ok(Some(Arc::new(crate::api::ApiState {
        folder: args.folder.catalog_dir.clone(),
        status: status.clone(),
        tokens,
        flavour_hint: args.folder.flavour_hint(),
        writers: tokio::sync::Mutex::new(()),
        client: Client::new(args.engine.client_config()?)?,
        lister: crate::engine::catalogs::CatalogLister::default(),
    })))
}

/// The sidecar: server, watcher and reconcile loop until SIGTERM/SIGINT.
pub async fn run(args: &RunArgs) -> ExitCode {
    let status = SharedStatus::default();
    let metrics = Arc::new(Metrics::new());
    let heartbeats = Arc::new(Heartbeats::default());
    let readiness = Arc::new(Readiness::default());
    let mut agent = match build_agent(
        &args.folder,
        &args.engine,
        &args.restart,
        Wiring {
            max_changes_per_minute: args.watch.max_changes_per_minute,
            render_only: false,
            status: status.clone(),
            metrics: metrics.clone(),
            heartbeats: heartbeats.clone(),
        },
    ) {
        Ok(a) => a,
        Err(e) => {
            say_err!("error: {e}");
            return ExitCode::from(EXIT_ERROR);
        }
    };

    let api = match api_state(args, &status) {
        Ok(api) => api,
        Err(e) => {
            say_err!("error: {e}");
            return ExitCode::from(EXIT_ERROR);
        }
    };
    let listener = match tokio::net::TcpListener::bind(args.watch.listen).await {
        Ok(l) => l,
        Err(e) => {
            say_err!("error: cannot listen on {}: {e}", args.watch.listen);
            return ExitCode::from(EXIT_ERROR);
        }
    };
    let local = listener
        .local_addr()
        .map_or_else(|_| args.watch.listen.to_string(), |a| a.to_string());

    let (shutdown_tx, shutdown_rx) = watch_channel::channel(false);
    let state = Arc::new(ServerState {
        status,
        metrics: metrics.clone(),
        heartbeats: heartbeats.clone(),
        readiness: readiness.clone(),
        // A loop is stuck when it has not stamped for three resyncs, and never sooner than one
        // statement may take (a pass stamps between statements).
        stale_after: (args.watch.resync_interval * 3)
            .max(args.engine.statement_timeout + std::time::Duration::from_secs(60)),
    });
    let mut router = server::router(state);
    if let Some(api) = api {
        router = router.merge(crate::api::router(api));
    }
    // build_agent checked that a key goes with a target folder.
    if let (Some(key), Some(target)) = (agent.cluster_key(), &args.restart.target_dir) {
        router = router.merge(crate::release::leader_router(target.clone(), key.clone()));
    }
    let server = tokio::spawn(server::serve(listener, router, shutdown_rx.clone()));

    let source = match args.watch.poll.and_then(|p| p.0) {
        Some(every) => Source::Poll(every),
        None => Source::Native,
    };
    tracing::info!(
        catalog_dir = %args.folder.catalog_dir.display(),
        server = %shown_server(&args.engine.server),
        listen = %local,
        watch = match source { Source::Native => "inotify".to_string(), Source::Poll(d) => format!("poll every {}", humantime::format_duration(d)) },
        state_dir = %args.engine.state_dir.as_ref().map_or_else(|| "(memory)".to_string(), |d| d.display().to_string()),
        "catalog-reloader started"
    );
    let (trigger_tx, trigger_rx) = mpsc::unbounded_channel();
    let dirty = watch::SharedDirty::default();
    agent.watch_changes(dirty.clone());
    let watcher = tokio::spawn(watch::run(
        WatchConfig {
            dir: args.folder.catalog_dir.clone(),
            source,
            debounce: args.watch.debounce,
            resync_interval: args.watch.resync_interval,
        },
        trigger_tx,
        shutdown_rx.clone(),
        heartbeats.clone(),
        metrics,
        dirty,
    ));

    let signals = tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("stopping");
        let _ = shutdown_tx.send(true);
    });

    let _agent = reconcile::run(agent, trigger_rx, shutdown_rx, readiness).await;
    signals.abort();
    let _ = watcher.await;
    let _ = server.await;
    tracing::info!("stopped");
    ExitCode::SUCCESS
}

/// `follow`: a worker's catalog folder kept at the leader's released definitions.
pub async fn follow(args: &FollowArgs) -> ExitCode {
    use crate::follow::{Follower, FollowerStatus};
    use crate::release::ClusterKey;
    let key = match ClusterKey::load(&args.cluster_key_file) {
        Ok(key) => key,
        Err(e) => {
            say_err!("error: {e}");
            return ExitCode::from(EXIT_ERROR);
        }
    };
    let store = args.state_dir.clone().map_or_else(
        || {
            let mut name = args
                .target_dir
                .file_name()
                .unwrap_or_default()
                .to_os_string();
            name.push(".catalog-reloader-released");
            args.target_dir.with_file_name(name)
        },
        |dir| dir.join("released"),
    );
    if let Err(e) = std::fs::create_dir_all(&args.target_dir) {
        say_err!(
            "error: cannot create --target-dir {}: {e}",
            args.target_dir.display()
        );
        return ExitCode::from(EXIT_ERROR);
    }
    let follower = Follower {
        source: args.catalog_dir.clone(),
        target: args.target_dir.clone(),
        store,
        flavour: match args.engine {
            crate::config::FollowEngine::Trino => Flavour::Trino,
            crate::config::FollowEngine::Presto => Flavour::Presto,
        },
        key,
    };
    let status = Arc::new(std::sync::Mutex::new(FollowerStatus::default()));
    let (shutdown_tx, shutdown_rx) = watch_channel::channel(false);
    let server = if args.once {
        None
    } else {
        let listener = match tokio::net::TcpListener::bind(args.listen).await {
            Ok(l) => l,
            Err(e) => {
                say_err!("error: cannot listen on {}: {e}", args.listen);
                return ExitCode::from(EXIT_ERROR);
            }
        };
        Some(tokio::spawn(server::serve(
            listener,
            crate::follow::follower_router(status.clone()),
            shutdown_rx.clone(),
        )))
    };
    tracing::info!(
        catalog_dir = %args.catalog_dir.display(),
        target_dir = %args.target_dir.display(),
        leader = %args.leader,
        once = args.once,
        "catalog-reloader follows the leader"
    );
    let deadline = args
        .once
        .then(|| tokio::time::Instant::now() + args.timeout);
    let run = crate::follow::run(
        follower,
        args.leader.clone(),
        args.interval,
        status.clone(),
        deadline,
        shutdown_rx,
    );
    let complete = tokio::select! {
        complete = run => complete,
        () = wait_for_signal() => false,
    };
    let _ = shutdown_tx.send(true);
    if let Some(server) = server {
        let _ = server.await;
    }
    if args.once {
        if complete {
            tracing::info!("the folder holds every released catalog");
            return ExitCode::SUCCESS;
        }
        let s = status.lock().expect("status lock");
        if let Some(error) = &s.leader_error {
            // Nothing is known to be released: the node must not start on a guess.
            tracing::error!(leader_error = %error, "the leader did not answer before the timeout");
            return ExitCode::from(EXIT_DEGRADED);
        }
        // The leader answered, this node's copy of the files lacks some released definition (a
        // ConfigMap that still shows a definition the leader withdrew, on a pod that never held
        // the released one): the node starts with the rest rather than not at all.
        tracing::warn!(
            waiting = ?s.announcement.waiting,
            "the folder does not hold every released catalog at the timeout; the node starts without them"
        );
        return ExitCode::SUCCESS;
    }
    ExitCode::SUCCESS
}

/// `health`: one GET of the agent's own probe, on the loopback address when it listens on all.
pub async fn health(args: &HealthArgs) -> ExitCode {
    let mut addr = args.listen;
    if addr.ip().is_unspecified() {
        addr.set_ip(match addr.ip() {
            std::net::IpAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            std::net::IpAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    let path = if args.ready { "/readyz" } else { "/healthz" };
    let _ = rustls::crypto::ring::default_provider().install_default();
    let answer = match reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(3))
        .build()
    {
        Ok(client) => client.get(format!("http://{addr}{path}")).send().await,
        Err(e) => {
            say_err!("error: {e}");
            return ExitCode::from(EXIT_DEGRADED);
        }
    };
    match answer {
        Ok(resp) if resp.status().is_success() => ExitCode::SUCCESS,
        Ok(resp) => {
            let code = resp.status();
            say_err!(
                "{path}: {code} {}",
                resp.text().await.unwrap_or_default().trim()
            );
            ExitCode::from(EXIT_DEGRADED)
        }
        Err(e) => {
            say_err!("{path}: no answer from {addr}: {e}");
            ExitCode::from(EXIT_DEGRADED)
        }
    }
}

async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    let mut int = signal(SignalKind::interrupt()).expect("SIGINT handler");
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}
