//! Example suites for `kube-e2e`; the suites are test targets (`tests/`), this library holds
//! what they share.
//!
//! `cargo test -p kube-e2e-examples --test quickstart` runs the quickstart against the local
//! cluster, starting it when no kubeconfig is given; `--test conformance` runs the conformance
//! suite (see `docs/conformance.md`), whose `--in-cluster-shards N` runs it inside the cluster
//! through [`in_cluster`].

pub mod in_cluster;
