//! Cluster DNS: CoreDNS (built here from its Go module, the release Kubernetes 1.34 ships
//! with) as `kube-system/coredns` on the real node, behind the `kube-dns` Service at
//! [`DNS_SERVICE_IP`]; kubelet hands that address and [`CLUSTER_DOMAIN`] to every pod.
//!
//! The objects and the Corefile are the ones a kubeadm cluster has (same names, labels,
//! plugins and ports), so tests and tools that look for `k8s-app=kube-dns` find them. They
//! are applied server-side by [`deploy`], which is idempotent, and waited for until a CoreDNS
//! pod is Ready.

use std::time::Instant;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Service, ServiceAccount};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding};
use kube::Api;
use kube::api::{Patch, PatchParams};
use serde_json::{Value, json};

use crate::error::{Error, Result};
use crate::node::real::NODE_NAME;
use crate::process::ComponentRecord;

/// The `kube-dns` Service's address (inside the Service range), kubelet's `clusterDNS`.
pub const DNS_SERVICE_IP: &str = "10.0.0.10";
/// The cluster's DNS domain, kubelet's `clusterDomain`.
pub const CLUSTER_DOMAIN: &str = "cluster.local";
/// CoreDNS's release: what kubeadm 1.34 deploys.
pub const COREDNS_VERSION: &str = "v1.12.1";
/// The image name kubeadm 1.34 uses for CoreDNS (built here, see `images`).
pub const COREDNS_IMAGE: &str = "registry.k8s.io/coredns/coredns:v1.12.1";
/// The field manager of the applied objects.
const MANAGER: &str = "kube-e2e-cluster";

/// The Corefile: kubeadm's, with the cluster's domain.
pub fn corefile() -> String {
    format!(
        ".:53 {{
    errors
    health {{
       lameduck 5s
    }}
    ready
    kubernetes {CLUSTER_DOMAIN} in-addr.arpa ip6.arpa {{
       pods insecure
       fallthrough in-addr.arpa ip6.arpa
       ttl 30
    }}
    prometheus :9153
    forward . /etc/resolv.conf {{
       max_concurrent 1000
    }}
    cache 30 {{
       disable success {CLUSTER_DOMAIN}
       disable denial {CLUSTER_DOMAIN}
    }}
    loop
    reload
    loadbalance
}}
"
    )
}

fn service_account() -> Value {
    json!({"apiVersion": "v1", "kind": "ServiceAccount",
        "metadata": {"name": "coredns", "namespace": "kube-system"}})
}

fn cluster_role() -> Value {
    json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
    "metadata": {"name": "system:coredns"},
    "rules": [
        {"apiGroups": [""], "resources": ["endpoints", "services", "pods", "namespaces"],
         "verbs": ["list", "watch"]},
        {"apiGroups": [""], "resources": ["nodes"], "verbs": ["get"]},
        {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"],
         "verbs": ["list", "watch"]},
    ]})
}

fn cluster_role_binding() -> Value {
    json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
        "metadata": {"name": "system:coredns"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                    "name": "system:coredns"},
        "subjects": [{"kind": "ServiceAccount", "name": "coredns", "namespace": "kube-system"}]})
}

fn config_map() -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "coredns", "namespace": "kube-system"},
        "data": {"Corefile": corefile()}})
}

fn deployment() -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment",
    "metadata": {"name": "coredns", "namespace": "kube-system",
                 "labels": {"k8s-app": "kube-dns"}},
    "spec": {
        "replicas": 1,
        "selector": {"matchLabels": {"k8s-app": "kube-dns"}},
        "strategy": {"type": "RollingUpdate",
                     "rollingUpdate": {"maxUnavailable": 1}},
        "template": {
            "metadata": {"labels": {"k8s-app": "kube-dns"}},
            "spec": {
                "priorityClassName": "system-cluster-critical",
                "serviceAccountName": "coredns",
                // Simulated nodes run no containers: the real node serves DNS.
                "nodeSelector": {"kubernetes.io/hostname": NODE_NAME},
                "tolerations": [{"key": "CriticalAddonsOnly", "operator": "Exists"}],
                "dnsPolicy": "Default",
                "terminationGracePeriodSeconds": 5,
                "containers": [{
                    "name": "coredns",
                    "image": COREDNS_IMAGE,
                    "imagePullPolicy": "IfNotPresent",
                    "args": ["-conf", "/etc/coredns/Corefile"],
                    "resources": {"limits": {"memory": "170Mi"},
                                  "requests": {"cpu": "100m", "memory": "70Mi"}},
                    "volumeMounts": [{"name": "config-volume",
                                      "mountPath": "/etc/coredns", "readOnly": true}],
                    "ports": [
                        {"containerPort": 53, "name": "dns", "protocol": "UDP"},
                        {"containerPort": 53, "name": "dns-tcp", "protocol": "TCP"},
                        {"containerPort": 9153, "name": "metrics", "protocol": "TCP"},
                    ],
                    "securityContext": {
                        "allowPrivilegeEscalation": false,
                        "capabilities": {"add": ["NET_BIND_SERVICE"], "drop": ["ALL"]},
                        "readOnlyRootFilesystem": true,
                    },
                    "livenessProbe": {"httpGet": {"path": "/health", "port": 8080},
                                      "initialDelaySeconds": 60, "timeoutSeconds": 5,
                                      "failureThreshold": 5},
                    "readinessProbe": {"httpGet": {"path": "/ready", "port": 8181},
                                       "periodSeconds": 1},
                }],
                "volumes": [{"name": "config-volume", "configMap": {
                    "name": "coredns",
                    "items": [{"key": "Corefile", "path": "Corefile"}]}}],
            },
        },
    }})
}

fn service() -> Value {
    json!({"apiVersion": "v1", "kind": "Service",
    "metadata": {"name": "kube-dns", "namespace": "kube-system",
                 "labels": {"k8s-app": "kube-dns", "kubernetes.io/name": "CoreDNS"},
                 "annotations": {"prometheus.io/port": "9153",
                                 "prometheus.io/scrape": "true"}},
    "spec": {
        "selector": {"k8s-app": "kube-dns"},
        "clusterIP": DNS_SERVICE_IP,
        "ports": [
            {"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 53},
            {"name": "dns-tcp", "port": 53, "protocol": "TCP", "targetPort": 53},
            {"name": "metrics", "port": 9153, "protocol": "TCP", "targetPort": 9153},
        ],
    }})
}

/// Applies `object` (server-side, forced) through `api`.
async fn apply<K>(api: Api<K>, object: Value) -> Result<()>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let name = object["metadata"]["name"].as_str().unwrap_or_default();
    let kind = object["kind"].as_str().unwrap_or_default();
    let params = PatchParams::apply(MANAGER).force();
    api.patch(name, &params, &Patch::Apply(&object))
        .await
        .map(drop)
        .map_err(|source| Error::Kube {
            what: format!("apply the cluster DNS {kind} {name}"),
            source: Box::new(source),
        })
}

/// Applies the DNS objects and waits (until `deadline`) for a CoreDNS pod to be Ready.
///
/// # Errors
/// An object is refused, a component exits, or no CoreDNS pod is Ready in time (the error
/// says what the pod waits for).
pub async fn deploy(
    client: &kube::Client,
    components: &[ComponentRecord],
    deadline: Instant,
) -> Result<()> {
    apply::<ServiceAccount>(
        Api::namespaced(client.clone(), "kube-system"),
        service_account(),
    )
    .await?;
    apply::<ClusterRole>(Api::all(client.clone()), cluster_role()).await?;
    apply::<ClusterRoleBinding>(Api::all(client.clone()), cluster_role_binding()).await?;
    apply::<ConfigMap>(Api::namespaced(client.clone(), "kube-system"), config_map()).await?;
    apply::<Deployment>(Api::namespaced(client.clone(), "kube-system"), deployment()).await?;
    apply::<Service>(Api::namespaced(client.clone(), "kube-system"), service()).await?;
    crate::readiness::wait_for_ready_pod(
        client,
        "kube-system",
        "k8s-app=kube-dns",
        components,
        deadline,
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_service_address_is_the_tenth_of_the_service_range() {
        let range = crate::control_plane::components::SERVICE_CIDR;
        let prefix = range.trim_end_matches("0/24");
        assert_eq!(DNS_SERVICE_IP, format!("{prefix}10"));
        assert_eq!(service()["spec"]["clusterIP"], DNS_SERVICE_IP);
    }

    #[test]
    fn the_corefile_serves_the_cluster_domain_and_the_reverse_zones() {
        let text = corefile();
        assert!(text.contains("kubernetes cluster.local in-addr.arpa ip6.arpa {"));
        assert!(text.contains("ready") && text.contains("health"));
        assert_eq!(text.matches('{').count(), text.matches('}').count());
    }

    #[test]
    fn the_deployment_runs_the_local_image_on_the_real_node() {
        let d = deployment();
        let spec = &d["spec"]["template"]["spec"];
        assert_eq!(spec["containers"][0]["image"], COREDNS_IMAGE);
        assert_eq!(spec["nodeSelector"]["kubernetes.io/hostname"], NODE_NAME);
        assert_eq!(
            d["spec"]["selector"]["matchLabels"],
            service()["spec"]["selector"]
        );
        assert!(COREDNS_IMAGE.ends_with(COREDNS_VERSION));
    }
}
