//! What suites do with volumes: storage classes and claims for a pattern, pods that run a
//! script against mounted volumes and report through their logs, snapshots, and the cleanup
//! that removes a spec's volumes while its driver still runs.

use crate::driver::{DriverInfo, PerTestConfig, TestDriver};
use crate::pattern::{TestPattern, VolMode, VolType};
use anyhow::{Context as _, bail};
use k8s_openapi::api::core::v1::{Event, PersistentVolume, PersistentVolumeClaim, Pod};
use k8s_openapi::api::storage::v1::StorageClass;
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, ListParams, LogParams, PostParams};
use kube_e2e::SpecContext;
use kube_e2e::SpecContextExt as _;
use kube_e2e::conditions::{self, Progress};
use kube_e2e::images::Image;
use kube_e2e::prelude::eventually;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

/// Where pods mount the test volume.
pub const MOUNT_PATH: &str = "/mnt/volume1";

/// The resource name of a snapshot kind: `VolumeSnapshotClass` → `volumesnapshotclasses`.
fn plural_of(kind: &str) -> String {
    let lower = kind.to_lowercase();
    if lower.ends_with('s') {
        format!("{lower}es")
    } else {
        format!("{lower}s")
    }
}

/// The `snapshot.storage.k8s.io/v1` resource of `kind` (`VolumeSnapshot`, …).
pub fn snapshot_resource(kind: &str) -> ApiResource {
    ApiResource {
        group: "snapshot.storage.k8s.io".into(),
        version: "v1".into(),
        api_version: "snapshot.storage.k8s.io/v1".into(),
        kind: kind.into(),
        plural: plural_of(kind),
    }
}

/// Whether `e` says the object does not exist (HTTP 404): the one error a delete of something
/// that may be gone already can take as success.
pub fn is_not_found(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(ae) if ae.code == 404)
}

/// Deletes `what` `name` through `api`; an object that is already gone (404) is fine.
///
/// # Errors
///
/// Any other API error, naming the object.
pub async fn delete_if_present<K>(
    api: &Api<K>,
    what: &str,
    name: &str,
    dp: &DeleteParams,
) -> anyhow::Result<()>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    match api.delete(name, dp).await {
        Ok(_) => Ok(()),
        Err(e) if is_not_found(&e) => Ok(()),
        Err(e) => Err(anyhow::Error::new(e).context(format!("deleting {what} {name}"))),
    }
}

/// Prepares the driver for the spec and registers the cleanup that deletes the spec's pods,
/// snapshots and claims — and waits for their volumes to go — before the driver is removed.
///
/// # Errors
///
/// The driver's `prepare` failing.
pub async fn setup(
    cx: &SpecContext,
    driver: &Arc<dyn TestDriver>,
) -> anyhow::Result<PerTestConfig> {
    let f = cx.framework()?;
    cx.by(format!("preparing driver {}", driver.driver_info().name));
    let config = driver.prepare(f).await?;
    let drain_config = config.clone();
    cx.defer_cleanup(move || async move { drain(&drain_config).await });
    Ok(config)
}

async fn drain(config: &PerTestConfig) -> anyhow::Result<()> {
    let f = &config.framework;
    let timeout = f.timeouts().pv_delete;
    // The spec's own pods (the driver's, when it runs in this namespace, have owners and
    // stay), deleted gracefully: kubelet removes a deleted pod from the API only once its
    // volumes are unmounted, which needs the driver — still running now, but not for long.
    let pods: Api<Pod> = f.api();
    let spec_pods = || async {
        Ok::<_, kube::Error>(
            pods.list(&ListParams::default())
                .await?
                .items
                .into_iter()
                .filter(|p| {
                    p.metadata
                        .owner_references
                        .as_ref()
                        .is_none_or(Vec::is_empty)
                })
                .filter_map(|p| p.metadata.name)
                .collect::<Vec<_>>(),
        )
    };
    for name in spec_pods().await? {
        delete_if_present(&pods, "pod", &name, &DeleteParams::background()).await?;
    }
    eventually(
        format!(
            "pods of namespace {} to be gone (their volumes unmounted)",
            f.namespace()
        ),
        || async {
            let left = spec_pods().await?;
            anyhow::ensure!(left.is_empty(), "left: {left:?}");
            Ok(())
        },
    )
    .timeout(f.timeouts().pod_delete)
    .await?;
    let snapshots: Api<DynamicObject> = Api::namespaced_with(
        f.client().clone(),
        f.namespace(),
        &snapshot_resource("VolumeSnapshot"),
    );
    // The snapshot CRDs are missing (404) on clusters without snapshot support.
    match snapshots
        .delete_collection(&DeleteParams::background(), &ListParams::default())
        .await
    {
        Ok(_) => {}
        Err(e) if is_not_found(&e) => {}
        Err(e) => {
            return Err(anyhow::Error::new(e).context(format!(
                "deleting the volume snapshots of namespace {}",
                f.namespace()
            )));
        }
    }
    let claims: Api<PersistentVolumeClaim> = f.api();
    claims
        .delete_collection(&DeleteParams::background(), &ListParams::default())
        .await?;
    let ns = f.namespace().to_string();
    let pvs: Api<PersistentVolume> = f.api_all();
    let contents: Api<DynamicObject> = Api::all_with(
        f.client().clone(),
        &snapshot_resource("VolumeSnapshotContent"),
    );
    let driver = config.driver_name.clone();
    eventually(
        format!("volumes and snapshot contents of namespace {ns} to be deleted"),
        || async {
            let left: Vec<String> = pvs
                .list(&ListParams::default())
                .await?
                .items
                .into_iter()
                .filter(|pv| {
                    pv.spec
                        .as_ref()
                        .and_then(|s| s.claim_ref.as_ref())
                        .and_then(|c| c.namespace.as_deref())
                        == Some(ns.as_str())
                })
                .filter_map(|pv| pv.metadata.name)
                .collect();
            let mut retained = Vec::new();
            // No snapshot CRDs (404), no snapshot contents.
            let list = match contents.list(&ListParams::default()).await {
                Ok(list) => list.items,
                Err(e) if is_not_found(&e) => Vec::new(),
                Err(e) => return Err(anyhow::Error::new(e).context("listing snapshot contents")),
            };
            for c in list {
                let mine = c.data["spec"]["volumeSnapshotRef"]["namespace"].as_str()
                    == Some(ns.as_str())
                    && c.data["spec"]["driver"].as_str() == Some(driver.as_str());
                if mine && let Some(name) = c.metadata.name {
                    // Retained contents stay until deleted by hand.
                    let dp = DeleteParams::background();
                    delete_if_present(&contents, "snapshot content", &name, &dp).await?;
                    retained.push(name);
                }
            }
            anyhow::ensure!(
                left.is_empty() && retained.is_empty(),
                "left: volumes {left:?}, snapshot contents {retained:?}"
            );
            Ok(())
        },
    )
    .timeout(timeout)
    .await?;
    Ok(())
}

/// A volume made for one spec from a pattern: the storage class and claim behind it (when
/// the pattern uses them) and the pod volume source.
#[derive(Clone, Debug)]
pub struct TestVolume {
    /// The storage class created for the spec, if any.
    pub storage_class: Option<StorageClass>,
    /// The claim's name for `DynamicPV`.
    pub claim: Option<String>,
    /// The `volumes[]` entry minus its name.
    pub source: Value,
    /// File system or raw block: mounted at, or mapped to, `/mnt/<name>` in pods.
    pub mode: VolMode,
}

/// Creates the spec's storage class from the driver, adjusted to the pattern.
///
/// # Errors
///
/// The driver has no dynamic provisioning, or the API refuses the class.
pub async fn create_storage_class(
    driver: &dyn TestDriver,
    config: &PerTestConfig,
    pattern: &TestPattern,
    allow_expansion: Option<bool>,
) -> anyhow::Result<StorageClass> {
    create_adjusted_storage_class(driver, config, pattern, allow_expansion, |_| {}).await
}

/// [`create_storage_class`], with `adjust` applied to the class before it is created (for
/// `allowedTopologies`, mount options, …).
///
/// # Errors
///
/// The driver has no dynamic provisioning, or the API refuses the class.
pub async fn create_adjusted_storage_class(
    driver: &dyn TestDriver,
    config: &PerTestConfig,
    pattern: &TestPattern,
    allow_expansion: Option<bool>,
    adjust: impl FnOnce(&mut StorageClass),
) -> anyhow::Result<StorageClass> {
    let dynamic = driver
        .as_dynamic_pv()
        .context("the driver has no dynamic provisioning")?;
    let mut sc = dynamic.storage_class(config, &pattern.fs_type).await?;
    if let Some(b) = pattern.binding_mode {
        sc.volume_binding_mode = Some(b.as_str().into());
    }
    sc.allow_volume_expansion = Some(allow_expansion.unwrap_or(pattern.allow_expansion));
    if !pattern.fs_type.is_empty() && pattern.vol_mode == VolMode::Filesystem {
        sc.parameters
            .get_or_insert_with(Default::default)
            .insert("csi.storage.k8s.io/fstype".into(), pattern.fs_type.clone());
    }
    adjust(&mut sc);
    let f = &config.framework;
    let api: Api<StorageClass> = f.api_all();
    let created = api
        .create(&PostParams::default(), &sc)
        .await
        .with_context(|| {
            format!(
                "creating storage class {}",
                sc.metadata.name.clone().unwrap_or_default()
            )
        })?;
    let name = created.metadata.name.clone().unwrap_or_default();
    if let Some(cx) = f.spec_context() {
        let api = api.clone();
        cx.defer_cleanup(move || async move {
            delete_if_present(&api, "storage class", &name, &DeleteParams::default()).await
        });
    }
    Ok(created)
}

/// A claim to make, built up and turned into the object with [`Claim::build`] (not created;
/// see [`create_claim`]):
///
/// ```
/// # use kube_e2e_storage::{pattern::VolMode, volume::Claim};
/// let pvc = Claim::new("data")
///     .storage_class("fast")
///     .access_modes(["ReadWriteOncePod"])
///     .size("1Gi")
///     .volume_mode(VolMode::Block)
///     .build()?;
/// assert_eq!(pvc.metadata.name.as_deref(), Some("data"));
/// # anyhow::Ok(())
/// ```
#[derive(Clone, Debug)]
#[must_use = "a claim is only described until `.build()`"]
pub struct Claim {
    name: String,
    storage_class: Option<String>,
    access_modes: Vec<String>,
    size: String,
    volume_mode: VolMode,
    data_source: Option<Value>,
}

impl Claim {
    /// Claim `name`: `ReadWriteOnce`, `1Mi`, a file system, the cluster's default class.
    pub fn new(name: impl Into<String>) -> Self {
        Claim {
            name: name.into(),
            storage_class: None,
            access_modes: vec!["ReadWriteOnce".into()],
            size: "1Mi".into(),
            volume_mode: VolMode::Filesystem,
            data_source: None,
        }
    }

    /// Claim `name` with the access mode and test size of a driver.
    pub fn for_driver(name: impl Into<String>, info: &DriverInfo) -> Self {
        Claim::new(name)
            .access_modes([info.access_mode()])
            .size(info.claim_size())
    }

    /// The storage class (`storageClassName`; empty asks for no class at all).
    pub fn storage_class(mut self, class: impl Into<String>) -> Self {
        self.storage_class = Some(class.into());
        self
    }

    /// The access modes, e.g. `["ReadWriteOnce"]`.
    pub fn access_modes<I, S>(mut self, modes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.access_modes = modes.into_iter().map(Into::into).collect();
        self
    }

    /// The requested storage, a quantity such as `1Mi`.
    pub fn size(mut self, size: impl Into<String>) -> Self {
        self.size = size.into();
        self
    }

    /// File system or raw block.
    pub fn volume_mode(mut self, mode: VolMode) -> Self {
        self.volume_mode = mode;
        self
    }

    /// The `dataSource` to populate it from: [`snapshot_source`] or [`claim_source`].
    pub fn data_source(mut self, source: Value) -> Self {
        self.data_source = Some(source);
        self
    }

    /// The claim object.
    ///
    /// # Errors
    ///
    /// A data source or size that does not fit the claim's schema.
    pub fn build(self) -> anyhow::Result<PersistentVolumeClaim> {
        let mut spec = json!({
            "accessModes": self.access_modes,
            "volumeMode": match self.volume_mode {
                VolMode::Filesystem => "Filesystem",
                VolMode::Block => "Block",
            },
            "resources": {"requests": {"storage": self.size}},
        });
        if let Some(class) = self.storage_class {
            spec["storageClassName"] = json!(class);
        }
        if let Some(ds) = self.data_source {
            spec["dataSource"] = ds;
        }
        serde_json::from_value(json!({"metadata": {"name": self.name}, "spec": spec}))
            .with_context(|| format!("building claim {}", self.name))
    }
}

/// Creates a claim in the spec's namespace.
///
/// # Errors
///
/// The API refusing it.
pub async fn create_claim(
    config: &PerTestConfig,
    claim: &PersistentVolumeClaim,
) -> anyhow::Result<PersistentVolumeClaim> {
    let api: Api<PersistentVolumeClaim> = config.framework.api();
    api.create(&PostParams::default(), claim)
        .await
        .with_context(|| {
            format!(
                "creating claim {}",
                claim.metadata.name.clone().unwrap_or_default()
            )
        })
}

/// [`setup`] then [`create_volume`]: the driver prepared for the spec and its test volume.
pub async fn setup_volume(
    cx: &SpecContext,
    driver: &Arc<dyn TestDriver>,
    pattern: &TestPattern,
) -> anyhow::Result<(PerTestConfig, TestVolume)> {
    let config = setup(cx, driver).await?;
    let volume = create_volume(driver.as_ref(), &config, pattern).await?;
    Ok((config, volume))
}

/// Creates the volume a pattern describes: a class and a bound-or-pending claim for
/// `DynamicPV`, a class and a claim template for generic ephemeral volumes, attributes for
/// CSI inline volumes.
///
/// # Errors
///
/// Unsupported volume types and API errors.
pub async fn create_volume(
    driver: &dyn TestDriver,
    config: &PerTestConfig,
    pattern: &TestPattern,
) -> anyhow::Result<TestVolume> {
    create_named_volume(driver, config, pattern, &format!("{}-claim", config.prefix)).await
}

/// [`create_volume`] with the claim (for `DynamicPV`) called `name`, so that a spec can make
/// several volumes.
///
/// # Errors
///
/// Unsupported volume types and API errors.
pub async fn create_named_volume(
    driver: &dyn TestDriver,
    config: &PerTestConfig,
    pattern: &TestPattern,
    name: &str,
) -> anyhow::Result<TestVolume> {
    let info = driver.driver_info();
    match pattern.vol_type {
        VolType::DynamicPv => {
            let sc = create_storage_class(driver, config, pattern, None).await?;
            let class = sc.metadata.name.clone().unwrap_or_default();
            let name = name.to_string();
            let c = Claim::for_driver(&name, info)
                .storage_class(class)
                .volume_mode(pattern.vol_mode)
                .build()?;
            create_claim(config, &c).await?;
            Ok(TestVolume {
                mode: pattern.vol_mode,
                storage_class: Some(sc),
                claim: Some(name.clone()),
                source: json!({"persistentVolumeClaim": {"claimName": name}}),
            })
        }
        VolType::GenericEphemeral => {
            let sc = create_storage_class(driver, config, pattern, None).await?;
            let class = sc.metadata.name.clone().unwrap_or_default();
            let c = Claim::for_driver("unused", info)
                .storage_class(class)
                .volume_mode(pattern.vol_mode)
                .build()?;
            Ok(TestVolume {
                mode: pattern.vol_mode,
                storage_class: Some(sc),
                claim: None,
                source: json!({"ephemeral": {"volumeClaimTemplate": {"spec": c.spec}}}),
            })
        }
        VolType::CsiInline => {
            let eph = driver
                .as_ephemeral()
                .context("the driver has no CSI inline volumes")?;
            let v = eph.volume(config, 0);
            Ok(TestVolume {
                mode: VolMode::Filesystem,
                storage_class: None,
                claim: None,
                source: json!({"csi": {
                    "driver": eph.csi_driver_name(config),
                    "readOnly": v.read_only,
                    "volumeAttributes": v.attributes,
                }}),
            })
        }
        other => bail!("volume type {other:?} is not implemented yet"),
    }
}

/// A busybox pod (root, privileged namespace) that mounts `volumes` under `/mnt/<name>` and
/// runs `script`; pinned as the driver asks.
pub fn pod(
    config: &PerTestConfig,
    name: &str,
    volumes: &[(&str, &Value)],
    script: &str,
) -> anyhow::Result<Pod> {
    let with_modes: Vec<(&str, &Value, VolMode)> = volumes
        .iter()
        .map(|(n, v)| (*n, *v, VolMode::Filesystem))
        .collect();
    pod_with_modes(config, name, &with_modes, script)
}

/// [`pod`] with each volume's mode: file system volumes are mounted at `/mnt/<name>`, block
/// volumes mapped to the device `/mnt/<name>`.
pub fn pod_with_modes(
    config: &PerTestConfig,
    name: &str,
    volumes: &[(&str, &Value, VolMode)],
    script: &str,
) -> anyhow::Result<Pod> {
    let f = &config.framework;
    let mut vols = Vec::new();
    let mut mounts = Vec::new();
    let mut devices = Vec::new();
    for (vname, source, mode) in volumes {
        let mut v = (*source).clone();
        v["name"] = json!(vname);
        vols.push(v);
        match mode {
            VolMode::Filesystem => {
                mounts.push(json!({"name": vname, "mountPath": format!("/mnt/{vname}")}))
            }
            VolMode::Block => {
                devices.push(json!({"name": vname, "devicePath": format!("/mnt/{vname}")}))
            }
        }
    }
    let mut container = json!({
        "name": "main",
        "image": f.image(Image::Busybox),
        "command": ["sh", "-c", script],
        "volumeMounts": mounts,
    });
    if !devices.is_empty() {
        container["volumeDevices"] = json!(devices);
    }
    let mut spec = json!({
        "restartPolicy": "Never",
        "terminationGracePeriodSeconds": 1,
        "containers": [container],
        "volumes": vols,
    });
    // The node is chosen through the scheduler (a hostname selector), not `nodeName`: only
    // the scheduler picks the node a late-binding (WaitForFirstConsumer) claim binds on.
    let mut selector = config.client_node.selector.clone();
    if let Some(node) = &config.client_node.name {
        selector.insert("kubernetes.io/hostname".to_string(), node.clone());
    }
    if !selector.is_empty() {
        spec["nodeSelector"] = json!(selector);
    }
    Ok(serde_json::from_value(
        json!({"metadata": {"name": name}, "spec": spec}),
    )?)
}

/// Runs `script` in a pod with the spec volume at [`MOUNT_PATH`], waits for it to succeed,
/// deletes it (so the volume is unmounted) and returns its output.
///
/// # Errors
///
/// The pod failing (its output is in the error) or not finishing in `pod_start`.
pub async fn run_script(
    cx: &SpecContext,
    config: &PerTestConfig,
    name: &str,
    source: &Value,
    script: &str,
) -> anyhow::Result<String> {
    run_with(cx, config, name, source, VolMode::Filesystem, script).await
}

/// Runs `script` (with `set -e`) in a pod with `source` as `volume1` in `mode`.
async fn run_with(
    cx: &SpecContext,
    config: &PerTestConfig,
    name: &str,
    source: &Value,
    mode: VolMode,
    script: &str,
) -> anyhow::Result<String> {
    let p = pod_with_modes(
        config,
        name,
        &[("volume1", source, mode)],
        &format!("set -e; {script}"),
    )?;
    run_pod(cx, config, p).await
}

/// [`run_script`] for a test volume of either mode (see [`pod_with_modes`]).
///
/// # Errors
///
/// The pod failing (its output is in the error) or not finishing in `pod_start`.
pub async fn run_on(
    cx: &SpecContext,
    config: &PerTestConfig,
    name: &str,
    volume: &TestVolume,
    script: &str,
) -> anyhow::Result<String> {
    run_with(cx, config, name, &volume.source, volume.mode, script).await
}

/// Stores the line `content` on `volume` (see [`write_data`]) from pod `name`.
///
/// # Errors
///
/// The pod failing or timing out.
pub async fn write_volume(
    cx: &SpecContext,
    config: &PerTestConfig,
    name: &str,
    volume: &TestVolume,
    content: &str,
) -> anyhow::Result<()> {
    run_on(cx, config, name, volume, &write_data(volume.mode, content)).await?;
    Ok(())
}

/// What [`write_volume`] stored, read by pod `name`, trimmed.
///
/// # Errors
///
/// The pod failing or timing out.
pub async fn read_volume(
    cx: &SpecContext,
    config: &PerTestConfig,
    name: &str,
    volume: &TestVolume,
) -> anyhow::Result<String> {
    let out = run_on(cx, config, name, volume, &read_data(volume.mode)).await?;
    Ok(out.trim().to_string())
}

/// Shell text that stores the line `content` on volume `volume1`: in the file `data` of a file
/// system volume, in the first sector of a block volume; synced either way.
pub fn write_data(mode: VolMode, content: &str) -> String {
    write_data_at(mode, MOUNT_PATH, content)
}

/// Shell text that prints what [`write_data`] stored.
pub fn read_data(mode: VolMode) -> String {
    read_data_at(mode, MOUNT_PATH)
}

/// [`write_data`] for the volume at `path` (a mount point or a device).
pub fn write_data_at(mode: VolMode, path: &str, content: &str) -> String {
    match mode {
        VolMode::Filesystem => format!("echo '{content}' > {path}/data && sync"),
        VolMode::Block => write_sector(path, 0, content),
    }
}

/// [`read_data`] for the volume at `path`.
pub fn read_data_at(mode: VolMode, path: &str) -> String {
    match mode {
        VolMode::Filesystem => format!("cat {path}/data"),
        VolMode::Block => read_sector(path, 0),
    }
}

/// Shell text that writes the line `content` into 512-byte sector `sector` of `device`.
pub fn write_sector(device: &str, sector: u32, content: &str) -> String {
    format!(
        "printf '%s\\n' '{content}' | dd of={device} bs=512 seek={sector} count=1 conv=sync,notrunc,fsync 2>/dev/null"
    )
}

/// Shell text that prints sector `sector` of `device` without its zero padding.
pub fn read_sector(device: &str, sector: u32) -> String {
    format!("dd if={device} bs=512 skip={sector} count=1 2>/dev/null | tr -d '\\000'")
}

/// Creates `pod`, waits until it succeeds, returns its log and deletes it.
///
/// # Errors
///
/// The pod failing (with its log) or timing out.
pub async fn run_pod(cx: &SpecContext, config: &PerTestConfig, pod: Pod) -> anyhow::Result<String> {
    let mut logs = run_pods(cx, config, vec![pod]).await?;
    Ok(logs.remove(0))
}

/// Creates all `pods` at once (so they run side by side), waits until each succeeds, deletes
/// them and returns their logs in order.
///
/// # Errors
///
/// A pod failing (with its log) or timing out.
pub async fn run_pods(
    cx: &SpecContext,
    config: &PerTestConfig,
    pods: Vec<Pod>,
) -> anyhow::Result<Vec<String>> {
    let api: Api<Pod> = config.framework.api();
    let mut names = Vec::new();
    for pod in &pods {
        let name = pod.metadata.name.clone().unwrap_or_default();
        cx.by(format!("running pod {name}"));
        api.create(&PostParams::default(), pod)
            .await
            .with_context(|| format!("creating pod {name}"))?;
        names.push(name);
    }
    let mut logs = Vec::new();
    for name in &names {
        logs.push(finish_pod(cx, config, name).await?);
    }
    Ok(logs)
}

/// Waits until the created pod `name` succeeds, returns its log and deletes it.
async fn finish_pod(
    cx: &SpecContext,
    config: &PerTestConfig,
    name: &str,
) -> anyhow::Result<String> {
    let f = &config.framework;
    let api: Api<Pod> = f.api();
    let name = name.to_string();
    let waited = conditions::wait_for(
        &api,
        &name,
        &format!("pod {name} to succeed"),
        f.timeouts().pod_start,
        Some(cx.cancellation_token()),
        conditions::pod_succeeded,
    )
    .await;
    let log = api
        .logs(&name, &LogParams::default())
        .await
        .unwrap_or_else(|e| format!("<no log: {e}>"));
    if let Err(e) = waited {
        bail!("{e}; log of pod {name}:\n{log}");
    }
    delete_pod(config, &name).await?;
    Ok(log)
}

/// Deletes a pod and waits until it is gone (its volumes are unmounted then).
///
/// # Errors
///
/// API errors or a pod that does not go within `pod_delete`.
pub async fn delete_pod(config: &PerTestConfig, name: &str) -> anyhow::Result<()> {
    let f = &config.framework;
    let api: Api<Pod> = f.api();
    delete_if_present(&api, "pod", name, &DeleteParams::default()).await?;
    conditions::wait_for(
        &api,
        name,
        &format!("pod {name} to be deleted"),
        f.timeouts().pod_delete,
        None,
        conditions::deleted,
    )
    .await?;
    Ok(())
}

/// Waits for a claim to be bound.
///
/// # Errors
///
/// Timing out after `claim_provision`.
pub async fn wait_bound(
    config: &PerTestConfig,
    name: &str,
) -> anyhow::Result<PersistentVolumeClaim> {
    let f = &config.framework;
    let api: Api<PersistentVolumeClaim> = f.api();
    let pvc = conditions::wait_for(
        &api,
        name,
        &format!("claim {name} to be bound"),
        f.timeouts().claim_provision,
        None,
        conditions::pvc_bound,
    )
    .await?;
    pvc.with_context(|| format!("claim {name} vanished"))
}

/// Creates a VolumeSnapshot of `claim` with the driver's class (created too, with the
/// pattern's deletion policy) and waits until it is ready to use; returns the snapshot.
///
/// # Errors
///
/// No snapshot support, API errors, or not ready within `snapshot_create`.
pub async fn create_snapshot(
    cx: &SpecContext,
    driver: &dyn TestDriver,
    config: &PerTestConfig,
    claim: &str,
    deletion_policy: &str,
) -> anyhow::Result<DynamicObject> {
    let f = &config.framework;
    let snapshottable = driver
        .as_snapshottable()
        .context("the driver has no snapshot class")?;
    let mut class = snapshottable
        .snapshot_class(config, Default::default())
        .await?;
    class.data["deletionPolicy"] = json!(deletion_policy);
    let classes: Api<DynamicObject> = Api::all_with(
        f.client().clone(),
        &snapshot_resource("VolumeSnapshotClass"),
    );
    let class = classes
        .create(&PostParams::default(), &class)
        .await
        .context("creating the snapshot class")?;
    let class_name = class.metadata.name.clone().unwrap_or_default();
    {
        let (classes, name) = (classes.clone(), class_name.clone());
        cx.defer_cleanup(move || async move {
            let dp = DeleteParams::default();
            delete_if_present(&classes, "snapshot class", &name, &dp).await
        });
    }
    let snapshots: Api<DynamicObject> = Api::namespaced_with(
        f.client().clone(),
        f.namespace(),
        &snapshot_resource("VolumeSnapshot"),
    );
    let name = format!("{claim}-snapshot");
    let mut snap = DynamicObject::new(&name, &snapshot_resource("VolumeSnapshot"));
    snap.data = json!({"spec": {
        "volumeSnapshotClassName": class_name,
        "source": {"persistentVolumeClaimName": claim},
    }});
    cx.by(format!("creating snapshot {name} of claim {claim}"));
    snapshots
        .create(&PostParams::default(), &snap)
        .await
        .context("creating the snapshot")?;
    let ready = conditions::wait_for(
        &snapshots,
        &name,
        &format!("snapshot {name} to be ready to use"),
        f.timeouts().snapshot_create,
        Some(cx.cancellation_token()),
        |s: Option<&DynamicObject>| match s {
            Some(s) if s.data["status"]["readyToUse"].as_bool() == Some(true) => Progress::Done,
            Some(s) => match s.data["status"]["error"]["message"].as_str() {
                Some(m) => Progress::Waiting(format!("snapshot error: {m}")),
                None => Progress::Waiting("not ready to use yet".into()),
            },
            None => Progress::Waiting("not found".into()),
        },
    )
    .await?;
    ready.context("the snapshot vanished")
}

/// Creates claim `name` in the class and mode of `volume` from `data_source` (a snapshot or a
/// claim) and returns what a pod reads with [`read_data`], trimmed.
///
/// # Errors
///
/// API errors, or the reading pod failing.
pub async fn read_new_claim(
    cx: &SpecContext,
    driver: &dyn TestDriver,
    config: &PerTestConfig,
    volume: &TestVolume,
    name: &str,
    data_source: Value,
) -> anyhow::Result<String> {
    let class = volume
        .storage_class
        .as_ref()
        .and_then(|c| c.metadata.name.clone())
        .unwrap_or_default();
    let new = Claim::for_driver(name, driver.driver_info())
        .storage_class(class)
        .volume_mode(volume.mode)
        .data_source(data_source)
        .build()?;
    create_claim(config, &new).await?;
    let restored = TestVolume {
        storage_class: None,
        claim: Some(name.to_string()),
        source: json!({"persistentVolumeClaim": {"claimName": name}}),
        mode: volume.mode,
    };
    read_volume(cx, config, &format!("{name}-reader"), &restored).await
}

/// A `dataSource` naming a VolumeSnapshot.
pub fn snapshot_source(name: &str) -> Value {
    json!({"apiGroup": "snapshot.storage.k8s.io", "kind": "VolumeSnapshot", "name": name})
}

/// A `dataSource` naming a claim (a clone).
pub fn claim_source(name: &str) -> Value {
    json!({"kind": "PersistentVolumeClaim", "name": name})
}

/// The shell text that writes `content` to `file` under the mounted volume and syncs.
pub fn write_file(file: &str, content: &str) -> String {
    format!("echo '{content}' > {MOUNT_PATH}/{file} && sync")
}

/// Waits for an event about object `name` in the spec's namespace whose reason is `reason`
/// (any reason when empty) and whose message contains `needle`; returns the message.
///
/// # Errors
///
/// No such event within `timeout`.
pub async fn wait_for_event(
    config: &PerTestConfig,
    name: &str,
    reason: &str,
    needle: &str,
    timeout: Duration,
) -> anyhow::Result<String> {
    let events: Api<Event> = config.framework.api();
    let lp = ListParams::default().fields(&format!("involvedObject.name={name}"));
    let found = std::sync::Mutex::new(String::new());
    poll_until(
        &format!("an event {reason} about {name} saying `{needle}`"),
        timeout,
        || async {
            let list = events.list(&lp).await?;
            let seen: Vec<String> = list
                .items
                .iter()
                .map(|e| {
                    format!(
                        "{}: {}",
                        e.reason.clone().unwrap_or_default(),
                        e.message.clone().unwrap_or_default()
                    )
                })
                .collect();
            let hit = list.items.iter().find(|e| {
                (reason.is_empty() || e.reason.as_deref() == Some(reason))
                    && e.message.as_deref().is_some_and(|m| m.contains(needle))
            });
            match hit {
                Some(e) => {
                    *found.lock().expect("not poisoned") = e.message.clone().unwrap_or_default();
                    Ok(())
                }
                None => anyhow::bail!("events so far: {seen:?}"),
            }
        },
    )
    .await?;
    Ok(found.into_inner().expect("not poisoned"))
}

/// Waits until the scheduler has refused pod `name` (`PodScheduled` false) with a message
/// containing `needle`; returns the message.
///
/// # Errors
///
/// The pod being scheduled, or no such refusal within `pod_start_short`.
pub async fn wait_unschedulable(
    config: &PerTestConfig,
    name: &str,
    needle: &str,
) -> anyhow::Result<String> {
    let f = &config.framework;
    let pods: Api<Pod> = f.api();
    let found = std::sync::Mutex::new(String::new());
    poll_until(
        &format!("pod {name} to be unschedulable with `{needle}`"),
        f.timeouts().pod_start_short,
        || async {
            let status = pods.get(name).await?.status.unwrap_or_default();
            let cond = status
                .conditions
                .unwrap_or_default()
                .into_iter()
                .find(|c| c.type_ == "PodScheduled");
            let msg = cond
                .as_ref()
                .and_then(|c| c.message.clone())
                .unwrap_or_default();
            anyhow::ensure!(
                cond.as_ref().is_some_and(|c| c.status == "False") && msg.contains(needle),
                "phase {:?}, PodScheduled {cond:?}",
                status.phase
            );
            *found.lock().expect("not poisoned") = msg;
            Ok(())
        },
    )
    .await?;
    Ok(found.into_inner().expect("not poisoned"))
}

/// Polls until `f` holds, for conditions with no watchable object.
///
/// # Errors
///
/// Timing out.
pub async fn poll_until<F, Fut>(what: &str, timeout: Duration, f: F) -> anyhow::Result<()>
where
    F: FnMut() -> Fut + Send,
    Fut: std::future::Future<Output = anyhow::Result<()>> + Send,
{
    eventually(what.to_string(), f).timeout(timeout).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_goes_to_a_file_or_to_a_sector_as_the_mode_says() {
        assert_eq!(
            write_data(VolMode::Filesystem, "x"),
            "echo 'x' > /mnt/volume1/data && sync"
        );
        assert_eq!(read_data(VolMode::Filesystem), "cat /mnt/volume1/data");
        let write = write_data_at(VolMode::Block, "/mnt/volume2", "x");
        assert!(
            write.contains("dd of=/mnt/volume2 bs=512 seek=0 count=1 conv=sync,notrunc,fsync"),
            "{write}"
        );
        let read = read_sector("/mnt/volume1", 1);
        assert!(
            read.starts_with("dd if=/mnt/volume1 bs=512 skip=1 count=1") && read.contains("tr -d"),
            "{read}"
        );
    }

    #[test]
    fn snapshot_kinds_map_to_their_resource_names() {
        assert_eq!(
            snapshot_resource("VolumeSnapshot").plural,
            "volumesnapshots"
        );
        assert_eq!(
            snapshot_resource("VolumeSnapshotClass").plural,
            "volumesnapshotclasses"
        );
        assert_eq!(
            snapshot_resource("VolumeSnapshotContent").plural,
            "volumesnapshotcontents"
        );
    }
}
