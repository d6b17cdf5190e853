//! `kube-e2e-storage`: upstream's storage test framework for kube-e2e. Describe a driver once
//! — in Rust ([`TestDriver`]) or in a YAML file ([`external`]) — and every suite runs for every
//! pattern the driver supports. Combinations it does not support are never registered;
//! `--dry-run` lists them with the reason.
//!
//! ```no_run
//! // tests/my_driver.rs, `[[test]] name = "my-driver" harness = false`
//! use kube_e2e::prelude::*;
//! use kube_e2e_storage::{CsiHostpathDriver, register_driver, suites};
//! use std::sync::Arc;
//!
//! fn storage(s: &mut Container) {
//!     register_driver(s, "CSI Volumes", Arc::new(CsiHostpathDriver::new()), &suites::csi_suites());
//! }
//! kube_e2e::specs!(storage);
//! kube_e2e_storage::external_drivers!();   // --storage.testdriver=FILE
//! kube_e2e::main!();
//! ```
//!
//! Spec names follow upstream: `[sig-storage] CSI Volumes [Driver: csi-hostpath] [Testpattern:
//! Dynamic PV (default fs)] provisioning should provision storage with defaults`.
//! See `docs/storage.md`.

pub mod capability;
pub mod driver;
pub mod external;
pub mod hostpath;
pub mod pattern;
pub mod suite;
pub mod suites;
pub mod upstream_flags;
pub mod volume;

pub use capability::Capability;
pub use driver::{
    ClientNodeSelection, DriverInfo, DynamicPvDriver, EphemeralDriver, InlineVolume,
    InlineVolumeDriver, PerTestConfig, PreprovisionedPvDriver, SizeRange, SnapshottableDriver,
    TestDriver, skip_invalid_driver_pattern,
};
pub use external::{ExternalDriver, ExternalDriverError, UnknownKeys};
pub use hostpath::CsiHostpathDriver;
pub use pattern::{TestPattern, patterns};
pub use suite::{SuiteContext, TestSuite, define_test_suites, register_driver};

kube_e2e::declare_feature!("Windows");

/// Adds `--storage.testdriver=FILE` (repeatable) to a suite binary and registers each file's
/// driver with the CSI suites under `[sig-storage] External Storage [Driver: <Name>]`.
#[macro_export]
macro_rules! external_drivers {
    () => {
        kube_e2e::param!(
            "storage.testdriver",
            List,
            None,
            "YAML or JSON file describing an external storage driver, in the format of upstream's e2e.test -storage.testdriver (repeatable)"
        );
        kube_e2e::param!(
            "storage.testdriver-unknown-keys",
            String,
            Some("error"),
            "keys of a driver file that upstream would ignore: `error` refuses the file, `warn` reports and ignores them"
        );
        fn __kube_e2e_storage_external(
            s: &mut kube_e2e::Container,
            params: &kube_e2e::Params,
        ) -> kube_e2e::anyhow::Result<()> {
            $crate::external::register_from_params(s, params, &$crate::suites::csi_suites())
        }
        kube_e2e::generator!(__kube_e2e_storage_external);
    };
}
