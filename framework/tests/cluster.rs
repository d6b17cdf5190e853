//! The framework on the real local cluster. Each test runs the `cluster-fixture` example as a
//! child process with its own run id, then checks the cluster the way a user would: which
//! namespaces and objects carry the run's label, what the reports and dumps contain.
//!
//! Needs a cluster: `KUBECONFIG` (set by `kube-e2e-cluster run`), else the local provider starts
//! or reuses the local cluster.

mod support;

use k8s_openapi::api::core::v1::{Namespace, Node};
use k8s_openapi::api::storage::v1::StorageClass;
use kube::api::{Api, ListParams};
use kube_e2e::session::{Session, Settings, random_run_id};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};
use support::{fixture, labelled, leftovers, text};

async fn client() -> kube::Client {
    let settings = Settings::from_params(&Default::default()).expect("framework settings");
    Session::connect(settings)
        .await
        .expect("a cluster: KUBECONFIG or the local cluster")
        .client()
        .clone()
}

fn command(run_id: &str, args: &[&str]) -> Command {
    let mut c = Command::new(fixture());
    c.args(args)
        .args(["--framework.run-id", run_id])
        .env("RUST_BACKTRACE", "0")
        .env_remove("KUBE_E2E_FOCUS")
        .env_remove("KUBE_E2E_LABEL_FILTER");
    c
}

fn run(run_id: &str, args: &[&str]) -> Output {
    command(run_id, args).output().expect("fixture runs")
}

/// [`leftovers`] once the run's deletions have had time to finish: a run ends when its
/// deletions are issued, and an empty namespace takes seconds to finalize.
async fn leftovers_after_deletion(c: &kube::Client, run_id: &str) -> Vec<String> {
    let started = Instant::now();
    loop {
        let left = leftovers(c, run_id).await;
        if left.is_empty() || started.elapsed() > Duration::from_secs(120) {
            return left;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Removes a run's leftovers when dropped, so a failed assertion leaks nothing.
struct CleanupOnDrop(String);

impl Drop for CleanupOnDrop {
    fn drop(&mut self) {
        let _ = run("cleanup", &["--framework.cleanup", &self.0]);
    }
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(files_under(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn manifest_set_is_created_patched_and_fully_removed() {
    let c = client().await;
    let id = random_run_id();
    let out = run(
        &id,
        &[
            "--exact",
            "Fixture creates and removes the quickstart set",
            "--framework.wait-for-deletions",
            "true",
        ],
    );
    assert!(out.status.success(), "fixture failed:\n{}", text(&out));
    assert!(text(&out).contains("1 passed"), "{}", text(&out));
    // With --framework.wait-for-deletions the run ends only when everything is gone.
    assert_eq!(
        leftovers(&c, &id).await,
        Vec::<String>::new(),
        "objects left behind"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn eight_parallel_specs_deploy_the_same_manifests() {
    let c = client().await;
    let id = random_run_id();
    let out = run(
        &id,
        &["--focus", "deploys a parallel copy", "--test-threads", "8"],
    );
    let t = text(&out);
    assert!(out.status.success(), "fixture failed:\n{t}");
    assert!(t.contains("8 passed"), "{t}");
    assert_eq!(
        leftovers_after_deletion(&c, &id).await,
        Vec::<String>::new(),
        "objects left behind"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn manifest_errors_name_file_document_and_line() {
    let id = random_run_id();
    let out = run(&id, &["--focus", "reports manifest errors"]);
    assert!(out.status.success(), "fixture failed:\n{}", text(&out));
}

#[tokio::test(flavor = "multi_thread")]
async fn failed_spec_keeps_its_namespace_only_when_asked_and_dumps_it() {
    let c = client().await;
    let report = tempfile::tempdir().expect("temp dir");
    let kept = random_run_id();
    let _guard = CleanupOnDrop(kept.clone());
    let out = run(
        &kept,
        &[
            "--focus",
            "fails on purpose",
            "--framework.delete-namespace",
            "keep-on-failure",
            "--report-dir",
            report.path().to_str().expect("utf-8 path"),
        ],
    );
    let t = text(&out);
    assert_eq!(out.status.code(), Some(101), "{t}");
    assert!(
        t.contains("Timed out after 2.") && t.contains(
            "s waiting for pod `doomed` to report phase Succeeded; last failure: phase is Running"
        ),
        "the eventually failure names the condition and the last failure:\n{t}"
    );
    let namespaces = labelled(Api::<Namespace>::all(c.clone()), &kept).await;
    assert_eq!(namespaces.len(), 1, "keep-on-failure keeps the namespace");
    let ns = &namespaces[0];

    let dump = report.path().join("namespaces").join(ns);
    let events = std::fs::read_to_string(dump.join("events.txt")).expect("events.txt");
    assert!(
        events.contains("Pod/doomed"),
        "events mention the pod:\n{events}"
    );
    let pods = std::fs::read_to_string(dump.join("pods.txt")).expect("pods.txt");
    assert!(pods.contains("pod doomed: phase Running"), "{pods}");
    let log = std::fs::read_to_string(dump.join("logs").join("doomed_main.log")).expect("log");
    let nodes = Api::<Node>::all(c.clone())
        .list(&ListParams::default())
        .await
        .expect("nodes");
    let node_of_pod = pods
        .lines()
        .next()
        .and_then(|l| l.rsplit(' ').next())
        .unwrap_or("");
    let real_node = nodes.items.iter().any(|n| {
        n.metadata.name.as_deref() == Some(node_of_pod)
            && !n
                .metadata
                .labels
                .as_ref()
                .is_some_and(|l| l.contains_key("kube-e2e.io/simulated-node"))
            && !n
                .metadata
                .annotations
                .as_ref()
                .is_some_and(|a| a.contains_key("kwok.x-k8s.io/node"))
    });
    if real_node {
        assert!(
            log.contains("fixture-log-line"),
            "pod log in the dump:\n{log}"
        );
    } else {
        // Simulated (kwok) nodes run no container: the dump says why there is no log.
        assert!(
            log.contains("logs unavailable") || log.contains("(empty log)"),
            "{log}"
        );
    }
    for file in files_under(report.path()) {
        let content = std::fs::read_to_string(&file).unwrap_or_default();
        for secret in [
            "eyJhbGciOiJSUzI1NiIs",
            "BEGIN CERTIFICATE",
            "PRIVATE KEY-----",
        ] {
            assert!(
                !content.contains(secret),
                "{} contains `{secret}`",
                file.display()
            );
        }
    }

    let deleted = random_run_id();
    let out = run(&deleted, &["--focus", "fails on purpose"]);
    assert_eq!(out.status.code(), Some(101), "{}", text(&out));
    assert!(
        leftovers_after_deletion(&c, &deleted).await.is_empty(),
        "the default policy deletes the failed spec's namespace"
    );

    let out = run("unused", &["--framework.cleanup", &kept]);
    assert!(out.status.success(), "cleanup failed:\n{}", text(&out));
    assert!(
        text(&out).contains(&format!("Namespace/{ns}")),
        "{}",
        text(&out)
    );
    let started = Instant::now();
    while !labelled(Api::<Namespace>::all(c.clone()), &kept)
        .await
        .is_empty()
    {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "cleanup did not remove {ns}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn later_specs_take_namespaces_made_ahead_and_none_is_left_over() {
    let c = client().await;
    let id = random_run_id();
    let _cleanup = CleanupOnDrop(id.clone());
    let out = run(
        &id,
        &[
            "--focus",
            "gets a ready namespace",
            "--test-threads",
            "1",
            "-v",
        ],
    );
    let all = text(&out);
    assert!(out.status.success(), "{all}");
    let created: Vec<&str> = all
        .lines()
        .filter_map(|l| l.split("namespace ").nth(1))
        .filter(|rest| rest.contains(" created"))
        .filter_map(|rest| rest.split_whitespace().next())
        .collect();
    let ahead = all.matches("created (made ahead, ready)").count();
    // The first spec makes its own; each later one finds the next ready, made while the one
    // before it ran; nothing is made for a spec that never comes.
    assert_eq!(
        created.len(),
        5,
        "one namespace per spec: {created:?}\n{all}"
    );
    assert_eq!(ahead, 4, "specs 2 to 5 take a namespace made ahead:\n{all}");
    let distinct: std::collections::HashSet<_> = created.iter().collect();
    assert_eq!(
        distinct.len(),
        5,
        "no namespace is given to two specs: {created:?}"
    );
    assert_eq!(
        leftovers_after_deletion(&c, &id).await,
        Vec::<String>::new(),
        "left behind"
    );
}

/// The kubeconfig the tests use: `KUBECONFIG`, else the local cluster's.
fn kubeconfig_in_use() -> PathBuf {
    match std::env::var_os("KUBECONFIG").filter(|v| !v.is_empty()) {
        Some(path) => PathBuf::from(path),
        None => kube_e2e_cluster::LocalCluster::load(&kube_e2e_cluster::default_state_dir())
            .expect("the local cluster's state")
            .expect("a running local cluster")
            .kubeconfig_path(),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn credentials_in_the_kubeconfig_appear_in_no_output_or_report_of_a_failing_run() {
    let c = client().await;
    let id = random_run_id();
    let _cleanup = CleanupOnDrop(id.clone());
    let dir = tempfile::tempdir().unwrap();
    // A token beside the client certificate: the API server authenticates the certificate,
    // and the token is a secret that must not be printed anywhere.
    let token = format!("planted-token-{id}");
    let original = std::fs::read_to_string(kubeconfig_in_use()).expect("kubeconfig");
    let key_data = original
        .lines()
        .find_map(|l| l.trim().strip_prefix("client-key-data:"))
        .map(|v| v.trim().to_string())
        .expect("the kubeconfig has client-key-data");
    let planted: String = original
        .lines()
        .map(|l| match l.find("client-key-data:") {
            Some(at) => format!("{}token: {token}\n{l}\n", &l[..at]),
            None => format!("{l}\n"),
        })
        .collect();
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(&kubeconfig, planted).unwrap();
    let reports = dir.path().join("reports");
    let out = command(
        &id,
        &[
            "--focus",
            "prints the kubeconfig's credentials by mistake",
            "-v",
            "--report-dir",
            reports.to_str().unwrap(),
            "--framework.kubeconfig",
            kubeconfig.to_str().unwrap(),
        ],
    )
    .output()
    .expect("fixture runs");
    let all = text(&out);
    assert_eq!(out.status.code(), Some(101), "the spec fails:\n{all}");
    assert!(
        all.contains("[REDACTED]"),
        "the leaked values were redacted:\n{all}"
    );
    let written = files_under(&reports);
    assert!(
        written.iter().any(|p| p.ends_with("report.json"))
            && written.iter().any(|p| p.ends_with("e2e.log")),
        "reports written: {written:?}"
    );
    for (what, secret) in [("token", token.as_str()), ("client key", key_data.as_str())] {
        assert!(
            !all.contains(secret),
            "the {what} is in the console output:\n{all}"
        );
        for file in &written {
            let content = String::from_utf8_lossy(&std::fs::read(file).unwrap()).to_string();
            assert!(
                !content.contains(secret),
                "the {what} is in {}",
                file.display()
            );
        }
    }
    assert_eq!(
        leftovers_after_deletion(&c, &id).await,
        Vec::<String>::new()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn interrupt_leaves_no_namespace_of_the_run() {
    let c = client().await;
    let id = random_run_id();
    let mut child = command(
        &id,
        &["--focus", "waits to be interrupted", "--test-threads", "4"],
    )
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    .spawn()
    .expect("fixture starts");
    let started = Instant::now();
    loop {
        let classes = labelled(Api::<StorageClass>::all(c.clone()), &id).await;
        if classes.len() == 4 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "specs did not start: {classes:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).expect("SIGINT");
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .expect("join")
        .expect("wait");
    assert_eq!(status.code(), Some(130), "exit code after Ctrl-C");
    assert_eq!(
        leftovers_after_deletion(&c, &id).await,
        Vec::<String>::new(),
        "left behind after Ctrl-C"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_namespace_of_an_earlier_run_stuck_in_terminating_is_reported_with_its_finalizer() {
    let c = client().await;
    let earlier = random_run_id();
    let name = format!("e2e-stuck-{earlier}");
    let api = Api::<Namespace>::all(c.clone());
    let ns: Namespace = serde_json::from_value(serde_json::json!({
        "metadata": {
            "name": name,
            "labels": {"e2e-run": earlier, "app.kubernetes.io/managed-by": "kube-e2e"},
            "finalizers": ["kube-e2e.io/test-hold"],
        }
    }))
    .unwrap();
    api.create(&Default::default(), &ns).await.expect("create");
    api.delete(&name, &Default::default())
        .await
        .expect("delete");
    let release = || async {
        let patch = serde_json::json!({"metadata": {"finalizers": null}});
        let _ = api
            .patch(
                &name,
                &kube::api::PatchParams::default(),
                &kube::api::Patch::Merge(&patch),
            )
            .await;
    };
    let id = random_run_id();
    let out = run(
        &id,
        &[
            "--exact",
            "Fixture reports manifest errors with file, document and line",
            "--framework.stuck-namespace-after",
            "0s",
        ],
    );
    release().await;
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(
        t.contains(&format!(
            "warning: namespace {name} of run {earlier} has been Terminating"
        )) && t.contains("finalizers: kube-e2e.io/test-hold"),
        "the stuck namespace and its finalizer are reported: {t}"
    );
    assert!(
        t.contains("Connected to "),
        "connection is reported before the specs: {t}"
    );
    let quiet = run(
        &id,
        &[
            "--exact",
            "Fixture reports manifest errors with file, document and line",
        ],
    );
    assert!(
        !text(&quiet).contains(&name),
        "below the default threshold nothing is reported: {}",
        text(&quiet)
    );
}
