//! Skips with a reason: a spec that cannot run on this cluster says why and is reported as
//! skipped (JUnit `skipped`, `[SKIPPED] name: reason` in `e2e.log`), not passed and not dropped.
//!
//! ```no_run
//! # use kube_e2e::prelude::*;
//! # async fn body(f: &kube_e2e::Framework) -> anyhow::Result<()> {
//! skip_unless_node_count_at_least(f.client(), 3).await?;
//! skip_unless_server_version_at_least(f.client(), "1.30").await?;
//! skip_unless_feature_gate(f.client(), "InPlacePodVerticalScaling").await?;
//! skip_unless_real_nodes(f.client(), 1).await?;
//! # Ok(()) }
//! ```
//!
//! A skip is an error value ([`Skip`], from the runner) returned from `before_each` or the
//! body; the runner recognises it and still runs the spec's teardown. The checks here ask the
//! cluster.

use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, ListParams};

pub use kube_e2e_runner::spec::skip::{Skip, parse_version, skip, skip_if};

/// Skips unless the API server's version is at least `min` (e.g. `"1.30"`).
///
/// # Errors
///
/// The [`Skip`], a bad `min`, or a failed `/version` request.
pub async fn skip_unless_server_version_at_least(
    client: &kube::Client,
    min: &str,
) -> anyhow::Result<()> {
    let want = parse_version(min)
        .ok_or_else(|| anyhow::anyhow!("`{min}` is not a version such as `1.30`"))?;
    let info = client.apiserver_version().await?;
    let have_text = info.git_version;
    let have = parse_version(&have_text)
        .ok_or_else(|| anyhow::anyhow!("server reports unparsable version `{have_text}`"))?;
    skip_if(
        have < want,
        format!("needs server version {min} or newer, cluster runs {have_text}"),
    )
}

/// Skips unless the cluster has at least `min` nodes.
///
/// # Errors
///
/// The [`Skip`], or a failed node list.
pub async fn skip_unless_node_count_at_least(
    client: &kube::Client,
    min: usize,
) -> anyhow::Result<()> {
    let nodes = Api::<Node>::all(client.clone())
        .list_metadata(&ListParams::default())
        .await?;
    let have = nodes.items.len();
    skip_if(
        have < min,
        format!("needs at least {min} node(s), cluster has {have}"),
    )
}

/// The annotation kwok puts on the nodes it simulates (their pods never run a container).
pub const SIMULATED_NODE_ANNOTATION: &str = "kwok.x-k8s.io/node";

/// Skips unless the cluster has at least `min` nodes that run containers: Ready, not simulated
/// by kwok (annotation [`SIMULATED_NODE_ANNOTATION`]) and without a `NoSchedule` or
/// `NoExecute` taint. A spec whose pods must really run (logs, exec, exit codes) asks this
/// first, so that on a cluster of simulated nodes it skips at once with the reason instead of
/// waiting out its timeout for a pod that never runs.
///
/// # Errors
///
/// The [`Skip`], or a failed node list.
pub async fn skip_unless_real_nodes(client: &kube::Client, min: usize) -> anyhow::Result<()> {
    let nodes = Api::<Node>::all(client.clone())
        .list(&ListParams::default())
        .await?;
    let (real, simulated) = count_real_nodes(&nodes.items);
    skip_if(
        real < min,
        format!(
            "needs at least {min} node(s) that run containers; the cluster has {real} ({simulated} simulated by kwok, whose pods never run) — the local cluster gets one with `kube-e2e-cluster up --nodes real`"
        ),
    )
}

/// Of `nodes`: how many run containers and are schedulable (see [`skip_unless_real_nodes`]),
/// and how many are simulated.
pub fn count_real_nodes(nodes: &[Node]) -> (usize, usize) {
    let simulated = |n: &Node| {
        n.metadata
            .annotations
            .as_ref()
            .is_some_and(|a| a.contains_key(SIMULATED_NODE_ANNOTATION))
    };
    let ready = |n: &Node| {
        n.status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
    };
    let schedulable = |n: &Node| {
        let spec = n.spec.as_ref();
        !spec.and_then(|s| s.unschedulable).unwrap_or(false)
            && !spec.and_then(|s| s.taints.as_ref()).is_some_and(|t| {
                t.iter()
                    .any(|t| t.effect == "NoSchedule" || t.effect == "NoExecute")
            })
    };
    let real = nodes
        .iter()
        .filter(|n| !simulated(n) && ready(n) && schedulable(n))
        .count();
    (real, nodes.iter().filter(|n| simulated(n)).count())
}

/// Whether the API server reports feature gate `gate` as enabled, from its
/// `kubernetes_feature_enabled` metric; `None` when the metric does not name the gate.
///
/// # Errors
///
/// A failed `/metrics` request.
pub async fn feature_gate_enabled(
    client: &kube::Client,
    gate: &str,
) -> anyhow::Result<Option<bool>> {
    let req = http::Request::get("/metrics").body(Vec::new())?;
    let text = client.request_text(req).await?;
    Ok(parse_feature_gate(&text, gate))
}

fn parse_feature_gate(metrics: &str, gate: &str) -> Option<bool> {
    let needle = format!("name=\"{gate}\"");
    metrics
        .lines()
        .filter(|l| l.starts_with("kubernetes_feature_enabled{") && l.contains(&needle))
        .find_map(|l| l.rsplit(' ').next()?.trim().parse::<f64>().ok())
        .map(|v| v > 0.0)
}

/// Skips unless feature gate `gate` is enabled on the API server.
///
/// # Errors
///
/// The [`Skip`], or a failed `/metrics` request.
pub async fn skip_unless_feature_gate(client: &kube::Client, gate: &str) -> anyhow::Result<()> {
    match feature_gate_enabled(client, gate).await? {
        Some(true) => Ok(()),
        Some(false) => Err(skip(format!(
            "needs feature gate {gate}, which is disabled"
        ))),
        None => Err(skip(format!(
            "needs feature gate {gate}, which the API server does not know"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(name: &str, simulated: bool, ready: bool, taint: Option<&str>) -> Node {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": name, "annotations": if simulated {
                serde_json::json!({SIMULATED_NODE_ANNOTATION: "fake"})
            } else {
                serde_json::json!({})
            }},
            "spec": {"taints": taint.map(|effect| vec![serde_json::json!({"key": "k", "effect": effect})]).unwrap_or_default()},
            "status": {"conditions": [{"type": "Ready", "status": if ready {"True"} else {"False"}}]},
        }))
        .unwrap()
    }

    #[test]
    fn only_ready_schedulable_unsimulated_nodes_run_containers() {
        let nodes = [
            node("real", false, true, None),
            node("kwok-0", true, true, None),
            node("kwok-1", true, true, Some("NoSchedule")),
            node("not-ready", false, false, None),
            node("tainted", false, true, Some("NoSchedule")),
            node("draining", false, true, Some("NoExecute")),
            node("preferring", false, true, Some("PreferNoSchedule")),
        ];
        assert_eq!(count_real_nodes(&nodes), (2, 2));
        assert_eq!(count_real_nodes(&nodes[1..3]), (0, 2));
    }

    #[test]
    fn feature_gates_come_from_metrics() {
        let m = "# HELP x\nkubernetes_feature_enabled{name=\"A\",stage=\"BETA\"} 1\n\
                 kubernetes_feature_enabled{name=\"B\",stage=\"ALPHA\"} 0\n";
        assert_eq!(parse_feature_gate(m, "A"), Some(true));
        assert_eq!(parse_feature_gate(m, "B"), Some(false));
        assert_eq!(parse_feature_gate(m, "C"), None);
    }
}
