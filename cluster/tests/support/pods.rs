//! Namespaces and pods on the shared cluster's real node, for the tests that run containers.

use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::api::{DeleteParams, PostParams};
use kube::{Api, Client};
use serde_json::{Value, json};

use super::{eventually, unique};

/// Upstream's e2e busybox image, as the local cluster imports it.
pub const BUSYBOX: &str = "registry.k8s.io/e2e-test-images/busybox:1.37.0-1";
/// The real node.
pub const NODE: &str = "kube-e2e-node";

/// Creates a namespace named after `base` and waits for its default ServiceAccount.
pub async fn namespace(client: &Client, base: &str) -> String {
    let name = unique(base);
    let namespaces: Api<Namespace> = Api::all(client.clone());
    namespaces
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": name}})).unwrap(),
        )
        .await
        .unwrap();
    let accounts: Api<k8s_openapi::api::core::v1::ServiceAccount> =
        Api::namespaced(client.clone(), &name);
    eventually("the default ServiceAccount", 60, || async {
        accounts.get_opt("default").await.map_err(|e| e.to_string())
    })
    .await;
    name
}

/// Deletes namespace `name` (not waiting).
pub async fn drop_namespace(client: &Client, name: &str) {
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let _ = namespaces.delete(name, &DeleteParams::default()).await;
}

/// A pod on the real node, labelled `app: name`, with a 1 s grace period.
pub fn pod(name: &str, spec: Value) -> Pod {
    let mut spec = spec;
    spec["nodeName"] = json!(NODE);
    spec["terminationGracePeriodSeconds"] = json!(1);
    serde_json::from_value(
        json!({"metadata": {"name": name, "labels": {"app": name}}, "spec": spec}),
    )
    .unwrap()
}

/// A busybox container running `script` with `sh -c`.
pub fn busybox(name: &str, script: &str) -> Value {
    json!({"name": name, "image": BUSYBOX, "command": ["sh", "-c", script]})
}

/// Waits up to `seconds` for pod `name` to reach phase `wanted`.
pub async fn phase_of(pods: &Api<Pod>, name: &str, wanted: &str, seconds: u64) -> Pod {
    eventually(
        &format!("pod {name} to reach {wanted}"),
        seconds,
        || async {
            let pod = pods.get(name).await.map_err(|e| e.to_string())?;
            let phase = pod
                .status
                .as_ref()
                .and_then(|s| s.phase.clone())
                .unwrap_or_default();
            if phase == wanted {
                Ok(Some(pod))
            } else {
                let reasons: Vec<String> = pod
                    .status
                    .as_ref()
                    .and_then(|s| s.container_statuses.clone())
                    .unwrap_or_default()
                    .iter()
                    .filter_map(|c| c.state.as_ref()?.waiting.as_ref()?.reason.clone())
                    .collect();
                Err(format!("phase {phase} {reasons:?}"))
            }
        },
    )
    .await
}
