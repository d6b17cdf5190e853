//! The storage suites for the built-in csi-hostpath driver, defined in Rust: every suite ×
//! pattern the driver supports, each spec deploying its own uniquely named copy of the driver.
//!
//! ```sh
//! cargo test -p kube-e2e-examples --test csi-hostpath -- --dry-run      # what runs, what not and why
//! cargo test -p kube-e2e-examples --test csi-hostpath -- --test-threads 4
//! ```

use kube_e2e::prelude::*;
use kube_e2e_storage::{CsiHostpathDriver, register_driver, suites};
use std::sync::Arc;

fn csi_volumes(s: &mut Container) {
    register_driver(
        s,
        "CSI Volumes",
        Arc::new(CsiHostpathDriver::new()),
        &suites::csi_suites(),
    );
}
kube_e2e::specs!(csi_volumes);

fn prepare_once(s: &mut Container) {
    // The driver's image and the snapshot controller, once per process, before the first spec
    // and outside every spec's time.
    s.before_suite(|suite| async move {
        let params = suite.params();
        if let Some(reason) = kube_e2e_storage::hostpath::prepare_cluster(&params).await? {
            suite.log(format!("csi-hostpath specs will skip: {reason}"));
        }
        Ok(())
    });
}
kube_e2e::suite_hooks!(prepare_once);

fn main() {
    // Started from nothing, the local cluster gets a real node: the driver needs a kubelet.
    let args = kube_e2e::config::param::with_defaults(
        std::env::args_os().collect(),
        &[("framework.local-nodes", "real")],
    );
    std::process::exit(kube_e2e::run(args));
}
