//! The connectors the emulator pretends to have, and how creating one fails.
//!
//! Real connectors are configured by airlift: every property must be used by some config class
//! (`Configuration property 'x' was not used`), values are coerced to their Java types
//! (`Invalid value 'hadoop' for type CatalogType (property 'iceberg.catalog.type')`), and
//! `@NotNull` properties are required (facts §1.6; trinodb/trino #25796, #17781).
//!
//! NOT IN FACTS: the property lists below are a representative subset of each connector's real
//! configuration (plus whole prefixes such as `hive.`/`s3.` for the lakehouse connectors), and the
//! required properties are our reading of each connector's defaults.

use crate::Engine;

/// A property airlift coerces to a Java type (an `int`, an enum), and how its failure reads.
struct TypedProperty {
    key: &'static str,
    /// `int`, or the enum's simple name.
    java_type: &'static str,
    /// An enum's values (matched case-insensitively with `-` read as `_`, untrimmed: recorded on
    /// Trino 476, `'simplified'` is accepted and `' simplified'` refused); empty for `int`.
    values: &'static [&'static str],
    /// The config class and setter that airlift names in the failure
    /// (`… in order to call [public TpchConfig TpchConfig.setSplitsPerNode(int)]`), with the
    /// classes Guice's "Full classname legend" then lists; None where the text was never
    /// recorded (the failure then ends at the closing parenthesis of `(property '…')`).
    setter: Option<Setter>,
}

struct Setter {
    config_class: &'static str,
    config_package: &'static str,
    method: &'static str,
    /// The enum's package, for the legend (NOT IN FACTS: only the `int` case was recorded, whose
    /// legend lists the config class alone).
    type_package: Option<&'static str>,
}

struct Connector {
    name: &'static str,
    /// Exact property names the connector uses.
    allowed: &'static [&'static str],
    /// Property name prefixes the connector uses (`hive.` …).
    allowed_prefixes: &'static [&'static str],
    typed: &'static [TypedProperty],
    /// Configured by airlift (unknown properties fail the catalog). PrestoDB's tpch reads its few
    /// properties itself and ignores the rest (presto-measured.md (b)).
    strict: bool,
}

const TPCH_CONFIG: &str = "TpchConfig";
const TPCH_PACKAGE: &str = "io.trino.plugin.tpch";

const JDBC: &[&str] = &[
    "connection-url",
    "connection-user",
    "connection-password",
    "user-credential-name",
    "password-credential-name",
    "credential-provider.type",
    "case-insensitive-name-matching",
    "case-insensitive-name-matching.cache-ttl",
    "metadata.cache-ttl",
    "metadata.cache-missing",
    "metadata.schemas.cache-ttl",
    "metadata.tables.cache-ttl",
    "metadata.cache-maximum-size",
    "join-pushdown.enabled",
    "join-pushdown.strategy",
    "aggregation-pushdown.enabled",
    "topn-pushdown.enabled",
    "domain-compaction-threshold",
    "decimal-mapping",
    "decimal-default-scale",
    "decimal-rounding-mode",
    "unsupported-type-handling",
    "jdbc-types-mapped-to-varchar",
    "statistics.enabled",
    "dynamic-filtering.enabled",
    "dynamic-filtering.wait-timeout",
    "write.batch-size",
    "insert.non-transactional-insert.enabled",
    "query.comment-format",
    "keystore-path",
    "keystore-password",
    "truststore-path",
    "truststore-password",
];

const LAKEHOUSE_PREFIXES: &[&str] = &["hive.", "s3.", "fs.", "gcs.", "azure.", "parquet.", "orc."];

const CONNECTORS: &[Connector] = &[
    Connector {
        name: "tpch",
        // Recorded on Trino 476: these are accepted (recorded/trino-476.json, and
        // reference/trino-476-measured.md §5 for the rest).
        allowed: &[
            "tpch.splits-per-node",
            "tpch.column-naming",
            "tpch.double-type-mapping",
            "tpch.partitioning-enabled",
            "tpch.predicate-pushdown-enabled",
            "tpch.max-rows-per-page",
            "tpch.table-scan-redirection-catalog",
            "tpch.table-scan-redirection-schema",
        ],
        allowed_prefixes: &[],
        typed: &[
            TypedProperty {
                key: "tpch.splits-per-node",
                java_type: "int",
                values: &[],
                setter: Some(Setter {
                    config_class: TPCH_CONFIG,
                    config_package: TPCH_PACKAGE,
                    method: "setSplitsPerNode",
                    type_package: None,
                }),
            },
            TypedProperty {
                key: "tpch.max-rows-per-page",
                java_type: "int",
                values: &[],
                setter: Some(Setter {
                    config_class: TPCH_CONFIG,
                    config_package: TPCH_PACKAGE,
                    method: "setMaxRowsPerPage",
                    type_package: None,
                }),
            },
            TypedProperty {
                key: "tpch.column-naming",
                java_type: "ColumnNaming",
                values: &["SIMPLIFIED", "STANDARD"],
                setter: Some(Setter {
                    config_class: TPCH_CONFIG,
                    config_package: TPCH_PACKAGE,
                    method: "setColumnNaming",
                    type_package: Some("io.trino.plugin.tpch"),
                }),
            },
        ],
        strict: true,
    },
    Connector {
        name: "tpcds",
        allowed: &[
            "tpcds.splits-per-node",
            "tpcds.with-no-sexism",
            "tpcds.split-count",
        ],
        allowed_prefixes: &[],
        typed: &[],
        strict: true,
    },
    Connector {
        name: "memory",
        allowed: &[
            "memory.max-data-per-node",
            "memory.enable-lazy-dynamic-filtering",
        ],
        allowed_prefixes: &[],
        typed: &[],
        strict: true,
    },
    Connector {
        name: "blackhole",
        allowed: &[],
        allowed_prefixes: &[],
        typed: &[],
        strict: true,
    },
    Connector {
        name: "jmx",
        allowed: &["jmx.dump-tables", "jmx.dump-period", "jmx.max-entries"],
        allowed_prefixes: &[],
        typed: &[],
        strict: true,
    },
    Connector {
        name: "postgresql",
        allowed: JDBC,
        allowed_prefixes: &["postgresql."],
        typed: &[],
        strict: true,
    },
    Connector {
        name: "mysql",
        allowed: JDBC,
        allowed_prefixes: &["mysql."],
        typed: &[],
        strict: true,
    },
    Connector {
        name: "hive",
        allowed: &[],
        allowed_prefixes: LAKEHOUSE_PREFIXES,
        typed: &[],
        strict: true,
    },
    Connector {
        name: "iceberg",
        allowed: &[],
        allowed_prefixes: &[
            "iceberg.", "hive.", "s3.", "fs.", "gcs.", "azure.", "parquet.", "orc.",
        ],
        typed: &[TypedProperty {
            key: "iceberg.catalog.type",
            java_type: "CatalogType",
            // io.trino.plugin.iceberg.CatalogType
            values: &[
                "HIVE_METASTORE",
                "GLUE",
                "REST",
                "JDBC",
                "NESSIE",
                "SNOWFLAKE",
            ],
            setter: None,
        }],
        strict: true,
    },
    Connector {
        name: "delta_lake",
        allowed: &[],
        allowed_prefixes: &[
            "delta.", "hive.", "s3.", "fs.", "gcs.", "azure.", "parquet.",
        ],
        typed: &[],
        strict: true,
    },
];

/// NOT IN FACTS: PrestoDB's connector names (it keeps hyphens, facts §5) and its iceberg
/// CatalogType values. Its tpch was recorded (presto-measured.md (b)).
const PRESTO_CONNECTORS: &[Connector] = &[
    Connector {
        name: "tpch",
        allowed: &[],
        allowed_prefixes: &[],
        // Read with Integer.parseInt by TpchConnectorFactory.getSplitsPerNode; failure:
        // `Invalid property tpch.splits-per-node`.
        typed: &[TypedProperty {
            key: "tpch.splits-per-node",
            java_type: "int",
            values: &[],
            setter: None,
        }],
        strict: false,
    },
    Connector {
        name: "tpcds",
        allowed: &["tpcds.splits-per-node", "tpcds.use-varchar-type"],
        allowed_prefixes: &[],
        typed: &[],
        strict: true,
    },
    Connector {
        name: "memory",
        allowed: &["memory.max-data-per-node"],
        allowed_prefixes: &[],
        typed: &[],
        strict: true,
    },
    Connector {
        name: "blackhole",
        allowed: &[],
        allowed_prefixes: &[],
        typed: &[],
        strict: true,
    },
    Connector {
        name: "jmx",
        allowed: &["jmx.dump-tables", "jmx.dump-period", "jmx.max-entries"],
        allowed_prefixes: &[],
        typed: &[],
        strict: true,
    },
    Connector {
        name: "postgresql",
        allowed: JDBC,
        allowed_prefixes: &["postgresql."],
        typed: &[],
        strict: true,
    },
    Connector {
        name: "mysql",
        allowed: JDBC,
        allowed_prefixes: &["mysql."],
        typed: &[],
        strict: true,
    },
    Connector {
        name: "hive-hadoop2",
        allowed: &[],
        allowed_prefixes: LAKEHOUSE_PREFIXES,
        typed: &[],
        strict: true,
    },
    Connector {
        name: "iceberg",
        allowed: &[],
        allowed_prefixes: &["iceberg.", "hive.", "s3.", "fs.", "parquet.", "orc."],
        typed: &[TypedProperty {
            key: "iceberg.catalog.type",
            java_type: "CatalogType",
            values: &["HIVE", "HADOOP", "NESSIE", "REST"],
            setter: None,
        }],
        strict: true,
    },
    Connector {
        name: "delta",
        allowed: &[],
        allowed_prefixes: &["delta.", "hive.", "s3.", "fs.", "parquet."],
        typed: &[],
        strict: true,
    },
];

/// Every connector name the emulator knows for `engine` (what `--connectors` picks from).
pub fn known(engine: Engine) -> Vec<&'static str> {
    registry(engine).iter().map(|c| c.name).collect()
}

fn registry(engine: Engine) -> &'static [Connector] {
    match engine {
        Engine::Trino => CONNECTORS,
        Engine::Presto => PRESTO_CONNECTORS,
    }
}

/// Why a connector could not be created. Both flavours surface these as plain exceptions
/// (GENERIC_INTERNAL_ERROR in Trino, facts §1.6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectorError {
    /// No plugin has this connector; `available` are the ones that exist.
    NoFactory {
        name: String,
        available: Vec<String>,
    },
    /// airlift's configuration errors, and the classes its legend lists.
    Configuration {
        errors: Vec<String>,
        legend: Vec<(String, String)>,
    },
    /// A connector that reads a property itself and refuses its value (PrestoDB's tpch).
    InvalidProperty(String),
}

impl ConnectorError {
    pub fn message(&self, engine: Engine) -> String {
        match self {
            ConnectorError::NoFactory { name, available } => match engine {
                // connector/DefaultCatalogFactory.java; recorded on Trino 476 with its two
                // plugins: `Available factories: [memory, tpch]` (sorted here; Java prints a
                // hash set, which for these two happens to be sorted too).
                Engine::Trino => {
                    let mut names: Vec<&str> = available.iter().map(String::as_str).collect();
                    names.sort_unstable();
                    format!(
                        "No factory for connector '{name}'. Available factories: [{}]",
                        names.join(", ")
                    )
                }
                // ConnectorManager.createConnection (recorded on PrestoDB 0.296).
                Engine::Presto => format!("No factory for connector {name}"),
            },
            ConnectorError::Configuration { errors, legend } => {
                let mut text = configuration_errors(errors);
                if !legend.is_empty() {
                    text.push_str(&classname_legend(legend));
                }
                text
            }
            ConnectorError::InvalidProperty(key) => format!("Invalid property {key}"),
        }
    }
}

/// airlift's `ApplicationConfigurationException.getMessage()`: Guice's
/// `Messages.formatMessages("Configuration errors", …)` over messages prefixed `Error: `; recorded
/// on Trino 476 as `Configuration errors:\n\n1) Error: …\n\n1 error`. NOT IN FACTS: the order
/// of several errors (values, missing, unused) is ours.
pub fn configuration_errors(errors: &[String]) -> String {
    let mut out = String::from("Configuration errors:\n\n");
    for (index, error) in errors.iter().enumerate() {
        out.push_str(&format!("{}) Error: {error}\n\n", index + 1));
    }
    let plural = if errors.len() == 1 { "" } else { "s" };
    out.push_str(&format!("{} error{plural}", errors.len()));
    out
}

/// Guice's trailer when a message names classes by their simple names, recorded on Trino 476
/// after a bad `int` value.
fn classname_legend(classes: &[(String, String)]) -> String {
    let mut out = String::from(
        "\n\n======================\nFull classname legend:\n======================\n",
    );
    for (short, full) in classes {
        out.push_str(&format!("{short}: \"{full}\"\n"));
    }
    out.push_str("========================\nEnd of classname legend:\n========================\n");
    out
}

/// The edit distance between two property names (for airlift's "Did you mean" hint).
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current.push(substitution.min(previous[j + 1] + 1).min(current[j] + 1));
        }
        previous = current;
    }
    previous[b.len()]
}

/// Checks that `connector` exists among `available` and accepts `properties` (already
/// secret-resolved).
pub fn validate(
    engine: Engine,
    connector: &str,
    properties: &[(String, String)],
    available: &[String],
) -> Result<(), ConnectorError> {
    let spec = registry(engine)
        .iter()
        .find(|c| c.name == connector && available.iter().any(|a| a == connector));
    let Some(spec) = spec else {
        return Err(ConnectorError::NoFactory {
            name: connector.to_string(),
            available: available.to_vec(),
        });
    };
    let get = |key: &str| -> Option<String> {
        properties
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
    };
    let mut errors = Vec::new();
    let mut legend: Vec<(String, String)> = Vec::new();
    for property in spec.typed {
        let Some(value) = get(property.key) else {
            continue;
        };
        let fits = if property.values.is_empty() {
            value.parse::<i32>().is_ok()
        } else {
            let normalized = value.to_uppercase().replace('-', "_");
            property.values.contains(&normalized.as_str())
        };
        if fits {
            continue;
        }
        if !spec.strict {
            return Err(ConnectorError::InvalidProperty(property.key.to_string()));
        }
        let mut error = format!(
            "Invalid value '{value}' for type {} (property '{}')",
            property.java_type, property.key
        );
        if let Some(setter) = &property.setter {
            error.push_str(&format!(
                " in order to call [public {class} {class}.{method}({ty})]",
                class = setter.config_class,
                method = setter.method,
                ty = property.java_type
            ));
            let mut named = vec![(
                setter.config_class.to_string(),
                format!("{}.{}", setter.config_package, setter.config_class),
            )];
            if let Some(package) = setter.type_package {
                named.push((
                    property.java_type.to_string(),
                    format!("{package}.{}", property.java_type),
                ));
            }
            for entry in named {
                if !legend.contains(&entry) {
                    legend.push(entry);
                }
            }
        }
        errors.push(error);
    }
    for required in required_properties(engine, connector, &get) {
        if get(required).is_none() {
            // NOT IN FACTS: bean-validation wording for a missing @NotNull property.
            errors.push(format!(
                "Invalid configuration property {required}: must not be null"
            ));
        }
    }
    if spec.strict {
        for (key, _) in properties {
            let used = spec.allowed.contains(&key.as_str())
                || spec.typed.iter().any(|t| t.key == key)
                || spec.allowed_prefixes.iter().any(|p| key.starts_with(p));
            if used {
                continue;
            }
            // Recorded on Trino 476: `… was not used. Did you mean to use
            // 'tpch.splits-per-node'?` for `tpch.split-per-node`. NOT IN FACTS: which names
            // airlift proposes; here those within an edit distance of 2, joined with ` or `.
            let near: Vec<String> = spec
                .allowed
                .iter()
                .filter(|known| distance(key, known) <= 2)
                .map(|known| format!("'{known}'"))
                .collect();
            if near.is_empty() {
                errors.push(format!("Configuration property '{key}' was not used"));
            } else {
                errors.push(format!(
                    "Configuration property '{key}' was not used. Did you mean to use {}?",
                    near.join(" or ")
                ));
            }
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ConnectorError::Configuration { errors, legend })
    }
}

fn required_properties(
    engine: Engine,
    connector: &str,
    get: &dyn Fn(&str) -> Option<String>,
) -> Vec<&'static str> {
    let metastore_uri_needed = || {
        matches!(
            get("hive.metastore").map(|m| m.to_lowercase()).as_deref(),
            None | Some("thrift")
        )
    };
    match (engine, connector) {
        (_, "postgresql" | "mysql") => vec!["connection-url"],
        (Engine::Trino, "hive" | "delta_lake") | (Engine::Presto, "hive-hadoop2" | "delta")
            if metastore_uri_needed() =>
        {
            vec!["hive.metastore.uri"]
        }
        (Engine::Trino, "iceberg") => {
            match get("iceberg.catalog.type")
                .map(|t| t.trim().to_uppercase().replace('-', "_"))
                .as_deref()
            {
                None | Some("HIVE_METASTORE") => vec!["hive.metastore.uri"],
                Some("REST") => vec!["iceberg.rest-catalog.uri"],
                _ => vec![],
            }
        }
        _ => vec![],
    }
}

/// `${ENV:…}` lookups go to the emulator's own environment, as Trino's go to the coordinator's.
pub fn process_env(key: &str) -> Option<String> {
    std::env::var(key).ok()
}

/// `${PROVIDER:key}` references in a value, resolved as airlift's SecretsResolver does
/// (airlift configuration/secrets/SecretsResolver.java): the provider name is case-insensitive;
/// the only provider built in is `env` (EnvironmentVariableSecretProvider), whose failure reads
/// `Environment variable is not set: KEY`; an unknown provider fails with
/// `No secret provider for key 'name'`. `${FILE:…}` is not implemented: its semantics could not
/// be confirmed, so it fails like any unknown provider.
pub fn resolve_secrets(
    value: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = value;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        let Some(colon) = after.find(':') else { break };
        let provider = &after[..colon];
        let provider_ok = provider
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic())
            && provider
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        let key_part = &after[colon + 1..];
        let Some(close) = key_part.find('}') else {
            break;
        };
        let key = &key_part[..close];
        if !provider_ok || key.is_empty() {
            out.push_str(&rest[..start + 2]);
            rest = &rest[start + 2..];
            continue;
        }
        out.push_str(&rest[..start]);
        if provider.eq_ignore_ascii_case("env") {
            let resolved =
                env(key).ok_or_else(|| format!("Environment variable is not set: {key}"))?;
            out.push_str(&resolved);
        } else {
            return Err(format!(
                "No secret provider for key '{}'",
                provider.to_lowercase()
            ));
        }
        rest = &key_part[close + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(engine: Engine) -> Vec<String> {
        known(engine).into_iter().map(str::to_string).collect()
    }

    fn props(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn unknown_connector_lists_the_factories() {
        let error = validate(Engine::Trino, "oracle", &[], &all(Engine::Trino)).unwrap_err();
        assert_eq!(
            error.message(Engine::Trino),
            "No factory for connector 'oracle'. Available factories: [blackhole, delta_lake, hive, iceberg, jmx, memory, mysql, postgresql, tpcds, tpch]"
        );
        assert_eq!(
            error.message(Engine::Presto),
            "No factory for connector oracle"
        );
    }

    #[test]
    fn configuration_errors_are_numbered() {
        let error = validate(
            Engine::Trino,
            "iceberg",
            &props(&[("iceberg.catalog.type", "hadoop"), ("x", "1")]),
            &all(Engine::Trino),
        )
        .unwrap_err();
        assert_eq!(
            error.message(Engine::Trino),
            "Configuration errors:\n\n\
             1) Error: Invalid value 'hadoop' for type CatalogType (property 'iceberg.catalog.type')\n\n\
             2) Error: Configuration property 'x' was not used\n\n\
             2 errors"
        );
        assert!(
            validate(
                Engine::Trino,
                "iceberg",
                &props(&[
                    ("iceberg.catalog.type", "rest"),
                    ("iceberg.rest-catalog.uri", "http://r")
                ]),
                &all(Engine::Trino),
            )
            .is_ok()
        );
        assert!(validate(Engine::Trino, "postgresql", &[], &all(Engine::Trino)).is_err());
    }

    #[test]
    fn tpch_values_and_near_misses_read_as_trino_476_wrote_them() {
        let tpch = |pairs: &[(&str, &str)]| {
            validate(Engine::Trino, "tpch", &props(pairs), &all(Engine::Trino))
                .map_err(|e| e.message(Engine::Trino))
        };
        assert_eq!(
            tpch(&[("tpch.split-per-node", "4")]).unwrap_err(),
            "Configuration errors:\n\n1) Error: Configuration property 'tpch.split-per-node' was not used. Did you mean to use 'tpch.splits-per-node'?\n\n1 error"
        );
        assert_eq!(
            tpch(&[("tpch.splits-per-node", "abc")]).unwrap_err(),
            "Configuration errors:\n\n1) Error: Invalid value 'abc' for type int (property 'tpch.splits-per-node') in order to call [public TpchConfig TpchConfig.setSplitsPerNode(int)]\n\n1 error\n\n======================\nFull classname legend:\n======================\nTpchConfig: \"io.trino.plugin.tpch.TpchConfig\"\n========================\nEnd of classname legend:\n========================\n"
        );
        assert!(tpch(&[("tpch.column-naming", "simplified")]).is_ok());
        assert!(tpch(&[("tpch.column-naming", " simplified")]).is_err());
        // PrestoDB's tpch ignores what it does not read and refuses a bad number by name.
        let presto = |pairs: &[(&str, &str)]| {
            validate(Engine::Presto, "tpch", &props(pairs), &all(Engine::Presto))
                .map_err(|e| e.message(Engine::Presto))
        };
        assert!(presto(&[("tpch.nope", "1")]).is_ok());
        assert_eq!(
            presto(&[("tpch.splits-per-node", "abc")]).unwrap_err(),
            "Invalid property tpch.splits-per-node"
        );
    }

    #[test]
    fn secrets_resolve_from_the_environment() {
        let env = |k: &str| (k == "PW").then(|| "s3cret".to_string());
        assert_eq!(
            resolve_secrets("a${ENV:PW}b${env:PW}", &env),
            Ok("as3cretbs3cret".into())
        );
        assert_eq!(
            resolve_secrets("${ENV:NOPE}", &env),
            Err("Environment variable is not set: NOPE".into())
        );
        assert_eq!(
            resolve_secrets("${VAULT:x}", &env),
            Err("No secret provider for key 'vault'".into())
        );
        assert_eq!(
            resolve_secrets("plain $ {x} ${", &env),
            Ok("plain $ {x} ${".into())
        );
    }
}
