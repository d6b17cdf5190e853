//! SIGTERM while `up` builds the cluster's binaries from an empty cache: the command ends at
//! once and stops the build it started, instead of leaving `go build` running for minutes.
//! Needs `go` (the build really starts, in a cache directory of its own).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// PIDs of processes whose working directory is under `dir`.
fn processes_working_under(dir: &Path) -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            std::fs::read_link(format!("/proc/{pid}/cwd")).is_ok_and(|cwd| cwd.starts_with(dir))
        })
        .collect()
}

#[test]
fn sigterm_during_a_cold_build_ends_up_and_its_build_at_once() {
    let base = tempfile::tempdir().unwrap();
    let cache = base.path().join("cache");
    let state_dir = base.path().join("state");
    let mut child = Command::new(env!("CARGO_BIN_EXE_kube-e2e-cluster"))
        .arg("--state-dir")
        .arg(&state_dir)
        .args(["up", "--nodes", "simulated"])
        .env("KUBE_E2E_CACHE_DIR", &cache)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kube-e2e-cluster starts");
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    let mut line = String::new();
    while !seen.contains("building ") {
        line.clear();
        let n = stderr.read_line(&mut line).unwrap();
        assert!(n > 0, "up ended before building anything:\n{seen}");
        seen.push_str(&line);
    }
    // Let `go build` get going (module downloads, compilers).
    let building = Instant::now();
    while processes_working_under(&cache).is_empty() && building.elapsed() < Duration::from_secs(20)
    {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        !processes_working_under(&cache).is_empty(),
        "no build process works in the cache:\n{seen}"
    );
    std::thread::sleep(Duration::from_secs(1));

    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    let signalled = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            signalled.elapsed() < Duration::from_secs(15),
            "up still runs 15 s after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut rest = String::new();
    let _ = std::io::Read::read_to_string(&mut stderr, &mut rest);
    seen.push_str(&rest);
    assert!(!status.success(), "an interrupted up does not succeed");
    assert!(
        seen.contains("terminated while starting the cluster"),
        "the error says what happened:\n{seen}"
    );
    let stopped = Instant::now();
    while !processes_working_under(&cache).is_empty() && stopped.elapsed() < Duration::from_secs(15)
    {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        processes_working_under(&cache),
        Vec::<i32>::new(),
        "build processes outlived the interrupted up by 15 s"
    );
}
