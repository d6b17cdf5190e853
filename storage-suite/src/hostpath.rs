//! The built-in csi-hostpath driver: the project's own hostpath CSI driver, deployed for each
//! spec from `testing-manifests/storage-csi/hostpath/` (the YAML a user would apply with
//! kubectl) through the framework's manifests, renamed per spec with
//! [`CsiPatch`](kube_e2e::manifest::patch::CsiPatch) so that parallel specs each have their own driver.
//!
//! Once per process it also makes sure the cluster can run it: the CSI image is built and
//! imported into the real node's containerd, the snapshot CRDs are installed and the snapshot
//! controller runs (namespace `kube-e2e-storage`). That part needs the local cluster (its
//! state directory, `KUBE_E2E_STATE_DIR`); elsewhere the specs skip with the reason.

use crate::capability::Capability;
use crate::driver::{
    ClientNodeSelection, DriverInfo, DynamicPvDriver, EphemeralDriver, InlineVolume, PerTestConfig,
    SizeRange, SnapshottableDriver, TestDriver,
};
use anyhow::Context as _;
use futures::future::BoxFuture;
use k8s_openapi::api::storage::v1::{CSINode, StorageClass};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::core::GroupVersionKind;
use kube_e2e::Framework;
use kube_e2e::manifest::patch::CsiPatch;
use kube_e2e::prelude::skip;
use kube_e2e_cluster::csi::{self, DEFAULT_DRIVER_NAME, HostpathDeployment};
use kube_e2e_cluster::node::real::NODE_NAME;
use kube_e2e_cluster::{AssetCache, Layout, NodeLayout};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::sync::OnceCell;

/// The manifests, in create order, relative to `testing-manifests/`.
pub const MANIFESTS: [&str; 4] = [
    "storage-csi/hostpath/rbac.yaml",
    "storage-csi/hostpath/csi-driver.yaml",
    "storage-csi/hostpath/controller.yaml",
    "storage-csi/hostpath/node.yaml",
];

/// Namespace of the once-per-cluster snapshot controller.
pub const INFRA_NAMESPACE: &str = "kube-e2e-storage";

/// The csi-hostpath driver, deployed per spec.
pub struct CsiHostpathDriver {
    info: DriverInfo,
    classes: AtomicUsize,
}

impl Default for CsiHostpathDriver {
    fn default() -> Self {
        Self::new()
    }
}

impl CsiHostpathDriver {
    /// The driver with its capabilities.
    pub fn new() -> Self {
        CsiHostpathDriver {
            info: driver_info(),
            classes: AtomicUsize::new(0),
        }
    }
}

/// What csi-hostpath claims: persistence, exec, fsGroup, snapshots, clones, expansion
/// (controller and node, offline and online), RWOP, single-node volumes, topology, capacity,
/// per-node volume limits, raw block volumes (loop devices).
pub fn driver_info() -> DriverInfo {
    let caps = [
        Capability::Persistence,
        Capability::Block,
        Capability::Exec,
        Capability::FsGroup,
        Capability::SnapshotDataSource,
        Capability::PvcDataSource,
        Capability::MultiPods,
        Capability::ControllerExpansion,
        Capability::NodeExpansion,
        Capability::OfflineExpansion,
        Capability::OnlineExpansion,
        Capability::SingleNodeVolume,
        Capability::Topology,
        Capability::Capacity,
        Capability::VolumeLimits,
        Capability::ReadWriteOncePod,
    ];
    DriverInfo {
        name: "csi-hostpath".into(),
        max_file_size: 100 * 1024 * 1024,
        supported_size_range: SizeRange {
            min: "1Mi".into(),
            max: String::new(),
        },
        supported_fs_types: [String::new()].into(),
        supported_mount_options: ["nodev", "noexec", "nosuid"].map(String::from).into(),
        capabilities: caps.into_iter().map(|c| (c, true)).collect(),
        topology_keys: vec![csi::TOPOLOGY_KEY.into()],
        ..DriverInfo::default()
    }
}

struct Infra {
    kubelet_root: PathBuf,
}

static INFRA: OnceCell<Result<Infra, String>> = OnceCell::const_new();

fn state_dir() -> PathBuf {
    kube_e2e_cluster::default_state_dir()
}

/// Builds and imports the image, installs the snapshot CRDs and controller; once per process.
async fn ensure_infra(client: &kube::Client) -> anyhow::Result<&'static Infra> {
    let result = INFRA
        .get_or_init(|| async { install_infra(client).await.map_err(|e| format!("{e:#}")) })
        .await;
    match result {
        Ok(infra) => Ok(infra),
        Err(e) if e.starts_with("skip: ") => Err(skip(e.trim_start_matches("skip: "))),
        Err(e) => anyhow::bail!("setting up csi-hostpath on the cluster failed: {e}"),
    }
}

async fn install_infra(client: &kube::Client) -> anyhow::Result<Infra> {
    let layout = Layout::new(&state_dir());
    let node = NodeLayout::new(&layout);
    let socket = node.containerd_socket();
    if !socket.exists() {
        anyhow::bail!(
            "skip: csi-hostpath needs the local cluster's real node (no containerd socket at {}; start it with `up --nodes real`)",
            socket.display()
        );
    }
    let kubelet_root = node.kubelet_root();
    let crd_files = tokio::task::spawn_blocking(move || -> anyhow::Result<Vec<PathBuf>> {
        let cache = AssetCache::at_default_location();
        let binaries = csi::ensure_csi(&cache, &mut |line| tracing::info!("{line}"))?;
        let image = csi::build_image(&binaries, &cache)?;
        csi::import_image(&image, &socket)?;
        Ok(binaries.snapshot_crds)
    })
    .await??;
    let client = client.clone();
    let pp = PatchParams::apply("kube-e2e-storage").force();
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    for path in &crd_files {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let crd: CustomResourceDefinition = serde_saphyr::from_str(&text)
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        let name = crd.metadata.name.clone().unwrap_or_default();
        crds.patch(&name, &pp, &Patch::Apply(&crd))
            .await
            .with_context(|| format!("applying CRD {name}"))?;
        let crds = crds.clone();
        kube_e2e::prelude::eventually(format!("CRD {name} to be established"), || async {
            let crd = crds.get(&name).await?;
            let ok = crd
                .status
                .and_then(|s| s.conditions)
                .unwrap_or_default()
                .iter()
                .any(|c| c.type_ == "Established" && c.status == "True");
            anyhow::ensure!(ok, "not established yet");
            Ok(())
        })
        .timeout(std::time::Duration::from_secs(60))
        .await?;
    }
    let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
    namespaces
        .patch(INFRA_NAMESPACE, &pp, &Patch::Apply(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": INFRA_NAMESPACE}})))
        .await
        .context("creating the storage infrastructure namespace")?;
    let yaml =
        HostpathDeployment::new(INFRA_NAMESPACE, &kubelet_root).render_snapshot_controller()?;
    apply_yaml(&client, INFRA_NAMESPACE, &yaml).await?;
    Ok(Infra { kubelet_root })
}

/// Server-side applies a multi-document YAML stream, namespaced objects into `namespace`.
async fn apply_yaml(client: &kube::Client, namespace: &str, yaml: &str) -> anyhow::Result<()> {
    let client = client.clone();
    let pp = PatchParams::apply("kube-e2e-storage").force();
    for doc in yaml
        .split("\n---")
        .map(str::trim)
        .filter(|d| !d.is_empty() && *d != "---")
    {
        let doc = doc.trim_start_matches("---");
        let obj: DynamicObject = serde_saphyr::from_str(doc)
            .map_err(|e| anyhow::anyhow!("snapshot controller manifest: {e}"))?;
        let Some(types) = obj.types.clone() else {
            continue;
        };
        let (group, version) = types
            .api_version
            .split_once('/')
            .unwrap_or(("", types.api_version.as_str()));
        let gvk = GroupVersionKind::gvk(group, version, &types.kind);
        let (ar, caps) = kube::discovery::pinned_kind(&client, &gvk).await?;
        let api: Api<DynamicObject> = if caps.scope == kube::discovery::Scope::Namespaced {
            Api::namespaced_with(client.clone(), namespace, &ar)
        } else {
            Api::all_with(client.clone(), &ar)
        };
        let name = obj.metadata.name.clone().unwrap_or_default();
        api.patch(&name, &pp, &Patch::Apply(&obj))
            .await
            .with_context(|| format!("applying {} {name}", types.kind))?;
    }
    Ok(())
}

/// The driver name of the shared deployment.
pub const DEFAULT_DRIVER: &str = DEFAULT_DRIVER_NAME;

/// Deploys the driver once for a whole run (or reuses it): the manifests applied as a user
/// would with kubectl, into [`INFRA_NAMESPACE`], under `driver_name`. It stays after the run
/// (the framework has no end-of-run hook yet); applying again is a no-op.
///
/// # Errors
///
/// Cluster set-up or apply failures.
pub async fn deploy_shared(params: &kube_e2e::Params, driver_name: &str) -> anyhow::Result<()> {
    let session = kube_e2e::Session::global(params).await?;
    let client = session.client().clone();
    let infra = ensure_infra(&client).await?;
    let yaml = HostpathDeployment::new(INFRA_NAMESPACE, &infra.kubelet_root)
        .driver_name(driver_name)
        .render_all()?;
    apply_yaml(&client, INFRA_NAMESPACE, &yaml).await?;
    let csinodes: Api<CSINode> = Api::all(client.clone());
    let name = driver_name.to_string();
    kube_e2e::prelude::eventually(format!("kubelet to register driver {name}"), || async {
        let node = csinodes.get(NODE_NAME).await?;
        anyhow::ensure!(
            node.spec.drivers.iter().any(|d| d.name == name),
            "not registered yet"
        );
        Ok(())
    })
    .timeout(std::time::Duration::from_secs(300))
    .await?;
    Ok(())
}

fn replace_strings(v: &mut Value, from: &str, to: &str) {
    match v {
        Value::String(s) if s.contains(from) => *s = s.replace(from, to),
        Value::Array(a) => a.iter_mut().for_each(|v| replace_strings(v, from, to)),
        Value::Object(o) => o.values_mut().for_each(|v| replace_strings(v, from, to)),
        _ => {}
    }
}

/// Deploys the driver as `driver_name` into the framework's namespace and waits until its
/// controller runs and kubelet has registered its node plugin.
///
/// # Errors
///
/// Manifest, rollout or registration failures.
pub async fn deploy(f: &Framework, driver_name: &str, kubelet_root: &str) -> anyhow::Result<()> {
    let ns = f.namespace().to_string();
    let root = kubelet_root.to_string();
    let render = move |o: &mut DynamicObject| {
        for (from, to) in [
            ("KUBELET_ROOT", root.as_str()),
            ("DRIVER_NAME", DEFAULT_DRIVER_NAME),
            ("TEST_NAMESPACE", ns.as_str()),
        ] {
            replace_strings(&mut o.data, from, to);
            if let Some(n) = o.metadata.name.as_mut() {
                *n = n.replace(from, to);
            }
        }
        Ok(())
    };
    let patch = CsiPatch {
        old_name: DEFAULT_DRIVER_NAME.into(),
        new_name: driver_name.into(),
        driver_container: Some("hostpath".into()),
        driver_args: vec![format!("--drivername={driver_name}")],
        ..CsiPatch::default()
    };
    let (old_dir, new_dir) = (
        format!("/{DEFAULT_DRIVER_NAME}/"),
        format!("/{driver_name}/"),
    );
    let new_name = driver_name.to_string();
    f.manifests(MANIFESTS)
        .patch(render)
        .patch(move |o| {
            patch.apply(o);
            // CsiPatch renames a hostPath whose last element is the driver name; the
            // controller's data directory sits one level deeper.
            replace_strings(&mut o.data, &old_dir, &new_dir);
            if o.types
                .as_ref()
                .is_some_and(|t| t.kind == "VolumeSnapshotClass")
            {
                o.data["driver"] = json!(new_name);
            }
            Ok(())
        })
        .wait_for_rollout()
        .create()
        .await?;
    let csinodes: Api<CSINode> = f.api_all();
    let name = driver_name.to_string();
    kube_e2e::prelude::eventually(format!("kubelet to register driver {name}"), || async {
        let node = csinodes.get(NODE_NAME).await?;
        let registered = node.spec.drivers.iter().any(|d| d.name == name);
        anyhow::ensure!(
            registered,
            "CSINode {NODE_NAME} lists {:?}",
            node.spec
                .drivers
                .iter()
                .map(|d| &d.name)
                .collect::<Vec<_>>()
        );
        Ok(())
    })
    .timeout(f.timeouts().pod_start)
    .await?;
    Ok(())
}

impl TestDriver for CsiHostpathDriver {
    fn driver_info(&self) -> &DriverInfo {
        &self.info
    }

    fn prepare<'a>(&'a self, f: Arc<Framework>) -> BoxFuture<'a, anyhow::Result<PerTestConfig>> {
        Box::pin(async move {
            let infra = ensure_infra(f.client()).await?;
            // Upstream's GetUniqueDriverName: the driver name plus the spec's unique name.
            let driver_name = format!("{DEFAULT_DRIVER_NAME}-{}", f.unique_name());
            deploy(&f, &driver_name, &infra.kubelet_root.display().to_string()).await?;
            Ok(PerTestConfig {
                driver_namespace: Some(f.namespace().to_string()),
                framework: f,
                driver_name,
                prefix: "hostpath".into(),
                client_node: ClientNodeSelection {
                    name: Some(NODE_NAME.into()),
                    selector: BTreeMap::new(),
                },
            })
        })
    }

    fn as_dynamic_pv(&self) -> Option<&dyn DynamicPvDriver> {
        Some(self)
    }
    fn as_snapshottable(&self) -> Option<&dyn SnapshottableDriver> {
        Some(self)
    }
    fn as_ephemeral(&self) -> Option<&dyn EphemeralDriver> {
        Some(self)
    }
}

impl DynamicPvDriver for CsiHostpathDriver {
    fn storage_class<'a>(
        &'a self,
        config: &'a PerTestConfig,
        _fs_type: &'a str,
    ) -> BoxFuture<'a, anyhow::Result<StorageClass>> {
        let n = self.classes.fetch_add(1, Ordering::Relaxed);
        Box::pin(async move {
            Ok(serde_json::from_value(json!({
                "metadata": {"name": format!("{}-sc{n}", config.framework.namespace())},
                "provisioner": config.driver_name,
                "reclaimPolicy": "Delete",
                "volumeBindingMode": "Immediate",
            }))?)
        })
    }
}

impl SnapshottableDriver for CsiHostpathDriver {
    fn snapshot_class<'a>(
        &'a self,
        config: &'a PerTestConfig,
        parameters: BTreeMap<String, String>,
    ) -> BoxFuture<'a, anyhow::Result<DynamicObject>> {
        let n = self.classes.fetch_add(1, Ordering::Relaxed);
        Box::pin(async move {
            let mut c = DynamicObject::new(
                &format!("{}-vsc{n}", config.framework.namespace()),
                &crate::volume::snapshot_resource("VolumeSnapshotClass"),
            );
            c.data = json!({"driver": config.driver_name, "deletionPolicy": "Delete", "parameters": parameters});
            Ok(c)
        })
    }
}

impl EphemeralDriver for CsiHostpathDriver {
    fn volume(&self, _config: &PerTestConfig, _n: usize) -> InlineVolume {
        InlineVolume::default()
    }
}
