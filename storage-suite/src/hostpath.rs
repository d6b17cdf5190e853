//! The built-in csi-hostpath driver: the project's own hostpath CSI driver, deployed for each
//! spec from `storage-csi/hostpath/` (the YAML a user would apply with kubectl, in this crate's
//! `manifests/` directory, embedded with
//! [`embed_test_files!`](kube_e2e::embed_test_files) so the driver travels with the crate)
//! through the framework's manifests, renamed per spec with
//! [`CsiPatch`](kube_e2e::manifest::patch::CsiPatch) so that parallel specs each have their own driver.
//!
//! Once per process it also makes sure the cluster can run it: the CSI image is built and
//! imported into the real node's containerd, the snapshot CRDs are installed and the snapshot
//! controller runs (namespace `kube-e2e-storage`). That part needs the local cluster (its
//! state directory, `KUBE_E2E_STATE_DIR`); elsewhere the specs skip with the reason. It and
//! [`deploy_shared`] go through the same manifest pipeline without a spec
//! ([`Target`](kube_e2e::manifest::Target), server-side apply, so re-applying is a no-op).

use crate::capability::Capability;
use crate::driver::{
    ClientNodeSelection, DriverInfo, DynamicPvDriver, EphemeralDriver, InlineVolume, PerTestConfig,
    SizeRange, SnapshottableDriver, TestDriver,
};
use anyhow::Context as _;
use futures::future::BoxFuture;
use k8s_openapi::api::storage::v1::{CSINode, StorageClass};
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube_e2e::Framework;
use kube_e2e::manifest::patch::CsiPatch;
use kube_e2e::manifest::testfiles::TestFiles;
use kube_e2e::manifest::{Document, Target, parse_documents};
use kube_e2e::skip::{Skip, skip};
use kube_e2e_cluster::csi::{self, DEFAULT_DRIVER_NAME, HostpathDeployment};
use kube_e2e_cluster::node::real::NODE_NAME;
use kube_e2e_cluster::{AssetCache, Layout, NodeLayout};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::sync::OnceCell;

// The driver's manifests (`storage-csi/hostpath/*.yaml`), found by every binary that links
// this crate, wherever it runs.
kube_e2e::embed_test_files!("$CARGO_MANIFEST_DIR/manifests");

/// The driver's manifests, in create order, as test-file paths (this crate's `manifests/`
/// directory is embedded; `--framework.repo-root` can override them).
pub const MANIFESTS: [&str; 4] = [
    "storage-csi/hostpath/rbac.yaml",
    "storage-csi/hostpath/csi-driver.yaml",
    "storage-csi/hostpath/controller.yaml",
    "storage-csi/hostpath/node.yaml",
];

/// The snapshot controller's manifest (RBAC and Deployment), once per cluster however many
/// drivers are deployed.
pub const SNAPSHOT_CONTROLLER_MANIFEST: &str = "storage-csi/hostpath/snapshot-controller.yaml";

/// The test files at `paths`, read through `files`, placeholders filled for `deployment`, parsed.
///
/// # Errors
///
/// A file not found or not parsing, naming it.
pub fn rendered_documents(
    files: &TestFiles,
    deployment: &HostpathDeployment,
    paths: &[&str],
) -> anyhow::Result<Vec<Document>> {
    let mut docs = Vec::new();
    for path in paths {
        let (text, _) = files.read_to_string(path)?;
        docs.extend(parse_documents(path, &deployment.render(&text))?);
    }
    Ok(docs)
}

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

/// Why the infrastructure is not there: a reason to skip (this cluster cannot run the driver),
/// or a failure. Kept as values (not `anyhow::Error`) so every later caller gets the same one.
#[derive(Clone, Debug)]
enum InfraError {
    Skip(String),
    Failed(String),
}

static INFRA: OnceCell<Result<Infra, InfraError>> = OnceCell::const_new();

fn state_dir() -> PathBuf {
    kube_e2e_cluster::default_state_dir()
}

/// Builds and imports the image, installs the snapshot CRDs and controller; once per process.
async fn ensure_infra(client: &kube::Client, files: &TestFiles) -> anyhow::Result<&'static Infra> {
    let result = INFRA
        .get_or_init(|| async {
            install_infra(client, files)
                .await
                .map_err(|e| match e.downcast_ref::<Skip>() {
                    Some(s) => InfraError::Skip(s.reason().to_string()),
                    None => InfraError::Failed(format!("{e:#}")),
                })
        })
        .await;
    match result {
        Ok(infra) => Ok(infra),
        Err(InfraError::Skip(reason)) => Err(skip(reason.clone())),
        Err(InfraError::Failed(e)) => {
            anyhow::bail!("setting up csi-hostpath on the cluster failed: {e}")
        }
    }
}

async fn install_infra(client: &kube::Client, files: &TestFiles) -> anyhow::Result<Infra> {
    let layout = Layout::new(&state_dir());
    let node = NodeLayout::new(&layout);
    let socket = node.containerd_socket();
    if !socket.exists() {
        return Err(skip(format!(
            "csi-hostpath needs the local cluster's real node (no containerd socket at {}; start it with `up --nodes real`)",
            socket.display()
        )));
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
    let mut crds = Vec::new();
    for path in &crd_files {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {file}"))?;
        crds.extend(parse_documents(&file, &text)?);
    }
    let target = infra_target(client);
    target
        .write(crds)
        .await
        .context("applying the snapshot CRDs")?;
    let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
    let pp = PatchParams::apply(FIELD_MANAGER).force();
    namespaces
        .patch(INFRA_NAMESPACE, &pp, &Patch::Apply(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": INFRA_NAMESPACE}})))
        .await
        .context("creating the storage infrastructure namespace")?;
    let deployment = HostpathDeployment::new(INFRA_NAMESPACE, &kubelet_root);
    target
        .write(rendered_documents(
            files,
            &deployment,
            &[SNAPSHOT_CONTROLLER_MANIFEST],
        )?)
        .await?;
    Ok(Infra { kubelet_root })
}

/// Field manager of the shared pieces' server-side applies.
const FIELD_MANAGER: &str = "kube-e2e-storage";

/// Where the shared pieces go: server-side applied (applying again is a no-op), namespaced
/// objects into [`INFRA_NAMESPACE`].
fn infra_target(client: &kube::Client) -> Target {
    Target::new(client.clone())
        .namespace(INFRA_NAMESPACE)
        .server_side_apply(FIELD_MANAGER)
        .crd_timeout(std::time::Duration::from_secs(60))
}

/// The driver name of the shared deployment.
pub const DEFAULT_DRIVER: &str = DEFAULT_DRIVER_NAME;

/// Makes the cluster ready for the driver, once per process: the image built and imported
/// into the real node, the snapshot CRDs installed and the snapshot controller running. Call it
/// from a suite's `before_suite` so that no spec pays for (or is blamed for) it; specs reuse
/// the result. `Ok(Some(reason))`: this cluster cannot run the driver (no real node), and the
/// driver's specs will skip with that reason.
///
/// # Errors
///
/// Connecting, building or installing failed.
pub async fn prepare_cluster(params: &kube_e2e::Params) -> anyhow::Result<Option<String>> {
    let session = kube_e2e::Session::global(params).await?;
    let client = session.client().clone();
    match ensure_infra(&client, session.files()).await {
        Ok(_) => Ok(None),
        Err(e) => match e.downcast_ref::<Skip>() {
            Some(skip) => Ok(Some(skip.reason().to_string())),
            None => Err(e),
        },
    }
}

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
    let infra = ensure_infra(&client, session.files()).await?;
    let deployment =
        HostpathDeployment::new(INFRA_NAMESPACE, &infra.kubelet_root).driver_name(driver_name);
    infra_target(&client)
        .write(rendered_documents(
            session.files(),
            &deployment,
            &MANIFESTS,
        )?)
        .await?;
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
            let infra = ensure_infra(f.client(), f.session().files()).await?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_manifests_render_without_placeholders_and_use_the_image() {
        let files = TestFiles::new(None);
        let deployment = HostpathDeployment::new("ns-1", "/tmp/state/kubelet").driver_name("d.csi");
        let mut all = MANIFESTS.to_vec();
        all.push(SNAPSHOT_CONTROLLER_MANIFEST);
        for path in &all {
            let (_, from) = files.read(path).unwrap();
            assert!(
                from.starts_with("kube-e2e-storage: manifests/storage-csi/hostpath/"),
                "{path} comes from this crate: {from}"
            );
        }
        let docs = rendered_documents(&files, &deployment, &all).unwrap();
        let yaml =
            serde_json::to_string(&docs.iter().map(|d| &d.object).collect::<Vec<_>>()).unwrap();
        for placeholder in ["KUBELET_ROOT", "DRIVER_NAME", "TEST_NAMESPACE"] {
            assert!(
                !yaml.contains(placeholder),
                "{placeholder} left in the manifests"
            );
        }
        assert!(yaml.contains(csi::CSI_IMAGE));
        assert!(yaml.contains("/tmp/state/kubelet/plugins/d.csi/csi.sock"));
        assert!(yaml.contains(r#""namespace":"ns-1""#), "{yaml}");
        assert!(
            docs.iter()
                .any(|d| d.object.metadata.name.as_deref() == Some("d.csi"))
        );
    }
}
