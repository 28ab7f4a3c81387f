//! The reconciler's settings, as the command line gives them.

use crate::catalog::Flavour;
use crate::engine::ModeChoice;
use crate::engine::nodes::{RestartSettings, WorkerRestartMethod};
use std::path::PathBuf;
use std::time::Duration;

/// Restart mode's settings.
#[derive(Debug, Clone, Default)]
pub struct RestartOptions {
    /// The coordinator's catalog folder.
    pub target_dir: Option<PathBuf>,
    /// How to restart the coordinator; `None` for the Docker method without `--container` (then
    /// only `sync` works).
    pub coordinator: Option<RestartSettings>,
    pub min_restart_interval: Duration,
    /// Clusters: a worker is restarted only while this many other workers are active.
    pub min_active_workers: usize,
    /// Clusters: how workers are restarted.
    pub worker_method: WorkerRestartMethod,
    /// Clusters without a shared volume: the port of each worker's follower.
    pub follower_port: Option<u16>,
    /// The key the leader and its followers exchange fingerprints with.
    pub cluster_key: Option<crate::release::ClusterKey>,
}

pub struct Settings {
    pub catalog_dir: PathBuf,
    pub forced_flavour: Option<Flavour>,
    pub mode: ModeChoice,
    pub adopt: bool,
    /// 0 = unlimited.
    pub max_changes_per_minute: u32,
    pub restart: RestartOptions,
    /// `sync`: in restart mode, render the target folder and stop (an init step before the
    /// coordinator starts); never restart.
    pub render_only: bool,
}

impl Settings {
    /// Restart mode's target folder (the coordinator's catalog folder); the mode is restart only
    /// with one (`--target-dir`).
    pub fn target_dir(&self) -> PathBuf {
        self.restart
            .target_dir
            .clone()
            .expect("restart mode is decided only with --target-dir")
    }
}
