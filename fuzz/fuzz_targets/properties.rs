//! The properties reader on any text: it never panics, and what it reads, written back with the
//! agent's escaping, reads back the same (the restart mode relies on that for rendered files).
#![no_main]

use catalog_reloader::properties::{escape, parse};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let Ok(entries) = parse(text) else { return };
    let mut written = String::new();
    for entry in &entries {
        written.push_str(&escape(&entry.key, true));
        written.push('=');
        written.push_str(&escape(&entry.value, false));
        written.push('\n');
    }
    assert!(written.is_ascii(), "escaped text is not ASCII: {written:?}");
    let again = parse(&written).expect("the agent's own output must parse");
    assert_eq!(again.len(), entries.len(), "{written:?}");
    for (line, (a, b)) in entries.iter().zip(&again).enumerate() {
        assert_eq!(
            (&a.key, &a.value),
            (&b.key, &b.value),
            "entry {line} of {written:?}"
        );
        assert_eq!(b.line, line + 1, "{written:?}");
    }
});
