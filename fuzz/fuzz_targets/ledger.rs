//! Whatever `ledger.json` and `ledger.journal` hold, loading never panics: it gives a ledger whose
//! entries pass the catalog rules, or moves the file aside. (The stable-toolchain property test
//! `ledger::tests::loading_never_panics` runs a mutation-based version of this in CI.)
#![no_main]

use catalog_reloader::ledger::Store;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (&[u8], &[u8])| {
    let (ledger, journal) = input;
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("ledger.json"), ledger).expect("write");
    std::fs::write(dir.path().join("ledger.journal"), journal).expect("write");
    let loaded = Store::in_dir(dir.path()).load().expect("load reports, never fails here");
    for (name, entry) in &loaded.ledger.catalogs {
        assert_eq!(name, &entry.spec.name);
        assert_eq!(entry.fingerprint, entry.spec.fingerprint());
    }
});
