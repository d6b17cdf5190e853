//! Taking a cluster down: every component, then everything the real node created (pods, pod
//! network namespaces, mounts, cgroups, its network namespace), then the state directory —
//! only ever a directory that carries the ownership marker `up` writes.

use std::fs;
use std::path::Path;
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use super::component::STOP_GRACE;
use super::ownership::{self, MARKER_FILE};
use super::state::LocalCluster;
use crate::error::{Error, Result};
use crate::layout::{Layout, NodeLayout};
use crate::node;
use crate::process::{ComponentRecord, ProcessState};

/// How long `down` waits for another process (an `up` starting the cluster) to release the
/// state directory.
const DOWN_LOCK_WAIT: Duration = Duration::from_secs(600);

/// How long the node's processes get to leave its cgroups after SIGKILL.
const CGROUP_KILL_WAIT: Duration = Duration::from_secs(10);

impl LocalCluster {
    /// Stop every component and remove everything the real node created, in an order that
    /// lets each step see what it needs: agents first, then the pods (their network
    /// namespaces are found through their processes), then containerd and the control plane,
    /// then containerd's shims, mounts, cgroups and the node's network namespace.
    ///
    /// Processes are found by their recorded PIDs and, for the real node, by membership in its
    /// cgroups: containerd's shims are never recorded (containerd starts them), but they
    /// inherit containerd's runtime cgroup.
    pub(super) fn stop_everything(&self) -> Vec<String> {
        let mut stopped = Vec::new();
        let is_agent = |name: &str| {
            ["kube-proxy", "kubelet"]
                .iter()
                .any(|a| name == *a || name.strip_prefix(a).is_some_and(|s| s.starts_with('-')))
        };
        let mut stop = |component: &ComponentRecord| {
            if component.state() != ProcessState::Exited {
                stopped.push(component.spec.name.clone());
            }
            let _ = component.stop(STOP_GRACE);
        };
        for component in self.state.components.iter().rev() {
            if is_agent(&component.spec.name) {
                stop(component);
            }
        }
        let nodes = self.real_nodes();
        for network in &nodes {
            let pids = network.cgroup_pids();
            node::real::remove_pod_netns(&pids);
            kill_all(&pids);
        }
        for component in self.state.components.iter().rev() {
            if !is_agent(&component.spec.name) {
                stop(component);
            }
        }
        let layout = Layout::new(&self.state_dir);
        for network in &nodes {
            kill_all(&network.runtime_pids());
            node::real::remove_shim_sockets(
                &NodeLayout::new(&network.layout(&layout)).containerd(),
            );
        }
        if !nodes.is_empty() {
            node::real::unmount_under(&self.state_dir);
        }
        for network in &nodes {
            node::real::kill_cgroups(
                &[network.cgroup_root.clone(), network.runtime_cgroup()],
                CGROUP_KILL_WAIT,
            );
            network.delete();
        }
        if !nodes.is_empty() {
            node::real::remove_container_log_links(&self.state_dir);
        }
        stopped
    }

    /// Stop the cluster in `state_dir` and remove the directory. Does nothing when the
    /// directory does not exist. Returns the names of the components that were running.
    ///
    /// Acts only on a directory that carries the ownership marker `up` writes
    /// (`kube-e2e-state.json`); any other is left exactly as it is. Waits while another
    /// process starts or stops the cluster there.
    ///
    /// # Errors
    /// [`Error::UnmarkedStateDir`] for a directory without the marker; otherwise fails if the
    /// state cannot be read, mounts remain, or the directory cannot be removed.
    pub fn down(state_dir: &Path) -> Result<Vec<String>> {
        let Some(_lock) = ownership::lock_for_down(state_dir, DOWN_LOCK_WAIT)? else {
            return Ok(Vec::new());
        };
        let stopped = match Self::load(state_dir)? {
            Some(cluster) => cluster.stop_everything(),
            None => {
                stop_unrecorded(state_dir)?;
                Vec::new()
            }
        };
        let left = node::real::unmount_under(state_dir);
        if !left.is_empty() {
            return Err(Error::State {
                path: state_dir.to_path_buf(),
                message: format!("mounts remain under the state directory: {left:?}"),
            });
        }
        fs::remove_dir_all(state_dir).map_err(Error::io(state_dir))?;
        Ok(stopped)
    }
}

/// Stop what a cluster may have left in the marked `state_dir` without a state file (a
/// failed start whose cleanup was interrupted): processes in the real node's cgroups, which are
/// named after the directory, and mounts under it. Processes of the control plane are known
/// only by their recorded PIDs, so without a state file there are none to look for.
///
/// # Errors
/// [`Error::UnmarkedStateDir`] when `state_dir` lacks the marker: nothing is touched then.
pub(super) fn stop_unrecorded(state_dir: &Path) -> Result<()> {
    ownership::require_marker(state_dir)?;
    node::real::kill_cgroups(&node::real::cgroups_for(state_dir), CGROUP_KILL_WAIT);
    node::real::unmount_under(state_dir);
    Ok(())
}

/// Empty the marked `state_dir` for a new start, keeping the marker: the leftovers of a failed
/// start (logs, data, certificates).
///
/// # Errors
/// [`Error::UnmarkedStateDir`] when `state_dir` lacks the marker; an I/O error when an entry
/// cannot be removed.
pub(super) fn clear_leftovers(state_dir: &Path) -> Result<()> {
    stop_unrecorded(state_dir)?;
    for entry in fs::read_dir(state_dir).map_err(Error::io(state_dir))? {
        let entry = entry.map_err(Error::io(state_dir))?;
        if entry.file_name() == MARKER_FILE {
            continue;
        }
        let path = entry.path();
        let removed = if entry.file_type().is_ok_and(|t| t.is_dir()) {
            fs::remove_dir_all(&path)
        } else {
            fs::remove_file(&path)
        };
        removed.map_err(Error::io(&path))?;
    }
    Ok(())
}

fn kill_all(pids: &[i32]) {
    for pid in pids {
        let _ = kill(Pid::from_raw(*pid), Signal::SIGKILL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn down_on_a_missing_directory_is_a_no_op() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("cluster");
        assert!(LocalCluster::down(&state).unwrap().is_empty());
        assert!(LocalCluster::down(&state).unwrap().is_empty());
        assert!(!state.exists());
    }

    #[test]
    fn down_refuses_an_unmarked_directory_and_removes_a_marked_one() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("notes.txt"), "mine").unwrap();
        let error = LocalCluster::down(dir.path()).unwrap_err();
        assert!(matches!(error, Error::UnmarkedStateDir { .. }), "{error}");
        assert!(error.to_string().contains(MARKER_FILE), "{error}");
        assert!(dir.path().join("notes.txt").is_file(), "nothing is deleted");

        let state = dir.path().join("cluster");
        fs::create_dir(&state).unwrap();
        ownership::write_marker(&state).unwrap();
        fs::write(state.join("left.log"), "from a failed start").unwrap();
        assert!(LocalCluster::down(&state).unwrap().is_empty());
        assert!(!state.exists(), "a marked directory is removed");
    }

    #[test]
    fn leftovers_are_cleared_but_the_marker_stays() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("logs")).unwrap();
        fs::write(dir.path().join("logs/etcd.log"), "old").unwrap();
        assert!(matches!(
            clear_leftovers(dir.path()),
            Err(Error::UnmarkedStateDir { .. })
        ));
        assert!(dir.path().join("logs/etcd.log").is_file());
        let marker = ownership::write_marker(dir.path()).unwrap();
        clear_leftovers(dir.path()).unwrap();
        let left: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left, vec![std::ffi::OsString::from(MARKER_FILE)]);
        assert_eq!(ownership::read_marker(dir.path()).unwrap(), Some(marker));
    }
}
