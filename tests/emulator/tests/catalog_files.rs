//! Catalog files: what the dynamic file store writes and deletes (facts §1.5), how catalogs load
//! at start-up (static, dynamic, PrestoDB; facts §1.5, §1.6, §4, §5) and container (etc dir) mode
//! (facts §1.1, §6).

mod common;

use std::path::Path;

use common::*;

fn write(dir: &Path, name: &str, contents: &[u8]) {
    std::fs::write(dir.join(name), contents).unwrap();
}

fn files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn create_writes_a_java_properties_file_and_drop_deletes_it() {
    let store = tempfile::tempdir().unwrap();
    let engine = trino()
        .dynamic()
        .file_store(store.path())
        .args(["--seed", "1"])
        .env("PG_PW", "hunter2")
        .start();
    engine
        .query(
            "CREATE CATALOG pg USING postgresql WITH (\"connection-url\" = 'jdbc:postgresql://db:5432/app?ssl=true#x', \
             \"connection-user\" = 'José 😀', \"connection-password\" = '${ENV:PG_PW}', \"case-insensitive-name-matching\" = ' true')",
        )
        .unwrap();
    assert_eq!(
        files(store.path()),
        vec!["pg.properties"],
        "no .tmp left behind"
    );
    let text = std::fs::read_to_string(store.path().join("pg.properties")).unwrap();
    let mut lines = text.lines();
    let date = lines.next().unwrap();
    // `#` + Date.toString(): `#Tue Nov 24 09:07:21 UTC 2026`
    let parts: Vec<&str> = date.trim_start_matches('#').split(' ').collect();
    assert!(
        date.starts_with('#') && parts.len() == 6 && parts[4] == "UTC",
        "{date}"
    );
    let mut entries: Vec<&str> = lines.collect();
    entries.sort_unstable();
    insta::assert_debug_snapshot!(entries, @r#"
    [
        "case-insensitive-name-matching=\\ true",
        "connection-password=${ENV\\:PG_PW}",
        "connection-url=jdbc\\:postgresql\\://db\\:5432/app?ssl\\=true\\#x",
        "connection-user=Jos\\u00E9 \\uD83D\\uDE00",
        "connector.name=postgresql",
    ]
    "#);
    assert!(
        !text.contains("hunter2"),
        "the secret itself is never written"
    );

    engine.query("DROP CATALOG pg").unwrap();
    assert!(files(store.path()).is_empty());
}

#[test]
fn the_key_order_follows_the_seed() {
    let order = |seed: &str| {
        let store = tempfile::tempdir().unwrap();
        let engine = trino()
            .dynamic()
            .file_store(store.path())
            .args(["--seed", seed])
            .start();
        engine.query("CREATE CATALOG m USING tpch WITH (\"tpch.splits-per-node\" = '4', \"tpch.max-rows-per-page\" = '9', \"tpch.column-naming\" = 'STANDARD')").unwrap();
        let text = std::fs::read_to_string(store.path().join("m.properties")).unwrap();
        text.lines()
            .skip(1)
            .map(|l| l.split('=').next().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(order("3"), order("3"));
    let orders: std::collections::HashSet<Vec<String>> = ["1", "2", "3", "4", "5", "6"]
        .iter()
        .map(|s| order(s))
        .collect();
    assert!(orders.len() > 1, "six seeds gave one key order");
}

#[test]
fn files_load_at_start_as_trino_reads_them() {
    let dir = tempfile::tempdir().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    // ISO-8859-1 bytes, escapes, continuation, trailing blanks, legacy connector name.
    write(
        dir.path(),
        "latin.properties",
        b"connector.name=postgresql\nconnection-url=jdbc:x \\\n   y   \nconnection-user=Jos\xe9\n",
    );
    write(
        dir.path(),
        "legacy.properties",
        b"connector.name=delta-lake\nhive.metastore.uri=thrift://m:9083\n",
    );
    write(dir.path(), "notes.txt", b"connector.name=tpch\n");
    write(
        elsewhere.path(),
        "linked.properties",
        b"connector.name=tpch\n",
    );
    std::os::unix::fs::symlink(
        elsewhere.path().join("linked.properties"),
        dir.path().join("linked.properties"),
    )
    .unwrap();
    std::fs::create_dir(dir.path().join("dir.properties")).unwrap();
    let engine = trino().catalog_dir(dir.path()).start();
    assert_eq!(
        engine.show_catalogs(),
        vec!["latin", "legacy", "linked", "system"]
    );
    // The legacy name is translated with Trino's deprecation warning (facts §1.3).
    eventually("the deprecation warning on stderr", || {
        engine.stderr().contains("Catalog 'legacy' is using the deprecated connector name 'delta-lake'. The correct connector name is 'delta_lake'")
    });
    let rows = engine
        .query("SELECT catalog_name, connector_name FROM system.metadata.catalogs")
        .unwrap()
        .rows;
    assert_eq!(
        rows[1],
        vec![serde_json::json!("legacy"), serde_json::json!("delta_lake")]
    );
    assert_eq!(
        rows[0],
        vec![serde_json::json!("latin"), serde_json::json!("postgresql")]
    );
}

#[test]
fn loaded_values_are_latin1_joined_and_trimmed() {
    // A failed dynamic catalog echoes the value it read in the error on stderr.
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "ice.properties",
        b"connector.name=iceberg\niceberg.catalog.type = caf\xe9 \\\n   \\u00e0 la carte   \n",
    );
    let engine = trino().dynamic().file_store(dir.path()).start();
    eventually("the value in the failure", || {
        engine.stderr().contains("Invalid value 'caf\u{e9} \u{e0} la carte' for type CatalogType (property 'iceberg.catalog.type')")
    });
}

#[test]
fn the_memory_store_ignores_files() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "tpch.properties", b"connector.name=tpch\n");
    let engine = trino()
        .dynamic()
        .memory_store()
        .catalog_dir(dir.path())
        .start();
    assert_eq!(engine.show_catalogs(), vec!["system"]);
}

#[test]
fn a_bad_static_catalog_stops_trino_with_exit_100() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "good.properties", b"connector.name=tpch\n");
    write(
        dir.path(),
        "bad.properties",
        b"connector.name=postgresql\nconnection-url=jdbc:x\nbogus=1\n",
    );
    fails_to_start(
        trino().catalog_dir(dir.path()),
        100,
        "Configuration property 'bogus' was not used",
    );
}

#[test]
fn missing_connector_name_and_a_system_file_stop_even_dynamic_trino() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "nameless.properties", b"a=b\n");
    fails_to_start(
        trino().dynamic().file_store(dir.path()),
        100,
        "nameless.properties does not contain 'connector.name'",
    );

    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "system.properties", b"connector.name=tpch\n");
    fails_to_start(
        trino().catalog_dir(dir.path()),
        100,
        "Catalog name SYSTEM is reserved for internal usage",
    );
}

#[test]
fn a_bad_dynamic_catalog_is_listed_but_disabled_until_dropped() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "healthy.properties", b"connector.name=memory\n");
    write(
        dir.path(),
        "broken.properties",
        b"connector.name=memory\ninvalid=128MB\n",
    );
    let engine = trino().dynamic().file_store(dir.path()).start();
    // stderr is read by a thread of its own: the line may land just after the start is seen.
    eventually("the failed catalog's banner on stderr", || {
        engine
            .stderr()
            .contains("-- Failed to load catalog broken using connector memory --")
    });
    assert_eq!(engine.show_catalogs(), vec!["broken", "healthy", "system"]);
    let failure = engine.query("SELECT * FROM broken.default.t").unwrap_err();
    assert_eq!(
        failure.message,
        "Catalog 'broken' failed to initialize and is disabled"
    );
    assert_eq!(failure.error_name, "CATALOG_UNAVAILABLE");
    let exists = engine
        .query("CREATE CATALOG broken USING memory")
        .unwrap_err();
    assert_eq!(exists.message, "Catalog 'broken' already exists");
    engine.query("DROP CATALOG broken").unwrap();
    engine.query("CREATE CATALOG broken USING memory").unwrap();
    assert_eq!(
        engine
            .query("SELECT * FROM broken.default.t")
            .unwrap()
            .rows
            .len(),
        5
    );
}

#[test]
fn newer_releases_list_failed_catalogs_differently() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "healthy.properties", b"connector.name=memory\n");
    write(dir.path(), "broken.properties", b"connector.name=nosuch\n");
    let list = |release: &str| {
        let engine = trino()
            .dynamic()
            .file_store(dir.path())
            .args(["--catalogs-table", release])
            .start();
        let output = engine
            .query("SELECT * FROM system.metadata.catalogs")
            .unwrap();
        (output.columns, output.rows)
    };
    // 476 (recorded/measured): failed catalogs are listed with the connector they asked for.
    let (columns, rows) = list("476");
    assert_eq!(columns, ["catalog_name", "connector_id", "connector_name"]);
    assert_eq!(
        rows,
        [
            ["broken", "broken", "nosuch"],
            ["healthy", "healthy", "memory"],
            ["system", "system", "system"]
        ]
    );
    // 477: left out (release notes 477, trinodb/trino#26493).
    let (_, rows) = list("477");
    assert_eq!(
        rows,
        [
            ["healthy", "healthy", "memory"],
            ["system", "system", "system"]
        ]
    );
    // 478: listed, with a state column (trinodb/trino#26918).
    let (columns, rows) = list("478");
    assert_eq!(
        columns,
        ["catalog_name", "connector_id", "connector_name", "state"]
    );
    assert_eq!(rows[0], ["broken", "broken", "nosuch", "FAILED_TO_LOAD"]);
    assert_eq!(rows[1], ["healthy", "healthy", "memory", "LOADED"]);
}

#[test]
fn only_installed_connectors_have_factories() {
    let engine = trino()
        .dynamic()
        .memory_store()
        .args(["--connectors", "memory,tpch"])
        .start();
    // Recorded on Trino 476 with the memory and tpch plugins.
    assert_eq!(
        engine
            .query("CREATE CATALOG p USING postgresql")
            .unwrap_err()
            .message,
        "No factory for connector 'postgresql'. Available factories: [memory, tpch]"
    );
    engine.query("CREATE CATALOG t USING tpch").unwrap();
    assert_eq!(
        engine
            .query("SELECT count(*) FROM t.tiny.nation")
            .unwrap()
            .rows,
        [[serde_json::json!(25)]]
    );
    let unknown = trino()
        .args(["--connectors", "oracle"])
        .run_to_exit(std::time::Duration::from_secs(10));
    assert_eq!(unknown.status.code(), Some(2), "{}", unknown.stderr);
}

#[test]
fn a_bad_catalog_stops_presto_with_exit_1() {
    for (file, expected) in [
        (
            &b"connector.name=nosuch\n"[..],
            "No factory for connector nosuch",
        ),
        (&b"x=y\n"[..], "does not contain connector.name"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "bad.properties", file);
        fails_to_start(presto().catalog_dir(dir.path()), 1, expected);
    }
}

#[test]
fn read_only_store_modes() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "old.properties", b"connector.name=tpch\n");
    let code = trino()
        .dynamic()
        .file_store(dir.path())
        .arg("--catalog-read-only")
        .start();
    assert_eq!(
        code.query("CREATE CATALOG n USING tpch")
            .unwrap_err()
            .message,
        "Catalog store is read only"
    );
    assert_eq!(
        code.query("DROP CATALOG IF EXISTS nothing")
            .unwrap_err()
            .message,
        "Catalog store is read only"
    );

    let docs = trino()
        .dynamic()
        .file_store(dir.path())
        .args(["--catalog-read-only", "--read-only-mode", "docs"])
        .start();
    docs.query("CREATE CATALOG n USING tpch").unwrap();
    assert_eq!(
        files(dir.path()),
        vec!["old.properties"],
        "read-only store writes nothing"
    );
    assert_eq!(
        docs.query("DROP CATALOG old").unwrap_err().message,
        "Catalog store is read only"
    );
    docs.query("DROP CATALOG n").unwrap();
}

#[test]
fn an_unwritable_store_fails_with_catalog_store_error() {
    let parent = tempfile::tempdir().unwrap();
    let store = parent.path().join("store");
    std::fs::create_dir(&store).unwrap();
    let engine = trino().dynamic().file_store(&store).start();
    // The directory goes away under the running coordinator: `<name>.properties.tmp` cannot be
    // created (as on a read-only mount, trinodb/trino #25651).
    std::fs::remove_dir(&store).unwrap();
    let error = engine.query("CREATE CATALOG t USING tpch").unwrap_err();
    assert_eq!(
        (error.error_name.as_str(), error.message.as_str()),
        ("CATALOG_STORE_ERROR", "Could not store catalog properties")
    );
}

mod etc_dir {
    use super::*;

    fn etc(config: &str) -> tempfile::TempDir {
        let etc = tempfile::tempdir().unwrap();
        std::fs::create_dir(etc.path().join("catalog")).unwrap();
        write(etc.path(), "config.properties", config.as_bytes());
        write(etc.path(), "node.properties", b"node.environment=docker\n");
        write(
            &etc.path().join("catalog"),
            "tpch.properties",
            b"connector.name=tpch\n",
        );
        etc
    }

    const IMAGE_CONFIG: &str = "coordinator=true\nhttp-server.http.port=8080\ncatalog.management=${ENV:CATALOG_MANAGEMENT}\n";

    #[test]
    fn the_image_config_is_static_unless_catalog_management_says_dynamic() {
        let etc = etc(IMAGE_CONFIG);
        let static_ = trino()
            .arg("--etc-dir")
            .arg(etc.path())
            .env("CATALOG_MANAGEMENT", "static")
            .start();
        assert_eq!(static_.show_catalogs(), vec!["system", "tpch"]);
        assert_eq!(
            static_
                .query("CREATE CATALOG x USING tpch")
                .unwrap_err()
                .error_name,
            "NOT_SUPPORTED"
        );
        let info = json(get(&format!("{}/v1/info", static_.url())));
        assert_eq!(info["environment"], "docker");

        let dynamic = trino()
            .arg("--etc-dir")
            .arg(etc.path())
            .env("CATALOG_MANAGEMENT", "dynamic")
            .start();
        dynamic.query("CREATE CATALOG x USING tpch").unwrap();
        assert!(
            etc.path().join("catalog/x.properties").exists(),
            "the default store dir is etc/catalog"
        );
    }

    #[test]
    fn an_unset_catalog_management_variable_stops_trino() {
        let etc = etc(IMAGE_CONFIG);
        fails_to_start(
            trino().arg("--etc-dir").arg(etc.path()),
            100,
            "Environment variable is not set: CATALOG_MANAGEMENT",
        );
    }

    #[test]
    fn config_dir_in_config_properties_breaks_dynamic_start_up() {
        let etc = etc("catalog.management=dynamic\ncatalog.config-dir=/somewhere\n");
        fails_to_start(
            trino().arg("--etc-dir").arg(etc.path()),
            100,
            "Configuration property 'catalog.config-dir' was not used. Did you mean to use 'catalog.store'?",
        );
    }

    #[test]
    fn catalog_store_properties_names_the_dynamic_store_dir() {
        let store = tempfile::tempdir().unwrap();
        let etc = etc("catalog.management=dynamic\n");
        write(
            etc.path(),
            "catalog-store.properties",
            format!("catalog.config-dir={}\n", store.path().display()).as_bytes(),
        );
        let engine = trino().arg("--etc-dir").arg(etc.path()).start();
        assert_eq!(
            engine.show_catalogs(),
            vec!["system"],
            "etc/catalog is not the store dir"
        );
        engine.query("CREATE CATALOG x USING tpch").unwrap();
        assert!(store.path().join("x.properties").exists());
    }

    #[test]
    fn static_reads_the_legacy_plugin_config_dir() {
        let other = tempfile::tempdir().unwrap();
        write(
            other.path(),
            "memory.properties",
            b"connector.name=memory\n",
        );
        let etc = etc(&format!("plugin.config-dir={}\n", other.path().display()));
        let engine = trino().arg("--etc-dir").arg(etc.path()).start();
        assert_eq!(engine.show_catalogs(), vec!["memory", "system"]);
    }

    #[test]
    fn presto_reads_its_etc_dir() {
        let etc = etc("coordinator=true\nhttp-server.http.port=8080\n");
        let engine = presto().arg("--etc-dir").arg(etc.path()).start();
        let output = test_support::emulator::run_query(
            &engine.url(),
            test_support::emulator::Flavour::Presto,
            "me",
            "SHOW CATALOGS",
        )
        .unwrap();
        assert_eq!(
            output.rows,
            vec![
                vec![serde_json::json!("system")],
                vec![serde_json::json!("tpch")]
            ]
        );
    }
}
