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

/// Where a property value must come from a fixed set (a Java enum, matched case-insensitively
/// with `-` read as `_`, as airlift's enum coercion does).
struct EnumProperty {
    key: &'static str,
    java_type: &'static str,
    values: &'static [&'static str],
}

struct Connector {
    name: &'static str,
    /// Exact property names the connector uses.
    allowed: &'static [&'static str],
    /// Property name prefixes the connector uses (`hive.` …).
    allowed_prefixes: &'static [&'static str],
    enums: &'static [EnumProperty],
}

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
        allowed: &[
            "tpch.splits-per-node",
            "tpch.column-naming",
            "tpch.double-type-mapping",
            "tpch.partitioning-enabled",
            "tpch.max-rows-per-page",
        ],
        allowed_prefixes: &[],
        enums: &[EnumProperty {
            key: "tpch.column-naming",
            java_type: "ColumnNaming",
            values: &["SIMPLIFIED", "STANDARD"],
        }],
    },
    Connector {
        name: "tpcds",
        allowed: &[
            "tpcds.splits-per-node",
            "tpcds.with-no-sexism",
            "tpcds.split-count",
        ],
        allowed_prefixes: &[],
        enums: &[],
    },
    Connector {
        name: "memory",
        allowed: &[
            "memory.max-data-per-node",
            "memory.enable-lazy-dynamic-filtering",
        ],
        allowed_prefixes: &[],
        enums: &[],
    },
    Connector {
        name: "blackhole",
        allowed: &[],
        allowed_prefixes: &[],
        enums: &[],
    },
    Connector {
        name: "jmx",
        allowed: &["jmx.dump-tables", "jmx.dump-period", "jmx.max-entries"],
        allowed_prefixes: &[],
        enums: &[],
    },
    Connector {
        name: "postgresql",
        allowed: JDBC,
        allowed_prefixes: &["postgresql."],
        enums: &[],
    },
    Connector {
        name: "mysql",
        allowed: JDBC,
        allowed_prefixes: &["mysql."],
        enums: &[],
    },
    Connector {
        name: "hive",
        allowed: &[],
        allowed_prefixes: LAKEHOUSE_PREFIXES,
        enums: &[],
    },
    Connector {
        name: "iceberg",
        allowed: &[],
        allowed_prefixes: &[
            "iceberg.", "hive.", "s3.", "fs.", "gcs.", "azure.", "parquet.", "orc.",
        ],
        enums: &[EnumProperty {
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
        }],
    },
    Connector {
        name: "delta_lake",
        allowed: &[],
        allowed_prefixes: &[
            "delta.", "hive.", "s3.", "fs.", "gcs.", "azure.", "parquet.",
        ],
        enums: &[],
    },
];

/// NOT IN FACTS: PrestoDB's connector names (it keeps hyphens, facts §5) and its iceberg
/// CatalogType values.
const PRESTO_CONNECTORS: &[Connector] = &[
    Connector {
        name: "tpch",
        allowed: &["tpch.splits-per-node", "tpch.column-naming"],
        allowed_prefixes: &[],
        enums: &[],
    },
    Connector {
        name: "tpcds",
        allowed: &["tpcds.splits-per-node", "tpcds.use-varchar-type"],
        allowed_prefixes: &[],
        enums: &[],
    },
    Connector {
        name: "memory",
        allowed: &["memory.max-data-per-node"],
        allowed_prefixes: &[],
        enums: &[],
    },
    Connector {
        name: "blackhole",
        allowed: &[],
        allowed_prefixes: &[],
        enums: &[],
    },
    Connector {
        name: "jmx",
        allowed: &["jmx.dump-tables", "jmx.dump-period", "jmx.max-entries"],
        allowed_prefixes: &[],
        enums: &[],
    },
    Connector {
        name: "postgresql",
        allowed: JDBC,
        allowed_prefixes: &["postgresql."],
        enums: &[],
    },
    Connector {
        name: "mysql",
        allowed: JDBC,
        allowed_prefixes: &["mysql."],
        enums: &[],
    },
    Connector {
        name: "hive-hadoop2",
        allowed: &[],
        allowed_prefixes: LAKEHOUSE_PREFIXES,
        enums: &[],
    },
    Connector {
        name: "iceberg",
        allowed: &[],
        allowed_prefixes: &["iceberg.", "hive.", "s3.", "fs.", "parquet.", "orc."],
        enums: &[EnumProperty {
            key: "iceberg.catalog.type",
            java_type: "CatalogType",
            values: &["HIVE", "HADOOP", "NESSIE", "REST"],
        }],
    },
    Connector {
        name: "delta",
        allowed: &[],
        allowed_prefixes: &["delta.", "hive.", "s3.", "fs.", "parquet."],
        enums: &[],
    },
];

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
    NoFactory(String),
    Configuration(Vec<String>),
}

impl ConnectorError {
    pub fn message(&self, engine: Engine) -> String {
        match self {
            ConnectorError::NoFactory(name) => match engine {
                // connector/DefaultCatalogFactory.java; NOT IN FACTS: the factory list is printed
                // sorted (Java prints a hash set).
                Engine::Trino => {
                    let mut names: Vec<&str> = CONNECTORS.iter().map(|c| c.name).collect();
                    names.sort_unstable();
                    format!(
                        "No factory for connector '{name}'. Available factories: [{}]",
                        names.join(", ")
                    )
                }
                // ConnectorManager.createConnection in presto-main-base (facts §5).
                Engine::Presto => format!("No factory for connector {name}"),
            },
            ConnectorError::Configuration(errors) => configuration_errors(errors),
        }
    }
}

/// airlift's `ApplicationConfigurationException.getMessage()`: Guice's
/// `Messages.formatMessages("Configuration errors", …)` over messages prefixed `Error: `
/// (airlift bootstrap/ApplicationConfigurationException.java). NOT IN FACTS: the blank lines and
/// the closing `N error(s)` line are Guice's layout as we remember it (Guice's source was not
/// read), and the order of the errors (values, missing, unused) is ours.
pub fn configuration_errors(errors: &[String]) -> String {
    let mut out = String::from("Configuration errors:\n\n");
    for (index, error) in errors.iter().enumerate() {
        out.push_str(&format!("{}) Error: {error}\n\n", index + 1));
    }
    let plural = if errors.len() == 1 { "" } else { "s" };
    out.push_str(&format!("{} error{plural}", errors.len()));
    out
}

/// Checks that `connector` exists and accepts `properties` (already secret-resolved).
pub fn validate(
    engine: Engine,
    connector: &str,
    properties: &[(String, String)],
) -> Result<(), ConnectorError> {
    let Some(spec) = registry(engine).iter().find(|c| c.name == connector) else {
        return Err(ConnectorError::NoFactory(connector.to_string()));
    };
    let get = |key: &str| -> Option<String> {
        properties
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
    };
    let mut errors = Vec::new();
    for property in spec.enums {
        if let Some(value) = get(property.key) {
            let normalized = value.trim().to_uppercase().replace('-', "_");
            if !property.values.contains(&normalized.as_str()) {
                // NOT IN FACTS: the facts quote this text up to the closing parenthesis only.
                errors.push(format!(
                    "Invalid value '{value}' for type {} (property '{}')",
                    property.java_type, property.key
                ));
            }
        }
    }
    for required in required_properties(engine, connector, &get) {
        if get(required).is_none() {
            // NOT IN FACTS: bean-validation wording for a missing @NotNull property.
            errors.push(format!(
                "Invalid configuration property {required}: must not be null"
            ));
        }
    }
    for (key, _) in properties {
        let used = spec.allowed.contains(&key.as_str())
            || spec.allowed_prefixes.iter().any(|p| key.starts_with(p));
        if !used {
            errors.push(format!("Configuration property '{key}' was not used"));
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ConnectorError::Configuration(errors))
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

    fn props(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn unknown_connector_lists_the_factories() {
        let error = validate(Engine::Trino, "oracle", &[]).unwrap_err();
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
                ])
            )
            .is_ok()
        );
        assert!(validate(Engine::Trino, "postgresql", &[]).is_err());
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
