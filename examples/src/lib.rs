//! Example suites for `kube-e2e`; the suites are test targets (`tests/`).
//!
//! `cargo test -p kube-e2e-examples --test quickstart` runs the quickstart against the local
//! cluster, starting it when no kubeconfig is given; `--test conformance` runs the conformance
//! suite (see `docs/conformance.md`), whose `--in-cluster-shards N` runs it inside the cluster
//! (`kube_e2e::in_cluster`).
