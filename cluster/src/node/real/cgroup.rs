//! The cgroup subtree that holds the real node's pods (kubelet's `cgroupRoot`), in every
//! hierarchy, so that `down` can find and remove every process and cgroup the node created.

use std::fs;
use std::path::{Path, PathBuf};

use super::network::NodeNetwork;
use crate::error::{Error, Result};

impl NodeNetwork {
    /// Create the pod cgroup in every v1 hierarchy (kubelet requires `cgroupRoot` to exist).
    ///
    /// # Errors
    /// Fails if a directory cannot be created or cpuset cannot be initialised.
    pub fn create_cgroups(&self) -> Result<()> {
        let v1 = cgroup_hierarchies()
            .into_iter()
            .filter(|h| !h.ends_with("unified"));
        for hierarchy in v1 {
            let dir = hierarchy.join(self.cgroup_root.trim_start_matches('/'));
            fs::create_dir_all(&dir).map_err(Error::io(&dir))?;
            if hierarchy.ends_with("cpuset") {
                // A new cpuset starts empty; tasks cannot join it until it has CPUs and nodes.
                for file in ["cpuset.cpus", "cpuset.mems"] {
                    let parent = fs::read_to_string(hierarchy.join(file))
                        .map_err(Error::io(hierarchy.join(file)))?;
                    fs::write(dir.join(file), parent.trim()).map_err(Error::io(dir.join(file)))?;
                }
            }
        }
        Ok(())
    }

    /// PIDs of every process in the node's cgroups.
    pub fn cgroup_pids(&self) -> Vec<i32> {
        let mut pids = Vec::new();
        for hierarchy in cgroup_hierarchies() {
            let dir = hierarchy.join(self.cgroup_root.trim_start_matches('/'));
            collect_pids(&dir, &mut pids);
        }
        pids.sort_unstable();
        pids.dedup();
        pids
    }

    /// Remove the node's cgroup directories, deepest first. Returns those that could not be
    /// removed (still holding processes).
    pub fn remove_cgroups(&self) -> Vec<PathBuf> {
        let mut left = Vec::new();
        for hierarchy in cgroup_hierarchies() {
            let dir = hierarchy.join(self.cgroup_root.trim_start_matches('/'));
            if dir.exists() {
                remove_cgroup_tree(&dir, &mut left);
            }
        }
        left
    }

    /// Whether any of the node's cgroup directories exists.
    pub fn cgroups_exist(&self) -> bool {
        cgroup_hierarchies()
            .iter()
            .any(|h| h.join(self.cgroup_root.trim_start_matches('/')).exists())
    }
}

/// The cgroup hierarchies: every v1 hierarchy and, on a hybrid host, the unified one, where
/// kubelet also creates the pod cgroups.
pub fn cgroup_hierarchies() -> Vec<PathBuf> {
    let Ok(mounts) = fs::read_to_string("/proc/self/mounts") else {
        return Vec::new();
    };
    mounts
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            (fields.len() > 2 && (fields[2] == "cgroup" || fields[2] == "cgroup2"))
                .then(|| PathBuf::from(fields[1]))
        })
        .collect()
}

fn collect_pids(dir: &Path, pids: &mut Vec<i32>) {
    if let Ok(text) = fs::read_to_string(dir.join("cgroup.procs")) {
        pids.extend(text.lines().filter_map(|l| l.trim().parse::<i32>().ok()));
    }
    if let Ok(entries) = fs::read_dir(dir) {
        for entry in entries.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                collect_pids(&entry.path(), pids);
            }
        }
    }
}

fn remove_cgroup_tree(dir: &Path, left: &mut Vec<PathBuf>) {
    if let Ok(entries) = fs::read_dir(dir) {
        for entry in entries.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                remove_cgroup_tree(&entry.path(), left);
            }
        }
    }
    if fs::remove_dir(dir).is_err() {
        left.push(dir.to_path_buf());
    }
}
