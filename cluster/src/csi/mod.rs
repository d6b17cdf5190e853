//! The csi-hostpath driver and its sidecars: binaries, one container image, manifests.
//!
//! The driver, `kube-e2e-hostpath`, is this project's own (Go module `cluster/go/csi-hostpath`,
//! embedded in the crate): volumes are directories on the real node, snapshots tar archives,
//! and it registers itself with kubelet, so no node-driver-registrar is needed. The sidecars
//! (external-provisioner, external-resizer, external-snapshotter and the snapshot controller)
//! are built from the Go module proxy as main modules, so their own `replace` lines apply.
//! Everything is cached in [`AssetCache::bin_dir`](crate::AssetCache::bin_dir) with its own manifest, `csi-manifest.json`.
//!
//! ```no_run
//! use kube_e2e_cluster::AssetCache;
//! use kube_e2e_cluster::csi::{self, HostpathDeployment};
//!
//! # fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let cache = AssetCache::at_default_location();
//! let binaries = csi::ensure_csi(&cache, &mut |line| eprintln!("{line}"))?;
//! let archive = csi::build_image(&binaries, &cache)?;
//! csi::import_image(&archive, "/tmp/cluster/containerd/containerd.sock".as_ref())?;
//! // The driver's manifests come with kube-e2e-storage (`manifests/storage-csi/hostpath/`).
//! let rbac = std::fs::read_to_string("storage-suite/manifests/storage-csi/hostpath/rbac.yaml")?;
//! let deployment = HostpathDeployment::new("csi-ns", "/tmp/cluster/kubelet");
//! let yaml = deployment.render_stream([rbac.as_str()]);
//! # drop(yaml); Ok(()) }
//! ```
//!
//! Inside: `binaries` (building and recording the binaries and the snapshot CRDs), `image`
//! (the one image that holds them) and `manifests` (filling the placeholders of the driver's
//! manifests, which the storage crate ships).

mod binaries;
mod image;
mod manifests;

pub use binaries::{
    CsiBinaries, CsiBinary, CsiRecord, SNAPSHOTTER_VERSION, ensure_csi, missing, records,
};
pub use image::{CSI_IMAGE, CsiImage, build_image, import_image};
pub use manifests::{DEFAULT_DRIVER_NAME, HostpathDeployment, TOPOLOGY_KEY};
