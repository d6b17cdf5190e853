//! Running the Go toolchain: finding `go` and the flags of a build.

use std::path::{Path, PathBuf};

use super::catalogue::{AGNHOST_VERSION, Asset, GoModule, KUBERNETES, KUBERNETES_VERSION};
use crate::error::{Error, Result};

/// `-ldflags` for `module`: stripped, and for Kubernetes the version stamps `--version` prints
/// (agnhost's is its image version, in its `main` package).
pub(super) fn ldflags(module: &GoModule) -> String {
    if module.name != KUBERNETES.name {
        return "-s -w".to_string();
    }
    let v = KUBERNETES_VERSION;
    let minor = v.split('.').nth(1).unwrap_or("0");
    let mut flags = vec!["-s".to_string(), "-w".to_string()];
    for pkg in [
        "k8s.io/component-base/version",
        "k8s.io/client-go/pkg/version",
    ] {
        flags.push(format!("-X {pkg}.gitVersion={v}"));
        flags.push(format!("-X {pkg}.gitMajor=1"));
        flags.push(format!("-X {pkg}.gitMinor={minor}"));
        flags.push(format!("-X {pkg}.gitTreeState=clean"));
    }
    flags.push(format!("-X main.Version={AGNHOST_VERSION}"));
    flags.join(" ")
}

/// With several packages `-o dir/` names each binary after its package; a single package
/// is named explicitly, because a module root such as `etcd/server/v3` would become `server`.
pub(super) fn output_arg(out_dir: &Path, assets: &[Asset]) -> String {
    match assets {
        [single] => out_dir.join(single.binary_name()).display().to_string(),
        _ => format!("{}/", out_dir.display()),
    }
}

/// The `go` binary: on `PATH`, else in the usual install directories.
///
/// # Errors
/// [`Error::MissingTool`] when Go is not installed.
pub(crate) fn find_go() -> Result<PathBuf> {
    let candidates = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .chain([
            PathBuf::from("/usr/local/go/bin"),
            PathBuf::from("/usr/lib/go/bin"),
        ]);
    for dir in candidates {
        let go = dir.join("go");
        if go.is_file() {
            return Ok(go);
        }
    }
    Err(Error::MissingTool {
        tool: "go".into(),
        hint: "install Go 1.26 or newer (the binaries are built from the Go module proxy; the CSI sidecars declare go 1.26.0)".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::assets::catalogue::ETCD;

    #[test]
    fn ldflags_stamp_the_real_version() {
        let flags = ldflags(&KUBERNETES);
        assert!(flags.contains(&format!(
            "k8s.io/component-base/version.gitVersion={KUBERNETES_VERSION}"
        )));
        assert!(flags.contains("version.gitMinor=34"));
        assert!(flags.contains(&format!("main.Version={AGNHOST_VERSION}")));
        assert_eq!(ldflags(&ETCD), "-s -w");
    }
}
