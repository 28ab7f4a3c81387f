//! The agent's properties reader against Java's `Properties.load` and against the engines' own
//! catalog-file reader: thousands of generated and hostile files — escapes, continuations, odd
//! whitespace and line ends, comments, separators, non-ASCII text, a BOM, bytes that are not UTF-8,
//! ISO-8859-1 text, UTF-8 text broken off — read by all, and compared key by key.
//!
//! Trino 476 and PrestoDB 0.296 read catalog files with airlift's `loadPropertiesFrom`:
//! `Properties.load(InputStream)`, ISO-8859-1. The test calls that very method from each engine's
//! own jars (under the engine's Java) and requires it to read every case as `Properties.load` over
//! ISO-8859-1 does. The agent reads a file that is valid UTF-8 as UTF-8 (it sends the engine the
//! text, never the bytes) and must then equal `Properties.load` over a UTF-8 reader; a file with bytes
//! that are not UTF-8 in a key or value it reads as the engines do, and must equal them. Where the
//! agent refuses what Java accepts, the refusal must be one of its deliberate ones: a lone surrogate
//! (which Java keeps and Trino would then carry around), or a file that mixes encodings.
//!
//! One JVM per reading reads all the cases (`tests/java/PropsDump.java`, run as a source file).
//! The files are drawn from proptest strategies ([`case`]) with a fixed seed. `PROPS_CASES` changes
//! the number of cases, `PROPS_SEED` the seed.

#[path = "java/props_oracle.rs"]
mod props_oracle;

use props_oracle::{Answer, Verdict, judge, parse_answer};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use test_support::real::Engines;

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

/// Bytes a file written in another encoding, or broken off, holds: ISO-8859-1 letters, UTF-8
/// sequences cut short, stray continuation bytes, encoded surrogates, overlong and out-of-range forms.
const BYTE_PIECES: &[&[u8]] = &[
    b"\xe9",
    b"caf\xe9",
    b"\xfc",
    b"\xa0",
    b"\x85",
    b"\xff",
    b"\x80",
    b"\xc3",
    b"\xe2\x82",
    b"\xf0\x9f\x98",
    b"\xed\xa0\x80",
    b"\xf4\x90\x80\x80",
    b"\xc0\xaf",
    b"\xc3\xa9",
    b"\n# caf\xe9\n",
    b"\n! \xff\xfe\r\n",
];

/// One piece of a file of `kind` (see [`case`]).
fn piece(kind: u8) -> BoxedStrategy<Vec<u8>> {
    let text = || prop::sample::select(PIECES).prop_map(|p| p.as_bytes().to_vec());
    match kind {
        // Text, now and then any character at all.
        0 => prop_oneof![
            1 => (0..0x3_0000u32).prop_map(|c| {
                char::from_u32(c).unwrap_or('?').to_string().into_bytes()
            }),
            9 => text(),
        ]
        .boxed(),
        // ASCII, with bytes of another encoding.
        1 => prop_oneof![
            2 => (0x80..=0xffu8).prop_map(|b| vec![b]),
            8 => prop::sample::select(PIECES).prop_map(|p| {
                if p.is_ascii() { p.as_bytes().to_vec() } else { Vec::new() }
            }),
        ]
        .boxed(),
        // Anything.
        _ => prop_oneof![
            3 => prop::sample::select(BYTE_PIECES).prop_map(<[u8]>::to_vec),
            7 => text(),
        ]
        .boxed(),
    }
}

/// One file: a third valid UTF-8 text, a third ASCII with bytes of another encoding, a third
/// anything; 1 to 30 pieces, after a BOM in one file of twenty.
fn case() -> impl Strategy<Value = Vec<u8>> {
    (0..3u8)
        .prop_flat_map(|kind| {
            (
                prop::bool::weighted(0.05),
                prop::collection::vec(piece(kind), 1..=30),
            )
        })
        .prop_map(|(bom, pieces)| {
            let mut bytes = if bom {
                "\u{feff}".as_bytes().to_vec()
            } else {
                Vec::new()
            };
            bytes.extend(pieces.concat());
            bytes
        })
}

/// `count` files drawn from [`case`] with `seed`: the same files on every run. They are drawn
/// up front, not case by case as a proptest runner would: one JVM per reader reads them all (a
/// JVM per case would take an hour), so there is no shrinking; a file that is read otherwise is
/// shown whole in the failure, and `PROPS_SEED` draws other files.
fn cases(count: usize, seed: u64) -> Vec<Vec<u8>> {
    let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &seed.to_le_bytes().repeat(4));
    let mut runner = TestRunner::new_with_rng(Config::default(), rng);
    let strategy = case();
    (0..count)
        .map(|_| strategy.new_tree(&mut runner).expect("a file").current())
        .collect()
}

fn java_in(home: Option<&Path>) -> Option<PathBuf> {
    let candidate = home
        .map(Path::to_path_buf)
        .or_else(|| std::env::var_os("JAVA_HOME").map(PathBuf::from))
        .map(|home| home.join("bin/java"))
        .unwrap_or_else(|| PathBuf::from("java"));
    Command::new(&candidate)
        .arg("-version")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|_| candidate)
}

/// Runs PropsDump in `mode` over the cases in `dir`.
fn java_answers(
    java: &Path,
    classpath: Option<&str>,
    mode: &str,
    dir: &Path,
    count: usize,
) -> Vec<Answer> {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/java/PropsDump.java");
    let mut command = Command::new(java);
    if let Some(classpath) = classpath {
        command.args(["-cp", classpath]);
    }
    let out = command
        .arg(&source)
        .arg(mode)
        .arg(dir)
        .arg(count.to_string())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{mode}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let answers: Vec<Answer> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(parse_answer)
        .collect();
    assert_eq!(answers.len(), count, "{mode}: one answer per case");
    answers
}

/// The classpath holding airlift's configuration jar (and the Guava it needs) in an engine's lib.
fn engine_classpath(home: &Path) -> String {
    let lib = home.join("lib");
    let jars: Vec<String> = std::fs::read_dir(&lib)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| {
            let plain = name.rsplit('_').next().unwrap_or(name);
            (plain.starts_with("configuration-") || plain.starts_with("guava-"))
                && name.ends_with(".jar")
        })
        .map(|name| lib.join(name).display().to_string())
        .collect();
    assert_eq!(
        jars.len(),
        2,
        "airlift configuration and Guava in {}: {jars:?}",
        lib.display()
    );
    jars.join(":")
}

/// Java's `String.trim()` (code units up to U+0020 off both ends) on hex UTF-16 code units.
fn java_trim_hex(hex: &str) -> String {
    let units: Vec<&str> = hex
        .as_bytes()
        .chunks(4)
        .map(|unit| std::str::from_utf8(unit).unwrap())
        .collect();
    let blank = |unit: &&str| u16::from_str_radix(unit, 16).unwrap() <= 0x20;
    let start = units.iter().position(|u| !blank(u)).unwrap_or(units.len());
    let end = units
        .iter()
        .rposition(|u| !blank(u))
        .map_or(start, |e| e + 1);
    units[start..end].concat()
}

#[test]
fn the_agents_reader_reads_what_java_and_the_engines_read() {
    let Some(java) = java_in(None) else {
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
    let dir = tempfile::tempdir().unwrap();
    let cases = cases(count, seed);
    for (i, bytes) in cases.iter().enumerate() {
        std::fs::write(dir.path().join(format!("{i}.properties")), bytes).unwrap();
    }
    let utf8 = java_answers(&java, None, "utf8", dir.path(), count);
    let latin1 = java_answers(&java, None, "latin1", dir.path(), count);

    // The engines' own reader, from their own jars: ISO-8859-1, every case.
    if let Some(engines) = Engines::required() {
        for (engine, home, java_home, class) in [
            (
                "Trino",
                &engines.trino_home,
                &engines.trino_java_home,
                "io.airlift.configuration.ConfigurationLoader",
            ),
            (
                "PrestoDB",
                &engines.presto_home,
                &engines.presto_java_home,
                "com.facebook.airlift.configuration.ConfigurationLoader",
            ),
        ] {
            let java = java_in(Some(java_home)).expect("the engine's Java");
            let classpath = engine_classpath(home);
            let theirs = java_answers(
                &java,
                Some(&classpath),
                &format!("loader:{class}"),
                dir.path(),
                count,
            );
            for (i, (engine_answer, latin1_answer)) in theirs.iter().zip(&latin1).enumerate() {
                // Trino's airlift trims values with String.trim(); PrestoDB's keeps them.
                let expected = latin1_answer.as_ref().map(|answer| {
                    answer
                        .iter()
                        .map(|(k, v)| {
                            let v = if engine == "Trino" {
                                java_trim_hex(v)
                            } else {
                                v.clone()
                            };
                            (k.clone(), v)
                        })
                        .collect::<BTreeMap<_, _>>()
                });
                assert_eq!(
                    engine_answer,
                    &expected,
                    "{engine} reads {:?} otherwise than Properties.load over ISO-8859-1",
                    String::from_utf8_lossy(&cases[i])
                );
            }
            eprintln!("{engine}'s loadPropertiesFrom read all {count} cases as ISO-8859-1");
        }
    }

    let mut as_utf8 = 0;
    let mut as_latin1 = 0;
    let mut comments_skipped = 0;
    let mut mixed = 0;
    let mut refused_alike = 0;
    for (i, bytes) in cases.iter().enumerate() {
        match judge(bytes, &utf8[i], &latin1[i]) {
            Verdict::Utf8 {
                comments_skipped: skipped,
            } => {
                as_utf8 += 1;
                comments_skipped += usize::from(skipped);
            }
            Verdict::Latin1 => as_latin1 += 1,
            Verdict::Mixed => mixed += 1,
            Verdict::LoneSurrogate => {}
            Verdict::RefusedAlike => refused_alike += 1,
        }
    }
    eprintln!(
        "{count} cases: {as_utf8} read alike as UTF-8 ({comments_skipped} with bytes that are not \
         UTF-8 in comments), {as_latin1} as ISO-8859-1, {mixed} refused as mixed, {refused_alike} \
         refused by both"
    );
    // The generator must keep reaching every side.
    assert!(as_utf8 > count / 6, "too few read as UTF-8: {as_utf8}");
    assert!(
        as_latin1 > count / 10,
        "too few read as ISO-8859-1: {as_latin1}"
    );
    assert!(
        comments_skipped > count / 200,
        "too few with comments skipped: {comments_skipped}"
    );
    assert!(mixed > count / 100, "too few mixed: {mixed}");
    assert!(
        refused_alike > count / 10,
        "too few refused by both: {refused_alike}"
    );
}
