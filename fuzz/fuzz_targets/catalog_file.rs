//! A catalog file's bytes, whatever they are: checking never panics, an error always names a line
//! inside the file (or none), and a valid catalog rendered for the restart mode reads back as the
//! same catalog with the same fingerprint.
#![no_main]

use catalog_reloader::catalog::{Flavour, parse_file};
use catalog_reloader::render::{MARKER, render};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (bool, &[u8])| {
    let (presto, bytes) = input;
    let flavour = if presto {
        Flavour::Presto
    } else {
        Flavour::Trino
    };
    let spec = match parse_file("fuzz.properties", "fuzz", bytes, flavour) {
        Ok(spec) => spec,
        Err(error) => {
            assert_eq!(error.file, "fuzz.properties");
            if let Some(line) = error.line {
                let lines = bytes.iter().filter(|&&b| b == b'\n' || b == b'\r').count() + 1;
                assert!(
                    line >= 1 && line <= lines,
                    "line {line} of {lines}: {error}"
                );
            }
            return;
        }
    };
    let text = render(&spec, "source/fuzz.properties", 1_795_521_600_123);
    assert!(text.is_ascii() && text.starts_with(MARKER), "{text:?}");
    let again = parse_file("fuzz.properties", "fuzz", text.as_bytes(), flavour)
        .unwrap_or_else(|e| panic!("rendered file does not read back: {e}\n{text}"));
    assert_eq!(again, spec, "{text}");
    assert_eq!(again.fingerprint(), spec.fingerprint());
});
