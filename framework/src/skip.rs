//! Skips with a reason: a spec that cannot run on this cluster says why and is reported as
//! skipped (JUnit `skipped`, `[SKIPPED] name: reason` in `e2e.log`), not passed and not dropped.
//!
//! ```no_run
//! # use kube_e2e::prelude::*;
//! # async fn body(f: &kube_e2e::Framework) -> anyhow::Result<()> {
//! skip_unless_node_count_at_least(f.client(), 3).await?;
//! skip_unless_server_version_at_least(f.client(), "1.30").await?;
//! skip_unless_feature_gate(f.client(), "InPlacePodVerticalScaling").await?;
//! # Ok(()) }
//! ```
//!
//! A skip is an error value ([`Skip`]) returned from `before_each` or the body; the runner
//! recognises it and still runs the spec's teardown.

use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, ListParams};

/// The error a spec returns to skip itself; build it with [`skip`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("skipped: {reason}")]
pub struct Skip {
    reason: String,
}

impl Skip {
    /// Why the spec was skipped.
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

/// An error that skips the spec with `reason`: `return Err(skip("needs IPv6"));`.
pub fn skip(reason: impl Into<String>) -> anyhow::Error {
    Skip {
        reason: reason.into(),
    }
    .into()
}

/// Skips when `condition` holds: `skip_if(nodes < 2, "needs two nodes")?;`.
///
/// # Errors
///
/// The [`Skip`] when `condition` is true.
pub fn skip_if(condition: bool, reason: impl Into<String>) -> anyhow::Result<()> {
    if condition { Err(skip(reason)) } else { Ok(()) }
}

/// Parses `v1.34.4`, `1.34`, `1.34.0-rc.1+abc` into (major, minor, patch).
pub fn parse_version(text: &str) -> Option<(u64, u64, u64)> {
    let t = text.trim().trim_start_matches('v');
    let core = t.split(['-', '+']).next()?;
    let mut parts = core.split('.').map(|p| p.parse::<u64>().ok());
    let major = parts.next()??;
    let minor = parts.next().flatten().unwrap_or(0);
    let patch = parts.next().flatten().unwrap_or(0);
    Some((major, minor, patch))
}

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

    #[test]
    fn versions_parse() {
        assert_eq!(parse_version("v1.34.4"), Some((1, 34, 4)));
        assert_eq!(parse_version("1.30"), Some((1, 30, 0)));
        assert_eq!(parse_version("v1.35.0-rc.1+abc"), Some((1, 35, 0)));
        assert_eq!(parse_version("x"), None);
        assert!(parse_version("v1.29.9") < parse_version("1.30"));
    }

    #[test]
    fn skips_carry_reasons() {
        let e = skip_if(true, "needs 3 nodes").unwrap_err();
        assert_eq!(e.downcast_ref::<Skip>().unwrap().reason(), "needs 3 nodes");
        assert!(skip_if(false, "x").is_ok());
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
