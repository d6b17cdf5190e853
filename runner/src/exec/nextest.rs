//! `cargo nextest`, which runs every spec in a process of its own: where its binary is, so that
//! tools and this project's own tests can run suites under it on a machine where it was never
//! installed by hand.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The `cargo-nextest` binary: the one on `PATH`, else the one in the cache directory
/// (`KUBE_E2E_CACHE_DIR`, else `~/.cache/kube-e2e`) under `tools/bin`, installed there from
/// crates.io with `cargo install --locked` the first time (several minutes on two cores).
///
/// # Errors
///
/// No `HOME`, or the installation failed (with cargo's output).
pub fn cargo_nextest() -> Result<PathBuf, String> {
    if let Some(path) = on_path("cargo-nextest") {
        return Ok(path);
    }
    let cache = match std::env::var_os("KUBE_E2E_CACHE_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(std::env::var_os("HOME").ok_or("HOME is not set")?)
            .join(".cache/kube-e2e"),
    };
    let root = cache.join("tools");
    let bin = root.join("bin").join("cargo-nextest");
    if bin.is_file() {
        return Ok(bin);
    }
    eprintln!("installing cargo-nextest into {}", root.display());
    let out = Command::new("cargo")
        .args(["install", "cargo-nextest", "--locked", "--root"])
        .arg(&root)
        .output()
        .map_err(|e| format!("failed to run cargo: {e}"))?;
    if !out.status.success() || !bin.is_file() {
        return Err(format!(
            "failed to install cargo-nextest into {}: {}",
            root.display(),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(bin)
}

/// `PATH` with the directory of `binary` in front, so that `cargo nextest` finds it.
pub fn path_with(binary: &Path) -> OsString {
    let mut dirs: Vec<PathBuf> = binary.parent().map(Path::to_path_buf).into_iter().collect();
    dirs.extend(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    ));
    std::env::join_paths(dirs).unwrap_or_default()
}

fn on_path(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}
