//! What the whole-process benchmarks share: the agent as a child process and its HTTP endpoints,
//! the release build of the emulator, percentiles, and what `/proc` says about a process.
#![allow(dead_code)] // each bench uses a different part

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use test_support::free_port;

/// The agent binary: this build's, or `BENCH_AGENT` (e.g. the static musl binary of the image).
pub fn agent_binary() -> PathBuf {
    std::env::var_os("BENCH_AGENT").map_or_else(
        || PathBuf::from(env!("CARGO_BIN_EXE_catalog-reloader")),
        PathBuf::from,
    )
}

/// The coordinator emulator's release build (built here if needed): a debug build's own cost
/// would blur the agent's.
pub fn release_emulator() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["build", "--release", "-q", "-p", "coordinator-emulator"])
        .current_dir(root)
        .status()
        .expect("cargo build");
    assert!(status.success());
    let target =
        std::env::var("CARGO_TARGET_DIR").map_or_else(|_| root.join("target"), PathBuf::from);
    target.join("release").join("coordinator-emulator")
}

pub fn http() -> reqwest::blocking::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// Where the agents' logs go: appended to the file `BENCH_AGENT_LOG` names, else nowhere.
fn agent_log(to: Option<&Path>) -> Stdio {
    match to
        .map(|p| p.as_os_str().to_owned())
        .or_else(|| std::env::var_os("BENCH_AGENT_LOG"))
    {
        Some(path) => std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map(Stdio::from)
            .unwrap_or_else(|_| Stdio::null()),
        None => Stdio::null(),
    }
}

/// `catalog-reloader run` on a folder, listening on a free port; killed when dropped.
pub struct Agent {
    pub child: Child,
    pub port: u16,
    http: reqwest::blocking::Client,
}

impl Agent {
    /// Starts the agent and waits for its first pass to end.
    pub fn start(folder: &Path, server: &str, extra: &[&str]) -> Agent {
        let agent = Agent::spawn(folder, server, extra);
        agent.wait(Duration::from_secs(120), |s| !s["last_pass"].is_null());
        agent
    }

    /// Starts the agent without waiting for anything.
    pub fn spawn(folder: &Path, server: &str, extra: &[&str]) -> Agent {
        Agent::spawn_logging(folder, server, extra, None)
    }

    /// Starts the agent with its log appended to `log` (JSON lines), and waits for its first
    /// pass to end.
    #[allow(dead_code)] // not every bench reads the agent's log
    pub fn start_logging(folder: &Path, server: &str, extra: &[&str], log: &Path) -> Agent {
        let mut args = extra.to_vec();
        args.extend(["--log-format", "json"]);
        let agent = Agent::spawn_logging(folder, server, &args, Some(log));
        agent.wait(Duration::from_secs(120), |s| !s["last_pass"].is_null());
        agent
    }

    fn spawn_logging(folder: &Path, server: &str, extra: &[&str], log: Option<&Path>) -> Agent {
        let port = free_port();
        let child = Command::new(agent_binary())
            .args(["run", "--catalog-dir"])
            .arg(folder)
            .args(["--server", server, "--listen", &format!("127.0.0.1:{port}")])
            .args(extra)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(agent_log(log))
            .spawn()
            .expect("start the agent");
        Agent {
            child,
            port,
            http: http(),
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn status(&self) -> Option<serde_json::Value> {
        self.http
            .get(format!("http://127.0.0.1:{}/status", self.port))
            .send()
            .ok()?
            .json()
            .ok()
    }

    /// Polls `/status` every 2 ms until `ok` holds; panics after `timeout`.
    pub fn wait(&self, timeout: Duration, ok: impl Fn(&serde_json::Value) -> bool) {
        self.wait_every(Duration::from_millis(2), timeout, ok);
    }

    /// Polls `/status` every `every` until `ok` holds; panics after `timeout`. With thousands of
    /// catalogs each `/status` costs the agent a fraction of a millisecond of CPU: a run that
    /// reports the agent's CPU polls less often.
    pub fn wait_every(
        &self,
        every: Duration,
        timeout: Duration,
        ok: impl Fn(&serde_json::Value) -> bool,
    ) {
        let start = Instant::now();
        while start.elapsed() < timeout {
            if self.status().is_some_and(|s| ok(&s)) {
                return;
            }
            std::thread::sleep(every);
        }
        panic!("the agent did not get there in {timeout:?}");
    }

    /// Until `/status` says every one of `names` is applied, polled every 100 ms (cheap for the
    /// agent even with thousands of catalogs); panics after `timeout`.
    pub fn wait_applied(&self, names: &[String], timeout: Duration) {
        self.wait_every(Duration::from_millis(100), timeout, |status| {
            names
                .iter()
                .all(|n| status["catalogs"][n]["state"] == "applied")
        });
    }

    pub fn applied(&self, name: &str) -> bool {
        self.status()
            .is_some_and(|s| s["catalogs"][name]["state"] == "applied")
    }

    /// One sample of the agent's `/metrics` (summed over its labels), 0 when absent.
    pub fn metric(&self, name: &str) -> f64 {
        let text = self
            .http
            .get(format!("http://127.0.0.1:{}/metrics", self.port))
            .send()
            .and_then(|r| r.text())
            .unwrap_or_default();
        text.lines()
            .filter(|l| l.split(['{', ' ']).next() == Some(name))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The value at percentile `p` of sorted values (nearest rank).
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank]
}

pub fn now_micros() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_micros()
}

pub fn now_ms() -> f64 {
    now_micros() as f64 / 1000.0
}

fn proc_status_field(text: &str, name: &str) -> u64 {
    text.lines()
        .find(|l| l.starts_with(name))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Resident memory of a process, KiB (0 once it is gone).
pub fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    proc_status_field(&status, "VmRSS:")
}

/// utime + stime of a process, in clock ticks.
pub fn proc_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after_comm = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = after_comm.split_whitespace().collect();
    // Fields 14 and 15 of /proc/PID/stat, counted from after the command name.
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

pub fn ticks_to_seconds(ticks: u64) -> f64 {
    // SAFETY: sysconf has no preconditions.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    ticks as f64 / per_second as f64
}

/// What `/proc` says of a process now.
pub struct ProcSample {
    pub rss_kib: u64,
    pub peak_rss_kib: u64,
    pub cpu_ticks: u64,
    /// Voluntary and involuntary, summed over its threads.
    pub context_switches: u64,
    pub threads: usize,
}

pub fn proc_sample(pid: u32) -> ProcSample {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    // Summed over the threads alive now: a thread that ended since an earlier sample takes its
    // switches with it (a JVM's come and go), so a difference of two samples is at least 0, not
    // exact — callers subtract with saturation.
    let mut context_switches = 0;
    let mut threads = 0;
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).unwrap() {
        let path = task.unwrap().path().join("status");
        if let Ok(text) = std::fs::read_to_string(path) {
            threads += 1;
            context_switches += proc_status_field(&text, "voluntary_ctxt_switches:")
                + proc_status_field(&text, "nonvoluntary_ctxt_switches:");
        }
    }
    ProcSample {
        rss_kib: proc_status_field(&status, "VmRSS:"),
        peak_rss_kib: proc_status_field(&status, "VmHWM:"),
        cpu_ticks: proc_ticks(pid),
        context_switches,
        threads,
    }
}

/// A repeatable source of random choices for a workload: proptest's ChaCha generator from a fixed
/// seed (`rng.random_range(0..n)`). A workload is not a property to shrink, only a long stream of
/// choices that a rerun must repeat.
pub fn workload_rng(seed: u64) -> proptest::test_runner::TestRng {
    use proptest::test_runner::{RngAlgorithm, TestRng};
    TestRng::from_seed(RngAlgorithm::ChaCha, &seed.to_le_bytes().repeat(4))
}

/// A folder the agent watches and a staging folder beside it on the same file system: a file is
/// written in the staging folder, then renamed in, so that the agent sees it appear whole at an
/// instant the bench knows.
pub struct StagedFolder {
    _root: tempfile::TempDir,
    pub folder: PathBuf,
    pub staging: PathBuf,
}

impl StagedFolder {
    pub fn new() -> StagedFolder {
        let root = tempfile::tempdir().unwrap();
        let (folder, staging) = (root.path().join("catalogs"), root.path().join("staging"));
        std::fs::create_dir(&folder).unwrap();
        std::fs::create_dir(&staging).unwrap();
        StagedFolder {
            _root: root,
            folder,
            staging,
        }
    }

    /// Writes `NAME.properties` into the staging folder.
    pub fn stage(&self, name: &str, text: &str) {
        std::fs::write(self.staging.join(format!("{name}.properties")), text).unwrap();
    }

    /// Renames the staged `NAME.properties` into the folder.
    pub fn rename_in(&self, name: &str) {
        let file = format!("{name}.properties");
        std::fs::rename(self.staging.join(&file), self.folder.join(&file)).unwrap();
    }

    /// Stages `NAME.properties` and renames it in; the wall-clock time (ms) just before the
    /// rename.
    pub fn drop_file(&self, name: &str, text: &str) -> f64 {
        self.stage(name, text);
        let t0 = now_ms();
        self.rename_in(name);
        t0
    }
}

/// Each statement sent to the engine at `url` with the agent's own client code, one after the
/// other: how long each took, ms. The floor under what the agent adds.
pub fn by_hand(url: &str, statements: impl IntoIterator<Item = String>) -> Vec<f64> {
    use catalog_reloader::engine::{Client, ClientConfig};
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let client = Client::new(ClientConfig {
        server: url.to_string(),
        user: "bench".into(),
        password: None,
        access_token: None,
        ca_cert: None,
        insecure: false,
        connect_timeout: Duration::from_secs(5),
        request_timeout: Duration::from_secs(30),
        statement_timeout: Duration::from_secs(60),
    })
    .unwrap();
    runtime.block_on(async {
        let mut millis = Vec::new();
        for sql in statements {
            let t0 = Instant::now();
            client.execute(&sql).await.unwrap();
            millis.push(t0.elapsed().as_secs_f64() * 1000.0);
        }
        millis
    })
}

/// An airlift duration (`16.23ms`, `1.20s`) in milliseconds.
pub fn duration_ms(text: &str) -> Option<f64> {
    let split = text.find(|c: char| c.is_ascii_alphabetic())?;
    let value: f64 = text[..split].parse().ok()?;
    Some(match &text[split..] {
        "ns" => value / 1e6,
        "us" => value / 1e3,
        "ms" => value,
        "s" => value * 1e3,
        "m" => value * 60e3,
        _ => return None,
    })
}

/// An ISO time of Trino's (`2026-11-27T05:31:56.690Z`) in Unix milliseconds.
pub fn iso_ms(text: &str) -> Option<f64> {
    let time = humantime::parse_rfc3339(text).ok()?;
    Some(time.duration_since(UNIX_EPOCH).ok()?.as_secs_f64() * 1000.0)
}

/// (create time, end time, Trino's elapsed time) of each finished `CREATE CATALOG "name"`.
pub fn creates(url: &str) -> std::collections::BTreeMap<String, (f64, f64, f64)> {
    let all: Vec<serde_json::Value> = http()
        .get(format!("{url}/v1/query"))
        .header("X-Trino-User", "bench")
        .send()
        .unwrap()
        .json()
        .unwrap();
    all.iter()
        .filter(|q| q["state"] == "FINISHED")
        .filter_map(|q| {
            let sql = q["query"].as_str()?;
            let name = sql.strip_prefix("CREATE CATALOG \"")?.split('"').next()?;
            let stats = &q["queryStats"];
            Some((
                name.to_string(),
                (
                    iso_ms(stats["createTime"].as_str()?)?,
                    iso_ms(stats["endTime"].as_str()?)?,
                    duration_ms(stats["elapsedTime"].as_str()?)?,
                ),
            ))
        })
        .collect()
}
