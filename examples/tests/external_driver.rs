//! The same csi-hostpath driver, described by a YAML file as a CSI team would describe theirs
//! (`testing-manifests/storage-csi/external/hostpath.yaml`), and deployed once for the whole
//! run (by the first spec; later specs reuse it) instead of once per spec.
//!
//! ```sh
//! cargo test -p kube-e2e-examples --test external-driver -- \
//!     --storage.testdriver testing-manifests/storage-csi/external/hostpath.yaml
//! ```
//!
//! Without `--storage.testdriver` the example's own file is used.

use kube_e2e::prelude::*;
use kube_e2e_storage::hostpath;
use tokio::sync::OnceCell;

kube_e2e_storage::external_drivers!();

/// The driver file used when none is given.
const DEFAULT_FILE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../testing-manifests/storage-csi/external/hostpath.yaml"
);

static DEPLOYED: OnceCell<Result<(), String>> = OnceCell::const_new();

fn deploy_once(s: &mut Container) {
    s.before_each(|cx| async move {
        if !cx
            .name()
            .contains("External Storage [Driver: hostpath.csi.kube-e2e.io]")
        {
            return Ok(());
        }
        let params = cx.params();
        let result = DEPLOYED
            .get_or_init(|| async {
                hostpath::deploy_shared(&params, hostpath::DEFAULT_DRIVER)
                    .await
                    .map_err(|e| format!("{e:#}"))
            })
            .await;
        result
            .clone()
            .map_err(|e| anyhow::anyhow!("deploying the shared csi-hostpath driver: {e}"))
    });
}
kube_e2e::suite_hooks!(deploy_once);

fn main() {
    // The example's driver file unless the caller names one (flag or environment); started
    // from nothing, the local cluster gets a real node: the driver needs a kubelet.
    let args = kube_e2e::config::param::with_defaults(
        std::env::args_os().collect(),
        &[
            ("storage.testdriver", DEFAULT_FILE),
            ("framework.local-nodes", "real"),
        ],
    );
    std::process::exit(kube_e2e::run(args));
}
