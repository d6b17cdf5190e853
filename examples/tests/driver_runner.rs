//! The `kube-e2e-storage` binary as a CSI team uses it in place of upstream's `e2e.test
//! -storage.testdriver=FILE`: the driver is deployed in the cluster beforehand (here the
//! csi-hostpath driver, as the `external-driver` target deploys it), and the binary is given
//! the driver's upstream-format file with upstream's own flag spellings.
//!
//! - its `--dry-run` registers exactly the specs the `external-driver` target registers for the
//!   same file;
//! - a focused real run (volumes, provisioning with and without a snapshot source) passes on
//!   the local cluster and writes its reports.
//!
//! The whole matrix through the binary is a documented command (docs/storage.md).

mod support;

use std::process::Command;
use support::{executable, workspace};

const DRIVER_FILE: &str = "testing-manifests/storage-csi/external/hostpath.yaml";

fn spec_names(output: &[u8]) -> Vec<String> {
    let mut names: Vec<String> = String::from_utf8_lossy(output)
        .lines()
        .filter(|l| !l.starts_with("test result:"))
        .filter_map(|l| l.strip_prefix("test "))
        .filter_map(|l| l.split(" ... ").next())
        .map(|l| l.trim_end().to_string())
        .collect();
    names.sort();
    names
}

#[test]
fn the_binary_runs_a_driver_file_as_upstreams_e2e_test_would() {
    let binary = executable("bin", "kube-e2e-storage");
    let example = executable("test", "external-driver");

    // Same registrations as the example target for the same file.
    let ours = Command::new(&binary)
        .args([
            &format!("-storage.testdriver={DRIVER_FILE}"),
            "-ginkgo.dry-run",
        ])
        .current_dir(workspace())
        .output()
        .unwrap();
    assert_eq!(
        ours.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ours.stderr)
    );
    let theirs = Command::new(&example)
        .args(["--storage.testdriver", DRIVER_FILE, "--dry-run"])
        .current_dir(workspace())
        .output()
        .unwrap();
    assert_eq!(theirs.status.code(), Some(0));
    let (ours, theirs) = (spec_names(&ours.stdout), spec_names(&theirs.stdout));
    assert!(
        ours.len() > 40,
        "the binary registers the matrix: {ours:#?}"
    );
    assert_eq!(ours, theirs);

    // The team's driver is deployed before its tests run; here it is csi-hostpath.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime
        .block_on(kube_e2e_storage::hostpath::deploy_shared(
            &kube_e2e::Params::default(),
            kube_e2e_storage::hostpath::DEFAULT_DRIVER,
        ))
        .expect("the shared csi-hostpath driver deploys");

    let reports = tempfile::tempdir().unwrap();
    let run = Command::new(&binary)
        .args([
            &format!("-storage.testdriver={DRIVER_FILE}"),
            "-ginkgo.focus=volumes should store data|provisioning should provision storage with (defaults|snapshot data source)",
            &format!("-report-dir={}", reports.path().display()),
            "--test-threads=3",
        ])
        .current_dir(workspace())
        .output()
        .unwrap();
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    assert_eq!(run.status.code(), Some(0), "{all}");
    let summary = all
        .lines()
        .find(|l| l.starts_with("test result:"))
        .unwrap_or_default();
    let passed: usize = summary
        .split(';')
        .find_map(|p| {
            p.trim()
                .strip_prefix("test result: ok. ")
                .and_then(|n| n.split(' ').next())
        })
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(passed >= 4, "the focused specs pass: {summary}\n{all}");
    assert!(summary.contains(" 0 failed"), "{summary}");
    assert!(
        reports.path().join("junit_01.xml").exists() && reports.path().join("report.json").exists(),
        "reports are written to -report-dir"
    );
}
