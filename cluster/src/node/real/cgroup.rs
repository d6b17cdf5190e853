//! The cgroups of the real node, in every hierarchy: the pod subtree (kubelet's `cgroupRoot`)
//! and the runtime cgroup that holds containerd and, by inheritance, its shims. `down` finds
//! every process the node started by membership in these — never by its command line.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use super::network::{MAX_REAL_NODES, NodeNetwork, cgroup_root_of};
use crate::error::{Error, Result};

impl NodeNetwork {
    /// The cgroup containerd runs in: beside the pod subtree rather than inside it, so that
    /// `down` can kill the pods while containerd still runs and stop containerd gracefully.
    /// containerd's shims start in it (their cgroup is inherited) and stay after containerd
    /// exits, which is how `down` finds them.
    pub fn runtime_cgroup(&self) -> String {
        runtime_cgroup_of(&self.cgroup_root)
    }

    /// Create the pod cgroup and the runtime cgroup in every v1 hierarchy (kubelet requires
    /// `cgroupRoot` to exist).
    ///
    /// # Errors
    /// Fails if a directory cannot be created or cpuset cannot be initialised.
    pub fn create_cgroups(&self) -> Result<()> {
        for hierarchy in v1_hierarchies() {
            for cgroup in [self.cgroup_root.clone(), self.runtime_cgroup()] {
                let dir = hierarchy.join(cgroup.trim_start_matches('/'));
                fs::create_dir_all(&dir).map_err(Error::io(&dir))?;
                if hierarchy.ends_with("cpuset") {
                    init_cpuset(&hierarchy, &dir)?;
                }
            }
        }
        Ok(())
    }

    /// The runtime cgroup's directories, one per v1 hierarchy: a process that joins them (see
    /// [`ComponentSpec::cgroups`](crate::process::ComponentSpec::cgroups)) is found by `down`.
    pub fn runtime_cgroup_dirs(&self) -> Vec<PathBuf> {
        v1_dirs(&self.runtime_cgroup())
    }

    /// PIDs of every process in the node's pod cgroups.
    pub fn cgroup_pids(&self) -> Vec<i32> {
        pids_in(&self.cgroup_root)
    }

    /// PIDs of every process in the runtime cgroup: containerd and its shims.
    pub fn runtime_pids(&self) -> Vec<i32> {
        pids_in(&self.runtime_cgroup())
    }

    /// Remove the node's cgroup directories, deepest first. Returns those that could not be
    /// removed (still holding processes).
    pub fn remove_cgroups(&self) -> Vec<PathBuf> {
        let mut left = remove_cgroup(&self.cgroup_root);
        left.extend(remove_cgroup(&self.runtime_cgroup()));
        left
    }

    /// Whether any of the node's cgroup directories exists.
    pub fn cgroups_exist(&self) -> bool {
        [self.cgroup_root.clone(), self.runtime_cgroup()]
            .iter()
            .any(|cgroup| {
                cgroup_hierarchies()
                    .iter()
                    .any(|h| h.join(cgroup.trim_start_matches('/')).exists())
            })
    }
}

/// The cgroups the real nodes of the cluster in `state_dir` would have (pods and runtime of
/// each possible node), derived from the directory as [`NodeNetwork::choose`] derives them.
pub fn cgroups_for(state_dir: &Path) -> Vec<String> {
    (1..=MAX_REAL_NODES)
        .flat_map(|ordinal| {
            let root = cgroup_root_of(state_dir, ordinal);
            let runtime = runtime_cgroup_of(&root);
            [root, runtime]
        })
        .collect()
}

/// SIGKILL every process in `cgroups` (in every hierarchy, subtrees included) until none is
/// left, then remove the cgroups. Gives up after `timeout`; returns the directories left.
pub fn kill_cgroups(cgroups: &[String], timeout: Duration) -> Vec<PathBuf> {
    let deadline = Instant::now() + timeout;
    loop {
        let mut left = Vec::new();
        for cgroup in cgroups {
            for pid in pids_in(cgroup) {
                let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
            }
            left.extend(remove_cgroup(cgroup));
        }
        if left.is_empty() || Instant::now() >= deadline {
            return left;
        }
        std::thread::sleep(Duration::from_millis(100));
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

fn runtime_cgroup_of(cgroup_root: &str) -> String {
    format!("{cgroup_root}-runtime")
}

/// Every hierarchy but a hybrid host's unified one.
fn v1_hierarchies() -> Vec<PathBuf> {
    cgroup_hierarchies()
        .into_iter()
        .filter(|h| !h.ends_with("unified"))
        .collect()
}

/// `cgroup`'s directory in every [`v1_hierarchies`] one.
fn v1_dirs(cgroup: &str) -> Vec<PathBuf> {
    v1_hierarchies()
        .into_iter()
        .map(|h| h.join(cgroup.trim_start_matches('/')))
        .collect()
}

/// A new cpuset starts empty; tasks cannot join it until it has CPUs and nodes.
fn init_cpuset(hierarchy: &Path, dir: &Path) -> Result<()> {
    for file in ["cpuset.cpus", "cpuset.mems"] {
        let value =
            fs::read_to_string(hierarchy.join(file)).map_err(Error::io(hierarchy.join(file)))?;
        fs::write(dir.join(file), value.trim()).map_err(Error::io(dir.join(file)))?;
    }
    Ok(())
}

fn pids_in(cgroup: &str) -> Vec<i32> {
    let mut pids = Vec::new();
    for hierarchy in cgroup_hierarchies() {
        collect_pids(&hierarchy.join(cgroup.trim_start_matches('/')), &mut pids);
    }
    pids.sort_unstable();
    pids.dedup();
    pids
}

fn remove_cgroup(cgroup: &str) -> Vec<PathBuf> {
    let mut left = Vec::new();
    for hierarchy in cgroup_hierarchies() {
        let dir = hierarchy.join(cgroup.trim_start_matches('/'));
        if dir.exists() {
            remove_cgroup_tree(&dir, &mut left);
        }
    }
    left
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
