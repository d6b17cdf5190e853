//! The cluster's binaries: built from the Go module proxy, verified, cached by version.
//!
//! Each binary comes from a wrapper Go module committed in `cluster/go/` and embedded in this
//! crate, so a built `kube-e2e-cluster` can rebuild its assets anywhere. Binaries land in
//! `<cache>/<kubernetes version>/bin`; a manifest next to them records each binary's source
//! version, size and SHA-256, so a stale or damaged binary is rebuilt rather than used.
//!
//! Inside: `catalogue` (the versions, the Go modules and the [`Asset`]s they build), `cache`
//! (the [`AssetCache`] and its manifest; building what is missing), `go` (running the Go
//! toolchain) and `checksum` (file digests for the manifests).

mod cache;
mod catalogue;
mod checksum;
mod go;

pub(crate) use cache::home_dir;
pub use cache::{AssetCache, AssetRecord, default_cache_base};
pub use catalogue::{Asset, ETCD_VERSION, GoModule, KUBERNETES_VERSION, KWOK_VERSION};
pub(crate) use checksum::{hash_file, hex};
pub(crate) use go::find_go;
