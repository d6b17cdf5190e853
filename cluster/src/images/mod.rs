//! Container images built locally, without a registry.
//!
//! The local cluster never pulls: every image a manifest names is built here as a single-layer
//! OCI image-layout archive and imported into the node's containerd (namespace `k8s.io`, where
//! the CRI plugin, and so kubelet, sees it) under the exact names the manifests use.
//! Archives are deterministic — mtime 0, owner root, sorted entries, a fixed `created` time —
//! so the same inputs always give the same image ID.
//!
//! ```no_run
//! use std::path::Path;
//! use kube_e2e_cluster::images::{self, ImageBuilder};
//!
//! # fn run() -> kube_e2e_cluster::Result<()> {
//! let driver = images::busybox_image(Path::new(images::BUSYBOX))?
//!     .host_file("/bin/hostpath-plugin", Path::new("/opt/csi/hostpath-plugin"), 0o755)
//!     .entrypoint(vec!["/bin/hostpath-plugin".into()]);
//! let names = ["localhost/kube-e2e/hostpath-plugin:1.0".to_string()];
//! let info = driver.write_oci_archive(&names, Path::new("/var/tmp/hostpath-plugin.tar"))?;
//! images::import(Path::new("/usr/bin/ctr"), Path::new("/run/node/containerd.sock"),
//!     Path::new("/var/tmp/hostpath-plugin.tar"))?;
//! println!("imported {} as {}", info.config_digest, names[0]);
//! # Ok(()) }
//! ```
//!
//! Everything here is synchronous and fast (a busybox image builds in well under a second);
//! from async code, call it through `tokio::task::spawn_blocking` if that matters.

mod agnhost;
mod archive;
mod catalogue;
mod ctr;
mod debian;
mod host;
#[cfg(test)]
mod tests;

pub use agnhost::{
    AGNHOST_IMAGE, AGNHOST_TOOLS, JESSIE_DNSUTILS_IMAGE, agnhost_image, jessie_dnsutils_image,
};
pub use archive::{ImageBuilder, ImageInfo};
pub use catalogue::{
    BuiltImage, LocalImage, build_node_images, build_standard, busybox_image, coredns_image,
    node_images, pause_image, standard_images,
};
pub use ctr::{import, list};
pub use debian::{HTTPD_IMAGES, NGINX_IMAGES, httpd_image, nginx_image, unpacked};
pub use host::shared_libraries;

/// Where Debian's `busybox-static` installs busybox.
pub const BUSYBOX: &str = "/bin/busybox";

/// The sandbox ("pause") image; containerd's `sandbox_image` and kubelet should name this.
pub const SANDBOX_IMAGE: &str = "registry.k8s.io/pause:3.10.1";

/// The busybox image the upstream e2e tests use.
pub const E2E_BUSYBOX_IMAGE: &str = "registry.k8s.io/e2e-test-images/busybox:1.37.0-1";

/// The containerd namespace of the CRI plugin: images imported elsewhere are invisible to kubelet.
pub const CRI_NAMESPACE: &str = "k8s.io";

/// The pause image's entrypoint: sleeps forever and exits 0 on SIGTERM or SIGINT (as PID 1,
/// a signal without a handler would be ignored).
pub const PAUSE_ENTRYPOINT: [&str; 3] = [
    "/bin/sh",
    "-c",
    "trap 'exit 0' TERM INT; while :; do sleep 3600 & wait; done",
];
