//! Rebuilds the crate when a file is added to `manifests/`, which it embeds with
//! `kube_e2e::embed_test_files!` (editing an embedded file rebuilds it anyway).

fn main() {
    println!("cargo:rerun-if-changed=manifests");
}
