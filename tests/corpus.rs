//! The bad-input corpus (`tests/corpus/`): every file there, plus what cannot be committed — a
//! symbolic-link loop, a dangling link, a link out of the folder, a directory, a FIFO, a socket, a
//! link to `/dev/null`, a 2 MiB file — read by `validate`, whose whole output is compared with
//! `tests/corpus.expected.txt`. Each line is what a user would be told about that file.
//!
//! After a deliberate change of a message: `UPDATE_GOLDEN=1 cargo test --test corpus`, then read
//! the diff of the expected file.
//!
//! A file the agent may not read cannot be committed either, and these tests run as root, who
//! reads everything: `validate` runs as `nobody` for it (and `tests/hostile.rs` has the agent).

mod common;

use common::{Folder, NOBODY, validate};
use std::os::unix::fs::symlink;
use std::path::Path;

fn copy_corpus(to: &Path) -> usize {
    let from = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let mut copied = 0;
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        copied += 1;
    }
    copied
}

#[test]
fn validate_over_the_corpus_says_what_it_should_about_every_file() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("catalogs");
    let outside = root.path().join("outside");
    std::fs::create_dir(&dir).unwrap();
    std::fs::create_dir(&outside).unwrap();
    let committed = copy_corpus(&dir);
    assert!(committed >= 60, "{committed} files in tests/corpus");

    let p = |name: &str| dir.join(name);
    symlink("link_loop.properties", p("link_loop.properties")).unwrap();
    symlink("missing/gone.properties", p("link_dangling.properties")).unwrap();
    std::fs::write(outside.join("x.properties"), "connector.name=memory\n").unwrap();
    symlink(
        "../outside/x.properties",
        p("link_out_of_folder.properties"),
    )
    .unwrap();
    symlink("/dev/null", p("link_dev_null.properties")).unwrap();
    std::fs::create_dir(p("a_directory.properties")).unwrap();
    let fifo = std::process::Command::new("mkfifo")
        .arg(p("a_fifo.properties"))
        .status()
        .unwrap();
    assert!(fifo.success());
    let _socket = std::os::unix::net::UnixListener::bind(p("a_socket.properties")).unwrap();
    let mut big = b"connector.name=memory\n".to_vec();
    big.extend(std::iter::repeat_n(b'#', 2 * 1024 * 1024));
    std::fs::write(p("big_2mib.properties"), big).unwrap();

    let out = validate(&dir).output();
    assert_eq!(out.code(), 1, "invalid files: exit 1\n{}", out.stderr);
    let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus.expected.txt");
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&golden, &out.stdout).unwrap();
    }
    let expected = std::fs::read_to_string(&golden).unwrap();
    let (ours, theirs): (Vec<&str>, Vec<&str>) =
        (out.stdout.lines().collect(), expected.lines().collect());
    for (line, (got, want)) in ours.iter().zip(&theirs).enumerate() {
        assert_eq!(got, want, "line {} of the output differs", line + 1);
    }
    assert_eq!(ours.len(), theirs.len(), "{}", out.stdout);
    // Whatever a file holds, nothing secret is repeated: the corpus's passwords are not shown.
    for secret in ["hunter2", "hunt", "ZZ3r2"] {
        assert!(!out.stdout.contains(secret), "{secret}");
    }
}

#[test]
fn a_file_validate_may_not_read_is_named_with_the_reason() {
    let folder = Folder::open_to_all();
    folder.write("locked.properties", "connector.name=memory\n");
    folder.write("fine.properties", "connector.name=memory\n");
    folder.make_unreadable("locked.properties");

    let out = validate(folder.path()).run_as(NOBODY).output();
    assert_eq!(
        out.code(),
        1,
        "an unreadable file is invalid\n{}",
        out.stderr
    );
    assert!(
        out.stdout
            .lines()
            .any(|l| l == "locked.properties: error: cannot read: Permission denied (os error 13)"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("1 valid, 1 invalid"), "{}", out.stdout);
    // As root the same folder is valid: the failure above is the permission, nothing else.
    assert_eq!(validate(folder.path()).output().code(), 0);
}
