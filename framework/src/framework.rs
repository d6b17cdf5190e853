//! [`Framework`]: what a spec gets from the cluster — a client, its own namespace (plus extra
//! ones on request), timeouts, images, test files, manifests — and the teardown that follows.
//!
//! A container opts in with one line, as upstream's `NewDefaultFramework("configmap")` does, and
//! its specs read the value back with one line:
//!
//! ```no_run
//! use kube_e2e::prelude::*;
//! use k8s_openapi::api::core::v1::ConfigMap;
//!
//! fn specs(s: &mut Container) {
//!     s.describe("ConfigMap", |s| {
//!         s.framework("configmap");
//!         s.it("is stored", |cx| async move {
//!             let f = cx.framework()?;
//!             let cms = f.api::<ConfigMap>();
//!             let _ = cms.list(&Default::default()).await?;
//!             Ok(())
//!         });
//!     });
//! }
//! kube_e2e::specs!(specs);
//! kube_e2e::main!();
//! ```
//!
//! Order for one spec: outer `before_each` hooks, the framework's (connect on first use, create
//! the namespace, wait for its ServiceAccount and CA bundle), inner `before_each` hooks, the
//! body, `after_each` hooks, cleanups LIFO (manifest objects among them), and last the
//! framework's teardown: dump the namespaces when the spec failed, then issue their deletion
//! according to the [`DeletePolicy`]. Deletion does not block the next spec; the runner waits
//! for all of them before the process exits and reports those that hang.

pub use crate::error::FrameworkError;
pub(crate) use crate::error::error_chain;
use crate::images::Image;
use crate::namespace::dump;
use crate::namespace::{self, NamespaceError, NamespaceSpec, PodSecurity, spares};
pub use crate::session::DeletePolicy;
use crate::session::Session;
use crate::session::provider::ProviderError;
use crate::spec::container::Container;
use crate::spec::context::{SpecContext, WeakSpecContext};
use crate::timeouts::Timeouts;
use kube::api::Api;
use kube_e2e_runner::exec::queue::Queue;
use kube_e2e_runner::expect::eventually::PollInterval;
use std::sync::{Arc, Mutex};
use tracing::Instrument as _;

/// How a container's [`Framework`] is made; `"base"` converts into the defaults.
#[derive(Clone, Debug)]
pub struct FrameworkOptions {
    /// Base name of namespaces (`<base>-<n>`).
    pub base: String,
    /// Pod-security level (enforce, warn and audit) of the namespaces.
    pub pod_security: PodSecurity,
    /// Create no namespace (for specs that touch only cluster-scoped things).
    pub skip_namespace_creation: bool,
    /// Replaces the session's timeouts (already scaled by the caller).
    pub timeouts: Option<Timeouts>,
    /// Overrides `--framework.delete-namespace` for this container.
    pub delete_namespace: Option<DeletePolicy>,
}

impl FrameworkOptions {
    /// Defaults for `base`: `restricted` pod security, one namespace.
    pub fn new(base: impl Into<String>) -> Self {
        FrameworkOptions {
            base: base.into(),
            pod_security: PodSecurity::Restricted,
            skip_namespace_creation: false,
            timeouts: None,
            delete_namespace: None,
        }
    }

    /// Sets the pod-security level.
    pub fn pod_security(mut self, level: PodSecurity) -> Self {
        self.pod_security = level;
        self
    }

    /// Creates no namespace.
    pub fn without_namespace(mut self) -> Self {
        self.skip_namespace_creation = true;
        self
    }

    /// Uses these timeouts.
    pub fn timeouts(mut self, timeouts: Timeouts) -> Self {
        self.timeouts = Some(timeouts);
        self
    }

    /// Overrides the namespace deletion policy.
    pub fn delete_namespace(mut self, policy: DeletePolicy) -> Self {
        self.delete_namespace = Some(policy);
        self
    }
}

impl From<ProviderError> for FrameworkError {
    fn from(e: ProviderError) -> Self {
        FrameworkError::Provider(Box::new(e))
    }
}

impl From<NamespaceError> for FrameworkError {
    fn from(e: NamespaceError) -> Self {
        FrameworkError::Namespace(Box::new(e))
    }
}

impl From<&str> for FrameworkOptions {
    fn from(base: &str) -> Self {
        FrameworkOptions::new(base)
    }
}

impl From<String> for FrameworkOptions {
    fn from(base: String) -> Self {
        FrameworkOptions::new(base)
    }
}

/// The per-spec framework: client, namespaces, timeouts and helpers.
#[derive(Debug)]
pub struct Framework {
    session: Arc<Session>,
    options: FrameworkOptions,
    namespace: String,
    namespaces: Mutex<Vec<String>>,
    timeouts: Timeouts,
    cx: WeakSpecContext,
}

/// `s.framework(...)` on a [`Container`] (in the prelude).
pub trait ContainerExt {
    /// Gives every spec of this container a [`Framework`] (read it with
    /// [`SpecContextExt::framework`]): adds a `before_each` that creates it, whose teardown runs
    /// after all other cleanups.
    #[track_caller]
    fn framework(&mut self, options: impl Into<FrameworkOptions>);
}

impl ContainerExt for Container<'_> {
    #[track_caller]
    fn framework(&mut self, options: impl Into<FrameworkOptions>) {
        let options = options.into();
        self.before_each(move |cx| {
            let options = options.clone();
            async move {
                let session = Session::global(&cx.params()).await?;
                Framework::attach(&cx, session, options).await?;
                Ok(())
            }
        });
    }
}

/// `cx.framework()` on a [`SpecContext`] (in the prelude).
pub trait SpecContextExt {
    /// The spec's [`Framework`], set up by `s.framework(...)` in an enclosing container.
    ///
    /// # Errors
    ///
    /// [`FrameworkError::NotAttached`] when no container asked for one.
    fn framework(&self) -> Result<Arc<Framework>, FrameworkError>;
}

impl SpecContextExt for SpecContext {
    fn framework(&self) -> Result<Arc<Framework>, FrameworkError> {
        self.get::<Framework>().ok_or(FrameworkError::NotAttached)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Framework {
    /// Creates the framework for spec `cx` and inserts it into the context: registers the
    /// teardown cleanup first (so it runs last), then creates the namespace and waits for it.
    ///
    /// # Errors
    ///
    /// Namespace creation or readiness failures.
    pub async fn attach(
        cx: &SpecContext,
        session: Arc<Session>,
        options: FrameworkOptions,
    ) -> Result<Arc<Framework>, FrameworkError> {
        let timeouts = options
            .timeouts
            .clone()
            .unwrap_or_else(|| session.settings().timeouts.clone());
        let tracked: Arc<Mutex<Vec<String>>> = Arc::default();
        {
            let weak = cx.downgrade();
            let session = session.clone();
            let options = options.clone();
            cx.defer_cleanup(move || async move {
                let Some(cx) = weak.upgrade() else {
                    return Ok(());
                };
                // The framework value carries extra namespaces created by the spec, too.
                let names = cx
                    .get::<Framework>()
                    .map(|f| f.namespaces())
                    .unwrap_or_default();
                teardown(&cx, &session, &options, &names).await?;
                Ok(())
            });
        }
        let namespace = if options.skip_namespace_creation {
            String::new()
        } else {
            cx.by(format!("creating a namespace for `{}`", options.base));
            let spec = namespace_spec(&session, &options, &options.base);
            let ns = match take_spare(cx, &session, &spec, &tracked)
                .instrument(tracing::info_span!("take_namespace_made_ahead", base = %options.base))
                .await
            {
                Some(ns) => ns,
                None => {
                    let ns = create_tracked(cx, &session, spec.clone(), &tracked)
                        .instrument(tracing::info_span!("create_namespace", base = %options.base))
                        .await?;
                    session
                        .wait_for_namespace_ready(&ns, timeouts.service_account_provision)
                        .instrument(
                            tracing::info_span!("wait_for_namespace_ready", namespace = %ns),
                        )
                        .await?;
                    ns
                }
            };
            make_spares(cx, &session, &spec, timeouts.service_account_provision);
            ns
        };
        let names = lock(&tracked).clone();
        let f = Framework {
            session,
            options,
            namespace,
            namespaces: Mutex::new(names),
            timeouts,
            cx: cx.downgrade(),
        };
        cx.insert(PollInterval(f.timeouts.poll));
        cx.insert(f);
        Ok(cx.get::<Framework>().expect("just inserted"))
    }

    /// The client.
    pub fn client(&self) -> &kube::Client {
        self.session.client()
    }

    /// The spec's namespace (empty with [`FrameworkOptions::without_namespace`]).
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// A name unique to this spec: the namespace name (as upstream's `UniqueName`).
    pub fn unique_name(&self) -> &str {
        &self.namespace
    }

    /// The base name.
    pub fn base_name(&self) -> &str {
        &self.options.base
    }

    /// Every namespace of this spec, the primary one first.
    pub fn namespaces(&self) -> Vec<String> {
        lock(&self.namespaces).clone()
    }

    /// A typed API bound to the spec's namespace.
    pub fn api<K>(&self) -> Api<K>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>,
        <K as kube::Resource>::DynamicType: Default,
    {
        Api::namespaced(self.client().clone(), &self.namespace)
    }

    /// A typed API for a cluster-scoped kind (or a namespaced kind across all namespaces).
    pub fn api_all<K>(&self) -> Api<K>
    where
        K: kube::Resource,
        <K as kube::Resource>::DynamicType: Default,
    {
        Api::all(self.client().clone())
    }

    /// The timeouts of this spec.
    pub fn timeouts(&self) -> &Timeouts {
        &self.timeouts
    }

    /// The session (run id, settings, image mapping, test files).
    pub fn session(&self) -> &Arc<Session> {
        &self.session
    }

    /// The reference of a logical image after the image mapping.
    pub fn image(&self, image: Image) -> String {
        self.session.images().reference(image)
    }

    /// The spec's context, while the spec runs.
    pub fn spec_context(&self) -> Option<SpecContext> {
        self.cx.upgrade()
    }

    /// Creates one more namespace `<base>-<n>` with this framework's labels; it is deleted (per
    /// the policy) at teardown like the primary one.
    ///
    /// # Errors
    ///
    /// Creation or readiness failures.
    pub async fn create_namespace(&self, base: &str) -> Result<String, FrameworkError> {
        let cx = self.cx.upgrade().ok_or(FrameworkError::NotAttached)?;
        let tracked: Arc<Mutex<Vec<String>>> = Arc::default();
        // The name lands in `self.namespaces` through the framework found in the context.
        let spec = namespace_spec(&self.session, &self.options, base);
        let ns = create_tracked(&cx, &self.session, spec, &tracked).await?;
        self.session
            .wait_for_namespace_ready(&ns, self.timeouts.service_account_provision)
            .await?;
        Ok(ns)
    }
}

/// The namespace a framework with `options` makes under `base`.
fn namespace_spec(session: &Session, options: &FrameworkOptions, base: &str) -> NamespaceSpec {
    NamespaceSpec {
        base: base.to_string(),
        run_id: session.run_id().to_string(),
        enforce: options.pod_security,
        warn: options.pod_security,
        audit: options.pod_security,
        labels: Default::default(),
    }
}

/// Records `name` as one of the spec's namespaces (`claimed`), or retracts it, in `tracked` and
/// in the framework already in the context, if any.
fn recorder(
    cx: &SpecContext,
    tracked: &Arc<Mutex<Vec<String>>>,
) -> impl FnMut(&str, bool) + Send + 'static {
    let sink = tracked.clone();
    let weak = cx.downgrade();
    move |name: &str, claimed: bool| {
        let framework = weak.upgrade().and_then(|cx| cx.get::<Framework>());
        let apply = |list: &mut Vec<String>| {
            if claimed {
                list.push(name.to_string());
            } else {
                list.retain(|n| n != name);
            }
        };
        apply(&mut lock(&sink));
        if let Some(f) = framework {
            apply(&mut lock(&f.namespaces));
        }
    }
}

async fn create_tracked(
    cx: &SpecContext,
    session: &Session,
    spec: NamespaceSpec,
    tracked: &Arc<Mutex<Vec<String>>>,
) -> Result<String, FrameworkError> {
    // Every name is recorded before its create call: if the spec is interrupted mid-call, the
    // teardown still deletes it (a name never created just gets a harmless 404).
    let mut record = recorder(cx, tracked);
    let ns = namespace::create_namespace(session.client(), &spec, &mut record).await?;
    let name = ns.metadata.name.unwrap_or_default();
    cx.log(format!("namespace {name} created"));
    Ok(name)
}

/// A ready namespace of `spec`'s kind made ahead by an earlier spec, now the spec's own. One
/// that failed is deleted and `None` returned: the caller makes one the usual way.
async fn take_spare(
    cx: &SpecContext,
    session: &Session,
    spec: &NamespaceSpec,
    tracked: &Arc<Mutex<Vec<String>>>,
) -> Option<String> {
    match session.spares.take(spec).await {
        Ok(Some(name)) => {
            recorder(cx, tracked)(&name, true);
            cx.log(format!("namespace {name} created (made ahead, ready)"));
            Some(name)
        }
        Ok(None) => None,
        Err(failed) => {
            if let Some(name) = failed {
                // Owned by the spec from here, so its teardown deletes it like its own.
                recorder(cx, tracked)(&name, true);
            }
            None
        }
    }
}

/// Starts making namespaces of `spec`'s kind for the specs of the run that have not started
/// yet (none under nextest's process per spec, none after the last spec).
fn make_spares(
    cx: &SpecContext,
    session: &Arc<Session>,
    spec: &NamespaceSpec,
    ready_within: std::time::Duration,
) {
    let Some(queue) = cx.get::<Queue>() else {
        return;
    };
    let wanted = spares::wanted(
        queue.unstarted(),
        queue.workers(),
        session.spares.in_making(spec),
    );
    for _ in 0..wanted {
        let session_for_task = session.clone();
        let spec_for_task = spec.clone();
        session.spares.start(spec, move |slot| async move {
            let mut record = move |name: &str, claimed: bool| {
                let mut slot = lock(&slot);
                *slot = claimed.then(|| name.to_string());
            };
            let ns =
                namespace::create_namespace(session_for_task.client(), &spec_for_task, &mut record)
                    .await?;
            let name = ns.metadata.name.unwrap_or_default();
            session_for_task
                .wait_for_namespace_ready(&name, ready_within)
                .await?;
            Ok(name)
        });
    }
}

async fn teardown(
    cx: &SpecContext,
    session: &Session,
    options: &FrameworkOptions,
    names: &[String],
) -> Result<(), FrameworkError> {
    let mut seen = std::collections::HashSet::new();
    let names: Vec<String> = names
        .iter()
        .filter(|n| seen.insert(n.as_str()))
        .cloned()
        .collect();
    if names.is_empty() {
        return Ok(());
    }
    let failed = cx.failed();
    if failed && session.settings().dump_on_failure {
        match dump::dump_namespaces(session.client(), &names, cx.report_dir().as_deref()).await {
            Ok(Some(path)) => {
                cx.log(format!("namespace dump: {}", path.display()));
                cx.attach("namespace dump", path);
            }
            Ok(None) => {}
            Err(e) => cx.log(format!("namespace dump failed: {e:#}")),
        }
    }
    let policy = options
        .delete_namespace
        .unwrap_or(session.settings().delete_namespace);
    if !policy.deletes(failed) {
        cx.log(format!(
            "keeping namespace(s) {} (delete-namespace policy {policy:?})",
            names.join(", ")
        ));
        return Ok(());
    }
    let mut errors = Vec::new();
    for name in &names {
        let deleted = namespace::delete_namespace(session.client(), name)
            .instrument(tracing::info_span!("delete_namespace", namespace = %name));
        match deleted.await {
            Ok(()) => session.deletions.track(name),
            Err(e) => errors.push(format!("{name}: {}", error_chain(&e))),
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(FrameworkError::Teardown(errors.join("; ")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delete_policy_follows_the_flag() {
        assert!(DeletePolicy::parse("delete").unwrap().deletes(true));
        let keep = DeletePolicy::parse("keep-on-failure").unwrap();
        assert!(!keep.deletes(true) && keep.deletes(false));
        assert!(!DeletePolicy::parse("never").unwrap().deletes(false));
        let e = DeletePolicy::parse("sometimes").unwrap_err().to_string();
        assert!(e.contains("framework.delete-namespace") && e.contains("keep-on-failure"));
    }

    #[test]
    fn options_from_a_base_name() {
        let o: FrameworkOptions = "pv".into();
        assert_eq!(o.base, "pv");
        assert_eq!(o.pod_security, PodSecurity::Restricted);
        let o = o.pod_security(PodSecurity::Privileged).without_namespace();
        assert!(o.skip_namespace_creation);
    }
}
