//! The real node's configuration files: containerd, CNI, kubelet and kube-proxy.
//!
//! Every path in them points into the state directory ([`NodeLayout`]), so two clusters never
//! share a file.

use std::fs;
use std::path::Path;

use super::network::NodeNetwork;
use crate::control_plane::components::POD_CIDR;
use crate::error::{Error, Result};
use crate::layout::{Layout, NodeLayout, containerd_socket_in};

/// The text of containerd's `config.toml` for a containerd that keeps everything under
/// `containerd_dir` (`root/`, `state/`, `runc/`, and its socket, see
/// [`containerd_socket_in`]), finds CNI configuration in `cni_conf` and starts pods with
/// `sandbox_image`.
pub fn containerd_config(containerd_dir: &Path, cni_conf: &Path, sandbox_image: &str) -> String {
    format!(
        r#"version = 2
root = "{root}"
state = "{state}"
[grpc]
  address = "{socket}"
[ttrpc]
  address = "{socket}.ttrpc"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{sandbox_image}"
  enable_unprivileged_ports = false
  # This VM lacks CAP_SYS_RESOURCE: never try to lower oom_score_adj below containerd's own.
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        BinaryName = "/usr/sbin/runc"
        Root = "{runc_root}"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "{cni_conf}"
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = ""
"#,
        root = containerd_dir.join("root").display(),
        state = containerd_dir.join("state").display(),
        socket = containerd_socket_in(containerd_dir).display(),
        runc_root = containerd_dir.join("runc").display(),
        cni_conf = cni_conf.display(),
    )
}

/// Write the node's configuration files (containerd, CNI, kubelet, kube-proxy) into `layout`,
/// the node's own ([`NodeNetwork::layout`]).
///
/// # Errors
/// Fails if a file cannot be written.
pub fn write_configs(layout: &Layout, network: &NodeNetwork, sandbox_image: &str) -> Result<()> {
    let node = NodeLayout::new(layout);
    let pki = layout.pki();
    let containerd = node.containerd();
    let socket = node.containerd_socket();
    let containerd_config = containerd_config(&containerd, &node.cni_conf(), sandbox_image);
    write(&containerd.join("config.toml"), &containerd_config)?;

    let cni = serde_json::json!({
        "cniVersion": "0.4.0",
        "name": "kube-e2e",
        "plugins": [
            {
                "type": "bridge",
                "bridge": "cni0",
                "isGateway": true,
                // Every address a pod talks to routes back to the pod: the host routes each
                // node's pod range to its node, so other nodes' pods see the pod's own address.
                "ipMasq": false,
                "hairpinMode": true,
                "ipam": {
                    "type": "host-local",
                    "ranges": [[{"subnet": network.pod_cidr}]],
                    "routes": [{"dst": "0.0.0.0/0"}],
                    "dataDir": layout.root().join("cni").join("ipam").display().to_string()
                }
            },
            {"type": "portmap", "capabilities": {"portMappings": true}}
        ]
    });
    write(
        &node.cni_conf().join("10-kube-e2e.conflist"),
        &serde_json::to_string_pretty(&cni).expect("json"),
    )?;

    let kubelet = format!(
        r#"apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
failCgroupV1: false
cgroupDriver: cgroupfs
cgroupsPerQOS: true
cgroupRoot: {cgroup_root}
containerRuntimeEndpoint: unix://{socket}
imageServiceEndpoint: unix://{socket}
runtimeRequestTimeout: 2m
address: {node_ip}
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
authentication:
  anonymous:
    enabled: false
  webhook:
    enabled: true
  x509:
    clientCAFile: {ca}
authorization:
  mode: Webhook
tlsCertFile: {serving_cert}
tlsPrivateKeyFile: {serving_key}
clusterDomain: {cluster_domain}
clusterDNS:
- {cluster_dns}
resolvConf: /etc/resolv.conf
failSwapOn: false
oomScoreAdj: 0
protectKernelDefaults: false
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard:
  memory.available: 100Mi
  nodefs.available: 1%
  nodefs.inodesFree: 1%
  imagefs.available: 1%
nodeStatusUpdateFrequency: 10s
serializeImagePulls: false
podLogsDir: {pod_logs}
volumePluginDir: {plugins}
registerNode: true
podCIDR: {pod_cidr}
"#,
        cgroup_root = network.cgroup_root,
        socket = socket.display(),
        node_ip = network.node_ip,
        ca = pki.ca_cert().display(),
        serving_cert = pki.cert("kubelet-serving").display(),
        serving_key = pki.key("kubelet-serving").display(),
        pod_logs = node.pod_logs().display(),
        plugins = layout.root().join("volume-plugins").display(),
        pod_cidr = network.pod_cidr,
        cluster_domain = crate::dns::CLUSTER_DOMAIN,
        cluster_dns = crate::dns::DNS_SERVICE_IP,
    );
    write(&node.config("kubelet.yaml"), &kubelet)?;

    let proxy = format!(
        r#"apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection:
  kubeconfig: {kubeconfig}
hostnameOverride: {node_name}
mode: iptables
clusterCIDR: {POD_CIDR}
bindAddress: {node_ip}
conntrack:
  maxPerCore: 0
  min: 0
  tcpEstablishedTimeout: 0s
  tcpCloseWaitTimeout: 0s
metricsBindAddress: 127.0.0.1:10249
healthzBindAddress: 127.0.0.1:10256
"#,
        kubeconfig = layout.kubeconfig("kube-proxy").display(),
        node_ip = network.node_ip,
        node_name = network.name,
    );
    write(&node.config("kube-proxy.yaml"), &proxy)?;
    Ok(())
}

fn write(path: &Path, contents: &str) -> Result<()> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).map_err(Error::io(dir))?;
    }
    fs::write(path, contents).map_err(Error::io(path))
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;

    #[test]
    fn node_configs_point_into_the_state_dir() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::new(dir.path());
        let network = NodeNetwork {
            name: "kube-e2e-node-3".into(),
            ordinal: 3,
            netns: "kube-e2e-x".into(),
            host_link: "ke2ex".into(),
            host_ip: Ipv4Addr::new(172, 30, 9, 1),
            node_ip: Ipv4Addr::new(172, 30, 9, 2),
            cgroup_root: "/kube-e2e-x".into(),
            pod_cidr: "10.244.137.0/24".into(),
        };
        write_configs(&layout, &network, "registry.k8s.io/pause:3.10.1").unwrap();
        let node = NodeLayout::new(&layout);
        let kubelet = fs::read_to_string(node.config("kubelet.yaml")).unwrap();
        assert!(kubelet.contains("failCgroupV1: false"));
        assert!(kubelet.contains("cgroupRoot: /kube-e2e-x"));
        assert!(kubelet.contains(&format!("podLogsDir: {}", node.pod_logs().display())));
        let containerd = fs::read_to_string(node.containerd().join("config.toml")).unwrap();
        assert!(containerd.contains("restrict_oom_score_adj = true"));
        assert!(containerd.contains("sandbox_image = \"registry.k8s.io/pause:3.10.1\""));
        let cni = fs::read_to_string(node.cni_conf().join("10-kube-e2e.conflist")).unwrap();
        let cni: serde_json::Value = serde_json::from_str(&cni).unwrap();
        assert_eq!(
            cni["plugins"][0]["ipam"]["ranges"][0][0]["subnet"],
            "10.244.137.0/24"
        );
        assert!(kubelet.contains("podCIDR: 10.244.137.0/24"));
        assert!(kubelet.contains("clusterDNS:\n- 10.0.0.10\n"), "{kubelet}");
        let proxy = fs::read_to_string(node.config("kube-proxy.yaml")).unwrap();
        assert!(
            proxy.contains("hostnameOverride: kube-e2e-node-3"),
            "{proxy}"
        );
    }
}
