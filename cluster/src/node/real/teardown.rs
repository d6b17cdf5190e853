//! Removing what the real node leaves outside its network namespace and cgroups: mounts
//! under the state directory, pods' network namespaces, containerd's shim sockets and
//! kubelet's container log links. `down` calls these after stopping the node's processes.

use std::fs;
use std::path::{Path, PathBuf};

use crate::layout::containerd_socket_in;

/// The shim sockets containerd 1.6 keeps outside its state directory for the sandboxes under
/// `containerd_dir`: `/run/containerd/s/<sha256 of "<socket>/<namespace>/<sandbox id>">`.
pub fn shim_sockets(containerd_dir: &Path) -> Vec<PathBuf> {
    use sha2::{Digest, Sha256};
    let socket = containerd_socket_in(containerd_dir);
    let tasks = containerd_dir
        .join("state")
        .join("io.containerd.runtime.v2.task");
    let mut sockets = Vec::new();
    let Ok(namespaces) = fs::read_dir(&tasks) else {
        return sockets;
    };
    for namespace in namespaces.flatten() {
        let Ok(ids) = fs::read_dir(namespace.path()) else {
            continue;
        };
        for id in ids.flatten() {
            let key = socket
                .join(namespace.file_name())
                .join(id.file_name())
                .to_string_lossy()
                .to_string();
            let digest = Sha256::digest(key.as_bytes());
            sockets.push(Path::new("/run/containerd/s").join(crate::assets::hex(&digest)));
        }
    }
    sockets
}

/// Remove the [`shim_sockets`] of `containerd_dir`, then the directories when nothing else
/// uses them.
pub fn remove_shim_sockets(containerd_dir: &Path) {
    for socket in shim_sockets(containerd_dir) {
        let _ = fs::remove_file(socket);
    }
    let _ = fs::remove_dir("/run/containerd/s");
    let _ = fs::remove_dir("/run/containerd");
}

/// Unmount everything mounted under `dir` (deepest first). Returns the mount points left.
pub fn unmount_under(dir: &Path) -> Vec<PathBuf> {
    let mut left = Vec::new();
    for _ in 0..3 {
        let mut points = mounts_under(dir);
        if points.is_empty() {
            return Vec::new();
        }
        points.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
        left.clear();
        for point in points {
            if nix::mount::umount2(&point, nix::mount::MntFlags::MNT_DETACH).is_err() {
                left.push(point);
            }
        }
    }
    left
}

/// Mount points at or below `dir`.
pub fn mounts_under(dir: &Path) -> Vec<PathBuf> {
    let Ok(text) = fs::read_to_string("/proc/self/mountinfo") else {
        return Vec::new();
    };
    let prefix = dir.to_string_lossy().to_string();
    text.lines()
        .filter_map(|line| line.split_whitespace().nth(4))
        .map(|p| p.replace("\\040", " "))
        .filter(|p| p == &prefix || p.starts_with(&format!("{prefix}/")))
        .map(PathBuf::from)
        .collect()
}

/// Remove the CNI network namespaces (`/run/netns/cni-*`) that belong to `pids`' processes:
/// a namespace file is an nsfs bind mount whose inode is the namespace's.
pub fn remove_pod_netns(pids: &[i32]) -> Vec<PathBuf> {
    use std::os::unix::fs::MetadataExt;
    let inodes: Vec<u64> = pids
        .iter()
        .filter_map(|pid| fs::metadata(format!("/proc/{pid}/ns/net")).ok())
        .map(|m| m.ino())
        .collect();
    let mut removed = Vec::new();
    let Ok(entries) = fs::read_dir("/run/netns") else {
        return removed;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let is_cni = entry.file_name().to_string_lossy().starts_with("cni-");
        if is_cni && fs::metadata(&path).is_ok_and(|m| inodes.contains(&m.ino())) {
            let _ = nix::mount::umount2(&path, nix::mount::MntFlags::MNT_DETACH);
            let _ = fs::remove_file(&path);
            removed.push(path);
        }
    }
    removed
}

/// Remove symlinks in `/var/log/containers` that point into `dir` (kubelet writes them there).
pub fn remove_container_log_links(dir: &Path) {
    let Ok(entries) = fs::read_dir("/var/log/containers") else {
        return;
    };
    for entry in entries.flatten() {
        if fs::read_link(entry.path()).is_ok_and(|target| target.starts_with(dir)) {
            let _ = fs::remove_file(entry.path());
        }
    }
    let _ = fs::remove_dir("/var/log/containers");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mounts_under_matches_whole_path_components() {
        assert!(mounts_under(Path::new("/proc")).contains(&PathBuf::from("/proc")));
        assert!(
            mounts_under(Path::new("/pro")).is_empty(),
            "a prefix of a name is not a parent"
        );
        assert!(mounts_under(Path::new("/nonexistent-kube-e2e")).is_empty());
    }
}
