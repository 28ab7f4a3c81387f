//! One catalog file → a checked [`CatalogSpec`] or a [`FileError`] naming file, line and reason.
//! Also owns the semantic fingerprint and the rules for which property values are secrets.
//!
//! Pure: callers hand in the file's name and bytes.

use crate::properties;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fmt;

/// Files above this size are refused: a catalog file is a handful of lines, and reading an
/// accidentally dropped dump into memory is not something a sidecar should do.
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// Catalog names longer than this are refused (Trino puts no explicit limit, but names become file
/// names and SQL identifiers; 128 bytes is what DESIGN.md promises).
pub const MAX_NAME_BYTES: usize = 128;

pub const CONNECTOR_KEY: &str = "connector.name";

/// Connectors that Trino's documentation says do not release all resources when their catalog is
/// dropped (facts §1.9; Paimon in newer docs). Each drop of one costs the coordinator memory that
/// only a restart gives back, so the agent counts them and says so.
pub const LEAKY_CONNECTORS: [&str; 5] = ["hive", "iceberg", "delta_lake", "hudi", "paimon"];

/// The entry of [`LEAKY_CONNECTORS`] for this connector name, if it is one.
pub fn leaky_connector(connector: &str) -> Option<&'static str> {
    LEAKY_CONNECTORS
        .iter()
        .copied()
        .find(|&leaky| leaky == connector)
}

/// Which engine's normalisation applies. Trino maps `-` to `_` in connector names when it loads a
/// file (facts §1.3), PrestoDB keeps them (facts §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Flavour {
    Trino,
    Presto,
}

impl fmt::Display for Flavour {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Flavour::Trino => "trino",
            Flavour::Presto => "presto",
        })
    }
}

/// A valid catalog definition, normalised as the engine would load it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogSpec {
    pub name: String,
    pub connector: String,
    /// Every property except `connector.name`, values as the engine reads them (Trino trims them).
    pub properties: BTreeMap<String, String>,
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Fingerprint(#[serde(with = "hex32")] pub [u8; 32]);

impl Fingerprint {
    /// The first 12 hex digits, for status output and logs.
    pub fn short(&self) -> String {
        use fmt::Write as _;
        let mut out = String::with_capacity(12);
        for b in &self.0[..6] {
            let _ = write!(out, "{b:02x}");
        }
        out
    }
}

impl Fingerprint {
    /// 12 hex digits for output that a network client reads (`/status`): a hash of the fingerprint
    /// under a random key of this process. It changes when the definition changes, but cannot be
    /// used to test guesses of a secret value offline, as a plain hash of the values could.
    pub fn keyed_short(&self) -> ShortFingerprint {
        use std::hash::BuildHasher;
        use std::sync::OnceLock;
        static KEY: OnceLock<[u8; 16]> = OnceLock::new();
        let key = KEY.get_or_init(|| {
            // std's RandomState is seeded from the operating system's randomness.
            let state = std::collections::hash_map::RandomState::new();
            let mut key = [0u8; 16];
            key[..8].copy_from_slice(&state.hash_one(0x5eed_u32).to_le_bytes());
            key[8..].copy_from_slice(&state.hash_one(0xfeed_u32).to_le_bytes());
            key
        });
        let mut hash = Sha256::new();
        hash.update(key);
        hash.update(self.0);
        let digest: [u8; 32] = hash.finalize().into();
        let mut short = [0u8; 6];
        short.copy_from_slice(&digest[..6]);
        ShortFingerprint(short)
    }
}

/// 12 hex digits of a (keyed) fingerprint, kept as its 6 bytes: `/status` holds one per catalog.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct ShortFingerprint(pub [u8; 6]);

impl fmt::Display for ShortFingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl Serialize for ShortFingerprint {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({})", self.short())
    }
}

mod hex32 {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
        let text: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        s.serialize_str(&text)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 32], D::Error> {
        let text = String::deserialize(d)?;
        let err = || serde::de::Error::custom("expected 64 hex digits");
        if text.len() != 64 {
            return Err(err());
        }
        let mut out = [0u8; 32];
        for (i, byte) in out.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).map_err(|_| err())?;
        }
        Ok(out)
    }
}

impl CatalogSpec {
    /// SHA-256 over the connector name and the sorted key/value pairs, each length-prefixed so no
    /// two different definitions can produce the same byte stream. Semantic on purpose: ordering,
    /// comments and escaping (e.g. Trino's own rewrite of the file) do not change it.
    pub fn fingerprint(&self) -> Fingerprint {
        let mut hash = Sha256::new();
        let mut field = |bytes: &[u8]| {
            hash.update((bytes.len() as u64).to_be_bytes());
            hash.update(bytes);
        };
        field(self.connector.as_bytes());
        for (key, value) in &self.properties {
            field(key.as_bytes());
            field(value.as_bytes());
        }
        Fingerprint(hash.finalize().into())
    }

    /// The values that must never appear in output: those of sensitive keys, and passwords embedded
    /// in URLs. Used to scrub free text such as an engine's error message.
    pub fn secret_values(&self) -> Vec<&str> {
        let mut out = Vec::new();
        for (key, value) in &self.properties {
            if is_sensitive_key(key) && !is_secret_reference(value) {
                out.push(value.as_str());
            } else {
                out.extend(secret_ranges(value).into_iter().map(|r| &value[r]));
            }
        }
        // Very short values would scrub ordinary words from messages; they are still never printed
        // on their own because property values only reach output through `redact_value`.
        out.retain(|v| v.len() >= 3);
        out.sort_by_key(|v| std::cmp::Reverse(v.len()));
        out
    }
}

/// Replaces every secret value of these catalogs that appears in `text` (an engine's error
/// message, say) with `***`.
pub fn scrub_specs(text: &str, specs: &[&CatalogSpec]) -> String {
    let secrets: Vec<&str> = specs.iter().flat_map(|s| s.secret_values()).collect();
    scrub_secrets(text, &secrets)
}

/// True for keys whose values are credentials. Deliberately broad: a redacted harmless value costs
/// nothing, a leaked password costs a rotation.
pub fn is_sensitive_key(key: &str) -> bool {
    const MARKERS: [&str; 8] = [
        "password",
        "passwd",
        "secret",
        "token",
        "key",
        "credential",
        "passphrase",
        "private",
    ];
    let key = key.to_ascii_lowercase();
    MARKERS.iter().any(|m| key.contains(m))
}

/// A value as it may be shown: `***` for sensitive keys; otherwise the credentials a URL or a
/// connection string carries are masked (see [`secret_ranges`]). Secret references (`${ENV:…}`,
/// `${FILE:…}`) are not secrets and stay visible.
pub fn redact_value(key: &str, value: &str) -> String {
    if is_sensitive_key(key) && !is_secret_reference(value) {
        return "***".to_string();
    }
    let ranges = secret_ranges(value);
    if ranges.is_empty() {
        return value.to_string();
    }
    let mut out = String::with_capacity(value.len());
    let mut at = 0;
    for range in ranges {
        out.push_str(&value[at..range.start]);
        out.push_str("***");
        at = range.end;
    }
    out.push_str(&value[at..]);
    out
}

/// A sensitive property whose value is written out rather than referenced (`${ENV:…}`).
pub fn is_literal_secret(key: &str, value: &str) -> bool {
    is_sensitive_key(key) && !value.is_empty() && !is_secret_reference(value)
}

fn is_secret_reference(value: &str) -> bool {
    let v = value.trim();
    (v.starts_with("${ENV:") || v.starts_with("${FILE:"))
        && v.ends_with('}')
        && !v[2..].contains("${")
}

/// Where a value carries credentials, in order and without overlaps. Positions, not texts: the
/// same characters may appear elsewhere (`https://trino:trino@…`).
///
/// * The password of `scheme://user:password@host…`. The user information ends at the **last**
///   `@` of the URL, not at the first `/`: passwords are pasted unencoded (`user:pa/ss@host`), and
///   masking a few characters too many costs nothing.
/// * The value of every `name=value` pair whose name is sensitive, in a query string or a
///   connection string (`?access_token=…`, `&password=…`, `;password=…`, `password=… user=…`).
fn secret_ranges(value: &str) -> Vec<std::ops::Range<usize>> {
    let mut ranges = Vec::new();
    if let Some(scheme_end) = value.find("://") {
        let after_scheme = scheme_end + 3;
        let rest = &value[after_scheme..];
        let url_end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        if let Some(at) = rest[..url_end].rfind('@')
            && let Some(colon) = rest[..at].find(':')
            && colon + 1 < at
        {
            ranges.push(after_scheme + colon + 1..after_scheme + at);
        }
    }
    let is_separator = |c: char| matches!(c, '?' | '&' | ';') || c.is_whitespace();
    // Where the current pair's name starts; `None` inside a value.
    let mut name_start = Some(0);
    for (i, c) in value.char_indices() {
        if is_separator(c) {
            name_start = Some(i + c.len_utf8());
            continue;
        }
        let Some(start) = name_start.filter(|start| c == '=' && *start < i) else {
            continue;
        };
        let value_start = i + 1;
        let value_end = value[value_start..]
            .find(|c: char| is_separator(c) || c == '#')
            .map_or(value.len(), |n| value_start + n);
        if is_sensitive_key(&value[start..i]) && value_start < value_end {
            ranges.push(value_start..value_end);
        }
        name_start = None;
    }
    ranges.sort_by_key(|r| r.start);
    let mut merged: Vec<std::ops::Range<usize>> = Vec::new();
    for range in ranges {
        match merged.last_mut() {
            Some(last) if range.start <= last.end => last.end = last.end.max(range.end),
            _ => merged.push(range),
        }
    }
    merged
}

/// Replaces every secret in `text` with `***`, also as an SQL string literal writes it (`'`
/// doubled: an engine's error may quote the statement).
pub fn scrub_secrets(text: &str, secrets: &[&str]) -> String {
    let mut forms: Vec<String> = Vec::new();
    for secret in secrets.iter().filter(|s| !s.is_empty()) {
        if secret.contains('\'') {
            forms.push(secret.replace('\'', "''"));
        }
        forms.push((*secret).to_string());
    }
    // Longest first, whoever passed them: a short secret inside a longer one (`admin` in
    // `admin-Pr0d!`) must not leave the rest of the longer one showing.
    forms.sort_by_key(|s| std::cmp::Reverse(s.len()));
    let mut out = text.to_string();
    for form in forms {
        if out.contains(&form) {
            out = out.replace(&form, "***");
        }
    }
    out
}

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

    #[test]
    fn fingerprint_ignores_order_comments_and_escaping() {
        let a = parse(
            "connector.name=postgresql\nconnection-url=jdbc:postgresql://db:5432/x\nuser=u\n",
        )
        .unwrap();
        let b = parse("#Mon Nov 24 09:02:00 UTC 2026\nuser=u\nconnection-url=jdbc\\:postgresql\\://db\\:5432/x\nconnector.name=postgresql\n")
            .unwrap();
        assert_eq!(a.fingerprint(), b.fingerprint());
        let c = parse(
            "connector.name=postgresql\nconnection-url=jdbc:postgresql://db:5432/y\nuser=u\n",
        )
        .unwrap();
        assert_ne!(a.fingerprint(), c.fingerprint());
    }

    #[test]
    fn fingerprint_cannot_be_confused_by_moving_text_between_fields() {
        let a = CatalogSpec {
            name: "x".into(),
            connector: "tpch".into(),
            properties: [("ab".to_string(), "c".to_string())].into(),
        };
        let b = CatalogSpec {
            name: "x".into(),
            connector: "tpch".into(),
            properties: [("a".to_string(), "bc".to_string())].into(),
        };
        assert_ne!(a.fingerprint(), b.fingerprint());
    }

    #[test]
    fn secrets_are_redacted_and_scrubbed() {
        let spec = parse(
            "connector.name=postgresql\nconnection-url=jdbc:postgresql://admin:hunter22@db/x\nconnection-password=s3cr3t!\nconnection-user=${ENV:PGUSER}\naws-secret-key=${ENV:AWS}\n",
        )
        .unwrap();
        let shown = |key: &str| redact_value(key, &spec.properties[key]);
        assert_eq!(shown("connection-password"), "***");
        assert_eq!(shown("connection-url"), "jdbc:postgresql://admin:***@db/x");
        // The password's text also appears before it: the password itself is what is masked.
        assert_eq!(
            redact_value("server", "https://trino:trino@host:8443"),
            "https://trino:***@host:8443"
        );
        assert_eq!(redact_value("server", "http://s:s@h"), "http://s:***@h");
        assert_eq!(shown("connection-user"), "${ENV:PGUSER}");
        assert_eq!(
            scrub_secrets("login admin-Pr0d! failed", &["admin", "admin-Pr0d!"]),
            "login *** failed"
        );
        assert_eq!(shown("aws-secret-key"), "${ENV:AWS}");
        // Passwords pasted unencoded, tokens in query strings, JDBC connection strings.
        assert_eq!(
            redact_value("server", "https://user:pa/ss@host:8443"),
            "https://user:***@host:8443"
        );
        assert_eq!(
            redact_value("server", "https://host/?access_token=abc.def&x=1"),
            "https://host/?access_token=***&x=1"
        );
        assert_eq!(
            redact_value("url", "jdbc:postgresql://db/x?user=u&password=hunter22#f"),
            "jdbc:postgresql://db/x?user=u&password=***#f"
        );
        assert_eq!(
            redact_value("url", "jdbc:sqlserver://db:1433;user=u;password=p=ss;x=1"),
            "jdbc:sqlserver://db:1433;user=u;password=***;x=1"
        );
        // An `@` in a parameter looks like the end of a user part: more is masked, nothing shown.
        assert_eq!(
            redact_value("url", "jdbc:sqlserver://db:1433;user=u;password=p@ss;x=1"),
            "jdbc:sqlserver://db:***;x=1"
        );
        assert_eq!(
            redact_value("dsn", "host=db password=top-secret user=u"),
            "host=db password=*** user=u"
        );
        assert_eq!(redact_value("url", "a=b=c;==;x"), "a=b=c;==;x");
        let url = parse("connector.name=x\nconnection-url=jdbc:x://db/?secret=abc123\n").unwrap();
        assert_eq!(url.secret_values(), ["abc123"]);
        // An engine quoting the statement doubles the quote of a password.
        assert_eq!(
            scrub_secrets("near 'it''s-me' here", &["it's-me"]),
            "near '***' here"
        );
        assert_eq!(
            scrub_specs(
                "login failed for s3cr3t! at jdbc:postgresql://admin:hunter22@db/x",
                &[&spec]
            ),
            "login failed for *** at jdbc:postgresql://admin:***@db/x"
        );
    }
}
