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
    let started = Instant::now();
    loop {
        match tokio::net::TcpStream::connect(("127.0.0.1", port)).await {
            Ok(_) => return Ok(()),
            Err(e) => {
                check_alive(components)?;
                timeout(what, deadline, started, e.to_string())?;
            }
        }
        tokio::time::sleep(POLL).await;
    }
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
    let started = Instant::now();
    loop {
        match tokio::net::UnixStream::connect(path).await {
            Ok(_) => return Ok(()),
            Err(e) => {
                check_alive(components)?;
                timeout(what, deadline, started, e.to_string())?;
            }
        }
        tokio::time::sleep(POLL).await;
    }
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
    let started = Instant::now();
    let nodes: Api<Node> = Api::all(client.clone());
    loop {
        let last = match nodes.get_opt(name).await {
            Ok(Some(node)) if is_node_ready(&node) => return Ok(()),
            Ok(Some(_)) => "registered, not Ready".to_string(),
            Ok(None) => "not registered yet".to_string(),
            Err(e) => e.to_string(),
        };
        check_alive(components)?;
        timeout(
            &format!("node {name} to become Ready"),
            deadline,
            started,
            last,
        )?;
        tokio::time::sleep(POLL).await;
    }
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
    let started = Instant::now();
    loop {
        let request = http::Request::get("/readyz")
            .body(Vec::new())
            .expect("a valid request");
        let last = match client.request_text(request).await {
            Ok(text) if text.trim() == "ok" => return Ok(()),
            Ok(text) => text,
            Err(e) => e.to_string(),
        };
        check_alive(components)?;
        timeout("the API server's /readyz", deadline, started, last)?;
        tokio::time::sleep(POLL).await;
    }
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
    let started = Instant::now();
    let nodes: Api<Node> = Api::all(client.clone());
    loop {
        let last = match nodes.list(&ListParams::default()).await {
            Ok(list) => {
                let ready = list.items.iter().filter(|n| is_node_ready(n)).count();
                if ready >= count as usize && ready == list.items.len() {
                    return Ok(());
                }
                format!(
                    "{ready} of {} node(s) Ready, {count} wanted",
                    list.items.len()
                )
            }
            Err(e) => e.to_string(),
        };
        check_alive(components)?;
        timeout("nodes to become Ready", deadline, started, last)?;
        tokio::time::sleep(POLL).await;
    }
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
    let started = Instant::now();
    let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), "default");
    loop {
        let last = match accounts.get_opt("default").await {
            Ok(Some(_)) => return Ok(()),
            Ok(None) => "not created yet".to_string(),
            Err(e) => e.to_string(),
        };
        check_alive(components)?;
        timeout("the default ServiceAccount", deadline, started, last)?;
        tokio::time::sleep(POLL).await;
    }
}

/// Whether the node's Ready condition is True.
pub fn is_node_ready(node: &Node) -> bool {
    node.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}
