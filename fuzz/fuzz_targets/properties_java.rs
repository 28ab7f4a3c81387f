//! The agent's reader of catalog-file bytes against Java's `Properties.load`, on any bytes: one JVM
//! (`tests/java/PropsDump.java serve`, started once, `java` from `JAVA_HOME` or the `PATH`) reads
//! each input over a UTF-8 reader and over ISO-8859-1, and the agent must read it as the one its
//! chosen encoding names, key by key — or refuse it for one of its deliberate reasons.
#![no_main]

#[path = "../../tests/java/props_oracle.rs"]
mod props_oracle;

use libfuzzer_sys::fuzz_target;
use props_oracle::{Answer, judge, parse_answer};
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

/// Java's readings of `bytes`: over a UTF-8 reader, then over ISO-8859-1.
fn java(bytes: &[u8]) -> (Answer, Answer) {
    let mut jvm = jvm().lock().unwrap();
    jvm.input.write_all(&(bytes.len() as u32).to_be_bytes()).unwrap();
    jvm.input.write_all(bytes).unwrap();
    jvm.input.flush().unwrap();
    let mut line = String::new();
    jvm.output.read_line(&mut line).unwrap();
    let (utf8, latin1) = line.trim_end().split_once(" | ").expect("two answers");
    (parse_answer(utf8), parse_answer(latin1))
}

fuzz_target!(|bytes: &[u8]| {
    let (utf8, latin1) = java(bytes);
    judge(bytes, &utf8, &latin1);
});
