//! The rules for names: a file's name is its catalog's (lower case, `a-z0-9_-`, not `system`, not
//! a connection check's), and `connector.name` follows the engine's rule.

use super::spec::{Flavour, MAX_NAME_BYTES};
use std::fmt;

/// Why a file name stands for no catalog name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("not a .properties file")]
    NotProperties,
    #[error("the file name has no catalog name before .properties")]
    Empty,
    #[error("the catalog name is {0} bytes long; at most {MAX_NAME_BYTES} are allowed")]
    TooLong(usize),
    #[error(
        "catalog names must be lower case: Trino would create '{0}' from this file; rename it to {0}.properties"
    )]
    UpperCase(String),
    #[error("the catalog name '{name}' contains {bad:?}; only a-z, 0-9, '_' and '-' are allowed")]
    Character { name: String, bad: char },
    #[error("'system' is reserved for Trino's internal catalog")]
    System,
    #[error("names starting with '{CHECK_PREFIX}' are reserved for the agent's connection checks")]
    CheckPrefix,
}

/// The catalog name a file name stands for, or why it cannot stand for one.
pub fn catalog_name(file_name: &str) -> Result<String, NameError> {
    let stem = file_name
        .strip_suffix(".properties")
        .ok_or(NameError::NotProperties)?;
    if stem.is_empty() {
        return Err(NameError::Empty);
    }
    if stem.len() > MAX_NAME_BYTES {
        return Err(NameError::TooLong(stem.len()));
    }
    if stem.chars().any(|c| c.is_ascii_uppercase()) {
        return Err(NameError::UpperCase(stem.to_ascii_lowercase()));
    }
    if let Some(bad) = stem
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_' || *c == '-'))
    {
        return Err(NameError::Character {
            name: stem.to_string(),
            bad,
        });
    }
    if stem == "system" {
        return Err(NameError::System);
    }
    if is_check_catalog(stem) {
        return Err(NameError::CheckPrefix);
    }
    Ok(stem.to_string())
}

/// The prefix of a connection check's temporary catalogs (`crate::check`): no file may use it,
/// and no pass plans such a catalog.
pub const CHECK_PREFIX: &str = "catalog_reloader_check_";

/// Whether a catalog name is a connection check's temporary one.
pub fn is_check_catalog(name: &str) -> bool {
    name.starts_with(CHECK_PREFIX)
}

/// A warning for names that are valid but must be double-quoted in SQL (a `-`, a leading digit).
pub fn name_warning(name: &str) -> Option<String> {
    let plain = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    (!plain).then(|| {
        format!(
            "'{name}' is not a plain SQL identifier: queries must quote it, e.g. SELECT * FROM \"{name}\".schema.table"
        )
    })
}

/// The words a real Trino 476 refuses as a bare connector name with `SYNTAX_ERROR` (measured:
/// `CREATE CATALOG zz USING <word>` for each keyword of its grammar). Bare, `USING with` would be
/// read as the next clause, so such a name is refused locally. No connector has one.
const TRINO_RESERVED: [&str; 82] = [
    "alter",
    "and",
    "as",
    "auto",
    "between",
    "by",
    "case",
    "cast",
    "constraint",
    "create",
    "cross",
    "cube",
    "current_catalog",
    "current_date",
    "current_path",
    "current_role",
    "current_schema",
    "current_time",
    "current_timestamp",
    "current_user",
    "deallocate",
    "delete",
    "describe",
    "distinct",
    "drop",
    "else",
    "end",
    "escape",
    "except",
    "exists",
    "extract",
    "false",
    "for",
    "from",
    "full",
    "group",
    "grouping",
    "having",
    "in",
    "inner",
    "insert",
    "intersect",
    "into",
    "is",
    "join",
    "json_array",
    "json_exists",
    "json_object",
    "json_query",
    "json_table",
    "json_value",
    "left",
    "like",
    "listagg",
    "localtime",
    "localtimestamp",
    "natural",
    "normalize",
    "not",
    "null",
    "on",
    "or",
    "order",
    "outer",
    "prepare",
    "recursive",
    "right",
    "rollup",
    "select",
    "skip",
    "table",
    "then",
    "trim",
    "true",
    "uescape",
    "union",
    "unnest",
    "using",
    "values",
    "when",
    "where",
    "with",
];

/// The connector name as the engine will be asked for it, or why it cannot be one.
///
/// Trino's `ConnectorName` accepts only `[a-z][a-z0-9_]*` (measured on 476: `USING "memory"` and
/// `USING Memory` are both refused with `Invalid connector name`), and the agent sends it bare in
/// `USING`, so a name outside that rule would also change the statement's shape (`memory COMMENT
/// 'x'` is read as a comment). Trino maps `-` to `_` for names read from files (deprecated, with a
/// warning), so the agent does the same and says so. PrestoDB looks connectors up by their exact
/// name, and its names contain `-` (`hive-hadoop2`): `[a-z][a-z0-9_-]*`.
pub fn connector_name(
    value: &str,
    flavour: Flavour,
) -> Result<(String, Option<String>), ConnectorNameError> {
    if value.is_empty() {
        return Err(ConnectorNameError::Empty);
    }
    let (name, note) = match flavour {
        Flavour::Trino if value.contains('-') => {
            let mapped = value.replace('-', "_");
            let note = format!(
                "connector name '{value}' is deprecated; Trino uses '{mapped}' (write connector.name={mapped})"
            );
            (mapped, Some(note))
        }
        _ => (value.to_string(), None),
    };
    let allowed = |c: char| {
        c.is_ascii_lowercase()
            || c.is_ascii_digit()
            || c == '_'
            || (flavour == Flavour::Presto && c == '-')
    };
    let starts_well = name.starts_with(|c: char| c.is_ascii_lowercase());
    if !starts_well || !name.chars().all(allowed) {
        let lower = value.to_ascii_lowercase();
        let lower_case = (lower != value
            && connector_name(&lower, flavour).is_ok_and(|(n, _)| n != name))
        .then_some(lower);
        return Err(ConnectorNameError::Invalid {
            value: value.to_string(),
            flavour,
            lower_case,
        });
    }
    if flavour == Flavour::Trino && TRINO_RESERVED.contains(&name.as_str()) {
        return Err(ConnectorNameError::Reserved(value.to_string()));
    }
    Ok((name, note))
}

/// Why a `connector.name` value names no connector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectorNameError {
    Empty,
    /// Outside the engine's rule; `lower_case` is the value in lower case where that would pass.
    Invalid {
        value: String,
        flavour: Flavour,
        lower_case: Option<String>,
    },
    /// A reserved word of Trino's SQL.
    Reserved(String),
}

impl fmt::Display for ConnectorNameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConnectorNameError::Empty => f.write_str("connector.name is empty"),
            ConnectorNameError::Invalid {
                value,
                flavour,
                lower_case,
            } => {
                let rule = match flavour {
                    Flavour::Trino => {
                        "a lower-case letter, then lower-case letters, digits and '_'"
                    }
                    Flavour::Presto => {
                        "a lower-case letter, then lower-case letters, digits, '_' and '-'"
                    }
                };
                write!(
                    f,
                    "invalid connector name '{value}': a connector name is {rule}"
                )?;
                match lower_case {
                    Some(lower) => write!(
                        f,
                        " (connector names are lower case: write connector.name={lower})"
                    ),
                    None => Ok(()),
                }
            }
            ConnectorNameError::Reserved(value) => write!(
                f,
                "invalid connector name '{value}': it is a reserved word of Trino's SQL, and no connector has this name"
            ),
        }
    }
}

impl std::error::Error for ConnectorNameError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connector_names_follow_trinos_rule_and_never_change_a_statement() {
        let trino = |v: &str| connector_name(v, Flavour::Trino);
        assert_eq!(trino("memory"), Ok(("memory".into(), None)));
        assert_eq!(trino("delta_lake"), Ok(("delta_lake".into(), None)));
        let (mapped, note) = trino("black-hole").unwrap();
        assert_eq!(mapped, "black_hole");
        assert!(note.unwrap().contains("deprecated"));
        for bad in [
            "Memory",
            "\"memory\"",
            "memory COMMENT 'x'",
            "1tpch",
            "_tpch",
            "tpch;",
            "tpch.x",
            "é",
        ] {
            assert!(trino(bad).is_err(), "{bad} accepted");
        }
        assert!(
            trino("Memory")
                .unwrap_err()
                .to_string()
                .contains("write connector.name=memory")
        );
        assert!(
            trino("with")
                .unwrap_err()
                .to_string()
                .contains("reserved word")
        );
        assert!(trino("select").is_err());
        // Non-reserved keywords are names like any other (measured: `USING comment` reaches the
        // connector lookup).
        assert!(trino("comment").is_ok());
        // PrestoDB looks connectors up by their exact name, dashes included.
        assert_eq!(
            connector_name("hive-hadoop2", Flavour::Presto),
            Ok(("hive-hadoop2".into(), None))
        );
        assert!(connector_name("Hive", Flavour::Presto).is_err());
    }

    #[test]
    fn catalog_names_follow_the_rules() {
        assert_eq!(catalog_name("sales_db.properties").unwrap(), "sales_db");
        assert_eq!(catalog_name("my-cat.properties").unwrap(), "my-cat");
        assert!(
            catalog_name("Sales.properties")
                .unwrap_err()
                .to_string()
                .contains("rename it to sales.properties")
        );
        assert!(
            catalog_name("a.b.properties")
                .unwrap_err()
                .to_string()
                .contains("'.'")
        );
        assert!(
            catalog_name("system.properties")
                .unwrap_err()
                .to_string()
                .contains("reserved")
        );
        assert!(catalog_name(".properties").is_err());
        let long = format!("{}.properties", "a".repeat(129));
        assert!(
            catalog_name(&long)
                .unwrap_err()
                .to_string()
                .contains("129 bytes")
        );
        assert!(catalog_name(&format!("{}.properties", "a".repeat(128))).is_ok());
    }

    #[test]
    fn names_needing_quotes_get_a_warning() {
        assert!(name_warning("sales").is_none());
        assert!(name_warning("_x1").is_none());
        assert!(name_warning("my-cat").unwrap().contains("\"my-cat\""));
        assert!(name_warning("1st").is_some());
    }
}
