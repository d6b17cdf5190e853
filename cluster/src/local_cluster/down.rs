//! Taking a cluster down: every component, then everything the real node created (pods, pod
//! network namespaces, mounts, cgroups, its network namespace), then the state directory.

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use super::component::STOP_GRACE;
use super::state::LocalCluster;
use crate::error::{Error, Result};
use crate::layout::{Layout, NodeLayout};
use crate::node;
use crate::process::{self, ComponentRecord, ProcessState};

impl LocalCluster {
    /// Stop every component and remove everything the real node created, in an order that
    /// lets each step see what it needs: agents first, then the pods (their network
    /// namespaces are found through their processes), then containerd and the control plane,
    /// then mounts, cgroups and the node's network namespace.
    pub(super) fn stop_everything(&self) -> Vec<String> {
        let mut stopped = Vec::new();
        let agents = ["kube-proxy", "kubelet"];
        let mut stop = |component: &ComponentRecord| {
            if component.state() != ProcessState::Exited {
                stopped.push(component.spec.name.clone());
            }
            let _ = component.stop(STOP_GRACE);
        };
        for component in self.state.components.iter().rev() {
            if agents.contains(&component.spec.name.as_str()) {
                stop(component);
            }
        }
        if let Some(network) = &self.state.network {
            let pids = network.cgroup_pids();
            node::real::remove_pod_netns(&pids);
            for pid in pids {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
        }
        for component in self.state.components.iter().rev() {
            if !agents.contains(&component.spec.name.as_str()) {
                stop(component);
            }
        }
        stop_strays(&self.state_dir);
        if let Some(network) = &self.state.network {
            node::real::remove_shim_sockets(
                &NodeLayout::new(&Layout::new(&self.state_dir)).containerd(),
            );
            node::real::unmount_under(&self.state_dir);
            let deadline = Instant::now() + Duration::from_secs(10);
            while !network.remove_cgroups().is_empty() && Instant::now() < deadline {
                for pid in network.cgroup_pids() {
                    let _ = nix::sys::signal::kill(
                        nix::unistd::Pid::from_raw(pid),
                        nix::sys::signal::Signal::SIGKILL,
                    );
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            network.delete();
            node::real::remove_container_log_links(&self.state_dir);
        }
        stopped
    }

    /// Stop the cluster in `state_dir` and remove the directory. Does nothing when no cluster
    /// is there. Returns the names of the components that were running.
    ///
    /// # Errors
    /// Fails if the state cannot be read or the directory cannot be removed.
    pub fn down(state_dir: &Path) -> Result<Vec<String>> {
        let mut stopped = Vec::new();
        if let Some(cluster) = Self::load(state_dir)? {
            stopped = cluster.stop_everything();
        }
        stop_strays(state_dir);
        let left = node::real::unmount_under(state_dir);
        if !left.is_empty() {
            return Err(Error::State {
                path: state_dir.to_path_buf(),
                message: format!("mounts remain under the state directory: {left:?}"),
            });
        }
        if state_dir.exists() {
            fs::remove_dir_all(state_dir).map_err(Error::io(state_dir))?;
        }
        Ok(stopped)
    }
}

/// Kill anything still running from `state_dir` (its command line names the directory),
/// e.g. after the state file was lost.
pub(super) fn stop_strays(state_dir: &Path) {
    let needle = state_dir.to_string_lossy().to_string();
    if needle.len() < 5 {
        return;
    }
    for signal in [
        nix::sys::signal::Signal::SIGTERM,
        nix::sys::signal::Signal::SIGKILL,
    ] {
        let pids = process::processes_mentioning(&needle);
        if pids.is_empty() {
            return;
        }
        for pid in &pids {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(*pid), signal);
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline && !process::processes_mentioning(&needle).is_empty() {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn down_on_an_empty_directory_is_a_no_op() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("cluster");
        assert!(LocalCluster::down(&state).unwrap().is_empty());
        assert!(LocalCluster::down(&state).unwrap().is_empty());
    }
}
