//! The command line. Every flag that chooses between behaviours the facts leave open says which
//! facts section it comes from; `--help` lists them all.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, ValueEnum};

use crate::catalogs::ReadOnlyMode;
use crate::clock::parse_duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EngineArg {
    Trino,
    Presto,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ManagementArg {
    Static,
    Dynamic,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StoreArg {
    Memory,
    File,
}

fn duration(text: &str) -> Result<Duration, String> {
    parse_duration(text)
}

fn probability(text: &str) -> Result<f64, String> {
    let p: f64 = text
        .parse()
        .map_err(|_| format!("'{text}' is not a number"))?;
    if (0.0..=1.0).contains(&p) {
        Ok(p)
    } else {
        Err(format!("{p} is not a probability between 0 and 1"))
    }
}

/// A Trino / PrestoDB coordinator emulator for catalog-reloader's tests.
///
/// Follows shared/reference/trino-presto-facts.md; behaviours the facts leave open are flags.
/// The first line on stdout is `listening on http(s)://IP:PORT`.
#[derive(Debug, Parser)]
#[command(name = "coordinator-emulator", version, max_term_width = 100)]
pub struct Args {
    /// Address to listen on; port 0 picks a free port. Default 127.0.0.1:8080, or
    /// 0.0.0.0:<http-server.http.port> with --etc-dir.
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,

    /// Which coordinator to be.
    #[arg(long, value_enum, default_value_t = EngineArg::Trino)]
    pub engine: EngineArg,

    /// `nodeVersion.version` in /v1/info (default "476" for trino, "0.296-8661b73" for presto:
    /// the recorded releases).
    #[arg(long, value_name = "STR")]
    pub node_version: Option<String>,

    /// `environment` in /v1/info (node.environment).
    #[arg(long, value_name = "NAME")]
    pub environment: Option<String>,

    /// catalog.management (facts §1.1); presto accepts only static.
    #[arg(long, value_enum)]
    pub catalog_management: Option<ManagementArg>,

    /// catalog.store for dynamic management (facts §1.1); memory ignores catalog files.
    #[arg(long, value_enum)]
    pub catalog_store: Option<StoreArg>,

    /// catalog.config-dir: where catalogs are loaded from (static, dynamic+file) and written to
    /// (dynamic+file).
    #[arg(long, value_name = "DIR")]
    pub catalog_dir: Option<PathBuf>,

    /// catalog.read-only=true for the file store (facts §1.1).
    #[arg(long)]
    pub catalog_read_only: bool,

    /// Which of the two documented read-only behaviours to show (facts §1.1): `code` = CREATE and
    /// DROP fail with "Catalog store is read only"; `docs` = CREATE works without writing a file,
    /// DROP of a catalog loaded from a file fails.
    #[arg(long, value_enum, default_value_t = ReadOnlyMode::Code)]
    pub read_only_mode: ReadOnlyMode,

    /// Grammar without IF [NOT] EXISTS in CREATE/DROP CATALOG, as early Trino (facts §1.2).
    #[arg(long)]
    pub no_if_exists: bool,

    /// system.metadata.catalogs without `connector_name`, as older versions (facts §2.2).
    #[arg(long)]
    pub legacy_catalogs_table: bool,

    /// Catalogs that access control hides from every user's listings (SHOW CATALOGS and
    /// system.metadata.catalogs are filtered, facts §2.1); they exist all the same. Repeatable.
    /// NOT IN FACTS: a stand-in for a real access-control rule.
    #[arg(long = "hidden-catalog", value_name = "NAME")]
    pub hidden_catalogs: Vec<String>,

    /// How long the server starts: `/v1/info` says `"starting":true` (PrestoDB's
    /// `/v1/info/state` `"INACTIVE"`), statements are accepted (QUEUED) and fail on their first
    /// GET with SERVER_STARTING_UP, as recorded on Trino 476 and PrestoDB 0.296. A catalog file
    /// that stops the start is reported (and the process exits) when this ends, as the real
    /// engines load catalogs with HTTP already up.
    #[arg(long, value_name = "DURATION", value_parser = duration, default_value = "0")]
    pub startup_delay: Duration,

    /// For this long after the process starts, connections are accepted but not answered until
    /// it has passed (PrestoDB 0.296: Jetty listens seconds before the server answers).
    #[arg(long, value_name = "DURATION", value_parser = duration, default_value = "0")]
    pub startup_hang: Duration,

    /// For this long after the start-up ends, a query that reads a connector's table fails with
    /// NO_NODES_AVAILABLE (recorded on PrestoDB 0.296 for 1.5–3 s; seen on Trino 476 too).
    #[arg(long, value_name = "DURATION", value_parser = duration, default_value = "0")]
    pub no_nodes_window: Duration,

    /// The connectors whose plugins are installed, comma-separated (default: every connector the
    /// emulator knows). The real engines here have `memory,tpch` (Trino 476) and `tpch`
    /// (PrestoDB 0.296).
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    pub connectors: Option<Vec<String>>,

    /// Which release's `system.metadata.catalogs`: 476 (recorded: failed catalogs listed), 477
    /// (failed catalogs left out: release notes 477, trinodb/trino#26493), 478 (listed again,
    /// with a `state` column: trinodb/trino#26918).
    #[arg(long, value_enum, default_value = "476")]
    pub catalogs_table: crate::engine::CatalogsTable,

    /// Delay between dispatching a statement and running it.
    #[arg(long, value_name = "DURATION", value_parser = duration, default_value = "0")]
    pub statement_latency: Duration,

    /// How long `SELECT … FROM catalog.schema.table` stays RUNNING before its rows.
    #[arg(long, value_name = "DURATION", value_parser = duration, default_value = "0")]
    pub query_latency: Duration,

    /// FAULT INJECTION, not a behaviour of any release: probability that a GET of a nextUri
    /// answers 503 (what a proxy in front of Trino may do; the client must retry, facts §3).
    #[arg(long = "fail-rate-503", value_name = "P", value_parser = probability, default_value = "0")]
    pub fail_rate_503: f64,

    /// Seed for every random choice (503s, file key order, ids).
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,

    /// Append one JSON line per statement to FILE when it ends (or is refused).
    #[arg(long, value_name = "FILE")]
    pub record: Option<PathBuf>,

    /// Serve HTTPS with a self-signed certificate generated at start.
    #[arg(long)]
    pub tls: bool,

    /// Write the PEM of the generated certificate here (for a client's CA bundle).
    #[arg(long, value_name = "PATH", requires = "tls")]
    pub tls_cert_out: Option<PathBuf>,

    /// Password authentication: lines `user:password` (an emulator-specific format). Checked over
    /// HTTPS; over plain HTTP every authenticated request gets 403, as Trino does (facts §3.1).
    #[arg(long, value_name = "FILE")]
    pub password_file: Option<PathBuf>,

    /// Accept `Authorization: Bearer TOKEN` over HTTPS (repeatable).
    #[arg(long = "bearer-token", value_name = "TOKEN")]
    pub bearer_tokens: Vec<String>,

    /// shutdown.grace-period for PUT /v1/info/state "SHUTTING_DOWN" (presto; facts §4).
    #[arg(long, value_name = "DURATION", value_parser = duration, default_value = "2m")]
    pub shutdown_grace_period: Duration,

    /// Container mode: read the engine's own etc dir (config.properties, node.properties,
    /// catalog-store.properties) like the real image; flags override it.
    #[arg(long, value_name = "DIR")]
    pub etc_dir: Option<PathBuf>,
}
