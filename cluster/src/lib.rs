//! `kube-e2e-cluster`: a real single-node Kubernetes cluster on this machine.
//!
//! The control plane is real — etcd, kube-apiserver, kube-controller-manager and
//! kube-scheduler, built from the Go module proxy and cached by version — and nodes are
//! simulated by kwok. The framework's `local` provider and the `kube-e2e-cluster` command both
//! use [`LocalCluster`].
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

pub mod assets;
mod cluster;
pub mod components;
pub mod csi;
mod error;
pub mod images;
pub mod kubeconfig;
pub mod node;
pub mod nodes;
pub mod pki;
pub mod process;
pub mod readiness;

pub use assets::{Asset, AssetCache};
pub use cluster::{
    ClusterOptions, ClusterState, ComponentStatus, Layout, LocalCluster, NodeMode, UpOutcome,
    client_from_kubeconfig, default_state_dir,
};
pub use error::{Error, Result};
