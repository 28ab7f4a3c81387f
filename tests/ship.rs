//! What users get: the agent image, the Trino and PrestoDB compose sandboxes, the sandbox script
//! and the example catalogs, run for real on the local Docker engine. The compose files are used
//! as they are, with only the engine image swapped for the coordinator emulator's (TRINO_IMAGE,
//! PRESTO_IMAGE) and the host-side names made unique so tests run side by side.

mod common;

use common::{Folder, wait_for};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};
use test_support::docker::{
    Container, Flavour, docker_ok, docker_output, emulator_image, require_docker, unique_name,
};
use test_support::emulator::{Emulator, run_query};

const MUSL_TARGET: &str = "x86_64-unknown-linux-musl";
/// Issue 6: the image stays under 15 MB.
const MAX_IMAGE_BYTES: u64 = 15_000_000;
/// Starting containers, a restart of the coordinator (the emulator's take well under a second).
const SLOW: Duration = Duration::from_secs(90);
/// PrestoDB changes wait for the agent's --min-restart-interval (30 s, kept as the sandbox has it).
const RESTARTS: Duration = Duration::from_secs(150);
const EXAMPLES: &[&str] = &["iceberg", "memory", "mysql", "postgresql", "tpch"];
/// The variables the examples' `${ENV:…}` references name; the coordinator must have them.
const EXAMPLE_SECRETS: &[&str] = &[
    "POSTGRES_USER",
    "POSTGRES_PASSWORD",
    "MYSQL_USER",
    "MYSQL_PASSWORD",
    "S3_ACCESS_KEY",
    "S3_SECRET_KEY",
];

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn example(name: &str) -> String {
    std::fs::read_to_string(
        repo()
            .join("examples/catalogs")
            .join(format!("{name}.properties")),
    )
    .unwrap_or_else(|e| panic!("examples/catalogs/{name}.properties: {e}"))
}

fn newest_change(path: &Path) -> SystemTime {
    let own = path
        .metadata()
        .and_then(|m| m.modified())
        .unwrap_or(SystemTime::UNIX_EPOCH);
    match std::fs::read_dir(path) {
        Ok(entries) => entries
            .flatten()
            .map(|e| newest_change(&e.path()))
            .fold(own, SystemTime::max),
        Err(_) => own,
    }
}

/// The static agent binary the image carries (scripts/test.sh builds it before the tests);
/// rebuilt when missing or older than the agent's sources, so the image never tests yesterday's
/// agent.
fn static_agent_binary() -> PathBuf {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY
        .get_or_init(|| {
            let target = test_support::target_dir();
            let binary = target.join(MUSL_TARGET).join("image/catalog-reloader");
            let built = binary
                .metadata()
                .and_then(|m| m.modified())
                .unwrap_or(SystemTime::UNIX_EPOCH);
            let sources = [
                repo().join("src"),
                repo().join("Cargo.toml"),
                repo().join("Cargo.lock"),
            ];
            if sources.iter().any(|s| newest_change(s) > built) {
                let status = Command::new(env!("CARGO"))
                    .args(["build", "--profile", "image", "--target", MUSL_TARGET])
                    .args(["-p", "catalog-reloader", "--target-dir"])
                    .arg(&target)
                    .current_dir(repo())
                    .status()
                    .expect("run cargo build for the static agent");
                assert!(
                    status.success(),
                    "building the static agent failed (needs `rustup target add {MUSL_TARGET}` and musl-tools; scripts/test.sh installs both)"
                );
            }
            binary
        })
        .clone()
}

fn run(command: &mut Command) -> Output {
    command
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("run {command:?}: {e}"))
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Builds the image the way the README and scripts/sandbox.sh document for a host-built binary:
/// docker/stage-prebuilt.sh, then `docker build -f docker/Dockerfile --target prebuilt`.
fn build_agent_image(tag: &str, ca_bundle: Option<&Path>) {
    let context = tempfile::tempdir().expect("build context");
    let mut stage = Command::new(repo().join("docker/stage-prebuilt.sh"));
    stage.arg(context.path()).arg(static_agent_binary());
    if let Some(bundle) = ca_bundle {
        stage.env("CA_BUNDLE", bundle);
    }
    let staged = run(&mut stage);
    assert!(staged.status.success(), "{}", text(&staged));
    let dockerfile = repo().join("docker/Dockerfile");
    docker_ok(&[
        "build",
        "-q",
        "-f",
        &dockerfile.to_string_lossy(),
        "--target",
        "prebuilt",
        "-t",
        tag,
        &context.path().to_string_lossy(),
    ]);
}

/// The agent image of this build, built once per test process (tests that need an image of
/// their own use [`Image`]).
fn agent_image() -> &'static str {
    static TAG: OnceLock<String> = OnceLock::new();
    TAG.get_or_init(|| {
        let tag = "catalog-reloader-test/agent:latest";
        build_agent_image(tag, None);
        tag.to_string()
    })
}

/// An image tag made for one test, removed when dropped.
struct Image(String);

impl Drop for Image {
    fn drop(&mut self) {
        let _ = docker_output(&["rmi", "-f", &self.0]);
    }
}

/// A Docker network or volume made for one test, removed when dropped.
struct Resource {
    kind: &'static str,
    name: String,
}

impl Resource {
    fn create(kind: &'static str) -> Resource {
        let name = unique_name("catalog-reloader-ship");
        docker_ok(&[kind, "create", &name]);
        Resource { kind, name }
    }
}

impl Drop for Resource {
    fn drop(&mut self) {
        let _ = docker_output(&[self.kind, "rm", "-f", &self.name]);
    }
}

/// `docker compose` when the plugin is installed, else `docker-compose` (v1.29 on CI).
fn compose_program() -> &'static [&'static str] {
    static PROGRAM: OnceLock<&'static [&'static str]> = OnceLock::new();
    PROGRAM.get_or_init(|| {
        let plugin = Command::new("docker")
            .args(["compose", "version"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if plugin {
            &["docker", "compose"]
        } else {
            &["docker-compose"]
        }
    })
}

/// One compose sandbox (the repository's compose file), under a unique project name, with the
/// watched folder in a temp dir. `down -v` when dropped.
struct Sandbox {
    file: PathBuf,
    project: String,
    env: Vec<(String, String)>,
    folder: Folder,
    flavour: Flavour,
}

impl Sandbox {
    fn new(flavour: Flavour, extra_env: &[(&str, &str)]) -> Sandbox {
        let (dir, image_var) = match flavour {
            Flavour::Trino => ("trino", "TRINO_IMAGE"),
            Flavour::Presto => ("presto", "PRESTO_IMAGE"),
        };
        let folder = Folder::new();
        let project = unique_name("crship").replace('-', "");
        let mut env: Vec<(String, String)> = vec![
            (image_var.into(), emulator_image(flavour)),
            ("CATALOG_RELOADER_IMAGE".into(), agent_image().into()),
            ("CATALOGS_DIR".into(), folder.path().display().to_string()),
            ("TRINO_HOST_PORT".into(), "0".into()),
            ("PRESTO_HOST_PORT".into(), "0".into()),
            ("CATALOG_RELOADER_HOST_PORT".into(), "0".into()),
        ];
        env.extend(
            extra_env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string())),
        );
        Sandbox {
            file: repo().join("compose").join(dir).join("compose.yaml"),
            project,
            env,
            folder,
            flavour,
        }
    }

    fn compose(&self, args: &[&str]) -> Output {
        let program = compose_program();
        let mut command = Command::new(program[0]);
        command
            .args(&program[1..])
            .arg("-p")
            .arg(&self.project)
            .arg("-f")
            .arg(&self.file)
            .args(args)
            .envs(self.env.iter().map(|(k, v)| (k, v)));
        // The test's own environment must not leak into the compose file's variables.
        for key in [
            "TRINO_IMAGE",
            "PRESTO_IMAGE",
            "PRESTO_CONTAINER_NAME",
            "DOCKER_SOCKET",
        ] {
            if !self.env.iter().any(|(k, _)| k == key) {
                command.env_remove(key);
            }
        }
        run(&mut command)
    }

    fn compose_ok(&self, args: &[&str]) -> String {
        let output = self.compose(args);
        assert!(
            output.status.success(),
            "compose {args:?} failed: {}\nlogs:\n{}",
            text(&output),
            self.logs()
        );
        String::from_utf8_lossy(&output.stdout).trim().to_string()
    }

    fn up(&self) {
        self.compose_ok(&["up", "-d", "--no-build"]);
    }

    fn logs(&self) -> String {
        text(&self.compose(&["logs", "--no-color", "--tail", "40"]))
    }

    /// The host address (127.0.0.1:PORT) compose published for a service's port; None while
    /// the container is stopped (a restart), which also gives it a new ephemeral port.
    fn published(&self, service: &str, port: u16) -> Option<String> {
        let output = self.compose(&["port", service, &port.to_string()]);
        let out = String::from_utf8_lossy(&output.stdout).into_owned();
        let address = out.lines().last()?.trim().to_string();
        if address.is_empty() || address.ends_with(":0") {
            return None;
        }
        assert!(
            address.starts_with("127.0.0.1:"),
            "{service}:{port} must be published on loopback only, got {address:?}"
        );
        Some(address)
    }

    fn engine_url(&self) -> Option<String> {
        let service = match self.flavour {
            Flavour::Trino => "trino",
            Flavour::Presto => "presto",
        };
        Some(format!("http://{}", self.published(service, 8080)?))
    }

    fn running_engine_url(&self) -> String {
        self.engine_url()
            .unwrap_or_else(|| panic!("the coordinator is not running\nlogs:\n{}", self.logs()))
    }

    fn agent_url(&self) -> String {
        let address = self.published("catalog-reloader", 9480);
        format!("http://{}", address.expect("the agent is running"))
    }

    /// What the coordinator lists (`system` excluded), through its published port; None while it
    /// does not answer (a restart).
    fn catalogs(&self) -> Option<Vec<String>> {
        show_catalogs(&self.engine_url()?, self.flavour)
    }

    /// The connector of a live catalog, from `system.metadata.catalogs`.
    fn connector_of(&self, catalog: &str) -> Option<String> {
        connector_of(&self.engine_url()?, self.flavour, catalog)
    }

    fn wait_catalogs(&self, want: &[&str], timeout: Duration) {
        let seen = std::cell::RefCell::new(None);
        let waited = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            wait_for(
                timeout,
                &format!("the coordinator to list {want:?}"),
                || {
                    // Asked again at every poll: a restarted container gets another ephemeral port.
                    let now = self.catalogs();
                    let done = now.as_ref().is_some_and(|n| n == want);
                    *seen.borrow_mut() = now;
                    done.then_some(())
                },
            )
        }));
        if waited.is_err() {
            panic!(
                "the coordinator never listed {want:?}; last seen {:?}\nlogs:\n{}",
                seen.borrow(),
                self.logs()
            );
        }
    }

    fn agent_status(&self) -> serde_json::Value {
        common::http()
            .get(format!("{}/status", self.agent_url()))
            .send()
            .and_then(|r| r.json())
            .expect("the agent's /status answers JSON")
    }

    fn label_filter(&self) -> String {
        format!("label=com.docker.compose.project={}", self.project)
    }

    /// Containers, volumes and networks compose made for this project.
    fn leftovers(&self) -> Vec<String> {
        let filter = self.label_filter();
        let mut left = Vec::new();
        for kind in [
            &["ps", "-a", "--format", "{{.Names}}"][..],
            &["volume", "ls", "--format", "{{.Name}}"][..],
            &["network", "ls", "--format", "{{.Name}}"][..],
        ] {
            let mut args = kind.to_vec();
            args.extend(["--filter", filter.as_str()]);
            left.extend(docker_ok(&args).lines().map(str::to_string));
        }
        left
    }

    fn down(&self) {
        self.compose_ok(&["down", "-v", "--remove-orphans"]);
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = self.compose(&["down", "-v", "--remove-orphans", "-t", "2"]);
    }
}

fn show_catalogs(url: &str, flavour: Flavour) -> Option<Vec<String>> {
    run_query(url, flavour, "test", "SHOW CATALOGS")
        .ok()
        .map(|o| {
            o.rows
                .iter()
                .filter_map(|r| r[0].as_str().map(str::to_string))
                .filter(|n| n != "system")
                .collect()
        })
}

fn connector_of(url: &str, flavour: Flavour, catalog: &str) -> Option<String> {
    let out = run_query(
        url,
        flavour,
        "test",
        "SELECT catalog_name, connector_name FROM system.metadata.catalogs",
    )
    .ok()?;
    out.rows
        .iter()
        .find(|r| r[0] == catalog)
        .and_then(|r| r[1].as_str().map(str::to_string))
}

#[test]
fn example_catalogs_are_valid_and_a_coordinator_with_their_secrets_accepts_them() {
    let examples = repo().join("examples/catalogs");
    let checked = common::validate(&examples).output();
    assert_eq!(checked.code(), 0, "{}{}", checked.stdout, checked.stderr);
    assert!(
        checked.stdout.contains("5 valid, 0 invalid, 0 warning(s)"),
        "{}",
        checked.stdout
    );
    for name in EXAMPLES {
        assert!(example(name).contains("connector.name="), "{name}");
    }
    // Credentials are references, never literals.
    for name in ["postgresql", "mysql", "iceberg"] {
        let file = example(name);
        for line in file
            .lines()
            .filter(|l| !l.starts_with('#') && (l.contains("password") || l.contains("secret")))
        {
            assert!(line.contains("${ENV:"), "{name}: {line}");
        }
    }

    // A coordinator with the variables set takes all five.
    let mut engine = Emulator::trino().dynamic().memory_store();
    for key in EXAMPLE_SECRETS {
        engine = engine.env(*key, "from-the-coordinator");
    }
    let engine = engine.start();
    let synced = common::agent("sync", &examples, &engine.url()).output();
    assert_eq!(synced.code(), 0, "{}", synced.stderr);
    let mut listed = engine.show_catalogs();
    listed.retain(|c| c != "system");
    assert_eq!(listed, EXAMPLES);
    assert!(
        engine
            .records()
            .iter()
            .any(|r| r.sql.contains("'${ENV:POSTGRES_PASSWORD}'")),
        "the reference is sent, not a value"
    );

    // Without them the coordinator refuses those catalogs, and says which variable is missing.
    let bare = Emulator::trino().dynamic().memory_store().start();
    let synced = common::agent("sync", &examples, &bare.url()).output();
    assert_eq!(synced.code(), 1, "{}", synced.stderr);
    assert!(
        synced.stderr.contains("POSTGRES_USER") || synced.stderr.contains("POSTGRES_PASSWORD"),
        "{}",
        synced.stderr
    );
    let mut listed = bare.show_catalogs();
    listed.retain(|c| c != "system");
    assert_eq!(listed, ["memory", "tpch"]);
}

#[test]
fn the_image_is_small_non_root_and_runs_its_default_command_read_only() {
    if !require_docker() {
        return;
    }
    let image = agent_image();
    let inspect = docker_ok(&[
        "image",
        "inspect",
        image,
        "--format",
        "{{.Size}}|{{.Config.User}}|{{json .Config.Entrypoint}}|{{json .Config.Cmd}}|{{json .Config.ExposedPorts}}|{{json .Config.Env}}",
    ]);
    let fields: Vec<&str> = inspect.split('|').collect();
    let size: u64 = fields[0].parse().unwrap();
    eprintln!("agent image: {size} bytes");
    assert!(size <= MAX_IMAGE_BYTES, "the image is {size} bytes");
    assert_eq!(fields[1], "65532:65532");
    assert_eq!(fields[2], r#"["/catalog-reloader"]"#);
    assert_eq!(fields[3], r#"["run"]"#);
    assert_eq!(fields[4], r#"{"9480/tcp":{}}"#);
    assert!(
        !fields[5].contains("CATALOG_RELOADER_"),
        "no deployment-specific default: {}",
        fields[5]
    );

    // The validate subcommand, as a catalog repository's CI would run it with the image.
    let examples = format!(
        "{}:/catalogs:ro",
        repo().join("examples/catalogs").display()
    );
    let validated = docker_output(&[
        "run",
        "--rm",
        "-v",
        &examples,
        image,
        "validate",
        "--catalog-dir",
        "/catalogs",
    ]);
    assert!(validated.status.success(), "{}", text(&validated));
    assert!(text(&validated).contains("5 valid, 0 invalid"));

    // The default command (`run`) against a coordinator, hardened as the Kubernetes manifests
    // run it: read-only root, no capabilities, no privilege escalation; the ledger on a volume.
    let network = Resource::create("network");
    let state = Resource::create("volume");
    let coordinator = Container::run(&[
        "--network",
        &network.name,
        "--network-alias",
        "trino",
        "-e",
        "CATALOG_MANAGEMENT=dynamic",
        "-p",
        "127.0.0.1::8080",
        "-v",
        &format!(
            "{}:/etc/trino/config.properties:ro",
            repo().join("compose/trino/etc/config.properties").display()
        ),
        &emulator_image(Flavour::Trino),
    ]);
    let folder = Folder::new();
    folder.write("shipped.properties", &example("tpch"));
    let agent = Container::run(&[
        "--network",
        &network.name,
        "--read-only",
        "--cap-drop",
        "ALL",
        "--security-opt",
        "no-new-privileges",
        "-p",
        "127.0.0.1::9480",
        "-v",
        &format!("{}:/catalogs:ro", folder.path().display()),
        "-v",
        &format!("{}:/var/lib/catalog-reloader", state.name),
        "-e",
        "CATALOG_RELOADER_CATALOG_DIR=/catalogs",
        "-e",
        "CATALOG_RELOADER_SERVER=http://trino:8080",
        "-e",
        "CATALOG_RELOADER_STATE_DIR=/var/lib/catalog-reloader",
        image,
    ]);
    let agent_url = format!("http://127.0.0.1:{}", agent.host_port(9480));
    let status = wait_for(SLOW, "the agent to apply shipped.properties", || {
        let status: serde_json::Value = common::http()
            .get(format!("{agent_url}/status"))
            .send()
            .ok()?
            .json()
            .ok()?;
        (status["catalogs"]["shipped"]["state"] == "applied").then_some(status)
    });
    assert_eq!(status["mode"], "dynamic", "auto mode found dynamic Trino");
    let engine_url = format!("http://127.0.0.1:{}", coordinator.host_port(8080));
    assert_eq!(
        show_catalogs(&engine_url, Flavour::Trino),
        Some(vec!["shipped".to_string()])
    );
    let health = common::http()
        .get(format!("{agent_url}/healthz"))
        .send()
        .unwrap();
    assert_eq!(health.status().as_u16(), 200);
    // The ledger was written by uid 65532 into the volume (its owner comes from the image).
    let ledger = docker_output(&[
        "cp",
        &format!("{}:/var/lib/catalog-reloader/ledger.json", agent.name()),
        "-",
    ]);
    assert!(ledger.status.success(), "{}", text(&ledger));
    assert!(String::from_utf8_lossy(&ledger.stdout).contains("shipped"));
    assert!(
        !agent.logs().contains("cannot persist the ledger"),
        "{}",
        agent.logs()
    );
    // docker stop sends SIGTERM to PID 1: the agent exits 0.
    docker_ok(&["stop", "-t", "10", agent.name()]);
    assert_eq!(agent.wait_exit(Duration::from_secs(5)), Some(0));
    drop(coordinator);
}

#[test]
fn the_image_verifies_the_coordinator_with_the_ca_bundle_it_carries() {
    if !require_docker() {
        return;
    }
    let scratch = tempfile::tempdir().unwrap();
    let cert = scratch.path().join("coordinator-ca.pem");
    let engine = Emulator::trino()
        .dynamic()
        .memory_store()
        .arg("--tls")
        .arg("--tls-cert-out")
        .arg(&cert)
        .start();
    assert!(engine.url().starts_with("https://127.0.0.1:"));
    let folder = Folder::new();
    folder.write("secure.properties", &example("tpch"));
    let mount = format!("{}:/catalogs:ro", folder.path().display());
    let url = engine.url();
    // `--network host`: the container reaches the emulator on 127.0.0.1, a name its certificate has.
    let sync = |image: &str| {
        docker_output(&[
            "run",
            "--rm",
            "--network",
            "host",
            "-v",
            &mount,
            image,
            "sync",
            "--catalog-dir",
            "/catalogs",
            "--server",
            &url,
        ])
    };

    // The image with the host's CA bundle does not trust a coordinator with a self-signed
    // certificate...
    let refused = sync(agent_image());
    assert_eq!(refused.status.code(), Some(2), "{}", text(&refused));
    assert!(
        text(&refused).to_lowercase().contains("certificate"),
        "{}",
        text(&refused)
    );
    // ...and the same image built with that certificate in its bundle does, with no --ca-cert:
    // the bundle at /etc/ssl/certs/ca-certificates.crt is what the agent trusts.
    let with_ca = Image(unique_name("catalog-reloader-test/agent:ca"));
    build_agent_image(&with_ca.0, Some(&cert));
    let trusted = sync(&with_ca.0);
    assert!(trusted.status.success(), "{}", text(&trusted));
    let mut listed = engine.show_catalogs();
    listed.retain(|c| c != "system");
    assert_eq!(listed, ["secure"]);
}

/// Whether a table of `catalog` can be read (the emulator serves rows from any live catalog).
fn reads_a_table(url: &str, flavour: Flavour, catalog: &str) -> bool {
    run_query(
        url,
        flavour,
        "test",
        &format!("SELECT * FROM {catalog}.tiny.nation LIMIT 1"),
    )
    .is_ok()
}

#[test]
fn trino_sandbox_adds_changes_and_removes_a_catalog() {
    if !require_docker() {
        return;
    }
    let sandbox = Sandbox::new(Flavour::Trino, &[]);
    sandbox.up();
    // catalog.store=memory: the image's own catalog files are ignored; only the folder counts.
    sandbox.wait_catalogs(&[], SLOW);

    // Copy an example in: it is live.
    std::fs::copy(
        repo().join("examples/catalogs/tpch.properties"),
        sandbox.folder.file("tpch.properties"),
    )
    .unwrap();
    sandbox.wait_catalogs(&["tpch"], SLOW);
    assert!(reads_a_table(
        &sandbox.running_engine_url(),
        Flavour::Trino,
        "tpch"
    ));
    assert_eq!(sandbox.connector_of("tpch").as_deref(), Some("tpch"));

    // Edit it in place: same name, another connector.
    sandbox.folder.write("tpch.properties", &example("memory"));
    wait_for(SLOW, "the edited catalog", || {
        (sandbox.connector_of("tpch")? == "memory").then_some(())
    });
    let status = sandbox.agent_status();
    assert_eq!(status["mode"], "dynamic");
    assert_eq!(status["catalogs"]["tpch"]["state"], "applied");

    // Delete it: gone.
    sandbox.folder.remove("tpch.properties");
    sandbox.wait_catalogs(&[], SLOW);
    assert_eq!(
        sandbox.agent_status()["catalogs"]["tpch"]["state"],
        "removed"
    );

    sandbox.down();
    assert_eq!(sandbox.leftovers(), Vec::<String>::new());
}

#[test]
fn presto_sandbox_starts_with_the_folder_and_restarts_for_each_change() {
    if !require_docker() {
        return;
    }
    let coordinator = unique_name("crship-presto");
    let sandbox = Sandbox::new(Flavour::Presto, &[("PRESTO_CONTAINER_NAME", &coordinator)]);
    sandbox
        .folder
        .write("memory.properties", &example("memory"));
    sandbox.up();
    // The init step rendered the folder before PrestoDB started: its very first answer has it.
    let first = wait_for(SLOW, "the coordinator's first answer", || {
        sandbox.catalogs()
    });
    assert_eq!(first, ["memory"], "logs:\n{}", sandbox.logs());
    let status = sandbox.agent_status();
    assert_eq!(status["mode"], "restart");
    assert_eq!(status["engine"]["flavour"], "presto");

    // Add: the agent renders it and restarts the named coordinator container.
    std::fs::copy(
        repo().join("examples/catalogs/tpch.properties"),
        sandbox.folder.file("tpch.properties"),
    )
    .unwrap();
    sandbox.wait_catalogs(&["memory", "tpch"], RESTARTS);
    assert!(reads_a_table(
        &sandbox.running_engine_url(),
        Flavour::Presto,
        "tpch"
    ));
    assert_eq!(sandbox.connector_of("tpch").as_deref(), Some("tpch"));

    // Edit: tpch becomes a memory catalog at the next restart.
    sandbox.folder.write("tpch.properties", &example("memory"));
    wait_for(
        RESTARTS,
        "the coordinator to run the edited catalog",
        || (sandbox.connector_of("tpch")? == "memory").then_some(()),
    );
    sandbox.wait_catalogs(&["memory", "tpch"], SLOW);
    assert_eq!(
        sandbox.agent_status()["catalogs"]["tpch"]["state"],
        "applied"
    );

    // Delete.
    sandbox.folder.remove("tpch.properties");
    sandbox.wait_catalogs(&["memory"], RESTARTS);

    sandbox.down();
    assert_eq!(sandbox.leftovers(), Vec::<String>::new());
    let named = docker_ok(&[
        "ps",
        "-a",
        "--filter",
        &format!("name=^{coordinator}$"),
        "--format",
        "{{.Names}}",
    ]);
    assert_eq!(named, "");
}

#[test]
fn presto_sandbox_does_not_start_on_an_invalid_file_and_names_it() {
    if !require_docker() {
        return;
    }
    let coordinator = unique_name("crship-presto");
    let sandbox = Sandbox::new(Flavour::Presto, &[("PRESTO_CONTAINER_NAME", &coordinator)]);
    sandbox.folder.write("good.properties", &example("tpch"));
    sandbox
        .folder
        .write("broken.properties", "connector.name=tpch\nx=\\u12G4\n");
    let up = sandbox.compose(&["up", "-d", "--no-build"]);
    assert!(!up.status.success(), "{}", text(&up));
    let logs = text(&sandbox.compose(&["logs", "--no-color", "catalogs-init"]));
    assert!(logs.contains("broken"), "{logs}");
    assert!(logs.contains("line 2") || logs.contains(":2"), "{logs}");
}

/// scripts/sandbox.sh with a unique project, folder, ports and agent tag; `down` when dropped.
struct SandboxScript {
    project: String,
    folder: Folder,
    agent_tag: Image,
}

impl SandboxScript {
    fn run(&self, subcommand: &str) -> Output {
        run(Command::new(repo().join("scripts/sandbox.sh"))
            .arg(subcommand)
            .env("COMPOSE_PROJECT_NAME", &self.project)
            .env("CATALOGS_DIR", self.folder.path())
            .env("TRINO_HOST_PORT", "0")
            .env("CATALOG_RELOADER_HOST_PORT", "0")
            .env("CATALOG_RELOADER_IMAGE", &self.agent_tag.0)
            // The script chooses the engine image itself.
            .env_remove("TRINO_IMAGE"))
    }
}

impl Drop for SandboxScript {
    fn drop(&mut self) {
        let _ = self.run("down");
    }
}

#[test]
fn the_sandbox_script_starts_trino_shows_a_new_catalog_and_stops() {
    if !require_docker() {
        return;
    }
    const EMULATOR: &str = "catalog-reloader-sandbox/emulator:trino";
    let emulator_was_there = docker_output(&["image", "inspect", EMULATOR])
        .status
        .success();
    let script = SandboxScript {
        project: unique_name("crshipscript").replace('-', ""),
        folder: Folder::new(),
        agent_tag: Image(unique_name("catalog-reloader-test/agent:sandbox")),
    };
    let up = script.run("up");
    let said = text(&up);
    assert!(up.status.success(), "{said}");
    assert!(said.contains("The Trino sandbox is up"), "{said}");
    assert!(
        said.contains("cp examples/catalogs/tpch.properties"),
        "{said}"
    );
    let emulated = said.contains("RUNS THE COORDINATOR EMULATOR");
    eprintln!(
        "sandbox engine: {}",
        if emulated {
            "the emulator"
        } else {
            "trinodb/trino"
        }
    );

    std::fs::copy(
        repo().join("examples/catalogs/tpch.properties"),
        script.folder.file("tpch.properties"),
    )
    .unwrap();
    wait_for(SLOW, "`sandbox.sh catalogs` to list tpch", || {
        let listed = script.run("catalogs");
        let out = String::from_utf8_lossy(&listed.stdout).into_owned();
        (listed.status.success() && out.lines().any(|l| l == "tpch")).then_some(())
    });

    let down = script.run("down");
    assert!(down.status.success(), "{}", text(&down));
    let left = docker_ok(&[
        "ps",
        "-a",
        "--filter",
        &format!("label=com.docker.compose.project={}", script.project),
        "--format",
        "{{.Names}}",
    ]);
    assert_eq!(left, "");
    if emulated && !emulator_was_there {
        let _ = docker_output(&["rmi", EMULATOR]);
    }
}
