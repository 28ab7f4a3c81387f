//! A catalog file's bytes → a checked [`CatalogSpec`], read as the engines read it (Java
//! properties, ISO-8859-1 or UTF-8, values trimmed as Trino trims them), or a [`FileError`]
//! naming file, line and reason.

use super::name::connector_name;
use super::spec::{CONNECTOR_KEY, CatalogSpec, Flavour, MAX_FILE_BYTES};
use crate::properties;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// Why a catalog file is not usable. Always names the file; the line where one applies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileError {
    pub file: String,
    pub line: Option<usize>,
    pub reason: String,
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{}: {}", self.file, line, self.reason),
            None => write!(f, "{}: {}", self.file, self.reason),
        }
    }
}

/// A problem that does not make the file invalid but that a user should hear about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Warning {
    pub file: String,
    pub message: String,
}

/// `java.lang.String.trim()`: strips leading and trailing characters <= U+0020.
pub fn java_trim(text: &str) -> &str {
    text.trim_matches(|c: char| c <= ' ')
}

/// Parses and checks one catalog file. `file` is the name used in errors (relative to the folder).
pub fn parse_file(
    file: &str,
    name: &str,
    bytes: &[u8],
    flavour: Flavour,
) -> Result<CatalogSpec, FileError> {
    parse_file_noting(file, name, bytes, flavour, &mut Vec::new())
}

/// [`parse_file`], also collecting what a user should hear about a valid file (`line N: …`).
pub fn parse_file_noting(
    file: &str,
    name: &str,
    bytes: &[u8],
    flavour: Flavour,
    notes: &mut Vec<String>,
) -> Result<CatalogSpec, FileError> {
    let fail = |line: Option<usize>, reason: String| FileError {
        file: file.to_string(),
        line,
        reason,
    };
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(fail(
            None,
            format!("the file is larger than {MAX_FILE_BYTES} bytes"),
        ));
    }
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let read = properties::read(bytes).map_err(|e| fail(Some(e.line), e.reason))?;
    notes.extend(read.notes);
    let entries = read.entries;

    let mut first_line: BTreeMap<&str, usize> = BTreeMap::new();
    let mut connector = None;
    let mut properties = BTreeMap::new();
    for entry in &entries {
        if entry.key.contains('\0') || entry.value.contains('\0') {
            // Never what a file means, and cut short by C code along the way.
            let what = if entry.key.contains('\0') {
                "a property name".to_string()
            } else {
                format!("the value of {}", entry.key)
            };
            return Err(fail(
                Some(entry.line),
                format!("{what} contains a NUL character"),
            ));
        }
        if entry.key.is_empty() {
            return Err(fail(Some(entry.line), "empty property name".into()));
        }
        if let Some(first) = first_line.insert(&entry.key, entry.line) {
            return Err(fail(
                Some(entry.line),
                format!(
                    "duplicate property '{}' (first set on line {first})",
                    entry.key
                ),
            ));
        }
        // Trino's airlift (336, Trino 476) trims every value it loads with Java's String.trim(),
        // which strips characters up to U+0020 (not Unicode spaces); PrestoDB's (0.221, PrestoDB
        // 0.296) keeps them: `connector.name=tpch ` stops it with "No factory for connector tpch ",
        // `tpch.splits-per-node=4 ` with "Invalid property" (measured; tests/properties_java.rs
        // calls both loaders). Read each value as the engine it is for would.
        let trimmed = java_trim(&entry.value);
        let value = match flavour {
            Flavour::Trino => trimmed.to_string(),
            Flavour::Presto => {
                if trimmed != entry.value && entry.key != CONNECTOR_KEY {
                    notes.push(format!(
                        "line {}: the value of {} begins or ends with whitespace or control \
                         characters, which PrestoDB keeps (Trino would trim them)",
                        entry.line, entry.key
                    ));
                }
                entry.value.clone()
            }
        };
        if entry.key == CONNECTOR_KEY {
            let (name, note) = connector_name(&value, flavour)
                .map_err(|reason| fail(Some(entry.line), reason.to_string()))?;
            if let Some(note) = note {
                notes.push(format!("line {}: {note}", entry.line));
            }
            connector = Some(name);
        } else {
            properties.insert(entry.key.clone(), value);
        }
    }
    let connector = connector.ok_or_else(|| {
        fail(
            None,
            "connector.name is missing (every catalog file needs e.g. connector.name=postgresql)"
                .into(),
        )
    })?;
    Ok(CatalogSpec {
        name: name.to_string(),
        connector,
        properties,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<CatalogSpec, FileError> {
        parse_file("pg.properties", "pg", text.as_bytes(), Flavour::Trino)
    }

    #[test]
    fn a_valid_file_gives_connector_and_trimmed_properties() {
        let spec = parse("connector.name=postgresql\nconnection-url = jdbc:postgresql://db/x   \n")
            .unwrap();
        assert_eq!(spec.connector, "postgresql");
        assert_eq!(spec.properties["connection-url"], "jdbc:postgresql://db/x");
        assert!(!spec.properties.contains_key("connector.name"));
    }

    #[test]
    fn values_are_trimmed_like_java_string_trim_for_trino_only() {
        let spec = parse("connector.name=tpch\na=\\u0001x\\t\nb=x\u{a0}\n").unwrap();
        assert_eq!(spec.properties["a"], "x");
        assert_eq!(
            spec.properties["b"], "x\u{a0}",
            "a no-break space is not trimmed by Java"
        );
        let mut notes = Vec::new();
        let text = b"connector.name=tpch\ntpch.splits-per-node=4 \n";
        let presto = parse_file_noting("p.properties", "p", text, Flavour::Presto, &mut notes);
        assert_eq!(presto.unwrap().properties["tpch.splits-per-node"], "4 ");
        assert_eq!(
            notes,
            [
                "line 2: the value of tpch.splits-per-node begins or ends with whitespace or control \
              characters, which PrestoDB keeps (Trino would trim them)"
            ]
        );
        let err = parse_file(
            "p.properties",
            "p",
            b"connector.name=tpch \n",
            Flavour::Presto,
        );
        assert_eq!(
            err.unwrap_err().line,
            Some(1),
            "PrestoDB has no connector 'tpch '"
        );
    }

    #[test]
    fn connector_dashes_become_underscores_for_trino_only() {
        let text = b"connector.name=hive-hadoop2\n";
        let trino = parse_file("h.properties", "h", text, Flavour::Trino).unwrap();
        let presto = parse_file("h.properties", "h", text, Flavour::Presto).unwrap();
        assert_eq!(trino.connector, "hive_hadoop2");
        assert_eq!(presto.connector, "hive-hadoop2");
    }

    #[test]
    fn errors_name_file_and_line() {
        let err = parse("connector.name=tpch\na=1\n# c\na=2\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "pg.properties:4: duplicate property 'a' (first set on line 2)"
        );
        let err = parse("connector.name=tpch\n=x\n").unwrap_err();
        assert_eq!(err.to_string(), "pg.properties:2: empty property name");
        let err = parse("a=1\n").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("pg.properties: connector.name is missing")
        );
        let err = parse("connector.name=  \n").unwrap_err();
        assert_eq!(err.line, Some(1));
    }

    #[test]
    fn a_bad_connector_names_its_line() {
        let err = parse("# a comment\n\nconnector.name=Memory\n").unwrap_err();
        assert_eq!(err.line, Some(3));
        assert!(err.reason.starts_with("invalid connector name 'Memory'"));
        let mut notes = Vec::new();
        parse_file_noting(
            "x.properties",
            "x",
            b"connector.name=black-hole\n",
            Flavour::Trino,
            &mut notes,
        )
        .unwrap();
        assert_eq!(notes.len(), 1);
        assert!(notes[0].starts_with("line 1: connector name 'black-hole' is deprecated"));
    }

    #[test]
    fn a_latin1_file_is_read_as_the_engines_read_it_and_a_mixed_one_is_refused() {
        let mut notes = Vec::new();
        let spec = parse_file_noting(
            "x.properties",
            "x",
            b"connector.name=tpch\nk=caf\xe9\n",
            Flavour::Trino,
            &mut notes,
        )
        .unwrap();
        assert_eq!(spec.properties["k"], "caf\u{e9}");
        assert_eq!(notes.len(), 1);
        assert!(notes[0].starts_with("line 2: the value of k is not UTF-8"));

        let err = parse_file(
            "x.properties",
            "x",
            b"connector.name=tpch\nk=caf\xe9\nname=Z\xc3\xbcrich\n",
            Flavour::Trino,
        )
        .unwrap_err();
        assert_eq!(err.line, Some(2));
        assert!(err.reason.contains("mixes encodings"), "{}", err.reason);
    }

    #[test]
    fn a_utf8_bom_is_ignored() {
        let spec = parse_file(
            "x.properties",
            "x",
            b"\xEF\xBB\xBFconnector.name=tpch\n",
            Flavour::Trino,
        )
        .unwrap();
        assert_eq!(spec.connector, "tpch");
    }

    #[test]
    fn oversized_files_are_refused() {
        let big = vec![b'#'; MAX_FILE_BYTES as usize + 1];
        let err = parse_file("x.properties", "x", &big, Flavour::Trino).unwrap_err();
        assert!(err.reason.contains("larger than"));
    }
}
