//! coordinator-emulator: a Trino / PrestoDB coordinator stand-in for catalog-reloader's tests.
//! See tests/emulator/README.md for the flags and which facts section each behaviour comes from.

mod catalogs;
mod cli;
mod clock;
mod connectors;
mod engine;
mod error_codes;
mod healthcheck;
mod props;
mod queries;
mod record;
mod rng;
mod server;
mod settings;
mod sql;
mod tls;

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;

/// How long a failed PrestoDB start answers 500 before the process ends.
const DYING_WINDOW: std::time::Duration = std::time::Duration::from_millis(500);

/// Which coordinator the emulator is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Trino,
    Presto,
}

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().collect();
    let called_as = argv
        .first()
        .and_then(|a| Path::new(a).file_name())
        .map(|n| n.to_string_lossy().into_owned());
    if called_as.as_deref() == Some("health-check")
        || argv.get(1).map(String::as_str) == Some("health-check")
    {
        let config = argv.iter().skip(1).find(|a| *a != "health-check").cloned();
        return healthcheck::run(Path::new(
            config.as_deref().unwrap_or("/etc/trino/config.properties"),
        ));
    }
    let args = cli::Args::parse();
    let settings = match settings::Settings::from_args(args) {
        Ok(settings) => settings,
        Err(error) => return fail(&error.message, error.exit_code),
    };
    let mut catalogs =
        catalogs::CatalogManager::new(settings.engine, settings.management, settings.store.clone());
    catalogs.hide(&settings.hidden_catalogs);
    if let Some(names) = &settings.connectors {
        catalogs.restrict_connectors(names);
    }
    // A catalog that stops the start: Trino Server.java logs it and exits 100, PrestoServer exits
    // 1. The line is airlift's `TIME<TAB>LEVEL<TAB>THREAD<TAB>LOGGER<TAB>MESSAGE`, as Trino 476
    // and PrestoDB 0.296 wrote it (recorded/*.json, `exit`).
    let mut failed_start = None;
    match catalogs.load_initial(settings.load_dir.as_deref()) {
        Ok(warnings) => warnings.iter().for_each(|w| eprintln!("{w}")),
        Err(error) => {
            let (logger, code) = match settings.engine {
                Engine::Trino => ("io.trino.server.Server", 100),
                Engine::Presto => ("com.facebook.presto.server.PrestoServer", 1),
            };
            if settings.startup_delay.is_zero() {
                let time = clock::rfc3339(std::time::SystemTime::now());
                return fail(&format!("{time}\tERROR\tmain\t{logger}\t{error}"), code);
            }
            // Both engines load catalogs with HTTP already up: `starting:true` until the start
            // fails (recorded: `[no answer, starting:true, no answer]`).
            failed_start = Some((logger, error.to_string(), code));
        }
    }
    let recorder = match &settings.record {
        Some(path) => match record::Recorder::open(path) {
            Ok(recorder) => Some(recorder),
            Err(error) => return fail(&format!("--record {}: {error}", path.display()), 2),
        },
        None => None,
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => return fail(&format!("cannot start the runtime: {error}"), 2),
    };
    let emulator = Arc::new(server::Emulator::new(settings, catalogs, recorder));
    if let Some((logger, error, code)) = failed_start {
        emulator.doom();
        let delay = emulator.settings.startup_delay;
        let dying = Arc::clone(&emulator);
        std::thread::spawn(move || {
            std::thread::sleep(delay);
            let time = clock::rfc3339(std::time::SystemTime::now());
            eprintln!("{time}\tERROR\tmain\t{logger}\t{error}");
            if dying.settings.engine == Engine::Presto {
                // PrestoDB tears its failed start down with HTTP still up: a statement's POST
                // answers 500 for a moment (long enough here for a 100 ms probe to meet it).
                dying.die();
                std::thread::sleep(DYING_WINDOW);
            }
            std::process::exit(code);
        });
    }
    match runtime.block_on(serve(emulator)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => fail(&format!("coordinator-emulator: {error}"), 2),
    }
}

fn fail(message: &str, code: i32) -> ExitCode {
    eprintln!("{message}");
    ExitCode::from(code as u8)
}

async fn serve(emulator: Arc<server::Emulator>) -> std::io::Result<()> {
    use hyper_util::rt::TokioIo;
    use hyper_util::service::TowerToHyperService;
    use tokio::signal::unix::{SignalKind, signal};

    // PID 1 in a container gets SIGTERM; a terminal gets SIGINT: both end the process at once.
    // Installed before the listening line, so a signal right after it is never missed.
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    let listener = tokio::net::TcpListener::bind(emulator.settings.listen).await?;
    let address = listener.local_addr()?;
    let acceptor = if emulator.settings.tls {
        Some(tls::acceptor(
            address.ip(),
            emulator.settings.tls_cert_out.as_deref(),
        )?)
    } else {
        None
    };
    let scheme = if acceptor.is_some() { "https" } else { "http" };
    {
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "listening on {scheme}://{address}")?;
        stdout.flush()?;
    }
    let app = server::router(Arc::clone(&emulator));
    // `--startup-hang`: connections are accepted and answered only once it has passed.
    let answer_from = tokio::time::Instant::now() + emulator.settings.startup_hang;
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(_) => continue,
            },
            _ = terminate.recv() => return Ok(()),
            _ = interrupt.recv() => return Ok(()),
        };
        let service = TowerToHyperService::new(app.clone());
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            tokio::time::sleep_until(answer_from).await;
            let http = hyper::server::conn::http1::Builder::new();
            match acceptor {
                Some(acceptor) => {
                    if let Ok(stream) = acceptor.accept(stream).await {
                        let _ = http.serve_connection(TokioIo::new(stream), service).await;
                    }
                }
                None => {
                    let _ = http.serve_connection(TokioIo::new(stream), service).await;
                }
            }
        });
    }
}
