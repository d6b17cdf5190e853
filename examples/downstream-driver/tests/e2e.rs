//! The example team's end-to-end suite: its own manifests embedded into the binary, its driver
//! described by the upstream-format file it ships, the CSI suites registered for that driver,
//! and a spec that deploys the driver's cluster side from the embedded manifests.
//!
//! ```sh
//! cargo test --test e2e -- --dry-run                          # every spec, none run
//! cargo test --test e2e -- --focus 'deploys its objects'      # against KUBECONFIG
//! ```
//!
//! The storage specs need the team's real driver image behind `example.csi.downstream.dev`;
//! the deployment spec needs only a cluster (simulated nodes are enough).

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::api::storage::v1::CSIDriver;
use kube_e2e::manifest::testfiles::TestFiles;
use kube_e2e::prelude::*;
use kube_e2e_storage::{ExternalDriver, register_driver, suites};
use std::path::PathBuf;
use std::sync::Arc;

// This crate's `testing-manifests/` (`example-csi/*.yaml`), embedded: the binary runs anywhere.
kube_e2e::embed_test_files!("$CARGO_MANIFEST_DIR/testing-manifests");

/// The driver file, a test-file path.
const DRIVER_FILE: &str = "example-csi/driver.yaml";

/// The driver's cluster side, a test-file path.
const DEPLOYMENT: &str = "example-csi/deployment.yaml";

/// The driver's name, as in both files.
const DRIVER_NAME: &str = "example.csi.downstream.dev";

/// Registers the CSI suites for the driver the embedded file describes (after parameters are
/// parsed, so `--framework.repo-root` can put another copy first).
fn storage(s: &mut Container, params: &Params) -> anyhow::Result<()> {
    let root = params
        .string("framework.repo-root")
        .filter(|r| !r.is_empty())
        .map(PathBuf::from);
    let (text, origin) = TestFiles::new(root).read_to_string(DRIVER_FILE)?;
    let driver = ExternalDriver::parse(&origin, &text)?;
    register_driver(
        s,
        "External Storage",
        Arc::new(driver),
        &suites::csi_suites(),
    );
    Ok(())
}
kube_e2e::generator!(storage);

fn deployment(s: &mut Container) {
    s.describe("Downstream driver", |s| {
        s.framework("downstream");
        s.it(
            "deploys its objects from the manifests it embeds",
            |cx| async move {
                let f = cx.framework()?;
                cx.by(format!(
                    "finding {DEPLOYMENT} among the embedded test files"
                ));
                let (_, from) = f.session().files().read(DEPLOYMENT)?;
                expect(from.as_str()).to(contain_substring(
                    "downstream-driver: testing-manifests/example-csi/deployment.yaml",
                ))?;
                cx.by("creating the driver's configuration, controller and CSIDriver object");
                let created = f
                    .manifests([DEPLOYMENT])
                    .wait_for_rollout()
                    .create()
                    .await?;
                let kinds: Vec<&str> = created.iter().map(|c| c.resource.kind.as_str()).collect();
                expect(kinds).to_equal(vec![
                    "ConfigMap",
                    "ServiceAccount",
                    "Deployment",
                    "CSIDriver",
                ])?;

                cx.by("reading them back from the cluster");
                let config = f.api::<ConfigMap>().get("example-csi-config").await?;
                let data = config.data.unwrap_or_default();
                expect(data.get("driver-name").map(String::as_str)).to_equal(Some(DRIVER_NAME))?;
                let controller = f.api::<Deployment>().get("example-csi-controller").await?;
                let ready = controller
                    .status
                    .and_then(|s| s.ready_replicas)
                    .unwrap_or(0);
                expect(ready).to_equal(1)?;
                let csi_driver = f
                    .api_all::<CSIDriver>()
                    .get(&format!("{DRIVER_NAME}-{}", f.unique_name()))
                    .await?;
                expect(csi_driver.spec.attach_required).to_equal(Some(false))?;
                expect(csi_driver.spec.pod_info_on_mount).to_equal(Some(true))?;
                Ok(())
            },
        );
        s.it(
            "finds the csi-hostpath manifests kube-e2e-storage ships",
            |cx| async move {
                let f = cx.framework()?;
                for path in kube_e2e_storage::hostpath::MANIFESTS {
                    let (_, from) = f.session().files().read(path)?;
                    expect(from.as_str()).to(contain_substring(
                        "kube-e2e-storage: manifests/storage-csi/hostpath/",
                    ))?;
                }
                Ok(())
            },
        );
    })
    .tag(sig("storage"));
}
kube_e2e::specs!(deployment);

kube_e2e::main!();
