//! The real node's processes: containerd, kubelet and kube-proxy, all in the node's network
//! namespace.

use std::path::PathBuf;

use super::network::NodeNetwork;
use crate::assets::{Asset, AssetCache};
use crate::layout::{Layout, NodeLayout};
use crate::process::ComponentSpec;

/// The node's processes, in start order: containerd, then (after images are imported)
/// kubelet and kube-proxy. All run in the node's network namespace, with the node's own
/// `layout` ([`NodeNetwork::layout`]); names carry the node's
/// [suffix](NodeNetwork::component_suffix).
pub fn containerd_spec(layout: &Layout, network: &NodeNetwork) -> ComponentSpec {
    let node = NodeLayout::new(layout);
    ComponentSpec {
        name: format!("containerd{}", network.component_suffix()),
        binary: PathBuf::from("/usr/bin/containerd"),
        args: vec![
            "--config".into(),
            node.containerd().join("config.toml").display().to_string(),
        ],
        env: Vec::new(),
        log: layout.log("containerd"),
        netns: Some(network.netns_path()),
        cgroups: network.runtime_cgroup_dirs(),
    }
}

/// kubelet and kube-proxy.
pub fn agent_specs(
    cache: &AssetCache,
    layout: &Layout,
    network: &NodeNetwork,
) -> Vec<ComponentSpec> {
    let node = NodeLayout::new(layout);
    vec![
        ComponentSpec {
            name: format!("kubelet{}", network.component_suffix()),
            binary: cache.path(Asset::Kubelet),
            args: vec![
                format!("--config={}", node.config("kubelet.yaml").display()),
                format!("--kubeconfig={}", layout.kubeconfig("kubelet").display()),
                format!("--hostname-override={}", network.name),
                format!("--node-ip={}", network.node_ip),
                format!("--root-dir={}", node.kubelet_root().display()),
                "--v=1".into(),
            ],
            env: Vec::new(),
            log: layout.log("kubelet"),
            netns: Some(network.netns_path()),
            cgroups: Vec::new(),
        },
        ComponentSpec {
            name: format!("kube-proxy{}", network.component_suffix()),
            binary: cache.path(Asset::KubeProxy),
            args: vec![format!(
                "--config={}",
                node.config("kube-proxy.yaml").display()
            )],
            env: Vec::new(),
            log: layout.log("kube-proxy"),
            netns: Some(network.netns_path()),
            cgroups: Vec::new(),
        },
    ]
}
