//! Helpers shared by catalog-reloader's integration tests.
//!
//! * [`emulator`]: start the coordinator emulator (tests/emulator) as a real process, query it,
//!   read what it recorded, restart it.
//! * [`docker`]: build the emulator's `FROM scratch` images and run containers that clean up
//!   after themselves.
//! * [`proxy`]: a TCP proxy that holds back, cuts off or swallows one chosen HTTP exchange.
//! * [`python`]: a Python with the PyPI Trino and Presto clients.
//! * [`real`]: the real engines that `scripts/engines.sh` fetched and built — Trino processes,
//!   and the engine images for containers.

pub mod docker;
pub mod emulator;
pub mod proxy;
pub mod python;
pub mod real;

use std::path::PathBuf;

/// The workspace root (this crate lives in `tests/support`).
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The target dir the running test executable was built into (`…/target/<profile>/deps/<test>`
/// → `…/target`), so helpers find and build binaries beside it.
pub fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current test executable");
    exe.ancestors()
        .find(|dir| dir.file_name().is_some_and(|name| name == "deps"))
        .and_then(|deps| deps.parent())
        .and_then(|profile| profile.parent())
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"))
}

/// Whether `binary` is missing or older than any emulator source (tests/emulator/src,
/// Cargo.toml, Cargo.lock): a stale binary would test yesterday's emulator.
pub(crate) fn emulator_binary_is_stale(binary: &std::path::Path) -> bool {
    let Ok(built) = binary.metadata().and_then(|m| m.modified()) else {
        return true;
    };
    let root = workspace_root();
    let mut sources = vec![
        root.join("Cargo.lock"),
        root.join("tests/emulator/Cargo.toml"),
    ];
    if let Ok(entries) = std::fs::read_dir(root.join("tests/emulator/src")) {
        sources.extend(entries.flatten().map(|e| e.path()));
    }
    sources
        .iter()
        .filter_map(|p| p.metadata().and_then(|m| m.modified()).ok())
        .any(|changed| changed > built)
}

/// `$CARGO` when run under cargo, else `cargo`.
pub(crate) fn cargo() -> std::process::Command {
    std::process::Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

/// A TCP port on 127.0.0.1 that was free a moment ago (for publishing a container's port, or
/// giving a process a fixed `--listen` it keeps across restarts).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port on 127.0.0.1")
}

/// The musl target of the static agent the images and containers carry.
pub const MUSL_TARGET: &str = "x86_64-unknown-linux-musl";

fn newest_change(path: &std::path::Path) -> std::time::SystemTime {
    let own = path
        .metadata()
        .and_then(|m| m.modified())
        .unwrap_or(std::time::SystemTime::UNIX_EPOCH);
    match std::fs::read_dir(path) {
        Ok(entries) => entries
            .flatten()
            .map(|e| newest_change(&e.path()))
            .fold(own, std::time::SystemTime::max),
        Err(_) => own,
    }
}

/// The static agent binary the image carries (scripts/test.sh builds it before the tests);
/// rebuilt when missing or older than the agent's sources, so the image never tests yesterday's
/// agent.
pub fn static_agent_binary() -> PathBuf {
    static BINARY: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BINARY
        .get_or_init(|| {
            let target = target_dir();
            let binary = target.join(MUSL_TARGET).join("image/catalog-reloader");
            let built = binary
                .metadata()
                .and_then(|m| m.modified())
                .unwrap_or(std::time::SystemTime::UNIX_EPOCH);
            let sources = [
                workspace_root().join("src"),
                workspace_root().join("Cargo.toml"),
                workspace_root().join("Cargo.lock"),
            ];
            if sources.iter().any(|s| newest_change(s) > built) {
                let status = cargo()
                    .args(["build", "--profile", "image", "--target", MUSL_TARGET])
                    // Both packages, as scripts/test.sh builds them, so the dependencies'
                    // features stay the same and nothing is rebuilt twice.
                    .args(["-p", "catalog-reloader", "-p", "coordinator-emulator"])
                    .arg("--target-dir")
                    .arg(&target)
                    .current_dir(workspace_root())
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
