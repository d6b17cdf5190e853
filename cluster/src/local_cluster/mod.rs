//! [`LocalCluster`]: start, find, inspect and stop the project's own cluster.
//!
//! - [`options`]: how to start one ([`ClusterOptions`], [`NodeMode`], the default state
//!   directory).
//! - [`state`]: the saved state (`cluster.json`) and what it tells (kubeconfig, client).
//! - [`up`]: bringing a cluster up, or repairing one that runs.
//! - [`component`]: one component at a time (status, stop, start again).
//! - [`down`]: stopping everything and removing what the cluster created.
//! - [`ownership`]: the marker that makes a directory a state directory (nothing else is ever
//!   signalled, unmounted or deleted) and the lock that lets one process at a time start or
//!   stop the cluster in it.

mod component;
mod down;
mod options;
mod ownership;
mod state;
mod up;

pub use component::ComponentStatus;
pub use options::{ClusterOptions, NodeMode, default_state_dir};
pub use state::{ClusterState, LocalCluster};
pub use up::UpOutcome;
