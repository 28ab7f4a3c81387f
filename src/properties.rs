//! Java `.properties` syntax: reading (as `java.util.Properties.load` does) and writing (pure ASCII).
//!
//! Why not the `java-properties` crate: it rejects the UTF-16 surrogate pairs that Java's own
//! `Properties.store` writes (which Trino's file catalog store produces for non-BMP characters), keeps
//! only the last of duplicate keys without a trace, defaults to Windows-1252, and has `panic!` paths
//! (seen with its 2.x releases). We need per-entry line numbers and duplicate detection
//! anyway, so the ~200 lines below follow `Properties.load`'s line reader and escape rules directly.

use std::fmt;

/// One `key=value` entry, with the physical line (1-based) its logical line starts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub line: usize,
    pub key: String,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    pub line: usize,
    pub reason: String,
}

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.reason)
    }
}

/// Whitespace as `Properties.load` defines it: space, tab and form feed (line ends are handled apart).
fn is_blank(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\x0c')
}

/// Splits text into logical lines the way Java's `LineReader` does (a character-level state
/// machine, checked against `Properties.load` by tests/properties_java.rs): leading whitespace
/// skipped; `#` or `!` where a logical line would start makes the rest of the physical line a
/// comment — also right after a continuation that left the line empty; a line ending in an odd
/// number of backslashes continues on the next physical line, whose leading whitespace is skipped;
/// a logical line still empty at a line end is no line (reading goes on); a backslash at the very
/// end of the text is dropped. Yields (physical line where the logical line starts, its text).
fn logical_lines(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    let mut line = 1;
    let mut start = 1;
    let mut logical = String::new();
    // Skipping whitespace (at a line start, or after a continuation).
    let mut skip_blank = true;
    // After a continuation: a line end is not skipped as blank but ends (or empties) the line.
    let mut continued = false;
    // The text so far ends in an odd number of backslashes.
    let mut escape_pending = false;
    while let Some(c) = chars.next() {
        let line_end = c == '\n' || c == '\r';
        // Whether anything follows this character (Java asks before it skips the \n of a \r\n).
        let more = chars.peek().is_some();
        if line_end && c == '\r' && chars.peek() == Some(&'\n') {
            // \r\n is one line end.
            chars.next();
        }
        if skip_blank {
            if is_blank(c) {
                continue;
            }
            if line_end && !continued {
                line += 1;
                continue;
            }
            skip_blank = false;
            continued = false;
        }
        if logical.is_empty() && (c == '#' || c == '!') {
            for c in chars.by_ref() {
                if c == '\n' || c == '\r' {
                    if c == '\r' && chars.peek() == Some(&'\n') {
                        chars.next();
                    }
                    break;
                }
            }
            line += 1;
            skip_blank = true;
            continue;
        }
        if !line_end {
            if logical.is_empty() {
                start = line;
            }
            logical.push(c);
            escape_pending = c == '\\' && !escape_pending;
            continue;
        }
        line += 1;
        skip_blank = true;
        if logical.is_empty() {
            continue;
        }
        if escape_pending && more {
            // The backslash is not part of the line; it goes on after the next line's blanks.
            logical.pop();
            continued = true;
            escape_pending = false;
            continue;
        }
        if escape_pending {
            logical.pop();
        }
        out.push((start, std::mem::take(&mut logical)));
        escape_pending = false;
    }
    if !logical.is_empty() {
        if escape_pending {
            logical.pop();
        }
        out.push((start, logical));
    }
    out
}

/// Splits a logical line into raw (still escaped) key and value, per `Properties.load`: the key ends at
/// the first unescaped `=`, `:` or whitespace; whitespace, then at most one `=`/`:`, then whitespace,
/// separate it from the value.
fn split_key_value(line: &str) -> (&str, &str) {
    let mut chars = line.char_indices().peekable();
    let mut escaped = false;
    let mut key_end = line.len();
    let mut has_sep = false;
    for (pos, c) in chars.by_ref() {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == '=' || c == ':' {
            key_end = pos;
            has_sep = true;
            break;
        } else if is_blank(c) {
            key_end = pos;
            break;
        }
    }
    if key_end == line.len() {
        return (line, "");
    }
    // Skip whitespace, then one separator if the key ended on whitespace, then whitespace again.
    while chars.next_if(|&(_, c)| is_blank(c)).is_some() {}
    if !has_sep && chars.next_if(|&(_, c)| c == '=' || c == ':').is_some() {
        while chars.next_if(|&(_, c)| is_blank(c)).is_some() {}
    }
    let value_start = chars.peek().map_or(line.len(), |&(p, _)| p);
    (&line[..key_end], &line[value_start..])
}

/// Resolves backslash escapes as `Properties.loadConvert` does: `\t \n \r \f`, `\uXXXX` (UTF-16 code
/// units, so surrogate pairs combine), and `\c` → `c` for any other character.
/// `what` names the part ("key", "value of key x") for errors, which never quote a value: it may
/// be a password.
fn unescape(raw: &str, line: usize, what: &dyn Fn() -> String) -> Result<String, SyntaxError> {
    // Most keys and values have no escape at all.
    if !raw.contains('\\') {
        return Ok(raw.to_string());
    }
    let mut units: Vec<u16> = Vec::with_capacity(raw.len());
    let mut chars = raw.chars();
    let err = |reason: String| SyntaxError { line, reason };
    while let Some(c) = chars.next() {
        if c != '\\' {
            let mut buf = [0u16; 2];
            units.extend_from_slice(c.encode_utf16(&mut buf));
            continue;
        }
        match chars.next() {
            Some('t') => units.push(u16::from(b'\t')),
            Some('n') => units.push(u16::from(b'\n')),
            Some('r') => units.push(u16::from(b'\r')),
            Some('f') => units.push(0x0c),
            Some('u') => {
                let hex: String = chars.by_ref().take(4).collect();
                if hex.chars().count() < 4 || !hex.chars().all(|h| h.is_ascii_hexdigit()) {
                    return Err(err(format!(
                        "malformed \\uXXXX escape in the {}: four hex digits expected",
                        what()
                    )));
                }
                units.push(u16::from_str_radix(&hex, 16).expect("four hex digits"));
            }
            Some(other) => {
                let mut buf = [0u16; 2];
                units.extend_from_slice(other.encode_utf16(&mut buf));
            }
            // A lone trailing backslash was a line continuation and never reaches here.
            None => {}
        }
    }
    String::from_utf16(&units).map_err(|_| {
        err(format!(
            "a \\uXXXX escape in the {} leaves an unpaired UTF-16 surrogate",
            what()
        ))
    })
}

/// Reads properties text into entries in file order (duplicates kept: the caller decides).
pub fn parse(text: &str) -> Result<Vec<Entry>, SyntaxError> {
    logical_lines(text)
        .into_iter()
        .map(|(line, logical)| {
            let (raw_key, raw_value) = split_key_value(&logical);
            let key = unescape(raw_key, line, &|| "key".to_string())?;
            let value = unescape(raw_value, line, &|| format!("value of {key}"))?;
            Ok(Entry { line, key, value })
        })
        .collect()
}

/// How [`read`] turned a file's bytes into text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// Valid UTF-8 (bytes that are not, in comments only, are skipped with the comments).
    Utf8,
    /// ISO-8859-1, one character per byte: how Trino and PrestoDB read every catalog file.
    Latin1,
}

/// A file's entries, how its bytes were read, and what a user should hear about that (`line N: …`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Read {
    pub entries: Vec<Entry>,
    pub encoding: Encoding,
    pub notes: Vec<String>,
}

/// Reads a properties file's bytes. Trino and PrestoDB read catalog files with airlift's
/// `loadPropertiesFrom`, which is `Properties.load(InputStream)`: ISO-8859-1, so a UTF-8 `é` reaches
/// them as `Ã©`. The agent never hands the engine a user's bytes (it sends the text in SQL, or
/// renders pure-ASCII files), so it can read files as they are written today:
/// * valid UTF-8 is read as UTF-8;
/// * bytes that are not UTF-8 in comments only are skipped with the comments (noted);
/// * bytes that are not UTF-8 in a key or value make the file ISO-8859-1 as a whole — what the
///   engine itself would read, and what an `etc/catalog` file written for it means (noted);
/// * such bytes next to UTF-8 text are refused: the file mixes encodings, and either reading would
///   change some value behind its writer's back.
pub fn read(bytes: &[u8]) -> Result<Read, SyntaxError> {
    if let Ok(text) = std::str::from_utf8(bytes) {
        return Ok(Read {
            entries: parse(text)?,
            encoding: Encoding::Utf8,
            notes: Vec::new(),
        });
    }
    let bad_line = line_of_first_invalid_byte(bytes);
    // Read twice with two different stand-ins for the bytes that are not UTF-8: both are ordinary
    // characters to the reader, so the two readings differ exactly in the keys and values that hold
    // such bytes.
    let first = parse(&lossy(bytes, '\u{fffd}'))?;
    let second = parse(&lossy(bytes, '\u{fffc}'))?;
    let Some((holder, other)) = first.iter().zip(&second).find(|(a, b)| a != b) else {
        return Ok(Read {
            entries: first,
            encoding: Encoding::Utf8,
            notes: vec![format!(
                "line {bad_line}: a comment holds bytes that are not UTF-8 (skipped with the comment)"
            )],
        });
    };
    let part = |entry: &Entry, other: &Entry| {
        if entry.key != other.key {
            "a property name".to_string()
        } else {
            format!("the value of {}", entry.key)
        }
    };
    if let Some(utf8_line) = line_of_first_utf8_multibyte(bytes) {
        return Err(SyntaxError {
            line: holder.line,
            reason: format!(
                "{} holds bytes that are not UTF-8 (line {bad_line}), while line {utf8_line} holds \
                 UTF-8 text: the file mixes encodings; save it as UTF-8",
                part(holder, other)
            ),
        });
    }
    let text: String = bytes.iter().map(|&b| char::from(b)).collect();
    Ok(Read {
        entries: parse(&text)?,
        encoding: Encoding::Latin1,
        notes: vec![format!(
            "line {}: {} is not UTF-8: the file is read as ISO-8859-1, as Trino and PrestoDB read \
             catalog files",
            holder.line,
            part(holder, other)
        )],
    })
}

/// The text with each run of bytes that are not UTF-8 replaced by `stand_in`.
fn lossy(bytes: &[u8], stand_in: char) -> String {
    let mut text = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        text.push_str(chunk.valid());
        if !chunk.invalid().is_empty() {
            text.push(stand_in);
        }
    }
    text
}

/// The physical line (1-based; `\n`, `\r\n` and `\r` end lines) that byte `at` is on.
fn line_at(bytes: &[u8], at: usize) -> usize {
    let before = &bytes[..at];
    let ends = before
        .iter()
        .enumerate()
        .filter(|&(i, &b)| b == b'\n' || (b == b'\r' && bytes.get(i + 1) != Some(&b'\n')))
        .count();
    ends + 1
}

fn line_of_first_invalid_byte(bytes: &[u8]) -> usize {
    let mut at = 0;
    for chunk in bytes.utf8_chunks() {
        at += chunk.valid().len();
        if !chunk.invalid().is_empty() {
            break;
        }
    }
    line_at(bytes, at)
}

/// The line of the first character that UTF-8 encodes in more than one byte, if any.
fn line_of_first_utf8_multibyte(bytes: &[u8]) -> Option<usize> {
    let mut at = 0;
    for chunk in bytes.utf8_chunks() {
        if let Some(i) = chunk.valid().find(|c: char| !c.is_ascii()) {
            return Some(line_at(bytes, at + i));
        }
        at += chunk.valid().len() + chunk.invalid().len();
    }
    None
}

/// Escapes a key or value for a properties file in pure ASCII, so a reader using either ISO-8859-1
/// (older Trino, PrestoDB) or UTF-8 gets the same string. Mirrors `Properties.saveConvert`.
pub fn escape(text: &str, is_key: bool) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for (i, c) in text.chars().enumerate() {
        match c {
            ' ' if i == 0 || is_key => out.push_str("\\ "),
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\x0c' => out.push_str("\\f"),
            '=' | ':' | '#' | '!' => {
                out.push('\\');
                out.push(c);
            }
            ' '..='~' => out.push(c),
            _ => {
                let mut buf = [0u16; 2];
                for unit in c.encode_utf16(&mut buf) {
                    out.push_str(&format!("\\u{unit:04X}"));
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn kv(text: &str) -> Vec<(String, String)> {
        parse(text)
            .expect("parses")
            .into_iter()
            .map(|e| (e.key, e.value))
            .collect()
    }

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn utf8_is_read_as_utf8_and_bytes_that_are_not_in_a_comment_are_skipped_with_it() {
        let read = read("k=Z\u{fc}rich\n".as_bytes()).unwrap();
        assert_eq!(read.encoding, Encoding::Utf8);
        assert_eq!(read.entries[0].value, "Z\u{fc}rich");
        assert!(read.notes.is_empty());

        let read = super::read(b"# Caf\xe9 du commerce\r\nk=Z\xc3\xbcrich\r\n").unwrap();
        assert_eq!(read.encoding, Encoding::Utf8);
        assert_eq!(read.entries[0].value, "Z\u{fc}rich");
        assert_eq!(read.entries[0].line, 2);
        assert_eq!(
            read.notes,
            ["line 1: a comment holds bytes that are not UTF-8 (skipped with the comment)"]
        );
    }

    #[test]
    fn bytes_that_are_not_utf8_in_a_value_make_the_file_latin1() {
        let read = read(b"a=1\rb=caf\xe9 \\\n  cr\xe8me\n").unwrap();
        assert_eq!(read.encoding, Encoding::Latin1);
        assert_eq!(read.entries[1].value, "caf\u{e9} cr\u{e8}me");
        assert_eq!(
            read.notes,
            [
                "line 2: the value of b is not UTF-8: the file is read as ISO-8859-1, as Trino and \
                 PrestoDB read catalog files"
            ]
        );
        // In a key too; escapes are still escapes.
        let read = super::read(b"\xb5s=\\u00e9\n").unwrap();
        assert_eq!(read.entries[0].key, "\u{b5}s");
        assert_eq!(read.entries[0].value, "\u{e9}");
        assert!(read.notes[0].starts_with("line 1: a property name is not UTF-8"));
    }

    #[test]
    fn bytes_that_are_not_utf8_next_to_utf8_text_are_refused() {
        let err = read(b"# \xc3\xa9t\xc3\xa9\n\n\nk=caf\xe9\n").unwrap_err();
        assert_eq!(err.line, 4);
        assert_eq!(
            err.reason,
            "the value of k holds bytes that are not UTF-8 (line 4), while line 1 holds UTF-8 \
             text: the file mixes encodings; save it as UTF-8"
        );
    }

    #[test]
    fn separators_are_equals_colon_or_whitespace() {
        assert_eq!(
            kv("a=1\nb : 2\nc 3\nd\ne = = x\n"),
            pairs(&[("a", "1"), ("b", "2"), ("c", "3"), ("d", ""), ("e", "= x")])
        );
    }

    #[test]
    fn comments_and_blank_lines_are_skipped_and_line_numbers_kept() {
        let entries = parse("# c\n! c\n\n   \n  k=v\n").unwrap();
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].line, 5);
    }

    #[test]
    fn continuation_joins_lines_and_strips_leading_whitespace() {
        let entries = parse("k=one \\\n    two\nnext=1").unwrap();
        assert_eq!(entries[0].value, "one two");
        assert_eq!(entries[1].line, 3);
    }

    #[test]
    fn even_backslashes_do_not_continue() {
        assert_eq!(kv("k=a\\\\\nn=1"), pairs(&[("k", "a\\"), ("n", "1")]));
    }

    #[test]
    fn escaped_separators_belong_to_the_key() {
        assert_eq!(
            kv("a\\:b=c\nx\\=y=z\nsp\\ ace=1"),
            pairs(&[("a:b", "c"), ("x=y", "z"), ("sp ace", "1")])
        );
    }

    #[test]
    fn unicode_escapes_including_surrogate_pairs() {
        assert_eq!(
            kv("k=caf\\u00e9\ne=\\uD83D\\uDE00"),
            pairs(&[("k", "café"), ("e", "😀")])
        );
    }

    #[test]
    fn malformed_unicode_escape_names_the_line() {
        let err = parse("a=1\n\nc=\\uZZZZ").unwrap_err();
        assert_eq!(err.line, 3);
        assert!(err.reason.contains("four hex digits"), "{err}");
        let err = parse("c=\\uD83D").unwrap_err();
        assert!(err.reason.contains("unpaired"), "{err}");
    }

    #[test]
    fn continuations_that_leave_a_line_empty_read_as_java_reads_them() {
        // Found by the differential test against Properties.load (tests/properties_java.rs).
        assert_eq!(
            kv("\\\n#c=1\nk=v"),
            pairs(&[("k", "v")]),
            "a comment after it"
        );
        assert_eq!(
            kv("\\\n\nk=v"),
            pairs(&[("k", "v")]),
            "an empty line after it"
        );
        assert_eq!(kv("a=b\\\r\n"), pairs(&[("a", "b")]));
        assert_eq!(kv("k\\"), pairs(&[("k", "")]));
        assert_eq!(kv("\\"), pairs(&[("", "")]), "a lone backslash at the end");
        assert_eq!(kv("\\\r\n"), pairs(&[]), "then a line end and nothing");
        let lines: Vec<usize> = parse("\n\\\n\n\nk=v\n# x\n  y=\\\n  z\n")
            .unwrap()
            .iter()
            .map(|e| e.line)
            .collect();
        assert_eq!(lines, [5, 7]);
    }

    #[test]
    fn a_malformed_escape_in_a_value_is_not_quoted_it_may_be_a_password() {
        let err = parse("password=hunt\\u3r2!").unwrap_err();
        assert_eq!(
            err.reason,
            "malformed \\uXXXX escape in the value of password: four hex digits expected"
        );
        let err = parse("secret=x\\uDBFFy").unwrap_err();
        assert!(
            !err.reason.contains("DBFF") && !err.reason.contains('y'),
            "{err}"
        );
    }

    #[test]
    fn unknown_escapes_drop_the_backslash_like_java() {
        assert_eq!(kv("k=C:\\path\\to\\b"), pairs(&[("k", "C:path\tob")]));
    }

    #[test]
    fn crlf_and_cr_line_endings() {
        assert_eq!(
            kv("a=1\r\nb=2\rc=3"),
            pairs(&[("a", "1"), ("b", "2"), ("c", "3")])
        );
    }

    #[test]
    fn trailing_whitespace_is_kept_by_the_reader() {
        assert_eq!(kv("k=v   "), pairs(&[("k", "v   ")]));
    }

    #[test]
    fn trino_file_store_output_reads_back() {
        // What java.util.Properties.store writes for a JDBC URL, a leading space and an emoji.
        let text = "#Mon Nov 24 09:02:00 UTC 2026\nconnection-url=jdbc\\:postgresql\\://db\\:5432/x\nconnector.name=postgresql\nk=\\ lead\ne=\\uD83D\\uDE00\n";
        assert_eq!(
            kv(text),
            pairs(&[
                ("connection-url", "jdbc:postgresql://db:5432/x"),
                ("connector.name", "postgresql"),
                ("k", " lead"),
                ("e", "😀"),
            ])
        );
    }

    proptest! {
        #[test]
        fn escape_then_parse_round_trips(key in "\\PC{1,12}|[ =:#!\\\\\t\n]{1,4}[a-z]{0,3}", value in any::<String>()) {
            let text = format!("{}={}\n", escape(&key, true), escape(&value, false));
            prop_assert!(text.is_ascii());
            let entries = parse(&text).unwrap();
            prop_assert_eq!(entries.len(), 1);
            prop_assert_eq!(&entries[0].key, &key);
            prop_assert_eq!(&entries[0].value, &value);
        }

        #[test]
        fn parse_never_panics(text in "[\\\\u0-9a-fA-F:= \t\r\n#!é]{0,40}") {
            let _ = parse(&text);
        }
    }
}
