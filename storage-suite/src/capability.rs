//! Capabilities a driver claims, under upstream's keys (`persistence`, `block`, `RWX`, …), so
//! a driver file written for upstream's `e2e.test` keeps its meaning here.

use serde::{Deserialize, Serialize};
use std::fmt;

/// One storage capability. The serde name is upstream's key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Capability {
    /// Data survives pod restarts.
    #[serde(rename = "persistence")]
    Persistence,
    /// Raw block volumes.
    #[serde(rename = "block")]
    Block,
    /// Ownership change through `fsGroup`.
    #[serde(rename = "fsGroup")]
    FsGroup,
    /// CSI node `VOLUME_MOUNT_GROUP`; `fsGroup` must also be set.
    #[serde(rename = "volumeMountGroup")]
    VolumeMountGroup,
    /// Files on the volume can be executed.
    #[serde(rename = "exec")]
    Exec,
    /// Provisioning from a VolumeSnapshot.
    #[serde(rename = "snapshotDataSource")]
    SnapshotDataSource,
    /// VolumeGroupSnapshots (Kubernetes 1.32+ test suites).
    #[serde(rename = "groupSnapshot")]
    GroupSnapshot,
    /// Cloning from a PVC.
    #[serde(rename = "pvcDataSource")]
    PvcDataSource,
    /// Snapshots and clones only while the volume is not attached.
    #[serde(rename = "offlineSnapshotClone")]
    OfflineSnapshotClone,
    /// Several pods on one node may use the volume at once.
    #[serde(rename = "multipods")]
    MultiPods,
    /// ReadWriteMany.
    #[serde(rename = "RWX")]
    Rwx,
    /// ReadWriteMany for file-system volumes only (newer upstream releases).
    #[serde(rename = "RWXFilesystemOnly")]
    RwxFilesystemOnly,
    /// ReadWriteMany for raw block volumes only (newer upstream releases).
    #[serde(rename = "RWXBlockOnly")]
    RwxBlockOnly,
    /// Controller-side resize.
    #[serde(rename = "controllerExpansion")]
    ControllerExpansion,
    /// Node-side file system resize.
    #[serde(rename = "nodeExpansion")]
    NodeExpansion,
    /// Resize while no pod uses the volume (defaults to true with controllerExpansion).
    #[serde(rename = "offlineExpansion")]
    OfflineExpansion,
    /// Resize while a pod uses the volume (defaults to true with controllerExpansion).
    #[serde(rename = "onlineExpansion")]
    OnlineExpansion,
    /// Per-node volume limits.
    #[serde(rename = "volumeLimits")]
    VolumeLimits,
    /// A volume is reachable from one node only.
    #[serde(rename = "singleNodeVolume")]
    SingleNodeVolume,
    /// Topology-aware provisioning.
    #[serde(rename = "topology")]
    Topology,
    /// Publishes CSIStorageCapacity objects.
    #[serde(rename = "capacity")]
    Capacity,
    /// Anti-capability: no file system resize of cloned or restored volumes.
    #[serde(rename = "FSResizeFromSourceNotSupported")]
    FsResizeFromSourceNotSupported,
    /// ReadWriteOncePod access mode.
    #[serde(rename = "readWriteOncePod")]
    ReadWriteOncePod,
    /// Two PVs with the same volume handle are fine.
    #[serde(rename = "multiplePVsSameID")]
    MultiplePvsSameId,
    /// ReadOnlyMany.
    #[serde(rename = "capReadOnlyMany")]
    ReadOnlyMany,
}

impl Capability {
    /// Every capability, in upstream's order.
    pub const ALL: [Capability; 25] = [
        Capability::Persistence,
        Capability::Block,
        Capability::FsGroup,
        Capability::VolumeMountGroup,
        Capability::Exec,
        Capability::SnapshotDataSource,
        Capability::GroupSnapshot,
        Capability::PvcDataSource,
        Capability::OfflineSnapshotClone,
        Capability::MultiPods,
        Capability::Rwx,
        Capability::RwxFilesystemOnly,
        Capability::RwxBlockOnly,
        Capability::ControllerExpansion,
        Capability::NodeExpansion,
        Capability::OfflineExpansion,
        Capability::OnlineExpansion,
        Capability::VolumeLimits,
        Capability::SingleNodeVolume,
        Capability::Topology,
        Capability::Capacity,
        Capability::FsResizeFromSourceNotSupported,
        Capability::ReadWriteOncePod,
        Capability::MultiplePvsSameId,
        Capability::ReadOnlyMany,
    ];

    /// Upstream's key, as used in driver files.
    pub fn key(self) -> &'static str {
        match self {
            Capability::Persistence => "persistence",
            Capability::Block => "block",
            Capability::FsGroup => "fsGroup",
            Capability::VolumeMountGroup => "volumeMountGroup",
            Capability::Exec => "exec",
            Capability::SnapshotDataSource => "snapshotDataSource",
            Capability::GroupSnapshot => "groupSnapshot",
            Capability::PvcDataSource => "pvcDataSource",
            Capability::OfflineSnapshotClone => "offlineSnapshotClone",
            Capability::MultiPods => "multipods",
            Capability::Rwx => "RWX",
            Capability::RwxFilesystemOnly => "RWXFilesystemOnly",
            Capability::RwxBlockOnly => "RWXBlockOnly",
            Capability::ControllerExpansion => "controllerExpansion",
            Capability::NodeExpansion => "nodeExpansion",
            Capability::OfflineExpansion => "offlineExpansion",
            Capability::OnlineExpansion => "onlineExpansion",
            Capability::VolumeLimits => "volumeLimits",
            Capability::SingleNodeVolume => "singleNodeVolume",
            Capability::Topology => "topology",
            Capability::Capacity => "capacity",
            Capability::FsResizeFromSourceNotSupported => "FSResizeFromSourceNotSupported",
            Capability::ReadWriteOncePod => "readWriteOncePod",
            Capability::MultiplePvsSameId => "multiplePVsSameID",
            Capability::ReadOnlyMany => "capReadOnlyMany",
        }
    }

    /// The capability with upstream key `key`.
    pub fn from_key(key: &str) -> Option<Capability> {
        Capability::ALL.into_iter().find(|c| c.key() == key)
    }
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_upstreams_and_round_trip_through_serde() {
        for c in Capability::ALL {
            let json = serde_json::to_string(&c).unwrap();
            assert_eq!(json, format!("\"{}\"", c.key()));
            assert_eq!(serde_json::from_str::<Capability>(&json).unwrap(), c);
            assert_eq!(Capability::from_key(c.key()), Some(c));
        }
        assert_eq!(Capability::Rwx.key(), "RWX");
        assert_eq!(Capability::MultiPods.key(), "multipods");
        assert_eq!(Capability::ReadOnlyMany.key(), "capReadOnlyMany");
        assert_eq!(Capability::from_key("Persistence"), None);
    }
}
