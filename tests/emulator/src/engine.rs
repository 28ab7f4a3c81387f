//! Executes parsed statements against the catalog manager: what each statement returns or how it
//! fails, with Trino's error names and texts.

use serde::Serialize;
use serde_json::{Value, json};

use crate::catalogs::{CatalogManager, Listed, Lookup};
use crate::error_codes::{self as codes, QueryFailure};
use crate::rng::Rng;
use crate::sql::{CompareOp, Expr, Ident, PropertyValue, Select, SelectItem, Statement};

/// One column of a result: `QueryResults.columns[]` (client/trino-client Column.java).
#[derive(Debug, Clone, Serialize)]
pub struct Column {
    pub name: String,
    #[serde(rename = "type")]
    pub type_name: String,
    #[serde(rename = "typeSignature")]
    pub type_signature: Value,
}

impl Column {
    pub fn varchar(name: &str) -> Column {
        Column::new(
            name,
            "varchar",
            json!({"rawType": "varchar", "arguments": [{"kind": "LONG", "value": 2147483647}]}),
        )
    }

    pub fn bounded_varchar(name: &str, length: usize) -> Column {
        Column::new(
            name,
            &format!("varchar({length})"),
            json!({"rawType": "varchar", "arguments": [{"kind": "LONG", "value": length}]}),
        )
    }

    fn simple(name: &str, type_name: &str) -> Column {
        Column::new(
            name,
            type_name,
            json!({"rawType": type_name, "arguments": []}),
        )
    }

    fn new(name: &str, type_name: &str, signature: Value) -> Column {
        Column {
            name: name.to_string(),
            type_name: type_name.to_string(),
            type_signature: signature,
        }
    }
}

/// A successful statement.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub columns: Vec<Column>,
    pub rows: Vec<Vec<Value>>,
    /// Reads a table of a connector: the rows take `--query-latency` to arrive.
    pub reads_table: bool,
}

#[derive(Debug, Clone, Copy)]
pub struct EngineOptions {
    /// `system.metadata.catalogs` without `connector_name` (older Trino/PrestoDB, facts §2.2).
    pub legacy_catalogs_table: bool,
    /// Which `system.metadata.catalogs` of newer Trino releases (`--catalogs-table`).
    pub catalogs_table: CatalogsTable,
    /// PrestoDB's texts where they differ from Trino's.
    pub presto: bool,
    /// Just after the start-up: a table read fails NO_NODES_AVAILABLE (`--no-nodes-window`).
    pub no_nodes: bool,
}

/// `system.metadata.catalogs` across Trino releases the machine cannot run (only 476 was
/// recorded, which lists failed catalogs with their connector and has three columns).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CatalogsTable {
    /// Trino 476 (recorded): failed catalogs listed, three columns.
    #[value(name = "476")]
    V476,
    /// Trino 477: "Do not include catalogs that failed to load in `system.metadata.catalogs`"
    /// (release notes 477, trinodb/trino#26493).
    #[value(name = "477")]
    V477,
    /// Trino 478: failed catalogs listed again, with a `state` column ("Make metadata.catalogs
    /// return all catalogs", trinodb/trino#26918, release 478). NOT IN FACTS: the values
    /// `LOADED` / `FAILED_TO_LOAD` are from that pull request's summary, not from a server.
    #[value(name = "478")]
    V478,
}

pub fn execute(
    statement: &Statement,
    catalogs: &mut CatalogManager,
    options: EngineOptions,
    rng: &Rng,
) -> Result<Outcome, QueryFailure> {
    match statement {
        Statement::ShowCatalogs { like, escape } => {
            show_catalogs(catalogs, like.as_deref(), escape.as_deref())
        }
        Statement::ShowSchemas {
            catalog,
            like,
            escape,
        } => show_schemas(
            catalogs,
            options,
            catalog.as_ref(),
            like.as_deref(),
            escape.as_deref(),
        ),
        Statement::Select(select) => run_select(select, catalogs, options),
        Statement::CreateCatalog {
            name,
            not_exists,
            connector,
            authorization,
            properties,
        } => {
            // CreateCatalogTask.execute, in its order (facts §1.3; CreateCatalogTask.java).
            if *authorization {
                return Err(QueryFailure::new(
                    codes::NOT_SUPPORTED,
                    "CREATE CATALOG with AUTHORIZATION is not yet supported",
                ));
            }
            let mut values: Vec<(String, String)> = Vec::new();
            for property in properties {
                let value = match &property.value {
                    PropertyValue::Default => {
                        return Err(QueryFailure::at(
                            codes::INVALID_CATALOG_PROPERTY,
                            property.pos,
                            "Catalog properties do not support DEFAULT value",
                        ));
                    }
                    PropertyValue::Expr(Expr::String(s, _)) => s.clone(),
                    PropertyValue::Expr(other) => {
                        // PropertyUtil.evaluateProperty's failure text, at the property (recorded
                        // on Trino 476: `line 1:42: Invalid value for catalog property …`).
                        return Err(QueryFailure::at(
                            codes::INVALID_CATALOG_PROPERTY,
                            property.pos,
                            format!(
                                "Invalid value for catalog property '{}': Cannot convert [{}] to varchar",
                                property.name.value,
                                other.formatted()
                            ),
                        ));
                    }
                };
                // Property names are Identifier.getValue(): as written. A repeated key: last wins
                // (HashMap.put in CreateCatalogTask).
                values.retain(|(k, _)| *k != property.name.value);
                values.push((property.name.value.clone(), value));
            }
            // The connector is the identifier's text as written, quotes included when delimited,
            // checked against `[a-z][a-z0-9_]*` (recorded on Trino 476: `USING "memory"` →
            // `Invalid connector name: "memory"`, `USING Memory` → `Invalid connector name:
            // Memory`, both GENERIC_INTERNAL_ERROR). Only the file loader translates `-` to `_`.
            let connector_text = if connector.delimited {
                format!("\"{}\"", connector.value.replace('"', "\"\""))
            } else {
                connector.value.clone()
            };
            if !is_connector_name(&connector_text) {
                return Err(QueryFailure::new(
                    codes::GENERIC_INTERNAL_ERROR,
                    format!("Invalid connector name: {connector_text}"),
                ));
            }
            // CatalogName lower-cases (facts §1.7).
            catalogs.create(
                &name.value.to_lowercase(),
                &connector_text,
                values,
                *not_exists,
                rng,
            )?;
            Ok(ddl_outcome())
        }
        Statement::DropCatalog {
            name,
            exists,
            cascade,
        } => {
            if *cascade {
                // DropCatalogTask's copy-pasted text (facts §1.3).
                return Err(QueryFailure::new(
                    codes::NOT_SUPPORTED,
                    "CASCADE is not yet supported for DROP CATALOG",
                ));
            }
            if name.value.eq_ignore_ascii_case("system") {
                // Recorded on Trino 476, with and without IF EXISTS, in both management modes
                // (before the static store refuses).
                return Err(QueryFailure::new(
                    codes::NOT_SUPPORTED,
                    "Dropping system catalog is not allowed",
                ));
            }
            catalogs.drop(&name.value.to_lowercase(), *exists)?;
            Ok(ddl_outcome())
        }
    }
}

/// Trino's `ConnectorName` rule.
fn is_connector_name(text: &str) -> bool {
    text.starts_with(|c: char| c.is_ascii_lowercase())
        && text
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// A DDL statement's last page has an empty `columns` and no `data` (recorded on Trino 476);
/// clients read `updateType`.
fn ddl_outcome() -> Outcome {
    Outcome {
        columns: vec![],
        rows: vec![],
        reads_table: false,
    }
}

fn escape_char(escape: Option<&str>) -> Result<Option<char>, QueryFailure> {
    match escape {
        // NOT IN FACTS: LikeFunctions' text, from memory.
        Some(e) if e.chars().count() != 1 => Err(QueryFailure::new(
            codes::INVALID_FUNCTION_ARGUMENT,
            "Escape string must be a single character",
        )),
        Some(e) => Ok(e.chars().next()),
        None => Ok(None),
    }
}

/// SHOW CATALOGS: one column `Catalog`, sorted (ShowQueriesRewrite, facts §2.1), typed
/// `varchar(n)` with n the longest catalog name (recorded on Trino 476 and PrestoDB 0.296).
fn show_catalogs(
    catalogs: &CatalogManager,
    like: Option<&str>,
    escape: Option<&str>,
) -> Result<Outcome, QueryFailure> {
    let escape = escape_char(escape)?;
    let mut names: Vec<String> = catalogs.list().into_iter().map(|c| c.name).collect();
    // The width is the longest of all names, LIKE or not (recorded: `LIKE 'rec_w%'` matched
    // `rec_with` alone and answered `varchar(9)`, the width of `rec_quote`).
    let longest = names.iter().map(|n| n.chars().count()).max().unwrap_or(0);
    if let Some(pattern) = like {
        names.retain(|name| like_matches(pattern, escape, name));
    }
    Ok(Outcome {
        columns: vec![Column::bounded_varchar("Catalog", longest)],
        rows: names.into_iter().map(|n| vec![Value::String(n)]).collect(),
        reads_table: false,
    })
}

/// The schemas a catalog of `connector` has. tpch (both engines) and memory (Trino) were
/// recorded; NOT IN FACTS: the others.
fn schemas_of(connector: &str) -> Vec<&'static str> {
    match connector {
        "tpch" | "tpcds" => vec![
            "information_schema",
            "sf1",
            "sf100",
            "sf1000",
            "sf10000",
            "sf100000",
            "sf300",
            "sf3000",
            "sf30000",
            "tiny",
        ],
        "system" => vec!["information_schema", "jdbc", "metadata", "runtime"],
        _ => vec!["default", "information_schema"],
    }
}

/// The failure of a statement that names a catalog that is not there: Trino's
/// `CATALOG_NOT_FOUND` `Catalog 'x' not found` (with the name's position when the catalog is part
/// of a table name), PrestoDB's `SYNTAX_ERROR` `Catalog x does not exist` (no position) — both
/// recorded.
fn missing_catalog(
    options: EngineOptions,
    name: &str,
    pos: Option<(usize, usize)>,
) -> QueryFailure {
    if options.presto {
        return QueryFailure::new(
            codes::SYNTAX_ERROR,
            format!("Catalog {name} does not exist"),
        );
    }
    let message = format!("Catalog '{name}' not found");
    match pos {
        Some(pos) => QueryFailure::at(codes::CATALOG_NOT_FOUND, pos, message),
        None => QueryFailure::new(codes::CATALOG_NOT_FOUND, message),
    }
}

/// CatalogConnector.verify (TestDynamicCatalogs.testUnhealthyCatalog, facts §1.6; measured on
/// Trino 476: CATALOG_UNAVAILABLE, 125).
fn unavailable_catalog(name: &str) -> QueryFailure {
    QueryFailure::new(
        codes::CATALOG_UNAVAILABLE,
        format!("Catalog '{name}' failed to initialize and is disabled"),
    )
}

/// SHOW SCHEMAS FROM c: one column `Schema varchar`, sorted (recorded).
fn show_schemas(
    catalogs: &CatalogManager,
    options: EngineOptions,
    catalog: Option<&Ident>,
    like: Option<&str>,
    escape: Option<&str>,
) -> Result<Outcome, QueryFailure> {
    let escape = escape_char(escape)?;
    let Some(catalog) = catalog else {
        // Recorded on Trino 476, at the statement's start.
        return Err(QueryFailure::at(
            codes::MISSING_CATALOG_NAME,
            (1, 1),
            "Catalog must be specified when session catalog is not set",
        ));
    };
    let name = catalog.canonical();
    let connector = match catalogs.lookup(&name) {
        Lookup::Missing => return Err(missing_catalog(options, &name, None)),
        Lookup::Failed => return Err(unavailable_catalog(&name)),
        Lookup::System => "system".to_string(),
        Lookup::Live => catalogs
            .list()
            .into_iter()
            .find(|c| c.name == name)
            .map(|c| c.connector)
            .unwrap_or_default(),
    };
    if matches!(connector.as_str(), "postgresql" | "mysql") {
        // NOT RECORDED: the emulator has no database behind a JDBC catalog, so listing its
        // schemas fails as a connector that cannot reach its database would (the message is the
        // emulator's own, not a driver's).
        return Err(QueryFailure::new(
            codes::JDBC_ERROR,
            format!(
                "Catalog '{name}': cannot connect to the database of its connection-url (coordinator emulator: no database is reachable)"
            ),
        ));
    }
    let mut schemas = schemas_of(&connector);
    if let Some(pattern) = like {
        schemas.retain(|schema| like_matches(pattern, escape, schema));
    }
    Ok(Outcome {
        columns: vec![Column::varchar("Schema")],
        rows: schemas
            .into_iter()
            .map(|s| vec![Value::String(s.to_string())])
            .collect(),
        reads_table: false,
    })
}

/// SQL LIKE: `%` any run, `_` one char, `escape` makes the next char literal.
fn like_matches(pattern: &str, escape: Option<char>, text: &str) -> bool {
    #[derive(Clone, Copy)]
    enum P {
        Any,
        One,
        Lit(char),
    }
    let mut parts = Vec::new();
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        if Some(c) == escape {
            if let Some(next) = chars.next() {
                parts.push(P::Lit(next));
            }
        } else if c == '%' {
            parts.push(P::Any);
        } else if c == '_' {
            parts.push(P::One);
        } else {
            parts.push(P::Lit(c));
        }
    }
    let text: Vec<char> = text.chars().collect();
    fn matches(p: &[P], t: &[char]) -> bool {
        match p.first() {
            None => t.is_empty(),
            Some(P::Any) => (0..=t.len()).any(|i| matches(&p[1..], &t[i..])),
            Some(P::One) => !t.is_empty() && matches(&p[1..], &t[1..]),
            Some(P::Lit(c)) => t.first() == Some(c) && matches(&p[1..], &t[1..]),
        }
    }
    matches(&parts, &text)
}

/// A relation the SELECT reads: its columns and rows.
struct Relation {
    columns: Vec<Column>,
    rows: Vec<Vec<Value>>,
    reads_table: bool,
    /// The table's real size where it is known (tpch's tiny schema), for `count(*)`.
    row_count: Option<u64>,
}

fn run_select(
    select: &Select,
    catalogs: &CatalogManager,
    options: EngineOptions,
) -> Result<Outcome, QueryFailure> {
    let relation = match &select.from {
        None => Relation {
            columns: vec![],
            rows: vec![vec![]],
            reads_table: false,
            row_count: None,
        },
        Some(name) => resolve_table(name, catalogs, options)?,
    };
    if relation.reads_table && options.no_nodes {
        // Recorded on PrestoDB 0.296 (and seen on Trino 476) for a table read just after the
        // start: the coordinator does not list itself as a worker yet.
        return Err(QueryFailure::new(
            codes::NO_NODES_AVAILABLE,
            "No nodes available to run query",
        ));
    }
    let mut rows: Vec<&Vec<Value>> = Vec::new();
    for row in &relation.rows {
        let keep = match &select.filter {
            None => true,
            Some(filter) => evaluate(filter, &relation.columns, row)? == Value::Bool(true),
        };
        if keep {
            rows.push(row);
        }
    }
    let counts = select.items.iter().any(|item| {
        matches!(
            item,
            SelectItem::Expr {
                expr: Expr::CountStar(_),
                ..
            }
        )
    });
    if counts {
        return count_select(select, &relation, rows.len());
    }
    if let Some(limit) = select.limit {
        rows.truncate(limit.min(usize::MAX as u64) as usize);
    }
    let mut columns = Vec::new();
    enum Out<'a> {
        Star(usize),
        Expr(&'a Expr),
    }
    let mut outputs = Vec::new();
    for (index, item) in select.items.iter().enumerate() {
        match item {
            SelectItem::All => {
                if select.from.is_none() {
                    // NOT IN FACTS: Trino's text for `SELECT *` without FROM.
                    return Err(QueryFailure::new(
                        codes::GENERIC_INTERNAL_ERROR,
                        "SELECT * not allowed in queries without FROM clause",
                    ));
                }
                for (i, column) in relation.columns.iter().enumerate() {
                    columns.push(column.clone());
                    outputs.push(Out::Star(i));
                }
            }
            SelectItem::Expr { expr, alias } => {
                let column = output_column(expr, alias.as_ref(), index, &relation.columns)?;
                columns.push(column);
                outputs.push(Out::Expr(expr));
            }
        }
    }
    let mut result = Vec::new();
    for row in rows {
        let mut out = Vec::new();
        for output in &outputs {
            out.push(match output {
                Out::Star(i) => row[*i].clone(),
                Out::Expr(expr) => evaluate(expr, &relation.columns, row)?,
            });
        }
        result.push(out);
    }
    Ok(Outcome {
        columns,
        rows: result,
        reads_table: relation.reads_table,
    })
}

/// A SELECT with `count(*)`: one row (then LIMIT). `filtered` is how many rows passed WHERE.
fn count_select(
    select: &Select,
    relation: &Relation,
    filtered: usize,
) -> Result<Outcome, QueryFailure> {
    let count = match (&select.filter, relation.row_count) {
        (None, Some(known)) => known,
        _ => filtered as u64,
    };
    let mut columns = Vec::new();
    let mut row = Vec::new();
    for (index, item) in select.items.iter().enumerate() {
        let SelectItem::Expr { expr, alias } = item else {
            // NOT IN FACTS: the analyzer's text for `*` beside an aggregate.
            return Err(QueryFailure::new(
                codes::GENERIC_INTERNAL_ERROR,
                "'*' must be an aggregate expression or appear in GROUP BY clause",
            ));
        };
        columns.push(output_column(expr, alias.as_ref(), index, &[])?);
        row.push(match expr {
            Expr::CountStar(_) => Value::from(count),
            other => evaluate(other, &[], &[])?,
        });
    }
    let rows = if select.limit == Some(0) {
        vec![]
    } else {
        vec![row]
    };
    Ok(Outcome {
        columns,
        rows,
        reads_table: relation.reads_table,
    })
}

fn output_column(
    expr: &Expr,
    alias: Option<&Ident>,
    index: usize,
    columns: &[Column],
) -> Result<Column, QueryFailure> {
    // Unnamed expressions are `_col<N>` (NOT IN FACTS: Trino's output naming, from memory).
    let name = alias.map(|a| a.canonical()).unwrap_or_else(|| match expr {
        Expr::Column(parts) => parts.last().map(|p| p.canonical()).unwrap_or_default(),
        _ => format!("_col{index}"),
    });
    Ok(match expr {
        Expr::Integer(text, _) => {
            let fits = text.parse::<i32>().is_ok();
            Column::simple(&name, if fits { "integer" } else { "bigint" })
        }
        Expr::Decimal(text, _) => {
            let digits = text.chars().filter(char::is_ascii_digit).count();
            let scale = text.split('.').nth(1).map_or(0, str::len);
            Column::new(
                &name,
                &format!("decimal({digits},{scale})"),
                json!({"rawType": "decimal", "arguments": [{"kind": "LONG", "value": digits}, {"kind": "LONG", "value": scale}]}),
            )
        }
        Expr::String(s, _) => Column::bounded_varchar(&name, s.chars().count()),
        Expr::Boolean(..) | Expr::Compare(..) | Expr::And(..) | Expr::Or(..) => {
            Column::simple(&name, "boolean")
        }
        Expr::Null(_) => Column::simple(&name, "unknown"),
        Expr::CountStar(_) => Column::simple(&name, "bigint"),
        Expr::Column(parts) => {
            let index = find_column(parts, columns)?;
            Column {
                name,
                ..columns[index].clone()
            }
        }
    })
}

/// NOT IN FACTS: "Column '…' cannot be resolved" is the analyzer's text from memory.
fn find_column(parts: &[Ident], columns: &[Column]) -> Result<usize, QueryFailure> {
    let wanted = parts.last().map(|p| p.canonical()).unwrap_or_default();
    columns
        .iter()
        .position(|c| c.name.to_lowercase() == wanted)
        .ok_or_else(|| {
            let shown = parts
                .iter()
                .map(|p| p.value.clone())
                .collect::<Vec<_>>()
                .join(".");
            QueryFailure::at(
                codes::COLUMN_NOT_FOUND,
                parts[0].pos,
                format!("Column '{shown}' cannot be resolved"),
            )
        })
}

fn sql_type(value: &Value) -> &'static str {
    match value {
        Value::String(_) => "varchar",
        Value::Number(_) => "integer",
        Value::Bool(_) => "boolean",
        _ => "unknown",
    }
}

fn evaluate(expr: &Expr, columns: &[Column], row: &[Value]) -> Result<Value, QueryFailure> {
    Ok(match expr {
        Expr::String(s, _) => Value::String(s.clone()),
        Expr::Integer(n, _) => n
            .parse::<i64>()
            .map(Value::from)
            .unwrap_or(Value::String(n.clone())),
        Expr::Decimal(n, _) => Value::String(n.clone()),
        Expr::Boolean(b, _) => Value::Bool(*b),
        Expr::Null(_) | Expr::CountStar(_) => Value::Null,
        Expr::Column(parts) => row[find_column(parts, columns)?].clone(),
        Expr::Compare(left, op, right) => {
            let (l, r) = (
                evaluate(left, columns, row)?,
                evaluate(right, columns, row)?,
            );
            if l.is_null() || r.is_null() {
                return Ok(Value::Null);
            }
            if sql_type(&l) != sql_type(&r) {
                // NOT IN FACTS: the analyzer's text, from memory.
                let symbol = if *op == CompareOp::Eq { "=" } else { "<>" };
                return Err(QueryFailure::at(
                    codes::TYPE_MISMATCH,
                    left.pos(),
                    format!(
                        "Cannot apply operator: {} {symbol} {}",
                        sql_type(&l),
                        sql_type(&r)
                    ),
                ));
            }
            Value::Bool((l == r) == (*op == CompareOp::Eq))
        }
        Expr::And(left, right) => {
            let (l, r) = (
                evaluate(left, columns, row)?,
                evaluate(right, columns, row)?,
            );
            Value::Bool(l == Value::Bool(true) && r == Value::Bool(true))
        }
        Expr::Or(left, right) => {
            let (l, r) = (
                evaluate(left, columns, row)?,
                evaluate(right, columns, row)?,
            );
            Value::Bool(l == Value::Bool(true) || r == Value::Bool(true))
        }
    })
}

fn resolve_table(
    name: &[Ident],
    catalogs: &CatalogManager,
    options: EngineOptions,
) -> Result<Relation, QueryFailure> {
    let pos = name[0].pos;
    // No session catalog/schema is ever set on the emulator (MetadataUtil.createQualifiedObjectName).
    // NOT IN FACTS: both texts are from memory.
    match name.len() {
        1 => {
            return Err(QueryFailure::at(
                codes::MISSING_SCHEMA_NAME,
                pos,
                "Schema must be specified when session schema is not set",
            ));
        }
        2 => {
            return Err(QueryFailure::at(
                codes::MISSING_CATALOG_NAME,
                pos,
                "Catalog must be specified when session catalog is not set",
            ));
        }
        3 => {}
        _ => {
            // NOT IN FACTS: Trino's text for a name with too many parts.
            let shown = name
                .iter()
                .map(|p| p.value.clone())
                .collect::<Vec<_>>()
                .join(".");
            return Err(QueryFailure::at(
                codes::SYNTAX_ERROR,
                pos,
                format!("Too many dots in table name: {shown}"),
            ));
        }
    }
    let catalog = name[0].canonical();
    let (schema, table) = (name[1].canonical(), name[2].canonical());
    match catalogs.lookup(&catalog) {
        // MetadataUtil.getRequiredCatalogHandle
        Lookup::Missing => Err(missing_catalog(options, &catalog, Some(pos))),
        Lookup::Failed => Err(unavailable_catalog(&catalog)),
        Lookup::System => {
            if schema == "metadata" && table == "catalogs" {
                Ok(catalogs_table(catalogs, options))
            } else {
                Err(QueryFailure::at(
                    codes::TABLE_NOT_FOUND,
                    pos,
                    format!("Table 'system.{schema}.{table}' does not exist"),
                ))
            }
        }
        Lookup::Live => {
            // NOT IN FACTS: every schema.table of a live catalog exists, with two columns and
            // five rows, so tests can read "a few rows" from any catalog. `count(*)` of a tpch
            // table of the tiny schema gives its real size (nation: 25, recorded).
            let connector = catalogs
                .list()
                .into_iter()
                .find(|c| c.name == catalog)
                .map(|c| c.connector)
                .unwrap_or_default();
            let row_count = (connector == "tpch" && schema == "tiny")
                .then(|| tpch_tiny_rows(&table))
                .flatten();
            let rows = (1..=5)
                .map(|i| vec![Value::from(i), Value::String(format!("{catalog}-row-{i}"))])
                .collect();
            Ok(Relation {
                columns: vec![Column::simple("id", "bigint"), Column::varchar("name")],
                rows,
                reads_table: true,
                row_count,
            })
        }
    }
}

/// The TPC-H tables at scale factor 0.01 (tpch's `tiny` schema). Recorded: nation 25; the rest
/// are TPC-H's own sizes at that scale.
fn tpch_tiny_rows(table: &str) -> Option<u64> {
    Some(match table {
        "nation" => 25,
        "region" => 5,
        "supplier" => 100,
        "customer" => 1_500,
        "part" => 2_000,
        "partsupp" => 8_000,
        "orders" => 15_000,
        "lineitem" => 60_175,
        _ => return None,
    })
}

/// `system.metadata.catalogs`: `catalog_name`, `connector_id` (= the name), `connector_name`
/// (recorded on Trino 476 and PrestoDB 0.296), as older and newer releases differ.
fn catalogs_table(catalogs: &CatalogManager, options: EngineOptions) -> Relation {
    let mut columns = vec![
        Column::varchar("catalog_name"),
        Column::varchar("connector_id"),
    ];
    if !options.legacy_catalogs_table {
        columns.push(Column::varchar("connector_name"));
    }
    if options.catalogs_table == CatalogsTable::V478 {
        columns.push(Column::varchar("state"));
    }
    let rows = catalogs
        .list()
        .into_iter()
        .filter(|c: &Listed| !(c.failed && options.catalogs_table == CatalogsTable::V477))
        .map(|c| {
            let mut row = vec![Value::String(c.name.clone()), Value::String(c.name)];
            if !options.legacy_catalogs_table {
                row.push(Value::String(c.connector));
            }
            if options.catalogs_table == CatalogsTable::V478 {
                let state = if c.failed { "FAILED_TO_LOAD" } else { "LOADED" };
                row.push(Value::String(state.to_string()));
            }
            row
        })
        .collect();
    Relation {
        columns,
        rows,
        reads_table: false,
        row_count: None,
    }
}

#[cfg(test)]
mod tests {
    use super::like_matches;

    #[test]
    fn like_with_escape() {
        assert!(like_matches("t%", None, "tpch"));
        assert!(like_matches("tpc_", None, "tpch"));
        assert!(!like_matches("tpc_", None, "tpcds"));
        assert!(like_matches("a\\_b", Some('\\'), "a_b"));
        assert!(!like_matches("a\\_b", Some('\\'), "axb"));
    }
}
