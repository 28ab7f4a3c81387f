//! What a hostile or merely unlucky user can put in the agent's way — FIFOs, devices and folders
//! where files should be, a closed stderr, a ledger that is not what it should be or cannot be
//! written, files written in pieces, folders replaced, idle connections — and what the agent must
//! do then: never hang, never crash, never drop a live catalog because of it, and say so.

mod common;

use common::{Folder, PATIENCE, Scenario, agent, changes, http, wait_for};
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use test_support::emulator::{Emulator, RunningEmulator};

const TPCH: &str = "connector.name=tpch\n";

fn mkfifo(path: &Path) {
    let status = Command::new("mkfifo").arg(path).status().unwrap();
    assert!(status.success());
}

fn drops(engine: &RunningEmulator) -> Vec<String> {
    changes(engine)
        .into_iter()
        .filter(|c| c.contains("DROP CATALOG"))
        .collect()
}

#[test]
fn a_fifo_a_folder_or_a_device_where_a_catalog_file_was_keeps_the_live_catalog() {
    let (engine, folder, agent) = Scenario::emulated_trino()
        .with_files(
            ["fifo", "dir", "null", "fine"].map(|name| (format!("{name}.properties"), TPCH)),
        )
        .with_agent_args(["--debounce", "50ms"])
        .run();
    agent.wait_state("fine", "applied");
    assert_eq!(engine.user_catalogs(), ["dir", "fifo", "fine", "null"]);

    // Each replaced the way that would catch a reader between its check and its open: a rename
    // over the file.
    let staged = folder.path().join(".staged");
    mkfifo(&staged);
    std::fs::rename(&staged, folder.file("fifo.properties")).unwrap();
    std::fs::create_dir(&staged).unwrap();
    folder.remove("dir.properties");
    std::fs::rename(&staged, folder.file("dir.properties")).unwrap();
    // A device node like /dev/null, in the folder (a link to /dev/null leads out of the folder,
    // which is refused anyway: see the corpus).
    let mknod = Command::new("mknod")
        .arg(&staged)
        .args(["c", "1", "3"])
        .status()
        .unwrap();
    assert!(mknod.success());
    std::fs::rename(&staged, folder.file("null.properties")).unwrap();

    for (name, what) in [
        ("fifo", "it is a FIFO, not a regular file"),
        ("dir", "it is a directory, not a regular file"),
        (
            "null",
            "it is a character device (like /dev/null), not a regular file",
        ),
    ] {
        let status = agent.wait_state(name, "invalid");
        let error = status["error"].as_str().unwrap_or_default();
        assert_eq!(error, format!("{name}.properties: {what}"), "{status}");
    }
    // Passes go on: a new file is applied, nothing was dropped, the agent is healthy and stops
    // when asked.
    folder.write("more.properties", TPCH);
    agent.wait_state("more", "applied");
    assert_eq!(
        engine.user_catalogs(),
        ["dir", "fifo", "fine", "more", "null"]
    );
    assert!(drops(&engine).is_empty(), "{:?}", changes(&engine));
    assert_eq!(agent.get("/healthz").0, 200);
    let (status, _, log) = agent.terminate();
    assert!(status.success(), "{log}");
}

#[test]
fn a_file_the_agent_may_not_read_keeps_its_live_catalog_and_says_why() {
    // The agent as an unprivileged user (root reads every file): a catalog file that loses its
    // read permission — a `chmod`, a secret mounted with a mode for another user — is invalid,
    // and the live catalog it defined stays.
    let engine = Emulator::trino().dynamic().memory_store().start();
    let folder = common::Folder::open_to_all();
    folder.write("locked.properties", TPCH);
    folder.write("fine.properties", TPCH);
    let agent = agent("run", folder.path(), &engine.url())
        .args(["--debounce", "50ms"])
        .run_as(common::NOBODY)
        .start();
    agent.wait_state("locked", "applied");
    agent.wait_state("fine", "applied");

    folder.make_unreadable("locked.properties");
    folder.write("fine.properties", "connector.name=memory\n");
    let status = agent.wait_state("locked", "invalid");
    assert_eq!(
        status["error"], "locked.properties: cannot read: Permission denied (os error 13)",
        "{status}"
    );
    // The edit beside it went through; nothing was dropped.
    wait_for(PATIENCE, "fine replaced by a memory catalog", || {
        (agent.catalog("fine")?["connector"] == "memory").then_some(())
    });
    assert_eq!(engine.user_catalogs(), ["fine", "locked"]);
    assert_eq!(
        drops(&engine),
        ["FINISHED DROP CATALOG \"fine\""],
        "only the replacement's DROP: {:?}",
        changes(&engine)
    );

    // Readable again (the same definition): valid, applied, no statement for it.
    let sent = changes(&engine).len();
    std::fs::set_permissions(
        folder.file("locked.properties"),
        std::os::unix::fs::PermissionsExt::from_mode(0o644),
    )
    .unwrap();
    agent.wait_state("locked", "applied");
    assert_eq!(changes(&engine).len(), sent, "{:?}", changes(&engine));
    let (status, _, log) = agent.terminate();
    assert!(status.success(), "{log}");
}

#[test]
fn fifos_in_the_target_folder_do_not_block_restart_mode() {
    let source = Folder::new();
    let target = Folder::new();
    source.write("a.properties", TPCH);
    source.write("b.properties", TPCH);
    // One where a catalog file of the coordinator's folder is, one where the agent writes its
    // temp file before renaming it into place.
    mkfifo(&target.file("other.properties"));
    mkfifo(&target.file(".a.properties.tmp"));
    let mut child = agent("sync", source.path(), "http://127.0.0.1:9")
        .args(["--mode", "restart", "--target-dir"])
        .arg(target.path().display().to_string())
        .command()
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let status = wait_for(PATIENCE, "sync to finish", || child.try_wait().unwrap());
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert_eq!(status.code(), Some(0), "{stderr}");
    for name in ["a", "b"] {
        let text = std::fs::read_to_string(target.file(&format!("{name}.properties"))).unwrap();
        assert!(text.contains("connector.name=tpch"), "{text}");
    }
}

#[test]
fn a_closed_stderr_loses_log_lines_and_nothing_else() {
    let engine = Emulator::trino().dynamic().memory_store().start();
    let folder = Folder::new();
    folder.write("a.properties", TPCH);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = agent("run", folder.path(), &engine.url())
        .args(["--debounce", "50ms", "--listen"])
        .arg(format!("127.0.0.1:{port}"))
        .command()
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The reader goes away at once, as `… 2>&1 | head -1` would after its line.
    drop(child.stderr.take());
    wait_for(PATIENCE, "catalog a", || {
        (engine.user_catalogs() == ["a"]).then_some(())
    });
    // Every later log line fails to be written; the agent carries on.
    folder.write("b.properties", TPCH);
    folder.write("broken.properties", "no connector\n");
    wait_for(PATIENCE, "catalog b", || {
        (engine.user_catalogs() == ["a", "b"]).then_some(())
    });
    assert!(
        child.try_wait().unwrap().is_none(),
        "the agent is still running"
    );
    let health = http()
        .get(format!("http://127.0.0.1:{port}/healthz"))
        .send()
        .unwrap();
    assert_eq!(health.status(), 200);
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn a_ledger_that_is_not_what_it_should_be_is_set_aside_and_never_trusted() {
    let engine = Emulator::trino().dynamic().memory_store().start();
    engine.query("CREATE CATALOG keep USING tpch").unwrap();
    let entry = |key: &str, name: &str, connector: &str| {
        format!(
            r#"{{"version":1,"catalogs":{{"{key}":{{"fingerprint":"{zero}","spec":{{"name":"{name}","connector":"{connector}","properties":{{}}}},"applied_at":0}}}}}}"#,
            zero = "0".repeat(64)
        )
    };
    type Make = Box<dyn Fn(&Path)>;
    let cases: Vec<(&str, Make)> = vec![
        ("a FIFO", Box::new(|p: &Path| mkfifo(p))),
        (
            "a directory",
            Box::new(|p: &Path| std::fs::create_dir(p).unwrap()),
        ),
        (
            "binary",
            Box::new(|p: &Path| std::fs::write(p, [0xff, 0, 0x80, 7]).unwrap()),
        ),
        ("a path in a name", {
            let text = entry("../../x", "../../x", "tpch");
            Box::new(move |p: &Path| std::fs::write(p, &text).unwrap())
        }),
        ("SQL in a connector", {
            let text = entry("keep", "keep", "tpch WITH (a = 'b')");
            Box::new(move |p: &Path| std::fs::write(p, &text).unwrap())
        }),
        ("a key that is not its name", {
            let text = entry("keep", "other", "tpch");
            Box::new(move |p: &Path| std::fs::write(p, &text).unwrap())
        }),
        ("a torn journal", {
            Box::new(|p: &Path| {
                std::fs::write(p.with_file_name("ledger.journal"), "{\"op\":\"own\",\"na").unwrap()
            })
        }),
    ];
    for (what, make) in cases {
        let state = Folder::new();
        make(&state.file("ledger.json"));
        let folder = Folder::new();
        folder.write("a.properties", TPCH);
        let out = agent("sync", folder.path(), &engine.url())
            .arg("--state-dir")
            .arg(state.path().display().to_string())
            .output();
        // `keep` is live and not the agent's (a set-aside ledger owns nothing): it is left alone.
        assert_eq!(out.code(), 0, "{what}: {}", out.stderr);
        let set_aside = out.stderr.contains("ledger set aside");
        assert_eq!(
            set_aside,
            what != "a torn journal",
            "{what}: {}",
            out.stderr
        );
        assert!(
            engine.user_catalogs().contains(&"keep".to_string()),
            "{what}"
        );
        assert!(engine.user_catalogs().contains(&"a".to_string()), "{what}");
        engine.query("DROP CATALOG a").unwrap();
    }
    assert!(drops(&engine).iter().all(|d| d.contains("DROP CATALOG a")));
}

/// A small tmpfs mounted for one test, unmounted when dropped.
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    fn mount(bytes: usize) -> SmallDisk {
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={bytes},mode=0755"),
                "tmpfs",
            ])
            .arg(dir.path())
            .output()
            .expect("run mount");
        assert!(
            out.status.success(),
            "these tests run as root and mount a small tmpfs: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        SmallDisk { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Fills what is left with one file; its path.
    fn fill(&self) -> std::path::PathBuf {
        let filler = self.path().join("filler");
        let mut file = std::fs::File::create(&filler).unwrap();
        let block = vec![0u8; 4096];
        while file.write_all(&block).is_ok() {}
        filler
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

#[test]
fn a_state_dir_on_a_full_disk_or_read_only_is_reported_and_the_agent_carries_on() {
    let engine = Emulator::trino().dynamic().memory_store().start();
    let folder = common::Folder::open_to_all();
    folder.write("a.properties", TPCH);
    let disk = SmallDisk::mount(256 * 1024);
    let filler = disk.fill();
    let running = agent("run", folder.path(), &engine.url())
        .args(["--debounce", "50ms", "--state-dir"])
        .arg(disk.path().display().to_string())
        .start();
    running.wait_state("a", "applied");
    assert_eq!(
        engine.user_catalogs(),
        ["a"],
        "the catalog is applied all the same"
    );
    let (code, body) = wait_for(PATIENCE, "/readyz to say why", || {
        let (code, body) = running.get("/readyz");
        body.contains("ledger").then_some((code, body))
    });
    assert_eq!(code, 503, "{body}");
    assert!(body.contains("No space left on device"), "{body}");
    assert!(running.log_text().contains("cannot persist the ledger"));

    // Space again: saved at the next try, ready; a restarted agent owns `a`.
    std::fs::remove_file(filler).unwrap();
    wait_for(PATIENCE, "ready", || {
        (running.get("/readyz").0 == 200).then_some(())
    });
    drop(running);

    // Read-only: the agent as a user who may read the state folder but not write it.
    for entry in std::fs::read_dir(disk.path()).unwrap() {
        use std::os::unix::fs::PermissionsExt;
        let path = entry.unwrap().path();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    folder.write("b.properties", TPCH);
    let running = agent("run", folder.path(), &engine.url())
        .args(["--debounce", "50ms", "--state-dir"])
        .arg(disk.path().display().to_string())
        .run_as(common::NOBODY)
        .start();
    running.wait_state("b", "applied");
    let (code, body) = wait_for(PATIENCE, "/readyz to say why", || {
        let (code, body) = running.get("/readyz");
        body.contains("ledger").then_some((code, body))
    });
    assert_eq!(code, 503, "{body}");
    assert!(body.contains("Permission denied"), "{body}");
    drop(running);

    // Root again, with everything writable: `a` is known as the agent's own (saved while the
    // disk had room), `b` is not (its creation could not be saved) and is left alone.
    folder.remove("a.properties");
    folder.remove("b.properties");
    let out = agent("sync", folder.path(), &engine.url())
        .arg("--state-dir")
        .arg(disk.path().display().to_string())
        .output();
    assert_eq!(out.code(), 0, "{}", out.stderr);
    assert_eq!(
        engine.user_catalogs(),
        ["b"],
        "a dropped, b left alone: {}",
        out.stderr
    );
}

#[test]
fn a_ledger_that_cannot_be_saved_is_reported_and_the_agent_carries_on() {
    let state = Folder::new();
    // Every save fails because something is in the ledger's way: a folder where its temp file
    // goes, a link where its journal goes (a real full disk and a read-only folder: the test
    // above).
    std::fs::create_dir_all(state.file(".ledger.json.tmp").join("x")).unwrap();
    std::os::unix::fs::symlink("/nonexistent/journal", state.file("ledger.journal")).unwrap();
    let (engine, folder, running) = Scenario::emulated_trino()
        .with_file("a.properties", TPCH)
        .with_agent_args(["--debounce", "50ms", "--state-dir"])
        .with_agent_args([state.path().display().to_string()])
        .run();
    running.wait_state("a", "applied");
    assert_eq!(
        engine.user_catalogs(),
        ["a"],
        "the catalogs are still applied"
    );
    let (code, body) = wait_for(PATIENCE, "/readyz to say why", || {
        let (code, body) = running.get("/readyz");
        body.contains("ledger").then_some((code, body))
    });
    assert_eq!(code, 503, "{body}");
    assert!(body.contains("a restarted agent would not know"), "{body}");
    assert_eq!(running.status()["last_pass"]["result"], "error");
    assert!(running.log_text().contains("cannot persist the ledger"));

    // Writable again: saved at the next try, ready, and a restarted agent owns `a`.
    std::fs::remove_dir_all(state.file(".ledger.json.tmp")).unwrap();
    wait_for(PATIENCE, "ready", || {
        (running.get("/readyz").0 == 200).then_some(())
    });
    drop(running);
    folder.remove("a.properties");
    let out = agent("sync", folder.path(), &engine.url())
        .arg("--state-dir")
        .arg(state.path().display().to_string())
        .output();
    assert_eq!(out.code(), 0, "{}", out.stderr);
    assert!(
        engine.user_catalogs().is_empty(),
        "the restarted agent owned a and dropped it"
    );
}

#[test]
fn ownership_survives_the_agent_killed_in_the_middle_of_a_pass() {
    let state = Folder::new();
    let state_arg = state.path().display().to_string();
    let (engine, folder, first) = Scenario::emulated_trino()
        .with_statement_latency("5ms")
        .with_files((0..300).map(|i| (format!("c{i:03}.properties"), TPCH)))
        .with_agent_args(["--state-dir", &state_arg])
        .run();
    wait_for(PATIENCE, "a third of the catalogs", || {
        (engine.user_catalogs().len() >= 100).then_some(())
    });
    let pid = first.pid();
    Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .unwrap();
    drop(first);
    let created_before = engine.user_catalogs().len();
    assert!(created_before < 300, "killed in the middle of the pass");

    let second = agent("run", folder.path(), &engine.url())
        .args(["--state-dir", &state_arg])
        .start();
    wait_for(PATIENCE, "converged", || {
        (second.status()["last_pass"]["result"] == "converged").then_some(())
    });
    assert_eq!(engine.user_catalogs().len(), 300);
    let conflicts = second.catalogs_not_applied();
    assert!(
        conflicts.is_empty(),
        "every catalog is the agent's: {conflicts:?}"
    );
    // Each catalog was created once; at most the one in flight at the kill was sent again.
    let creates = changes(&engine)
        .into_iter()
        .filter(|c| c.starts_with("FINISHED CREATE CATALOG"))
        .count();
    assert_eq!(creates, 300, "{:?}", changes(&engine));
    // And the agent owns them: deleting the files drops them.
    for i in 0..300 {
        folder.remove(&format!("c{i:03}.properties"));
    }
    wait_for(PATIENCE, "all dropped", || {
        engine.user_catalogs().is_empty().then_some(())
    });
}

#[test]
fn a_delete_and_a_recreate_of_the_same_file_change_nothing() {
    let (engine, folder, agent) = Scenario::emulated_trino()
        .with_file("a.properties", TPCH)
        .run();
    agent.wait_state("a", "applied");
    for _ in 0..5 {
        // Away for longer than the debounce: each absence is seen by a pass.
        folder.remove("a.properties");
        std::thread::sleep(Duration::from_millis(400));
        folder.write("a.properties", TPCH);
        std::thread::sleep(Duration::from_millis(400));
    }
    assert!(agent.passes() >= 10, "each absence was seen by a pass");
    assert_eq!(
        changes(&engine),
        ["FINISHED CREATE CATALOG \"a\" USING tpch"],
        "a file that is back as it was costs no DROP and CREATE"
    );
}

#[test]
fn a_file_written_in_pieces_is_applied_whole() {
    let (engine, folder, agent) = Scenario::emulated_trino().run_past_the_first_pass();
    let mut file = std::fs::File::create(folder.file("a.properties")).unwrap();
    file.write_all(b"connector.name=tpch\n").unwrap();
    file.flush().unwrap();
    // Longer than the debounce (200ms): what is there so far is a valid, truncated definition.
    std::thread::sleep(Duration::from_millis(700));
    file.write_all(b"tpch.splits-per-node=7\n").unwrap();
    drop(file);
    agent.wait_state("a", "applied");
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        changes(&engine),
        ["FINISHED CREATE CATALOG \"a\" USING tpch WITH (\"tpch.splits-per-node\" = '7')"]
    );
}

#[test]
fn a_folder_replaced_by_a_new_one_is_watched_at_once_and_nothing_is_dropped_meanwhile() {
    let engine = Emulator::trino().dynamic().memory_store().start();
    let folder = Folder::new();
    let dir = folder.path().join("catalogs");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("a.properties"), TPCH).unwrap();
    // The default resync (60s) is far away: only the watch can see what follows.
    let agent = agent("run", &dir, &engine.url()).start();
    agent.wait_state("a", "applied");
    std::fs::remove_dir_all(&dir).unwrap();
    std::thread::sleep(Duration::from_millis(500));
    // As a deployment tool does it: a new folder, then its files.
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("a.properties"), TPCH).unwrap();
    std::fs::write(dir.join("b.properties"), TPCH).unwrap();
    agent.wait_state("b", "applied");
    std::fs::write(dir.join("c.properties"), TPCH).unwrap();
    agent.wait_state("c", "applied");
    assert_eq!(engine.user_catalogs(), ["a", "b", "c"]);
    assert!(drops(&engine).is_empty(), "{:?}", changes(&engine));
}

#[test]
fn idle_and_half_sent_connections_are_closed() {
    let engine = Emulator::trino().dynamic().memory_store().start();
    let folder = Folder::new();
    let agent = agent("run", folder.path(), &engine.url()).start();
    agent.wait_first_pass();
    let addr = agent.url("").trim_start_matches("http://").to_string();
    let mut idle = Vec::new();
    for i in 0..200 {
        let mut s = std::net::TcpStream::connect(&addr).unwrap();
        if i % 2 == 0 {
            s.write_all(b"GET /status HTTP/1.1\r\nHo").unwrap();
        }
        s.set_read_timeout(Some(PATIENCE)).unwrap();
        idle.push(s);
    }
    let started = Instant::now();
    for mut s in idle {
        let mut buf = [0u8; 256];
        // Closed by the agent: end of stream (or a reset), not our read timeout.
        match s.read(&mut buf) {
            Ok(n) => assert!(n == 0 || buf.starts_with(b"HTTP/1.1 408"), "{n}"),
            Err(e) => assert_ne!(e.kind(), std::io::ErrorKind::WouldBlock, "not closed"),
        }
    }
    assert!(started.elapsed() < PATIENCE);
    assert_eq!(agent.get("/healthz").0, 200);
}
