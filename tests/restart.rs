//! Restart mode against the real Docker engine: the emulator's PrestoDB (and static Trino) image as
//! the coordinator container with the target folder bind-mounted as its catalog folder, the agent
//! as a host process. Counts of restarts come from Docker's own event log.

mod common;

use common::sandbox::ContainerSandbox;
use common::{PATIENCE, agent, assert_rolled_back, assert_waited_for_running_queries, wait_for};
use std::time::Duration;
use test_support::docker::{Container, Flavour, docker_ok, emulator_image, require_docker};
use test_support::emulator::{QueryError, QueryOutput, run_query};

const TPCH: &str = "connector.name=tpch\n";
const SLOW: Duration = Duration::from_secs(60);

/// The emulator's coordinator image in a container, the target folder its catalog folder.
struct Sandbox(ContainerSandbox);

impl std::ops::Deref for Sandbox {
    type Target = ContainerSandbox;
    fn deref(&self) -> &ContainerSandbox {
        &self.0
    }
}

impl Sandbox {
    /// A coordinator container of `flavour` with the target folder as its catalog folder.
    fn new(flavour: Flavour, image_args: &[&str]) -> Sandbox {
        Sandbox::with_docker_args(flavour, &[], image_args)
    }

    /// As [`Sandbox::new`], with options for `docker run` itself (a restart policy, say).
    fn with_docker_args(flavour: Flavour, docker_args: &[&str], image_args: &[&str]) -> Sandbox {
        let image = emulator_image(flavour);
        let sandbox = Sandbox(ContainerSandbox::start(
            flavour,
            &image,
            docker_args,
            image_args,
            &[],
        ));
        sandbox.coordinator.wait_for_info(8080, SLOW);
        sandbox.wait_started();
        sandbox
    }

    fn wait_started(&self) {
        wait_for(SLOW, "the coordinator to answer starting:false", || {
            let info = common::http()
                .get(format!("{}/v1/info", self.url()))
                .send()
                .ok()?
                .json::<serde_json::Value>()
                .ok()?;
            (info["starting"] == false).then_some(())
        });
    }

    fn agent(&self) -> common::AgentBuilder {
        self.agent_with(&[])
    }

    /// The agent in restart mode for this sandbox; `overrides` replace the test defaults.
    fn agent_with(&self, overrides: &[(&str, &str)]) -> common::AgentBuilder {
        let target = self.target.path().display().to_string();
        let mut flags: Vec<(&str, &str)> = vec![
            ("--target-dir", target.as_str()),
            ("--container", self.coordinator.name()),
            ("--min-restart-interval", "1s"),
            ("--debounce", "150ms"),
            ("--start-timeout", "20s"),
            ("--drain-timeout", "20s"),
        ];
        for (flag, value) in overrides {
            match flags.iter_mut().find(|(f, _)| f == flag) {
                Some(entry) => entry.1 = value,
                None => flags.push((flag, value)),
            }
        }
        let mut builder = agent("run", self.source.path(), &self.url());
        for (flag, value) in flags {
            builder = builder.arg(flag).arg(value);
        }
        builder
    }

    fn wait_catalogs(&self, want: &[&str]) {
        wait_for(SLOW, &format!("the coordinator to list {want:?}"), || {
            (self.catalogs()? == want).then_some(())
        });
    }

    /// A client reading `sales.tiny.nation` in the background (long with `--query-latency`).
    fn long_query(&self) -> std::thread::JoinHandle<Result<QueryOutput, QueryError>> {
        let url = self.url();
        let flavour = self.flavour;
        std::thread::spawn(move || {
            run_query(&url, flavour, "analyst", "SELECT * FROM sales.tiny.nation")
        })
    }
}

#[test]
fn presto_add_edit_delete_restart_once_each_and_are_verified() {
    if !require_docker() {
        return;
    }
    let sandbox = Sandbox::new(Flavour::Presto, &[]);
    let agent = sandbox.agent().start();
    agent.wait_first_pass();
    assert_eq!(agent.status()["mode"], "restart");
    assert_eq!(sandbox.restarts(), 0, "nothing to do at start: no restart");

    sandbox.source.write("sales.properties", TPCH);
    sandbox.wait_catalogs(&["sales"]);
    agent.wait_state("sales", "applied");
    assert_eq!(sandbox.restarts(), 1);
    let rendered = std::fs::read_to_string(sandbox.target.path().join("sales.properties")).unwrap();
    assert!(rendered.contains("connector.name=tpch\n"), "{rendered}");
    assert!(
        run_query(
            &sandbox.url(),
            Flavour::Presto,
            "test",
            "SELECT * FROM sales.tiny.nation LIMIT 1"
        )
        .is_ok()
    );

    sandbox.source.write(
        "sales.properties",
        "connector.name=tpch\ntpch.splits-per-node=2\n",
    );
    wait_for(SLOW, "the edit to be applied", || {
        (sandbox.restarts() == 2 && agent.catalog("sales")?["state"] == "applied").then_some(())
    });
    assert!(
        std::fs::read_to_string(sandbox.target.path().join("sales.properties"))
            .unwrap()
            .contains("tpch.splits-per-node=2")
    );

    sandbox.source.remove("sales.properties");
    sandbox.wait_catalogs(&[]);
    agent.wait_state("sales", "removed");
    assert!(!sandbox.target.path().join("sales.properties").exists());
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(sandbox.restarts(), 3);
    assert!(
        agent
            .metrics()
            .contains("catalog_reloader_restarts_total{result=\"ok\"} 3")
    );
}

#[test]
fn twenty_files_within_a_second_make_one_restart() {
    if !require_docker() {
        return;
    }
    let sandbox = Sandbox::new(Flavour::Presto, &[]);
    let agent = sandbox.agent().start();
    agent.wait_first_pass();
    let names: Vec<String> = (0..20).map(|i| format!("c{i:02}")).collect();
    for name in &names {
        sandbox
            .source
            .write_atomically(&format!("{name}.properties"), "connector.name=memory\n");
    }
    let want: Vec<&str> = names.iter().map(String::as_str).collect();
    sandbox.wait_catalogs(&want);
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(sandbox.restarts(), 1);
}

#[test]
fn a_running_query_finishes_before_the_restart() {
    if !require_docker() {
        return;
    }
    let sandbox = Sandbox::new(Flavour::Presto, &["--query-latency", "3s"]);
    sandbox.source.write("sales.properties", TPCH);
    let agent = sandbox.agent().start();
    agent.wait_state("sales", "applied");
    let restarts = sandbox.restarts();

    let query = sandbox.long_query();
    std::thread::sleep(Duration::from_millis(500));
    sandbox.source.write("more.properties", TPCH);
    let result = query.join().unwrap();
    assert!(result.is_ok(), "the running query was cut off: {result:?}");
    sandbox.wait_catalogs(&["more", "sales"]);
    assert_eq!(sandbox.restarts(), restarts + 1);
    assert_waited_for_running_queries(&agent);
}

#[test]
fn drain_timeout_restarts_anyway_or_waits_for_a_quiet_moment() {
    if !require_docker() {
        return;
    }
    // skip: the restart waits until the long query is done.
    let sandbox = Sandbox::new(Flavour::Presto, &["--query-latency", "4s"]);
    sandbox.source.write("sales.properties", TPCH);
    let agent = sandbox
        .agent_with(&[
            ("--drain-timeout", "500ms"),
            ("--drain-timeout-action", "skip"),
        ])
        .start();
    agent.wait_state("sales", "applied");
    let before = sandbox.restarts();
    let query = sandbox.long_query();
    std::thread::sleep(Duration::from_millis(300));
    sandbox.source.write("more.properties", TPCH);
    wait_for(PATIENCE, "more to wait for a quiet moment", || {
        agent.catalog("more").filter(|c| {
            c["state"] == "pending"
                && c["note"]
                    .as_str()
                    .is_some_and(|n| n.contains("waiting for a quiet moment"))
        })
    });
    assert!(query.join().unwrap().is_ok(), "skip never cuts a query off");
    sandbox.wait_catalogs(&["more", "sales"]);
    assert_eq!(sandbox.restarts(), before + 1);
    drop(agent);

    // restart (the default action): the restart happens at the timeout; the query is cut off.
    let agent = sandbox.agent_with(&[("--drain-timeout", "500ms")]).start();
    agent.wait_first_pass();
    let before = sandbox.restarts();
    let query = sandbox.long_query();
    std::thread::sleep(Duration::from_millis(300));
    sandbox.source.write("third.properties", TPCH);
    sandbox.wait_catalogs(&["more", "sales", "third"]);
    assert!(
        query.join().unwrap().is_err(),
        "the coordinator restarted under the query"
    );
    assert_eq!(sandbox.restarts(), before + 1);
    assert!(agent.log_text().contains("restarting anyway"));
}

#[test]
fn a_catalog_that_stops_the_coordinator_is_rolled_back_and_blamed() {
    if !require_docker() {
        return;
    }
    let sandbox = Sandbox::new(Flavour::Presto, &[]);
    sandbox.source.write("sales.properties", TPCH);
    let agent = sandbox.agent().start();
    agent.wait_state("sales", "applied");
    sandbox.wait_catalogs(&["sales"]);

    sandbox
        .source
        .write("broken.properties", "connector.name=nosuchconnector\n");
    let broken = agent.wait_state_within("broken", "failed", SLOW);
    assert_rolled_back(
        "broken",
        &broken,
        sandbox.target.path(),
        "did not start with this catalog",
    );
    let error = broken["error"].as_str().unwrap();
    assert!(
        error.contains("nosuchconnector"),
        "the log excerpt names it: {error}"
    );
    // The coordinator is back, with the previous set.
    sandbox.wait_catalogs(&["sales"]);
    assert!(!sandbox.target.path().join("broken.properties").exists());
    agent.wait_state("sales", "applied");
    assert!(
        agent
            .metrics()
            .contains("catalog_reloader_restarts_total{result=\"rolled_back\"} 1")
    );
    // Never a restart loop: the bad definition is not tried again until its file changes.
    let restarts = sandbox.restarts();
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(sandbox.restarts(), restarts);

    // Fixing the file applies it.
    sandbox
        .source
        .write("broken.properties", "connector.name=memory\n");
    sandbox.wait_catalogs(&["broken", "sales"]);
    agent.wait_state("broken", "applied");
}

#[test]
fn an_unrelated_container_is_never_touched() {
    if !require_docker() {
        return;
    }
    let bystander = Container::run(&[emulator_image(Flavour::Presto).as_str()]);
    let started = |c: &Container| docker_ok(&["inspect", "-f", "{{.State.StartedAt}}", c.name()]);
    let before = started(&bystander);
    let sandbox = Sandbox::new(Flavour::Presto, &[]);
    let agent = sandbox.agent().start();
    sandbox.source.write("a.properties", TPCH);
    sandbox.wait_catalogs(&["a"]);
    sandbox
        .source
        .write("broken.properties", "connector.name=nosuchconnector\n");
    wait_for(SLOW, "the rollback", || {
        agent.catalog("broken").filter(|c| c["state"] == "failed")
    });
    assert_eq!(started(&bystander), before);
}

#[test]
fn an_unreachable_docker_daemon_is_a_clear_error_retried_without_a_crash() {
    if !require_docker() {
        return;
    }
    let sandbox = Sandbox::new(Flavour::Presto, &[]);
    sandbox.source.write("a.properties", TPCH);
    let agent = sandbox
        .agent()
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .start();
    wait_for(PATIENCE, "the Docker error in the status", || {
        let pass = agent.status()["last_pass"].clone();
        pass["error"]
            .as_str()
            .filter(|e| {
                e.contains("cannot reach the Docker daemon (unix:///nonexistent/docker.sock)")
            })
            .map(|_| ())
    });
    let passes = agent.passes();
    wait_for(PATIENCE, "a retry", || {
        (agent.passes() > passes).then_some(())
    });
    assert_eq!(agent.get("/healthz").0, 200);
    assert_eq!(agent.get("/readyz").0, 503);
    let a = agent.catalog("a").expect("a is in the status");
    assert_eq!(a["state"], "pending");
    assert!(
        a["note"]
            .as_str()
            .unwrap()
            .contains("cannot reach the Docker daemon"),
        "{a}"
    );
    assert!(
        sandbox.target.path().join("a.properties").exists(),
        "rendering does not need Docker"
    );
}

#[test]
fn sync_in_restart_mode_renders_the_folder_and_never_restarts() {
    if !require_docker() {
        return;
    }
    let sandbox = Sandbox::new(Flavour::Presto, &[]);
    sandbox.source.write("a.properties", TPCH);
    sandbox.source.write("bad.properties", "nothing here\n");
    let out = agent("sync", sandbox.source.path(), "http://127.0.0.1:9")
        .args(["--mode", "restart", "--target-dir"])
        .arg(sandbox.target.path().display().to_string())
        .output();
    assert_eq!(out.code(), 1, "one file is invalid: {}", out.stderr);
    assert!(sandbox.target.path().join("a.properties").exists());
    assert!(!sandbox.target.path().join("bad.properties").exists());
    assert_eq!(sandbox.restarts(), 0);
}

#[test]
fn presto_graceful_shutdown_stops_the_coordinator_through_its_api() {
    if !require_docker() {
        return;
    }
    let sandbox = Sandbox::new(Flavour::Presto, &["--shutdown-grace-period", "500ms"]);
    let agent = sandbox.agent().arg("--graceful-shutdown").start();
    agent.wait_first_pass();
    sandbox.source.write("a.properties", TPCH);
    sandbox.wait_catalogs(&["a"]);
    agent.wait_state("a", "applied");
    assert_eq!(sandbox.restarts(), 1);
    let logs = sandbox.coordinator.logs();
    assert!(
        logs.contains("SHUTTING_DOWN") || logs.to_lowercase().contains("shut"),
        "{logs}"
    );
}

#[test]
fn graceful_shutdown_under_a_restart_policy_restarts_the_coordinator_once() {
    if !require_docker() {
        return;
    }
    // Docker starts the coordinator again as soon as it exits: the agent's own start after the
    // shutdown must not be a second restart, whether a poll saw the container stopped or only its
    // new start time. (Here Docker's policy waits long enough for the poll to see it stopped.)
    let sandbox = Sandbox::with_docker_args(
        Flavour::Presto,
        &["--restart", "always"],
        &["--shutdown-grace-period", "500ms"],
    );
    let agent = sandbox.agent().arg("--graceful-shutdown").start();
    agent.wait_first_pass();
    sandbox.source.write("a.properties", TPCH);
    sandbox.wait_catalogs(&["a"]);
    agent.wait_state("a", "applied");
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(sandbox.restarts(), 1, "Docker's restart was the only one");
}

#[test]
fn static_trino_is_driven_by_restarts_too() {
    if !require_docker() {
        return;
    }
    let sandbox = Sandbox::new(Flavour::Trino, &[]);
    let agent = sandbox.agent().start();
    agent.wait_first_pass();
    // Nothing to change yet: a Trino is taken to be dynamic until it refuses a change as static.
    assert_eq!(agent.status()["mode"], "dynamic");
    assert_eq!(agent.status()["engine"]["flavour"], "trino");
    sandbox.source.write("sales.properties", TPCH);
    sandbox.wait_catalogs(&["sales"]);
    agent.wait_state("sales", "applied");
    assert_eq!(agent.status()["mode"], "restart");
    sandbox.source.remove("sales.properties");
    sandbox.wait_catalogs(&[]);
    assert_eq!(sandbox.restarts(), 2);
}

#[test]
fn files_rendered_by_an_init_sync_are_owned_by_the_sidecar_without_a_shared_ledger() {
    if !require_docker() {
        return;
    }
    let sandbox = Sandbox::new(Flavour::Presto, &[]);
    sandbox.source.write("a.properties", TPCH);
    // An unmanaged file in the coordinator's folder: never touched.
    std::fs::write(
        sandbox.target.path().join("theirs.properties"),
        "connector.name=memory\n",
    )
    .unwrap();
    let init = agent("sync", sandbox.source.path(), &sandbox.url())
        .args(["--mode", "restart", "--target-dir"])
        .arg(sandbox.target.path().display().to_string())
        .output();
    assert_eq!(init.code(), 0, "{}", init.stderr);

    // The sidecar starts with no ledger: the marker in the rendered file says whose it is. The
    // coordinator still runs without the new files, so it is restarted once.
    let agent = sandbox.agent().start();
    agent.wait_state("a", "applied");
    sandbox.wait_catalogs(&["a", "theirs"]);
    assert!(
        agent.catalog("theirs").is_none(),
        "an unmanaged file without a source is not reported"
    );
    sandbox.source.remove("a.properties");
    sandbox.wait_catalogs(&["theirs"]);
    assert!(!sandbox.target.path().join("a.properties").exists());
    assert!(sandbox.target.path().join("theirs.properties").exists());
    assert_eq!(sandbox.restarts(), 2);
}

#[test]
fn a_stopped_coordinator_is_started_and_a_missing_one_is_named() {
    if !require_docker() {
        return;
    }
    let sandbox = Sandbox::new(Flavour::Presto, &[]);
    docker_ok(&["stop", "-t", "5", sandbox.coordinator.name()]);
    // A stopped coordinator cannot say what it is: a restart-mode deployment says it.
    let agent = sandbox.agent_with(&[("--engine", "presto")]).start();
    agent.wait_first_pass();
    sandbox.source.write("a.properties", TPCH);
    sandbox.wait_catalogs(&["a"]);
    agent.wait_state("a", "applied");
    drop(agent);

    let missing = sandbox
        .agent_with(&[("--container", "no-such-coordinator-container")])
        .start();
    sandbox.source.write("b.properties", TPCH);
    let b = wait_for(PATIENCE, "b to wait with the reason", || {
        missing.catalog("b").filter(|c| {
            c["note"]
                .as_str()
                .is_some_and(|n| n.contains("there is no container named 'no-such-coordinator-container' (check --container)"))
        })
    });
    assert_eq!(b["state"], "pending");
    assert_eq!(missing.get("/healthz").0, 200);
}

#[test]
fn a_coordinator_started_after_the_init_sync_is_not_restarted_again() {
    if !require_docker() {
        return;
    }
    // A coordinator that takes a while to start, as a real one does.
    let sandbox = Sandbox::new(Flavour::Presto, &["--startup-delay", "3s"]);
    let state = tempfile::tempdir().unwrap();
    let state_dir = state.path().display().to_string();
    sandbox.source.write("a.properties", TPCH);
    let init = agent("sync", sandbox.source.path(), &sandbox.url())
        .args([
            "--mode",
            "restart",
            "--state-dir",
            &state_dir,
            "--target-dir",
        ])
        .arg(sandbox.target.path().display().to_string())
        .output();
    assert_eq!(init.code(), 0, "{}", init.stderr);
    // The coordinator starts after the init step, as with an init container or depends_on, and
    // the sidecar starts at once, while the coordinator is still starting (compose's depends_on
    // waits for the container to start, not to be ready).
    docker_ok(&["restart", "-t", "5", sandbox.coordinator.name()]);
    let agent = sandbox
        .agent_with(&[("--state-dir", &state_dir), ("--mode", "restart")])
        .start();
    agent.wait_state("a", "applied");
    assert_eq!(sandbox.catalogs().unwrap(), ["a"]);
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(sandbox.restarts(), 1, "only the start after the init step");
    assert!(
        agent
            .log_text()
            .contains("started after the catalog folder was rendered"),
        "{}",
        agent.log_text()
    );
}

#[test]
fn a_change_rendered_but_never_restarted_is_restarted_by_the_next_agent_without_a_ledger() {
    if !require_docker() {
        return;
    }
    let sandbox = Sandbox::new(Flavour::Presto, &[]);
    let target = sandbox.target.path().display().to_string();
    let render = |sandbox: &Sandbox| {
        let out = agent("sync", sandbox.source.path(), &sandbox.url())
            .args(["--mode", "restart", "--target-dir", &target])
            .output();
        assert_eq!(out.code(), 0, "{}", out.stderr);
    };
    sandbox.source.write("a.properties", TPCH);
    render(&sandbox);
    docker_ok(&["restart", "-t", "5", sandbox.coordinator.name()]);
    sandbox.wait_catalogs(&["a"]);
    assert_eq!(sandbox.restarts(), 1);

    // A property change is rendered, and then nothing restarts the coordinator (an agent stopped
    // between its render and the restart; here, a render-only sync). The coordinator lists the
    // same names, so only the files' render times tell that it runs the old definition.
    sandbox.source.write(
        "a.properties",
        &format!("{TPCH}tpch.column-naming=STANDARD\n"),
    );
    render(&sandbox);
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(sandbox.restarts(), 1);

    let agent = sandbox.agent_with(&[("--mode", "restart")]).start();
    wait_for(SLOW, "the due restart", || {
        (sandbox.restarts() == 2).then_some(())
    });
    agent.wait_state("a", "applied");
    sandbox.wait_catalogs(&["a"]);
    assert!(
        agent
            .log_text()
            .contains("written after the coordinator started"),
        "{}",
        agent.log_text()
    );
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(sandbox.restarts(), 2, "exactly one restart");
}

#[test]
fn an_adopted_hand_written_file_survives_a_rollback() {
    if !require_docker() {
        return;
    }
    let sandbox = Sandbox::new(Flavour::Presto, &[]);
    // The operator's own file, running before the agent arrives.
    let theirs = "# hand-written\nconnector.name=tpch\ntpch.column-naming=STANDARD\n";
    std::fs::write(sandbox.target.path().join("sales.properties"), theirs).unwrap();
    docker_ok(&["restart", "-t", "5", sandbox.coordinator.name()]);
    sandbox.wait_catalogs(&["sales"]);

    // The folder takes it over (same connector, another definition) and adds a catalog that
    // stops the coordinator, in one change.
    sandbox.source.write("sales.properties", TPCH);
    sandbox
        .source
        .write("broken.properties", "connector.name=nosuchconnector\n");
    let agent = sandbox
        .agent_with(&[("--mode", "restart")])
        .arg("--adopt")
        .start();
    wait_for(SLOW, "the culprit to be reported", || {
        agent.catalog("broken").filter(|c| c["state"] == "failed")
    });
    sandbox.wait_catalogs(&["sales"]);
    let sales = std::fs::read_to_string(sandbox.target.path().join("sales.properties")).unwrap();
    let entries = catalog_reloader::properties::parse(&sales).unwrap();
    assert!(
        entries
            .iter()
            .any(|e| e.key == "tpch.column-naming" && e.value == "STANDARD"),
        "the rollback restored the definition the coordinator ran: {sales}"
    );
}

#[test]
fn a_definition_that_broke_a_start_is_not_tried_again_by_a_restarted_agent() {
    if !require_docker() {
        return;
    }
    let sandbox = Sandbox::new(Flavour::Presto, &[]);
    let state = tempfile::tempdir().unwrap();
    let state_dir = state.path().display().to_string();
    sandbox.source.write("sales.properties", TPCH);
    sandbox
        .source
        .write("broken.properties", "connector.name=nosuchconnector\n");
    let first = sandbox.agent_with(&[("--state-dir", &state_dir)]).start();
    wait_for(SLOW, "the culprit to be reported", || {
        first.catalog("broken").filter(|c| c["state"] == "failed")
    });
    sandbox.wait_catalogs(&["sales"]);
    let (exit, _, _) = first.terminate();
    assert!(exit.success());
    let restarts = sandbox.restarts();

    let second = sandbox.agent_with(&[("--state-dir", &state_dir)]).start();
    second.wait_first_pass();
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(sandbox.restarts(), restarts, "no second outage for it");
    let broken = second.catalog("broken").unwrap();
    assert_rolled_back(
        "broken",
        &broken,
        sandbox.target.path(),
        "did not start with this catalog",
    );
}
