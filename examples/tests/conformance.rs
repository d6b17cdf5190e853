//! The conformance suite: specs written for this project that check behaviours upstream's
//! conformance tests check — API machinery (namespaces, ConfigMaps, Secrets, Leases, Events,
//! CRDs, watch, selectors, server-side apply, dry-run, optimistic concurrency, garbage
//! collection, finalizers, discovery) and pod behaviours on a real node that need only busybox.
//! Every spec is `[Conformance]` with testname, description and release metadata.
//!
//! ```sh
//! cargo test -p kube-e2e-examples --test conformance -- --label-filter Conformance --report-dir DIR
//! cargo test -p kube-e2e-examples --test conformance -- --list-conformance
//! cargo test -p kube-e2e-examples --test conformance -- --mode quick
//! cargo test -p kube-e2e-examples --test conformance -- --in-cluster-shards 2 --report-dir DIR
//! ```
//!
//! `--in-cluster-shards N` (handled here, before the framework's flags) runs the suite inside
//! the cluster as an Indexed Job of N shards; see `docs/conformance.md`.

#[path = "conformance/api_machinery.rs"]
mod api_machinery;
#[path = "conformance/pods.rs"]
mod pods;
#[path = "conformance/support.rs"]
mod support;

kube_e2e::specs!(api_machinery::specs);
kube_e2e::specs!(pods::specs);

// `kube_e2e::main!` also handles `--in-cluster-shards N`.
kube_e2e::main!();
