//! Namespace readiness from one shared watch per session: a new namespace is ready when its
//! `default` ServiceAccount and its `kube-root-ca.crt` ConfigMap exist (what pods need, and
//! what upstream's framework waits for).
//!
//! Instead of a list and a watch per spec and object (four requests for every namespace), the
//! session keeps two cluster-wide watches, filtered by name, and every spec waits on the sets
//! they fill. The watches start when the session connects, so by the time a spec's namespace is
//! created they are already listening: the wait starts before the create returns. A cluster that
//! does not allow the cluster-wide watch (RBAC) is handled by falling back to the per-namespace
//! wait ([`wait_for_namespace_ready`](super::wait_for_namespace_ready)).

use super::NamespaceError;
use futures::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, ServiceAccount};
use kube::Api;
use kube::runtime::WatchStreamExt as _;
use kube::runtime::watcher::{self, Event};
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;

/// The object each namespace must have, by name.
const SERVICE_ACCOUNT: &str = "default";
const ROOT_CA: &str = "kube-root-ca.crt";

#[derive(Debug, Default)]
struct Seen {
    service_accounts: HashSet<String>,
    root_cas: HashSet<String>,
    /// Why the shared watch gave up, if it did; waiters then use per-namespace watches.
    failed: Option<String>,
}

/// The shared readiness watch of one session.
#[derive(Debug)]
pub struct Readiness {
    seen: Arc<Mutex<Seen>>,
    changed: watch::Receiver<u64>,
}

fn lock(m: &Mutex<Seen>) -> std::sync::MutexGuard<'_, Seen> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Readiness {
    /// Starts the two watches on the current tokio runtime; they end with it.
    pub fn start(client: &kube::Client) -> Self {
        let seen = Arc::new(Mutex::new(Seen::default()));
        let (tx, changed) = watch::channel(0_u64);
        let tx = Arc::new(tx);
        tokio::spawn(follow(
            Api::<ServiceAccount>::all(client.clone()),
            SERVICE_ACCOUNT,
            seen.clone(),
            tx.clone(),
            |s| &mut s.service_accounts,
        ));
        tokio::spawn(follow(
            Api::<ConfigMap>::all(client.clone()),
            ROOT_CA,
            seen.clone(),
            tx,
            |s| &mut s.root_cas,
        ));
        Readiness { seen, changed }
    }

    /// Waits until namespace `name` has both objects, up to `timeout`. `Ok(false)` means the
    /// shared watch is unavailable and the caller should wait per namespace.
    ///
    /// # Errors
    ///
    /// [`NamespaceError::NotReady`] after `timeout`, naming what is missing.
    pub async fn wait(&self, name: &str, timeout: Duration) -> Result<bool, NamespaceError> {
        let mut changed = self.changed.clone();
        let ready = async {
            loop {
                {
                    let seen = lock(&self.seen);
                    if seen.failed.is_some() {
                        return false;
                    }
                    if seen.service_accounts.contains(name) && seen.root_cas.contains(name) {
                        return true;
                    }
                }
                if changed.changed().await.is_err() {
                    // Both watch tasks ended (their runtime is shutting down).
                    return false;
                }
            }
        };
        match tokio::time::timeout(timeout, ready).await {
            Ok(shared) => Ok(shared),
            Err(_) => {
                let seen = lock(&self.seen);
                let mut missing = Vec::new();
                if !seen.service_accounts.contains(name) {
                    missing.push(format!("ServiceAccount `{SERVICE_ACCOUNT}`"));
                }
                if !seen.root_cas.contains(name) {
                    missing.push(format!("ConfigMap `{ROOT_CA}`"));
                }
                Err(NamespaceError::NotReady {
                    name: name.to_string(),
                    what: missing.join(" and "),
                    waited: timeout,
                })
            }
        }
    }
}

/// Follows objects named `object` in every namespace, recording their namespaces in the set
/// `pick` selects. A refusal (401, 403: RBAC) marks the shared watch as failed, and waiters
/// fall back to per-namespace waits, which report errors properly. Any other error (the API
/// server restarting, etcd away) is retried with backoff: the watch lists again, and what that
/// list holds replaces the set, so a deletion missed meanwhile is not remembered as ready.
async fn follow<K>(
    api: Api<K>,
    object: &'static str,
    seen: Arc<Mutex<Seen>>,
    tx: Arc<watch::Sender<u64>>,
    pick: fn(&mut Seen) -> &mut HashSet<String>,
) where
    K: kube::Resource + Clone + std::fmt::Debug + serde::de::DeserializeOwned + Send + 'static,
{
    let config = watcher::Config::default().fields(&format!("metadata.name={object}"));
    let mut events = watcher::watcher(api, config).default_backoff().boxed();
    // The namespaces of a list in progress.
    let mut listing: Option<HashSet<String>> = None;
    while let Some(event) = events.next().await {
        {
            let mut s = lock(&seen);
            match event {
                Ok(Event::Apply(o)) => {
                    if let Some(ns) = o.meta().namespace.clone() {
                        pick(&mut s).insert(ns);
                    }
                }
                Ok(Event::InitApply(o)) => {
                    if let Some(ns) = o.meta().namespace.clone() {
                        listing.get_or_insert_default().insert(ns.clone());
                        pick(&mut s).insert(ns);
                    }
                }
                Ok(Event::Delete(o)) => {
                    if let Some(ns) = &o.meta().namespace {
                        pick(&mut s).remove(ns);
                    }
                }
                Ok(Event::Init) => listing = Some(HashSet::new()),
                Ok(Event::InitDone) => *pick(&mut s) = listing.take().unwrap_or_default(),
                Err(e) if refused(&e) => {
                    tracing::debug!(error = %e, object, "shared readiness watch refused; waiting per namespace");
                    s.failed = Some(e.to_string());
                }
                Err(e) => {
                    tracing::debug!(error = %e, object, "shared readiness watch failed; retrying");
                }
            }
        }
        tx.send_modify(|n| *n += 1);
        if lock(&seen).failed.is_some() {
            return;
        }
    }
}

/// Whether the API server refused the watch (authentication or RBAC): retrying cannot help.
fn refused(e: &watcher::Error) -> bool {
    let code = match e {
        watcher::Error::InitialListFailed(kube::Error::Api(s))
        | watcher::Error::WatchStartFailed(kube::Error::Api(s))
        | watcher::Error::WatchFailed(kube::Error::Api(s)) => s.code,
        watcher::Error::WatchError(s) => s.code,
        _ => return false,
    };
    matches!(code, 401 | 403)
}
