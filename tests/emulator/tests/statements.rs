//! Every statement form and every message the emulator promises (facts §1.3, §1.6, §2), as one
//! snapshot per catalog-management mode: what a user sees for each statement.

mod common;

use common::*;
use serde_json::Value;

fn run_all(engine: &RunningEmulator, statements: &[&str]) -> Value {
    Value::Array(statements.iter().map(|sql| outcome(engine, sql)).collect())
}

#[test]
fn dynamic_catalog_management() {
    let engine = trino()
        .dynamic()
        .memory_store()
        .env("PG_PASSWORD", "s3cret")
        .start();
    let results = run_all(
        &engine,
        &[
            "SHOW CATALOGS",
            "CREATE CATALOG Sales USING tpch WITH (\"tpch.splits-per-node\" = '4')",
            "CREATE CATALOG sales USING tpch",
            "CREATE CATALOG IF NOT EXISTS sales USING tpch",
            "CREATE CATALOG system USING tpch",
            "CREATE CATALOG \"my-pg\" USING postgresql COMMENT 'ignored' WITH (\"connection-url\" = 'jdbc:postgresql://db:5432/x', \"connection-password\" = '${ENV:PG_PASSWORD}')",
            "CREATE CATALOG pg2 USING postgresql WITH (\"connection-url\" = 'jdbc:postgresql://db/x', \"connection-password\" = '${ENV:NOT_SET_ANYWHERE}')",
            "CREATE CATALOG pg3 USING postgresql",
            "CREATE CATALOG pg4 USING postgresql WITH (\"connection-url\" = 'x', \"no-such-property\" = 'y')",
            "CREATE CATALOG ice USING iceberg WITH (\"iceberg.catalog.type\" = 'hadoop')",
            "CREATE CATALOG ora USING oracle",
            "CREATE CATALOG h USING \"hive-hadoop2\" WITH (\"hive.metastore.uri\" = 'thrift://m:9083')",
            "CREATE CATALOG a USING memory WITH (\"memory.max-data-per-node\" = DEFAULT)",
            "CREATE CATALOG a USING memory WITH (\"memory.max-data-per-node\" = 128)",
            "CREATE CATALOG a USING memory AUTHORIZATION ROLE admin",
            "DROP CATALOG sales CASCADE",
            "SHOW CATALOGS LIKE 's%'",
            "SHOW CATALOGS LIKE 'my\\-%' ESCAPE '\\'",
            "SELECT * FROM system.metadata.catalogs",
            "SELECT catalog_name, connector_name FROM system.metadata.catalogs WHERE catalog_name = 'my-pg'",
            "SELECT nope FROM system.metadata.catalogs",
            "SELECT * FROM sales.tiny.nation LIMIT 2",
            "SELECT * FROM missing.tiny.nation",
            "SELECT * FROM tiny.nation",
            "SELECT 1",
            "SELECT 1, 'it''s' AS quote",
            "DROP CATALOG sales",
            "DROP CATALOG sales",
            "DROP CATALOG IF EXISTS sales",
            "DROP CATALOG \"my-pg\" RESTRICT",
            "SHOW CATALOGS",
        ],
    );
    insta::assert_json_snapshot!(results);
}

#[test]
fn static_catalog_management_refuses_ddl() {
    let dir = catalog_dir(&[("tpch", "connector.name=tpch\n")]);
    let engine = trino().catalog_dir(dir.path()).start();
    let results = run_all(
        &engine,
        &[
            "CREATE CATALOG x USING tpch",
            "DROP CATALOG IF EXISTS __probe__",
            "DROP CATALOG tpch CASCADE",
            "CREATE CATALOG x USING tpch AUTHORIZATION admin",
            "SHOW CATALOGS",
        ],
    );
    insta::assert_json_snapshot!(results);
}

#[test]
fn syntax_errors_have_trinos_shape_and_positions() {
    let engine = trino().dynamic().memory_store().start();
    let results = run_all(
        &engine,
        &[
            "SELEC 1",
            "SHOW SCHEMAS",
            "CREATE TABLE t (a int)",
            "CREATE CATALOG select USING memory",
            "CREATE CATALOG 1abc USING memory",
            "CREATE CATALOG `x` USING memory",
            "CREATE CATALOG \"\" USING memory",
            "CREATE CATALOG a USING memory WITH (memory.max-data-per-node = '1GB')",
            "CREATE CATALOG a\nUSING memory\nWITH (\"k\" 'v')",
            "DROP CATALOG a;",
            "SELECT 'unterminated",
        ],
    );
    insta::assert_json_snapshot!(results);
}

#[test]
fn older_versions_are_flags() {
    let engine = trino()
        .dynamic()
        .memory_store()
        .args(["--no-if-exists", "--legacy-catalogs-table"])
        .start();
    let results = run_all(
        &engine,
        &[
            "CREATE CATALOG IF NOT EXISTS a USING memory",
            "DROP CATALOG IF EXISTS a",
            "CREATE CATALOG a USING memory",
            "SELECT * FROM system.metadata.catalogs",
            "SELECT connector_name FROM system.metadata.catalogs",
        ],
    );
    insta::assert_json_snapshot!(results);
}

#[test]
fn presto_has_no_catalog_ddl() {
    let dir = catalog_dir(&[(
        "hive",
        "connector.name=hive-hadoop2\nhive.metastore.uri=thrift://m:9083\n",
    )]);
    let engine = presto().catalog_dir(dir.path()).start();
    let results = Value::Array(
        [
            "SHOW CATALOGS",
            "CREATE CATALOG x USING tpch",
            "DROP CATALOG hive",
            "SELECT * FROM system.metadata.catalogs",
            "SELECT * FROM hive.default.t LIMIT 1",
        ]
        .iter()
        .map(|sql| outcome_of(pages_as(&engine, "X-Presto-User", sql), sql))
        .collect(),
    );
    insta::assert_json_snapshot!(results);
}
