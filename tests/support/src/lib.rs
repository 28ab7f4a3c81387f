//! Test helpers (see tests/support/Cargo.toml).
