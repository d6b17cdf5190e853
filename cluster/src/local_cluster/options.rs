//! How to start a cluster: [`ClusterOptions`], [`NodeMode`] and the default state directory.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::assets::{AssetCache, home_dir};

/// What kind of nodes the cluster gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum NodeMode {
    /// Nodes simulated by kwok: scheduling works, containers do not run.
    #[default]
    Simulated,
    /// A real kubelet with containerd, in a network namespace of its own (needs root).
    Real,
}

/// How to start a cluster.
#[derive(Debug, Clone)]
pub struct ClusterOptions {
    /// The state directory: PKI, kubeconfigs, logs, etcd data, `cluster.json`.
    pub state_dir: PathBuf,
    /// Where the binaries are cached.
    pub cache: AssetCache,
    /// The kind of nodes.
    pub nodes: NodeMode,
    /// How many simulated nodes.
    pub simulated_nodes: u32,
    /// How many real nodes with [`NodeMode::Real`] (1 to
    /// [`MAX_REAL_NODES`](crate::node::real::MAX_REAL_NODES)).
    pub real_nodes: u32,
    /// How long to wait for the cluster to become ready.
    pub ready_timeout: Duration,
}

impl ClusterOptions {
    /// Options with the default state and cache directories and two simulated nodes.
    pub fn new() -> Self {
        Self {
            state_dir: default_state_dir(),
            cache: AssetCache::at_default_location(),
            nodes: NodeMode::Simulated,
            simulated_nodes: 2,
            real_nodes: 1,
            ready_timeout: Duration::from_secs(180),
        }
    }

    /// Use `dir` as the state directory.
    pub fn state_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.state_dir = dir.into();
        self
    }

    /// Use `count` real nodes (with [`NodeMode::Real`]).
    pub fn real_nodes(mut self, count: u32) -> Self {
        self.real_nodes = count;
        self
    }

    /// Use `count` simulated nodes.
    pub fn simulated_nodes(mut self, count: u32) -> Self {
        self.simulated_nodes = count;
        self
    }
}

impl Default for ClusterOptions {
    fn default() -> Self {
        Self::new()
    }
}

/// `$KUBE_E2E_STATE_DIR`, else `$XDG_STATE_HOME/kube-e2e/cluster`, else
/// `~/.local/state/kube-e2e/cluster`.
pub fn default_state_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("KUBE_E2E_STATE_DIR") {
        return PathBuf::from(dir);
    }
    if let Some(dir) = std::env::var_os("XDG_STATE_HOME") {
        return PathBuf::from(dir).join("kube-e2e").join("cluster");
    }
    home_dir()
        .join(".local")
        .join("state")
        .join("kube-e2e")
        .join("cluster")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_state_dir_can_be_chosen_by_environment() {
        // Only checks the documented precedence when the variable is set by the caller.
        if let Some(dir) = std::env::var_os("KUBE_E2E_STATE_DIR") {
            assert_eq!(default_state_dir(), PathBuf::from(dir));
        } else {
            assert!(default_state_dir().ends_with("kube-e2e/cluster"));
        }
    }
}
