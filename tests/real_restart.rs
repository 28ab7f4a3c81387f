//! Restart mode against real engines in containers: PrestoDB 0.296 and Trino 476 with
//! `catalog.management=static`, from the images `scripts/engines.sh` builds, with the target
//! folder bind-mounted as their catalog folder and the agent as a host process. What is asserted
//! is what a user sees: a query through the catalog answers the moment `/status` says `applied`,
//! a file that breaks the start is rolled back with the engine's own words, and Docker's event
//! log counts the restarts.

mod common;

use common::sandbox::ContainerSandbox;
use common::{
    RunningAgent, agent, assert_rolled_back, assert_waited_for_running_queries, wait_for,
};
use std::time::{Duration, Instant};
use test_support::docker::{Flavour, require_docker};
use test_support::emulator::{QueryError, QueryOutput, run_query};
use test_support::real::Engines;

/// A JVM engine starts in 9–26 s here, more when two share the cores; a change is a drain, a
/// restart, a start and a first query.
const SLOW: Duration = Duration::from_secs(240);

/// A real engine's container, the target folder its catalog folder.
struct Sandbox(ContainerSandbox);

impl std::ops::Deref for Sandbox {
    type Target = ContainerSandbox;
    fn deref(&self) -> &ContainerSandbox {
        &self.0
    }
}

impl Sandbox {
    /// A coordinator container with the target folder (holding `initial` catalog files) as its
    /// catalog folder; `docker_args` go to `docker run` (a restart policy, environment).
    fn new(flavour: Flavour, docker_args: &[&str], initial: &[(&str, &str)]) -> Option<Sandbox> {
        if !require_docker() {
            return None;
        }
        let engines = Engines::required()?;
        let image = match flavour {
            Flavour::Presto => engines.presto_image,
            Flavour::Trino => engines.trino_image,
        };
        let sandbox = Sandbox(ContainerSandbox::start(
            flavour,
            &image,
            docker_args,
            &[],
            initial,
        ));
        sandbox.wait_ready();
        Some(sandbox)
    }

    /// A coordinator running `tpch` from its folder, the agent's folder saying the same, and the
    /// agent, which adopted it, past its first pass.
    fn running_tpch(flavour: Flavour, docker_args: &[&str]) -> Option<(Sandbox, RunningAgent)> {
        let sandbox = Sandbox::new(flavour, docker_args, &[("tpch", TPCH)])?;
        sandbox.source.write("tpch.properties", TPCH);
        let agent = sandbox.agent(&["--adopt"]).start();
        agent.wait_first_pass();
        Some((sandbox, agent))
    }

    /// Edits `sales` to tpch's STANDARD column naming, an edit a query can see; returns the
    /// catalog's fingerprint from before.
    fn edit_sales_to_standard_naming(&self, agent: &RunningAgent) -> serde_json::Value {
        let before = agent.catalog("sales").unwrap()["fingerprint"].clone();
        self.source.write_atomically(
            "sales.properties",
            "connector.name=tpch\ntpch.column-naming=STANDARD\n",
        );
        before
    }

    /// Waits until the agent applied the edit (`sales` no longer has the fingerprint `before`);
    /// then the new definition is live: a query reads a column by its STANDARD name.
    fn assert_edit_live(&self, agent: &RunningAgent, before: &serde_json::Value) {
        wait_for(SLOW, "the edit to be applied", || {
            let now = agent.catalog("sales")?;
            (now["fingerprint"] != *before && now["state"] == "applied").then_some(())
        });
        assert!(
            self.query("SELECT n_name FROM sales.tiny.nation LIMIT 1")
                .is_ok(),
            "the new definition is live"
        );
    }

    /// Until a query reading a table answers (`starting: false` is not enough on PrestoDB).
    fn wait_ready(&self) {
        wait_for(SLOW, "the coordinator to answer a query", || {
            self.query("SELECT count(*) FROM system.runtime.nodes")
                .ok()?;
            self.catalogs()
        });
    }

    fn agent(&self, extra: &[&str]) -> common::AgentBuilder {
        let target = self.target.path().display().to_string();
        agent("run", self.source.path(), &self.url())
            .args(["--target-dir", &target])
            .args(["--container", self.coordinator.name()])
            .args(["--min-restart-interval", "1s", "--debounce", "200ms"])
            .args(["--start-timeout", "150s", "--drain-timeout", "120s"])
            .args(extra.iter().copied())
    }

    /// `SELECT count(*) FROM tpch.sf1.lineitem` as `analyst`, in the background; returns once the
    /// coordinator lists it as running. It takes seconds: a restart now would cut it off.
    fn long_query(&self) -> std::thread::JoinHandle<Result<QueryOutput, QueryError>> {
        let (url, flavour) = (self.url(), self.flavour);
        let running = std::thread::spawn(move || {
            run_query(
                &url,
                flavour,
                "analyst",
                "SELECT count(*) FROM tpch.sf1.lineitem",
            )
        });
        wait_for(SLOW, "the long query to run", || {
            let queries: Vec<serde_json::Value> = common::http()
                .get(format!("{}/v1/query", self.url()))
                .header(self.flavour.user_header(), "test")
                .send()
                .ok()?
                .json()
                .ok()?;
            queries
                .iter()
                .any(|q| {
                    q["state"] == "RUNNING"
                        && q["query"]
                            .as_str()
                            .is_some_and(|sql| sql.contains("lineitem"))
                })
                .then_some(())
        });
        running
    }

    /// Waits until Docker's event log shows `n` restarts (a busy daemon lists an event a moment
    /// after the container answers), then checks that there are not more.
    fn assert_restarts(&self, n: usize) {
        let seen = wait_for(Duration::from_secs(30), &format!("{n} restarts"), || {
            let seen = self.restarts();
            (seen >= n).then_some(seen)
        });
        assert_eq!(seen, n, "restarts of the coordinator");
    }
}

const TPCH: &str = "connector.name=tpch\n";

/// Add, edit, delete on a real PrestoDB: one restart each, and `applied` means a query answers.
#[test]
fn presto_add_edit_delete_each_restart_once_and_applied_means_queryable() {
    let Some((sandbox, agent)) = Sandbox::running_tpch(Flavour::Presto, &[]) else {
        return;
    };
    assert_eq!(agent.status()["mode"], "restart");
    assert_eq!(agent.status()["engine"]["version"], "0.296-8661b73");
    assert_eq!(sandbox.restarts(), 0, "the folder is what runs: no restart");

    sandbox.source.write_atomically("sales.properties", TPCH);
    agent.wait_state_within("sales", "applied", SLOW);
    // The moment the agent says applied, a query through the catalog answers (PrestoDB refuses
    // them with NO_NODES_AVAILABLE for seconds after it reports `starting: false`).
    assert_eq!(sandbox.nations("sales"), Ok(25));
    sandbox.assert_restarts(1);

    // An edit that a query can see: tpch's STANDARD column naming.
    let before = sandbox.edit_sales_to_standard_naming(&agent);
    sandbox.assert_edit_live(&agent, &before);
    sandbox.assert_restarts(2);

    sandbox.source.remove("sales.properties");
    agent.wait_state_within("sales", "removed", SLOW);
    assert_eq!(sandbox.catalogs(), Some(vec!["tpch".to_string()]));
    assert!(!sandbox.target.path().join("sales.properties").exists());
    sandbox.assert_restarts(3);
}

/// A file that keeps PrestoDB from starting is rolled back; PrestoDB is back on the previous
/// catalogs, the culprit is named with PrestoDB's own words, the innocent change goes through at
/// the next restart, and the bad definition is not tried again.
#[test]
fn presto_a_file_that_breaks_the_start_is_rolled_back_and_blamed_alone() {
    let Some(sandbox) = Sandbox::new(Flavour::Presto, &[], &[]) else {
        return;
    };
    sandbox.source.write("keep.properties", TPCH);
    let agent = sandbox.agent(&[]).start();
    agent.wait_state_within("keep", "applied", SLOW);
    assert_eq!(sandbox.nations("keep"), Ok(25));

    // Two changes in one burst: one good, one PrestoDB cannot start with.
    sandbox
        .source
        .write_atomically("fine.properties", "connector.name=tpch\n");
    sandbox.source.write_atomically(
        "broken.properties",
        "connector.name=tpch\ntpch.splits-per-node=abc\n",
    );
    let broken = agent.wait_state_within("broken", "failed", SLOW);
    // PrestoDB's own reason.
    assert_rolled_back(
        "broken",
        &broken,
        sandbox.target.path(),
        "Invalid property tpch.splits-per-node",
    );
    // The good one was rolled back with it, and is applied at the next restart, alone.
    agent.wait_state_within("fine", "applied", SLOW);
    assert_eq!(sandbox.nations("fine"), Ok(25));
    assert_eq!(sandbox.nations("keep"), Ok(25));
    assert!(!sandbox.target.path().join("broken.properties").exists());
    let restarts = sandbox.restarts();
    std::thread::sleep(Duration::from_secs(5));
    assert_eq!(sandbox.restarts(), restarts, "no restart loop");
    assert!(
        agent
            .metrics()
            .contains("catalog_reloader_restarts_total{result=\"rolled_back\"} 1"),
        "{}",
        agent.metrics()
    );
}

/// Queries running when a change arrives finish before PrestoDB restarts.
#[test]
fn presto_queries_running_during_the_drain_finish() {
    let Some((sandbox, agent)) = Sandbox::running_tpch(Flavour::Presto, &[]) else {
        return;
    };
    let running = sandbox.long_query();
    sandbox.source.write_atomically("more.properties", TPCH);
    let result = running.join().unwrap();
    assert_eq!(
        result.map(|o| o.rows[0][0].as_i64()),
        Ok(Some(6_001_215)),
        "the running query was not cut off"
    );
    agent.wait_state_within("more", "applied", SLOW);
    assert_eq!(sandbox.nations("more"), Ok(25));
    sandbox.assert_restarts(1);
    assert_waited_for_running_queries(&agent);
}

/// Trino with `catalog.management=static` in auto mode: the agent learns it from the one
/// refused CREATE, then applies by restarts — add, an edit while a query runs (the query
/// finishes first), delete —; a file that makes Trino exit 100 — crash-looping under `restart:
/// unless-stopped` — is reported with Trino's own error and rolled back.
#[test]
fn static_trino_learnt_from_one_refusal_then_restarted_and_rolled_back() {
    let Some((sandbox, agent)) =
        Sandbox::running_tpch(Flavour::Trino, &["--restart", "unless-stopped"])
    else {
        return;
    };

    sandbox.source.write_atomically("sales.properties", TPCH);
    agent.wait_state_within("sales", "applied", SLOW);
    assert_eq!(sandbox.nations("sales"), Ok(25));
    assert_eq!(agent.status()["mode"], "restart");
    sandbox.assert_restarts(1);

    // An edit while a query runs: the query finishes, then Trino restarts with the new definition.
    let running = sandbox.long_query();
    let before = sandbox.edit_sales_to_standard_naming(&agent);
    assert_eq!(
        running.join().unwrap().map(|o| o.rows[0][0].as_i64()),
        Ok(Some(6_001_215)),
        "the running query was not cut off"
    );
    sandbox.assert_edit_live(&agent, &before);
    sandbox.assert_restarts(2);

    // A delete.
    sandbox.source.remove("sales.properties");
    agent.wait_state_within("sales", "removed", SLOW);
    assert_eq!(sandbox.catalogs(), Some(vec!["tpch".to_string()]));
    sandbox.assert_restarts(3);
    sandbox.source.write_atomically("sales.properties", TPCH);
    agent.wait_state_within("sales", "applied", SLOW);
    sandbox.assert_restarts(4);

    let written = Instant::now();
    sandbox.source.write_atomically(
        "broken.properties",
        "connector.name=tpch\ntpch.splits-per-node=abc\n",
    );
    let broken = agent.wait_state_within("broken", "failed", SLOW);
    eprintln!("bad file → reported after {:?}", written.elapsed());
    // Trino's own reason.
    assert_rolled_back(
        "broken",
        &broken,
        sandbox.target.path(),
        "Invalid value 'abc' for type int (property 'tpch.splits-per-node')",
    );
    // Back on the previous catalogs.
    wait_for(SLOW, "Trino to be back", || sandbox.nations("sales").ok());
    assert_eq!(
        sandbox.catalogs(),
        Some(vec!["sales".to_string(), "tpch".to_string()])
    );
    // The rollback's restart killed the crash-looping coordinator at once (a JVM that has not
    // installed its SIGTERM handler yet ignores the signal as PID 1, and Docker would wait out its
    // stop timeout); the change's own restart stopped a serving coordinator gently.
    let restarts: Vec<(u64, bool)> = agent
        .log_json()
        .iter()
        .filter(|l| l["message"] == "docker restart")
        .map(|l| {
            (
                l["stop_timeout_s"].as_u64().unwrap(),
                l["serving"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(restarts.first(), Some(&(30, true)), "{restarts:?}");
    assert_eq!(restarts.last(), Some(&(0, false)), "{restarts:?}");
}
