//! The values that fill the placeholders of the driver's manifests. The manifests themselves
//! travel with the storage crate (`kube-e2e-storage`, `manifests/storage-csi/hostpath/`, embedded
//! as test files); this crate only renders text it is given, so it needs no file of its own.

use std::path::PathBuf;

/// The driver name the manifests get unless a deployment picks another.
pub const DEFAULT_DRIVER_NAME: &str = "hostpath.csi.kube-e2e.io";

/// The topology key of the driver's only segment (the node a volume lives on).
pub const TOPOLOGY_KEY: &str = "topology.hostpath.csi/node";

/// The values substituted for the manifests' placeholders.
///
/// | placeholder | value |
/// |---|---|
/// | `TEST_NAMESPACE` | the namespace of the pods and service accounts |
/// | `DRIVER_NAME` | the CSI driver name; also names the cluster-scoped objects (CSIDriver, StorageClass, VolumeSnapshotClass, ClusterRoles) |
/// | `KUBELET_ROOT` | kubelet's `--root-dir` on the real node (`<state dir>/kubelet` for the local cluster) |
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostpathDeployment {
    /// Replaces `TEST_NAMESPACE`.
    pub namespace: String,
    /// Replaces `DRIVER_NAME`.
    pub driver_name: String,
    /// Replaces `KUBELET_ROOT`.
    pub kubelet_root: PathBuf,
}

impl HostpathDeployment {
    /// A deployment of [`DEFAULT_DRIVER_NAME`] into `namespace`.
    pub fn new(namespace: &str, kubelet_root: impl Into<PathBuf>) -> Self {
        Self {
            namespace: namespace.to_string(),
            driver_name: DEFAULT_DRIVER_NAME.to_string(),
            kubelet_root: kubelet_root.into(),
        }
    }

    /// The same deployment with another driver name (one per test lets tests run in parallel).
    pub fn driver_name(mut self, name: &str) -> Self {
        self.driver_name = name.to_string();
        self
    }

    /// The StorageClass the manifests create (named after the driver).
    pub fn storage_class(&self) -> &str {
        &self.driver_name
    }

    /// The VolumeSnapshotClass the manifests create (named after the driver).
    pub fn snapshot_class(&self) -> &str {
        &self.driver_name
    }

    /// `text` with every placeholder replaced.
    pub fn render(&self, text: &str) -> String {
        text.replace("KUBELET_ROOT", &self.kubelet_root.display().to_string())
            .replace("DRIVER_NAME", &self.driver_name)
            .replace("TEST_NAMESPACE", &self.namespace)
    }

    /// Each text rendered, as one YAML stream (every text a document set of its own).
    pub fn render_stream<'a>(&self, texts: impl IntoIterator<Item = &'a str>) -> String {
        let mut all = String::new();
        for text in texts {
            all.push_str("---\n");
            all.push_str(&self.render(text));
            all.push('\n');
        }
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "metadata:\n  name: DRIVER_NAME-controller\n  namespace: TEST_NAMESPACE\n\
path: KUBELET_ROOT/plugins/DRIVER_NAME/csi.sock\n";

    #[test]
    fn every_placeholder_is_replaced() {
        let deployment = HostpathDeployment::new("ns-1", "/tmp/state/kubelet").driver_name("d.csi");
        let yaml = deployment.render_stream([TEXT, TEXT]);
        for placeholder in ["KUBELET_ROOT", "DRIVER_NAME", "TEST_NAMESPACE"] {
            assert!(!yaml.contains(placeholder), "{placeholder} left in {yaml}");
        }
        assert!(yaml.contains("path: /tmp/state/kubelet/plugins/d.csi/csi.sock"));
        assert!(yaml.contains("name: d.csi-controller"));
        assert_eq!(yaml.matches("namespace: ns-1").count(), 2, "{yaml}");
        assert_eq!(yaml.matches("---\n").count(), 2, "{yaml}");
    }
}
