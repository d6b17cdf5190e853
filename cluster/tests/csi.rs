//! The csi-hostpath driver on a cluster of its own with a real node: it registers with kubelet,
//! provisions a claim that pods write and read, snapshots it, restores the snapshot into a new
//! claim and expands a claim. Needs root, Go and the module proxy (a cold build of the sidecars
//! takes about a quarter of an hour on 2 cores).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use kube_e2e_cluster::csi::{self, HostpathDeployment};
use kube_e2e_cluster::node::real::NODE_NAME;
use kube_e2e_cluster::{Asset, AssetCache, Layout, LocalCluster, NodeLayout};

/// The driver's manifests, which travel with the storage crate (`kube-e2e-storage`); this test
/// of the cluster crate reads them from the repository, as a user applying them would.
fn manifests_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../storage-suite/manifests/storage-csi/hostpath")
}

/// `names` from [`manifests_dir`], rendered for `deployment` into one YAML stream.
fn render(deployment: &HostpathDeployment, names: &[&str]) -> String {
    let texts: Vec<String> = names
        .iter()
        .map(|name| {
            let path = manifests_dir().join(name);
            std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
        })
        .collect();
    deployment.render_stream(texts.iter().map(String::as_str))
}

const BUSYBOX: &str = "registry.k8s.io/e2e-test-images/busybox:1.37.0-1";
const NAMESPACE: &str = "csi-hostpath";

/// Brings the cluster down however the test ends.
struct Cluster {
    state_dir: PathBuf,
    kubeconfig: PathBuf,
    kubectl: PathBuf,
    _base: tempfile::TempDir,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new(env!("CARGO_BIN_EXE_kube-e2e-cluster"))
            .arg("--state-dir")
            .arg(&self.state_dir)
            .arg("down")
            .output();
    }
}

impl Cluster {
    fn kubectl(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut child = Command::new(&self.kubectl)
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .args(args)
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("kubectl starts");
        if let Some(text) = stdin {
            child
                .stdin
                .take()
                .unwrap()
                .write_all(text.as_bytes())
                .unwrap();
        }
        child.wait_with_output().unwrap()
    }

    /// Runs kubectl and returns its stdout; panics with its output (and the driver's logs)
    /// if it fails.
    fn ok(&self, args: &[&str], stdin: Option<&str>) -> String {
        let out = self.kubectl(args, stdin);
        if !out.status.success() {
            panic!(
                "kubectl {} failed: {}{}\n{}",
                args.join(" "),
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr),
                self.diagnostics()
            );
        }
        String::from_utf8_lossy(&out.stdout).to_string()
    }

    fn get(&self, args: &[&str]) -> String {
        let out = self.kubectl(args, None);
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Polls `kubectl get … -o jsonpath=<path>` until it prints `wanted`.
    fn wait_for(&self, what: &str, seconds: u64, object: &[&str], path: &str, wanted: &str) {
        let deadline = Instant::now() + Duration::from_secs(seconds);
        let jsonpath = format!("jsonpath={path}");
        let mut args: Vec<&str> = vec!["get", "-n", NAMESPACE];
        args.extend_from_slice(object);
        args.extend_from_slice(&["-o", &jsonpath]);
        let mut last = String::new();
        while Instant::now() < deadline {
            last = self.get(&args);
            if last == wanted {
                return;
            }
            std::thread::sleep(Duration::from_millis(500));
        }
        panic!(
            "timed out after {seconds}s waiting for {what}: {path} is `{last}`, expected `{wanted}`\n{}",
            self.diagnostics()
        );
    }

    fn diagnostics(&self) -> String {
        let mut text = self.get(&[
            "get",
            "-A",
            "pods,pvc,volumesnapshots,volumesnapshotcontents",
            "-o",
            "wide",
        ]);
        text.push_str(&self.get(&["get", "events", "-A", "--sort-by=.lastTimestamp"]));
        for selector in [
            "app.kubernetes.io/name=csi-hostpath-controller",
            "app.kubernetes.io/name=csi-hostpath-node",
            "app.kubernetes.io/name=snapshot-controller",
        ] {
            text.push_str(&format!("\n--- logs of {selector}\n"));
            text.push_str(&self.get(&[
                "logs",
                "-n",
                NAMESPACE,
                "-l",
                selector,
                "--all-containers",
                "--tail=30",
            ]));
        }
        let kubelet = Layout::new(&self.state_dir).log("kubelet");
        text.push_str("\n--- kubelet log (csi lines)\n");
        let log = std::fs::read_to_string(kubelet).unwrap_or_default();
        let lines: Vec<&str> = log
            .lines()
            .filter(|l| l.contains("csi") || l.contains("plugin"))
            .collect();
        text.push_str(&lines[lines.len().saturating_sub(30)..].join("\n"));
        text
    }
}

fn pod(name: &str, claim: &str, script: &str) -> String {
    format!(
        r#"apiVersion: v1
kind: Pod
metadata:
  name: {name}
spec:
  nodeName: {NODE_NAME}
  restartPolicy: Never
  terminationGracePeriodSeconds: 1
  containers:
    - name: busybox
      image: {BUSYBOX}
      command: [sh, -c, "{script}"]
      volumeMounts: [{{name: data, mountPath: /data}}]
  volumes:
    - name: data
      persistentVolumeClaim: {{claimName: {claim}}}
"#
    )
}

fn claim(name: &str, class: &str, size: &str, source: Option<&str>) -> String {
    let source = source
        .map(|s| {
            format!(
                "  dataSource: {{apiGroup: snapshot.storage.k8s.io, kind: VolumeSnapshot, name: {s}}}\n"
            )
        })
        .unwrap_or_default();
    format!(
        r#"apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: {name}
spec:
  storageClassName: {class}
  accessModes: [ReadWriteOnce]
  resources: {{requests: {{storage: {size}}}}}
{source}"#
    )
}

fn start_cluster() -> Cluster {
    let base = tempfile::tempdir().unwrap();
    let state_dir = base.path().join("csi-cluster");
    let started = Instant::now();
    let up = Command::new(env!("CARGO_BIN_EXE_kube-e2e-cluster"))
        .arg("--state-dir")
        .arg(&state_dir)
        .args(["up", "--nodes", "real"])
        .output()
        .expect("kube-e2e-cluster runs");
    let cluster = Cluster {
        kubeconfig: Layout::new(&state_dir).admin_kubeconfig(),
        kubectl: AssetCache::at_default_location().path(Asset::Kubectl),
        state_dir,
        _base: base,
    };
    assert!(
        up.status.success(),
        "up --nodes real failed: {}{}",
        String::from_utf8_lossy(&up.stdout),
        String::from_utf8_lossy(&up.stderr)
    );
    eprintln!("cluster up in {:?}", started.elapsed());
    cluster
}

/// Builds the binaries and the image, imports it, and deploys the driver and the snapshot
/// controller into [`NAMESPACE`].
fn deploy(cluster: &Cluster) -> HostpathDeployment {
    let cache = AssetCache::at_default_location();
    let started = Instant::now();
    let binaries = csi::ensure_csi(&cache, &mut |line| eprintln!("{line}")).unwrap();
    eprintln!("CSI binaries ready in {:?}", started.elapsed());
    let image = csi::build_image(&binaries, &cache).unwrap();
    let layout = Layout::new(&cluster.state_dir);
    let node = NodeLayout::new(&layout);
    csi::import_image(&image, &node.containerd_socket()).unwrap();

    // kubelet makes its root directory a shared mount itself, so the node plugin's
    // Bidirectional mount propagation works although the host's root mount is private.
    let kubelet_root = node.kubelet_root();

    for crd in &binaries.snapshot_crds {
        cluster.ok(&["apply", "-f", &crd.display().to_string()], None);
    }
    for crd in [
        "volumesnapshots",
        "volumesnapshotcontents",
        "volumesnapshotclasses",
    ] {
        cluster.ok(
            &[
                "wait",
                "--for=condition=Established",
                "--timeout=60s",
                &format!("crd/{crd}.snapshot.storage.k8s.io"),
            ],
            None,
        );
    }
    cluster.ok(&["create", "namespace", NAMESPACE], None);
    let deployment = HostpathDeployment::new(NAMESPACE, kubelet_root);
    let controller = render(&deployment, &["snapshot-controller.yaml"]);
    cluster.ok(&["apply", "-n", NAMESPACE, "-f", "-"], Some(&controller));
    let driver = render(
        &deployment,
        &[
            "rbac.yaml",
            "csi-driver.yaml",
            "controller.yaml",
            "node.yaml",
        ],
    );
    cluster.ok(&["apply", "-n", NAMESPACE, "-f", "-"], Some(&driver));
    deployment
}

#[test]
fn hostpath_driver_provisions_snapshots_restores_and_expands() {
    let cluster = start_cluster();
    let deployment = deploy(&cluster);
    let class = deployment.storage_class().to_string();
    let driver = deployment.driver_name.clone();

    // The node plugin registered itself: kubelet put the driver and its topology key into
    // the CSINode object.
    cluster.wait_for(
        "kubelet to register the driver",
        120,
        &["csinode", NODE_NAME],
        &format!("{{.spec.drivers[?(@.name==\"{driver}\")].topologyKeys[0]}}"),
        csi::TOPOLOGY_KEY,
    );

    cluster.ok(
        &["apply", "-n", NAMESPACE, "-f", "-"],
        Some(&claim("data", &class, "1Mi", None)),
    );
    cluster.wait_for(
        "the claim to be bound",
        120,
        &["pvc", "data"],
        "{.status.phase}",
        "Bound",
    );

    let writer = pod("writer", "data", "echo hello-csi > /data/file && sync");
    cluster.ok(&["apply", "-n", NAMESPACE, "-f", "-"], Some(&writer));
    cluster.wait_for(
        "the writer to succeed",
        120,
        &["pod", "writer"],
        "{.status.phase}",
        "Succeeded",
    );
    let reader = pod("reader", "data", "cat /data/file");
    cluster.ok(&["apply", "-n", NAMESPACE, "-f", "-"], Some(&reader));
    cluster.wait_for(
        "the reader to succeed",
        120,
        &["pod", "reader"],
        "{.status.phase}",
        "Succeeded",
    );
    let read = cluster.ok(&["logs", "-n", NAMESPACE, "reader"], None);
    assert_eq!(
        read.trim(),
        "hello-csi",
        "a second pod reads the first pod's file"
    );

    let snapshot = format!(
        r#"apiVersion: snapshot.storage.k8s.io/v1
kind: VolumeSnapshot
metadata:
  name: snap
spec:
  volumeSnapshotClassName: {}
  source: {{persistentVolumeClaimName: data}}
"#,
        deployment.snapshot_class()
    );
    cluster.ok(&["apply", "-n", NAMESPACE, "-f", "-"], Some(&snapshot));
    cluster.wait_for(
        "the snapshot to be ready",
        120,
        &["volumesnapshot", "snap"],
        "{.status.readyToUse}",
        "true",
    );
    cluster.ok(
        &["apply", "-n", NAMESPACE, "-f", "-"],
        Some(&claim("restored", &class, "1Mi", Some("snap"))),
    );
    cluster.wait_for(
        "the restored claim to be bound",
        120,
        &["pvc", "restored"],
        "{.status.phase}",
        "Bound",
    );
    let restored_reader = pod("restored-reader", "restored", "cat /data/file");
    cluster.ok(
        &["apply", "-n", NAMESPACE, "-f", "-"],
        Some(&restored_reader),
    );
    cluster.wait_for(
        "the restored reader to succeed",
        120,
        &["pod", "restored-reader"],
        "{.status.phase}",
        "Succeeded",
    );
    let read = cluster.ok(&["logs", "-n", NAMESPACE, "restored-reader"], None);
    assert_eq!(
        read.trim(),
        "hello-csi",
        "the restored claim holds the file"
    );

    cluster.ok(
        &[
            "patch",
            "-n",
            NAMESPACE,
            "pvc",
            "data",
            "--type=merge",
            "-p",
            r#"{"spec":{"resources":{"requests":{"storage":"2Mi"}}}}"#,
        ],
        None,
    );
    cluster.wait_for(
        "the claim to be expanded",
        120,
        &["pvc", "data"],
        "{.status.capacity.storage}",
        "2Mi",
    );

    // Deleting the claims deletes their volumes' directories.
    cluster.ok(
        &["delete", "-n", NAMESPACE, "pod", "--all", "--wait=true"],
        None,
    );
    cluster.ok(
        &[
            "delete",
            "-n",
            NAMESPACE,
            "volumesnapshot",
            "snap",
            "--wait=true",
        ],
        None,
    );
    cluster.ok(
        &[
            "delete",
            "-n",
            NAMESPACE,
            "pvc",
            "data",
            "restored",
            "--wait=true",
        ],
        None,
    );
    let volumes = deployment
        .kubelet_root
        .join("plugins")
        .join(&driver)
        .join("data")
        .join("volumes");
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::fs::read_dir(&volumes).map_or(0, |d| d.count()) > 0 {
        assert!(
            Instant::now() < deadline,
            "volume directories left in {}",
            volumes.display()
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    // The cluster is up until `Cluster` drops: make sure it still loads.
    assert!(
        LocalCluster::load(Path::new(&cluster.state_dir))
            .unwrap()
            .is_some()
    );
}
