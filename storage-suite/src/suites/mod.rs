//! The suites, and the lists drivers register with.

mod capacity;
mod disruptive;
mod ephemeral;
mod fsgroup;
mod multivolume;
mod provisioning;
mod rwop;
mod snapshottable;
mod subpath;
mod topology;
mod volume_expand;
mod volume_io;
mod volume_limits;
mod volume_mode;
mod volumes;

pub use capacity::capacity;
pub use disruptive::disruptive;
pub use ephemeral::ephemeral;
pub use fsgroup::fs_group_change_policy;
pub use multivolume::multi_volume;
pub use provisioning::provisioning;
pub use rwop::read_write_once_pod;
pub use snapshottable::snapshottable;
pub use subpath::sub_path;
pub use topology::topology;
pub use volume_expand::volume_expand;
pub use volume_io::volume_io;
pub use volume_limits::volume_limits;
pub use volume_mode::volume_mode;
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
        volume_mode(),
        sub_path(),
        provisioning(),
        multi_volume(),
        volume_expand(),
        volume_limits(),
        topology(),
        fs_group_change_policy(),
        ephemeral(),
    ]
}

/// Upstream's `CSISuites`, as far as they are implemented: the base suites, then
/// snapshottable, read-write-once-pod, capacity and disruptive.
pub fn csi_suites() -> Vec<TestSuite> {
    let mut all = base_suites();
    all.push(snapshottable());
    all.push(read_write_once_pod());
    all.push(capacity());
    all.push(disruptive());
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
