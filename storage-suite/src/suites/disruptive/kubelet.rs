//! kubelet of the local cluster's real node, for the disruptive suite: found (or a skip saying
//! why not), stopped and started through [`LocalCluster`], and the node's mounts read from this
//! machine's `/proc/self/mountinfo`.

use crate::volume;
use k8s_openapi::api::core::v1::{Node, NodeCondition};
use kube::api::Api;
use kube_e2e::SpecContext;
use kube_e2e::prelude::*;
use kube_e2e_cluster::node::real::{self, NODE_NAME};
use kube_e2e_cluster::process::ProcessState;
use kube_e2e_cluster::{Layout, LocalCluster, NodeLayout};
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

/// How long kubelet gets to report its node Ready after it was started.
const NODE_READY_TIMEOUT: Duration = Duration::from_secs(180);

/// kubelet of the local cluster's real node.
#[derive(Clone)]
pub(super) struct Kubelet {
    state_dir: PathBuf,
    kubelet_root: PathBuf,
    nodes: Api<Node>,
}

impl Kubelet {
    /// The local cluster's kubelet, when the cluster under test is the local cluster with a
    /// real node; otherwise a skip saying what is missing.
    pub(super) async fn find(f: &Framework) -> anyhow::Result<Kubelet> {
        let state_dir = kube_e2e_cluster::default_state_dir();
        let dir = state_dir.display();
        let Some(cluster) = LocalCluster::load(&state_dir)? else {
            return Err(skip(format!(
                "disruptive restarts kubelet on the local cluster's real node; no local cluster in {dir} (start one with `kube-e2e-cluster up --nodes real`)"
            )));
        };
        let (Some(network), Ok(record)) = (&cluster.state().network, cluster.component("kubelet"))
        else {
            return Err(skip(format!(
                "disruptive restarts kubelet on the local cluster's real node; the cluster in {dir} has none (start it with `kube-e2e-cluster up --nodes real`)"
            )));
        };
        let nodes: Api<Node> = f.api_all();
        let address = nodes.get_opt(NODE_NAME).await?.and_then(|n| {
            n.status?
                .addresses?
                .into_iter()
                .find(|a| a.type_ == "InternalIP")
                .map(|a| a.address)
        });
        if address != Some(network.node_ip.to_string()) {
            return Err(skip(format!(
                "the cluster under test is not the local cluster in {dir}: its node {NODE_NAME} has address {address:?}, the local node {}",
                network.node_ip
            )));
        }
        ensure!(
            record.state() != ProcessState::Exited,
            "kubelet of the local cluster in {dir} is not running; `kube-e2e-cluster up` restarts it"
        );
        Ok(Kubelet {
            kubelet_root: NodeLayout::new(&Layout::new(&state_dir)).kubelet_root(),
            state_dir,
            nodes,
        })
    }

    /// Stops kubelet, after registering the cleanup that starts it again (and waits for the
    /// node to be Ready) should the spec end in any way while it is down.
    pub(super) async fn stop(&self, cx: &SpecContext) -> anyhow::Result<()> {
        let kubelet = self.clone();
        cx.defer_cleanup(move || async move {
            kubelet
                .start()
                .await
                .context("starting kubelet again after the spec")
        });
        cx.by("stopping kubelet");
        let state_dir = self.state_dir.clone();
        tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
            let cluster = LocalCluster::load(&state_dir)?.context("the local cluster is gone")?;
            cluster.stop_component("kubelet")?;
            Ok(())
        })
        .await??;
        Ok(())
    }

    /// Starts kubelet unless it runs, and waits until the node is Ready.
    pub(super) async fn start(&self) -> anyhow::Result<()> {
        // The API keeps heartbeats in whole seconds: starting in a later second than the last
        // one tells the new kubelet's first heartbeat apart from the stopped one's.
        let last = self.ready_heartbeat().await?.unwrap_or(0);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
        while now_seconds() <= last && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let since = now_seconds();
        let state_dir = self.state_dir.clone();
        let started = tokio::task::spawn_blocking(move || -> anyhow::Result<bool> {
            let mut cluster =
                LocalCluster::load(&state_dir)?.context("the local cluster is gone")?;
            Ok(cluster.start_component("kubelet")?)
        })
        .await??;
        let since = if started { since } else { 0 };
        let nodes = self.nodes.clone();
        let ready = volume::poll_until(
            &format!("node {NODE_NAME} to be Ready, reported by the started kubelet"),
            NODE_READY_TIMEOUT,
            || async {
                let node = nodes.get(NODE_NAME).await?;
                let ready = ready_condition(&node);
                let heartbeat = ready
                    .as_ref()
                    .and_then(|c| c.last_heartbeat_time.as_ref())
                    .map_or(0, |t| t.0.as_second());
                ensure!(
                    ready.as_ref().is_some_and(|c| c.status == "True") && heartbeat >= since,
                    "Ready condition {ready:?}"
                );
                Ok(())
            },
        )
        .await;
        // A kubelet that never reports is diagnosed by its own log: say whether it runs and
        // what it printed last.
        ready.map_err(|e| {
            let kubelet = LocalCluster::load(&self.state_dir)
                .ok()
                .flatten()
                .and_then(|c| c.component("kubelet").ok().cloned());
            match kubelet {
                Some(k) => e.context(format!(
                    "kubelet (started here: {started}) is {:?}; its log {} ends with:\n{}",
                    k.state(),
                    k.spec.log.display(),
                    kube_e2e_cluster::report::tail_of_file(&k.spec.log, 15)
                )),
                None => e,
            }
        })
    }

    /// The last heartbeat (seconds since the epoch) of the node's Ready condition.
    async fn ready_heartbeat(&self) -> anyhow::Result<Option<i64>> {
        let node = self.nodes.get(NODE_NAME).await?;
        Ok(ready_condition(&node)
            .and_then(|c| c.last_heartbeat_time)
            .map(|t| t.0.as_second()))
    }

    /// `<kubelet root>/pods/<uid>/volumes`.
    pub(super) fn volumes_dir(&self, pod_uid: &str) -> PathBuf {
        self.kubelet_root.join("pods").join(pod_uid).join("volumes")
    }

    /// Waits until nothing is mounted under the pod's `volumes` directory any more.
    pub(super) async fn wait_for_unmount(
        &self,
        pod_uid: &str,
        timeout: Duration,
    ) -> anyhow::Result<()> {
        let dir = self.volumes_dir(pod_uid);
        volume::poll_until(
            &format!("no mount left under {}", dir.display()),
            timeout,
            || async {
                let left = real::mounts_under(&dir);
                ensure!(left.is_empty(), "still mounted: {left:?}");
                Ok(())
            },
        )
        .await
    }

    /// The mounts of one of a pod's volumes on the node (the test runs on the node's machine).
    /// `volume_dir` is where kubelet mounts it below `volumes/<plugin>/`: the PV's name for a
    /// claim, the pod's volume name otherwise.
    pub(super) fn volume_mounts(&self, pod_uid: &str, volume_dir: &str) -> Vec<PathBuf> {
        real::mounts_under(&self.volumes_dir(pod_uid))
            .into_iter()
            .filter(|p| p.components().any(|c| c.as_os_str() == volume_dir))
            .collect()
    }
}

fn ready_condition(node: &Node) -> Option<NodeCondition> {
    node.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == "Ready")
        .cloned()
}

fn now_seconds() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}
