//! Simulated nodes: Node objects that kwok keeps Ready and whose pods it marks Running.
//!
//! No process runs per simulated node: kwok (started with the control plane, see
//! [`control_plane::components`](crate::control_plane::components)) manages every Node object
//! that carries [`KWOK_ANNOTATION`], and this module creates those objects.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Node;
use kube::Api;
use kube::api::{ObjectMeta, PostParams};

use crate::control_plane::components::{KWOK_ANNOTATION, KWOK_ANNOTATION_VALUE};
use crate::error::{Error, Result};

/// The label every simulated node carries.
pub const SIMULATED_LABEL: &str = "kube-e2e.io/simulated-node";

/// The name of simulated node `index`.
pub fn simulated_node_name(index: u32) -> String {
    format!("kwok-node-{index}")
}

/// The Node object of simulated node `index`.
pub fn simulated_node(index: u32) -> Node {
    let name = simulated_node_name(index);
    let labels = BTreeMap::from([
        ("kubernetes.io/hostname".to_string(), name.clone()),
        ("kubernetes.io/os".to_string(), "linux".to_string()),
        ("kubernetes.io/arch".to_string(), "amd64".to_string()),
        ("type".to_string(), "kwok".to_string()),
        (SIMULATED_LABEL.to_string(), "true".to_string()),
    ]);
    let annotations = BTreeMap::from([
        (
            KWOK_ANNOTATION.to_string(),
            KWOK_ANNOTATION_VALUE.to_string(),
        ),
        ("node.alpha.kubernetes.io/ttl".to_string(), "0".to_string()),
    ]);
    Node {
        metadata: ObjectMeta {
            name: Some(name),
            labels: Some(labels),
            annotations: Some(annotations),
            ..Default::default()
        },
        ..Default::default()
    }
}

/// Create the simulated nodes 0..`count` that do not exist yet. Beside a real node they are
/// tainted `kube-e2e.io/simulated-node=true:NoSchedule`, so that only pods that ask for a
/// simulated node land there.
///
/// # Errors
/// Fails if a node cannot be created.
pub async fn ensure_simulated(client: &kube::Client, count: u32, tainted: bool) -> Result<()> {
    let nodes: Api<Node> = Api::all(client.clone());
    for index in 0..count {
        let mut node = simulated_node(index);
        if tainted {
            node.spec = Some(k8s_openapi::api::core::v1::NodeSpec {
                taints: Some(vec![k8s_openapi::api::core::v1::Taint {
                    key: SIMULATED_LABEL.to_string(),
                    value: Some("true".to_string()),
                    effect: "NoSchedule".to_string(),
                    ..Default::default()
                }]),
                ..Default::default()
            });
        }
        match nodes.create(&PostParams::default(), &node).await {
            Ok(_) => {}
            Err(kube::Error::Api(status)) if status.code == 409 => {}
            Err(e) => {
                return Err(Error::kube(format!(
                    "create node {}",
                    simulated_node_name(index)
                ))(e));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simulated_nodes_are_selected_by_kwok_and_schedulable() {
        let node = simulated_node(1);
        assert_eq!(node.metadata.name.as_deref(), Some("kwok-node-1"));
        let annotations = node.metadata.annotations.unwrap();
        assert_eq!(annotations[KWOK_ANNOTATION], KWOK_ANNOTATION_VALUE);
        // No taint: ordinary pods schedule onto simulated nodes.
        assert!(node.spec.is_none_or(|s| s.taints.is_none()));
    }
}
