//! Rebuilds the suites when a file is added to the repository's `testing-manifests/`, which
//! they embed with `kube_e2e::embed_test_files!` (editing an embedded file rebuilds them anyway).

fn main() {
    println!("cargo:rerun-if-changed=../testing-manifests");
}
