//! What the cluster runs: the pinned versions, the Go modules that build them, and one
//! [`Asset`] per binary.

/// The Kubernetes release the local cluster runs.
pub const KUBERNETES_VERSION: &str = "v1.34.4";
/// The etcd release the local cluster runs.
pub const ETCD_VERSION: &str = "v3.6.16";
/// The version of upstream's agnhost test image that the Kubernetes release's e2e tests use
/// (`test/images/agnhost/VERSION` of the module): the image is imported under that tag.
pub const AGNHOST_VERSION: &str = "2.56";
/// The kwok release that simulates nodes.
pub const KWOK_VERSION: &str = "v0.8.0";

/// A Go module that builds some of the assets.
#[derive(Debug)]
pub struct GoModule {
    /// Directory name under the cache's `src/`.
    pub name: &'static str,
    /// The module that provides the main packages.
    pub module: &'static str,
    /// Its version.
    pub version: &'static str,
    /// The wrapper module's files: name and contents.
    pub(super) files: &'static [(&'static str, &'static str)],
}

pub(super) const KUBERNETES: GoModule = GoModule {
    name: "kubernetes",
    module: "k8s.io/kubernetes",
    version: KUBERNETES_VERSION,
    files: &[
        ("go.mod", include_str!("../../go/kubernetes/go.mod")),
        ("go.sum", include_str!("../../go/kubernetes/go.sum")),
        ("tools.go", include_str!("../../go/kubernetes/tools.go")),
    ],
};

pub(super) const ETCD: GoModule = GoModule {
    name: "etcd",
    module: "go.etcd.io/etcd/server/v3",
    version: ETCD_VERSION,
    files: &[
        ("go.mod", include_str!("../../go/etcd/go.mod")),
        ("go.sum", include_str!("../../go/etcd/go.sum")),
        ("tools.go", include_str!("../../go/etcd/tools.go")),
    ],
};

pub(super) const COREDNS: GoModule = GoModule {
    name: "coredns",
    module: "github.com/coredns/coredns",
    version: crate::dns::COREDNS_VERSION,
    files: &[
        ("go.mod", include_str!("../../go/coredns/go.mod")),
        ("go.sum", include_str!("../../go/coredns/go.sum")),
        ("main.go", include_str!("../../go/coredns/main.go")),
    ],
};

pub(super) const KWOK: GoModule = GoModule {
    name: "kwok",
    module: "sigs.k8s.io/kwok",
    version: KWOK_VERSION,
    files: &[
        ("go.mod", include_str!("../../go/kwok/go.mod")),
        ("go.sum", include_str!("../../go/kwok/go.sum")),
        ("tools.go", include_str!("../../go/kwok/tools.go")),
    ],
};

/// kwok's stock stages, copied out of its module at build time: nodes become Ready and keep a
/// lease, pods become Running and are finalized on deletion.
pub(super) const KWOK_STAGES: &[&str] = &[
    "kustomize/stage/node/fast/node-initialize.yaml",
    "kustomize/stage/node/heartbeat-with-lease/node-heartbeat-with-lease.yaml",
    "kustomize/stage/pod/fast/pod-ready.yaml",
    "kustomize/stage/pod/fast/pod-complete.yaml",
    "kustomize/stage/pod/fast/pod-delete.yaml",
];

/// One binary of the local cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Asset {
    /// etcd.
    Etcd,
    /// kube-apiserver.
    KubeApiserver,
    /// kube-controller-manager.
    KubeControllerManager,
    /// kube-scheduler.
    KubeScheduler,
    /// kubectl.
    Kubectl,
    /// kubelet (real node).
    Kubelet,
    /// kube-proxy (real node).
    KubeProxy,
    /// kwok, which simulates nodes.
    Kwok,
    /// agnhost, upstream's multi-purpose test server (real node; in the agnhost image).
    Agnhost,
    /// CoreDNS with the plugins cluster DNS uses (real node; in the CoreDNS and agnhost
    /// images).
    Coredns,
}

impl Asset {
    /// Every asset.
    pub const ALL: [Asset; 10] = [
        Asset::Etcd,
        Asset::KubeApiserver,
        Asset::KubeControllerManager,
        Asset::KubeScheduler,
        Asset::Kubectl,
        Asset::Kubelet,
        Asset::KubeProxy,
        Asset::Kwok,
        Asset::Agnhost,
        Asset::Coredns,
    ];

    /// What a control plane with simulated nodes needs.
    pub const SIMULATED: [Asset; 6] = [
        Asset::Etcd,
        Asset::KubeApiserver,
        Asset::KubeControllerManager,
        Asset::KubeScheduler,
        Asset::Kubectl,
        Asset::Kwok,
    ];

    /// The binary's file name.
    pub fn binary_name(self) -> &'static str {
        match self {
            Asset::Etcd => "etcd",
            Asset::KubeApiserver => "kube-apiserver",
            Asset::KubeControllerManager => "kube-controller-manager",
            Asset::KubeScheduler => "kube-scheduler",
            Asset::Kubectl => "kubectl",
            Asset::Kubelet => "kubelet",
            Asset::KubeProxy => "kube-proxy",
            Asset::Kwok => "kwok",
            Asset::Agnhost => "agnhost",
            Asset::Coredns => "coredns",
        }
    }

    /// The Go module that builds it.
    pub fn module(self) -> &'static GoModule {
        match self {
            Asset::Etcd => &ETCD,
            Asset::Kwok => &KWOK,
            Asset::Coredns => &COREDNS,
            _ => &KUBERNETES,
        }
    }

    /// The main package.
    pub fn package(self) -> &'static str {
        match self {
            Asset::Etcd => "go.etcd.io/etcd/server/v3",
            Asset::Kwok => "sigs.k8s.io/kwok/cmd/kwok",
            Asset::KubeApiserver => "k8s.io/kubernetes/cmd/kube-apiserver",
            Asset::KubeControllerManager => "k8s.io/kubernetes/cmd/kube-controller-manager",
            Asset::KubeScheduler => "k8s.io/kubernetes/cmd/kube-scheduler",
            Asset::Kubectl => "k8s.io/kubernetes/cmd/kubectl",
            Asset::Kubelet => "k8s.io/kubernetes/cmd/kubelet",
            Asset::KubeProxy => "k8s.io/kubernetes/cmd/kube-proxy",
            Asset::Agnhost => "k8s.io/kubernetes/test/images/agnhost",
            // The wrapper module's own main package.
            Asset::Coredns => ".",
        }
    }

    /// The arguments that print the version, and the text the output must contain.
    pub(super) fn version_probe(self) -> (&'static [&'static str], String) {
        let plain = |v: &str| v.trim_start_matches('v').to_string();
        match self {
            Asset::Etcd => (
                &["--version"],
                format!("etcd Version: {}", plain(ETCD_VERSION)),
            ),
            Asset::Kwok => (&["--version"], plain(KWOK_VERSION)),
            Asset::Agnhost => (&["--version"], format!("version {AGNHOST_VERSION}")),
            Asset::Coredns => (
                &["-version"],
                format!("CoreDNS-{}", plain(crate::dns::COREDNS_VERSION)),
            ),
            Asset::Kubectl => (
                &["version", "--client"],
                format!("Client Version: {KUBERNETES_VERSION}"),
            ),
            _ => (&["--version"], format!("Kubernetes {KUBERNETES_VERSION}")),
        }
    }
}

impl std::fmt::Display for Asset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.binary_name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapper_modules_require_the_versions_the_code_expects() {
        for module in [&KUBERNETES, &ETCD, &KWOK, &COREDNS] {
            let go_mod = module.files.iter().find(|(n, _)| *n == "go.mod").unwrap().1;
            let line = format!("{} {}", module.module, module.version);
            assert!(
                go_mod.contains(&line),
                "go.mod of {} lacks `{line}`",
                module.name
            );
            let go_sum = module.files.iter().find(|(n, _)| *n == "go.sum").unwrap().1;
            assert!(
                go_sum.contains(&line),
                "go.sum of {} lacks `{line}`: commit the go.sum a build writes",
                module.name
            );
        }
    }

    #[test]
    fn kubernetes_staging_modules_are_pinned_to_the_matching_release() {
        let go_mod = KUBERNETES.files[0].1;
        let staging = format!("v0.{}", KUBERNETES_VERSION.trim_start_matches("v1."));
        let replaces: Vec<&str> = go_mod.lines().filter(|l| l.contains("=>")).collect();
        assert!(
            replaces.len() >= 31,
            "expected every staging module replaced"
        );
        for line in replaces {
            assert!(
                line.trim_end().ends_with(&staging),
                "{line} is not at {staging}"
            );
        }
    }
}
