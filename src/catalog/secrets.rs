//! Which property values are secrets, and how they are kept out of output: masked in what is
//! shown (`***`), scrubbed from free text such as an engine's error message.

use super::spec::CatalogSpec;

impl CatalogSpec {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{FileError, Flavour, parse_file};

    fn parse(text: &str) -> Result<CatalogSpec, FileError> {
        parse_file("pg.properties", "pg", text.as_bytes(), Flavour::Trino)
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
