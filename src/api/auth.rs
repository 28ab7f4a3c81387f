//! The API's bearer tokens: the token file (`NAME rw|ro TOKEN` a line) and who a request comes
//! from. A token is never logged, returned or named in an error.

use std::path::PathBuf;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    ReadOnly,
    ReadWrite,
}

#[derive(Clone)]
pub struct Token {
    pub name: String,
    pub access: Access,
    secret: Vec<u8>,
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Token")
            .field("name", &self.name)
            .field("access", &self.access)
            .field("secret", &"***")
            .finish()
    }
}

/// Reads a token file: one token a line, `NAME rw|ro TOKEN`; blank lines and `#` comments are
/// skipped. Errors name the file and line, never the token.
pub fn load_tokens(path: &std::path::Path) -> Result<Vec<Token>, TokenFileError> {
    let file = || path.to_path_buf();
    let bytes =
        crate::files::read_regular(path, 1024 * 1024).map_err(|source| TokenFileError::Read {
            file: file(),
            source,
        })?;
    let text = String::from_utf8(bytes).map_err(|_| TokenFileError::NotUtf8(file()))?;
    let mut tokens: Vec<Token> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let bad = |problem: TokenLine| TokenFileError::Line {
            file: file(),
            line: i + 1,
            problem,
        };
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [name, access, secret] = fields[..] else {
            return Err(bad(TokenLine::Fields));
        };
        let access = match access {
            "rw" => Access::ReadWrite,
            "ro" => Access::ReadOnly,
            _ => return Err(bad(TokenLine::Access(access.to_string()))),
        };
        if secret.len() < 16 {
            return Err(bad(TokenLine::Short(name.to_string())));
        }
        if tokens.iter().any(|t| t.name == name) {
            return Err(bad(TokenLine::Twice(name.to_string())));
        }
        tokens.push(Token {
            name: name.to_string(),
            access,
            secret: secret.as_bytes().to_vec(),
        });
    }
    if tokens.is_empty() {
        return Err(TokenFileError::Empty(file()));
    }
    Ok(tokens)
}

/// Why a token file cannot be used. Names the file and line, never a token.
#[derive(Debug, thiserror::Error)]
pub enum TokenFileError {
    #[error("cannot read the token file {}: {source}", .file.display())]
    Read {
        file: PathBuf,
        source: crate::files::OpenError,
    },
    #[error("{}: the token file is not UTF-8", .0.display())]
    NotUtf8(PathBuf),
    #[error("{}:{line}: {problem}", .file.display())]
    Line {
        file: PathBuf,
        line: usize,
        problem: TokenLine,
    },
    #[error("{}: no token in the file", .0.display())]
    Empty(PathBuf),
}

/// What is wrong with one line of a token file.
#[derive(Debug, thiserror::Error)]
pub enum TokenLine {
    #[error("expected three fields, NAME rw|ro TOKEN (the token itself is not shown)")]
    Fields,
    #[error("the second field must be rw or ro, not '{0}'")]
    Access(String),
    #[error("the token of '{0}' is shorter than 16 characters")]
    Short(String),
    #[error("a second token named '{0}'")]
    Twice(String),
}

/// Equal without an early exit on the first differing byte (the time taken tells nothing about
/// how much of a guess was right).
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Why a request is refused before it is read.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Refusal {
    /// No bearer token (and the API has a token file).
    NoToken,
    /// A token that is none of the file's.
    Unknown,
    /// A read-only token for a change: the token's name.
    ReadOnly(String),
}

/// Who sent `given` (a bearer token, if any): the token's name, or `local` when the API has no
/// token file (a loopback address only). `write` for a change.
pub(super) fn who(
    tokens: Option<&[Token]>,
    given: Option<&str>,
    write: bool,
) -> Result<String, Refusal> {
    let Some(tokens) = tokens else {
        return Ok("local".into());
    };
    let given = given.ok_or(Refusal::NoToken)?;
    // Every token is compared, whichever matches.
    let mut found: Option<&Token> = None;
    for token in tokens {
        if constant_time_eq(token.secret.as_slice(), given.as_bytes()) {
            found = Some(token);
        }
    }
    match found {
        None => Err(Refusal::Unknown),
        Some(t) if write && t.access == Access::ReadOnly => Err(Refusal::ReadOnly(t.name.clone())),
        Some(t) => Ok(t.name.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(name: &str, access: Access) -> Token {
        Token {
            name: name.into(),
            access,
            secret: format!("{name}-0123456789abcdef").into_bytes(),
        }
    }

    #[test]
    fn a_request_is_someone_only_with_a_token_of_the_file() {
        let tokens = [
            token("portal", Access::ReadWrite),
            token("viewer", Access::ReadOnly),
        ];
        let who = |given: Option<&str>, write| who(Some(&tokens), given, write);
        assert_eq!(
            who(Some("portal-0123456789abcdef"), true),
            Ok("portal".into())
        );
        assert_eq!(
            who(Some("viewer-0123456789abcdef"), false),
            Ok("viewer".into())
        );
        assert_eq!(
            who(Some("viewer-0123456789abcdef"), true),
            Err(Refusal::ReadOnly("viewer".into()))
        );
        assert_eq!(
            who(Some("portal-0123456789abcdeX"), false),
            Err(Refusal::Unknown)
        );
        assert_eq!(who(Some(""), false), Err(Refusal::Unknown));
        assert_eq!(who(None, false), Err(Refusal::NoToken));
        // Without a token file (loopback only), every request is the local user's.
        assert_eq!(super::who(None, None, true), Ok("local".into()));
    }

    #[test]
    fn a_token_file_error_names_the_line_and_never_the_token() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("tokens");
        let load = |text: &str| {
            std::fs::write(&file, text).unwrap();
            load_tokens(&file)
                .map(|t| t.len())
                .map_err(|e| e.to_string())
        };
        assert_eq!(load("# who\nportal rw 0123456789abcdefXYZ\n"), Ok(1));
        let short = load("portal rw sh0rt-secret\n").unwrap_err();
        assert!(
            short.ends_with(":1: the token of 'portal' is shorter than 16 characters"),
            "{short}"
        );
        assert!(!short.contains("sh0rt"));
        let fields = load("\nportal 0123456789abcdefXYZ\n").unwrap_err();
        assert!(fields.contains(":2: expected three fields"), "{fields}");
        assert!(!fields.contains("0123456789abcdef"));
        assert!(
            load("a rw 0123456789abcdefXYZ\na ro 0123456789abcdefXYZ\n")
                .unwrap_err()
                .ends_with("a second token named 'a'")
        );
        assert!(
            load("a rx 0123456789abcdefXYZ\n")
                .unwrap_err()
                .ends_with("must be rw or ro, not 'rx'")
        );
        assert!(
            load("# nothing\n")
                .unwrap_err()
                .ends_with("no token in the file")
        );
    }
}
