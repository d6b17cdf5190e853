//! The control-plane components and their command lines: etcd, kube-apiserver,
//! kube-controller-manager, kube-scheduler and kwok (which runs beside them and keeps the
//! simulated nodes Ready), plus the ports and address ranges they share.

use std::net::TcpListener;

use serde::{Deserialize, Serialize};

use crate::assets::{Asset, AssetCache};
use crate::error::{Error, Result};
use crate::layout::Layout;
use crate::process::ComponentSpec;

/// The service network; its first address is the `kubernetes` Service.
pub const SERVICE_CIDR: &str = "10.0.0.0/24";
/// The pod network of simulated nodes.
pub const POD_CIDR: &str = "10.244.0.0/16";

/// The annotation kwok selects its nodes by (the simulated nodes carry it).
pub const KWOK_ANNOTATION: &str = "kwok.x-k8s.io/node";
/// Its value.
pub const KWOK_ANNOTATION_VALUE: &str = "fake";

/// The TCP ports of one cluster, all on 127.0.0.1, chosen free so that clusters can run side
/// by side.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Ports {
    /// etcd clients.
    pub etcd_client: u16,
    /// etcd peers.
    pub etcd_peer: u16,
    /// The API server.
    pub apiserver: u16,
    /// kube-controller-manager's health and metrics.
    pub controller_manager: u16,
    /// kube-scheduler's health and metrics.
    pub scheduler: u16,
    /// kwok's health and metrics.
    pub kwok: u16,
}

impl Ports {
    /// Reserve six distinct free ports.
    ///
    /// # Errors
    /// Fails if the system has no free port.
    pub fn reserve() -> Result<Self> {
        // Hold every listener until all are chosen, so no port is handed out twice.
        let listeners = (0..6)
            .map(|_| TcpListener::bind("127.0.0.1:0").map_err(Error::Port))
            .collect::<Result<Vec<_>>>()?;
        let ports = listeners
            .iter()
            .map(|l| l.local_addr().map(|a| a.port()).map_err(Error::Port))
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            etcd_client: ports[0],
            etcd_peer: ports[1],
            apiserver: ports[2],
            controller_manager: ports[3],
            scheduler: ports[4],
            kwok: ports[5],
        })
    }

    /// Every port, for checks that none is left open.
    pub fn all(&self) -> [u16; 6] {
        [
            self.etcd_client,
            self.etcd_peer,
            self.apiserver,
            self.controller_manager,
            self.scheduler,
            self.kwok,
        ]
    }
}

fn s(x: impl std::fmt::Display) -> String {
    x.to_string()
}

/// The command lines of the control plane and kwok, in start order. With an `advertise`
/// address (a real node), the API server listens on every address and advertises that one.
pub fn control_plane(
    cache: &AssetCache,
    layout: &Layout,
    ports: &Ports,
    advertise: Option<std::net::Ipv4Addr>,
) -> Vec<ComponentSpec> {
    let pki = layout.pki();
    let p = |path: std::path::PathBuf| path.display().to_string();
    // TLS with client certificates on both of etcd's listeners: another local user can
    // connect to the port, but gets nothing without a certificate only root can read.
    let etcd_url = format!("https://127.0.0.1:{}", ports.etcd_client);
    let peer_url = format!("https://127.0.0.1:{}", ports.etcd_peer);
    let etcd_cert = p(pki.cert(super::pki::ETCD_SERVER));
    let etcd_key = p(pki.key(super::pki::ETCD_SERVER));
    let ca = p(pki.ca_cert());
    let etcd = vec![
        s("--name=kube-e2e"),
        format!("--cert-file={etcd_cert}"),
        format!("--key-file={etcd_key}"),
        format!("--trusted-ca-file={ca}"),
        s("--client-cert-auth=true"),
        format!("--peer-cert-file={etcd_cert}"),
        format!("--peer-key-file={etcd_key}"),
        format!("--peer-trusted-ca-file={ca}"),
        s("--peer-client-cert-auth=true"),
        format!("--data-dir={}", p(layout.etcd_data())),
        format!("--listen-client-urls={etcd_url}"),
        format!("--advertise-client-urls={etcd_url}"),
        format!("--listen-peer-urls={peer_url}"),
        format!("--initial-advertise-peer-urls={peer_url}"),
        format!("--initial-cluster=kube-e2e={peer_url}"),
        // A test cluster needs no durability; skipping fsync makes every write fast.
        s("--unsafe-no-fsync=true"),
        s("--log-level=warn"),
    ];
    let mut apiserver = vec![
        format!("--etcd-servers={etcd_url}"),
        format!("--etcd-cafile={ca}"),
        format!("--etcd-certfile={}", p(pki.cert(super::pki::ETCD_CLIENT))),
        format!("--etcd-keyfile={}", p(pki.key(super::pki::ETCD_CLIENT))),
        format!("--secure-port={}", ports.apiserver),
        format!("--cert-dir={}", p(pki.dir().join("apiserver-generated"))),
        format!("--tls-cert-file={}", p(pki.cert("apiserver"))),
        format!("--tls-private-key-file={}", p(pki.key("apiserver"))),
        format!("--client-ca-file={}", p(pki.ca_cert())),
        s("--service-account-issuer=https://kubernetes.default.svc.cluster.local"),
        format!(
            "--service-account-key-file={}",
            p(pki.service_account_pub())
        ),
        format!(
            "--service-account-signing-key-file={}",
            p(pki.service_account_key())
        ),
        format!("--service-cluster-ip-range={SERVICE_CIDR}"),
        s("--authorization-mode=Node,RBAC"),
        s("--enable-admission-plugins=NodeRestriction"),
        // Webhooks and aggregated APIs are called at their endpoints' (pod) addresses, which
        // the host routes to the real node; Service addresses exist only inside the node.
        s("--enable-aggregator-routing=true"),
        s("--allow-privileged=true"),
        format!(
            "--kubelet-client-certificate={}",
            p(pki.cert("apiserver-kubelet-client"))
        ),
        format!(
            "--kubelet-client-key={}",
            p(pki.key("apiserver-kubelet-client"))
        ),
        // Request-header authentication for aggregated API servers (and so that
        // controllers find the front-proxy CA they look for).
        format!("--requestheader-client-ca-file={}", p(pki.ca_cert())),
        s("--requestheader-allowed-names=front-proxy-client"),
        s("--requestheader-username-headers=X-Remote-User"),
        s("--requestheader-group-headers=X-Remote-Group"),
        s("--requestheader-extra-headers-prefix=X-Remote-Extra-"),
        format!(
            "--proxy-client-cert-file={}",
            p(pki.cert("front-proxy-client"))
        ),
        format!(
            "--proxy-client-key-file={}",
            p(pki.key("front-proxy-client"))
        ),
        // The node's name does not resolve; reach kubelets by their address.
        s("--kubelet-preferred-address-types=InternalIP,Hostname"),
        s("--profiling=false"),
    ];
    match advertise {
        // With a real node the API server listens on the host end of the node's veth pair
        // only: the node reaches it there, local clients too, and no other network does.
        Some(ip) => {
            apiserver.push(format!("--bind-address={ip}"));
            apiserver.push(format!("--advertise-address={ip}"));
        }
        None => apiserver.push(s("--bind-address=127.0.0.1")),
    }
    let kcm_config = p(layout.kubeconfig("kube-controller-manager"));
    let controller_manager = vec![
        format!("--kubeconfig={kcm_config}"),
        format!("--authentication-kubeconfig={kcm_config}"),
        format!("--authorization-kubeconfig={kcm_config}"),
        s("--bind-address=127.0.0.1"),
        format!("--secure-port={}", ports.controller_manager),
        s("--leader-elect=false"),
        s("--use-service-account-credentials=true"),
        format!(
            "--service-account-private-key-file={}",
            p(pki.service_account_key())
        ),
        format!("--root-ca-file={}", p(pki.ca_cert())),
        format!("--cluster-signing-cert-file={}", p(pki.ca_cert())),
        format!("--cluster-signing-key-file={}", p(pki.ca_key())),
        format!("--service-cluster-ip-range={SERVICE_CIDR}"),
        s("--cluster-name=kube-e2e"),
        s("--controllers=*"),
        // A test cluster creates namespaces in bursts (one per spec); the default client limits
        // (20 QPS, burst 30) make their ServiceAccounts and root-CA ConfigMaps the bottleneck of
        // every parallel run (50 namespaces need a second whatever the framework).
        s("--kube-api-qps=1000"),
        s("--kube-api-burst=2000"),
        s("--profiling=false"),
    ];
    let sched_config = p(layout.kubeconfig("kube-scheduler"));
    let scheduler = vec![
        format!("--kubeconfig={sched_config}"),
        format!("--authentication-kubeconfig={sched_config}"),
        format!("--authorization-kubeconfig={sched_config}"),
        s("--bind-address=127.0.0.1"),
        format!("--secure-port={}", ports.scheduler),
        s("--leader-elect=false"),
        s("--profiling=false"),
    ];
    let kwok = vec![
        format!("--kubeconfig={}", p(layout.kubeconfig("kwok"))),
        s("--manage-all-nodes=false"),
        format!(
            "--manage-nodes-with-annotation-selector={KWOK_ANNOTATION}={KWOK_ANNOTATION_VALUE}"
        ),
        format!("--config={}", p(cache.kwok_stages())),
        format!("--server-address=127.0.0.1:{}", ports.kwok),
        format!("--cidr={POD_CIDR}"),
        s("--node-lease-duration-seconds=40"),
    ];
    let spec = |asset: Asset, args: Vec<String>| ComponentSpec {
        name: asset.binary_name().to_string(),
        binary: cache.path(asset),
        args,
        env: Vec::new(),
        log: layout.log(asset.binary_name()),
        netns: None,
        cgroups: Vec::new(),
    };
    vec![
        spec(Asset::Etcd, etcd),
        spec(Asset::KubeApiserver, apiserver),
        spec(Asset::KubeControllerManager, controller_manager),
        spec(Asset::KubeScheduler, scheduler),
        spec(Asset::Kwok, kwok),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_ports_are_distinct() {
        let ports = Ports::reserve().unwrap();
        let mut all = ports.all().to_vec();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), 6);
    }

    #[test]
    fn every_component_uses_its_own_ports_and_the_state_dir() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::new(dir.path());
        let cache = AssetCache::new(dir.path().join("cache"));
        let ports = Ports::reserve().unwrap();
        let specs = control_plane(&cache, &layout, &ports, None);
        let names: Vec<&str> = specs.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "etcd",
                "kube-apiserver",
                "kube-controller-manager",
                "kube-scheduler",
                "kwok"
            ]
        );
        let joined = |i: usize| specs[i].args.join(" ");
        assert!(joined(0).contains(&format!(
            "--listen-client-urls=https://127.0.0.1:{}",
            ports.etcd_client
        )));
        assert!(joined(0).contains("--client-cert-auth=true"));
        assert!(joined(0).contains("--peer-client-cert-auth=true"));
        assert!(joined(1).contains(&format!(
            "--etcd-servers=https://127.0.0.1:{}",
            ports.etcd_client
        )));
        assert!(joined(1).contains("--etcd-certfile="));
        assert!(joined(1).contains(&format!("--secure-port={}", ports.apiserver)));
        assert!(joined(2).contains(&format!("--secure-port={}", ports.controller_manager)));
        assert!(joined(3).contains(&format!("--secure-port={}", ports.scheduler)));
        assert!(joined(4).contains(&format!("127.0.0.1:{}", ports.kwok)));
        for spec in &specs {
            assert!(
                spec.log.starts_with(dir.path()),
                "{} logs outside the state dir",
                spec.name
            );
        }
    }
}
