//! Test namespaces: creation with the run's labels and pod-security levels, the wait for the
//! default ServiceAccount and `kube-root-ca.crt` (by watch), deletions that do not block the
//! next spec but are awaited before the process exits, and the removal of leftovers of
//! interrupted runs — by run label, never anything else.

use k8s_openapi::api::core::v1::{ConfigMap, Namespace, ServiceAccount};
use kube::api::{Api, DeleteParams, ListParams, ObjectMeta, PostParams, PropagationPolicy};
use kube::runtime::wait::{await_condition, conditions::is_created};
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Label with the run id, on every namespace (and cluster-scoped object) a run creates.
pub const RUN_LABEL: &str = "e2e-run";
/// Label with the framework's base name, on every test namespace.
pub const FRAMEWORK_LABEL: &str = "e2e-framework";
/// Label marking objects created by kube-e2e; `cleanup` requires it besides the run label.
pub const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";
/// The value of [`MANAGED_BY_LABEL`].
pub const MANAGED_BY: &str = "kube-e2e";

/// Errors of namespace handling.
#[derive(Debug, thiserror::Error)]
pub enum NamespaceError {
    /// Creating the namespace failed for good.
    #[error("failed to create namespace `{name}`")]
    Create {
        /// The last name tried.
        name: String,
        /// The API error.
        #[source]
        source: kube::Error,
    },
    /// The default ServiceAccount or `kube-root-ca.crt` did not appear.
    #[error("namespace `{name}` not ready after {waited:?}: {what} did not appear")]
    NotReady {
        /// The namespace.
        name: String,
        /// What was missing.
        what: String,
        /// How long we waited.
        waited: Duration,
    },
    /// Watching failed.
    #[error("failed to watch for {what} in namespace `{name}`")]
    Watch {
        /// The namespace.
        name: String,
        /// What was watched.
        what: String,
        /// The error.
        #[source]
        source: kube::runtime::wait::Error,
    },
    /// Deleting failed.
    #[error("failed to delete namespace `{name}`")]
    Delete {
        /// The namespace.
        name: String,
        /// The API error.
        #[source]
        source: kube::Error,
    },
    /// Listing leftovers failed.
    #[error("failed to list leftovers with selector `{selector}`")]
    List {
        /// The label selector.
        selector: String,
        /// The API error.
        #[source]
        source: kube::Error,
    },
}

/// Pod-security admission level of a namespace.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PodSecurity {
    /// No restrictions.
    Privileged,
    /// Blocks known privilege escalations.
    Baseline,
    /// Current pod hardening best practice (upstream's default for test namespaces).
    #[default]
    Restricted,
}

impl PodSecurity {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            PodSecurity::Privileged => "privileged",
            PodSecurity::Baseline => "baseline",
            PodSecurity::Restricted => "restricted",
        }
    }
}

/// How a test namespace is made.
#[derive(Clone, Debug)]
pub struct NamespaceSpec {
    /// Name prefix; the name is `<base>-<4 random digits>`.
    pub base: String,
    /// The run id (label [`RUN_LABEL`]).
    pub run_id: String,
    /// Pod-security enforce, warn and audit levels.
    pub enforce: PodSecurity,
    /// Warn level.
    pub warn: PodSecurity,
    /// Audit level.
    pub audit: PodSecurity,
    /// Extra labels.
    pub labels: BTreeMap<String, String>,
}

/// A namespace name: `<base>-<n>` with n below 10000, as upstream (logs stay readable). The base
/// is cut so the name fits the 63-character limit.
pub fn namespace_name(base: &str) -> String {
    let base: String = base
        .to_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .take(57)
        .collect();
    let base = base.trim_matches('-');
    let base = if base.is_empty() { "e2e" } else { base };
    format!("{base}-{}", rand::random::<u32>() % 10000)
}

/// The labels a test namespace carries.
pub fn namespace_labels(spec: &NamespaceSpec) -> BTreeMap<String, String> {
    let mut labels = spec.labels.clone();
    labels.insert(RUN_LABEL.into(), spec.run_id.clone());
    labels.insert(FRAMEWORK_LABEL.into(), label_value(&spec.base));
    labels.insert(MANAGED_BY_LABEL.into(), MANAGED_BY.into());
    for (mode, level) in [
        ("enforce", spec.enforce),
        ("warn", spec.warn),
        ("audit", spec.audit),
    ] {
        labels.insert(
            format!("pod-security.kubernetes.io/{mode}"),
            level.as_str().into(),
        );
    }
    labels
}

fn label_value(text: &str) -> String {
    let v: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '-'
            }
        })
        .take(63)
        .collect();
    v.trim_matches(|c: char| !c.is_ascii_alphanumeric())
        .to_string()
}

/// Creates a namespace named by [`namespace_name`]: the name is chosen here (not by
/// `generateName`) so it is known even when a create fails ambiguously. A taken name draws a new
/// suffix; other errors are retried every 2 s for up to 30 s. `on_name(name, true)` sees every
/// name before its create call, so a caller can record it for deletion even if the call is
/// abandoned; `on_name(name, false)` retracts a name that turned out to belong to someone else.
///
/// # Errors
///
/// [`NamespaceError::Create`] after the retries.
pub async fn create_namespace(
    client: &kube::Client,
    spec: &NamespaceSpec,
    on_name: &mut (dyn FnMut(&str, bool) + Send),
) -> Result<Namespace, NamespaceError> {
    let api = Api::<Namespace>::all(client.clone());
    let started = Instant::now();
    loop {
        let name = namespace_name(&spec.base);
        on_name(&name, true);
        let ns = Namespace {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                labels: Some(namespace_labels(spec)),
                ..Default::default()
            },
            ..Default::default()
        };
        match api.create(&PostParams::default(), &ns).await {
            Ok(created) => return Ok(created),
            Err(kube::Error::Api(s)) if s.code == 409 => on_name(&name, false),
            Err(source) if started.elapsed() < Duration::from_secs(30) => {
                tracing::warn!(%name, error = %source, "creating namespace failed; retrying");
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
            Err(source) => return Err(NamespaceError::Create { name, source }),
        }
    }
}

/// Waits (watching, not polling) until namespace `name` has the `default` ServiceAccount and the
/// `kube-root-ca.crt` ConfigMap, which pods need.
///
/// # Errors
///
/// [`NamespaceError::NotReady`] after `timeout`, or a watch error.
pub async fn wait_for_namespace_ready(
    client: &kube::Client,
    name: &str,
    timeout: Duration,
) -> Result<(), NamespaceError> {
    let sa = await_condition(
        Api::<ServiceAccount>::namespaced(client.clone(), name),
        "default",
        is_created(),
    );
    let ca = await_condition(
        Api::<ConfigMap>::namespaced(client.clone(), name),
        "kube-root-ca.crt",
        is_created(),
    );
    let watch_err = |what: &str| {
        let (name, what) = (name.to_string(), what.to_string());
        move |source| NamespaceError::Watch { name, what, source }
    };
    let both = async {
        sa.await.map_err(watch_err("ServiceAccount `default`"))?;
        ca.await
            .map_err(watch_err("ConfigMap `kube-root-ca.crt`"))?;
        Ok(())
    };
    match tokio::time::timeout(timeout, both).await {
        Ok(r) => r,
        Err(_) => Err(NamespaceError::NotReady {
            name: name.to_string(),
            what: "ServiceAccount `default` or ConfigMap `kube-root-ca.crt`".into(),
            waited: timeout,
        }),
    }
}

/// Issues the deletion of namespace `name` (background propagation) without waiting for it to
/// go away; a namespace that is already gone is fine. While the API server is unreachable or
/// failing (a restart), the call is retried for 30 s.
///
/// # Errors
///
/// [`NamespaceError::Delete`] for any other API error.
pub async fn delete_namespace(client: &kube::Client, name: &str) -> Result<(), NamespaceError> {
    let api = Api::<Namespace>::all(client.clone());
    let params = DeleteParams {
        propagation_policy: Some(PropagationPolicy::Background),
        ..Default::default()
    };
    match crate::retry::retry_transient(|| api.delete(name, &params)).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(source) => Err(NamespaceError::Delete {
            name: name.to_string(),
            source,
        }),
    }
}

/// Namespace deletions issued but not yet confirmed; awaited before the process exits.
#[derive(Debug, Default)]
pub struct Deletions {
    pending: Mutex<Vec<String>>,
}

impl Deletions {
    /// Records a namespace whose deletion was issued.
    pub fn track(&self, name: &str) {
        self.pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(name.to_string());
    }

    /// Number of deletions not yet confirmed.
    pub fn len(&self) -> usize {
        self.pending.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// Whether no deletion is pending.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Waits until every tracked namespace is gone, up to `timeout`; returns those still there.
    pub async fn await_all(&self, client: &kube::Client, timeout: Duration) -> Vec<String> {
        let api = Api::<Namespace>::all(client.clone());
        let deadline = Instant::now() + timeout;
        let mut delay = Duration::from_millis(100);
        loop {
            let names: Vec<String> = self
                .pending
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone();
            let mut left = Vec::new();
            for name in names {
                match api.get_opt(&name).await {
                    Ok(None) => {}
                    // An unreachable API server cannot confirm anything: keep it as pending.
                    Ok(Some(_)) | Err(_) => left.push(name),
                }
            }
            {
                let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
                pending.retain(|n| left.contains(n));
            }
            if left.is_empty() || Instant::now() >= deadline {
                return left;
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(1));
        }
    }
}

/// Which run's leftovers [`cleanup_leftovers`] removes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RunSelector {
    /// One run, by id.
    Run(String),
    /// Every kube-e2e run.
    All,
}

impl RunSelector {
    /// The label selector: always requires [`MANAGED_BY_LABEL`], plus the run label.
    pub fn label_selector(&self) -> String {
        match self {
            RunSelector::Run(id) => format!("{MANAGED_BY_LABEL}={MANAGED_BY},{RUN_LABEL}={id}"),
            RunSelector::All => format!("{MANAGED_BY_LABEL}={MANAGED_BY},{RUN_LABEL}"),
        }
    }
}

/// Removes what interrupted runs left behind: namespaces, then cluster-scoped objects of any
/// kind, that carry both kube-e2e's managed-by label and the run label. Nothing without those
/// labels is touched. Returns `kind/name` of everything whose deletion was issued.
///
/// # Errors
///
/// A failed list or delete (other than not found).
pub async fn cleanup_leftovers(
    client: &kube::Client,
    which: &RunSelector,
) -> Result<Vec<String>, NamespaceError> {
    let selector = which.label_selector();
    let lp = ListParams::default().labels(&selector);
    let list_err = |source| NamespaceError::List {
        selector: selector.clone(),
        source,
    };
    let mut removed = Vec::new();
    let nss = Api::<Namespace>::all(client.clone())
        .list_metadata(&lp)
        .await
        .map_err(list_err)?;
    for ns in nss.items {
        let name = ns.metadata.name.unwrap_or_default();
        delete_namespace(client, &name).await?;
        removed.push(format!("Namespace/{name}"));
    }
    let discovery = kube::Discovery::new(client.clone())
        .run_aggregated()
        .await
        .map_err(list_err)?;
    for group in discovery.groups() {
        for (ar, caps) in group.recommended_resources() {
            if caps.scope != kube::discovery::Scope::Cluster
                || ar.kind == "Namespace"
                || !caps.supports_operation(kube::discovery::verbs::LIST)
                || !caps.supports_operation(kube::discovery::verbs::DELETE)
            {
                continue;
            }
            let api = Api::<kube::api::DynamicObject>::all_with(client.clone(), &ar);
            let Ok(list) = api.list_metadata(&lp).await else {
                continue;
            };
            for obj in list.items {
                let name = obj.metadata.name.unwrap_or_default();
                match api.delete(&name, &DeleteParams::background()).await {
                    Ok(_) => removed.push(format!("{}/{name}", ar.kind)),
                    Err(kube::Error::Api(s)) if s.code == 404 => {}
                    Err(source) => {
                        return Err(NamespaceError::Delete {
                            name: format!("{}/{name}", ar.kind),
                            source,
                        });
                    }
                }
            }
        }
    }
    Ok(removed)
}

/// A namespace of an earlier run that is still being deleted, and what keeps it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StuckNamespace {
    /// Its name.
    pub name: String,
    /// The run that created it (its `e2e-run` label).
    pub run_id: String,
    /// How long it has been Terminating.
    pub terminating_for: Duration,
    /// Finalizers still on it (`metadata.finalizers` and `spec.finalizers`).
    pub finalizers: Vec<String>,
    /// The namespace controller's explanations: true conditions such as
    /// `NamespaceContentRemaining`, with their messages.
    pub blocking: Vec<String>,
}

impl std::fmt::Display for StuckNamespace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "namespace {} of run {} has been Terminating for {}s",
            self.name,
            self.run_id,
            self.terminating_for.as_secs()
        )?;
        if !self.finalizers.is_empty() {
            write!(f, "; finalizers: {}", self.finalizers.join(", "))?;
        }
        for b in &self.blocking {
            write!(f, "; {b}")?;
        }
        Ok(())
    }
}

/// Namespaces of runs other than `current_run` (by run label, managed by kube-e2e only) that have
/// been Terminating for longer than `older_than`, with what keeps them. One list call.
///
/// # Errors
///
/// [`NamespaceError::List`].
pub async fn stuck_namespaces(
    client: &kube::Client,
    current_run: &str,
    older_than: Duration,
) -> Result<Vec<StuckNamespace>, NamespaceError> {
    let selector = RunSelector::All.label_selector();
    let list = Api::<Namespace>::all(client.clone())
        .list(&ListParams::default().labels(&selector))
        .await
        .map_err(|source| NamespaceError::List {
            selector: selector.clone(),
            source,
        })?;
    let now = k8s_openapi::jiff::Timestamp::now();
    Ok(list
        .items
        .into_iter()
        .filter_map(|ns| stuck(ns, current_run, older_than, now))
        .collect())
}

fn stuck(
    ns: Namespace,
    current_run: &str,
    older_than: Duration,
    now: k8s_openapi::jiff::Timestamp,
) -> Option<StuckNamespace> {
    let since = ns.metadata.deletion_timestamp.as_ref()?.0;
    let run_id = ns.metadata.labels.as_ref()?.get(RUN_LABEL)?.clone();
    if run_id == current_run {
        return None;
    }
    let terminating_for = Duration::try_from(now.duration_since(since)).unwrap_or_default();
    if terminating_for <= older_than {
        return None;
    }
    let mut finalizers = ns.metadata.finalizers.clone().unwrap_or_default();
    finalizers.extend(
        ns.spec
            .as_ref()
            .and_then(|s| s.finalizers.clone())
            .unwrap_or_default(),
    );
    let blocking = ns
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .map(|cs| {
            cs.iter()
                .filter(|c| c.status == "True")
                .map(|c| match &c.message {
                    Some(m) => format!("{}: {m}", c.type_),
                    None => c.type_.clone(),
                })
                .collect()
        })
        .unwrap_or_default();
    Some(StuckNamespace {
        name: ns.metadata.name.unwrap_or_default(),
        run_id,
        terminating_for,
        finalizers,
        blocking,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_base_plus_number() {
        let n = namespace_name("ConfigMap tests");
        let (base, num) = n.rsplit_once('-').unwrap();
        assert_eq!(base, "configmap-tests");
        assert!(num.parse::<u32>().unwrap() < 10000);
        assert!(namespace_name(&"x".repeat(100)).len() <= 63);
        assert!(namespace_name("--").starts_with("e2e-"));
    }

    #[test]
    fn labels_carry_run_and_pod_security() {
        let spec = NamespaceSpec {
            base: "pv tests".into(),
            run_id: "abc".into(),
            enforce: PodSecurity::Baseline,
            warn: PodSecurity::Restricted,
            audit: PodSecurity::Restricted,
            labels: BTreeMap::new(),
        };
        let l = namespace_labels(&spec);
        assert_eq!(l[RUN_LABEL], "abc");
        assert_eq!(l[FRAMEWORK_LABEL], "pv-tests");
        assert_eq!(l[MANAGED_BY_LABEL], "kube-e2e");
        assert_eq!(l["pod-security.kubernetes.io/enforce"], "baseline");
        assert_eq!(l["pod-security.kubernetes.io/warn"], "restricted");
    }

    #[test]
    fn cleanup_selects_only_managed_objects() {
        assert_eq!(
            RunSelector::Run("r1".into()).label_selector(),
            "app.kubernetes.io/managed-by=kube-e2e,e2e-run=r1"
        );
        assert_eq!(
            RunSelector::All.label_selector(),
            "app.kubernetes.io/managed-by=kube-e2e,e2e-run"
        );
    }

    #[test]
    fn stuck_namespaces_are_old_terminating_ones_of_other_runs_with_their_blockers() {
        use k8s_openapi::api::core::v1::{
            NamespaceCondition, NamespaceSpec as Spec, NamespaceStatus,
        };
        use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
        let now: k8s_openapi::jiff::Timestamp = "2026-12-03T10:10:00Z".parse().unwrap();
        let ns = |run: &str, deleted: Option<&str>| Namespace {
            metadata: ObjectMeta {
                name: Some(format!("ns-{run}")),
                labels: Some([(RUN_LABEL.to_string(), run.to_string())].into()),
                deletion_timestamp: deleted.map(|t| Time(t.parse().unwrap())),
                finalizers: Some(vec!["example.com/block".into()]),
                ..Default::default()
            },
            spec: Some(Spec {
                finalizers: Some(vec!["kubernetes".into()]),
            }),
            status: Some(NamespaceStatus {
                conditions: Some(vec![
                    NamespaceCondition {
                        type_: "NamespaceFinalizersRemaining".into(),
                        status: "True".into(),
                        message: Some("Some content has finalizers".into()),
                        ..Default::default()
                    },
                    NamespaceCondition {
                        type_: "NamespaceDeletionDiscoveryFailure".into(),
                        status: "False".into(),
                        ..Default::default()
                    },
                ]),
                phase: Some("Terminating".into()),
            }),
        };
        let old = Duration::from_secs(60);
        let s = stuck(ns("a", Some("2026-12-03T10:00:00Z")), "me", old, now).unwrap();
        assert_eq!(s.terminating_for, Duration::from_secs(600));
        assert_eq!(s.finalizers, ["example.com/block", "kubernetes"]);
        assert_eq!(
            s.to_string(),
            "namespace ns-a of run a has been Terminating for 600s; finalizers: example.com/block, kubernetes; NamespaceFinalizersRemaining: Some content has finalizers"
        );
        assert!(stuck(ns("me", Some("2026-12-03T10:00:00Z")), "me", old, now).is_none());
        assert!(stuck(ns("b", Some("2026-12-03T10:09:30Z")), "me", old, now).is_none());
        assert!(stuck(ns("c", None), "me", old, now).is_none());
    }
}
