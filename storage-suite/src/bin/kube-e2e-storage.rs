//! `kube-e2e-storage`: the drop-in for upstream's `e2e.test -storage.testdriver=FILE`. Every
//! storage suite runs against every driver file given, on the cluster in `KUBECONFIG` (or
//! `--framework.kubeconfig`), where the team has deployed its driver:
//!
//! ```sh
//! kube-e2e-storage --storage.testdriver deploy/test-driver.yaml --repo-root . \
//!     --label-filter '!Disruptive' --report-dir _artifacts
//! ```
//!
//! Upstream's spellings (`-storage.testdriver=FILE`, `-ginkgo.focus=…`, `-repo-root`, …) are
//! accepted too, and every runner flag (`--help`) works. `--repo-root` defaults to the working
//! directory, so `StorageClass.FromFile` paths resolve as they do from a driver repository's
//! root.

use kube_e2e::config::param::{env_var_for, with_defaults};
use kube_e2e_storage::upstream_flags::translate;

kube_e2e_storage::external_drivers!();

fn main() {
    let args = translate(std::env::args_os().collect());
    let asks_help = args
        .iter()
        .skip(1)
        .any(|a| a == "--help" || a == "-h" || a == "--version");
    let names_a_driver = args
        .iter()
        .any(|a| a.to_string_lossy().starts_with("--storage.testdriver"))
        || std::env::var_os(env_var_for("storage.testdriver")).is_some();
    if !asks_help && !names_a_driver {
        eprintln!(
            "error: kube-e2e-storage needs at least one driver file: --storage.testdriver FILE \
             (upstream's format; repeatable; see --help)"
        );
        std::process::exit(2);
    }
    let args = with_defaults(args, &[("framework.repo-root", ".")]);
    std::process::exit(kube_e2e::run(args));
}
