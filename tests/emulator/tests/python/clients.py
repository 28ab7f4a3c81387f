"""Third-party client conformance: drive the emulator through the PyPI `trino` or
`presto-python-client` package and print what the client saw, as JSON, for the Rust test
(tests/emulator/tests/python_clients.rs) to assert.

usage: clients.py trino|presto HOST PORT
"""
import json
import sys


def run_trino(host, port):
    import trino

    conn = trino.dbapi.connect(host=host, port=port, user="py-trino", http_scheme="http")
    cur = conn.cursor()
    seen = {}
    cur.execute("SHOW CATALOGS")
    seen["catalogs_before"] = [row[0] for row in cur.fetchall()]
    cur.execute(
        "CREATE CATALOG py_pg USING postgresql WITH ("
        "\"connection-url\" = 'jdbc:postgresql://db:5432/app', "
        "\"connection-user\" = 'o''brien')"
    )
    cur.fetchall()
    seen["create_update_type"] = cur.update_type
    cur.execute("SHOW CATALOGS")
    seen["catalogs_after_create"] = [row[0] for row in cur.fetchall()]
    cur.execute("SELECT * FROM py_pg.public.orders LIMIT 2")
    seen["select_columns"] = [d[0] for d in cur.description]
    seen["select_rows"] = cur.fetchall()
    cur.execute("DROP CATALOG py_pg")
    cur.fetchall()
    cur.execute("SHOW CATALOGS")
    seen["catalogs_after_drop"] = [row[0] for row in cur.fetchall()]
    try:
        cur.execute("DROP CATALOG py_pg")
        cur.fetchall()
        seen["second_drop"] = "succeeded"
    except trino.exceptions.TrinoUserError as error:
        seen["second_drop"] = {"error_name": error.error_name, "message": error.message}
    return seen


def run_presto(host, port):
    import prestodb

    conn = prestodb.dbapi.connect(host=host, port=port, user="py-presto", catalog="system", schema="metadata")
    cur = conn.cursor()
    seen = {}
    cur.execute("SHOW CATALOGS")
    seen["catalogs"] = [row[0] for row in cur.fetchall()]
    cur.execute("SELECT catalog_name FROM system.metadata.catalogs WHERE catalog_name = 'tpch'")
    seen["select_rows"] = cur.fetchall()
    try:
        cur.execute("CREATE CATALOG py_pg USING postgresql WITH (\"connection-user\" = 'o''brien')")
        cur.fetchall()
        seen["create"] = "succeeded"
    except prestodb.exceptions.PrestoUserError as error:
        seen["create"] = {"error_name": error.error_name, "message": error.message}
    return seen


if __name__ == "__main__":
    flavour, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    result = run_trino(host, port) if flavour == "trino" else run_presto(host, port)
    print(json.dumps(result, sort_keys=True))
