//! Where each file of a cluster lives inside its state directory.
//!
//! [`Layout`] names the control plane's files (PKI, kubeconfigs, logs, etcd data),
//! [`PkiPaths`] the certificates and keys inside `pki/`, and [`NodeLayout`] the real node's
//! directories (containerd, kubelet, CNI, pod logs). Paths only: nothing here touches the disk,
//! and this module depends on no other module of the crate.

use std::path::{Path, PathBuf};

/// Where each file of a cluster lives inside its state directory.
#[derive(Debug, Clone)]
pub struct Layout {
    root: PathBuf,
}

impl Layout {
    /// The layout of `state_dir`.
    pub fn new(state_dir: &Path) -> Self {
        Self {
            root: state_dir.to_path_buf(),
        }
    }

    /// The state directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// PKI files.
    pub fn pki(&self) -> PkiPaths {
        PkiPaths::new(self.root.join("pki"))
    }

    /// The kubeconfig of `user` (a PKI file stem).
    pub fn kubeconfig(&self, user: &str) -> PathBuf {
        self.root
            .join("kubeconfig")
            .join(format!("{user}.kubeconfig"))
    }

    /// The administrator's kubeconfig.
    pub fn admin_kubeconfig(&self) -> PathBuf {
        self.kubeconfig("admin")
    }

    /// The log of `component`.
    pub fn log(&self, component: &str) -> PathBuf {
        self.root.join("logs").join(format!("{component}.log"))
    }

    /// etcd's data directory.
    pub fn etcd_data(&self) -> PathBuf {
        self.root.join("etcd")
    }
}

/// Paths of the PKI files inside a cluster's state directory.
#[derive(Debug, Clone)]
pub struct PkiPaths {
    dir: PathBuf,
}

impl PkiPaths {
    /// The PKI directory `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The directory holding every file.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The CA certificate.
    pub fn ca_cert(&self) -> PathBuf {
        self.dir.join("ca.crt")
    }

    /// The CA key.
    pub fn ca_key(&self) -> PathBuf {
        self.dir.join("ca.key")
    }

    /// The certificate named `stem`.
    pub fn cert(&self, stem: &str) -> PathBuf {
        self.dir.join(format!("{stem}.crt"))
    }

    /// The key named `stem`.
    pub fn key(&self, stem: &str) -> PathBuf {
        self.dir.join(format!("{stem}.key"))
    }

    /// The service-account signing key.
    pub fn service_account_key(&self) -> PathBuf {
        self.dir.join("sa.key")
    }

    /// The service-account public key.
    pub fn service_account_pub(&self) -> PathBuf {
        self.dir.join("sa.pub")
    }
}

/// Files and directories of the real node inside the state directory.
pub struct NodeLayout<'a> {
    layout: &'a Layout,
}

impl<'a> NodeLayout<'a> {
    /// The node files of `layout`.
    pub fn new(layout: &'a Layout) -> Self {
        Self { layout }
    }

    fn root(&self) -> &Path {
        self.layout.root()
    }

    /// containerd's directory.
    pub fn containerd(&self) -> PathBuf {
        self.root().join("containerd")
    }

    /// containerd's socket.
    pub fn containerd_socket(&self) -> PathBuf {
        containerd_socket_in(&self.containerd())
    }

    /// kubelet's root directory.
    pub fn kubelet_root(&self) -> PathBuf {
        self.root().join("kubelet")
    }

    /// CNI configuration directory.
    pub fn cni_conf(&self) -> PathBuf {
        self.root().join("cni").join("net.d")
    }

    /// Pod log directory.
    pub fn pod_logs(&self) -> PathBuf {
        self.root().join("pod-logs")
    }

    /// Configuration files of kubelet and kube-proxy.
    pub fn config(&self, name: &str) -> PathBuf {
        self.root().join("config").join(name)
    }
}

/// The socket of the containerd whose directory is `containerd_dir`.
pub fn containerd_socket_in(containerd_dir: &Path) -> PathBuf {
    containerd_dir.join("containerd.sock")
}
