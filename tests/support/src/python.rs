//! A Python with the third-party Trino and Presto clients, for conformance tests.

use std::path::PathBuf;
use std::process::Command;

/// `$TEST_PYTHON` (scripts/test.sh creates `target/python-venv` and exports it); when unset, the
/// same venv is created here from tests/emulator/python-requirements.txt and
/// tests/api-requirements.txt (once, under a lock).
pub fn python_with_clients() -> PathBuf {
    if let Some(python) = std::env::var_os("TEST_PYTHON") {
        return PathBuf::from(python);
    }
    let venv = crate::target_dir().join("python-venv");
    let python = venv.join("bin/python");
    let lock_path = crate::target_dir().join("python-venv.lock");
    let lock = std::fs::File::create(&lock_path)
        .unwrap_or_else(|e| panic!("{}: {e}", lock_path.display()));
    lock.lock().expect("lock the venv");
    let ready = || {
        Command::new(&python)
            .args(["-c", "import trino, prestodb, schemathesis"])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if !ready() {
        let status = Command::new("python3")
            .arg("-m")
            .arg("venv")
            .arg(&venv)
            .status()
            .expect("python3 -m venv");
        assert!(status.success(), "python3 -m venv failed");
        let root = crate::workspace_root();
        let status = Command::new(venv.join("bin/pip"))
            .args(["install", "-q", "--disable-pip-version-check", "-r"])
            .arg(root.join("tests/emulator/python-requirements.txt"))
            .arg("-r")
            .arg(root.join("tests/api-requirements.txt"))
            .status()
            .expect("pip install");
        assert!(
            status.success(),
            "pip install of the test requirements failed"
        );
    }
    let _ = lock.unlock();
    python
}

/// The same venv with matplotlib added (benches/plot-requirements.txt), for the benchmark plots.
pub fn python_with_plotting() -> PathBuf {
    let python = python_with_clients();
    let ready = Command::new(&python)
        .args(["-c", "import matplotlib"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ready {
        let pip = python.with_file_name("pip");
        let status = Command::new(pip)
            .args(["install", "-q", "--disable-pip-version-check", "-r"])
            .arg(crate::workspace_root().join("benches/plot-requirements.txt"))
            .status()
            .expect("pip install");
        assert!(status.success(), "pip install of matplotlib failed");
    }
    python
}
