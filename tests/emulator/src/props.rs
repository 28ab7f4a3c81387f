//! `java.util.Properties` as Trino reads and writes catalog files.
//!
//! Reading follows `Properties.load(InputStream)` — bytes are ISO-8859-1, `\uXXXX` escapes,
//! `=`/`:`/whitespace separators, `\` continuations, `#`/`!` comments — and then airlift's
//! `ConfigurationLoader.loadPropertiesFrom`, which trims every value in Trino (not in PrestoDB).
//! Writing follows `Properties.store(OutputStream, null)`: a `#<Date.toString()>` line, then one
//! `key=value` line per entry with `saveConvert` escaping (facts §1.5).

use std::fmt;

/// A catalog file that Java's `Properties.load` would reject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PropsError {
    /// `Properties.load` throws `IllegalArgumentException("Malformed \\uxxxx encoding.")`.
    MalformedUnicodeEscape,
}

impl fmt::Display for PropsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PropsError::MalformedUnicodeEscape => f.write_str("Malformed \\uxxxx encoding."),
        }
    }
}

/// Parses a properties file as the engines do: Latin-1 bytes, Java escapes, and values trimmed when
/// `trim` (Trino 476's airlift trims them; PrestoDB 0.296's keeps them — measured with the engines'
/// own `loadPropertiesFrom`). Duplicate keys: the last one wins, as with `Hashtable.put`.
pub fn load(bytes: &[u8], trim: bool) -> Result<Vec<(String, String)>, PropsError> {
    // ISO-8859-1: every byte is the code point of the same value.
    let text: Vec<char> = bytes.iter().map(|&b| b as char).collect();
    let mut entries: Vec<(String, String)> = Vec::new();
    for line in logical_lines(&text) {
        let (key, value) = split_key_value(&line)?;
        let value = if trim {
            value.trim_matches(is_java_trim).to_string()
        } else {
            value
        };
        if let Some(existing) = entries.iter_mut().find(|(k, _)| *k == key) {
            existing.1 = value;
        } else {
            entries.push((key, value));
        }
    }
    Ok(entries)
}

/// `String.trim()` strips every char <= U+0020.
fn is_java_trim(c: char) -> bool {
    c <= ' '
}

fn is_ws(c: char) -> bool {
    c == ' ' || c == '\t' || c == '\u{c}'
}

/// Joins continuation lines and drops comments and blank lines; the escapes stay in place.
fn logical_lines(text: &[char]) -> Vec<Vec<char>> {
    let mut lines = Vec::new();
    let mut i = 0;
    while i < text.len() {
        // Start of a natural line: skip leading whitespace.
        while i < text.len() && is_ws(text[i]) {
            i += 1;
        }
        if i >= text.len() {
            break;
        }
        if text[i] == '\n' || text[i] == '\r' {
            i += 1;
            continue;
        }
        if text[i] == '#' || text[i] == '!' {
            while i < text.len() && text[i] != '\n' && text[i] != '\r' {
                i += 1;
            }
            continue;
        }
        let mut line = Vec::new();
        loop {
            let start = i;
            while i < text.len() && text[i] != '\n' && text[i] != '\r' {
                i += 1;
            }
            let segment = &text[start..i];
            let trailing_backslashes = segment.iter().rev().take_while(|&&c| c == '\\').count();
            let continued = trailing_backslashes % 2 == 1;
            if continued {
                line.extend_from_slice(&segment[..segment.len() - 1]);
            } else {
                line.extend_from_slice(segment);
            }
            // Consume the line terminator (\r\n counts as one).
            if i < text.len() && text[i] == '\r' {
                i += 1;
                if i < text.len() && text[i] == '\n' {
                    i += 1;
                }
            } else if i < text.len() {
                i += 1;
            }
            if !continued || i >= text.len() {
                break;
            }
            while i < text.len() && is_ws(text[i]) {
                i += 1;
            }
        }
        lines.push(line);
    }
    lines
}

fn split_key_value(line: &[char]) -> Result<(String, String), PropsError> {
    let mut i = 0;
    let mut key_end = line.len();
    let mut has_separator = false;
    while i < line.len() {
        let c = line[i];
        if c == '\\' {
            i += 2;
            continue;
        }
        if c == '=' || c == ':' {
            key_end = i;
            has_separator = true;
            break;
        }
        if is_ws(c) {
            key_end = i;
            break;
        }
        i += 1;
    }
    let key_end = key_end.min(line.len());
    let mut value_start = if has_separator { key_end + 1 } else { key_end };
    while value_start < line.len() && is_ws(line[value_start]) {
        value_start += 1;
    }
    if !has_separator
        && value_start < line.len()
        && (line[value_start] == '=' || line[value_start] == ':')
    {
        value_start += 1;
        while value_start < line.len() && is_ws(line[value_start]) {
            value_start += 1;
        }
    }
    let key = unescape(&line[..key_end])?;
    let value = unescape(&line[value_start.min(line.len())..])?;
    Ok((key, value))
}

/// `Properties.loadConvert`: `\t \n \r \f`, `\uXXXX` (UTF-16 units, so surrogate pairs combine),
/// and any other escaped char stands for itself.
fn unescape(chars: &[char]) -> Result<String, PropsError> {
    let mut units: Vec<u16> = Vec::with_capacity(chars.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        if c != '\\' {
            push_char(&mut units, c);
            continue;
        }
        let Some(&escaped) = chars.get(i) else {
            // A lone trailing backslash: Java's loadConvert keeps nothing for it.
            break;
        };
        i += 1;
        match escaped {
            'u' => {
                let hex: String = chars
                    .get(i..i + 4)
                    .ok_or(PropsError::MalformedUnicodeEscape)?
                    .iter()
                    .collect();
                let unit = u16::from_str_radix(&hex, 16)
                    .map_err(|_| PropsError::MalformedUnicodeEscape)?;
                if !hex.chars().all(|h| h.is_ascii_hexdigit()) {
                    return Err(PropsError::MalformedUnicodeEscape);
                }
                units.push(unit);
                i += 4;
            }
            't' => units.push('\t' as u16),
            'n' => units.push('\n' as u16),
            'r' => units.push('\r' as u16),
            'f' => units.push(0x0c),
            other => push_char(&mut units, other),
        }
    }
    // Java strings may hold unpaired surrogates; Rust strings cannot, so they become U+FFFD.
    Ok(String::from_utf16_lossy(&units))
}

fn push_char(units: &mut Vec<u16>, c: char) {
    let mut buf = [0u16; 2];
    units.extend_from_slice(c.encode_utf16(&mut buf));
}

/// `Properties.store(out, null)`: the timestamp comment and the entries in the given order.
pub fn store(entries: &[(String, String)], date_line: &str) -> String {
    let mut out = String::new();
    out.push('#');
    out.push_str(date_line);
    out.push('\n');
    for (key, value) in entries {
        out.push_str(&save_convert(key, true));
        out.push('=');
        out.push_str(&save_convert(value, false));
        out.push('\n');
    }
    out
}

/// `Properties.saveConvert(s, escapeSpace, escUnicode = true)`.
fn save_convert(s: &str, escape_space: bool) -> String {
    let mut out = String::new();
    let mut buf = [0u16; 2];
    for (index, c) in s.chars().enumerate() {
        match c {
            ' ' if index == 0 || escape_space => out.push_str("\\ "),
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\u{c}' => out.push_str("\\f"),
            '=' | ':' | '#' | '!' => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || (c as u32) > 0x7e => {
                for unit in c.encode_utf16(&mut buf) {
                    out.push_str(&format!("\\u{unit:04X}"));
                }
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loaded(text: &str) -> Vec<(String, String)> {
        load(text.as_bytes(), true).unwrap()
    }

    fn pair(k: &str, v: &str) -> (String, String) {
        (k.to_string(), v.to_string())
    }

    #[test]
    fn separators_and_bare_keys_read_as_java_does() {
        assert_eq!(
            loaded("a=1\nb : 2\nc 3\nd\n"),
            vec![
                pair("a", "1"),
                pair("b", "2"),
                pair("c", "3"),
                pair("d", "")
            ]
        );
    }

    #[test]
    fn values_are_trimmed_like_trinos_airlift_and_kept_like_prestodbs() {
        assert_eq!(loaded("k = v   \n"), vec![pair("k", "v")]);
        assert_eq!(
            load(b"k = v \\t \n", false).unwrap(),
            vec![pair("k", "v \t ")]
        );
    }

    #[test]
    fn continuation_lines_join_without_leading_whitespace() {
        assert_eq!(loaded("k=one \\\n    two\n"), vec![pair("k", "one two")]);
    }

    #[test]
    fn escapes_comments_and_crlf() {
        assert_eq!(
            loaded("# c\r\n! c\r\na\\:b=c\\=d\r\nu=caf\\u00e9\r\ns=\\uD83D\\uDE00\r\n"),
            vec![pair("a:b", "c=d"), pair("u", "café"), pair("s", "😀")]
        );
    }

    #[test]
    fn bytes_are_latin1_not_utf8() {
        assert_eq!(
            load("k=café".as_bytes(), true).unwrap(),
            vec![pair("k", "cafÃ©")]
        );
    }

    #[test]
    fn malformed_unicode_escape_is_an_error() {
        assert_eq!(
            load(b"k=\\uZZZZ", true),
            Err(PropsError::MalformedUnicodeEscape)
        );
    }

    #[test]
    fn last_duplicate_wins() {
        assert_eq!(loaded("k=first\nk=second\n"), vec![pair("k", "second")]);
    }

    #[test]
    fn store_escapes_as_properties_store() {
        let written = store(
            &[
                pair("connection-url", "jdbc:postgresql://h:5432/db"),
                pair("a b", " x#!=é😀"),
            ],
            "Tue Nov 24 09:07:21 UTC 2026",
        );
        assert_eq!(
            written,
            "#Tue Nov 24 09:07:21 UTC 2026\n\
             connection-url=jdbc\\:postgresql\\://h\\:5432/db\n\
             a\\ b=\\ x\\#\\!\\=\\u00E9\\uD83D\\uDE00\n"
        );
    }

    #[test]
    fn store_then_load_round_trips() {
        let entries = vec![pair("k", "v:w=x#y!z\\ \u{1}é😀"), pair("e", "")];
        let text = store(&entries, "date");
        assert_eq!(load(text.as_bytes(), true).unwrap(), entries);
    }
}
