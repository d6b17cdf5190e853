//! Importing archives into containerd with `ctr`.

use std::path::Path;
use std::process::Command;

use super::CRI_NAMESPACE;
use super::archive::image_error;
use crate::{Error, Result};

/// Imports `archive` into the CRI namespace of the containerd at `containerd_socket`, under
/// the names it carries, and unpacks it into the default snapshotter. The CRI plugin must be
/// running for kubelet to see the image.
///
/// # Errors
///
/// If `ctr` cannot be started or fails; the error carries its stderr.
pub fn import(ctr: &Path, containerd_socket: &Path, archive: &Path) -> Result<()> {
    let what = format!(
        "import {} into the containerd at {}",
        archive.display(),
        containerd_socket.display()
    );
    let args = [
        "images".as_ref(),
        "import".as_ref(),
        "--all-platforms".as_ref(),
        archive.as_os_str(),
    ];
    run_ctr(ctr, containerd_socket, &args, what).map(drop)
}

/// The image references in the CRI namespace of the containerd at `containerd_socket`: the
/// names, plus the `sha256:<image ID>` references the CRI plugin adds for images it manages.
///
/// # Errors
///
/// If `ctr` cannot be started or fails; the error carries its stderr.
pub fn list(ctr: &Path, containerd_socket: &Path) -> Result<Vec<String>> {
    let what = format!(
        "list images in the containerd at {}",
        containerd_socket.display()
    );
    let out = run_ctr(
        ctr,
        containerd_socket,
        &["images".as_ref(), "ls".as_ref(), "-q".as_ref()],
        what,
    )?;
    Ok(out
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect())
}

pub(super) fn run_ctr(
    ctr: &Path,
    socket: &Path,
    args: &[&std::ffi::OsStr],
    what: String,
) -> Result<String> {
    let output = Command::new(ctr)
        .arg("--address")
        .arg(socket)
        .args(["--namespace", CRI_NAMESPACE])
        .args(args)
        .output()
        .map_err(|source| Error::Spawn {
            component: "ctr".into(),
            binary: ctr.to_path_buf(),
            source,
        })?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        return Err(image_error(
            what,
            format!("ctr {}: {}", output.status, stderr.trim()),
        ));
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}
