//! Example suites for `kube-e2e`; the suites are test targets (`tests/`), this library is empty.
//!
//! `cargo test -p kube-e2e-examples --test quickstart` runs the quickstart against the local
//! cluster, starting it when no kubeconfig is given.
