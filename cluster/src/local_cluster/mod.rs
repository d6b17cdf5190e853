//! [`LocalCluster`]: start, find, inspect and stop the project's own cluster.
//!
//! - [`options`]: how to start one ([`ClusterOptions`], [`NodeMode`], the default state
//!   directory).
//! - [`state`]: the saved state (`cluster.json`) and what it tells (kubeconfig, client).
//! - [`up`]: bringing a cluster up, or repairing one that runs.
//! - [`component`]: one component at a time (status, stop, start again).
//! - [`down`]: stopping everything and removing what the cluster created.

mod component;
mod down;
mod options;
mod state;
mod up;

pub use component::ComponentStatus;
pub use options::{ClusterOptions, NodeMode, default_state_dir};
pub use state::{ClusterState, LocalCluster};
pub use up::UpOutcome;
