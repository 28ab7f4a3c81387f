//! Restart mode's file side: the coordinator's catalog folder (`--target-dir`). Valid catalogs are
//! rendered there atomically in pure ASCII (`\uXXXX` escapes), so a reader using ISO-8859-1 (older
//! Trino, PrestoDB) and one using UTF-8 load the same values.

use crate::catalog::{CONNECTOR_KEY, CatalogSpec};
use crate::ledger::write_atomically;
use crate::properties::escape;
use std::io;
use std::path::Path;

/// The first line of every file the agent renders. It marks the file as the agent's own, so a
/// restarted agent without its ledger (or a sidecar after the init step that rendered the folder)
/// still knows which files it may replace and remove.
pub const MARKER: &str = "# Written by catalog-reloader";

/// Whether the file at `path` starts with [`MARKER`].
pub fn is_ours(path: &Path) -> bool {
    use std::io::Read;
    let mut head = [0u8; MARKER.len()];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .is_ok_and(|()| head == MARKER.as_bytes())
}

/// The file text for a catalog. The header says where it came from; values are the normalised ones
/// the agent fingerprints, so reading the file back gives the same fingerprint.
pub fn render(spec: &CatalogSpec, source_file: &str) -> String {
    let mut out = String::new();
    out.push_str(MARKER);
    out.push_str(" from ");
    out.push_str(&escape(source_file, false).replace('\\', ""));
    out.push_str(". Changes made here are overwritten; edit the source file instead.\n");
    out.push_str(&format!(
        "{}={}\n",
        escape(CONNECTOR_KEY, true),
        escape(&spec.connector, false)
    ));
    for (key, value) in &spec.properties {
        out.push_str(&escape(key, true));
        out.push('=');
        out.push_str(&escape(value, false));
        out.push('\n');
    }
    out
}

pub fn file_name(catalog: &str) -> String {
    format!("{catalog}.properties")
}

/// Writes one catalog file (temp file, fsync, rename). World-readable: the coordinator may run as
/// another user than the agent, as it does with a ConfigMap's files.
pub fn write(dir: &Path, spec: &CatalogSpec, source_file: &str) -> io::Result<()> {
    write_atomically(
        &dir.join(file_name(&spec.name)),
        render(spec, source_file).as_bytes(),
        0o644,
    )
}

/// Removes one catalog file; a file already gone is fine.
pub fn remove(dir: &Path, catalog: &str) -> io::Result<()> {
    match std::fs::remove_file(dir.join(file_name(catalog))) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{Flavour, parse_file};

    #[test]
    fn rendered_files_are_ascii_and_read_back_to_the_same_fingerprint() {
        let spec = CatalogSpec {
            name: "pg".into(),
            connector: "postgresql".into(),
            properties: [
                (
                    "connection-url".to_string(),
                    "jdbc:postgresql://db:5432/é😀".to_string(),
                ),
                ("we ird=key".to_string(), " lead\nline".to_string()),
            ]
            .into(),
        };
        let text = render(&spec, "pg.properties");
        assert!(text.is_ascii(), "{text}");
        let back = parse_file("pg.properties", "pg", text.as_bytes(), Flavour::Presto).unwrap();
        // Leading/trailing whitespace is trimmed on load, as airlift does.
        let mut expected = spec.clone();
        expected
            .properties
            .insert("we ird=key".into(), "lead\nline".into());
        assert_eq!(back, expected);
    }

    #[test]
    fn rendered_files_carry_the_marker_and_others_do_not() {
        let dir = tempfile::tempdir().unwrap();
        let spec = CatalogSpec {
            name: "a".into(),
            connector: "tpch".into(),
            properties: Default::default(),
        };
        write(dir.path(), &spec, "a.properties").unwrap();
        assert!(is_ours(&dir.path().join("a.properties")));
        std::fs::write(dir.path().join("b.properties"), "connector.name=tpch\n").unwrap();
        assert!(!is_ours(&dir.path().join("b.properties")));
        assert!(!is_ours(&dir.path().join("missing.properties")));
    }

    #[test]
    fn hyphenated_presto_connectors_are_kept() {
        let spec = CatalogSpec {
            name: "h".into(),
            connector: "hive-hadoop2".into(),
            properties: Default::default(),
        };
        assert!(render(&spec, "h.properties").contains("connector.name=hive-hadoop2\n"));
    }
}
