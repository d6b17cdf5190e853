//! The state directory is all that `up` and `down` ever touch: a directory without the
//! ownership marker — an unrelated one, `.`, `$HOME` — is refused as it is, and no process
//! whose command line mentions it is signalled. Concurrent `up`s on one directory start one
//! cluster and share it.

mod support;

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};

use kube_e2e_cluster::process::ProcessState;
use kube_e2e_cluster::{AssetCache, LocalCluster};
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use support::{cli, processes_mentioning, text};

const MARKER: &str = "kube-e2e-state.json";

/// A directory that is not a state directory: files of someone else's, and a process that
/// works in it and names it on its command line (what the old sweep would have killed).
struct Bystander {
    dir: tempfile::TempDir,
    process: Child,
    files: BTreeMap<PathBuf, Vec<u8>>,
}

impl Bystander {
    fn new() -> Bystander {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("notes.txt"), "do not delete").unwrap();
        fs::write(dir.path().join(".profile"), "export A=1\n").unwrap();
        fs::create_dir_all(dir.path().join("work/src")).unwrap();
        fs::write(dir.path().join("work/src/main.rs"), "fn main() {}\n").unwrap();
        let process = Command::new("sh")
            .arg("-c")
            .arg("sleep 1000; true")
            .arg(dir.path())
            .current_dir(dir.path())
            .process_group(0)
            .spawn()
            .unwrap();
        let files = snapshot(dir.path());
        let bystander = Bystander {
            dir,
            process,
            files,
        };
        // Until the child has exec'd `sh`, its command line is still this test's.
        let needle = bystander.path().display().to_string();
        let pid = bystander.process.id() as i32;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while !processes_mentioning(&needle).contains(&pid) {
            assert!(
                std::time::Instant::now() < deadline,
                "the bystander process names the directory on its command line"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        bystander
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `output` is a refusal naming the marker, and the directory and process are untouched.
    fn assert_untouched_by(&mut self, what: &str, output: &Output) {
        let report = text(output);
        assert_eq!(
            output.status.code(),
            Some(2),
            "{what} must fail on a directory without the marker: {report}"
        );
        assert!(
            report.contains(&self.path().join(MARKER).display().to_string()),
            "{what}: the error names the marker file it looked for: {report}"
        );
        assert_eq!(
            snapshot(self.path()),
            self.files,
            "{what} changed the directory's files: {report}"
        );
        assert!(
            self.process.try_wait().unwrap().is_none(),
            "{what} killed a process that merely mentions the directory: {report}"
        );
    }
}

impl Drop for Bystander {
    fn drop(&mut self) {
        let _ = killpg(Pid::from_raw(self.process.id() as i32), Signal::SIGKILL);
        let _ = self.process.wait();
    }
}

/// Every file under `dir` with its contents.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(next) = pending.pop() {
        for entry in fs::read_dir(&next).unwrap().flatten() {
            let path = entry.path();
            if entry.file_type().unwrap().is_dir() {
                files.insert(path.clone(), Vec::new());
                pending.push(path);
            } else {
                files.insert(path.clone(), fs::read(&path).unwrap());
            }
        }
    }
    files
}

/// The command with no state or cache directory chosen by the caller's environment.
fn command() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_kube-e2e-cluster"));
    command
        .env_remove("KUBE_E2E_STATE_DIR")
        .env_remove("XDG_STATE_HOME");
    command
}

const UP: &[&str] = &["up", "--simulated-nodes", "1", "--timeout", "60"];

#[test]
fn an_unrelated_directory_is_refused_untouched() {
    let mut bystander = Bystander::new();
    let down = cli(bystander.path(), &["down"]);
    bystander.assert_untouched_by("down", &down);
    assert!(
        text(&down).contains("nothing was signalled, unmounted or deleted"),
        "{}",
        text(&down)
    );
    let up = cli(bystander.path(), UP);
    bystander.assert_untouched_by("up", &up);
    assert!(text(&up).contains("not empty"), "{}", text(&up));
}

#[test]
fn the_current_directory_is_refused_untouched() {
    let mut bystander = Bystander::new();
    for args in [&["down"][..], UP] {
        let output = command()
            .current_dir(bystander.path())
            .arg("--state-dir")
            .arg(".")
            .args(args)
            .output()
            .unwrap();
        bystander.assert_untouched_by(&format!("`--state-dir . {}`", args[0]), &output);
    }
}

#[test]
fn the_home_directory_is_refused_untouched() {
    let mut bystander = Bystander::new();
    // The real cache, so that a wrongly accepted `up` would not build into the fake home.
    let cache = AssetCache::at_default_location();
    let cache_base = cache.root().parent().unwrap();
    for args in [&["down"][..], UP] {
        let output = command()
            .env("HOME", bystander.path())
            .env("KUBE_E2E_STATE_DIR", bystander.path())
            .env("KUBE_E2E_CACHE_DIR", cache_base)
            .args(args)
            .output()
            .unwrap();
        bystander.assert_untouched_by(&format!("`KUBE_E2E_STATE_DIR=$HOME {}`", args[0]), &output);
    }
}

#[test]
fn concurrent_ups_start_one_cluster_and_share_it() {
    let base = tempfile::tempdir().unwrap();
    let state_dir = base.path().join("shared-cluster");
    let ups: Vec<_> = (0..2)
        .map(|_| {
            let state_dir = state_dir.clone();
            std::thread::spawn(move || cli(&state_dir, UP))
        })
        .collect();
    let outputs: Vec<Output> = ups.into_iter().map(|t| t.join().unwrap()).collect();
    for output in &outputs {
        assert!(
            output.status.success(),
            "both `up`s succeed: {}",
            text(output)
        );
    }
    let reports: Vec<String> = outputs.iter().map(text).collect();
    let waited = reports
        .iter()
        .filter(|r| r.contains("waiting for another kube-e2e process to start the cluster in"))
        .count();
    let reused = reports
        .iter()
        .filter(|r| r.contains("already running"))
        .count();
    assert_eq!(
        (waited, reused),
        (1, 1),
        "one `up` starts the cluster, the other waits and reuses it: {reports:#?}"
    );
    assert!(
        state_dir.join(MARKER).is_file(),
        "the new state directory carries the marker"
    );

    let cluster = LocalCluster::load(&state_dir)
        .unwrap()
        .expect("state saved");
    let components = &cluster.state().components;
    let etcds = components.iter().filter(|c| c.spec.name == "etcd").count();
    assert_eq!(etcds, 1, "one etcd is recorded: {components:#?}");
    for component in components {
        assert_eq!(
            component.state(),
            ProcessState::Running(component.pid),
            "{} runs",
            component.spec.name
        );
    }
    let mut recorded: Vec<i32> = components.iter().map(|c| c.pid).collect();
    recorded.sort_unstable();
    assert_eq!(
        processes_mentioning(&state_dir.display().to_string()),
        recorded,
        "exactly one set of components runs from the state directory"
    );

    let down = cli(&state_dir, &["down"]);
    assert!(down.status.success(), "{}", text(&down));
    assert!(!state_dir.exists(), "`down` removes the state directory");
    assert_eq!(
        processes_mentioning(&state_dir.display().to_string()),
        Vec::<i32>::new(),
        "processes of the cluster survived `down`"
    );
}
