//! The suites, and the lists drivers register with.

mod ephemeral;
mod provisioning;
mod rwop;
mod snapshottable;
mod subpath;
mod volume_expand;
mod volume_io;
mod volumes;

pub use ephemeral::ephemeral;
pub use provisioning::provisioning;
pub use rwop::read_write_once_pod;
pub use snapshottable::snapshottable;
pub use subpath::sub_path;
pub use volume_expand::volume_expand;
pub use volume_io::volume_io;
pub use volumes::volumes;

use crate::capability::Capability;
use crate::driver::TestDriver;
use crate::pattern::{TestPattern, VolMode};
use crate::suite::TestSuite;

/// Upstream's `BaseSuites`, as far as they are implemented (see docs/storage.md).
pub fn base_suites() -> Vec<TestSuite> {
    vec![
        volumes(),
        volume_io(),
        sub_path(),
        provisioning(),
        volume_expand(),
        ephemeral(),
    ]
}

/// Upstream's `CSISuites`, as far as they are implemented: the base suites, then
/// snapshottable and read-write-once-pod.
pub fn csi_suites() -> Vec<TestSuite> {
    let mut all = base_suites();
    all.push(snapshottable());
    all.push(read_write_once_pod());
    all
}

pub(crate) fn needs(driver: &dyn TestDriver, cap: Capability, what: &str) -> Option<String> {
    (!driver.driver_info().has(cap)).then(|| {
        format!(
            "driver {} does not support {what} (capability `{cap}`)",
            driver.driver_info().name
        )
    })
}

pub(crate) fn block_needs_capability(driver: &dyn TestDriver, p: &TestPattern) -> Option<String> {
    if p.vol_mode == VolMode::Block {
        needs(driver, Capability::Block, "block volumes")
    } else {
        None
    }
}
