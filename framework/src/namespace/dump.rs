//! The failure dump: what a failed spec's namespaces looked like, written next to the reports.
//!
//! For each namespace, `<report-dir>/namespaces/<ns>/` gets `events.txt` (sorted by time),
//! `pods.txt` (phase, node, conditions and container states of every pod) and
//! `logs/<pod>_<container>.log`; `nodes.txt` (when the cluster has at most 20 nodes) goes to
//! `<report-dir>/namespaces/`. Without `--report-dir` the dump goes to the temporary directory.
//! Logs that cannot be fetched (a container that never ran, a simulated node) are noted in the
//! file instead of failing the dump. Everything is passed through [`redact`]: no bearer tokens,
//! JWTs or PEM key blocks reach the files.

use k8s_openapi::api::core::v1::{Event, Node, Pod};
use kube::api::{Api, ListParams, LogParams};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

const MAX_NODES: usize = 20;
const LOG_TAIL_LINES: i64 = 1000;

/// Removes credential material from `text`: PEM blocks, JWTs (service-account tokens), bearer
/// tokens and `token=`/`password:`-style values. The runner's reports use the same function.
pub use kube_e2e_runner::report::redact::redact;

fn write(path: &Path, text: &str) -> anyhow::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, redact(text))?;
    Ok(())
}

/// Dumps `namespaces` under `report_dir` (or the temporary directory); returns the directory.
///
/// # Errors
///
/// Only file-system errors; API errors are written into the dump.
pub async fn dump_namespaces(
    client: &kube::Client,
    namespaces: &[String],
    report_dir: Option<&Path>,
) -> anyhow::Result<Option<PathBuf>> {
    if namespaces.is_empty() {
        return Ok(None);
    }
    let root = report_dir
        .map(Path::to_path_buf)
        .unwrap_or_else(|| std::env::temp_dir().join("kube-e2e-dumps"))
        .join("namespaces");
    for ns in namespaces {
        let dir = root.join(ns);
        write(&dir.join("events.txt"), &events_text(client, ns).await)?;
        let pods = Api::<Pod>::namespaced(client.clone(), ns)
            .list(&ListParams::default())
            .await;
        match pods {
            Ok(pods) => {
                write(&dir.join("pods.txt"), &pods_text(&pods.items))?;
                for pod in &pods.items {
                    dump_logs(client, ns, pod, &dir.join("logs")).await?;
                }
            }
            Err(e) => write(
                &dir.join("pods.txt"),
                &format!("listing pods failed: {e}\n"),
            )?,
        }
    }
    write(&root.join("nodes.txt"), &nodes_text(client).await)?;
    Ok(Some(if namespaces.len() == 1 {
        root.join(&namespaces[0])
    } else {
        root
    }))
}

/// Events of namespace `ns` as text, oldest first.
pub async fn events_text(client: &kube::Client, ns: &str) -> String {
    let events = match Api::<Event>::namespaced(client.clone(), ns)
        .list(&ListParams::default())
        .await
    {
        Ok(list) => list.items,
        Err(e) => return format!("listing events failed: {e}\n"),
    };
    format_events(events)
}

fn event_time(e: &Event) -> String {
    e.first_timestamp
        .as_ref()
        .map(|t| t.0.to_string())
        .or_else(|| e.event_time.as_ref().map(|t| t.0.to_string()))
        .or_else(|| {
            e.metadata
                .creation_timestamp
                .as_ref()
                .map(|t| t.0.to_string())
        })
        .unwrap_or_default()
}

fn format_events(mut events: Vec<Event>) -> String {
    events.sort_by_cached_key(event_time);
    let mut out = String::new();
    if events.is_empty() {
        out.push_str("no events\n");
    }
    for e in &events {
        let obj = &e.involved_object;
        let _ = writeln!(
            out,
            "{} {} {} {}/{}: {} (x{})",
            event_time(e),
            e.type_.as_deref().unwrap_or("-"),
            e.reason.as_deref().unwrap_or("-"),
            obj.kind.as_deref().unwrap_or("?"),
            obj.name.as_deref().unwrap_or("?"),
            e.message.as_deref().unwrap_or("").trim(),
            e.count.unwrap_or(1),
        );
    }
    out
}

/// Pod statuses as text: phase, node, conditions and container states.
pub fn pods_text(pods: &[Pod]) -> String {
    let mut out = String::new();
    if pods.is_empty() {
        out.push_str("no pods\n");
    }
    for pod in pods {
        let name = pod.metadata.name.as_deref().unwrap_or("?");
        let status = pod.status.clone().unwrap_or_default();
        let node = pod
            .spec
            .as_ref()
            .and_then(|s| s.node_name.as_deref())
            .unwrap_or("<unscheduled>");
        let _ = writeln!(
            out,
            "pod {name}: phase {} on {node}",
            status.phase.as_deref().unwrap_or("Unknown")
        );
        for c in status.conditions.unwrap_or_default() {
            let _ = writeln!(
                out,
                "  condition {}={}{}",
                c.type_,
                c.status,
                c.message.map(|m| format!(": {m}")).unwrap_or_default()
            );
        }
        let all = status
            .init_container_statuses
            .unwrap_or_default()
            .into_iter()
            .chain(status.container_statuses.unwrap_or_default());
        for cs in all {
            let state = cs
                .state
                .map(|s| {
                    if let Some(w) = s.waiting {
                        format!("waiting ({})", w.reason.unwrap_or_default())
                    } else if let Some(t) = s.terminated {
                        format!(
                            "terminated (exit {}, {})",
                            t.exit_code,
                            t.reason.unwrap_or_default()
                        )
                    } else if s.running.is_some() {
                        "running".to_string()
                    } else {
                        "unknown".to_string()
                    }
                })
                .unwrap_or_else(|| "unknown".into());
            let _ = writeln!(
                out,
                "  container {}: {state}, ready={}, restarts={}, image {}",
                cs.name, cs.ready, cs.restart_count, cs.image
            );
        }
    }
    out
}

async fn dump_logs(client: &kube::Client, ns: &str, pod: &Pod, dir: &Path) -> anyhow::Result<()> {
    let api = Api::<Pod>::namespaced(client.clone(), ns);
    let name = pod.metadata.name.as_deref().unwrap_or("?");
    let spec = pod.spec.clone().unwrap_or_default();
    let containers = spec
        .init_containers
        .unwrap_or_default()
        .into_iter()
        .chain(spec.containers)
        .map(|c| c.name);
    for container in containers {
        let params = LogParams {
            container: Some(container.clone()),
            tail_lines: Some(LOG_TAIL_LINES),
            ..Default::default()
        };
        let text = match api.logs(name, &params).await {
            Ok(text) if text.is_empty() => "(empty log)\n".to_string(),
            Ok(text) => text,
            Err(e) => format!("(logs unavailable: {e})\n"),
        };
        write(&dir.join(format!("{name}_{container}.log")), &text)?;
    }
    Ok(())
}

async fn nodes_text(client: &kube::Client) -> String {
    let nodes = match Api::<Node>::all(client.clone())
        .list(&ListParams::default())
        .await
    {
        Ok(list) => list.items,
        Err(e) => return format!("listing nodes failed: {e}\n"),
    };
    if nodes.len() > MAX_NODES {
        return format!("{} nodes: more than {MAX_NODES}, not dumped\n", nodes.len());
    }
    let mut out = String::new();
    for node in nodes {
        let ready = node
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .and_then(|cs| cs.iter().find(|c| c.type_ == "Ready"))
            .map(|c| c.status.clone())
            .unwrap_or_else(|| "Unknown".into());
        let taints: Vec<String> = node
            .spec
            .as_ref()
            .and_then(|s| s.taints.clone())
            .unwrap_or_default()
            .into_iter()
            .map(|t| format!("{}={}:{}", t.key, t.value.unwrap_or_default(), t.effect))
            .collect();
        let _ = writeln!(
            out,
            "node {}: Ready={ready} taints=[{}]",
            node.metadata.name.unwrap_or_default(),
            taints.join(", ")
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pods_show_phase_and_containers() {
        let pod: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "p"},
            "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "busybox"}]},
            "status": {"phase": "Pending", "containerStatuses": [{
                "name": "c", "ready": false, "restartCount": 2, "image": "busybox", "imageID": "",
                "state": {"waiting": {"reason": "ImagePullBackOff"}}}]}
        }))
        .unwrap();
        let t = pods_text(&[pod]);
        assert!(t.contains("pod p: phase Pending on n1"), "{t}");
        assert!(
            t.contains("waiting (ImagePullBackOff)") && t.contains("restarts=2"),
            "{t}"
        );
    }
}
