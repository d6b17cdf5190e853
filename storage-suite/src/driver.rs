//! The driver model: [`TestDriver`] with its static [`DriverInfo`], optional capability traits
//! (reached through `as_*` methods, Rust's form of upstream's interface assertions), and the
//! [`PerTestConfig`] a driver hands each spec.

use crate::capability::Capability;
use crate::pattern::{TestPattern, VolType};
use futures::future::BoxFuture;
use k8s_openapi::api::storage::v1::StorageClass;
use kube::api::DynamicObject;
use kube_e2e::{Framework, Timeouts};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// Supported volume sizes (Kubernetes quantities such as `1Mi`); empty means unbounded.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SizeRange {
    /// Smallest size.
    pub min: String,
    /// Largest size.
    pub max: String,
}

/// Scale of the volume-stress suite (upstream's `StressTestOptions`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StressTestOptions {
    /// Pods started concurrently (each may get a volume).
    pub num_pods: u32,
    /// Restarts of each pod.
    pub num_restarts: u32,
}

/// Scale of the snapshottable-stress suite (`VolumeSnapshotStressTestOptions`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VolumeSnapshotStressTestOptions {
    /// Pods started concurrently, each with a volume.
    pub num_pods: u32,
    /// Snapshots taken of each volume.
    pub num_snapshots: u32,
}

/// Scale of the volume-modify-stress suite (`VolumeModifyStressTestOptions`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VolumeModifyStressTestOptions {
    /// Pods started concurrently, each with a volume that has a VolumeAttributesClass.
    pub num_pods: u32,
}

/// Expected results of a performance measurement (upstream's `Metrics`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PerformanceMetrics {
    /// Average latency of one operation.
    pub avg_latency: std::time::Duration,
    /// Operations per second.
    pub throughput: f64,
}

/// How the provisioning-performance suite provisions (`PerformanceTestProvisioningOptions`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ProvisioningPerformanceOptions {
    /// Size of each claim (a quantity).
    pub volume_size: String,
    /// Claims created.
    pub count: u32,
    /// What a passing run must reach, from claim creation to Bound.
    pub expected_metrics: Option<PerformanceMetrics>,
}

/// Parameters of the performance suites (`PerformanceTestOptions`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PerformanceTestOptions {
    /// Provisioning performance.
    pub provisioning: Option<ProvisioningPerformanceOptions>,
}

/// Static facts about a driver.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DriverInfo {
    /// Display name; for CSI drivers also the driver (provisioner) name.
    pub name: String,
    /// The in-tree plugin's name (empty for CSI drivers).
    pub in_tree_plugin_name: String,
    /// Extra tags of every spec of the driver.
    pub test_tags: Vec<String>,
    /// Largest file the volumeIO suite writes, in bytes (0: 100 MiB, upstream's medium size).
    pub max_file_size: u64,
    /// Sizes the driver accepts.
    pub supported_size_range: SizeRange,
    /// File system types; `""` is the driver's default.
    pub supported_fs_types: BTreeSet<String>,
    /// Mount options the driver accepts.
    pub supported_mount_options: BTreeSet<String>,
    /// Mount options every volume needs.
    pub required_mount_options: BTreeSet<String>,
    /// What the driver can do; a missing key is `false`.
    pub capabilities: BTreeMap<Capability, bool>,
    /// Access modes volumes must be created with (default ReadWriteOnce).
    pub required_access_modes: Vec<String>,
    /// Topology keys the driver publishes.
    pub topology_keys: Vec<String>,
    /// Allowed topologies a volume needs (0: upstream's default, 1).
    pub num_allowed_topologies: u32,
    /// Volume-stress suite options.
    pub stress_test_options: Option<StressTestOptions>,
    /// Snapshottable-stress suite options.
    pub volume_snapshot_stress_test_options: Option<VolumeSnapshotStressTestOptions>,
    /// Volume-modify-stress suite options.
    pub volume_modify_stress_test_options: Option<VolumeModifyStressTestOptions>,
    /// Performance suite options.
    pub performance_test_options: Option<PerformanceTestOptions>,
}

impl DriverInfo {
    /// Whether the driver claims `cap`.
    pub fn has(&self, cap: Capability) -> bool {
        self.capabilities.get(&cap).copied().unwrap_or(false)
    }

    /// The access mode claims get: the first required one, else `ReadWriteOnce`.
    pub fn access_mode(&self) -> String {
        self.required_access_modes
            .first()
            .cloned()
            .unwrap_or_else(|| "ReadWriteOnce".into())
    }

    /// The claim size for tests: the range's minimum, else `1Mi`.
    pub fn claim_size(&self) -> String {
        if self.supported_size_range.min.is_empty() {
            "1Mi".into()
        } else {
            self.supported_size_range.min.clone()
        }
    }
}

/// Where pods that use a test volume run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClientNodeSelection {
    /// Pin to this node.
    pub name: Option<String>,
    /// Node selector.
    pub selector: BTreeMap<String, String>,
}

/// What a driver prepared for one spec.
#[derive(Clone)]
pub struct PerTestConfig {
    /// The spec's framework.
    pub framework: Arc<Framework>,
    /// The driver name for this spec (unique when the driver is deployed per spec).
    pub driver_name: String,
    /// Short word for generated names.
    pub prefix: String,
    /// Where client pods go.
    pub client_node: ClientNodeSelection,
    /// Namespace the driver runs in, when it was deployed for the spec.
    pub driver_namespace: Option<String>,
}

/// A CSI ephemeral (inline) volume: attributes and whether it may be shared or is read-only.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InlineVolume {
    /// `volumeAttributes` of the CSI volume source.
    pub attributes: BTreeMap<String, String>,
    /// Several pods on one node get the same volume.
    pub shared: bool,
    /// The volume is read-only.
    pub read_only: bool,
}

/// A storage driver under test. Implement it (and the capability traits the driver supports)
/// once; every suite then runs for every pattern it supports.
pub trait TestDriver: Send + Sync + 'static {
    /// The static facts.
    fn driver_info(&self) -> &DriverInfo;

    /// A reason not to register `pattern` for this driver, beyond what the model derives from
    /// [`DriverInfo`] and the capability traits.
    fn skip_unsupported(&self, _pattern: &TestPattern) -> Option<String> {
        None
    }

    /// Deploys what one spec needs (or returns a shared deployment) and registers its cleanup
    /// with the spec.
    fn prepare<'a>(&'a self, f: Arc<Framework>) -> BoxFuture<'a, anyhow::Result<PerTestConfig>>;

    /// Dynamic provisioning through a storage class: `DynamicPV` and generic ephemeral patterns.
    fn as_dynamic_pv(&self) -> Option<&dyn DynamicPvDriver> {
        None
    }
    /// Snapshots through a snapshot class.
    fn as_snapshottable(&self) -> Option<&dyn SnapshottableDriver> {
        None
    }
    /// CSI ephemeral (inline) volumes.
    fn as_ephemeral(&self) -> Option<&dyn EphemeralDriver> {
        None
    }
    /// In-tree style inline volume sources.
    fn as_inline_volume(&self) -> Option<&dyn InlineVolumeDriver> {
        None
    }
    /// Pre-provisioned persistent volumes.
    fn as_preprovisioned_pv(&self) -> Option<&dyn PreprovisionedPvDriver> {
        None
    }
    /// Timeouts of its own (else the framework's).
    fn timeouts(&self) -> Option<Timeouts> {
        None
    }
}

/// `DynamicPVTestDriver`: a storage class per call, with a unique name.
pub trait DynamicPvDriver: Send + Sync {
    /// The storage class for `fs_type` (`""`: default), not yet created.
    fn storage_class<'a>(
        &'a self,
        config: &'a PerTestConfig,
        fs_type: &'a str,
    ) -> BoxFuture<'a, anyhow::Result<StorageClass>>;
}

/// `SnapshottableTestDriver`: a VolumeSnapshotClass, not yet created.
pub trait SnapshottableDriver: Send + Sync {
    /// The snapshot class with `parameters` merged in.
    fn snapshot_class<'a>(
        &'a self,
        config: &'a PerTestConfig,
        parameters: BTreeMap<String, String>,
    ) -> BoxFuture<'a, anyhow::Result<DynamicObject>>;
}

/// `EphemeralTestDriver`: CSI inline volumes.
pub trait EphemeralDriver: Send + Sync {
    /// The `n`-th inline volume of a spec.
    fn volume(&self, config: &PerTestConfig, n: usize) -> InlineVolume;
    /// The CSI driver name to put into pod specs.
    fn csi_driver_name(&self, config: &PerTestConfig) -> String {
        config.driver_name.clone()
    }
}

/// `InlineVolumeTestDriver`: a volume source (as JSON) for pod specs.
pub trait InlineVolumeDriver: Send + Sync {
    /// The volume source.
    fn volume_source(&self, read_only: bool, fs_type: &str) -> serde_json::Value;
}

/// `PreprovisionedPVTestDriver`: a PV source (as JSON) for PVs the test creates.
pub trait PreprovisionedPvDriver: Send + Sync {
    /// The persistent volume source.
    fn persistent_volume_source(&self, read_only: bool, fs_type: &str) -> serde_json::Value;
}

/// Why `driver` cannot run `pattern` at all, checked in upstream's order: the driver's own
/// veto, the capability trait the volume type needs, the fs type, the node OS.
pub fn skip_invalid_driver_pattern(
    driver: &dyn TestDriver,
    pattern: &TestPattern,
) -> Option<String> {
    if let Some(reason) = driver.skip_unsupported(pattern) {
        return Some(reason);
    }
    let info = driver.driver_info();
    let missing = match pattern.vol_type {
        VolType::Inline if driver.as_inline_volume().is_none() => Some("inline volumes"),
        VolType::PreprovisionedPv if driver.as_preprovisioned_pv().is_none() => {
            Some("pre-provisioned PVs")
        }
        VolType::DynamicPv | VolType::GenericEphemeral if driver.as_dynamic_pv().is_none() => {
            Some("dynamic provisioning (a storage class)")
        }
        VolType::CsiInline if driver.as_ephemeral().is_none() => {
            Some("CSI ephemeral (inline) volumes")
        }
        _ => None,
    };
    if let Some(what) = missing {
        return Some(format!("driver {} does not provide {what}", info.name));
    }
    if !info.supported_fs_types.contains(&pattern.fs_type) {
        return Some(format!(
            "driver {} does not support fs type {}",
            info.name,
            pattern.fs_display()
        ));
    }
    if pattern.fs_type == "ntfs" {
        return Some("fs type ntfs needs Windows nodes; the suite runs Linux nodes".into());
    }
    None
}
