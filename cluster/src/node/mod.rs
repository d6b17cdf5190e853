//! The cluster's nodes, of two kinds.
//!
//! - [`simulated`]: Node objects kept Ready by kwok. Scheduling works and pods are marked
//!   Running, but no container runs; they cost nothing, so a cluster can have many
//!   ([`ClusterOptions::simulated_nodes`](crate::ClusterOptions::simulated_nodes())).
//! - [`real`]: one node, [`NODE_NAME`](real::NODE_NAME), where containers really run —
//!   containerd, kubelet and kube-proxy in a network namespace of their own (needs root).
//!   Started with [`NodeMode::Real`](crate::NodeMode::Real); beside it the simulated nodes are
//!   tainted, so that only pods that ask for a simulated node land there.

pub mod real;
pub mod simulated;
