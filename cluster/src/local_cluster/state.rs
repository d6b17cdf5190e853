//! The saved state of a cluster (`cluster.json` in its state directory) and what it tells:
//! where the kubeconfig is, the API server's URL, a client.

use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::options::NodeMode;
use crate::control_plane::components::Ports;
use crate::control_plane::kubeconfig::client_from_kubeconfig;
use crate::error::{Error, Result};
use crate::layout::{Layout, NodeLayout};
use crate::node::real::NodeNetwork;
use crate::process::ComponentRecord;

/// The state file, inside the state directory.
pub(super) const STATE_FILE: &str = "cluster.json";

/// The saved description of a running cluster.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClusterState {
    /// The Kubernetes version.
    pub version: String,
    /// The ports in use.
    pub ports: Ports,
    /// The kind of nodes.
    pub nodes: NodeMode,
    /// How many simulated nodes.
    pub simulated_nodes: u32,
    /// The components, in start order.
    pub components: Vec<ComponentRecord>,
    /// The first real node's network and cgroup, when it has one.
    #[serde(default)]
    pub network: Option<NodeNetwork>,
    /// The other real nodes' (the second, third, …).
    #[serde(default)]
    pub more_nodes: Vec<NodeNetwork>,
    /// When the cluster was created (seconds since the epoch).
    pub created_unix: u64,
}

/// The local cluster: a real control plane on this machine, with kwok-simulated nodes and
/// optionally a real node.
#[derive(Debug, Clone)]
pub struct LocalCluster {
    pub(super) state_dir: PathBuf,
    pub(super) state: ClusterState,
}

/// Reads `path` only if it is a regular file: a FIFO or a device put where the cluster keeps
/// its state would otherwise block the reader forever or feed it endless bytes.
///
/// # Errors
/// `NotFound` when there is nothing there; `InvalidInput` naming what is there instead.
pub(super) fn read_regular_file(path: &Path) -> std::io::Result<Vec<u8>> {
    let meta = fs::metadata(path)?;
    if !meta.is_file() {
        use std::os::unix::fs::FileTypeExt as _;
        let t = meta.file_type();
        let what = if t.is_fifo() {
            "a FIFO"
        } else if t.is_dir() {
            "a directory"
        } else if t.is_char_device() || t.is_block_device() {
            "a device"
        } else if t.is_socket() {
            "a socket"
        } else {
            "not a regular file"
        };
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            // The caller names the path (cut to a readable length); this says what is wrong.
            format!("it is {what}, expected a regular file"),
        ));
    }
    fs::read(path)
}

impl LocalCluster {
    /// The cluster whose state is in `state_dir`, if one was started there.
    ///
    /// # Errors
    /// Fails if the state file exists but cannot be read.
    pub fn load(state_dir: &Path) -> Result<Option<Self>> {
        let path = state_dir.join(STATE_FILE);
        let bytes = match read_regular_file(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(Error::State {
                    path: path.clone(),
                    message: e.to_string(),
                });
            }
        };
        let state = serde_json::from_slice(&bytes).map_err(|e| Error::State {
            path: path.clone(),
            message: e.to_string(),
        })?;
        Ok(Some(Self {
            state_dir: state_dir.to_path_buf(),
            state,
        }))
    }

    /// Write the state file (atomically: a reader never sees half of it).
    pub(super) fn save(&self) -> Result<()> {
        let path = self.state_dir.join(STATE_FILE);
        let text = serde_json::to_string_pretty(&self.state).expect("state always serializes");
        let tmp = path.with_extension("json.tmp");
        fs::write(&tmp, text).map_err(Error::io(&tmp))?;
        fs::rename(&tmp, &path).map_err(Error::io(&path))
    }

    /// The state directory.
    pub fn state_dir(&self) -> &Path {
        &self.state_dir
    }

    /// The saved state.
    pub fn state(&self) -> &ClusterState {
        &self.state
    }

    /// The administrator's kubeconfig.
    pub fn kubeconfig_path(&self) -> PathBuf {
        Layout::new(&self.state_dir).admin_kubeconfig()
    }

    /// The first real node's containerd socket (meaningful only with a real node).
    pub fn containerd_socket(&self) -> PathBuf {
        NodeLayout::new(&Layout::new(&self.state_dir)).containerd_socket()
    }

    /// The real nodes' networks, the first first.
    pub fn real_nodes(&self) -> Vec<&NodeNetwork> {
        self.state
            .network
            .iter()
            .chain(self.state.more_nodes.iter())
            .collect()
    }

    /// Every real node's containerd socket: where an image must be imported for pods on any
    /// real node to find it.
    pub fn containerd_sockets(&self) -> Vec<PathBuf> {
        let layout = Layout::new(&self.state_dir);
        self.real_nodes()
            .into_iter()
            .map(|n| NodeLayout::new(&n.layout(&layout)).containerd_socket())
            .collect()
    }

    /// The API server's URL.
    pub fn server_url(&self) -> String {
        format!("https://127.0.0.1:{}", self.state.ports.apiserver)
    }

    /// A client authenticated as the cluster administrator.
    ///
    /// # Errors
    /// Fails if the kubeconfig cannot be read.
    pub async fn client(&self) -> Result<kube::Client> {
        client_from_kubeconfig(&self.kubeconfig_path()).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_damaged_state_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(STATE_FILE), "{not json").unwrap();
        let error = LocalCluster::load(dir.path()).unwrap_err().to_string();
        assert!(error.contains("cluster.json"), "{error}");
    }

    #[test]
    fn a_fifo_or_directory_as_state_file_is_refused_at_once_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(STATE_FILE);
        nix::unistd::mkfifo(&path, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        // Opening a FIFO with no writer would block: the check must come first.
        let error = LocalCluster::load(dir.path()).unwrap_err().to_string();
        assert!(
            error.contains("cluster.json") && error.contains("a FIFO"),
            "{error}"
        );
        fs::remove_file(&path).unwrap();
        fs::create_dir(&path).unwrap();
        let error = LocalCluster::load(dir.path()).unwrap_err().to_string();
        assert!(error.contains("a directory"), "{error}");
    }
}
