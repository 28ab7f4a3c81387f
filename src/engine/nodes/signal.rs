//! The signal method: SIGTERM (or SIGKILL) to the coordinator's server process, found through a
//! PID namespace shared with it (Kubernetes `shareProcessNamespace: true`, compose
//! `pid: "service:…"`); the restart policy of its container or pod starts it again. For a static
//! Trino coordinator, which refuses the engine's shutdown, where the agent has no Docker socket.

use super::NodeError;
use std::path::Path;
use std::time::Duration;
use tokio::time::{Instant, sleep};

/// The main classes of the engines' server processes.
const SERVER_MAIN_CLASSES: [&str; 2] = [
    "io.trino.server.TrinoServer",
    "com.facebook.presto.server.PrestoServer",
];

/// How long a process may take to die after SIGKILL before the restart counts as failed.
const AFTER_KILL: Duration = Duration::from_secs(30);

/// The processes under `proc` (a /proc) whose command line runs a Trino or PrestoDB server, the
/// agent's own left out, in pid order.
pub fn server_processes(proc: &Path) -> Vec<libc::pid_t> {
    let own = std::process::id() as libc::pid_t;
    let Ok(entries) = std::fs::read_dir(proc) else {
        return Vec::new();
    };
    let mut found: Vec<libc::pid_t> = entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<libc::pid_t>().ok())
        .filter(|&pid| pid != own)
        .filter(|pid| {
            // A command line is short; a process may be gone between the listing and the read.
            std::fs::read(proc.join(pid.to_string()).join("cmdline")).is_ok_and(|cmdline| {
                cmdline.split(|&b| b == 0).any(|arg| {
                    SERVER_MAIN_CLASSES
                        .iter()
                        .any(|class| arg == class.as_bytes())
                })
            })
        })
        .collect();
    found.sort_unstable();
    found
}

/// The signal method, for the coordinator.
#[derive(Debug, Clone)]
pub struct Signal {
    /// How long SIGTERM is given before SIGKILL (--stop-timeout).
    stop_timeout: Duration,
}

fn refused(detail: String) -> NodeError {
    NodeError::CoordinatorRefused { detail }
}

impl Signal {
    pub fn new(stop_timeout: Duration) -> Signal {
        Signal { stop_timeout }
    }

    /// SIGTERM to the coordinator's server process — SIGKILL when it does not serve: it has
    /// nothing to finish, and a JVM still starting may not handle SIGTERM yet (a JVM that is PID 1
    /// ignores it then) —, then waits until it is gone, SIGKILL after --stop-timeout; its restart
    /// policy starts it again.
    pub async fn restart(&self, serving: bool, mut beat: impl FnMut()) -> Result<(), NodeError> {
        let pid = match server_processes(Path::new("/proc")).as_slice() {
            [one] => *one,
            // Between two starts of a crash loop: the next start reads the folder as it is.
            [] if !serving => {
                tracing::info!(
                    "no coordinator process runs now; its restart policy starts it again with the folder as it is"
                );
                return Ok(());
            }
            [] => {
                return Err(refused(
                    "no Trino or PrestoDB server process is visible to the agent: share the coordinator's PID namespace with it (Kubernetes shareProcessNamespace: true; compose pid: \"service:…\" of a service that outlives the coordinator)".into(),
                ));
            }
            several => {
                return Err(refused(format!(
                    "{} Trino or PrestoDB server processes are visible ({several:?}); the signal method needs the coordinator's alone",
                    several.len()
                )));
            }
        };
        let send = |signal: libc::c_int| -> Result<(), NodeError> {
            // SAFETY: kill(2) with a pid read from /proc and a constant signal number.
            if unsafe { libc::kill(pid, signal) } == 0 {
                return Ok(());
            }
            let e = std::io::Error::last_os_error();
            Err(refused(match e.raw_os_error() {
                Some(libc::EPERM) => format!(
                    "the agent may not signal the coordinator's process {pid} ({e}): run the agent as the coordinator's user"
                ),
                _ => format!("cannot signal the coordinator's process {pid}: {e}"),
            }))
        };
        let gone = || {
            !Path::new(&format!("/proc/{pid}")).exists()
                || server_processes(Path::new("/proc")).first() != Some(&pid)
        };
        if serving {
            tracing::info!(
                pid,
                "SIGTERM to the coordinator's process; its restart policy starts it again"
            );
            send(libc::SIGTERM)?;
        } else {
            tracing::info!(
                pid,
                "the coordinator does not serve: SIGKILL to its process; its restart policy starts it again"
            );
            send(libc::SIGKILL)?;
        }
        let deadline = Instant::now() + self.stop_timeout;
        let mut killed = !serving;
        loop {
            beat();
            if gone() {
                return Ok(());
            }
            if Instant::now() >= deadline && !killed {
                tracing::warn!(pid, stop_timeout = %humantime::format_duration(self.stop_timeout), "the coordinator's process still runs; SIGKILL");
                send(libc::SIGKILL)?;
                killed = true;
            }
            if Instant::now() >= deadline + AFTER_KILL {
                return Err(refused(format!("process {pid} still runs after SIGKILL")));
            }
            sleep(Duration::from_millis(100)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_server_process_is_found_by_its_main_class_among_others() {
        let proc = tempfile::tempdir().unwrap();
        let process = |pid: &str, args: &[&str]| {
            let dir = proc.path().join(pid);
            std::fs::create_dir(&dir).unwrap();
            let mut cmdline = args.join("\0").into_bytes();
            cmdline.push(0);
            std::fs::write(dir.join("cmdline"), cmdline).unwrap();
        };
        process("1", &["/pause"]);
        process(
            "7",
            &[
                "java",
                "-Xmx2G",
                "-cp",
                "/usr/lib/trino/lib/*",
                "io.trino.server.TrinoServer",
            ],
        );
        // The launcher's own command line names the class only inside an argument.
        process(
            "5",
            &[
                "python3",
                "launcher.py",
                "run",
                "--main=io.trino.server.TrinoServer",
            ],
        );
        process("9", &["/catalog-reloader", "run"]);
        std::fs::create_dir(proc.path().join("self")).unwrap();
        assert_eq!(super::server_processes(proc.path()), [7]);
        process("12", &["java", "com.facebook.presto.server.PrestoServer"]);
        assert_eq!(super::server_processes(proc.path()), [7, 12]);
        assert!(super::server_processes(&proc.path().join("none")).is_empty());
    }
}
