//! Statement text. Every identifier is double-quoted with `"` doubled, every value is a `'…'` string
//! literal with `'` doubled (Trino requires varchar values for catalog properties: measured on 476,
//! `'tpch.splits-per-node' = 2` is refused with INVALID_CATALOG_PROPERTY), so no key or value can
//! end the statement or start another one.
//!
//! The one exception is the connector name after `USING`: Trino keeps the quotes of a delimited
//! identifier there and refuses `USING "tpch"` (`Invalid connector name: "tpch"`, measured on 476),
//! so it goes bare. [`crate::catalog::connector_name`] lets through only `[a-z][a-z0-9_]*` minus
//! Trino's reserved words, so a bare name is one token and cannot change the statement's shape.

use crate::catalog::CatalogSpec;

pub fn quote_identifier(text: &str) -> String {
    format!("\"{}\"", text.replace('"', "\"\""))
}

pub fn quote_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// `CREATE CATALOG "name" USING connector [WITH ("k" = 'v', …)]`. No `IF NOT EXISTS`: early
/// versions of Trino's grammar (before `CoordinatorDynamicCatalogManager` took a `notExists` flag)
/// lack it, and the agent checks live state itself.
///
/// The connector must have passed [`crate::catalog::connector_name`]; a name that did not (a
/// hand-built spec) is quoted, which Trino refuses rather than misreads.
pub fn create_catalog(spec: &CatalogSpec) -> String {
    let connector = if is_bare_connector(&spec.connector) {
        spec.connector.clone()
    } else {
        quote_identifier(&spec.connector)
    };
    let mut sql = format!(
        "CREATE CATALOG {} USING {connector}",
        quote_identifier(&spec.name),
    );
    if !spec.properties.is_empty() {
        let assignments: Vec<String> = spec
            .properties
            .iter()
            .map(|(k, v)| format!("{} = {}", quote_identifier(k), quote_literal(v)))
            .collect();
        sql.push_str(" WITH (");
        sql.push_str(&assignments.join(", "));
        sql.push(')');
    }
    sql
}

/// Whether a connector name can go bare into `USING` without changing the statement's shape.
fn is_bare_connector(name: &str) -> bool {
    crate::catalog::connector_name(name, crate::catalog::Flavour::Trino)
        .is_ok_and(|(checked, _)| checked == name)
}

pub fn drop_catalog(name: &str) -> String {
    format!("DROP CATALOG {}", quote_identifier(name))
}

/// Live catalogs with their connector (`system.metadata.catalogs` has `connector_name` in newer
/// Trino and PrestoDB; older ones have only `catalog_name` and `connector_id`).
pub const LIST_CATALOGS: &str = "SELECT catalog_name, connector_name FROM system.metadata.catalogs";

/// The portable fallback when `connector_name` does not exist (older versions).
pub const SHOW_CATALOGS: &str = "SHOW CATALOGS";

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A minimal reader for the two quoted forms, to check that quoting round-trips and that the
    /// quoted token ends exactly where the text does.
    fn read_quoted(text: &str, quote: char) -> Option<(String, &str)> {
        let mut chars = text.char_indices();
        if chars.next()?.1 != quote {
            return None;
        }
        let mut out = String::new();
        let mut pending_quote = false;
        for (i, c) in chars {
            if pending_quote {
                if c == quote {
                    out.push(quote);
                    pending_quote = false;
                    continue;
                }
                return Some((out, &text[i..]));
            }
            if c == quote {
                pending_quote = true;
            } else {
                out.push(c);
            }
        }
        pending_quote.then_some((out, ""))
    }

    #[test]
    fn create_statement_text() {
        let spec = CatalogSpec {
            name: "my-cat".into(),
            connector: "postgresql".into(),
            properties: [
                (
                    "connection-url".to_string(),
                    "jdbc:postgresql://db/x".to_string(),
                ),
                ("a\"b".to_string(), "it's".to_string()),
            ]
            .into(),
        };
        assert_eq!(
            create_catalog(&spec),
            r#"CREATE CATALOG "my-cat" USING postgresql WITH ("a""b" = 'it''s', "connection-url" = 'jdbc:postgresql://db/x')"#
        );
        let bare = CatalogSpec {
            name: "t".into(),
            connector: "tpch".into(),
            properties: Default::default(),
        };
        assert_eq!(create_catalog(&bare), r#"CREATE CATALOG "t" USING tpch"#);
        // Never a shape change: a connector outside the rule stays one (quoted) token.
        let odd = CatalogSpec {
            name: "t".into(),
            connector: "memory COMMENT 'x'".into(),
            properties: Default::default(),
        };
        assert_eq!(
            create_catalog(&odd),
            r#"CREATE CATALOG "t" USING "memory COMMENT 'x'""#
        );
        assert_eq!(drop_catalog("we\"ird"), r#"DROP CATALOG "we""ird""#);
    }

    proptest! {
        #[test]
        fn identifiers_round_trip_and_end_where_they_should(text in any::<String>()) {
            let quoted = format!("{} rest", quote_identifier(&text));
            let (back, rest) = read_quoted(&quoted, '"').unwrap();
            prop_assert_eq!(back, text);
            prop_assert_eq!(rest, " rest");
        }

        #[test]
        fn literals_round_trip_and_end_where_they_should(text in any::<String>()) {
            let quoted = format!("{}; DROP CATALOG x", quote_literal(&text));
            let (back, rest) = read_quoted(&quoted, '\'').unwrap();
            prop_assert_eq!(back, text);
            prop_assert_eq!(rest, "; DROP CATALOG x");
        }
    }
}
