//! The control plane: its components, the PKI every component authenticates with, and the
//! kubeconfigs that carry those credentials.
//!
//! - [`components`]: the command lines of etcd, kube-apiserver, kube-controller-manager,
//!   kube-scheduler and kwok, the ports they listen on and the service and pod ranges.
//! - [`pki`]: one CA (generated in Rust) that signs every serving and client certificate,
//!   including those of the real node's kubelet and kube-proxy.
//! - [`kubeconfig`]: one self-contained kubeconfig per client identity, written readable by its
//!   owner only.
//!
//! Starting the components, in order and with readiness checks, is
//! [`LocalCluster::up`](crate::LocalCluster::up)'s job.

pub mod components;
pub mod kubeconfig;
pub mod pki;
