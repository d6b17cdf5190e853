//! The quickstart as a new user runs it under `cargo nextest` — a process per spec, in
//! parallel — on a machine where no cluster is running: every process finds no cluster, the
//! first one starts it, the others wait for it and reuse it, and every spec passes.
//!
//! The cluster here lives in a temporary state directory (so the cluster the test command
//! started for everything else is not touched), with no `KUBECONFIG`; it is stopped afterwards.
//! nextest builds with `--workspace`, as the test command does, into the same target directory
//! (cargo releases its lock once the tests run), so it finds everything built already.

use kube_e2e_cluster::LocalCluster;
use kube_e2e_cluster::process::ProcessState;
use std::path::{Path, PathBuf};
use std::process::Command;

fn target_dir() -> PathBuf {
    // tests run from target/<profile>/deps/<name>-<hash>
    let exe = std::env::current_exe().expect("test executable path");
    exe.ancestors().nth(3).expect("target dir").to_path_buf()
}

/// Stops the temporary cluster however the test ends.
struct Down(PathBuf);

impl Drop for Down {
    fn drop(&mut self) {
        if let Err(e) = LocalCluster::down(&self.0) {
            eprintln!("stopping the cluster in {}: {e}", self.0.display());
        }
    }
}

#[test]
fn quickstart_under_nextest_starts_one_cluster_for_all_its_processes() {
    let nextest = kube_e2e_runner::exec::nextest::cargo_nextest().expect("cargo-nextest");
    let state = tempfile::tempdir().expect("temp dir");
    let state_dir = state.path().join("cluster");
    let _down = Down(state_dir.clone());
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let out = Command::new("cargo")
        .env("PATH", kube_e2e_runner::exec::nextest::path_with(&nextest))
        .env("CARGO_TARGET_DIR", target_dir())
        .env("KUBE_E2E_STATE_DIR", &state_dir)
        .env_remove("KUBECONFIG")
        .env_remove("KUBE_E2E_FRAMEWORK_KUBECONFIG")
        .env_remove("KUBE_E2E_FRAMEWORK_PROVIDER")
        .args([
            "nextest",
            "run",
            "--workspace",
            "-E",
            "binary_id(kube-e2e-examples::quickstart)",
            "--no-fail-fast",
            "--test-threads",
            "4",
        ])
        .current_dir(workspace)
        .output()
        .expect("cargo nextest runs");
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(0), "{all}");
    let summary = all
        .lines()
        .find(|l| l.contains("tests run:"))
        .unwrap_or_default();
    assert!(
        summary.contains("passed") && !summary.contains("failed"),
        "every spec passes in its own process: {all}"
    );
    let cluster = LocalCluster::load(&state_dir)
        .expect("cluster.json readable")
        .expect("the processes started a cluster in the temporary state directory");
    let etcds: Vec<_> = cluster
        .state()
        .components
        .iter()
        .filter(|c| c.spec.name == "etcd")
        .collect();
    assert_eq!(
        etcds.len(),
        1,
        "one cluster was started, not one per process"
    );
    for c in cluster.status() {
        assert!(
            matches!(c.state, ProcessState::Running(_)),
            "{} is not running after the run: {:?}\n{}",
            c.name,
            c.state,
            c.log_tail.unwrap_or_default()
        );
    }
}
