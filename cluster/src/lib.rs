//! `kube-e2e-cluster`: a local Kubernetes cluster on this machine — a real control plane with
//! nodes simulated by kwok and, optionally, one real node.
//!
//! The control plane is real — etcd, kube-apiserver, kube-controller-manager and
//! kube-scheduler, built from the Go module proxy and cached by version. Nodes are simulated by
//! kwok (scheduling works, containers do not run); with [`NodeMode::Real`] (root only) one real
//! node joins them: containerd, kubelet and kube-proxy in a network namespace of their own. The
//! framework's `local` provider and the `kube-e2e-cluster` command both use [`LocalCluster`].
//!
//! ```no_run
//! use kube_e2e_cluster::{ClusterOptions, LocalCluster};
//!
//! # async fn run() -> Result<(), kube_e2e_cluster::Error> {
//! let options = ClusterOptions::new().simulated_nodes(2);
//! let (cluster, _outcome) = LocalCluster::up(&options, &mut |line| println!("{line}")).await?;
//! let client = cluster.client().await?;
//! println!("kubeconfig: {}", cluster.kubeconfig_path().display());
//! # drop(client);
//! LocalCluster::down(cluster.state_dir())?;
//! # Ok(()) }
//! ```
//!
//! # Modules
//!
//! - [`LocalCluster`] (up, status, stop and start components, down) and its options.
//! - [`control_plane`]: the components' command lines, the PKI and the kubeconfigs.
//! - [`node`]: the nodes — [`node::simulated`] (kwok) and [`node::real`] (containerd, kubelet,
//!   kube-proxy).
//! - [`layout`]: where every file lives inside the state directory.
//! - [`assets`]: the binaries, built from the Go module proxy and cached.
//! - [`process`]: component processes, started detached and found again by PID.
//! - [`readiness`]: waiting until the cluster is usable.
//! - [`images`]: container images built locally, without a registry.
//! - [`csi`]: the project's CSI hostpath driver, its sidecars, image and manifests.
//! - [`dns`]: the cluster's DNS (CoreDNS) on the real node.
//! - [`report`]: progress lines, durations and log tails.

pub mod assets;
pub mod control_plane;
pub mod csi;
pub mod dns;
mod error;
pub mod images;
pub mod layout;
mod local_cluster;
pub mod node;
pub mod process;
pub mod readiness;
pub mod report;

pub use assets::{Asset, AssetCache};
pub use control_plane::kubeconfig::client_from_kubeconfig;
pub use error::{Error, Result};
pub use layout::{Layout, NodeLayout};
pub use local_cluster::{
    ClusterOptions, ClusterState, ComponentStatus, LocalCluster, NodeMode, UpOutcome,
    default_state_dir,
};
