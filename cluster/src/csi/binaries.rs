//! Building the CSI binaries: this project's driver from its embedded Go module, the sidecars
//! from the Go module proxy, each recorded in `csi-manifest.json`; and the snapshot CRDs.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::assets::{AssetCache, find_go, hash_file, hex};
use crate::error::{Error, Result};
use crate::report::{Progress, format_duration, tail_of_file};

/// `external-snapshotter`'s version: the sidecar, the snapshot controller and the CRDs.
pub const SNAPSHOTTER_VERSION: &str = "v8.7.0";

const SNAPSHOTTER_MODULE: &str = "github.com/kubernetes-csi/external-snapshotter/v8";
const SNAPSHOTTER_CLIENT_MODULE: &str = "github.com/kubernetes-csi/external-snapshotter/client/v8";

/// The driver's embedded Go module.
const HOSTPATH_FILES: &[(&str, &str)] = &[
    ("go.mod", include_str!("../../go/csi-hostpath/go.mod")),
    ("go.sum", include_str!("../../go/csi-hostpath/go.sum")),
    ("main.go", include_str!("../../go/csi-hostpath/main.go")),
    ("state.go", include_str!("../../go/csi-hostpath/state.go")),
    (
        "controller.go",
        include_str!("../../go/csi-hostpath/controller.go"),
    ),
    ("node.go", include_str!("../../go/csi-hostpath/node.go")),
    (
        "registration.go",
        include_str!("../../go/csi-hostpath/registration.go"),
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
}
