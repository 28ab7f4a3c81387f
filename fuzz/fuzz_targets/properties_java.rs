//! The agent's reader of catalog-file bytes against Java's `Properties.load`, on any bytes: one JVM
//! (`tests/java/PropsDump.java serve`, started once, `java` from `JAVA_HOME` or the `PATH`) reads
//! each input over a UTF-8 reader and over ISO-8859-1, and the agent must read it as the one its
//! chosen encoding names, key by key — or refuse it for one of its deliberate reasons.
#![no_main]

use catalog_reloader::properties::{self, Encoding};
use libfuzzer_sys::fuzz_target;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::{Mutex, OnceLock};

struct Jvm {
    _child: Child,
    input: ChildStdin,
    output: BufReader<ChildStdout>,
}

fn jvm() -> &'static Mutex<Jvm> {
    static JVM: OnceLock<Mutex<Jvm>> = OnceLock::new();
    JVM.get_or_init(|| {
        let java = std::env::var_os("JAVA_HOME")
            .map(|home| std::path::Path::new(&home).join("bin/java"))
            .unwrap_or_else(|| "java".into());
        let source = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/java/PropsDump.java");
        let mut child = Command::new(java)
            .args([source, "serve"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start java");
        let input = child.stdin.take().unwrap();
        let output = BufReader::new(child.stdout.take().unwrap());
        Mutex::new(Jvm { _child: child, input, output })
    })
}

type Answer = Option<BTreeMap<String, String>>;

fn answer(text: &str) -> Answer {
    let mut words = text.split(' ');
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

/// Java's readings of `bytes`: over a UTF-8 reader, then over ISO-8859-1.
fn java(bytes: &[u8]) -> (Answer, Answer) {
    let mut jvm = jvm().lock().unwrap();
    jvm.input.write_all(&(bytes.len() as u32).to_be_bytes()).unwrap();
    jvm.input.write_all(bytes).unwrap();
    jvm.input.flush().unwrap();
    let mut line = String::new();
    jvm.output.read_line(&mut line).unwrap();
    let (utf8, latin1) = line.trim_end().split_once(" | ").expect("two answers");
    (answer(utf8), answer(latin1))
}

fn hex(text: &str) -> String {
    text.encode_utf16().map(|u| format!("{u:04x}")).collect()
}

fn holds_replacement(answer: &BTreeMap<String, String>) -> bool {
    let fffd = |text: &String| text.as_bytes().chunks(4).any(|unit| unit == b"fffd");
    answer.iter().any(|(k, v)| fffd(k) || fffd(v))
}

fuzz_target!(|bytes: &[u8]| {
    let (utf8, latin1) = java(bytes);
    let shown = String::from_utf8_lossy(bytes);
    let duplicates = properties::parse(&shown).is_ok_and(|entries| {
        entries.iter().map(|e| &e.key).collect::<BTreeSet<_>>().len() < entries.len()
    });
    match properties::read(bytes) {
        Ok(read) => {
            let ours: BTreeMap<String, String> = read
                .entries
                .iter()
                .map(|e| (hex(&e.key), hex(&e.value)))
                .collect();
            let theirs = match read.encoding {
                Encoding::Utf8 => utf8,
                Encoding::Latin1 => {
                    assert!(std::str::from_utf8(bytes).is_err(), "{shown:?}");
                    assert!(duplicates || utf8.as_ref().is_some_and(holds_replacement), "{shown:?}");
                    latin1
                }
            };
            assert_eq!(Some(ours), theirs, "{:?}: {shown:?}", read.encoding);
        }
        Err(e) if e.reason.contains("mixes encodings") => {
            assert!(duplicates || utf8.as_ref().is_some_and(holds_replacement), "{shown:?}");
        }
        Err(e) if e.reason.contains("unpaired UTF-16 surrogate") => {}
        Err(e) => assert!(utf8.is_none(), "Java reads what the agent refuses: {shown:?}: {e:?}"),
    }
});
