//! One component at a time: its status, and stopping and starting it again (e.g. to test what
//! happens while kubelet is down).

use std::path::PathBuf;
use std::time::Duration;

use super::state::LocalCluster;
use crate::error::{Error, Result};
use crate::process::{ComponentRecord, ProcessState};
use crate::report::tail_of_file;

/// How long a component gets between SIGTERM and SIGKILL.
pub(super) const STOP_GRACE: Duration = Duration::from_secs(10);

/// One component's state, for `status`.
#[derive(Debug, Clone)]
pub struct ComponentStatus {
    /// The component.
    pub name: String,
    /// Its process.
    pub state: ProcessState,
    /// Its log file.
    pub log: PathBuf,
    /// The last log lines when it has exited.
    pub log_tail: Option<String>,
}

impl LocalCluster {
    /// Each component's process state, with the log tail of those that exited.
    pub fn status(&self) -> Vec<ComponentStatus> {
        self.state
            .components
            .iter()
            .map(|c| {
                let state = c.state();
                let log_tail =
                    (state == ProcessState::Exited).then(|| tail_of_file(&c.spec.log, 10));
                ComponentStatus {
                    name: c.spec.name.clone(),
                    state,
                    log: c.spec.log.clone(),
                    log_tail,
                }
            })
            .collect()
    }

    /// The component called `name` (`kubelet`, `kube-apiserver`, …).
    ///
    /// # Errors
    /// [`Error::UnknownComponent`], listing the cluster's components, if none has that name.
    pub fn component(&self, name: &str) -> Result<&ComponentRecord> {
        self.state
            .components
            .iter()
            .find(|c| c.spec.name == name)
            .ok_or_else(|| Error::UnknownComponent {
                name: name.to_string(),
                known: self
                    .state
                    .components
                    .iter()
                    .map(|c| c.spec.name.clone())
                    .collect(),
            })
    }

    /// Stop component `name` — SIGTERM to its process group, SIGKILL after ten seconds — and
    /// leave it stopped, e.g. to test what happens while kubelet is down. Its record stays in
    /// the state, so [`LocalCluster::start_component`] (or `up`, which restarts exited
    /// components) starts it again and `down` still knows it. Blocks until it has exited;
    /// stopping a component that is not running does nothing.
    ///
    /// # Errors
    /// [`Error::UnknownComponent`] for a name the cluster does not have; [`Error::Signal`] if
    /// the process cannot be signalled.
    pub fn stop_component(&self, name: &str) -> Result<()> {
        self.component(name)?.stop(STOP_GRACE)
    }

    /// Start component `name` again exactly as it was first started (its saved
    /// [`ComponentSpec`](crate::process::ComponentSpec)), unless it is running. The new PID is
    /// recorded and the state file saved (atomically), so `down` stops the new process. The
    /// state is re-read from disk first, so a change another process saved meanwhile is kept.
    /// Returns whether a process was started. Does not wait for the component to be ready.
    ///
    /// # Errors
    /// [`Error::UnknownComponent`] for a name the cluster does not have, [`Error::Spawn`] if
    /// the binary cannot be started, or an error reading or writing the state file.
    pub fn start_component(&mut self, name: &str) -> Result<bool> {
        if let Some(fresh) = Self::load(&self.state_dir)? {
            self.state = fresh.state;
        }
        let record = self.component(name)?;
        if record.state() != ProcessState::Exited {
            return Ok(false);
        }
        let started = record.spec.spawn()?;
        if let Some(slot) = self
            .state
            .components
            .iter_mut()
            .find(|c| c.spec.name == name)
        {
            *slot = started;
        }
        self.save()?;
        Ok(true)
    }

    /// [`LocalCluster::stop_component`], then [`LocalCluster::start_component`].
    ///
    /// # Errors
    /// As those two.
    pub fn restart_component(&mut self, name: &str) -> Result<()> {
        self.stop_component(name)?;
        self.start_component(name).map(drop)
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::assets::KUBERNETES_VERSION;
    use crate::control_plane::components::Ports;
    use crate::layout::Layout;
    use crate::local_cluster::options::NodeMode;
    use crate::local_cluster::state::ClusterState;

    /// A cluster whose only component is a `sleep`, saved in `state_dir` (marked as `up`
    /// marks it): real processes, no Kubernetes.
    fn sleeper_cluster(state_dir: &Path) -> LocalCluster {
        let spec = crate::process::ComponentSpec {
            name: "sleeper".into(),
            binary: PathBuf::from("/bin/sleep"),
            args: vec!["300".into()],
            env: vec![],
            log: Layout::new(state_dir).log("sleeper"),
            netns: None,
            cgroups: Vec::new(),
        };
        let cluster = LocalCluster {
            state_dir: state_dir.to_path_buf(),
            state: ClusterState {
                version: KUBERNETES_VERSION.to_string(),
                ports: Ports {
                    etcd_client: 1,
                    etcd_peer: 2,
                    apiserver: 3,
                    controller_manager: 4,
                    scheduler: 5,
                    kwok: 6,
                },
                nodes: NodeMode::Simulated,
                simulated_nodes: 0,
                components: vec![spec.spawn().unwrap()],
                network: None,
                more_nodes: Vec::new(),
                created_unix: 0,
            },
        };
        crate::local_cluster::ownership::write_marker(state_dir).unwrap();
        cluster.save().unwrap();
        cluster
    }

    #[test]
    fn an_unknown_component_is_an_error_listing_the_known_ones() {
        let dir = tempfile::tempdir().unwrap();
        let mut cluster = sleeper_cluster(dir.path());
        let error = cluster.stop_component("kubelt").unwrap_err().to_string();
        assert_eq!(
            error,
            "find component `kubelt` in the cluster state (known components: sleeper)"
        );
        let error = cluster.start_component("kubelt").unwrap_err().to_string();
        assert!(error.contains("known components: sleeper"), "{error}");
        assert!(matches!(
            cluster.restart_component("kubelt"),
            Err(Error::UnknownComponent { .. })
        ));
        cluster
            .component("sleeper")
            .unwrap()
            .stop(STOP_GRACE)
            .unwrap();
    }

    #[test]
    fn a_stopped_component_starts_again_under_a_new_pid_that_the_state_file_records() {
        let dir = tempfile::tempdir().unwrap();
        let mut cluster = sleeper_cluster(dir.path());
        let first = cluster.component("sleeper").unwrap().clone();
        assert!(
            !cluster.start_component("sleeper").unwrap(),
            "a running component is left alone"
        );
        cluster.stop_component("sleeper").unwrap();
        assert_eq!(first.state(), ProcessState::Exited);
        assert!(cluster.start_component("sleeper").unwrap());
        let second = cluster.component("sleeper").unwrap().clone();
        assert_ne!(second.pid, first.pid);
        assert_eq!(second.spec, first.spec, "started the same way");
        assert_eq!(second.state(), ProcessState::Running(second.pid));
        let saved = LocalCluster::load(dir.path()).unwrap().unwrap();
        assert_eq!(
            saved.component("sleeper").unwrap().pid,
            second.pid,
            "the new PID is in cluster.json, so `down` stops the new process"
        );
        cluster.restart_component("sleeper").unwrap();
        let third = cluster.component("sleeper").unwrap().clone();
        assert_ne!(third.pid, second.pid);
        assert_eq!(second.state(), ProcessState::Exited);
        assert!(LocalCluster::down(dir.path()).unwrap() == vec!["sleeper".to_string()]);
        assert_eq!(third.state(), ProcessState::Exited);
    }
}
