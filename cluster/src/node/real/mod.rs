//! The real node: containerd, kubelet and kube-proxy in a network namespace of their own.
//!
//! The node lives in a network namespace joined to the host by a veth pair: the host end
//! carries the API server's advertised address, the node end the node's address. Everything
//! the node changes — bridge, iptables rules, sysctls — stays inside that namespace, and
//! deleting the namespace removes it. Pods run in a cgroup subtree of their own and containerd
//! (with its shims) in a cgroup beside it, so `down` can find and remove every process and
//! cgroup the node created.
//!
//! Inside, by concept:
//!
//! - `packages`: the Debian packages the node needs ([`ensure_packages`]).
//! - `network`: the node's network namespace and veth pair ([`NodeNetwork`]).
//! - `cgroup`: the cgroups that hold the node's pods and its runtime (containerd and its
//!   shims), by which `down` finds every process the node started ([`NodeNetwork::cgroup_pids`],
//!   [`NodeNetwork::runtime_pids`], [`kill_cgroups`]).
//! - `config`: the configuration files of containerd, CNI, kubelet and kube-proxy
//!   ([`write_configs`], [`containerd_config`]).
//! - `components`: the command lines of containerd, kubelet and kube-proxy
//!   ([`containerd_spec`], [`agent_specs`]).
//! - `teardown`: removing what the node leaves outside its namespace and cgroups: mounts,
//!   pod network namespaces, shim sockets, log links ([`unmount_under`], …).
//!
//! The node's directories inside the state directory are [`NodeLayout`](crate::NodeLayout).

mod cgroup;
mod command;
mod components;
mod config;
mod network;
mod packages;
mod teardown;

pub use cgroup::{cgroup_hierarchies, cgroups_for, kill_cgroups};
pub use components::{agent_specs, containerd_spec};
pub use config::{containerd_config, write_configs};
pub use network::{MAX_REAL_NODES, NodeNetwork, node_name};
pub use packages::{PACKAGES, ensure_packages};
pub use teardown::{
    mounts_under, remove_container_log_links, remove_pod_netns, remove_shim_sockets, shim_sockets,
    unmount_under,
};

/// The name of the real node.
pub const NODE_NAME: &str = "kube-e2e-node";
/// The pod range of a real node whose state predates per-cluster ranges (inside
/// [`POD_CIDR`](crate::control_plane::components::POD_CIDR)); a new node's range is
/// [`NodeNetwork::pod_cidr`].
pub const NODE_POD_CIDR: &str = "10.244.128.0/24";
