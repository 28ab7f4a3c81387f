//! What `PropsDump.java` answers, and the rules the agent's byte-level reader must keep against it.
//! Shared, through `#[path]`, by tests/properties_java.rs and fuzz/fuzz_targets/properties_java.rs.

use catalog_reloader::properties::{self, Encoding};
use std::collections::{BTreeMap, BTreeSet};

/// Keys and values as hex UTF-16 code units, as PropsDump prints them; `None` when reading threw.
pub type Answer = Option<BTreeMap<String, String>>;

/// One PropsDump answer: `N ok KEY=VALUE ...` or `N error`.
pub fn parse_answer(line: &str) -> Answer {
    let mut words = line.split(' ');
    let _index = words.next();
    (words.next() == Some("ok")).then(|| {
        words
            .map(|kv| {
                let (k, v) = kv.split_once('=').unwrap();
                (k.to_string(), v.to_string())
            })
            .collect()
    })
}

/// Text as PropsDump prints it: hex UTF-16 code units.
pub fn hex(text: &str) -> String {
    text.encode_utf16().map(|u| format!("{u:04x}")).collect()
}

/// Whether a UTF-8 reading put U+FFFD (a byte that was not UTF-8) in a key or a value.
fn holds_replacement(answer: &BTreeMap<String, String>) -> bool {
    let fffd = |text: &String| text.as_bytes().chunks(4).any(|unit| unit == b"fffd");
    answer.iter().any(|(k, v)| fffd(k) || fffd(v))
}

/// How the agent's reader took a file that kept every rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Read as UTF-8; `comments_skipped`: with bytes that are not UTF-8 in comments.
    Utf8 {
        comments_skipped: bool,
    },
    Latin1,
    /// Refused: bytes that are not UTF-8 next to UTF-8 text.
    Mixed,
    /// Refused: a `\uXXXX` escape left a lone surrogate (Java keeps it).
    LoneSurrogate,
    /// Refused, as Java refuses it.
    RefusedAlike,
}

/// Reads `bytes` with the agent's reader and holds it to Java's readings of the same bytes (over a
/// UTF-8 reader, and over ISO-8859-1): equal key by key to the one its chosen encoding names, or
/// refused for a deliberate reason. Panics, showing the file, where a rule is broken.
pub fn judge(bytes: &[u8], utf8: &Answer, latin1: &Answer) -> Verdict {
    let shown = String::from_utf8_lossy(bytes);
    let valid_utf8 = std::str::from_utf8(bytes).is_ok();
    // Java keeps the last of duplicate keys, so what it read can hide an earlier value.
    let duplicates = properties::parse(&shown).is_ok_and(|entries| {
        entries
            .iter()
            .map(|e| &e.key)
            .collect::<BTreeSet<_>>()
            .len()
            < entries.len()
    });
    let lossy_in_a_value = duplicates || utf8.as_ref().is_some_and(holds_replacement);
    match properties::read(bytes) {
        Ok(read) => {
            // Java keeps the last of duplicate keys; the agent keeps them all (and refuses
            // duplicates later, with both lines).
            let ours: BTreeMap<String, String> = read
                .entries
                .iter()
                .map(|e| (hex(&e.key), hex(&e.value)))
                .collect();
            let (theirs, verdict) = match read.encoding {
                Encoding::Utf8 => (
                    utf8,
                    Verdict::Utf8 {
                        comments_skipped: !valid_utf8,
                    },
                ),
                Encoding::Latin1 => {
                    assert!(!valid_utf8, "valid UTF-8 read as ISO-8859-1: {shown:?}");
                    assert!(
                        lossy_in_a_value,
                        "read as ISO-8859-1, but no key or value holds a byte that is not UTF-8: {shown:?}"
                    );
                    (latin1, Verdict::Latin1)
                }
            };
            let theirs = theirs
                .as_ref()
                .unwrap_or_else(|| panic!("the agent reads what Java refuses: {shown:?}"));
            assert_eq!(
                &ours, theirs,
                "the readers disagree ({:?}) on {shown:?}",
                read.encoding
            );
            if bytes.is_ascii() {
                assert_eq!(
                    Some(&ours),
                    latin1.as_ref(),
                    "ASCII read otherwise: {shown:?}"
                );
            }
            verdict
        }
        Err(e) if e.reason.contains("mixes encodings") => {
            assert!(
                lossy_in_a_value,
                "refused as mixed, but no key or value holds a byte that is not UTF-8: {shown:?}"
            );
            // UTF-8 text: a character of more than one byte among the valid UTF-8 (a U+FFFD
            // written as such counts; one that stands in for bad bytes in `shown` does not).
            assert!(
                bytes.utf8_chunks().any(|chunk| !chunk.valid().is_ascii()),
                "refused as mixed without UTF-8 text: {shown:?}"
            );
            Verdict::Mixed
        }
        Err(e) if e.reason.contains("unpaired UTF-16 surrogate") => Verdict::LoneSurrogate,
        Err(e) => {
            assert!(
                utf8.is_none(),
                "the agent refuses what Java reads, for no deliberate reason: {shown:?}: {e:?}"
            );
            Verdict::RefusedAlike
        }
    }
}
