//! The agent's properties reader against Java's own `Properties.load`, which is how Trino and
//! PrestoDB read catalog files: thousands of generated and hostile inputs — escapes, continuations,
//! odd whitespace and line ends, comments, separators, non-ASCII text, a BOM — read by both, and
//! compared key by key. Where the agent refuses what Java accepts, the refusal must be one of its
//! deliberate ones (a lone surrogate, which Java keeps and Trino would then carry around).
//!
//! One JVM reads all the cases (`tests/java/PropsDump.java`, run as a source file). `PROPS_CASES`
//! changes the number of cases, `PROPS_SEED` the seed.

use catalog_reloader::properties;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Pieces that exercise every rule of `Properties.load`.
const PIECES: &[&str] = &[
    "k",
    "key",
    "a.b-c",
    "v",
    "value",
    "x y",
    "=",
    ":",
    " ",
    "  ",
    "\t",
    "\u{c}",
    "\\",
    "\\\\",
    "\\\n",
    "\\\r\n",
    "\\\r",
    "\n",
    "\r\n",
    "\r",
    "\n\n",
    "#",
    "!",
    "# comment\n",
    "! c\n",
    "\\=",
    "\\:",
    "\\#",
    "\\!",
    "\\ ",
    "\\t",
    "\\n",
    "\\r",
    "\\f",
    "\\b",
    "\\x",
    "\\u0041",
    "\\u00e9",
    "\\uD83D\\uDE00",
    "\\uD83D",
    "\\uDE00",
    "\\u12",
    "\\uZZZZ",
    "\\u",
    "é",
    "😀",
    "\u{a0}",
    "\u{2028}",
    "\u{feff}",
    "\u{0}",
    "\u{7f}",
    "=\\\n   ",
    "   \\\n",
    "k=v\n",
    "a:b\n",
    "c d\n",
    "=v\n",
    ":\n",
    "\\\n\n",
    "\\\\\n",
    "\\\\\\\n",
    "==",
    "::",
    "= =",
];

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn case(rng: &mut Rng) -> String {
    let mut text = String::new();
    if rng.below(20) == 0 {
        text.push('\u{feff}');
    }
    for _ in 0..1 + rng.below(30) {
        if rng.below(10) == 0 {
            // Any character at all, now and then.
            let c = char::from_u32(rng.below(0x3_0000) as u32).unwrap_or('?');
            text.push(c);
        } else {
            text.push_str(PIECES[rng.below(PIECES.len())]);
        }
    }
    text
}

fn java() -> Option<PathBuf> {
    let candidate = std::env::var_os("JAVA_HOME")
        .map(|home| Path::new(&home).join("bin/java"))
        .unwrap_or_else(|| PathBuf::from("java"));
    Command::new(&candidate)
        .arg("-version")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|_| candidate)
}

fn hex(text: &str) -> String {
    text.encode_utf16().map(|u| format!("{u:04x}")).collect()
}

#[test]
fn the_agents_reader_reads_what_javas_properties_load_reads() {
    let Some(java) = java() else {
        assert!(
            std::env::var_os("REQUIRE_ENGINES").is_none(),
            "no Java on this machine, and REQUIRE_ENGINES=1"
        );
        eprintln!("skipped: no java on PATH or in JAVA_HOME");
        return;
    };
    let count: usize = std::env::var("PROPS_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3000);
    let seed: u64 = std::env::var("PROPS_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x00c0_ffee);
    let mut rng = Rng(seed | 1);
    let dir = tempfile::tempdir().unwrap();
    let cases: Vec<String> = (0..count).map(|_| case(&mut rng)).collect();
    for (i, text) in cases.iter().enumerate() {
        std::fs::write(dir.path().join(format!("{i}.properties")), text).unwrap();
    }
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/java/PropsDump.java");
    let out = Command::new(&java)
        .arg(&source)
        .arg(dir.path())
        .arg(count.to_string())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let answers = String::from_utf8(out.stdout).unwrap();
    let mut compared = 0;
    let mut refused_alike = 0;
    for (line, text) in answers.lines().zip(&cases) {
        let mut words = line.split(' ');
        let _index = words.next();
        let verdict = words.next().unwrap();
        let theirs: Option<BTreeMap<String, String>> = (verdict == "ok").then(|| {
            words
                .map(|kv| {
                    let (k, v) = kv.split_once('=').unwrap();
                    (k.to_string(), v.to_string())
                })
                .collect()
        });
        match (properties::parse(text), theirs) {
            (Ok(entries), Some(theirs)) => {
                // Java keeps the last of duplicate keys; the agent keeps them all (and refuses
                // duplicates later, with both lines).
                let ours: BTreeMap<String, String> = entries
                    .into_iter()
                    .map(|e| (hex(&e.key), hex(&e.value)))
                    .collect();
                assert_eq!(ours, theirs, "the two readers disagree on {text:?}");
                compared += 1;
            }
            (Err(_), None) => refused_alike += 1,
            (Err(e), Some(_)) => assert!(
                e.reason.contains("unpaired UTF-16 surrogate"),
                "the agent refuses what Java reads, for no deliberate reason: {text:?}: {e:?}"
            ),
            (Ok(entries), None) => {
                panic!("the agent reads what Java refuses: {text:?}: {entries:?}")
            }
        }
    }
    eprintln!("{count} cases: {compared} read alike, {refused_alike} refused by both");
    // The generator must keep reaching both sides.
    assert!(
        compared > count / 3,
        "too few cases read by both: {compared}"
    );
    assert!(
        refused_alike > count / 10,
        "too few refused by both: {refused_alike}"
    );
}
