//! The same csi-hostpath driver, described by a YAML file as a CSI team would describe theirs
//! (`testing-manifests/storage-csi/external/hostpath.yaml`), and deployed once for the whole
//! run (in `before_suite`, outside every spec's time) instead of once per spec.
//!
//! ```sh
//! cargo test -p kube-e2e-examples --test external-driver -- \
//!     --storage.testdriver testing-manifests/storage-csi/external/hostpath.yaml
//! ```
//!
//! Without `--storage.testdriver` the example's own file is used.

use kube_e2e::prelude::*;
use kube_e2e_storage::hostpath;

kube_e2e_storage::external_drivers!();

// The repository's `testing-manifests/`, for driver files whose classes come `FromFile`.
kube_e2e::embed_test_files!("$CARGO_MANIFEST_DIR/../testing-manifests");

/// The driver file used when none is given.
const DEFAULT_FILE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../testing-manifests/storage-csi/external/hostpath.yaml"
);

/// Why the shared driver could not be deployed, when that means its specs must skip (no real
/// node on this cluster).
struct Unavailable(String);

/// Whether the run uses this example's own driver file (another file is another driver, which
/// its team deploys).
fn uses_own_file(params: &Params) -> bool {
    let own = std::fs::canonicalize(DEFAULT_FILE).ok();
    params
        .list("storage.testdriver")
        .iter()
        .any(|f| std::fs::canonicalize(f).ok() == own)
}

fn deploy_once(s: &mut Container) {
    // Once per process, before the first spec and outside every spec's time.
    s.before_suite(|suite| async move {
        let params = suite.params();
        if !uses_own_file(&params) {
            return Ok(());
        }
        match hostpath::deploy_shared(&params, hostpath::DEFAULT_DRIVER).await {
            Ok(()) => Ok(()),
            Err(e) => match e.downcast_ref::<kube_e2e::skip::Skip>() {
                Some(skip) => {
                    suite.log(format!("csi-hostpath not deployed: {}", skip.reason()));
                    suite.insert(Unavailable(skip.reason().to_string()));
                    Ok(())
                }
                None => Err(e.context("deploying the shared csi-hostpath driver")),
            },
        }
    });
    s.before_each(|cx| async move {
        match cx.get::<Unavailable>() {
            Some(u) if cx.name().contains("[Driver: hostpath.csi.kube-e2e.io]") => {
                Err(skip(u.0.clone()))
            }
            _ => Ok(()),
        }
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
