//! Docker for tests: is an engine there, the emulator's images, and containers that remove
//! themselves. Everything goes through the `docker` CLI.
//!
//! The images are `FROM scratch` with the static musl emulator binary
//! (tests/emulator/docker/Dockerfile), laid out like trinodb/trino and prestodb/presto (facts §6),
//! so no registry is needed.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub use crate::emulator::Flavour;

const MUSL_TARGET: &str = "x86_64-unknown-linux-musl";

fn docker() -> Command {
    Command::new("docker")
}

/// Runs `docker ARGS` and returns its output; panics if it cannot be started.
pub fn docker_output(args: &[&str]) -> Output {
    docker()
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("run docker {args:?}: {e}"))
}

/// Runs `docker ARGS`, panicking with its stderr if it fails; returns trimmed stdout.
pub fn docker_ok(args: &[&str]) -> String {
    let output = docker_output(args);
    assert!(
        output.status.success(),
        "docker {args:?} failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

/// Whether a Docker engine answers.
pub fn docker_available() -> bool {
    docker()
        .args(["version", "--format", "{{.Server.Version}}"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// For the first line of a Docker test: `if !require_docker() { return; }`.
///
/// Returns false (skip, saying why) when no engine answers; panics instead when
/// `REQUIRE_DOCKER=1`, as `.ci/run` sets it.
pub fn require_docker() -> bool {
    if docker_available() {
        return true;
    }
    if std::env::var("REQUIRE_DOCKER").is_ok_and(|v| v == "1") {
        panic!("REQUIRE_DOCKER=1 but no Docker engine answers `docker version`");
    }
    eprintln!(
        "skipping: no Docker engine answers `docker version` (set REQUIRE_DOCKER=1 to fail instead)"
    );
    false
}

/// A name no other test process uses: `prefix-<pid>-<n>-<nanos>`.
pub fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!(
        "{prefix}-{}-{}-{nanos}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    )
}

/// The tag of the emulator image for `flavour`.
pub fn image_tag(flavour: Flavour) -> &'static str {
    match flavour {
        Flavour::Trino => "catalog-reloader-test/emulator:trino",
        Flavour::Presto => "catalog-reloader-test/emulator:presto",
    }
}

/// The static emulator binary the images carry; built (`--profile image --target
/// x86_64-unknown-linux-musl`) if scripts/test.sh has not built it already, or if it is older than
/// the emulator's sources.
pub fn static_emulator_binary() -> PathBuf {
    let target = crate::target_dir();
    let path = target
        .join(MUSL_TARGET)
        .join("image")
        .join("coordinator-emulator");
    if crate::emulator_binary_is_stale(&path) {
        let status = crate::cargo()
            .args([
                "build",
                "--profile",
                "image",
                "--target",
                MUSL_TARGET,
                "-p",
                "coordinator-emulator",
                "--target-dir",
            ])
            .arg(&target)
            .current_dir(crate::workspace_root())
            .status()
            .expect("run cargo build for the musl emulator");
        assert!(
            status.success(),
            "building the static emulator failed (needs `rustup target add {MUSL_TARGET}` and musl-tools; scripts/test.sh installs both)"
        );
    }
    path
}

/// Builds (once per test process, serialised across processes with a lock file) the emulator
/// image for `flavour` and returns its tag.
pub fn emulator_image(flavour: Flavour) -> String {
    static BUILT: Mutex<Vec<Flavour>> = Mutex::new(Vec::new());
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    let tag = image_tag(flavour);
    if built.contains(&flavour) {
        return tag.to_string();
    }
    let binary = static_emulator_binary();
    let lock_path = crate::target_dir().join("emulator-image.lock");
    let lock = std::fs::File::create(&lock_path)
        .unwrap_or_else(|e| panic!("{}: {e}", lock_path.display()));
    lock.lock().expect("lock the image build");
    let context = tempfile::tempdir().expect("build context");
    let docker_dir = crate::workspace_root().join("tests/emulator/docker");
    copy_dir(&docker_dir, context.path());
    std::fs::copy(&binary, context.path().join("coordinator-emulator"))
        .expect("copy the emulator into the build context");
    let target_stage = match flavour {
        Flavour::Trino => "trino",
        Flavour::Presto => "presto",
    };
    let context_path = context.path().to_string_lossy().into_owned();
    docker_ok(&[
        "build",
        "-q",
        "--target",
        target_stage,
        "-t",
        tag,
        &context_path,
    ]);
    let _ = lock.unlock();
    built.push(flavour);
    tag.to_string()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create dir");
    for entry in std::fs::read_dir(from).unwrap_or_else(|e| panic!("{}: {e}", from.display())) {
        let entry = entry.expect("dir entry");
        let dest = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_dir(&entry.path(), &dest);
        } else {
            std::fs::copy(entry.path(), &dest).expect("copy file");
        }
    }
}

/// A user network (DNS by container name), removed when dropped — after its containers: declare
/// it after them in a struct.
pub struct Network {
    name: String,
}

impl Network {
    pub fn create() -> Network {
        let name = unique_name("catalog-reloader-net");
        docker_ok(&["network", "create", &name]);
        Network { name }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The host's address on this network: what a container reaches a process of the host at.
    pub fn gateway(&self) -> String {
        docker_ok(&[
            "network",
            "inspect",
            "-f",
            "{{range .IPAM.Config}}{{.Gateway}}{{end}}",
            &self.name,
        ])
        .trim()
        .to_string()
    }
}

impl Drop for Network {
    fn drop(&mut self) {
        let _ = docker()
            .args(["network", "rm", &self.name])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// A container that is removed (`docker rm -f`) when dropped.
pub struct Container {
    name: String,
    /// The Unix seconds of each start, from a `docker events` follower that runs from before
    /// the container's creation (Docker's own event log keeps only the last 256 events: a few
    /// minutes of exec health checks push a container's first start out of it).
    starts: Arc<Mutex<Vec<u64>>>,
    follower: Option<Child>,
}

impl Container {
    /// `docker run -d --name <unique> ARGS…` (ARGS end with the image and its arguments).
    pub fn run(args: &[&str]) -> Container {
        let name = unique_name("catalog-reloader-test");
        let (starts, follower) = follow_starts(&name);
        let mut all = vec!["run", "-d", "--name", name.as_str()];
        all.extend_from_slice(args);
        docker_ok(&all);
        Container {
            name,
            starts,
            follower,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// How often Docker started this container from `since` (Unix seconds) until now (the first
    /// start included, when it falls in the window): what the follower saw since the creation,
    /// or Docker's event log when that says more (a start the follower has not read yet).
    pub fn starts_since(&self, since: u64) -> usize {
        let followed = self
            .starts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter(|&&at| at >= since)
            .count();
        followed.max(self.logged_starts_since(since))
    }

    fn logged_starts_since(&self, since: u64) -> usize {
        let until = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("the clock is after 1970")
            .as_secs()
            + 1;
        docker_ok(&[
            "events",
            "--since",
            &since.to_string(),
            "--until",
            &until.to_string(),
            "--filter",
            &format!("container={}", self.name),
            "--filter",
            "event=start",
            "--format",
            "{{.Time}}",
        ])
        .lines()
        .count()
    }

    /// How often the container's restart policy started it again (`RestartCount`): a process
    /// that exited by itself, not a `docker restart`. Unlike Docker's event log, which keeps only
    /// the last 256 events (a few minutes of health checks), it is never forgotten.
    pub fn restart_count(&self) -> usize {
        docker_ok(&["inspect", "-f", "{{.RestartCount}}", &self.name])
            .trim()
            .parse()
            .unwrap_or_else(|e| panic!("RestartCount of {}: {e}", self.name))
    }

    /// The host port published for `container_port` (`-p 127.0.0.1::8080`).
    pub fn host_port(&self, container_port: u16) -> u16 {
        let out = docker_ok(&["port", &self.name, &format!("{container_port}/tcp")]);
        let line = out.lines().next().unwrap_or_default();
        line.rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no published port in {out:?}"))
    }

    /// `docker logs` (stdout and stderr together).
    pub fn logs(&self) -> String {
        let output = docker_output(&["logs", &self.name]);
        format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    }

    /// `docker exec NAME ARGS…`.
    pub fn exec(&self, args: &[&str]) -> Output {
        let mut all = vec!["exec", self.name.as_str()];
        all.extend_from_slice(args);
        docker_output(&all)
    }

    /// The exit code once the container has stopped, or None if it still runs after `timeout`.
    pub fn wait_exit(&self, timeout: Duration) -> Option<i32> {
        let start = Instant::now();
        while start.elapsed() < timeout {
            let state = docker_ok(&[
                "inspect",
                "-f",
                "{{.State.Status}} {{.State.ExitCode}}",
                &self.name,
            ]);
            if let Some(code) = state.strip_prefix("exited ") {
                return code.trim().parse().ok();
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        None
    }

    /// Polls `GET http://127.0.0.1:<host port>/v1/info` until it answers, and returns the body.
    pub fn wait_for_info(&self, container_port: u16, timeout: Duration) -> serde_json::Value {
        let url = format!(
            "http://127.0.0.1:{}/v1/info",
            self.host_port(container_port)
        );
        let start = Instant::now();
        loop {
            if let Ok(body) = crate::emulator::http_client()
                .get(&url)
                .send()
                .and_then(|r| r.json::<serde_json::Value>())
            {
                return body;
            }
            assert!(
                start.elapsed() < timeout,
                "{url} did not answer within {timeout:?}; logs:\n{}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        let _ = docker()
            .args(["rm", "-f", &self.name])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        if let Some(mut follower) = self.follower.take() {
            let _ = follower.kill();
            let _ = follower.wait();
        }
    }
}

/// Follows the start events of the container that will be called `name`, from a second before
/// now (so the first start cannot be missed while the follower connects).
fn follow_starts(name: &str) -> (Arc<Mutex<Vec<u64>>>, Option<Child>) {
    let starts = Arc::new(Mutex::new(Vec::new()));
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_secs()
        .saturating_sub(1);
    let child = docker()
        .args(["events", "--since", &since.to_string()])
        .args(["--filter", &format!("container={name}")])
        .args(["--filter", "event=start", "--format", "{{.Time}}"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn();
    let Ok(mut child) = child else {
        return (starts, None);
    };
    let stdout = child.stdout.take().expect("piped stdout");
    let sink = Arc::clone(&starts);
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Ok(at) = line.trim().parse::<u64>() {
                sink.lock().unwrap_or_else(|e| e.into_inner()).push(at);
            }
        }
    });
    (starts, Some(child))
}
