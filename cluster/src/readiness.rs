//! Waiting until the cluster is usable, while watching that no component has exited.

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Node, ServiceAccount};
use kube::Api;
use kube::api::ListParams;

use crate::error::{Error, Result};
use crate::process::{ComponentRecord, ProcessState};

const POLL: Duration = Duration::from_millis(200);

fn check_alive(components: &[ComponentRecord]) -> Result<()> {
    match components
        .iter()
        .find(|c| c.state() == ProcessState::Exited)
    {
        Some(dead) => Err(dead.exited_error()),
        None => Ok(()),
    }
}

fn timeout(what: &str, deadline: Instant, started: Instant, last: String) -> Result<()> {
    if Instant::now() >= deadline {
        return Err(Error::Timeout {
            what: what.to_string(),
            seconds: started.elapsed().as_secs(),
            last,
        });
    }
    Ok(())
}

/// Poll `probe` until it returns `Ok(())`, failing when a component exits or `deadline`
/// passes (the error names `what` and the probe's last answer).
pub(crate) async fn poll_until<F, Fut>(
    what: &str,
    components: &[ComponentRecord],
    deadline: Instant,
    mut probe: F,
) -> Result<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = std::result::Result<(), String>>,
{
    let started = Instant::now();
    loop {
        let last = match probe().await {
            Ok(()) => return Ok(()),
            Err(last) => last,
        };
        check_alive(components)?;
        timeout(what, deadline, started, last)?;
        tokio::time::sleep(POLL).await;
    }
}

/// Wait until 127.0.0.1:`port` accepts connections.
///
/// # Errors
/// Fails if a component exits or the deadline passes.
pub async fn wait_for_port(
    port: u16,
    components: &[ComponentRecord],
    deadline: Instant,
    what: &str,
) -> Result<()> {
    poll_until(what, components, deadline, || async {
        tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .map(drop)
            .map_err(|e| e.to_string())
    })
    .await
}

/// Wait until the unix socket at `path` accepts connections.
///
/// # Errors
/// Fails if a component exits or the deadline passes.
pub async fn wait_for_socket(
    path: &std::path::Path,
    components: &[ComponentRecord],
    deadline: Instant,
    what: &str,
) -> Result<()> {
    poll_until(what, components, deadline, || async {
        tokio::net::UnixStream::connect(path)
            .await
            .map(drop)
            .map_err(|e| e.to_string())
    })
    .await
}

/// Wait until node `name` exists and is Ready.
///
/// # Errors
/// Fails if a component exits or the deadline passes.
pub async fn wait_for_node(
    client: &kube::Client,
    name: &str,
    components: &[ComponentRecord],
    deadline: Instant,
) -> Result<()> {
    let nodes: Api<Node> = Api::all(client.clone());
    let what = format!("node {name} to become Ready");
    poll_until(&what, components, deadline, || async {
        match nodes.get_opt(name).await {
            Ok(Some(node)) if is_node_ready(&node) => Ok(()),
            Ok(Some(_)) => Err("registered, not Ready".to_string()),
            Ok(None) => Err("not registered yet".to_string()),
            Err(e) => Err(e.to_string()),
        }
    })
    .await
}

/// Wait until the API server's `/readyz` answers `ok`.
///
/// # Errors
/// Fails if a component exits or the deadline passes.
pub async fn wait_for_readyz(
    client: &kube::Client,
    components: &[ComponentRecord],
    deadline: Instant,
) -> Result<()> {
    poll_until("the API server's /readyz", components, deadline, || async {
        let request = http::Request::get("/readyz")
            .body(Vec::new())
            .expect("a valid request");
        match client.request_text(request).await {
            Ok(text) if text.trim() == "ok" => Ok(()),
            Ok(text) => Err(text),
            Err(e) => Err(e.to_string()),
        }
    })
    .await
}

/// Wait until at least `count` nodes exist and all of them are Ready.
///
/// # Errors
/// Fails if a component exits or the deadline passes.
pub async fn wait_for_nodes(
    client: &kube::Client,
    count: u32,
    components: &[ComponentRecord],
    deadline: Instant,
) -> Result<()> {
    let nodes: Api<Node> = Api::all(client.clone());
    poll_until("nodes to become Ready", components, deadline, || async {
        let list = nodes
            .list(&ListParams::default())
            .await
            .map_err(|e| e.to_string())?;
        let ready = list.items.iter().filter(|n| is_node_ready(n)).count();
        if ready >= count as usize && ready == list.items.len() {
            Ok(())
        } else {
            Err(format!(
                "{ready} of {} node(s) Ready, {count} wanted",
                list.items.len()
            ))
        }
    })
    .await
}

/// Wait until the ServiceAccount controller has created `default` in namespace `default`.
///
/// # Errors
/// Fails if a component exits or the deadline passes.
pub async fn wait_for_default_service_account(
    client: &kube::Client,
    components: &[ComponentRecord],
    deadline: Instant,
) -> Result<()> {
    let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), "default");
    poll_until(
        "the default ServiceAccount",
        components,
        deadline,
        || async {
            match accounts.get_opt("default").await {
                Ok(Some(_)) => Ok(()),
                Ok(None) => Err("not created yet".to_string()),
                Err(e) => Err(e.to_string()),
            }
        },
    )
    .await
}

/// Whether the node's Ready condition is True.
pub fn is_node_ready(node: &Node) -> bool {
    node.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// Wait until a pod in `namespace` matching `selector` is Ready; the error says what each
/// matching pod is waiting for.
///
/// # Errors
/// Fails if a component exits or the deadline passes.
pub async fn wait_for_ready_pod(
    client: &kube::Client,
    namespace: &str,
    selector: &str,
    components: &[ComponentRecord],
    deadline: Instant,
) -> Result<()> {
    let pods: Api<k8s_openapi::api::core::v1::Pod> = Api::namespaced(client.clone(), namespace);
    let params = kube::api::ListParams::default().labels(selector);
    let what = format!("a pod in {namespace} with {selector} to be Ready");
    poll_until(&what, components, deadline, || async {
        let list = pods.list(&params).await.map_err(|e| e.to_string())?;
        if list.items.iter().any(is_pod_ready) {
            return Ok(());
        }
        let states: Vec<String> = list.items.iter().map(pod_state).collect();
        Err(if states.is_empty() {
            "no such pod yet".to_string()
        } else {
            states.join("; ")
        })
    })
    .await
}

/// Whether `pod` has condition `Ready=True`.
pub fn is_pod_ready(pod: &k8s_openapi::api::core::v1::Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// A pod's name, phase and what its containers wait for, for an error.
fn pod_state(pod: &k8s_openapi::api::core::v1::Pod) -> String {
    let status = pod.status.clone().unwrap_or_default();
    let waiting: Vec<String> = status
        .container_statuses
        .unwrap_or_default()
        .into_iter()
        .filter_map(|c| {
            let w = c.state?.waiting?;
            Some(format!(
                "{}: {} {}",
                c.name,
                w.reason.unwrap_or_default(),
                w.message.unwrap_or_default()
            ))
        })
        .collect();
    format!(
        "{} {} {waiting:?}",
        pod.metadata.name.clone().unwrap_or_default(),
        status.phase.unwrap_or_default()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::process::ComponentSpec;

    fn closed_port() -> u16 {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    }

    #[tokio::test]
    async fn a_wait_that_times_out_names_what_it_waited_for_and_the_last_answer() {
        let deadline = Instant::now() + Duration::from_millis(300);
        let error = wait_for_port(closed_port(), &[], deadline, "etcd")
            .await
            .unwrap_err()
            .to_string();
        assert!(
            error.starts_with("wait for etcd: not ready after"),
            "{error}"
        );
        assert!(error.to_lowercase().contains("refused"), "{error}");
    }

    #[tokio::test]
    async fn a_component_that_exits_ends_the_wait_with_its_log() {
        let dir = tempfile::tempdir().unwrap();
        let record = ComponentSpec {
            name: "quitter".into(),
            binary: "/bin/false".into(),
            args: vec![],
            env: vec![],
            log: dir.path().join("quitter.log"),
            netns: None,
            cgroups: Vec::new(),
        }
        .spawn()
        .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        let error = wait_for_port(closed_port(), &[record], deadline, "quitter")
            .await
            .unwrap_err()
            .to_string();
        assert!(error.starts_with("run quitter: it exited"), "{error}");
        assert!(error.contains("quitter.log"), "{error}");
    }
}
