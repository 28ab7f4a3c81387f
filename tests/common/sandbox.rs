//! Restart mode's set-up: a coordinator container whose catalog folder is a host folder — the
//! agent's target folder — and the agent's source folder beside it. The container runs the
//! emulator's image (tests/restart.rs) or a real engine's (tests/real_restart.rs); each test file
//! says how long it waits for it and which flags its agent gets.

use super::{Folder, now_secs};
use std::os::unix::fs::PermissionsExt;
use test_support::docker::{Container, Flavour};
use test_support::emulator::{QueryError, QueryOutput, count_nations, run_query, user_catalogs};
use test_support::free_port;

pub struct ContainerSandbox {
    pub flavour: Flavour,
    /// The folder the agent watches.
    pub source: Folder,
    /// The folder the agent renders into: the coordinator's catalog folder.
    pub target: tempfile::TempDir,
    pub coordinator: Container,
    port: u16,
    /// Unix seconds before the container was created: its starts are counted from here.
    created: u64,
}

impl ContainerSandbox {
    /// `docker run` of `image` — `docker_args` before it (a restart policy, environment),
    /// `image_args` after it — publishing its port 8080 on a free host port, with the target
    /// folder, holding `initial` catalog files, as its catalog folder. Does not wait for it.
    pub fn start(
        flavour: Flavour,
        image: &str,
        docker_args: &[&str],
        image_args: &[&str],
        initial: &[(&str, &str)],
    ) -> ContainerSandbox {
        let target = tempfile::tempdir().unwrap();
        // The Trino image runs as uid 1000: the folder must be readable by it.
        std::fs::set_permissions(target.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        for (name, text) in initial {
            std::fs::write(target.path().join(format!("{name}.properties")), text).unwrap();
        }
        let catalog_dir = match flavour {
            Flavour::Presto => "/opt/presto-server/etc/catalog",
            Flavour::Trino => "/etc/trino/catalog",
        };
        let port = free_port();
        let created = now_secs();
        let publish = format!("127.0.0.1:{port}:8080");
        let mount = format!("{}:{catalog_dir}", target.path().display());
        let mut args = vec!["-p", publish.as_str(), "-v", mount.as_str()];
        args.extend_from_slice(docker_args);
        args.push(image);
        args.extend_from_slice(image_args);
        ContainerSandbox {
            flavour,
            source: Folder::new(),
            target,
            coordinator: Container::run(&args),
            port,
            created,
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn query(&self, sql: &str) -> Result<QueryOutput, QueryError> {
        run_query(&self.url(), self.flavour, "test", sql)
    }

    /// `SELECT count(*) FROM "catalog".tiny.nation`: 25 through a working tpch catalog.
    pub fn nations(&self, catalog: &str) -> Result<i64, String> {
        count_nations(&self.url(), self.flavour, catalog)
    }

    /// Catalogs the coordinator lists, `system` excluded; `None` while it is down.
    pub fn catalogs(&self) -> Option<Vec<String>> {
        user_catalogs(&self.url(), self.flavour)
    }

    /// How often Docker started the container after its first start (its event log).
    pub fn restarts(&self) -> usize {
        self.coordinator
            .starts_since(self.created)
            .saturating_sub(1)
    }
}
