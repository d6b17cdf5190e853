//! [`LocalCluster`]: start, find, inspect and stop the project's own cluster.

use std::fs;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::assets::{Asset, AssetCache, KUBERNETES_VERSION, format_duration};
use crate::components::{self, Ports};
use crate::error::{Error, Result};
use crate::node::{self, NodeNetwork};
use crate::pki::{self, PkiPaths};
use crate::process::{ComponentRecord, ProcessState};
use crate::{images, nodes};
use crate::{kubeconfig, readiness};

const STATE_FILE: &str = "cluster.json";
/// How long a component gets between SIGTERM and SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(10);

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
            ready_timeout: Duration::from_secs(180),
        }
    }

    /// Use `dir` as the state directory.
    pub fn state_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.state_dir = dir.into();
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
    crate::assets::home_dir()
        .join(".local")
        .join("state")
        .join("kube-e2e")
        .join("cluster")
}

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
    /// The real node's network and cgroup, when it has one.
    #[serde(default)]
    pub network: Option<NodeNetwork>,
    /// When the cluster was created (seconds since the epoch).
    pub created_unix: u64,
}

/// How `up` went.
#[derive(Debug, Clone, PartialEq)]
pub enum UpOutcome {
    /// A new cluster was started; times from the start of `up`.
    Started {
        /// Until `/readyz` answered `ok`.
        api_ready: Duration,
        /// Until every node was Ready and the default ServiceAccount existed.
        nodes_ready: Duration,
    },
    /// The cluster was already running; nothing was done.
    AlreadyRunning,
    /// The cluster was running but these components had exited and were restarted.
    Restarted(Vec<String>),
}

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

/// The local cluster: a real control plane on this machine.
#[derive(Debug, Clone)]
pub struct LocalCluster {
    state_dir: PathBuf,
    state: ClusterState,
}

impl LocalCluster {
    /// Start the cluster described by `options`, or reuse it when it is already running
    /// (restarting components that have exited). Builds missing binaries first.
    ///
    /// # Errors
    /// Fails if a binary cannot be built, a component exits while starting (the error
    /// carries its log tail), or the cluster is not ready within the timeout. On failure,
    /// every process started by this call is stopped.
    pub async fn up(
        options: &ClusterOptions,
        progress: &mut (dyn FnMut(&str) + Send),
    ) -> Result<(Self, UpOutcome)> {
        if let Some(cluster) = Self::load(&options.state_dir)? {
            let outcome = cluster.repair(options, progress).await?;
            return Ok((cluster, outcome));
        }
        let real = options.nodes == NodeMode::Real;
        if real {
            if !nix::unistd::Uid::effective().is_root() {
                return Err(Error::Unsupported(
                    "run a real node: it needs root (network namespace, cgroups, mounts)".into(),
                ));
            }
            node::ensure_packages(&mut |m| progress(m))?;
            options.cache.ensure(&Asset::ALL, &mut |m| progress(m))?;
        } else {
            options
                .cache
                .ensure(&Asset::SIMULATED, &mut |m| progress(m))?;
        }
        let started = Instant::now();
        let state_dir = &options.state_dir;
        if state_dir.exists() {
            // Leftovers of a failed start: logs and data of processes that no longer run.
            stop_strays(state_dir);
            fs::remove_dir_all(state_dir).map_err(Error::io(state_dir))?;
        }
        fs::create_dir_all(state_dir).map_err(Error::io(state_dir))?;
        let ports = Ports::reserve()?;
        let layout = Layout::new(state_dir);
        let network = if real {
            Some(NodeNetwork::choose(state_dir)?)
        } else {
            None
        };
        let extra_ips: Vec<IpAddr> = network.iter().map(|n| IpAddr::V4(n.host_ip)).collect();
        let ca = pki::generate_control_plane(&layout.pki(), &extra_ips)?;
        write_kubeconfigs(
            &layout,
            &ca,
            &ports,
            "127.0.0.1",
            &pki::control_plane_clients(),
        )?;
        if let Some(network) = &network {
            pki::generate_node(
                &layout.pki(),
                &ca,
                node::NODE_NAME,
                IpAddr::V4(network.node_ip),
            )?;
            let host = network.host_ip.to_string();
            write_kubeconfigs(
                &layout,
                &ca,
                &ports,
                &host,
                &pki::node_clients(node::NODE_NAME),
            )?;
        }
        let mut cluster = LocalCluster {
            state_dir: state_dir.clone(),
            state: ClusterState {
                version: KUBERNETES_VERSION.to_string(),
                ports: ports.clone(),
                nodes: options.nodes,
                simulated_nodes: options.simulated_nodes,
                components: Vec::new(),
                network: network.clone(),
                created_unix: SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map(|d| d.as_secs())
                    .unwrap_or_default(),
            },
        };
        cluster.save()?;
        match cluster.start_all(options, &layout, started, progress).await {
            Ok(outcome) => Ok((cluster, outcome)),
            Err(error) => {
                // Leave nothing running; keep the logs for the error's reader.
                cluster.stop_everything();
                let _ = fs::remove_file(state_dir.join(STATE_FILE));
                Err(error)
            }
        }
    }

    async fn start_all(
        &mut self,
        options: &ClusterOptions,
        layout: &Layout,
        started: Instant,
        progress: &mut (dyn FnMut(&str) + Send),
    ) -> Result<UpOutcome> {
        let advertise = self.state.network.as_ref().map(|n| n.host_ip);
        let specs = components::control_plane(&options.cache, layout, &self.state.ports, advertise);
        let deadline = started + options.ready_timeout;
        let with_kwok = options.simulated_nodes > 0;
        for spec in specs.into_iter().filter(|s| with_kwok || s.name != "kwok") {
            let name = spec.name.clone();
            let record = spec.spawn()?;
            self.state.components.push(record);
            self.save()?;
            match name.as_str() {
                "etcd" => {
                    readiness::wait_for_port(
                        self.state.ports.etcd_client,
                        &self.state.components,
                        deadline,
                        "etcd",
                    )
                    .await?
                }
                "kube-apiserver" => {
                    let client = self.client().await?;
                    readiness::wait_for_readyz(&client, &self.state.components, deadline).await?;
                }
                _ => {}
            }
        }
        let api_ready = started.elapsed();
        progress(&format!(
            "API server ready in {}",
            format_duration(api_ready)
        ));
        let client = self.client().await?;
        let real = self.state.network.is_some();
        nodes::ensure_simulated(&client, options.simulated_nodes, real).await?;
        if let Some(network) = self.state.network.clone() {
            self.start_node(options, layout, &network, deadline, progress)
                .await?;
        }
        let node_count = options.simulated_nodes + u32::from(real);
        readiness::wait_for_nodes(&client, node_count, &self.state.components, deadline).await?;
        readiness::wait_for_default_service_account(&client, &self.state.components, deadline)
            .await?;
        let nodes_ready = started.elapsed();
        progress(&format!(
            "{node_count} node(s) Ready ({} real) and default ServiceAccount created in {}",
            u32::from(real),
            format_duration(nodes_ready)
        ));
        Ok(UpOutcome::Started {
            api_ready,
            nodes_ready,
        })
    }

    async fn start_node(
        &mut self,
        options: &ClusterOptions,
        layout: &Layout,
        network: &NodeNetwork,
        deadline: Instant,
        progress: &mut (dyn FnMut(&str) + Send),
    ) -> Result<()> {
        let node_started = Instant::now();
        network.create()?;
        network.create_cgroups()?;
        node::write_configs(layout, network, images::SANDBOX_IMAGE)?;
        let containerd = node::containerd_spec(layout, network);
        self.state.components.push(containerd.spawn()?);
        self.save()?;
        let socket = node::NodeLayout::new(layout).containerd_socket();
        readiness::wait_for_socket(&socket, &self.state.components, deadline, "containerd").await?;
        let built = images::build_standard(options.cache.root())?;
        for image in &built {
            images::import(
                std::path::Path::new("/usr/bin/ctr"),
                &socket,
                &image.archive,
            )?;
        }
        progress(&format!(
            "containerd up and {} image(s) imported in {}",
            built.len(),
            format_duration(node_started.elapsed())
        ));
        for spec in node::agent_specs(&options.cache, layout, network) {
            self.state.components.push(spec.spawn()?);
            self.save()?;
        }
        let client = self.client().await?;
        readiness::wait_for_node(&client, node::NODE_NAME, &self.state.components, deadline)
            .await?;
        progress(&format!(
            "real node {} Ready in {}",
            node::NODE_NAME,
            format_duration(node_started.elapsed())
        ));
        Ok(())
    }

    async fn repair(
        &self,
        options: &ClusterOptions,
        progress: &mut (dyn FnMut(&str) + Send),
    ) -> Result<UpOutcome> {
        let dead: Vec<&ComponentRecord> = self
            .state
            .components
            .iter()
            .filter(|c| c.state() == ProcessState::Exited)
            .collect();
        if dead.is_empty() {
            let client = self.client().await?;
            let deadline = Instant::now() + options.ready_timeout;
            readiness::wait_for_readyz(&client, &self.state.components, deadline).await?;
            return Ok(UpOutcome::AlreadyRunning);
        }
        let mut state = self.state.clone();
        let mut restarted = Vec::new();
        for component in state.components.iter_mut() {
            if component.state() == ProcessState::Exited {
                progress(&format!(
                    "restarting {} (it had exited)",
                    component.spec.name
                ));
                *component = component.spec.spawn()?;
                restarted.push(component.spec.name.clone());
            }
        }
        let cluster = LocalCluster {
            state_dir: self.state_dir.clone(),
            state,
        };
        cluster.save()?;
        let deadline = Instant::now() + options.ready_timeout;
        let client = cluster.client().await?;
        readiness::wait_for_readyz(&client, &cluster.state.components, deadline).await?;
        readiness::wait_for_nodes(
            &client,
            cluster.state.simulated_nodes,
            &cluster.state.components,
            deadline,
        )
        .await?;
        Ok(UpOutcome::Restarted(restarted))
    }

    /// The cluster whose state is in `state_dir`, if one was started there.
    ///
    /// # Errors
    /// Fails if the state file exists but cannot be read.
    pub fn load(state_dir: &Path) -> Result<Option<Self>> {
        let path = state_dir.join(STATE_FILE);
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io(&path)(e)),
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

    fn save(&self) -> Result<()> {
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

    /// The real node's containerd socket (meaningful only with a real node).
    pub fn containerd_socket(&self) -> PathBuf {
        node::NodeLayout::new(&Layout::new(&self.state_dir)).containerd_socket()
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

    /// Each component's process state, with the log tail of those that exited.
    pub fn status(&self) -> Vec<ComponentStatus> {
        self.state
            .components
            .iter()
            .map(|c| {
                let state = c.state();
                let log_tail = (state == ProcessState::Exited)
                    .then(|| crate::assets::tail_of_file(&c.spec.log, 10));
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

    /// Stop every component and remove everything the real node created, in an order that
    /// lets each step see what it needs: agents first, then the pods (their network
    /// namespaces are found through their processes), then containerd and the control plane,
    /// then mounts, cgroups and the node's network namespace.
    fn stop_everything(&self) -> Vec<String> {
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
            node::remove_pod_netns(&pids);
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
            node::remove_shim_sockets(
                &node::NodeLayout::new(&Layout::new(&self.state_dir)).containerd(),
            );
            node::unmount_under(&self.state_dir);
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
            node::remove_container_log_links(&self.state_dir);
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
        let left = node::unmount_under(state_dir);
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
fn stop_strays(state_dir: &Path) {
    let needle = state_dir.to_string_lossy().to_string();
    if needle.len() < 5 {
        return;
    }
    for signal in [
        nix::sys::signal::Signal::SIGTERM,
        nix::sys::signal::Signal::SIGKILL,
    ] {
        let pids = crate::process::processes_mentioning(&needle);
        if pids.is_empty() {
            return;
        }
        for pid in &pids {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(*pid), signal);
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline && !crate::process::processes_mentioning(&needle).is_empty()
        {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// A client from a kubeconfig file (its current context).
///
/// # Errors
/// Fails if the file cannot be read or parsed.
pub async fn client_from_kubeconfig(path: &Path) -> Result<kube::Client> {
    let map = |e: Box<dyn std::error::Error + Send + Sync>| Error::Kubeconfig {
        path: path.to_path_buf(),
        source: e,
    };
    let kubeconfig = kube::config::Kubeconfig::read_from(path).map_err(|e| map(Box::new(e)))?;
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
        .await
        .map_err(|e| map(Box::new(e)))?;
    kube::Client::try_from(config).map_err(|e| map(Box::new(e)))
}

/// Where each file of a cluster lives inside its state directory.
#[derive(Debug, Clone)]
pub struct Layout {
    root: PathBuf,
}

impl Layout {
    /// The layout of `state_dir`.
    pub fn new(state_dir: &Path) -> Self {
        Self {
            root: state_dir.to_path_buf(),
        }
    }

    /// The state directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// PKI files.
    pub fn pki(&self) -> PkiPaths {
        PkiPaths::new(self.root.join("pki"))
    }

    /// The kubeconfig of `user` (a PKI file stem).
    pub fn kubeconfig(&self, user: &str) -> PathBuf {
        self.root
            .join("kubeconfig")
            .join(format!("{user}.kubeconfig"))
    }

    /// The administrator's kubeconfig.
    pub fn admin_kubeconfig(&self) -> PathBuf {
        self.kubeconfig("admin")
    }

    /// The log of `component`.
    pub fn log(&self, component: &str) -> PathBuf {
        self.root.join("logs").join(format!("{component}.log"))
    }

    /// etcd's data directory.
    pub fn etcd_data(&self) -> PathBuf {
        self.root.join("etcd")
    }
}

fn write_kubeconfigs(
    layout: &Layout,
    ca: &pki::Authority,
    ports: &Ports,
    host: &str,
    clients: &[pki::ClientIdentity],
) -> Result<()> {
    let server = format!("https://{host}:{}", ports.apiserver);
    let ca_pem = ca.certified_key().cert_pem;
    let paths = layout.pki();
    for client in clients {
        let pair = pki::CertifiedKey {
            cert_pem: fs::read_to_string(paths.cert(client.file))
                .map_err(Error::io(paths.cert(client.file)))?,
            key_pem: fs::read_to_string(paths.key(client.file))
                .map_err(Error::io(paths.key(client.file)))?,
        };
        let text = kubeconfig::render("kube-e2e", &server, &ca_pem, &pair);
        kubeconfig::write(&layout.kubeconfig(client.file), &text)?;
    }
    Ok(())
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

    #[test]
    fn a_damaged_state_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(STATE_FILE), "{not json").unwrap();
        let error = LocalCluster::load(dir.path()).unwrap_err().to_string();
        assert!(error.contains("cluster.json"), "{error}");
    }

    /// A cluster whose only component is a `sleep`, saved in `state_dir`: real processes, no
    /// Kubernetes.
    fn sleeper_cluster(state_dir: &Path) -> LocalCluster {
        let spec = crate::process::ComponentSpec {
            name: "sleeper".into(),
            binary: PathBuf::from("/bin/sleep"),
            args: vec!["300".into()],
            env: vec![],
            log: Layout::new(state_dir).log("sleeper"),
            netns: None,
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
                created_unix: 0,
            },
        };
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
