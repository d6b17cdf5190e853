//! The cache of built binaries: where they are, a manifest of what was built, and building
//! what is missing.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::catalogue::{Asset, KUBERNETES_VERSION, KWOK, KWOK_STAGES};
use super::checksum::hash_file;
use super::go::{find_go, ldflags, output_arg};
use crate::error::{Error, Result};
use crate::report::{Progress, format_duration, tail_of_file};

/// What the manifest records about one built binary.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AssetRecord {
    /// The module version it was built from.
    pub version: String,
    /// File size in bytes.
    pub size: u64,
    /// SHA-256 of the file, hex.
    pub sha256: String,
    /// How long the build took (shared by binaries built together).
    pub build_seconds: f64,
}

/// The cache of built binaries for one Kubernetes version.
#[derive(Debug, Clone)]
pub struct AssetCache {
    root: PathBuf,
}

impl AssetCache {
    /// The cache under `base` (normally [`default_cache_base`]).
    pub fn new(base: impl AsRef<Path>) -> Self {
        Self {
            root: base.as_ref().join(KUBERNETES_VERSION),
        }
    }

    /// The cache at the default location.
    pub fn at_default_location() -> Self {
        Self::new(default_cache_base())
    }

    /// The directory of the binaries.
    pub fn bin_dir(&self) -> PathBuf {
        self.root.join("bin")
    }

    /// The path of `asset`'s binary.
    pub fn path(&self, asset: Asset) -> PathBuf {
        self.bin_dir().join(asset.binary_name())
    }

    /// Where locally built image archives are kept.
    pub fn images_dir(&self) -> PathBuf {
        self.root.join("images")
    }

    /// The cache directory of this Kubernetes version (`bin/`, `images/`, sources, logs).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// kwok's stage configuration, written when kwok is built.
    pub fn kwok_stages(&self) -> PathBuf {
        self.root.join("kwok-stages.yaml")
    }

    fn manifest_path(&self) -> PathBuf {
        self.bin_dir().join("manifest.json")
    }

    fn read_manifest(&self) -> BTreeMap<String, AssetRecord> {
        fs::read(self.manifest_path())
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default()
    }

    fn write_manifest(&self, manifest: &BTreeMap<String, AssetRecord>) -> Result<()> {
        let path = self.manifest_path();
        let text = serde_json::to_string_pretty(manifest).expect("a manifest always serializes");
        fs::write(&path, text).map_err(Error::io(&path))
    }

    /// Whether `asset` is built for the current version and its file matches the manifest's
    /// size (a cheap check; [`AssetCache::verify`] hashes the file).
    pub fn is_cached(&self, asset: Asset) -> bool {
        let manifest = self.read_manifest();
        let Some(record) = manifest.get(asset.binary_name()) else {
            return false;
        };
        let extra_ok = asset != Asset::Kwok || self.kwok_stages().is_file();
        record.version == asset.module().version
            && fs::metadata(self.path(asset)).is_ok_and(|m| m.len() == record.size)
            && extra_ok
    }

    /// The assets of `wanted` that are not cached.
    pub fn missing(&self, wanted: &[Asset]) -> Vec<Asset> {
        wanted
            .iter()
            .copied()
            .filter(|a| !self.is_cached(*a))
            .collect()
    }

    /// Build every asset of `wanted` that is missing; report progress and durations.
    ///
    /// Holds a lock in the cache while building, so concurrent callers build each binary once.
    ///
    /// # Errors
    /// Fails if Go is missing, a build fails, or a built binary does not report its version.
    pub fn ensure(&self, wanted: &[Asset], progress: Progress<'_>) -> Result<()> {
        if self.missing(wanted).is_empty() {
            return Ok(());
        }
        fs::create_dir_all(self.bin_dir()).map_err(Error::io(self.bin_dir()))?;
        let lock_path = self.root.join("build.lock");
        let lock = fs::File::create(&lock_path).map_err(Error::io(&lock_path))?;
        lock.lock().map_err(Error::io(&lock_path))?;
        // Another process may have built them while we waited for the lock.
        let missing = self.missing(wanted);
        let mut groups: BTreeMap<&'static str, Vec<Asset>> = BTreeMap::new();
        for asset in missing {
            groups.entry(asset.module().name).or_default().push(asset);
        }
        for assets in groups.values() {
            self.build_group(assets, progress)?;
        }
        Ok(())
    }

    fn build_group(&self, assets: &[Asset], progress: Progress<'_>) -> Result<()> {
        let module = assets[0].module();
        let go = find_go()?;
        let src = self.root.join("src").join(module.name);
        fs::create_dir_all(&src).map_err(Error::io(&src))?;
        for (name, contents) in module.files {
            let path = src.join(name);
            fs::write(&path, contents).map_err(Error::io(&path))?;
        }
        let names: Vec<&str> = assets.iter().map(|a| a.binary_name()).collect();
        progress(&format!(
            "building {} from {}@{} (a cold build downloads modules and takes minutes)",
            names.join(", "),
            module.module,
            module.version
        ));
        let started = Instant::now();
        let out_dir = self.root.join("build-out");
        let _ = fs::remove_dir_all(&out_dir);
        fs::create_dir_all(&out_dir).map_err(Error::io(&out_dir))?;
        let log_path = self.root.join(format!("build-{}.log", module.name));
        let log = fs::File::create(&log_path).map_err(Error::io(&log_path))?;
        let mut command = Command::new(&go);
        command
            .current_dir(&src)
            .env("GOTOOLCHAIN", "local")
            .env("GOFLAGS", "-mod=mod")
            .env("CGO_ENABLED", "0")
            .arg("build")
            .arg("-trimpath")
            .arg("-ldflags")
            .arg(ldflags(module))
            .arg("-o")
            .arg(output_arg(&out_dir, assets))
            .args(assets.iter().map(|a| a.package()))
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(Error::io(&log_path))?)
            .stderr(log);
        let status = crate::process::run_build_step(&mut command).map_err(Error::io(&go))?;
        if !status.success() {
            return Err(Error::Build {
                binaries: names.join(", "),
                module: format!("{}@{}", module.module, module.version),
                status: status.to_string(),
                tail: tail_of_file(&log_path, 30),
            });
        }
        let seconds = started.elapsed().as_secs_f64();
        let mut manifest = self.read_manifest();
        for asset in assets {
            let built = out_dir.join(asset.binary_name());
            verify_version(*asset, &built)?;
            let target = self.path(*asset);
            fs::rename(&built, &target).map_err(Error::io(&target))?;
            let (size, sha256) = hash_file(&target)?;
            manifest.insert(
                asset.binary_name().to_string(),
                AssetRecord {
                    version: module.version.to_string(),
                    size,
                    sha256,
                    build_seconds: seconds,
                },
            );
            if *asset == Asset::Kwok {
                self.write_kwok_stages(&go)?;
            }
        }
        self.write_manifest(&manifest)?;
        let _ = fs::remove_dir_all(&out_dir);
        progress(&format!(
            "built {} in {}",
            names.join(", "),
            format_duration(Duration::from_secs_f64(seconds))
        ));
        Ok(())
    }

    fn write_kwok_stages(&self, go: &Path) -> Result<()> {
        let output = Command::new(go)
            .env("GOTOOLCHAIN", "local")
            .args(["mod", "download", "-json"])
            .arg(format!("{}@{}", KWOK.module, KWOK.version))
            .output()
            .map_err(Error::io(go))?;
        let info: serde_json::Value =
            serde_json::from_slice(&output.stdout).map_err(|e| Error::State {
                path: PathBuf::from("go mod download -json"),
                message: e.to_string(),
            })?;
        let dir = PathBuf::from(info["Dir"].as_str().unwrap_or_default());
        let mut all = String::new();
        for stage in KWOK_STAGES {
            let path = dir.join(stage);
            let text = fs::read_to_string(&path).map_err(Error::io(&path))?;
            all.push_str("---\n");
            all.push_str(&text);
            all.push('\n');
        }
        let target = self.kwok_stages();
        fs::write(&target, all).map_err(Error::io(&target))
    }

    /// Re-hash every cached asset of `wanted` and compare with the manifest; returns one line
    /// per asset.
    ///
    /// # Errors
    /// Fails if an asset is missing, damaged, or reports the wrong version.
    pub fn verify(&self, wanted: &[Asset]) -> Result<Vec<String>> {
        let manifest = self.read_manifest();
        let mut lines = Vec::new();
        for asset in wanted {
            let path = self.path(*asset);
            let record = manifest
                .get(asset.binary_name())
                .ok_or_else(|| Error::State {
                    path: self.manifest_path(),
                    message: format!("{asset} is not built; run `kube-e2e-cluster assets`"),
                })?;
            let (size, sha256) = hash_file(&path)?;
            if size != record.size || sha256 != record.sha256 {
                return Err(Error::State {
                    path,
                    message: format!(
                        "checksum mismatch: manifest says {} ({} bytes), file is {sha256} ({size} bytes)",
                        record.sha256, record.size
                    ),
                });
            }
            verify_version(*asset, &path)?;
            lines.push(format!(
                "{asset:<24} {:<9} sha256:{} ok",
                record.version,
                &sha256[..16]
            ));
        }
        Ok(lines)
    }

    /// The manifest's record of `asset`, if built.
    pub fn record(&self, asset: Asset) -> Option<AssetRecord> {
        self.read_manifest().remove(asset.binary_name())
    }
}

/// `$KUBE_E2E_CACHE_DIR`, else `$XDG_CACHE_HOME/kube-e2e`, else `~/.cache/kube-e2e`.
pub fn default_cache_base() -> PathBuf {
    if let Some(dir) = std::env::var_os("KUBE_E2E_CACHE_DIR") {
        return PathBuf::from(dir);
    }
    if let Some(dir) = std::env::var_os("XDG_CACHE_HOME") {
        return PathBuf::from(dir).join("kube-e2e");
    }
    home_dir().join(".cache").join("kube-e2e")
}

/// `$HOME`, else `/root`.
pub(crate) fn home_dir() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/root"))
}

fn verify_version(asset: Asset, binary: &Path) -> Result<()> {
    let (args, expected) = asset.version_probe();
    let output = Command::new(binary)
        .args(args)
        .output()
        .map_err(Error::io(binary))?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    if text.contains(&expected) {
        Ok(())
    } else {
        Err(Error::Verify {
            binary: binary.to_path_buf(),
            expected,
            actual: text.trim().lines().next().unwrap_or_default().to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_cache_misses_everything_and_a_damaged_binary_counts_as_missing() {
        let dir = tempfile::tempdir().unwrap();
        let cache = AssetCache::new(dir.path());
        assert_eq!(cache.missing(&Asset::ALL), Asset::ALL.to_vec());
        fs::create_dir_all(cache.bin_dir()).unwrap();
        fs::write(cache.path(Asset::Kubectl), b"12345").unwrap();
        let mut manifest = BTreeMap::new();
        manifest.insert(
            "kubectl".to_string(),
            AssetRecord {
                version: KUBERNETES_VERSION.into(),
                size: 5,
                sha256: "x".into(),
                build_seconds: 1.0,
            },
        );
        cache.write_manifest(&manifest).unwrap();
        assert!(cache.is_cached(Asset::Kubectl));
        fs::write(cache.path(Asset::Kubectl), b"123").unwrap();
        assert!(
            !cache.is_cached(Asset::Kubectl),
            "a truncated binary must be rebuilt"
        );
        let error = cache.verify(&[Asset::Kubectl]).unwrap_err().to_string();
        assert!(error.contains("checksum mismatch"), "{error}");
    }
}
