//! Checks the conformance suite from the outside, as a CNCF submitter or Sonobuoy would: the
//! `--list-conformance` document, the report files (JUnit parsed back), the modes, the Sonobuoy
//! contract, and the two-shard in-cluster run covering each selected spec exactly once.
//!
//! Needs the cluster the suite runs on (`KUBECONFIG`, else the local one); the in-cluster test
//! needs the local cluster's real node (`--nodes real`). The suite binary is the `conformance`
//! test target next to this one (or `KUBE_E2E_CONFORMANCE_BIN`).

use quick_junit::{Report, TestCaseStatus};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Mutex;

/// The runs share one cluster and two cores: one at a time.
static CLUSTER: Mutex<()> = Mutex::new(());

#[derive(serde::Deserialize)]
struct Entry {
    testname: String,
    codename: String,
    description: String,
    release: String,
    file: String,
}

fn suite_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("KUBE_E2E_CONFORMANCE_BIN") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().expect("current exe");
    let deps = exe.parent().expect("deps directory");
    let mut found: Vec<(std::time::SystemTime, PathBuf)> = std::fs::read_dir(deps)
        .expect("reading the deps directory")
        .filter_map(Result::ok)
        .filter(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.strip_prefix("conformance-")
                .is_some_and(|h| h.len() == 16 && h.chars().all(|c| c.is_ascii_hexdigit()))
        })
        .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
        .collect();
    found.sort();
    found.pop().map(|(_, p)| p).expect(
        "the conformance test binary; build it with `cargo test -p kube-e2e-examples --no-run`",
    )
}

fn suite(args: &[&str]) -> Output {
    Command::new(suite_binary())
        .args(args)
        .output()
        .expect("running the conformance suite")
}

fn text(out: &Output) -> String {
    format!(
        "status {}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn junit_cases(dir: &Path) -> Vec<(String, TestCaseStatus)> {
    let xml = std::fs::read_to_string(dir.join("junit_01.xml")).expect("junit_01.xml written");
    let report = Report::deserialize_from_str(&xml).expect("junit_01.xml parses");
    report
        .test_suites
        .into_iter()
        .flat_map(|s| s.test_cases)
        .map(|c| (c.name.as_str().to_string(), c.status))
        .collect()
}

fn listed(args: &[&str]) -> BTreeSet<String> {
    let mut a = vec!["--list"];
    a.extend_from_slice(args);
    let out = suite(&a);
    assert!(out.status.success(), "{}", text(&out));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.strip_suffix(": test"))
        .map(str::to_string)
        .collect()
}

fn conformance_list() -> Vec<Entry> {
    let out = suite(&["--list-conformance"]);
    assert!(out.status.success(), "{}", text(&out));
    serde_saphyr::from_str(&String::from_utf8_lossy(&out.stdout)).expect("the list is YAML")
}

#[test]
fn list_conformance_has_forty_specs_with_metadata() {
    let entries = conformance_list();
    assert!(
        entries.len() >= 40,
        "only {} conformance specs",
        entries.len()
    );
    for e in &entries {
        assert!(e.codename.ends_with("[Conformance]"), "{}", e.codename);
        assert!(e.codename.starts_with("[sig-"), "{}", e.codename);
        assert!(
            !e.testname.is_empty() && e.description.contains("MUST"),
            "{}",
            e.codename
        );
        assert!(e.release.starts_with('v'), "{}", e.release);
        assert!(
            e.file.starts_with("examples/tests/conformance/"),
            "{}",
            e.file
        );
    }
    let names: BTreeSet<&str> = entries.iter().map(|e| e.testname.as_str()).collect();
    assert_eq!(names.len(), entries.len(), "testnames must be unique");
}

#[test]
fn conformance_run_writes_the_submission_files() {
    let _one = CLUSTER.lock().unwrap_or_else(|p| p.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().to_str().unwrap();
    let out = suite(&["--label-filter", "Conformance", "--report-dir", report]);
    assert!(out.status.success(), "{}", text(&out));
    let cases = junit_cases(dir.path());
    let expected: BTreeSet<String> = conformance_list().into_iter().map(|e| e.codename).collect();
    let got: BTreeSet<String> = cases.iter().map(|(n, _)| n.clone()).collect();
    assert_eq!(
        got, expected,
        "junit_01.xml must hold every conformance spec"
    );
    assert_eq!(cases.len(), expected.len(), "each spec once");
    for (name, status) in &cases {
        assert!(
            matches!(status, TestCaseStatus::Success { .. }),
            "{name}: {status:?}"
        );
    }
    let log = std::fs::read_to_string(dir.path().join("e2e.log")).expect("e2e.log written");
    for name in &expected {
        assert!(
            log.contains(&format!("[PASSED] {name}")),
            "e2e.log lacks {name}"
        );
    }
    assert!(
        log.contains(&format!("Ran {} specs", expected.len())),
        "{log}"
    );
}

#[test]
fn quick_mode_runs_one_spec_and_honours_the_sonobuoy_contract() {
    let _one = CLUSTER.lock().unwrap_or_else(|p| p.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let results = dir.path().join("results");
    let out = Command::new(suite_binary())
        .args([
            "--mode",
            "quick",
            "--sonobuoy-results-dir",
            results.to_str().unwrap(),
        ])
        .env("SONOBUOY", "true")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let cases = junit_cases(&results);
    assert_eq!(cases.len(), 1, "{cases:?}");
    assert!(
        cases[0].0.contains("Pods should be submitted and removed"),
        "{cases:?}"
    );
    let done = std::fs::read_to_string(results.join("done")).expect("done file written");
    assert_eq!(Path::new(done.trim()), results.join("results.tar.gz"));
    let tar = std::process::Command::new("tar")
        .args(["-tzf", done.trim()])
        .output()
        .unwrap();
    let listing = String::from_utf8_lossy(&tar.stdout);
    assert!(
        listing.contains("junit_01.xml") && listing.contains("e2e.log"),
        "{listing}"
    );
    let certified = listed(&["--mode", "certified-conformance"]);
    let non_disruptive = listed(&["--mode", "non-disruptive-conformance"]);
    assert!(certified.len() >= 40 && non_disruptive.is_subset(&certified));
}

#[test]
fn two_shards_in_the_cluster_cover_each_spec_once() {
    let _one = CLUSTER.lock().unwrap_or_else(|p| p.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let filter = [
        "--label-filter",
        "Conformance",
        "--focus",
        r"ConfigMap|Secrets|Lease|\] Pods ",
    ];
    let expected = listed(&filter);
    assert!(expected.len() >= 10, "{expected:?}");
    let mut args = vec![
        "--in-cluster-shards",
        "2",
        "--report-dir",
        dir.path().to_str().unwrap(),
    ];
    args.extend_from_slice(&filter);
    let out = suite(&args);
    assert!(out.status.success(), "{}", text(&out));
    let cases = junit_cases(dir.path());
    let names: Vec<String> = cases.iter().map(|(n, _)| n.clone()).collect();
    let unique: BTreeSet<String> = names.iter().cloned().collect();
    assert_eq!(unique.len(), names.len(), "a spec ran twice: {names:?}");
    assert_eq!(unique, expected, "the shards must cover the selection");
    for (name, status) in &cases {
        assert!(
            matches!(status, TestCaseStatus::Success { .. }),
            "{name}: {status:?}"
        );
    }
    for shard in ["shard-1", "shard-2"] {
        let shard_cases = junit_cases(&dir.path().join(shard));
        assert!(!shard_cases.is_empty(), "{shard} ran nothing");
    }
    let log = std::fs::read_to_string(dir.path().join("e2e.log")).unwrap();
    assert!(
        log.contains("==> shard 1/2 <==") && log.contains("==> shard 2/2 <=="),
        "{log}"
    );
}

/// On a cluster whose nodes are all simulated by kwok (pods never run a container), the pod
/// specs skip at once, each with the reason, instead of waiting out their timeouts; the API
/// specs still run. The cluster is one of the test's own.
#[test]
fn pod_specs_skip_at_once_on_a_cluster_of_simulated_nodes() {
    let _one = CLUSTER.lock().unwrap_or_else(|p| p.into_inner());
    let base = tempfile::tempdir().unwrap();
    let state_dir = base.path().join("kwok");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let options = kube_e2e_cluster::ClusterOptions::new()
        .state_dir(&state_dir)
        .simulated_nodes(2);
    let (cluster, _) = runtime
        .block_on(kube_e2e_cluster::LocalCluster::up(&options, &mut |l| {
            eprintln!("{l}")
        }))
        .expect("a simulated-only cluster starts");
    let dir = tempfile::tempdir().unwrap();
    let started = std::time::Instant::now();
    let out = Command::new(suite_binary())
        .args([
            "--focus",
            r"\[sig-node\] (Pods|Containers) ",
            "--report-dir",
            dir.path().to_str().unwrap(),
        ])
        .env("KUBECONFIG", cluster.kubeconfig_path())
        .output()
        .expect("running the conformance suite");
    let took = started.elapsed();
    let down = kube_e2e_cluster::LocalCluster::down(&state_dir);
    assert!(out.status.success(), "{}", text(&out));
    down.expect("the simulated-only cluster stops");
    let cases = junit_cases(dir.path());
    assert!(cases.len() >= 5, "{cases:?}");
    for (name, status) in &cases {
        match status {
            TestCaseStatus::Skipped { message, .. } => {
                let message = message.as_deref().unwrap_or_default();
                assert!(
                    message.contains("needs at least 1 node(s) that run containers")
                        && message.contains("2 simulated by kwok"),
                    "{name}: {message}"
                );
            }
            other => panic!("{name} should skip, got {other:?}"),
        }
    }
    assert!(
        took < std::time::Duration::from_secs(60),
        "skipping took {took:?}: the specs waited instead of skipping at once"
    );
}
