//! Restart mode on a real PrestoDB 0.296 cluster — a coordinator and two workers in containers
//! under `--restart unless-stopped`, all reading one catalog folder (the agent's target folder),
//! with the configuration of `compose/presto-cluster/etc/` — and the agent as a host process with
//! no Docker access at all (`DOCKER_HOST` points nowhere): every node is restarted by the engine's
//! own shutdown and its restart policy, as kubelet does with `restartPolicy: Always`.
//!
//! What is asserted is what a user sees: the catalog answers a query that runs on the workers
//! (`node-scheduler.include-coordinator=false`), every node announces it, Docker's event log shows
//! one restart per node; a definition a worker cannot start with is rolled back on that worker,
//! and the other worker and the coordinator are never restarted.

mod common;

use common::{Folder, agent, assert_rolled_back, now_secs, one_cluster, wait_for};
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::time::Duration;
use test_support::docker::{Container, Flavour, Network, require_docker};
use test_support::emulator::{QueryError, QueryOutput, count_nations, run_query};
use test_support::free_port;
use test_support::real::Engines;

/// Three JVMs share two cores: a start takes 30–60 s here, a roll of three nodes minutes.
const SLOW: Duration = Duration::from_secs(600);

fn etc(file: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("compose/presto-cluster/etc")
        .join(file)
}

struct Cluster {
    source: Folder,
    target: tempfile::TempDir,
    coordinator: Container,
    workers: Vec<Container>,
    port: u16,
    // Dropped after the containers.
    _network: Network,
}

impl Cluster {
    fn new(initial: &[(&str, &str)]) -> Option<Cluster> {
        if !require_docker() {
            return None;
        }
        let engines = Engines::required()?;
        let network = Network::create();
        let target = tempfile::tempdir().unwrap();
        std::fs::set_permissions(target.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        for (name, text) in initial {
            std::fs::write(target.path().join(format!("{name}.properties")), text).unwrap();
        }
        let catalogs = format!(
            "{}:/opt/presto-server/etc/catalog:ro",
            target.path().display()
        );
        let jvm = format!(
            "{}:/opt/presto-server/etc/jvm.config:ro",
            etc("jvm.config").display()
        );
        let port = free_port();
        let node = |role: &str, alias: &str, publish: Option<String>| {
            let config = format!(
                "{}:/opt/presto-server/etc/config.properties:ro",
                etc(&format!("{role}.properties")).display()
            );
            let mut args = vec![
                "--network".to_string(),
                network.name().to_string(),
                "--network-alias".to_string(),
                alias.to_string(),
                "--hostname".to_string(),
                alias.to_string(),
                "--restart".to_string(),
                "unless-stopped".to_string(),
                // As compose/presto-cluster: the image's health check runs a query, which only a
                // coordinator answers, and one it abandons leaves a task a worker's shutdown waits
                // minutes for.
                "--no-healthcheck".to_string(),
                "-v".to_string(),
                config,
                "-v".to_string(),
                jvm.clone(),
                "-v".to_string(),
                catalogs.clone(),
            ];
            if let Some(publish) = publish {
                args.extend(["-p".to_string(), publish]);
            }
            args.push(engines.presto_image.clone());
            let refs: Vec<&str> = args.iter().map(String::as_str).collect();
            Container::run(&refs)
        };
        let coordinator = node(
            "coordinator",
            "coordinator",
            Some(format!("127.0.0.1:{port}:8080")),
        );
        let workers = vec![
            node("worker", "worker-1", None),
            node("worker", "worker-2", None),
        ];
        let cluster = Cluster {
            source: Folder::new(),
            target,
            coordinator,
            workers,
            port,
            _network: network,
        };
        // Up when both workers are active and a query through a catalog runs on them.
        wait_for(SLOW, "the cluster to answer a query on its workers", || {
            (cluster.active_workers() == 2).then_some(())?;
            let first = initial.first().map_or("system", |(name, _)| name);
            if first == "system" {
                return Some(());
            }
            cluster.nations(first).ok().map(drop)
        });
        Some(cluster)
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn query(&self, sql: &str) -> Result<QueryOutput, QueryError> {
        run_query(&self.url(), Flavour::Presto, "test", sql)
    }

    fn nations(&self, catalog: &str) -> Result<i64, String> {
        count_nations(&self.url(), Flavour::Presto, catalog)
    }

    fn active_workers(&self) -> usize {
        self.query(
            "SELECT count(*) FROM system.runtime.nodes WHERE NOT coordinator AND state = 'active'",
        )
        .ok()
        .and_then(|out| out.rows[0][0].as_u64())
        .unwrap_or(0) as usize
    }

    /// The catalogs each node announced to the coordinator (`system` left out), by host name.
    fn announced(&self) -> std::collections::BTreeMap<String, String> {
        let body: serde_json::Value = common::http()
            .get(format!("{}/v1/service/presto", self.url()))
            .send()
            .and_then(|r| r.json())
            .unwrap_or_default();
        body["services"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|s| {
                let mut ids: Vec<&str> = s["properties"]["connectorIds"]
                    .as_str()
                    .unwrap_or_default()
                    .split(',')
                    .filter(|id| !id.is_empty() && *id != "system")
                    .collect();
                ids.sort_unstable();
                (
                    s["nodeId"].as_str().unwrap_or_default().to_string(),
                    ids.join(","),
                )
            })
            .collect()
    }

    /// Restarts of each container by its restart policy: [coordinator, worker-1, worker-2].
    fn restarts(&self) -> Vec<usize> {
        std::iter::once(&self.coordinator)
            .chain(&self.workers)
            .map(Container::restart_count)
            .collect()
    }

    fn agent(&self) -> common::AgentBuilder {
        let target = self.target.path().display().to_string();
        agent("run", self.source.path(), &self.url())
            .args(["--target-dir", &target])
            .args(["--restart-method", "engine-shutdown"])
            .args(["--min-restart-interval", "1s", "--debounce", "200ms"])
            .args(["--start-timeout", "240s", "--drain-timeout", "60s"])
            // No Docker for the agent: the restarts must not need it.
            .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    }

    fn logs(&self) -> String {
        std::iter::once(&self.coordinator)
            .chain(&self.workers)
            .map(|c| {
                let logs = c.logs();
                let tail: Vec<&str> = logs.lines().rev().take(15).collect();
                format!(
                    "--- {}\n{}",
                    c.name(),
                    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

const TPCH: &str = "connector.name=tpch\n";

/// A new catalog reaches every node, workers first and one at a time, without the Docker socket:
/// `applied` means a query on the workers answers through it.
#[test]
fn presto_cluster_every_node_restarts_once_and_the_catalog_answers_on_the_workers() {
    let _one = one_cluster();
    let Some(cluster) = Cluster::new(&[("keep", TPCH)]) else {
        return;
    };
    cluster.source.write("keep.properties", TPCH);
    let agent = cluster.agent().args(["--adopt"]).start();
    agent.wait_state_within("keep", "applied", SLOW);
    assert_eq!(cluster.restarts(), [0, 0, 0], "the folder is what runs");

    // Queries run on the workers the whole time the workers roll: none may fail (a worker asked
    // to shut down finishes its tasks and takes no new ones; the other worker takes them).
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let load = {
        let (stop, url) = (stop.clone(), cluster.url());
        std::thread::spawn(move || {
            let mut outcomes = Vec::new();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                outcomes.push(
                    run_query(
                        &url,
                        Flavour::Presto,
                        "test",
                        "SELECT count(*) FROM keep.tiny.lineitem",
                    )
                    .map(drop)
                    .map_err(|e| e.to_string()),
                );
            }
            outcomes
        })
    };
    cluster.source.write_atomically("sales.properties", TPCH);
    wait_for(SLOW, "the workers' roll to end", || {
        agent
            .log_text()
            .contains("restarting the coordinator")
            .then_some(())
    });
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let outcomes = load.join().unwrap();
    let failed: Vec<&String> = outcomes.iter().filter_map(|o| o.as_ref().err()).collect();
    assert!(
        outcomes.len() >= 10 && failed.is_empty(),
        "{} queries during the workers' roll, failed: {failed:?}",
        outcomes.len()
    );
    agent.wait_state_within("sales", "applied", SLOW);
    assert_eq!(cluster.nations("sales"), Ok(25), "{}", cluster.logs());
    let announced = cluster.announced();
    for worker in ["worker-1", "worker-2"] {
        assert_eq!(
            announced.get(worker).map(String::as_str),
            Some("keep,sales"),
            "{announced:?}"
        );
    }
    assert_eq!(cluster.restarts(), [1, 1, 1], "one restart per node");
    // The workers went first, one at a time: the agent says so in this order.
    let order = restarted_nodes(&agent);
    assert_eq!(order, ["worker-1", "worker-2", "coordinator"], "{order:?}");

    // An edit keeps the catalog's name, so the workers announce the same names before and after:
    // they must still restart, or they keep running the old definition. With STANDARD column
    // naming the coordinator plans `n_name`, which the workers' connector must know too.
    cluster.source.write_atomically(
        "sales.properties",
        "connector.name=tpch\ntpch.column-naming=STANDARD\n",
    );
    wait_for(SLOW, "every node restarted for the edit", || {
        (cluster.restarts() == [2, 2, 2]).then_some(())
    });
    wait_for(SLOW, "the edited catalog to answer on the workers", || {
        let out = cluster
            .query("SELECT count(n_name) FROM sales.tiny.nation")
            .ok()?;
        (out.rows[0][0].as_i64() == Some(25)).then_some(())
    });
    agent.wait_state_within("sales", "applied", SLOW);
    assert_eq!(
        cluster.restarts(),
        [2, 2, 2],
        "one restart per node for the edit"
    );

    // A delete reaches every node too: no node announces it any more, the coordinator lists it no
    // more.
    cluster.source.remove("sales.properties");
    wait_for(SLOW, "every node restarted for the delete", || {
        (cluster.restarts() == [3, 3, 3]).then_some(())
    });
    wait_for(SLOW, "no worker announces the deleted catalog", || {
        let announced = cluster.announced();
        ["worker-1", "worker-2"]
            .iter()
            .all(|w| announced.get(*w).map(String::as_str) == Some("keep"))
            .then_some(())
    });
    wait_for(SLOW, "the agent to report it removed", || {
        agent
            .catalog("sales")
            .is_none_or(|c| c["state"] == "removed")
            .then_some(())
    });
    assert!(!cluster.target.path().join("sales.properties").exists());
    // The coordinator restarted last: it says SERVER_STARTING_UP for a while.
    let listed = wait_for(SLOW, "the coordinator to list its catalogs", || {
        cluster.query("SHOW CATALOGS").ok()
    });
    assert!(
        !listed.rows.iter().any(|r| r[0] == "sales"),
        "{:?}",
        listed.rows
    );
    assert_eq!(cluster.nations("keep"), Ok(25));
    assert!(
        !agent.log_text().contains("docker restart"),
        "no Docker call: {}",
        agent.log_text()
    );
}

/// A definition a worker cannot start with stops the roll at that worker: the files are restored,
/// the worker comes back on them, the catalog is reported failed, and neither the other worker nor
/// the coordinator was restarted.
#[test]
fn presto_cluster_a_worker_that_cannot_start_is_rolled_back_and_the_rest_never_restart() {
    let _one = one_cluster();
    let Some(cluster) = Cluster::new(&[("keep", TPCH)]) else {
        return;
    };
    cluster.source.write("keep.properties", TPCH);
    let agent = cluster.agent().args(["--adopt"]).start();
    agent.wait_state_within("keep", "applied", SLOW);

    cluster.source.write_atomically(
        "broken.properties",
        "connector.name=tpch\ntpch.splits-per-node=abc\n",
    );
    let broken = agent.wait_state_within("broken", "failed", SLOW);
    assert_rolled_back(
        "broken",
        &broken,
        cluster.target.path(),
        "worker-1 did not start with this catalog",
    );
    // worker-1 is back on the previous catalogs and takes work again.
    wait_for(SLOW, "both workers active", || {
        (cluster.active_workers() == 2).then_some(())
    });
    assert_eq!(cluster.nations("keep"), Ok(25));
    let restarts = cluster.restarts();
    assert_eq!(restarts[0], 0, "the coordinator was not restarted");
    assert!(restarts[1] >= 1, "worker-1 was restarted: {restarts:?}");
    assert_eq!(restarts[2], 0, "worker-2 never saw the change");
    std::thread::sleep(Duration::from_secs(5));
    assert_eq!(
        cluster.restarts()[1..],
        restarts[1..],
        "no restart loop afterwards"
    );
    drop(agent);

    // --min-active-workers 2 with two workers: restarting either would leave one. The change
    // waits, says why, and no node is touched.
    let agent = cluster
        .agent()
        .args(["--adopt", "--min-active-workers", "2"])
        .start();
    agent.wait_state_within("keep", "applied", SLOW);
    cluster.source.write_atomically("broken.properties", TPCH);
    let waiting = agent.wait_state_within("broken", "pending", SLOW);
    let reason = waiting.to_string();
    wait_for(SLOW, "the reason the workers wait", || {
        let now = agent.catalog("broken")?.to_string();
        now.contains("fewer than --min-active-workers 2")
            .then_some(())
    });
    assert!(
        agent
            .catalog("broken")
            .unwrap()
            .to_string()
            .contains("the cluster has no more workers than that"),
        "{reason}"
    );
    assert_eq!(cluster.restarts(), restarts, "no node was restarted");
}

/// Trino 476 with static catalogs, a coordinator and a worker in containers reading one catalog
/// folder: the worker is restarted by Trino's own shutdown — which Trino allows a user only with
/// system-information write access, given here by file-based access control on the worker — and
/// its restart policy; the coordinator, which Trino never shuts down on request, through its
/// container (the Docker method). The new catalog answers a query that runs on the worker only.
/// A static Trino 476 coordinator and one worker in containers on a user network, reading one
/// catalog folder (`keep` in it); the coordinator under `restart: unless-stopped`, published on a
/// host port; the worker with `worker_args` (its restart policy, its access control).
struct TrinoCluster {
    target: tempfile::TempDir,
    coordinator: Container,
    worker: Container,
    url: String,
    /// Unix seconds when both served.
    since: u64,
    _etc: tempfile::TempDir,
    // Dropped after the containers.
    _network: Network,
}

impl TrinoCluster {
    /// `worker_access_control`: the worker lets the agent shut it down (file-based access control
    /// granting system-information write); without, Trino's default refuses it.
    fn new(worker_restart: &str, worker_access_control: bool) -> Option<TrinoCluster> {
        if !require_docker() {
            return None;
        }
        let engines = Engines::required()?;
        let network = Network::create();
        let etc = tempfile::tempdir().unwrap();
        std::fs::set_permissions(etc.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let write = |name: &str, text: &str| {
            let path = etc.path().join(name);
            std::fs::write(&path, text).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
            path.display().to_string()
        };
        let coordinator_config = write(
            "coordinator.properties",
            "coordinator=true\nnode-scheduler.include-coordinator=false\nhttp-server.http.port=8080\n\
             discovery.uri=http://coordinator:8080\ncatalog.management=static\n",
        );
        let worker_config = write(
            "worker.properties",
            "coordinator=false\nhttp-server.http.port=8080\ndiscovery.uri=http://coordinator:8080\n\
             catalog.management=static\nshutdown.grace-period=5s\n",
        );
        let mount = |from: &str, to: &str| format!("{from}:{to}:ro");
        let target = tempfile::tempdir().unwrap();
        std::fs::set_permissions(target.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::write(target.path().join("keep.properties"), TPCH).unwrap();
        let catalogs = format!("{}:/etc/trino/catalog:ro", target.path().display());
        let port = free_port();
        let publish = format!("127.0.0.1:{port}:8080");
        let coordinator = Container::run(&[
            "--network",
            network.name(),
            "--network-alias",
            "coordinator",
            "--hostname",
            "coordinator",
            "--restart",
            "unless-stopped",
            "-p",
            &publish,
            "-v",
            &mount(&coordinator_config, "/etc/trino/config.properties"),
            "-v",
            &catalogs,
            &engines.trino_image,
        ]);
        let mut worker_args: Vec<String> = [
            "--network",
            network.name(),
            "--hostname",
            "worker-1",
            "--restart",
            worker_restart,
            "-v",
            &mount(&worker_config, "/etc/trino/config.properties"),
            "-v",
            &catalogs,
        ]
        .map(String::from)
        .to_vec();
        if worker_access_control {
            // Only the worker lets the agent shut it down; everything else stays allowed.
            let access_control = write(
                "access-control.properties",
                "access-control.name=file\nsecurity.config-file=/etc/trino/rules.json\n",
            );
            let rules = write(
                "rules.json",
                r#"{"catalogs": [{"allow": "all"}], "system_information": [{"allow": ["read", "write"]}]}"#,
            );
            worker_args.extend([
                "-v".into(),
                mount(&access_control, "/etc/trino/access-control.properties"),
                "-v".into(),
                mount(&rules, "/etc/trino/rules.json"),
            ]);
        }
        worker_args.push(engines.trino_image.clone());
        let worker = Container::run(&worker_args.iter().map(String::as_str).collect::<Vec<_>>());
        let mut cluster = TrinoCluster {
            target,
            coordinator,
            worker,
            url: format!("http://127.0.0.1:{port}"),
            since: 0,
            _etc: etc,
            _network: network,
        };
        wait_for(SLOW, "the worker to answer a query", || {
            cluster.nations("keep").ok()
        });
        cluster.since = now_secs();
        Some(cluster)
    }

    /// `SELECT count(*)` of the catalog's nations: it runs on the worker.
    fn nations(&self, catalog: &str) -> Result<i64, String> {
        count_nations(&self.url, Flavour::Trino, catalog)
    }

    /// The agent in restart mode for this cluster, the coordinator through its container, its
    /// folder holding `keep` (which the cluster runs: adopted); returned once `keep` is applied.
    fn agent(&self, worker_restart_method: &str) -> (Folder, common::RunningAgent) {
        let source = Folder::new();
        source.write("keep.properties", TPCH);
        let agent = agent("run", source.path(), &self.url)
            .args(["--engine", "trino", "--mode", "restart", "--adopt"])
            .args(["--target-dir", &self.target.path().display().to_string()])
            .args(["--container", self.coordinator.name()])
            .args(["--worker-restart-method", worker_restart_method])
            // One worker: restarting it leaves none (the default keeps one active).
            .args(["--min-active-workers", "0"])
            .args(["--min-restart-interval", "1s", "--debounce", "200ms"])
            .args(["--start-timeout", "240s", "--drain-timeout", "60s"])
            .start();
        agent.wait_state_within("keep", "applied", SLOW);
        (source, agent)
    }

    /// `sales` dropped into `source`: the agent says applied, and it answers a query that runs on
    /// the worker.
    fn add_sales(&self, source: &Folder, agent: &common::RunningAgent) {
        source.write_atomically("sales.properties", TPCH);
        agent.wait_state_within("sales", "applied", SLOW);
        assert_eq!(self.nations("sales"), Ok(25), "runs on the worker");
    }
}

/// The nodes the agent restarted, in order (`coordinator` for the coordinator).
fn restarted_nodes(agent: &common::RunningAgent) -> Vec<String> {
    agent
        .log_json()
        .into_iter()
        .filter(|l| l["action"] == "restart" && l["outcome"] == "ok")
        .map(|l| l["node"].as_str().unwrap_or("coordinator").to_string())
        .collect()
}

#[test]
fn trino_static_cluster_worker_by_engine_shutdown_coordinator_by_its_container() {
    let _one = one_cluster();
    let Some(cluster) = TrinoCluster::new("unless-stopped", true) else {
        return;
    };
    // The worker through the engine's shutdown alone: its restart policy starts it again.
    let (source, agent) = cluster.agent("engine-shutdown");
    cluster.add_sales(&source, &agent);
    assert_eq!(
        cluster.worker.restart_count(),
        1,
        "the worker restarted by its own shutdown"
    );
    assert_eq!(
        cluster.coordinator.restart_count(),
        0,
        "the coordinator was not shut down by the engine"
    );
    assert_eq!(
        cluster.coordinator.starts_since(cluster.since),
        1,
        "the coordinator restarted once, by Docker"
    );
    let order = restarted_nodes(&agent);
    assert_eq!(order, ["worker-1", "coordinator"], "{order:?}");
    assert!(
        agent.log_text().contains("SHUTTING_DOWN"),
        "{}",
        agent.log_text()
    );
}

/// Workers through Docker (`--worker-restart-method auto` with the coordinator's container): a
/// Trino worker under Trino's default access control refuses the engine's shutdown and has no
/// restart policy (`--restart no`). The agent finds its container by the worker's address,
/// restarts it through Docker once no query runs, and reads its log: a definition the worker
/// cannot start with is blamed by the worker's own error, the container is started again on the
/// restored files, and the other catalog written with it is applied by the next restart.
#[test]
fn trino_static_cluster_worker_through_its_container_and_its_log() {
    let _one = one_cluster();
    let Some(cluster) = TrinoCluster::new("no", false) else {
        return;
    };
    let (source, agent) = cluster.agent("auto");
    cluster.add_sales(&source, &agent);
    assert_eq!(
        cluster.worker.starts_since(cluster.since),
        1,
        "the worker restarted once, by Docker"
    );
    assert_eq!(cluster.worker.restart_count(), 0, "no restart policy");
    assert_eq!(restarted_nodes(&agent), ["worker-1", "coordinator"]);
    let log = agent.log_text();
    assert!(
        log.contains("refused the engine's shutdown") && log.contains("docker restart"),
        "{log}"
    );

    // One catalog the worker cannot start with, one good one, in one change.
    let since = now_secs();
    source.write_atomically(
        "broken.properties",
        "connector.name=tpch\ntpch.splits-per-node=abc\n",
    );
    source.write_atomically("more.properties", TPCH);
    let broken = agent.wait_state_within("broken", "failed", SLOW);
    let error = broken["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("worker-1") && error.contains("tpch.splits-per-node"),
        "the worker's own error, from its log: {broken}"
    );
    agent.wait_state_within("more", "applied", SLOW);
    assert_eq!(cluster.nations("more"), Ok(25), "runs on the worker");
    assert_eq!(cluster.nations("keep"), Ok(25));
    assert!(
        !cluster.target.path().join("broken.properties").exists(),
        "the broken definition is not in the catalog folder"
    );
    // The failed start, its rollback's start, the start with `more`; the coordinator only once
    // (with `more`): the broken definition never reached it.
    assert_eq!(cluster.worker.starts_since(since), 3);
    assert_eq!(cluster.coordinator.starts_since(since), 1);
}

/// A static Trino 476 coordinator refuses the engine's shutdown; without a Docker socket it is
/// restarted by a signal through a PID namespace it shares with the agent — a pod with
/// `shareProcessNamespace: true`, reproduced as the kubelet builds it: a sandbox container owns
/// the network and PID namespaces, the coordinator (restart policy) and the agent join both. The
/// agent runs as Trino's own user with every capability dropped. A new catalog: SIGTERM, the
/// policy starts Trino again, the catalog answers. A definition Trino cannot start with: the
/// start fails, the file is put back, the coordinator comes back on it.
#[test]
fn static_trino_coordinator_restarted_by_a_signal_through_a_shared_pid_namespace() {
    let _one = one_cluster();
    if !require_docker() {
        return;
    }
    let Some(engines) = Engines::required() else {
        return;
    };
    let open = |mode: u32| {
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(mode)).unwrap();
        dir
    };
    let source = open(0o755);
    let target = open(0o777);
    std::fs::write(target.path().join("keep.properties"), TPCH).unwrap();
    let write_source = |name: &str, text: &str| {
        let tmp = source.path().join(format!(".{name}.tmp"));
        std::fs::write(&tmp, text).unwrap();
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o644)).unwrap();
        std::fs::rename(&tmp, source.path().join(name)).unwrap();
    };
    write_source("keep.properties", TPCH);
    let port = free_port();
    let agent_port = free_port();
    let image = engines.trino_image.as_str();
    let sandbox = Container::run(&[
        "--no-healthcheck",
        "-p",
        &format!("127.0.0.1:{port}:8080"),
        "-p",
        &format!("127.0.0.1:{agent_port}:9480"),
        "--entrypoint",
        "sleep",
        image,
        "infinity",
    ]);
    let in_pod = format!("container:{}", sandbox.name());
    let coordinator = Container::run(&[
        "--network",
        &in_pod,
        "--pid",
        &in_pod,
        "--restart",
        "unless-stopped",
        "-v",
        &format!("{}:/etc/trino/catalog:ro", target.path().display()),
        image,
    ]);
    let url = format!("http://127.0.0.1:{port}");
    let nations = |catalog: &str| count_nations(&url, Flavour::Trino, catalog);
    wait_for(SLOW, "Trino to answer", || nations("keep").ok());
    let agent = Container::run(&[
        "--network",
        &in_pod,
        "--pid",
        &in_pod,
        "--no-healthcheck",
        "--user",
        "1000:1000",
        "--cap-drop",
        "ALL",
        "--security-opt",
        "no-new-privileges",
        "-v",
        &format!(
            "{}:/catalog-reloader:ro",
            test_support::static_agent_binary().display()
        ),
        "-v",
        &format!("{}:/catalogs:ro", source.path().display()),
        "-v",
        &format!("{}:/catalog", target.path().display()),
        "--entrypoint",
        "/catalog-reloader",
        image,
        "--log-format",
        "json",
        "run",
        "--catalog-dir",
        "/catalogs",
        "--server",
        "http://localhost:8080",
        "--engine",
        "trino",
        "--mode",
        "restart",
        "--adopt",
        "--target-dir",
        "/catalog",
        "--restart-method",
        "signal",
        "--min-restart-interval",
        "1s",
        "--debounce",
        "200ms",
        // A start that fails before Trino answers shows only as no answer: keep the wait short.
        "--start-timeout",
        "120s",
    ]);
    let catalog = |name: &str| -> Option<serde_json::Value> {
        let status: serde_json::Value = common::http()
            .get(format!("http://127.0.0.1:{agent_port}/status"))
            .send()
            .and_then(|r| r.json())
            .ok()?;
        status["catalogs"].get(name).cloned()
    };
    let wait_state = |name: &str, state: &str| {
        wait_for(SLOW, &format!("{name} to be {state}"), || {
            catalog(name).filter(|c| c["state"] == state)
        })
    };
    wait_state("keep", "applied");
    assert_eq!(coordinator.restart_count(), 0);

    write_source("sales.properties", TPCH);
    wait_state("sales", "applied");
    assert_eq!(nations("sales"), Ok(25), "{}", agent.logs());
    assert_eq!(
        coordinator.restart_count(),
        1,
        "one restart by the policy: {}",
        agent.logs()
    );
    assert!(agent.logs().contains("SIGTERM"), "{}", agent.logs());

    write_source(
        "broken.properties",
        "connector.name=tpch\ntpch.splits-per-node=abc\n",
    );
    let failed = wait_state("broken", "failed");
    assert_rolled_back(
        "broken",
        &failed,
        target.path(),
        "the coordinator did not start with this catalog",
    );
    wait_for(SLOW, "Trino back on the restored folder", || {
        nations("sales").ok()
    });
    assert_eq!(nations("keep"), Ok(25));
    let settled = coordinator.restart_count();
    std::thread::sleep(Duration::from_secs(10));
    assert_eq!(
        coordinator.restart_count(),
        settled,
        "no restart loop: {}",
        agent.logs()
    );
    drop(agent);
    drop(coordinator);
    drop(sandbox);
}
