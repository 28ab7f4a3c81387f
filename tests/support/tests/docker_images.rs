//! The emulator images and the container helper against the real Docker engine (facts §6).

use std::time::Duration;

use test_support::docker::{Container, Flavour, docker_ok, emulator_image, require_docker};
use test_support::emulator::run_query;

const PATIENCE: Duration = Duration::from_secs(30);

/// `SHOW CATALOGS` on a container's published port 8080.
fn catalogs_of(container: &Container, flavour: Flavour) -> Vec<String> {
    let url = format!("http://127.0.0.1:{}", container.host_port(8080));
    let output = run_query(&url, flavour, "test", "SHOW CATALOGS").unwrap();
    output
        .rows
        .iter()
        .map(|r| r[0].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn the_trino_image_starts_like_trinodb_trino() {
    if !require_docker() {
        return;
    }
    let image = emulator_image(Flavour::Trino);
    let container = Container::run(&["-p", "127.0.0.1::8080", &image]);
    let info = container.wait_for_info(8080, PATIENCE);
    assert_eq!(info["environment"], "docker", "node.properties is read");
    assert_eq!(info["starting"], false);
    let url = format!("http://127.0.0.1:{}", container.host_port(8080));
    assert_eq!(
        catalogs_of(&container, Flavour::Trino),
        vec!["jmx", "memory", "system", "tpcds", "tpch"],
        "the image's default catalogs"
    );
    // CATALOG_MANAGEMENT=static by default: CREATE is refused as the static store does.
    let refused = run_query(
        &url,
        Flavour::Trino,
        "test",
        "CREATE CATALOG x USING memory",
    )
    .unwrap_err();
    assert_eq!(refused.error_name, "NOT_SUPPORTED");
    // The health-check the real image's HEALTHCHECK runs.
    let check = container.exec(&["/usr/lib/trino/bin/health-check"]);
    assert!(
        check.status.success(),
        "health-check failed: {}",
        String::from_utf8_lossy(&check.stderr)
    );
    assert_eq!(
        docker_ok(&["inspect", "-f", "{{.Config.User}}", container.name()]),
        "1000:1000"
    );
}

#[test]
fn catalog_management_dynamic_from_the_environment_writes_etc_trino_catalog() {
    if !require_docker() {
        return;
    }
    let image = emulator_image(Flavour::Trino);
    let container = Container::run(&[
        "-p",
        "127.0.0.1::8080",
        "-e",
        "CATALOG_MANAGEMENT=dynamic",
        &image,
    ]);
    container.wait_for_info(8080, PATIENCE);
    let url = format!("http://127.0.0.1:{}", container.host_port(8080));
    run_query(&url, Flavour::Trino, "test", "CREATE CATALOG pg USING postgresql WITH (\"connection-url\" = 'jdbc:postgresql://db:5432/x')").unwrap();
    // The scratch image has no shell; ask the emulator itself to read the file back.
    let catalogs = run_query(
        &url,
        Flavour::Trino,
        "test",
        "SELECT catalog_name FROM system.metadata.catalogs WHERE catalog_name = 'pg'",
    )
    .unwrap();
    assert_eq!(catalogs.rows.len(), 1);
    let copied = tempfile::tempdir().unwrap();
    let target = copied.path().to_string_lossy().into_owned();
    docker_ok(&[
        "cp",
        &format!("{}:/etc/trino/catalog/pg.properties", container.name()),
        &target,
    ]);
    let text = std::fs::read_to_string(copied.path().join("pg.properties")).unwrap();
    assert!(
        text.contains("connection-url=jdbc\\:postgresql\\://db\\:5432/x"),
        "{text}"
    );
}

#[test]
fn the_presto_image_exits_1_on_a_bad_catalog() {
    if !require_docker() {
        return;
    }
    let image = emulator_image(Flavour::Presto);
    let good = Container::run(&["-p", "127.0.0.1::8080", &image]);
    let info = good.wait_for_info(8080, PATIENCE);
    assert_eq!(info["nodeVersion"]["version"], "0.296-8661b73");
    assert_eq!(
        catalogs_of(&good, Flavour::Presto),
        vec!["memory", "system", "tpcds"],
        "the image's default catalogs"
    );

    let catalogs = tempfile::tempdir().unwrap();
    std::fs::write(
        catalogs.path().join("broken.properties"),
        "connector.name=nosuch\n",
    )
    .unwrap();
    let mount = format!(
        "{}:/opt/presto-server/etc/catalog:ro",
        catalogs.path().display()
    );
    let bad = Container::run(&["-v", &mount, &image]);
    assert_eq!(bad.wait_exit(PATIENCE), Some(1));
    assert!(
        bad.logs().contains("No factory for connector nosuch"),
        "{}",
        bad.logs()
    );
}

#[test]
fn containers_are_removed_when_dropped() {
    if !require_docker() {
        return;
    }
    let image = emulator_image(Flavour::Trino);
    let name = {
        let container = Container::run(&[&image]);
        container.name().to_string()
    };
    let listed = docker_ok(&[
        "ps",
        "-a",
        "--filter",
        &format!("name={name}"),
        "--format",
        "{{.Names}}",
    ]);
    assert!(listed.is_empty(), "{listed}");
}
