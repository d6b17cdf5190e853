//! Shared by the framework's cluster tests: the `cluster-fixture` example they run as a child
//! process, and the objects a run leaves behind, found by its run label.

// Each test binary uses only some of these helpers.
#![allow(dead_code)]

use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding};
use k8s_openapi::api::storage::v1::StorageClass;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, ListParams};
use std::path::{Path, PathBuf};
use std::process::Output;

/// The `cluster-fixture` example, built by `cargo test` beside the test binaries.
pub fn fixture() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target profile dir");
    let path = dir.join("examples").join("cluster-fixture");
    assert!(
        path.exists(),
        "{} is missing; `cargo test` builds examples",
        path.display()
    );
    path
}

/// A child's stdout and stderr together.
pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Names of the objects of kind `K` carrying the label `e2e-run=<run_id>`.
pub async fn labelled<K>(api: Api<K>, run_id: &str) -> Vec<String>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    try_labelled(api, run_id).await.expect("list")
}

async fn try_labelled<K>(api: Api<K>, run_id: &str) -> kube::Result<Vec<String>>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    Ok(api
        .list_metadata(&ListParams::default().labels(&format!("e2e-run={run_id}")))
        .await?
        .items
        .into_iter()
        .filter_map(|o| o.metadata.name)
        .collect())
}

/// Namespaces, CRDs, cluster roles and bindings, storage classes carrying the run label.
pub async fn leftovers(c: &kube::Client, run_id: &str) -> Vec<String> {
    try_leftovers(c, run_id).await.expect("list")
}

/// [`leftovers`], or the error of a list call (the API server may be away).
pub async fn try_leftovers(c: &kube::Client, run_id: &str) -> kube::Result<Vec<String>> {
    let mut all = try_labelled(Api::<Namespace>::all(c.clone()), run_id).await?;
    all.extend(try_labelled(Api::<CustomResourceDefinition>::all(c.clone()), run_id).await?);
    all.extend(try_labelled(Api::<ClusterRole>::all(c.clone()), run_id).await?);
    all.extend(try_labelled(Api::<ClusterRoleBinding>::all(c.clone()), run_id).await?);
    all.extend(try_labelled(Api::<StorageClass>::all(c.clone()), run_id).await?);
    Ok(all)
}
