//! The driver's manifests (`testing-manifests/storage-csi/hostpath`) and the values that fill
//! their placeholders.

use std::fs;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The driver name the manifests get unless a deployment picks another.
pub const DEFAULT_DRIVER_NAME: &str = "hostpath.csi.kube-e2e.io";

/// The topology key of the driver's only segment (the node a volume lives on).
pub const TOPOLOGY_KEY: &str = "topology.hostpath.csi/node";

/// The manifests' directory in this repository (`testing-manifests/storage-csi/hostpath`).
pub fn manifests_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("testing-manifests")
        .join("storage-csi")
        .join("hostpath")
}

/// The driver's manifests, in apply order. `snapshot-controller.yaml` is separate: the
/// snapshot controller runs once per cluster, however many drivers are deployed.
pub const DRIVER_MANIFESTS: [&str; 4] = [
    "rbac.yaml",
    "csi-driver.yaml",
    "controller.yaml",
    "node.yaml",
];

/// The snapshot controller's manifest (RBAC and Deployment).
pub const SNAPSHOT_CONTROLLER_MANIFEST: &str = "snapshot-controller.yaml";

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

    /// [`DRIVER_MANIFESTS`] from [`manifests_dir`], rendered and joined into one YAML stream.
    ///
    /// # Errors
    /// If a manifest is unreadable.
    pub fn render_all(&self) -> Result<String> {
        self.render_files(&DRIVER_MANIFESTS)
    }

    /// The snapshot controller's manifest, rendered (only `TEST_NAMESPACE` applies).
    ///
    /// # Errors
    /// If the manifest is unreadable.
    pub fn render_snapshot_controller(&self) -> Result<String> {
        self.render_files(&[SNAPSHOT_CONTROLLER_MANIFEST])
    }

    fn render_files(&self, names: &[&str]) -> Result<String> {
        let mut all = String::new();
        for name in names {
            let path = manifests_dir().join(name);
            let text = fs::read_to_string(&path).map_err(Error::io(&path))?;
            all.push_str("---\n");
            all.push_str(&self.render(&text));
            all.push('\n');
        }
        Ok(all)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::csi::CSI_IMAGE;

    #[test]
    fn manifests_leave_no_placeholder_behind_and_use_the_image() {
        let deployment = HostpathDeployment::new("ns-1", "/tmp/state/kubelet").driver_name("d.csi");
        let yaml =
            deployment.render_all().unwrap() + &deployment.render_snapshot_controller().unwrap();
        for placeholder in ["KUBELET_ROOT", "DRIVER_NAME", "TEST_NAMESPACE"] {
            assert!(
                !yaml.contains(placeholder),
                "{placeholder} left in the manifests"
            );
        }
        assert!(yaml.contains(CSI_IMAGE));
        assert!(yaml.contains("/tmp/state/kubelet/plugins/d.csi/csi.sock"));
        assert!(yaml.contains("namespace: ns-1"));
    }
}
