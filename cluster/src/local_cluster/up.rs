//! Bringing a cluster up: binaries, PKI and kubeconfigs, then the control plane, the simulated
//! nodes and the real node, each waited for; or repairing a cluster that already runs.

use std::fs;
use std::net::IpAddr;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::down::clear_leftovers;
use super::options::{ClusterOptions, NodeMode};
use super::ownership;
use super::state::{ClusterState, LocalCluster, STATE_FILE};
use crate::assets::{Asset, KUBERNETES_VERSION};
use crate::control_plane::components::{self, Ports};
use crate::control_plane::{kubeconfig, pki};
use crate::error::{Error, Result};
use crate::images;
use crate::layout::{Layout, NodeLayout};
use crate::node;
use crate::node::real::NodeNetwork;
use crate::process::{ComponentRecord, ProcessState};
use crate::readiness;
use crate::report::format_duration;

/// Build the binaries (and, for a real node, install the packages) `options` needs and the
/// cache lacks.
fn ensure_binaries(
    options: &ClusterOptions,
    progress: &mut (dyn FnMut(&str) + Send),
) -> Result<()> {
    if options.nodes == NodeMode::Real {
        node::real::ensure_packages(&mut |m| progress(m))?;
        options.cache.ensure(&Asset::ALL, &mut |m| progress(m))
    } else {
        options
            .cache
            .ensure(&Asset::SIMULATED, &mut |m| progress(m))
    }
}

/// [`ensure_binaries`] on a blocking thread, so that the caller's future stays responsive: a
/// caller that drops it (an interrupted run) does not wait minutes for a cold build, and the
/// build steps still running are told to stop.
async fn ensure_binaries_abandonably(
    options: &ClusterOptions,
    progress: &mut (dyn FnMut(&str) + Send),
) -> Result<()> {
    /// Stops the build steps when the wait for them is abandoned.
    struct StopOnDrop(bool);
    impl Drop for StopOnDrop {
        fn drop(&mut self) {
            if self.0 {
                crate::process::stop_build_steps();
            }
        }
    }
    let (tx, mut lines) = tokio::sync::mpsc::unbounded_channel::<String>();
    let owned = options.clone();
    let mut build = tokio::task::spawn_blocking(move || {
        ensure_binaries(&owned, &mut |line| {
            let _ = tx.send(line.to_string());
        })
    });
    let mut guard = StopOnDrop(true);
    loop {
        tokio::select! {
            Some(line) = lines.recv() => progress(&line),
            done = &mut build => {
                guard.0 = false;
                while let Ok(line) = lines.try_recv() {
                    progress(&line);
                }
                return done.unwrap_or_else(|e| {
                    Err(Error::Unsupported(format!("the binaries' build thread failed: {e}")))
                });
            }
        }
    }
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

impl LocalCluster {
    /// Start the cluster described by `options`, or reuse it when it is already running
    /// (restarting components that have exited). Builds missing binaries first.
    ///
    /// The state directory is created with an ownership marker (`kube-e2e-state.json`); an
    /// existing directory is used only if it has the marker or is empty (then it is adopted).
    /// While `up` works it holds an exclusive lock on the directory: a concurrent `up` on the
    /// same directory waits (at most the ready timeout) and then reuses the cluster.
    ///
    /// # Errors
    /// [`Error::ForeignStateDir`] for a non-empty directory without the marker (nothing in it
    /// is touched); [`Error::Timeout`] if another process keeps the directory locked. Fails if
    /// a binary cannot be built, a component exits while starting (the error carries its log
    /// tail), or the cluster is not ready within the timeout. On failure, every process
    /// started by this call is stopped.
    pub async fn up(
        options: &ClusterOptions,
        progress: &mut (dyn FnMut(&str) + Send),
    ) -> Result<(Self, UpOutcome)> {
        let state_dir = &options.state_dir;
        // Refuse a foreign directory before anything is built or created.
        ownership::check_usable(state_dir)?;
        let real = options.nodes == NodeMode::Real;
        if real && !nix::unistd::Uid::effective().is_root() {
            return Err(Error::Unsupported(
                "run a real node: it needs root (network namespace, cgroups, mounts)".into(),
            ));
        }
        if Self::load(state_dir)?.is_none() {
            // Built before taking the state directory's lock (the cache has a lock of its
            // own), so a concurrent caller waits for the start only, not for a cold build.
            ensure_binaries_abandonably(options, progress).await?;
        }
        let _lock = ownership::lock_for_up(state_dir, options.ready_timeout, progress).await?;
        if let Some(cluster) = Self::load(state_dir)? {
            let outcome = cluster.repair(options, progress).await?;
            return Ok((cluster, outcome));
        }
        ensure_binaries(options, progress)?;
        let started = Instant::now();
        // Leftovers of a failed start: logs and data of processes that no longer run.
        clear_leftovers(state_dir)?;
        let ports = Ports::reserve()?;
        let layout = Layout::new(state_dir);
        let networks = if real {
            NodeNetwork::choose(state_dir, options.real_nodes)?
        } else {
            Vec::new()
        };
        let network = networks.first().cloned();
        let extra_ips: Vec<IpAddr> = network.iter().map(|n| IpAddr::V4(n.host_ip)).collect();
        let ca = pki::generate_control_plane(&layout.pki(), &extra_ips)?;
        // The API server listens where the node reaches it (see `components`), so every client
        // goes there.
        let api_host = network
            .as_ref()
            .map_or_else(|| "127.0.0.1".to_string(), |n| n.host_ip.to_string());
        kubeconfig::write_for_clients(
            &layout,
            &ca,
            &ports,
            &api_host,
            &pki::control_plane_clients(),
        )?;
        for node in &networks {
            // Every node reaches the API server at the first node's host address: the host
            // owns it, whichever link a packet comes in on.
            let own = node.layout(&layout);
            if node.ordinal > 1 {
                pki::write_ca_cert(&own.pki(), &ca)?;
            }
            pki::generate_node(&own.pki(), &ca, &node.name, IpAddr::V4(node.node_ip))?;
            kubeconfig::write_for_clients(
                &own,
                &ca,
                &ports,
                &api_host,
                &pki::node_clients(&node.name),
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
                more_nodes: networks.iter().skip(1).cloned().collect(),
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
        let nodes: Vec<NodeNetwork> = self.real_nodes().into_iter().cloned().collect();
        for network in &nodes {
            // Before the control plane: the API server binds the host end of the first veth
            // pair. With more than one node the host forwards between them.
            network.create(nodes.len() > 1)?;
            network.create_cgroups()?;
        }
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
        node::simulated::ensure_simulated(&client, options.simulated_nodes, real).await?;
        for network in &nodes {
            self.start_node(options, layout, network, deadline, progress)
                .await?;
        }
        let node_count = options.simulated_nodes + nodes.len() as u32;
        readiness::wait_for_nodes(&client, node_count, &self.state.components, deadline).await?;
        readiness::wait_for_default_service_account(&client, &self.state.components, deadline)
            .await?;
        let nodes_ready = started.elapsed();
        progress(&format!(
            "{node_count} node(s) Ready ({} real) and default ServiceAccount created in {}",
            nodes.len(),
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
        let layout = &network.layout(layout);
        node::real::write_configs(layout, network, images::SANDBOX_IMAGE)?;
        let containerd = node::real::containerd_spec(layout, network);
        self.state.components.push(containerd.spawn()?);
        self.save()?;
        let socket = NodeLayout::new(layout).containerd_socket();
        readiness::wait_for_socket(&socket, &self.state.components, deadline, "containerd").await?;
        let built = images::build_node_images(options.cache.root())?;
        for image in &built {
            images::import(
                std::path::Path::new("/usr/bin/ctr"),
                &socket,
                &image.archive,
            )?;
        }
        progress(&format!(
            "{}: containerd up and {} image(s) imported in {}",
            network.name,
            built.len(),
            format_duration(node_started.elapsed())
        ));
        for spec in node::real::agent_specs(&options.cache, layout, network) {
            self.state.components.push(spec.spawn()?);
            self.save()?;
        }
        let client = self.client().await?;
        readiness::wait_for_node(&client, &network.name, &self.state.components, deadline).await?;
        progress(&format!(
            "real node {} Ready in {}",
            network.name,
            format_duration(node_started.elapsed())
        ));
        if network.ordinal == 1 {
            crate::dns::deploy(&client, &self.state.components, deadline).await?;
            progress(&format!(
                "cluster DNS (CoreDNS {} at {}) Ready in {}",
                crate::dns::COREDNS_VERSION,
                crate::dns::DNS_SERVICE_IP,
                format_duration(node_started.elapsed())
            ));
        }
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
}
