//! Shared by the cluster tests: the local cluster every API test talks to, and the
//! `kube-e2e-cluster` command.

// Each test binary uses only some of these helpers.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use kube_e2e_cluster::{ClusterOptions, LocalCluster, NodeMode, client_from_kubeconfig};

pub mod pods;

/// The administrator kubeconfig of the shared local cluster, started (or reused) once per
/// test binary. `kube-e2e-cluster run` points `KUBE_E2E_STATE_DIR` at the cluster it started.
pub fn kubeconfig() -> PathBuf {
    static KUBECONFIG: OnceLock<PathBuf> = OnceLock::new();
    KUBECONFIG
        .get_or_init(|| {
            // Tests each have their own runtime; starting happens once, on a runtime of its own.
            std::thread::spawn(|| {
                let runtime = tokio::runtime::Runtime::new().unwrap();
                runtime.block_on(async {
                    // The repository's test command starts a real node beside two simulated
                    // ones; started from here, the cluster gets the same shape.
                    let mut options = ClusterOptions::new().simulated_nodes(2);
                    options.nodes = NodeMode::Real;
                    let (cluster, _) = LocalCluster::up(&options, &mut |l| eprintln!("{l}"))
                        .await
                        .unwrap_or_else(|e| panic!("the local cluster did not start: {e}"));
                    cluster.kubeconfig_path()
                })
            })
            .join()
            .expect("starting the cluster panicked")
        })
        .clone()
}

/// A client for the shared cluster, on the calling test's runtime.
pub async fn client() -> kube::Client {
    client_from_kubeconfig(&kubeconfig()).await.unwrap()
}

/// A namespace name unique to this test run.
pub fn unique(base: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("{base}-{:x}-{nanos:x}", std::process::id())
}

/// Poll `probe` every 100 ms until it returns `Some`, failing after `seconds` with `what`.
pub async fn eventually<T, F, Fut>(what: &str, seconds: u64, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<Option<T>, String>>,
{
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(seconds);
    loop {
        let last = match probe().await {
            Ok(Some(value)) => return value,
            Ok(None) => "condition not met".to_string(),
            Err(e) => e,
        };
        assert!(
            std::time::Instant::now() < deadline,
            "timed out after {seconds}s waiting for {what}; last: {last}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// Run `kube-e2e-cluster --state-dir STATE_DIR ARGS…`.
pub fn cli(state_dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kube-e2e-cluster"))
        .arg("--state-dir")
        .arg(state_dir)
        .args(args)
        .output()
        .expect("kube-e2e-cluster runs")
}

/// Its stdout and stderr together.
pub fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// PIDs of live processes (other than this test and its ancestors) whose command line mentions
/// `needle`: how a test checks that nothing of a cluster survived. The library never looks for
/// processes this way — an unrelated process can mention any path.
pub fn processes_mentioning(needle: &str) -> Vec<i32> {
    let spared = self_and_ancestors();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut pids = Vec::new();
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<i32>().ok())
        else {
            continue;
        };
        if spared.contains(&pid) {
            continue;
        }
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        let zombie = std::fs::read_to_string(entry.path().join("stat"))
            .ok()
            .and_then(|s| {
                s.rsplit_once(')')
                    .map(|(_, r)| r.trim_start().starts_with('Z'))
            })
            .unwrap_or(true);
        if !zombie && cmdline.contains(needle) {
            pids.push(pid);
        }
    }
    pids.sort_unstable();
    pids
}

/// This process and its ancestors (`cargo test` mentions the test binary's path).
fn self_and_ancestors() -> Vec<i32> {
    let mut pids = vec![std::process::id() as i32];
    let mut pid = pids[0];
    while pid > 1 {
        let parent = std::fs::read_to_string(format!("/proc/{pid}/status"))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("PPid:"))
                    .and_then(|p| p.trim().parse::<i32>().ok())
            })
            .unwrap_or(0);
        if parent <= 0 || pids.contains(&parent) {
            break;
        }
        pids.push(parent);
        pid = parent;
    }
    pids
}
