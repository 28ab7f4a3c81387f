//! What a catalog definition is: its name, connector and properties as the engine would load
//! them, the engine flavour whose rules it was read with, and its semantic fingerprint.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fmt;

/// Files above this size are refused: a catalog file is a handful of lines, and reading an
/// accidentally dropped dump into memory is not something a sidecar should do.
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// Catalog names longer than this are refused (Trino puts no explicit limit, but names become file
/// names and SQL identifiers; 128 bytes is what the README promises).
pub const MAX_NAME_BYTES: usize = 128;

pub const CONNECTOR_KEY: &str = "connector.name";

/// Connectors that Trino's documentation says do not release all resources when their catalog is
/// dropped (the warning in Trino's `DROP CATALOG` documentation: Hive, Iceberg, Delta Lake, Hudi;
/// Paimon in newer versions). Each drop of one costs the coordinator memory that
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
/// file (deprecated, with a warning), PrestoDB keeps them (it looks connectors up by their exact
/// name: `hive-hadoop2`).
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
        // Checked as bytes first: a ledger anyone may have edited can hold any text here, and
        // slicing a multi-byte character in two would panic.
        if text.len() != 64 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{FileError, parse_file};

    fn parse(text: &str) -> Result<CatalogSpec, FileError> {
        parse_file("pg.properties", "pg", text.as_bytes(), Flavour::Trino)
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
    fn a_fingerprint_that_is_not_64_hex_digits_is_refused_without_a_panic() {
        let read = |text: &str| serde_json::from_value::<Fingerprint>(serde_json::json!(text));
        let good = "76970266a9552b17a34fcda50cac437f6f8146bc32011dfc0e37cdcb9f5b595a";
        assert!(read(good).is_ok());
        // Found by `ledger::tests::loading_never_panics`: two bytes flipped into a multi-byte
        // character at an odd offset.
        let odd = "76970266a9552b17a34fcda50\u{3ca}ac437f6f8146bc32011dfc0e37cdcb9f5b595";
        assert_eq!(odd.len(), 64);
        assert!(read(odd).is_err());
        assert!(read(&good[..63]).is_err());
        assert!(read(&good.replace('a', "g")).is_err());
    }
}
