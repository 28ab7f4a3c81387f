//! Restart mode's file side: the coordinator's catalog folder (`--target-dir`). Valid catalogs are
//! rendered there atomically in pure ASCII (`\uXXXX` escapes), so a reader using ISO-8859-1 (older
//! Trino, PrestoDB) and one using UTF-8 load the same values.

use crate::catalog::{CONNECTOR_KEY, CatalogSpec};
use crate::files::write_atomically;
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
    crate::files::open_regular(path)
        .is_ok_and(|mut f| f.read_exact(&mut head).is_ok() && head == MARKER.as_bytes())
}

/// The second line of every file the agent renders, before the time it was written (Unix
/// milliseconds). A restarted agent without its ledger compares it with the coordinator's start
/// to know whether a restart is still due.
pub const RENDERED_AT: &str = "# rendered-at-ms: ";

/// The file text for a catalog. The header says where it came from and when it was written;
/// values are the normalised ones the agent fingerprints, so reading the file back gives the same
/// fingerprint.
pub fn render(spec: &CatalogSpec, source_file: &str, rendered_at_ms: u64) -> String {
    let mut out = String::new();
    out.push_str(MARKER);
    out.push_str(" from ");
    out.push_str(&escape(source_file, false).replace('\\', ""));
    out.push_str(". Changes made here are overwritten; edit the source file instead.\n");
    out.push_str(&format!("{RENDERED_AT}{rendered_at_ms}\n"));
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
pub fn write(
    dir: &Path,
    spec: &CatalogSpec,
    source_file: &str,
    rendered_at_ms: u64,
) -> io::Result<()> {
    write_atomically(
        &dir.join(file_name(&spec.name)),
        render(spec, source_file, rendered_at_ms).as_bytes(),
        0o644,
    )
}

/// When the agent wrote the file at `path` (its [`RENDERED_AT`] line), if it did.
pub fn rendered_at(path: &Path) -> Option<u64> {
    use std::io::Read;
    let mut head = Vec::with_capacity(512);
    crate::files::open_regular(path)
        .ok()?
        .take(512)
        .read_to_end(&mut head)
        .ok()?;
    let head = String::from_utf8_lossy(&head);
    let mut lines = head.lines();
    if !lines.next()?.starts_with(MARKER) {
        return None;
    }
    lines.next()?.strip_prefix(RENDERED_AT)?.trim().parse().ok()
}

/// The newest [`rendered_at`] among the files in `dir`.
pub fn newest_render(dir: &Path) -> Option<u64> {
    std::fs::read_dir(dir)
        .ok()?
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().ends_with(".properties"))
        .filter_map(|e| rendered_at(&e.path()))
        .max()
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
        let text = render(&spec, "pg.properties", 1);
        assert!(text.is_ascii(), "{text}");
        // PrestoDB keeps every character of a value.
        let back = parse_file("pg.properties", "pg", text.as_bytes(), Flavour::Presto).unwrap();
        assert_eq!(back, spec);
        // Trino trims leading and trailing whitespace on load, as its airlift does.
        let back = parse_file("pg.properties", "pg", text.as_bytes(), Flavour::Trino).unwrap();
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
        write(dir.path(), &spec, "a.properties", 1_795_521_600_123).unwrap();
        assert!(is_ours(&dir.path().join("a.properties")));
        assert_eq!(
            rendered_at(&dir.path().join("a.properties")),
            Some(1_795_521_600_123)
        );
        std::fs::write(dir.path().join("b.properties"), "connector.name=tpch\n").unwrap();
        assert!(!is_ours(&dir.path().join("b.properties")));
        assert_eq!(rendered_at(&dir.path().join("b.properties")), None);
        write(dir.path(), &spec.clone(), "a.properties", 7).unwrap();
        let mut c = spec;
        c.name = "c".into();
        write(dir.path(), &c, "c.properties", 9).unwrap();
        assert_eq!(newest_render(dir.path()), Some(9));
        assert!(!is_ours(&dir.path().join("missing.properties")));
    }

    #[test]
    fn hyphenated_presto_connectors_are_kept() {
        let spec = CatalogSpec {
            name: "h".into(),
            connector: "hive-hadoop2".into(),
            properties: Default::default(),
        };
        assert!(render(&spec, "h.properties", 1).contains("connector.name=hive-hadoop2\n"));
    }
}
