//! External drivers described by a YAML file (`--storage.testdriver=FILE`, repeatable), the
//! format of upstream's `test/e2e/storage/external` — but parsed strictly: an unknown key, a
//! misspelled capability or timeout, or a bad duration is an error with the file, line and
//! column, and a suggestion.

use crate::capability::Capability;
use crate::driver::{
    ClientNodeSelection, DriverInfo, DynamicPvDriver, EphemeralDriver, InlineVolume, PerTestConfig,
    SizeRange, SnapshottableDriver, StressTestOptions, TestDriver,
};
use crate::suite::{TestSuite, register_driver};
use anyhow::Context as _;
use futures::future::BoxFuture;
use k8s_openapi::api::storage::v1::StorageClass;
use kube::api::{Api, DynamicObject};
use kube_e2e::config::param::{Params, parse_duration, suggest};
use kube_e2e::{Container, Framework, Timeouts};
use serde::{Deserialize, Deserializer};
use serde_json::json;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// Errors reading a driver file.
#[derive(Debug, thiserror::Error)]
pub enum ExternalDriverError {
    /// The file cannot be read.
    #[error("failed to read driver file {file}")]
    Read {
        /// The file.
        file: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file does not describe a driver.
    #[error("{file}:{line}:{column}: {message}")]
    Invalid {
        /// The file.
        file: String,
        /// 1-based line (0 when unknown).
        line: u64,
        /// 1-based column (0 when unknown).
        column: u64,
        /// What is wrong, with a suggestion where there is one.
        message: String,
    },
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Empty {}

/// Where a class comes from; exactly one field is set.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClassSource {
    /// An empty class naming the driver.
    #[serde(rename = "FromName", default)]
    pub from_name: bool,
    /// A class from a test file (one object).
    #[serde(rename = "FromFile", default)]
    pub from_file: Option<String>,
    /// A copy of a class already in the cluster.
    #[serde(rename = "FromExistingClassName", default)]
    pub from_existing_class_name: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DriverInfoFile {
    #[serde(rename = "Name")]
    name: String,
    #[serde(rename = "InTreePluginName", default)]
    _in_tree_plugin_name: Option<String>,
    #[serde(rename = "TestTags", default)]
    _test_tags: Vec<String>,
    #[serde(rename = "MaxFileSize", default)]
    max_file_size: u64,
    #[serde(rename = "SupportedSizeRange", default)]
    supported_size_range: SizeRange,
    #[serde(rename = "SupportedFsType", default)]
    supported_fs_type: BTreeMap<String, Empty>,
    #[serde(rename = "SupportedMountOption", default)]
    supported_mount_option: BTreeMap<String, Empty>,
    #[serde(rename = "RequiredMountOption", default)]
    required_mount_option: BTreeMap<String, Empty>,
    #[serde(rename = "Capabilities", default)]
    capabilities: BTreeMap<Capability, bool>,
    #[serde(rename = "RequiredAccessModes", default)]
    required_access_modes: Vec<String>,
    #[serde(rename = "TopologyKeys", default)]
    topology_keys: Vec<String>,
    #[serde(rename = "NumAllowedTopologies", default)]
    _num_allowed_topologies: Option<u32>,
    #[serde(rename = "StressTestOptions", default)]
    stress_test_options: Option<StressTestOptions>,
}

/// Upstream's `TimeoutContext` field names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[allow(missing_docs)]
pub enum TimeoutKey {
    PodStart,
    PodStartShort,
    PodStartSlow,
    PodDelete,
    ClaimProvision,
    ClaimProvisionShort,
    DataSourceProvision,
    ClaimBound,
    PVReclaim,
    PVBound,
    PVCreate,
    PVDelete,
    PVDeleteSlow,
    SnapshotCreate,
    SnapshotDelete,
    SnapshotControllerMetrics,
    SystemPodsStartup,
    NodeSchedulable,
    SystemDaemonsetStartup,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct GoDuration(Duration);

impl<'de> Deserialize<'de> for GoDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        parse_duration(&text)
            .map(GoDuration)
            .map_err(|e| serde::de::Error::custom(format!("bad duration `{text}`: {e}")))
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DriverFile {
    #[serde(rename = "DriverInfo")]
    driver_info: DriverInfoFile,
    #[serde(rename = "StorageClass", default)]
    storage_class: Option<ClassSource>,
    #[serde(rename = "SnapshotClass", default)]
    snapshot_class: Option<ClassSource>,
    #[serde(rename = "VolumeAttributesClass", default)]
    _volume_attributes_class: Option<ClassSource>,
    #[serde(rename = "InlineVolumes", default)]
    inline_volumes: Vec<InlineVolume>,
    #[serde(rename = "ClientNodeName", default)]
    client_node_name: Option<String>,
    #[serde(rename = "NodeSelectors", default)]
    node_selectors: BTreeMap<String, String>,
    #[serde(rename = "Timeouts", default)]
    timeouts: BTreeMap<TimeoutKey, GoDuration>,
}

/// A driver described by a file.
#[derive(Debug)]
pub struct ExternalDriver {
    info: DriverInfo,
    storage_class: Option<ClassSource>,
    snapshot_class: Option<ClassSource>,
    inline_volumes: Vec<InlineVolume>,
    client_node: ClientNodeSelection,
    timeouts: BTreeMap<TimeoutKey, Duration>,
    classes: AtomicUsize,
}

fn invalid(file: &str, e: serde_saphyr::Error) -> ExternalDriverError {
    let (line, column) = e
        .location()
        .map(|l| (l.line(), l.column()))
        .unwrap_or((0, 0));
    let message = match &e {
        serde_saphyr::Error::SerdeUnknownField {
            field, expected, ..
        } => unknown("key", field, expected),
        serde_saphyr::Error::SerdeUnknownVariant {
            variant, expected, ..
        } => unknown("name", variant, expected),
        other => other
            .to_string()
            .lines()
            .next()
            .unwrap_or_default()
            .to_string(),
    };
    ExternalDriverError::Invalid {
        file: file.into(),
        line,
        column,
        message,
    }
}

fn unknown(what: &str, found: &str, expected: &[&'static str]) -> String {
    let known: Vec<&str> = expected
        .iter()
        .copied()
        .filter(|k| !k.starts_with('_'))
        .collect();
    // Case slips (`persistance`, `Persistence`) are the usual typos.
    let hint = known
        .iter()
        .find(|k| k.eq_ignore_ascii_case(found))
        .copied()
        .or_else(|| suggest(found, known.iter().copied()));
    match hint {
        Some(h) => format!("unknown {what} `{found}`; did you mean `{h}`?"),
        None => format!(
            "unknown {what} `{found}`; expected one of: {}",
            known.join(", ")
        ),
    }
}

impl ExternalDriver {
    /// Parses a driver file's text; `file` names it in errors.
    ///
    /// # Errors
    ///
    /// [`ExternalDriverError::Invalid`] with line, column and a suggestion for typos.
    pub fn parse(file: &str, text: &str) -> Result<Self, ExternalDriverError> {
        let def: DriverFile = serde_saphyr::from_str(text).map_err(|e| invalid(file, e))?;
        let d = def.driver_info;
        let at_start = |message: String| ExternalDriverError::Invalid {
            file: file.into(),
            line: 1,
            column: 1,
            message,
        };
        if d.name.trim().is_empty() {
            return Err(at_start("`DriverInfo.Name` must not be empty".into()));
        }
        for (key, source) in [
            ("StorageClass", &def.storage_class),
            ("SnapshotClass", &def.snapshot_class),
        ] {
            if let Some(s) = source {
                let set = usize::from(s.from_name)
                    + usize::from(s.from_file.is_some())
                    + usize::from(s.from_existing_class_name.is_some());
                if set != 1 {
                    return Err(at_start(format!(
                        "`{key}` needs exactly one of `FromName: true`, `FromFile` and `FromExistingClassName` ({set} given)"
                    )));
                }
            }
        }
        let mut capabilities = d.capabilities;
        if capabilities.get(&Capability::ControllerExpansion) == Some(&true) {
            // Upstream's defaults: a driver that expands does so offline and online unless told.
            capabilities
                .entry(Capability::OnlineExpansion)
                .or_insert(true);
            capabilities
                .entry(Capability::OfflineExpansion)
                .or_insert(true);
        }
        let mut fs: std::collections::BTreeSet<String> = d.supported_fs_type.into_keys().collect();
        if fs.is_empty() {
            fs.insert(String::new());
        }
        let mut size = d.supported_size_range;
        if size.min.is_empty() {
            size.min = "5Gi".into();
        }
        Ok(ExternalDriver {
            info: DriverInfo {
                name: d.name,
                max_file_size: d.max_file_size,
                supported_size_range: size,
                supported_fs_types: fs,
                supported_mount_options: d.supported_mount_option.into_keys().collect(),
                required_mount_options: d.required_mount_option.into_keys().collect(),
                capabilities,
                required_access_modes: d.required_access_modes,
                topology_keys: d.topology_keys,
                stress_test_options: d.stress_test_options,
            },
            storage_class: def.storage_class,
            snapshot_class: def.snapshot_class,
            inline_volumes: def.inline_volumes,
            client_node: ClientNodeSelection {
                name: def.client_node_name,
                selector: def.node_selectors,
            },
            timeouts: def.timeouts.into_iter().map(|(k, v)| (k, v.0)).collect(),
            classes: AtomicUsize::new(0),
        })
    }

    /// Where the driver's storage classes come from (`StorageClass`); `None`: no dynamic
    /// provisioning.
    pub fn storage_class_source(&self) -> Option<&ClassSource> {
        self.storage_class.as_ref()
    }

    /// Where the driver's snapshot classes come from (`SnapshotClass`); `None`: no snapshots.
    pub fn snapshot_class_source(&self) -> Option<&ClassSource> {
        self.snapshot_class.as_ref()
    }

    /// Reads and parses a driver file.
    ///
    /// # Errors
    ///
    /// As [`ExternalDriver::parse`], or the file being unreadable.
    pub fn load(path: &Path) -> Result<Self, ExternalDriverError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ExternalDriverError::Read {
            file: file.clone(),
            source,
        })?;
        Self::parse(&file, &text)
    }

    fn class_name(&self, config: &PerTestConfig, kind: &str) -> String {
        let n = self.classes.fetch_add(1, Ordering::Relaxed);
        format!("{}-{kind}{n}", config.framework.namespace())
    }
}

/// Registers every driver file given with `--storage.testdriver` with `suites`, as upstream's
/// "External Storage"; call it from a generator (see [`external_drivers!`](crate::external_drivers)).
///
/// # Errors
///
/// The first file that does not parse.
pub fn register_from_params(
    s: &mut Container,
    params: &Params,
    suites: &[TestSuite],
) -> anyhow::Result<()> {
    for file in params.list("storage.testdriver") {
        let driver = ExternalDriver::load(Path::new(&file))?;
        register_driver(s, "External Storage", Arc::new(driver), suites);
    }
    Ok(())
}

impl TestDriver for ExternalDriver {
    fn driver_info(&self) -> &DriverInfo {
        &self.info
    }

    fn prepare<'a>(&'a self, f: Arc<Framework>) -> BoxFuture<'a, anyhow::Result<PerTestConfig>> {
        Box::pin(async move {
            Ok(PerTestConfig {
                framework: f,
                driver_name: self.info.name.clone(),
                prefix: "external".into(),
                client_node: self.client_node.clone(),
                driver_namespace: None,
            })
        })
    }

    fn as_dynamic_pv(&self) -> Option<&dyn DynamicPvDriver> {
        self.storage_class
            .is_some()
            .then_some(self as &dyn DynamicPvDriver)
    }
    fn as_snapshottable(&self) -> Option<&dyn SnapshottableDriver> {
        self.snapshot_class
            .is_some()
            .then_some(self as &dyn SnapshottableDriver)
    }
    fn as_ephemeral(&self) -> Option<&dyn EphemeralDriver> {
        (!self.inline_volumes.is_empty()).then_some(self as &dyn EphemeralDriver)
    }

    fn timeouts(&self) -> Option<Timeouts> {
        if self.timeouts.is_empty() {
            return None;
        }
        let mut t = Timeouts::default();
        for (k, v) in &self.timeouts {
            let v = *v;
            match k {
                TimeoutKey::PodStart => t.pod_start = v,
                TimeoutKey::PodStartShort => t.pod_start_short = v,
                TimeoutKey::PodStartSlow => t.pod_start_slow = v,
                TimeoutKey::PodDelete => t.pod_delete = v,
                TimeoutKey::ClaimProvision => t.claim_provision = v,
                TimeoutKey::ClaimProvisionShort => t.claim_provision_short = v,
                TimeoutKey::DataSourceProvision => t.data_source_provision = v,
                TimeoutKey::ClaimBound => t.claim_bound = v,
                TimeoutKey::PVReclaim => t.pv_reclaim = v,
                TimeoutKey::PVBound => t.pv_bound = v,
                TimeoutKey::PVCreate => t.pv_create = v,
                TimeoutKey::PVDelete => t.pv_delete = v,
                TimeoutKey::PVDeleteSlow => t.pv_delete_slow = v,
                TimeoutKey::SnapshotCreate => t.snapshot_create = v,
                TimeoutKey::SnapshotDelete => t.snapshot_delete = v,
                TimeoutKey::SnapshotControllerMetrics => t.snapshot_controller_metrics = v,
                TimeoutKey::SystemPodsStartup => t.system_pods_startup = v,
                TimeoutKey::NodeSchedulable => t.node_schedulable = v,
                TimeoutKey::SystemDaemonsetStartup => t.system_daemonset_startup = v,
            }
        }
        Some(t)
    }
}

async fn class_from_source(
    f: &Framework,
    source: &ClassSource,
    resource: &kube::api::ApiResource,
    fallback: serde_json::Value,
) -> anyhow::Result<DynamicObject> {
    let api: Api<DynamicObject> = Api::all_with(f.client().clone(), resource);
    let mut obj = if let Some(name) = &source.from_existing_class_name {
        api.get(name)
            .await
            .with_context(|| format!("reading existing {} {name}", resource.kind))?
    } else if let Some(file) = &source.from_file {
        let (text, origin) = f.session().files().read_to_string(file)?;
        serde_saphyr::from_str::<DynamicObject>(&text)
            .map_err(|e| anyhow::anyhow!("{origin}: {e}"))?
    } else {
        let mut o = DynamicObject::new("", resource);
        o.data = fallback;
        o
    };
    obj.metadata = kube::api::ObjectMeta::default();
    obj.types = Some(kube::core::TypeMeta {
        api_version: resource.api_version.clone(),
        kind: resource.kind.clone(),
    });
    Ok(obj)
}

impl DynamicPvDriver for ExternalDriver {
    fn storage_class<'a>(
        &'a self,
        config: &'a PerTestConfig,
        _fs_type: &'a str,
    ) -> BoxFuture<'a, anyhow::Result<StorageClass>> {
        Box::pin(async move {
            let source = self
                .storage_class
                .as_ref()
                .context("no StorageClass in the driver file")?;
            let ar = kube::api::ApiResource::erase::<StorageClass>(&());
            let mut obj = class_from_source(
                &config.framework,
                source,
                &ar,
                json!({"provisioner": self.info.name}),
            )
            .await?;
            obj.metadata.name = Some(self.class_name(config, "sc"));
            Ok(serde_json::from_value(serde_json::to_value(&obj)?)?)
        })
    }
}

impl SnapshottableDriver for ExternalDriver {
    fn snapshot_class<'a>(
        &'a self,
        config: &'a PerTestConfig,
        parameters: BTreeMap<String, String>,
    ) -> BoxFuture<'a, anyhow::Result<DynamicObject>> {
        Box::pin(async move {
            let source = self
                .snapshot_class
                .as_ref()
                .context("no SnapshotClass in the driver file")?;
            let ar = crate::volume::snapshot_resource("VolumeSnapshotClass");
            let mut obj = class_from_source(
                &config.framework,
                source,
                &ar,
                json!({"driver": self.info.name, "deletionPolicy": "Delete"}),
            )
            .await?;
            obj.metadata.name = Some(self.class_name(config, "vsc"));
            if !parameters.is_empty() {
                let p = obj.data["parameters"]
                    .as_object()
                    .cloned()
                    .unwrap_or_default();
                let mut p = p;
                for (k, v) in parameters {
                    p.insert(k, json!(v));
                }
                obj.data["parameters"] = json!(p);
            }
            Ok(obj)
        })
    }
}

impl EphemeralDriver for ExternalDriver {
    fn volume(&self, _config: &PerTestConfig, n: usize) -> InlineVolume {
        self.inline_volumes[n % self.inline_volumes.len()].clone()
    }
}
