//! The CSI image: busybox plus the driver and every sidecar, built locally and imported into
//! the real node's containerd.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::binaries::{CsiBinaries, CsiBinary, records};
use crate::assets::{AssetCache, hex};
use crate::error::{Error, Result};
use crate::images::{self, ImageInfo};

/// The image holding the driver and every sidecar; the manifests name it and set `command`.
pub const CSI_IMAGE: &str = "localhost/kube-e2e/csi:0.1.0";

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
