//! Trino's error codes (`io.trino.spi.StandardErrorCode`): the numbers, names and types a client
//! sees in `QueryResults.error`.
//!
//! Numbers are from core/trino-spi/src/main/java/io/trino/spi/StandardErrorCode.java
//! (trinodb/trino, commit c10e5d54). Codes added after that version are marked where they are used.

use serde::Serialize;

/// `io.trino.spi.ErrorType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ErrorType {
    UserError,
    InternalError,
    External,
}

/// One entry of StandardErrorCode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorCode {
    pub code: i64,
    pub name: &'static str,
    pub kind: ErrorType,
}

const fn user(code: i64, name: &'static str) -> ErrorCode {
    ErrorCode {
        code,
        name,
        kind: ErrorType::UserError,
    }
}

const fn internal(code: i64, name: &'static str) -> ErrorCode {
    ErrorCode {
        code,
        name,
        kind: ErrorType::InternalError,
    }
}

pub const SYNTAX_ERROR: ErrorCode = user(1, "SYNTAX_ERROR");
pub const USER_CANCELED: ErrorCode = user(3, "USER_CANCELED");
pub const INVALID_FUNCTION_ARGUMENT: ErrorCode = user(7, "INVALID_FUNCTION_ARGUMENT");
pub const ALREADY_EXISTS: ErrorCode = user(12, "ALREADY_EXISTS");
pub const NOT_SUPPORTED: ErrorCode = user(13, "NOT_SUPPORTED");
pub const CATALOG_NOT_FOUND: ErrorCode = user(44, "CATALOG_NOT_FOUND");
pub const TABLE_NOT_FOUND: ErrorCode = user(46, "TABLE_NOT_FOUND");
pub const COLUMN_NOT_FOUND: ErrorCode = user(47, "COLUMN_NOT_FOUND");
pub const MISSING_CATALOG_NAME: ErrorCode = user(56, "MISSING_CATALOG_NAME");
pub const MISSING_SCHEMA_NAME: ErrorCode = user(57, "MISSING_SCHEMA_NAME");
pub const TYPE_MISMATCH: ErrorCode = user(58, "TYPE_MISMATCH");
pub const GENERIC_INTERNAL_ERROR: ErrorCode = internal(65536, "GENERIC_INTERNAL_ERROR");
/// Recorded on PrestoDB 0.296 (recorded/presto-0.296.json, `/v1/query` of a table read right
/// after the start); the same number in Trino's StandardErrorCode.
pub const NO_NODES_AVAILABLE: ErrorCode = internal(65541, "NO_NODES_AVAILABLE");
pub const SERVER_STARTING_UP: ErrorCode = internal(65548, "SERVER_STARTING_UP");

// Codes newer than every copy of StandardErrorCode.java we could read: the numbers are the ones
// Trino 476 answered (recorded/trino-476.json; reference/trino-476-measured.md §2, §4).
pub const INVALID_CATALOG_PROPERTY: ErrorCode = user(124, "INVALID_CATALOG_PROPERTY");
pub const CATALOG_UNAVAILABLE: ErrorCode = user(125, "CATALOG_UNAVAILABLE");
/// `io.trino.plugin.jdbc.JdbcErrorCode.JDBC_ERROR` (0x0400_0000, EXTERNAL): a JDBC connector that
/// could not talk to its database. NOT RECORDED: no database is reachable from this machine's
/// Trino, so the emulator's use of it (a JDBC catalog's probe) is modelled, not measured.
pub const JDBC_ERROR: ErrorCode = ErrorCode {
    code: 0x0400_0000,
    name: "JDBC_ERROR",
    kind: ErrorType::External,
};
pub const CATALOG_STORE_ERROR: ErrorCode = internal(65566, "CATALOG_STORE_ERROR");

/// A failed statement: what goes into `QueryResults.error` and the record file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryFailure {
    pub code: ErrorCode,
    /// The message as a client sees it (`TrinoException.getMessage()`: with a `line L:C: ` prefix
    /// when the failure has a location).
    pub message: String,
    pub location: Option<(usize, usize)>,
}

impl QueryFailure {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        QueryFailure {
            code,
            message: message.into(),
            location: None,
        }
    }

    /// A failure tied to a place in the statement text: Trino's `TrinoException.getMessage()`
    /// prefixes `line %s:%s: ` (core/trino-spi/.../TrinoException.java).
    pub fn at(code: ErrorCode, (line, column): (usize, usize), message: impl AsRef<str>) -> Self {
        QueryFailure {
            code,
            message: format!("line {line}:{column}: {}", message.as_ref()),
            location: Some((line, column)),
        }
    }
}
