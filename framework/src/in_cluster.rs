//! In-cluster sharded runs: the suite binary, packed into an image, run inside the cluster as an
//! Indexed Job of N pods, each running `--shard I/N` with a service account that has only the
//! rights the suite needs; the shards' reports are read back from the pods' logs and merged
//! into one `junit_01.xml`, `e2e.log` and `report.html` (one timeline lane per shard).
//!
//! Used by the conformance suite's `--in-cluster-shards N` (see `docs/conformance.md`).
//!
//! How results leave the pods: after the suite ends, the pod prints its report directory as a
//! base64 tar between two marker lines and exits 0 (the suite's exit code is in the end
//! marker). Reading the log of a finished pod needs no exec, no volume and no registry, and a
//! pod that dies without the markers is reported as such.

use crate::report::merge::{ShardReport, merge};
use anyhow::{Context as _, ensure};
use base64::Engine as _;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Namespace, Pod, ServiceAccount};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding};
use kube::api::{Api, DeleteParams, ListParams, LogParams, PostParams};
use serde_json::json;
use sha2::Digest as _;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const BEGIN: &str = "==== kube-e2e results begin ====";
const END: &str = "==== kube-e2e results end";
const SUITE_PATH: &str = "/usr/local/bin/suite";
const FLAG: &str = "--in-cluster-shards";

/// An in-cluster run asked for on the command line.
#[derive(Debug, Clone)]
pub struct Request {
    /// Number of shards (Job completions and parallelism).
    pub shards: usize,
    /// Where the merged reports (and each shard's, under `shard-I/`) go.
    pub report_dir: PathBuf,
    /// The suite's other arguments, passed to every shard.
    pub suite_args: Vec<OsString>,
    /// The suite binary to pack (the running one).
    pub binary: PathBuf,
    /// A prebuilt image to use instead of packing and importing the binary
    /// (`KUBE_E2E_SUITE_IMAGE`), for clusters other than the local one.
    pub image: Option<String>,
    /// How long to wait for the shards.
    pub timeout: Duration,
}

impl Request {
    /// Finds `--in-cluster-shards N` in `args` (`args[0]` is the program). Returns `None` when it
    /// is absent, so the suite runs normally. `--report-dir DIR` (required with it) is taken out
    /// too: the shards write to their own directory.
    ///
    /// # Errors
    ///
    /// A missing or bad count, or no `--report-dir`.
    pub fn from_args(args: &[OsString]) -> anyhow::Result<Option<Self>> {
        let mut shards = None;
        let mut report_dir = std::env::var_os("KUBE_E2E_REPORT_DIR").map(PathBuf::from);
        let mut rest = Vec::new();
        let mut it = args.iter().skip(1);
        while let Some(a) = it.next() {
            let s = a.to_string_lossy();
            let mut value = |name: &str| -> anyhow::Result<Option<String>> {
                if s == name {
                    let v = it
                        .next()
                        .with_context(|| format!("`{name}` needs a value"))?;
                    Ok(Some(v.to_string_lossy().into_owned()))
                } else {
                    Ok(s.strip_prefix(&format!("{name}=")).map(str::to_string))
                }
            };
            if let Some(v) = value(FLAG)? {
                let n: usize = v.parse().ok().filter(|n| *n >= 1).with_context(|| {
                    format!(
                        "`{FLAG}` expects a count of at least 1, found {}",
                        crate::config::param::quote(&v)
                    )
                })?;
                shards = Some(n);
            } else if let Some(v) = value("--report-dir")? {
                report_dir = Some(PathBuf::from(v));
            } else {
                rest.push(a.clone());
            }
        }
        let Some(shards) = shards else {
            return Ok(None);
        };
        let report_dir = report_dir
            .with_context(|| format!("`{FLAG}` needs `--report-dir DIR` for the merged reports"))?;
        Ok(Some(Request {
            shards,
            report_dir,
            suite_args: rest,
            binary: std::env::current_exe().context("finding the suite binary")?,
            image: std::env::var("KUBE_E2E_SUITE_IMAGE")
                .ok()
                .filter(|s| !s.is_empty()),
            timeout: Duration::from_secs(30 * 60),
        }))
    }

    /// Runs the shards and merges their reports; returns the exit code (0 when every shard ran
    /// to its end, every spec passed or was skipped, and no spec ran twice).
    pub fn run(self) -> i32 {
        let rt = match tokio::runtime::Runtime::new() {
            Ok(rt) => rt,
            Err(e) => {
                eprintln!("error: failed to start the tokio runtime: {e}");
                return 2;
            }
        };
        match rt.block_on(self.run_async()) {
            Ok(outcome) => {
                eprintln!("{}", outcome.summary);
                if outcome.passed { 0 } else { 101 }
            }
            Err(e) => {
                eprintln!("error: in-cluster run failed: {e:#}");
                101
            }
        }
    }

    async fn run_async(&self) -> anyhow::Result<Outcome> {
        let started = Instant::now();
        let image = match &self.image {
            Some(i) => i.clone(),
            None => tokio::task::block_in_place(|| build_and_import(&self.binary))?,
        };
        eprintln!(
            "in-cluster: image {image} ({:.1}s)",
            started.elapsed().as_secs_f64()
        );
        let client = kube::Client::try_default()
            .await
            .context("connecting to the cluster (KUBECONFIG)")?;
        let run = format!("{:08x}", rand_u32());
        let names = Names::new(&run);
        let result = self.run_job(&client, &names, &image).await;
        if let Err(e) = cleanup(&client, &names).await {
            eprintln!("warning: cleanup of {} failed: {e:#}", names.namespace);
        }
        let shards = result?;
        let merged = merge("conformance", &shards.reports)?;
        merged.write(&self.report_dir)?;
        let dups = merged.duplicates();
        let failures: usize = merged
            .junit
            .test_suites
            .iter()
            .map(|s| s.failures + s.errors)
            .sum();
        let bad_exits: Vec<String> = shards
            .exit_codes
            .iter()
            .enumerate()
            .filter(|(_, c)| **c != 0)
            .map(|(i, c)| format!("shard {}/{} exited {c}", i + 1, self.shards))
            .collect();
        let summary = format!(
            "in-cluster: {} shard(s), {} specs, {failures} failed{}{} in {:.1}s; reports in {}",
            self.shards,
            merged.occurrences.len(),
            if dups.is_empty() {
                String::new()
            } else {
                format!(", ran more than once: {}", dups.join(", "))
            },
            if bad_exits.is_empty() {
                String::new()
            } else {
                format!(", {}", bad_exits.join(", "))
            },
            started.elapsed().as_secs_f64(),
            self.report_dir.display()
        );
        Ok(Outcome {
            passed: failures == 0 && dups.is_empty() && bad_exits.is_empty(),
            summary,
        })
    }

    async fn run_job(
        &self,
        client: &kube::Client,
        names: &Names,
        image: &str,
    ) -> anyhow::Result<Shards> {
        create_rbac(client, names).await?;
        let script = shard_script(self.shards, &self.suite_args);
        let job: Job = serde_json::from_value(json!({
            "metadata": {"name": "conformance", "labels": {"app.kubernetes.io/managed-by": "kube-e2e"}},
            "spec": {
                "completionMode": "Indexed",
                "completions": self.shards,
                "parallelism": self.shards,
                "backoffLimitPerIndex": 0,
                "template": {
                    "metadata": {"labels": {"app": "kube-e2e-conformance"}},
                    "spec": {
                        "serviceAccountName": names.service_account,
                        "restartPolicy": "Never",
                        "containers": [{
                            "name": "suite",
                            "image": image,
                            "imagePullPolicy": "IfNotPresent",
                            "command": ["sh", "-c", script],
                            "env": [{"name": "SHARDS", "value": self.shards.to_string()}]
                        }]
                    }
                }
            }
        }))?;
        let jobs: Api<Job> = Api::namespaced(client.clone(), &names.namespace);
        jobs.create(&PostParams::default(), &job)
            .await
            .context("creating the Indexed Job")?;
        eprintln!(
            "in-cluster: Job {}/conformance with {} shard(s) started",
            names.namespace, self.shards
        );
        let pods: Api<Pod> = Api::namespaced(client.clone(), &names.namespace);
        let deadline = Instant::now() + self.timeout;
        let finished = loop {
            let list = pods
                .list(&ListParams::default().labels("app=kube-e2e-conformance"))
                .await?;
            let done: Vec<Pod> = list
                .items
                .into_iter()
                .filter(|p| {
                    matches!(
                        p.status.as_ref().and_then(|s| s.phase.as_deref()),
                        Some("Succeeded" | "Failed")
                    )
                })
                .collect();
            if done.len() >= self.shards {
                break done;
            }
            ensure!(
                Instant::now() < deadline,
                "shards not finished after {:?}",
                self.timeout
            );
            tokio::time::sleep(Duration::from_secs(2)).await;
        };
        let mut by_index: Vec<Option<Pod>> = vec![None; self.shards];
        for p in finished {
            let index = p
                .metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get("batch.kubernetes.io/job-completion-index"))
                .and_then(|i| i.parse::<usize>().ok())
                .context("a shard pod has no completion index")?;
            if index < self.shards {
                by_index[index] = Some(p);
            }
        }
        let mut reports = Vec::new();
        let mut exit_codes = Vec::new();
        for (i, p) in by_index.into_iter().enumerate() {
            let label = format!("shard {}/{}", i + 1, self.shards);
            let p = p.with_context(|| format!("{label}: no finished pod"))?;
            let name = p.metadata.name.clone().unwrap_or_default();
            let log = pods
                .logs(&name, &LogParams::default())
                .await
                .with_context(|| format!("{label}: reading the log of pod {name}"))?;
            let (files, code) = results_from_log(&log).with_context(|| {
                format!("{label}: pod {name} printed no results; its log:\n{log}")
            })?;
            let dir = self.report_dir.join(format!("shard-{}", i + 1));
            unpack(&files, &dir)?;
            let read = |f: &str| {
                std::fs::read_to_string(dir.join(f))
                    .with_context(|| format!("{label}: no {f} in its results"))
            };
            let (junit, e2e_log) = (read("junit_01.xml")?, read("e2e.log")?);
            // Older suites wrote no report.json; the merged report.html shows those that did.
            let report_json = std::fs::read_to_string(dir.join("report.json")).ok();
            reports.push(ShardReport {
                shard: label,
                junit,
                e2e_log,
                report_json,
                dir: Some(dir.clone()),
            });
            std::fs::write(dir.join("pod.log"), &log)?;
            exit_codes.push(code);
        }
        Ok(Shards {
            reports,
            exit_codes,
        })
    }
}

struct Outcome {
    passed: bool,
    summary: String,
}

struct Shards {
    reports: Vec<ShardReport>,
    exit_codes: Vec<i32>,
}

struct Names {
    namespace: String,
    service_account: String,
    cluster_role: String,
}

impl Names {
    fn new(run: &str) -> Self {
        Names {
            namespace: format!("kube-e2e-conformance-{run}"),
            service_account: "conformance".into(),
            cluster_role: format!("kube-e2e-conformance-{run}"),
        }
    }
}

fn rand_u32() -> u32 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .subsec_nanos();
    nanos ^ std::process::id().rotate_left(16)
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// The shard pod's script: run shard `JOB_COMPLETION_INDEX + 1` of N, then print the report
/// directory between markers and exit 0 (the suite's code travels in the end marker).
pub fn shard_script(shards: usize, suite_args: &[OsString]) -> String {
    let args: Vec<String> = suite_args
        .iter()
        .map(|a| shell_quote(&a.to_string_lossy()))
        .collect();
    format!(
        "mkdir -p /results && cd /tmp && {SUITE_PATH} --shard $((JOB_COMPLETION_INDEX+1))/{shards} --report-dir /results --allow-empty {args}; rc=$?; echo; echo '{BEGIN}'; tar -C /results -cf - . | base64; echo \"{END} rc=$rc ====\"; exit 0",
        args = args.join(" ")
    )
}

/// Extracts the tar and the suite's exit code a shard printed to its log.
pub fn results_from_log(log: &str) -> anyhow::Result<(Vec<u8>, i32)> {
    let start = log.find(BEGIN).context("no results begin marker")? + BEGIN.len();
    let rest = &log[start..];
    let end = rest.find(END).context("no results end marker")?;
    let encoded: String = rest[..end].chars().filter(|c| !c.is_whitespace()).collect();
    let tar = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .context("decoding the results")?;
    let code = rest[end + END.len()..]
        .trim_start()
        .strip_prefix("rc=")
        .and_then(|r| r.split_whitespace().next())
        .and_then(|r| r.parse().ok())
        .context("no exit code in the end marker")?;
    Ok((tar, code))
}

fn unpack(tar_bytes: &[u8], dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    tar::Archive::new(tar_bytes)
        .unpack(dir)
        .with_context(|| format!("unpacking results into {}", dir.display()))
}

/// Packs `binary` with its shared libraries (from `ldd`) on top of the busybox image, and
/// imports it into the local cluster's containerd. Returns the image name.
fn build_and_import(binary: &Path) -> anyhow::Result<String> {
    use kube_e2e_cluster::images::{BUSYBOX, busybox_image, import, shared_libraries};
    let bytes = std::fs::read(binary).with_context(|| format!("reading {}", binary.display()))?;
    let digest = sha2::Sha256::digest(&bytes);
    let tag: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
    let name = format!("kube-e2e.io/conformance-suite:{tag}");
    let mut image = busybox_image(Path::new(BUSYBOX))?.host_file(SUITE_PATH, binary, 0o755);
    for lib in shared_libraries(binary)? {
        image = image.host_file(&lib.to_string_lossy(), &lib, 0o755);
    }
    let state_dir = kube_e2e_cluster::default_state_dir();
    let cluster = kube_e2e_cluster::LocalCluster::load(&state_dir)?
        .with_context(|| format!("no local cluster in {}", state_dir.display()))?;
    let sockets = cluster.containerd_sockets();
    ensure!(
        sockets.first().is_some_and(|s| s.exists()),
        "the local cluster in {} has no real node (no containerd socket); start it with `--nodes real`, or set KUBE_E2E_SUITE_IMAGE",
        state_dir.display(),
    );
    let dir = std::env::temp_dir().join(format!("kube-e2e-suite-image-{tag}"));
    std::fs::create_dir_all(&dir)?;
    let archive = dir.join("image.tar");
    image.write_oci_archive(std::slice::from_ref(&name), &archive)?;
    for socket in &sockets {
        import(Path::new("/usr/bin/ctr"), socket, &archive)?;
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(name)
}

/// Namespace, service account and the cluster role the suite needs, bound to it.
///
/// The suite creates a namespace per spec and, in it, ConfigMaps, Secrets, Pods, Events and
/// Leases; it creates CRDs in one group (`stable.conformance.kube-e2e.io`) and their custom
/// resources; it reads pod logs, service accounts (namespace readiness) and nodes (failure
/// dumps). Nothing else: no RBAC objects, no workloads, no cluster-admin.
async fn create_rbac(client: &kube::Client, names: &Names) -> anyhow::Result<()> {
    let ns: Namespace = serde_json::from_value(json!({
        "metadata": {"name": names.namespace, "labels": {"app.kubernetes.io/managed-by": "kube-e2e"}}
    }))?;
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &ns)
        .await
        .with_context(|| format!("creating namespace {}", names.namespace))?;
    let sa: ServiceAccount =
        serde_json::from_value(json!({"metadata": {"name": names.service_account}}))?;
    Api::<ServiceAccount>::namespaced(client.clone(), &names.namespace)
        .create(&PostParams::default(), &sa)
        .await?;
    let all = [
        "create",
        "get",
        "list",
        "watch",
        "update",
        "patch",
        "delete",
        "deletecollection",
    ];
    let role: ClusterRole = serde_json::from_value(json!({
        "metadata": {"name": names.cluster_role, "labels": {"app.kubernetes.io/managed-by": "kube-e2e"}},
        "rules": [
            {"apiGroups": [""], "resources": ["namespaces"], "verbs": ["create", "get", "list", "watch", "patch", "delete"]},
            {"apiGroups": [""], "resources": ["configmaps", "secrets", "pods", "events"], "verbs": all},
            {"apiGroups": [""], "resources": ["pods/log", "serviceaccounts", "nodes"], "verbs": ["get", "list", "watch"]},
            {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": all},
            {"apiGroups": ["events.k8s.io"], "resources": ["events"], "verbs": all},
            {"apiGroups": ["apiextensions.k8s.io"], "resources": ["customresourcedefinitions"], "verbs": ["create", "get", "list", "watch", "delete"]},
            {"apiGroups": ["stable.conformance.kube-e2e.io"], "resources": ["*"], "verbs": all}
        ]
    }))?;
    Api::<ClusterRole>::all(client.clone())
        .create(&PostParams::default(), &role)
        .await?;
    let binding: ClusterRoleBinding = serde_json::from_value(json!({
        "metadata": {"name": names.cluster_role, "labels": {"app.kubernetes.io/managed-by": "kube-e2e"}},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": names.cluster_role},
        "subjects": [{"kind": "ServiceAccount", "name": names.service_account, "namespace": names.namespace}]
    }))?;
    Api::<ClusterRoleBinding>::all(client.clone())
        .create(&PostParams::default(), &binding)
        .await?;
    Ok(())
}

async fn cleanup(client: &kube::Client, names: &Names) -> anyhow::Result<()> {
    let dp = DeleteParams::background();
    let ignore_missing = |r: Result<(), kube::Error>| match r {
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        other => other,
    };
    ignore_missing(
        Api::<ClusterRoleBinding>::all(client.clone())
            .delete(&names.cluster_role, &dp)
            .await
            .map(drop),
    )?;
    ignore_missing(
        Api::<ClusterRole>::all(client.clone())
            .delete(&names.cluster_role, &dp)
            .await
            .map(drop),
    )?;
    ignore_missing(
        Api::<Namespace>::all(client.clone())
            .delete(&names.namespace, &dp)
            .await
            .map(drop),
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn args_are_split() {
        let args: Vec<OsString> = [
            "suite",
            "--label-filter",
            "Conformance",
            "--in-cluster-shards",
            "2",
            "--report-dir=/r",
        ]
        .iter()
        .map(OsString::from)
        .collect();
        let r = Request::from_args(&args).unwrap().unwrap();
        assert_eq!(r.shards, 2);
        assert_eq!(r.report_dir, PathBuf::from("/r"));
        assert_eq!(r.suite_args, ["--label-filter", "Conformance"]);
        assert!(Request::from_args(&args[..3]).unwrap().is_none());
        let bad: Vec<OsString> = ["s", "--in-cluster-shards", "0", "--report-dir", "x"]
            .iter()
            .map(OsString::from)
            .collect();
        assert!(Request::from_args(&bad).is_err());
    }

    #[test]
    fn results_travel_through_the_log() {
        let mut builder = tar::Builder::new(Vec::new());
        let mut header = tar::Header::new_gnu();
        header.set_size(3);
        header.set_mode(0o644);
        header.set_cksum();
        builder
            .append_data(&mut header, "e2e.log", &b"abc"[..])
            .unwrap();
        let tar = builder.into_inner().unwrap();
        let b64 = base64::engine::general_purpose::STANDARD.encode(&tar);
        let wrapped: Vec<String> = b64
            .as_bytes()
            .chunks(76)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect();
        let log = format!(
            "test a ... ok\n\n{BEGIN}\n{}\n{END} rc=101 ====\n",
            wrapped.join("\n")
        );
        let (back, rc) = results_from_log(&log).unwrap();
        assert_eq!(back, tar);
        assert_eq!(rc, 101);
        assert!(results_from_log("crashed").is_err());
        let script = shard_script(2, &[OsString::from("--focus"), OsString::from("it's")]);
        assert!(
            script.contains("--shard $((JOB_COMPLETION_INDEX+1))/2"),
            "{script}"
        );
        assert!(script.contains(r"'it'\''s'"), "{script}");
    }
}
