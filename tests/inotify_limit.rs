//! Alone in its test binary, because it uses up the machine's inotify instances for its user for a
//! few seconds: the agent cannot watch the folder with inotify, says so and why, and watches it by
//! polling instead — a new file is still applied.

mod common;

use common::{Folder, agent};
use test_support::emulator::Emulator;

/// Opens inotify instances until the kernel refuses one; they are closed on drop.
struct Exhausted(Vec<i32>);

impl Exhausted {
    fn now() -> Self {
        let mut fds = Vec::new();
        loop {
            // SAFETY: plain system call; the descriptors are closed in Drop.
            let fd = unsafe { libc::inotify_init1(libc::IN_CLOEXEC) };
            if fd < 0 {
                let errno = std::io::Error::last_os_error().raw_os_error();
                assert_eq!(errno, Some(libc::EMFILE), "the limit, not another error");
                break;
            }
            fds.push(fd);
            assert!(fds.len() < 100_000, "no inotify limit on this machine");
        }
        Exhausted(fds)
    }
}

impl Drop for Exhausted {
    fn drop(&mut self) {
        for fd in &self.0 {
            // SAFETY: our own descriptors, closed once.
            unsafe { libc::close(*fd) };
        }
    }
}

#[test]
fn without_inotify_the_folder_is_polled_and_the_agent_says_so() {
    let engine = Emulator::trino().dynamic().memory_store().start();
    let folder = Folder::new();
    folder.write("a.properties", "connector.name=tpch\n");
    let exhausted = Exhausted::now();
    let agent = agent("run", folder.path(), &engine.url()).start();
    agent.wait_state("a", "applied");
    drop(exhausted);
    let log = agent.log_text();
    assert!(
        log.contains("polling it every second instead") && log.contains("max_user_instances"),
        "{log}"
    );
    folder.write("b.properties", "connector.name=tpch\n");
    agent.wait_state("b", "applied");
}
