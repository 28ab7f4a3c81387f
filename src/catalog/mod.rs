//! One catalog file → a checked [`CatalogSpec`] or a [`FileError`] naming file, line and reason
//! ([`parse`]); the rules for catalog and connector names ([`name`]); which property values are
//! secrets and how they are masked ([`secrets`]); and what a definition is, with its semantic fingerprint ([`spec`]).
//!
//! Pure: callers hand in the file's name and bytes.

mod name;
mod parse;
mod secrets;
mod spec;

pub use name::{
    CHECK_PREFIX, ConnectorNameError, NameError, catalog_name, connector_name, is_check_catalog,
    name_warning,
};
pub use parse::{FileError, Warning, java_trim, parse_file, parse_file_noting};
pub use secrets::{is_literal_secret, is_sensitive_key, redact_value, scrub_secrets, scrub_specs};
pub use spec::{
    CONNECTOR_KEY, CatalogSpec, Fingerprint, Flavour, LEAKY_CONNECTORS, MAX_FILE_BYTES,
    MAX_NAME_BYTES, ShortFingerprint, leaky_connector,
};
