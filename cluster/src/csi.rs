//! The csi-hostpath driver and its sidecars: binaries, one container image, manifests.
//!
//! The driver, `kube-e2e-hostpath`, is this project's own (Go module `cluster/go/csi-hostpath`,
//! embedded in the crate): volumes are directories on the real node, snapshots tar archives,
//! and it registers itself with kubelet, so no node-driver-registrar is needed. The sidecars
//! (external-provisioner, external-resizer, external-snapshotter and the snapshot controller)
//! are built from the Go module proxy as main modules, so their own `replace` lines apply.
//! Everything is cached in [`AssetCache::bin_dir`] with its own manifest, `csi-manifest.json`.
//!
//! ```no_run
//! use kube_e2e_cluster::AssetCache;
//! use kube_e2e_cluster::csi::{self, HostpathDeployment};
//!
//! # fn run() -> kube_e2e_cluster::Result<()> {
//! let cache = AssetCache::at_default_location();
//! let binaries = csi::ensure_csi(&cache, &mut |line| eprintln!("{line}"))?;
//! let archive = csi::build_image(&binaries, &cache)?;
//! csi::import_image(&archive, "/tmp/cluster/containerd/containerd.sock".as_ref())?;
//! let deployment = HostpathDeployment::new("csi-ns", "/tmp/cluster/kubelet");
//! let yaml = deployment.render_all()?;
//! # drop(yaml); Ok(()) }
//! ```

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::assets::{AssetCache, Progress, find_go, format_duration, hash_file, hex, tail_of_file};
use crate::error::{Error, Result};
use crate::images::{self, ImageInfo};

/// The image holding the driver and every sidecar; the manifests name it and set `command`.
pub const CSI_IMAGE: &str = "localhost/kube-e2e/csi:0.1.0";

/// The driver name the manifests get unless a deployment picks another.
pub const DEFAULT_DRIVER_NAME: &str = "hostpath.csi.kube-e2e.io";

/// The topology key of the driver's only segment (the node a volume lives on).
pub const TOPOLOGY_KEY: &str = "topology.hostpath.csi/node";

/// `external-snapshotter`'s version: the sidecar, the snapshot controller and the CRDs.
pub const SNAPSHOTTER_VERSION: &str = "v8.7.0";

const SNAPSHOTTER_MODULE: &str = "github.com/kubernetes-csi/external-snapshotter/v8";
const SNAPSHOTTER_CLIENT_MODULE: &str = "github.com/kubernetes-csi/external-snapshotter/client/v8";

/// The driver's embedded Go module.
const HOSTPATH_FILES: &[(&str, &str)] = &[
    ("go.mod", include_str!("../go/csi-hostpath/go.mod")),
    ("go.sum", include_str!("../go/csi-hostpath/go.sum")),
    ("main.go", include_str!("../go/csi-hostpath/main.go")),
    ("state.go", include_str!("../go/csi-hostpath/state.go")),
    (
        "controller.go",
        include_str!("../go/csi-hostpath/controller.go"),
    ),
    ("node.go", include_str!("../go/csi-hostpath/node.go")),
    (
        "registration.go",
        include_str!("../go/csi-hostpath/registration.go"),
    ),
];

/// One binary of the CSI deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CsiBinary {
    /// This project's driver.
    Hostpath,
    /// external-provisioner: creates volumes for claims.
    Provisioner,
    /// external-resizer: expands volumes.
    Resizer,
    /// external-snapshotter's sidecar: creates snapshots.
    Snapshotter,
    /// external-snapshotter's snapshot controller (one per cluster).
    SnapshotController,
}

/// Where a group of binaries comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    /// The embedded driver module.
    Embedded,
    /// A module from the proxy, built as the main module.
    Proxy {
        module: &'static str,
        version: &'static str,
    },
}

impl CsiBinary {
    /// Every binary, in build order.
    pub const ALL: [CsiBinary; 5] = [
        CsiBinary::Hostpath,
        CsiBinary::Provisioner,
        CsiBinary::Resizer,
        CsiBinary::Snapshotter,
        CsiBinary::SnapshotController,
    ];

    /// The file name, in the cache and in the image's `/bin`.
    pub fn binary_name(self) -> &'static str {
        match self {
            CsiBinary::Hostpath => "kube-e2e-hostpath",
            CsiBinary::Provisioner => "csi-provisioner",
            CsiBinary::Resizer => "csi-resizer",
            CsiBinary::Snapshotter => "csi-snapshotter",
            CsiBinary::SnapshotController => "snapshot-controller",
        }
    }

    fn source(self) -> Source {
        match self {
            CsiBinary::Hostpath => Source::Embedded,
            CsiBinary::Provisioner => Source::Proxy {
                module: "github.com/kubernetes-csi/external-provisioner/v6",
                version: "v6.4.0",
            },
            CsiBinary::Resizer => Source::Proxy {
                module: "github.com/kubernetes-csi/external-resizer/v2",
                version: "v2.3.0",
            },
            CsiBinary::Snapshotter | CsiBinary::SnapshotController => Source::Proxy {
                module: SNAPSHOTTER_MODULE,
                version: SNAPSHOTTER_VERSION,
            },
        }
    }

    /// What the binary is built from, as the manifest records it: `module@version`, or for
    /// the driver a digest of its embedded sources, so an edited driver is rebuilt.
    pub fn source_version(self) -> String {
        match self.source() {
            Source::Embedded => {
                let mut hasher = Sha256::new();
                for (name, text) in HOSTPATH_FILES {
                    hasher.update(name.as_bytes());
                    hasher.update(text.as_bytes());
                }
                format!(
                    "kube-e2e/csi-hostpath@sha256:{}",
                    &hex(&hasher.finalize())[..16]
                )
            }
            Source::Proxy { module, version } => format!("{module}@{version}"),
        }
    }
}

impl std::fmt::Display for CsiBinary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.binary_name())
    }
}

/// What `csi-manifest.json` records about one built binary.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CsiRecord {
    /// [`CsiBinary::source_version`] at build time.
    pub source: String,
    /// File size in bytes.
    pub size: u64,
    /// SHA-256 of the file, hex.
    pub sha256: String,
    /// How long the build took (shared by binaries built together).
    pub build_seconds: f64,
}

/// The built CSI binaries and the snapshot CRDs, as [`ensure_csi`] leaves them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsiBinaries {
    bin_dir: PathBuf,
    /// The `snapshot.storage.k8s.io` and `groupsnapshot.storage.k8s.io` CRDs (classes,
    /// contents, snapshots), to apply before the snapshot controller starts.
    pub snapshot_crds: Vec<PathBuf>,
}

impl CsiBinaries {
    /// The path of `binary`.
    pub fn path(&self, binary: CsiBinary) -> PathBuf {
        self.bin_dir.join(binary.binary_name())
    }
}

/// The CRD files copied from the client module. Volume group snapshots are GA in
/// external-snapshotter v8.7, and its controllers wait for their CRDs at start, so those are
/// installed too.
const SNAPSHOT_CRDS: [&str; 6] = [
    "snapshot.storage.k8s.io_volumesnapshotclasses.yaml",
    "snapshot.storage.k8s.io_volumesnapshotcontents.yaml",
    "snapshot.storage.k8s.io_volumesnapshots.yaml",
    "groupsnapshot.storage.k8s.io_volumegroupsnapshotclasses.yaml",
    "groupsnapshot.storage.k8s.io_volumegroupsnapshotcontents.yaml",
    "groupsnapshot.storage.k8s.io_volumegroupsnapshots.yaml",
];

fn cache_root(cache: &AssetCache) -> PathBuf {
    let bin = cache.bin_dir();
    bin.parent().map(Path::to_path_buf).unwrap_or(bin)
}

fn manifest_path(cache: &AssetCache) -> PathBuf {
    cache.bin_dir().join("csi-manifest.json")
}

fn crd_dir(cache: &AssetCache) -> PathBuf {
    cache_root(cache).join("csi-crds").join(SNAPSHOTTER_VERSION)
}

/// The manifest's records, by binary name.
pub fn records(cache: &AssetCache) -> BTreeMap<String, CsiRecord> {
    fs::read(manifest_path(cache))
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default()
}

fn write_records(cache: &AssetCache, records: &BTreeMap<String, CsiRecord>) -> Result<()> {
    let path = manifest_path(cache);
    let text = serde_json::to_string_pretty(records).expect("a manifest always serializes");
    fs::write(&path, text).map_err(Error::io(&path))
}

/// The binaries that are not built from their current source (or whose file changed size).
pub fn missing(cache: &AssetCache) -> Vec<CsiBinary> {
    let records = records(cache);
    CsiBinary::ALL
        .into_iter()
        .filter(|b| {
            !records.get(b.binary_name()).is_some_and(|r| {
                r.source == b.source_version()
                    && fs::metadata(cache.bin_dir().join(b.binary_name()))
                        .is_ok_and(|m| m.len() == r.size)
            })
        })
        .collect()
}

/// Builds every missing CSI binary into [`AssetCache::bin_dir`] and copies the snapshot CRDs
/// into `<cache>/csi-crds/<snapshotter version>/`; reports each build and its duration.
///
/// Holds a lock in the cache while building, so concurrent callers build each binary once.
///
/// # Errors
/// Fails if Go is missing, a module cannot be downloaded, or a build fails (the error carries
/// the end of the build log).
pub fn ensure_csi(cache: &AssetCache, progress: Progress<'_>) -> Result<CsiBinaries> {
    let binaries = CsiBinaries {
        bin_dir: cache.bin_dir(),
        snapshot_crds: SNAPSHOT_CRDS
            .iter()
            .map(|f| crd_dir(cache).join(f))
            .collect(),
    };
    let crds_ready = binaries.snapshot_crds.iter().all(|p| p.is_file());
    if missing(cache).is_empty() && crds_ready {
        return Ok(binaries);
    }
    let root = cache_root(cache);
    fs::create_dir_all(cache.bin_dir()).map_err(Error::io(cache.bin_dir()))?;
    let lock_path = root.join("csi-build.lock");
    let lock = fs::File::create(&lock_path).map_err(Error::io(&lock_path))?;
    lock.lock().map_err(Error::io(&lock_path))?;
    let go = find_go()?;
    // Another process may have built them while we waited for the lock.
    let missing = missing(cache);
    let mut groups: Vec<(Source, Vec<CsiBinary>)> = Vec::new();
    for binary in missing {
        match groups.iter_mut().find(|(s, _)| *s == binary.source()) {
            Some((_, group)) => group.push(binary),
            None => groups.push((binary.source(), vec![binary])),
        }
    }
    for (source, group) in &groups {
        build_group(cache, &go, *source, group, progress)?;
    }
    if !binaries.snapshot_crds.iter().all(|p| p.is_file()) {
        copy_crds(cache, &go)?;
    }
    Ok(binaries)
}

fn build_group(
    cache: &AssetCache,
    go: &Path,
    source: Source,
    group: &[CsiBinary],
    progress: Progress<'_>,
) -> Result<()> {
    let root = cache_root(cache);
    let names: Vec<&str> = group.iter().map(|b| b.binary_name()).collect();
    let label = group[0].source_version();
    progress(&format!(
        "building {} from {label} (a cold build downloads modules and takes minutes)",
        names.join(", ")
    ));
    let started = Instant::now();
    let log_path = root.join(format!("build-{}.log", names[0]));
    let log = fs::File::create(&log_path).map_err(Error::io(&log_path))?;
    let build_error = |status: String| Error::Build {
        binaries: names.join(", "),
        module: label.clone(),
        status,
        tail: tail_of_file(&log_path, 30),
    };
    let src = root.join("src").join(format!("csi-{}", names[0]));
    let _ = make_writable_and_remove(&src);
    let (packages, version) = match source {
        Source::Embedded => {
            fs::create_dir_all(&src).map_err(Error::io(&src))?;
            for (name, contents) in HOSTPATH_FILES {
                let path = src.join(name);
                fs::write(&path, contents).map_err(Error::io(&path))?;
            }
            (vec![".".to_string()], None)
        }
        Source::Proxy { module, version } => {
            let dir = module_dir(go, &root, &format!("{module}@{version}"))?;
            run(Command::new("cp").arg("-r").arg(&dir).arg(&src))?;
            run(Command::new("chmod").arg("-R").arg("u+w").arg(&src))?;
            if module == SNAPSHOTTER_MODULE {
                // `./client` is a nested module, absent from the proxy's zip: use the
                // published client at the same version instead.
                run(Command::new(go).current_dir(&src).args([
                    "mod",
                    "edit",
                    &format!(
                        "-replace={SNAPSHOTTER_CLIENT_MODULE}={SNAPSHOTTER_CLIENT_MODULE}@{version}"
                    ),
                ]))?;
            }
            let packages = group
                .iter()
                .map(|b| format!("./cmd/{}", b.binary_name()))
                .collect();
            (packages, Some(version))
        }
    };
    let out_dir = root.join("csi-build-out");
    let _ = fs::remove_dir_all(&out_dir);
    fs::create_dir_all(&out_dir).map_err(Error::io(&out_dir))?;
    let mut ldflags = "-s -w".to_string();
    if let Some(version) = version {
        ldflags.push_str(&format!(" -X main.version={version}"));
    }
    let output = if let [single] = group {
        out_dir.join(single.binary_name()).display().to_string()
    } else {
        format!("{}/", out_dir.display())
    };
    let status = Command::new(go)
        .current_dir(&src)
        .env("GOTOOLCHAIN", "local")
        .env("GOFLAGS", "-mod=mod")
        .env("CGO_ENABLED", "0")
        .args(["build", "-trimpath", "-ldflags", &ldflags, "-o", &output])
        .args(&packages)
        .stdin(Stdio::null())
        .stdout(log.try_clone().map_err(Error::io(&log_path))?)
        .stderr(log)
        .status()
        .map_err(Error::io(go))?;
    if !status.success() {
        return Err(build_error(status.to_string()));
    }
    let seconds = started.elapsed().as_secs_f64();
    let mut records = records(cache);
    for binary in group {
        let built = out_dir.join(binary.binary_name());
        let target = cache.bin_dir().join(binary.binary_name());
        fs::rename(&built, &target).map_err(Error::io(&target))?;
        let (size, sha256) = hash_file(&target)?;
        records.insert(
            binary.binary_name().to_string(),
            CsiRecord {
                source: binary.source_version(),
                size,
                sha256,
                build_seconds: seconds,
            },
        );
    }
    write_records(cache, &records)?;
    let _ = fs::remove_dir_all(&out_dir);
    let _ = make_writable_and_remove(&src);
    progress(&format!(
        "built {} in {}",
        names.join(", "),
        format_duration(Duration::from_secs_f64(seconds))
    ));
    Ok(())
}

fn copy_crds(cache: &AssetCache, go: &Path) -> Result<()> {
    let dir = module_dir(
        go,
        &cache_root(cache),
        &format!("{SNAPSHOTTER_CLIENT_MODULE}@{SNAPSHOTTER_VERSION}"),
    )?;
    let target = crd_dir(cache);
    fs::create_dir_all(&target).map_err(Error::io(&target))?;
    for name in SNAPSHOT_CRDS {
        let from = dir.join("config").join("crd").join(name);
        let to = target.join(name);
        let _ = fs::remove_file(&to);
        fs::copy(&from, &to).map_err(Error::io(&from))?;
        // The module cache's files are read-only; the copies need not be.
        fs::set_permissions(&to, std::os::unix::fs::PermissionsExt::from_mode(0o644))
            .map_err(Error::io(&to))?;
    }
    Ok(())
}

/// The module cache directory of `module@version`, downloading it if needed.
fn module_dir(go: &Path, cwd: &Path, module_at_version: &str) -> Result<PathBuf> {
    let output = Command::new(go)
        .current_dir(cwd)
        .env("GOTOOLCHAIN", "local")
        .args(["mod", "download", "-json", module_at_version])
        .output()
        .map_err(Error::io(go))?;
    let info: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap_or_default();
    match info["Dir"].as_str() {
        Some(dir) if output.status.success() => Ok(PathBuf::from(dir)),
        _ => Err(Error::Command {
            command: format!("go mod download -json {module_at_version}"),
            status: output.status.to_string(),
            output: format!(
                "{}{}",
                info["Error"].as_str().unwrap_or_default(),
                String::from_utf8_lossy(&output.stderr).trim()
            ),
        }),
    }
}

fn run(command: &mut Command) -> Result<()> {
    let output = command.output().map_err(|e| Error::Command {
        command: format!("{command:?}"),
        status: "not started".into(),
        output: e.to_string(),
    })?;
    if output.status.success() {
        Ok(())
    } else {
        Err(Error::Command {
            command: format!("{command:?}"),
            status: output.status.to_string(),
            output: String::from_utf8_lossy(&output.stderr).trim().to_string(),
        })
    }
}

/// Removes a copied module tree, whose files the module cache made read-only.
fn make_writable_and_remove(dir: &Path) -> Result<()> {
    if !dir.exists() {
        return Ok(());
    }
    run(Command::new("chmod").arg("-R").arg("u+w").arg(dir))?;
    fs::remove_dir_all(dir).map_err(Error::io(dir))
}

/// An image archive written by [`build_image`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsiImage {
    /// The OCI archive, for [`import_image`].
    pub archive: PathBuf,
    /// Its digests and names ([`CSI_IMAGE`]).
    pub info: ImageInfo,
}

/// Builds [`CSI_IMAGE`]: busybox plus every CSI binary in `/bin`, no entrypoint (the manifests
/// set `command`). The archive goes to `<cache>/images/csi-<first digest bytes>.tar`; one already
/// there for the same binaries is reused.
///
/// # Errors
/// If busybox-static is missing, a binary is unreadable, or the archive cannot be written.
pub fn build_image(binaries: &CsiBinaries, cache: &AssetCache) -> Result<CsiImage> {
    let busybox = Path::new(images::BUSYBOX);
    if !busybox.is_file() {
        return Err(Error::MissingTool {
            tool: images::BUSYBOX.into(),
            hint: "install it with `apt-get install busybox-static`".into(),
        });
    }
    let mut image = images::busybox_image(busybox)?;
    let mut key = Sha256::new();
    key.update(CSI_IMAGE.as_bytes());
    let records = records(cache);
    for binary in CsiBinary::ALL {
        let path = binaries.path(binary);
        let sha = records
            .get(binary.binary_name())
            .map(|r| r.sha256.clone())
            .ok_or_else(|| Error::Image {
                what: format!("build {CSI_IMAGE}"),
                message: format!("{binary} is not built; call `csi::ensure_csi` first"),
            })?;
        key.update(sha.as_bytes());
        image = image.host_file(&format!("/bin/{}", binary.binary_name()), &path, 0o755);
    }
    let archive = cache
        .images_dir()
        .join(format!("csi-{}.tar", &hex(&key.finalize())[..16]));
    let names = vec![CSI_IMAGE.to_string()];
    let info = image.write_oci_archive(&names, &archive)?;
    Ok(CsiImage { archive, info })
}

/// Imports the image into the containerd at `containerd_socket` (for the local cluster,
/// `NodeLayout::containerd_socket`), with Debian's `/usr/bin/ctr`.
///
/// # Errors
/// If `ctr` fails; the error carries its stderr.
pub fn import_image(image: &CsiImage, containerd_socket: &Path) -> Result<()> {
    images::import(Path::new("/usr/bin/ctr"), containerd_socket, &image.archive)
}

/// The manifests' directory in this repository (`testing-manifests/storage-csi/hostpath`).
pub fn manifests_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("testing-manifests")
        .join("storage-csi")
        .join("hostpath")
}

/// The driver's manifests, in apply order. `snapshot-controller.yaml` is separate: the
/// snapshot controller runs once per cluster, however many drivers are deployed.
pub const DRIVER_MANIFESTS: [&str; 4] = [
    "rbac.yaml",
    "csi-driver.yaml",
    "controller.yaml",
    "node.yaml",
];

/// The snapshot controller's manifest (RBAC and Deployment).
pub const SNAPSHOT_CONTROLLER_MANIFEST: &str = "snapshot-controller.yaml";

/// The values substituted for the manifests' placeholders.
///
/// | placeholder | value |
/// |---|---|
/// | `TEST_NAMESPACE` | the namespace of the pods and service accounts |
/// | `DRIVER_NAME` | the CSI driver name; also names the cluster-scoped objects (CSIDriver, StorageClass, VolumeSnapshotClass, ClusterRoles) |
/// | `KUBELET_ROOT` | kubelet's `--root-dir` on the real node (`<state dir>/kubelet` for the local cluster) |
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostpathDeployment {
    /// Replaces `TEST_NAMESPACE`.
    pub namespace: String,
    /// Replaces `DRIVER_NAME`.
    pub driver_name: String,
    /// Replaces `KUBELET_ROOT`.
    pub kubelet_root: PathBuf,
}

impl HostpathDeployment {
    /// A deployment of [`DEFAULT_DRIVER_NAME`] into `namespace`.
    pub fn new(namespace: &str, kubelet_root: impl Into<PathBuf>) -> Self {
        Self {
            namespace: namespace.to_string(),
            driver_name: DEFAULT_DRIVER_NAME.to_string(),
            kubelet_root: kubelet_root.into(),
        }
    }

    /// The same deployment with another driver name (one per test lets tests run in parallel).
    pub fn driver_name(mut self, name: &str) -> Self {
        self.driver_name = name.to_string();
        self
    }

    /// The StorageClass the manifests create (named after the driver).
    pub fn storage_class(&self) -> &str {
        &self.driver_name
    }

    /// The VolumeSnapshotClass the manifests create (named after the driver).
    pub fn snapshot_class(&self) -> &str {
        &self.driver_name
    }

    /// `text` with every placeholder replaced.
    pub fn render(&self, text: &str) -> String {
        text.replace("KUBELET_ROOT", &self.kubelet_root.display().to_string())
            .replace("DRIVER_NAME", &self.driver_name)
            .replace("TEST_NAMESPACE", &self.namespace)
    }

    /// [`DRIVER_MANIFESTS`] from [`manifests_dir`], rendered and joined into one YAML stream.
    ///
    /// # Errors
    /// If a manifest is unreadable.
    pub fn render_all(&self) -> Result<String> {
        self.render_files(&DRIVER_MANIFESTS)
    }

    /// The snapshot controller's manifest, rendered (only `TEST_NAMESPACE` applies).
    ///
    /// # Errors
    /// If the manifest is unreadable.
    pub fn render_snapshot_controller(&self) -> Result<String> {
        self.render_files(&[SNAPSHOT_CONTROLLER_MANIFEST])
    }

    fn render_files(&self, names: &[&str]) -> Result<String> {
        let mut all = String::new();
        for name in names {
            let path = manifests_dir().join(name);
            let text = fs::read_to_string(&path).map_err(Error::io(&path))?;
            all.push_str("---\n");
            all.push_str(&self.render(&text));
            all.push('\n');
        }
        Ok(all)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_driver_module_is_embedded_with_its_checksums() {
        let go_mod = HOSTPATH_FILES[0].1;
        let go_sum = HOSTPATH_FILES[1].1;
        assert!(go_mod.contains("module kube-e2e/csi-hostpath"));
        for line in go_mod.lines().filter(|l| l.starts_with('\t')) {
            let module = line.split_whitespace().next().unwrap();
            assert!(go_sum.contains(module), "go.sum lacks {module}");
        }
        let source = CsiBinary::Hostpath.source_version();
        assert!(
            source.starts_with("kube-e2e/csi-hostpath@sha256:"),
            "{source}"
        );
    }

    #[test]
    fn sidecars_share_a_module_only_within_external_snapshotter() {
        assert_eq!(
            CsiBinary::Snapshotter.source(),
            CsiBinary::SnapshotController.source()
        );
        assert_ne!(CsiBinary::Provisioner.source(), CsiBinary::Resizer.source());
        assert_eq!(
            CsiBinary::Snapshotter.source_version(),
            format!("{SNAPSHOTTER_MODULE}@{SNAPSHOTTER_VERSION}")
        );
    }

    #[test]
    fn an_empty_cache_misses_every_binary() {
        let dir = tempfile::tempdir().unwrap();
        let cache = AssetCache::new(dir.path());
        assert_eq!(missing(&cache), CsiBinary::ALL.to_vec());
    }

    #[test]
    fn manifests_leave_no_placeholder_behind_and_use_the_image() {
        let deployment = HostpathDeployment::new("ns-1", "/tmp/state/kubelet").driver_name("d.csi");
        let yaml =
            deployment.render_all().unwrap() + &deployment.render_snapshot_controller().unwrap();
        for placeholder in ["KUBELET_ROOT", "DRIVER_NAME", "TEST_NAMESPACE"] {
            assert!(
                !yaml.contains(placeholder),
                "{placeholder} left in the manifests"
            );
        }
        assert!(yaml.contains(CSI_IMAGE));
        assert!(yaml.contains("/tmp/state/kubelet/plugins/d.csi/csi.sock"));
        assert!(yaml.contains("namespace: ns-1"));
    }
}
