//! [`SpecContext`]: what a spec body and its hooks receive.
//!
//! The context is cheap to clone (an `Arc`) and owned by each hook's future, so bodies are plain
//! `|cx| async move { ... }` closures with no lifetimes to fight. It carries the spec's name and
//! labels, a cancellation token that fires on timeout or interrupt, `by("step")`, the cleanup
//! stack behind [`SpecContext::defer_cleanup`], a tracing span named after the spec, and a typed
//! extension map. The map is how later layers attach themselves without this crate knowing
//! them: a top-level `before_each` (which, as in Ginkgo, applies to every spec) inserts a
//! `Framework` value, and specs read it back with [`SpecContext::get`].

pub use crate::spec::info::{Artifact, Step};
use crate::spec::tag::Labels;
use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// The future a spec body, hook or cleanup returns once boxed.
pub type BoxFuture = Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send>>;

/// A typed map of values shared with a spec, keyed by type.
///
/// Values are stored behind `Arc`, so cloning the map (which ordered containers do for each of
/// their specs) is cheap and needs no `Clone` on the values.
#[derive(Clone, Default)]
pub struct Extensions {
    map: HashMap<TypeId, Arc<dyn Any + Send + Sync>>,
}

impl Extensions {
    /// Inserts a value, replacing one of the same type.
    pub fn insert<T: Send + Sync + 'static>(&mut self, value: T) {
        self.map.insert(TypeId::of::<T>(), Arc::new(value));
    }

    /// The value of type `T`, if one was inserted.
    pub fn get<T: Send + Sync + 'static>(&self) -> Option<Arc<T>> {
        self.map
            .get(&TypeId::of::<T>())
            .cloned()
            .and_then(|v| v.downcast::<T>().ok())
    }
}

impl std::fmt::Debug for Extensions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Extensions")
            .field("len", &self.map.len())
            .finish()
    }
}

type Cleanup = (
    Box<dyn FnOnce() -> BoxFuture + Send>,
    &'static Location<'static>,
);

struct Inner {
    name: String,
    labels: Labels,
    cancel: Mutex<CancellationToken>,
    started: Instant,
    steps: Mutex<Vec<Step>>,
    log: Mutex<Vec<String>>,
    artifacts: Mutex<Vec<Artifact>>,
    cleanups: Mutex<Vec<Cleanup>>,
    extensions: Mutex<Extensions>,
    span: tracing::Span,
    echo: bool,
    failed: std::sync::atomic::AtomicBool,
    skipped: Mutex<Option<String>>,
}

/// The context handed to a spec body and to its hooks.
#[derive(Clone)]
pub struct SpecContext {
    inner: Arc<Inner>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panicking spec body must not take the runner down with a poisoned lock.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl SpecContext {
    /// Creates a context. The runner does this; it is public so that tools (and tests of
    /// helpers built on the context) can make one without running a suite.
    pub fn new(name: impl Into<String>, labels: Labels, extensions: Extensions) -> Self {
        SpecContext::with_echo(name.into(), labels, extensions, false)
    }

    /// `echo` streams steps and log lines to stderr as they happen (verbose mode).
    pub(crate) fn with_echo(
        name: String,
        labels: Labels,
        extensions: Extensions,
        echo: bool,
    ) -> Self {
        let span = tracing::info_span!("spec", name = %name);
        SpecContext {
            inner: Arc::new(Inner {
                name,
                labels,
                cancel: Mutex::new(CancellationToken::new()),
                started: Instant::now(),
                steps: Mutex::default(),
                log: Mutex::default(),
                artifacts: Mutex::default(),
                cleanups: Mutex::default(),
                extensions: Mutex::new(extensions),
                span,
                echo,
                failed: Default::default(),
                skipped: Mutex::default(),
            }),
        }
    }

    /// The spec's full name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The spec's labels.
    pub fn labels(&self) -> &Labels {
        &self.inner.labels
    }

    /// The token that is cancelled when the spec times out or the run is interrupted. Pass it
    /// to long waits so they stop promptly. Teardown hooks and cleanups get a fresh token, so a
    /// timed-out spec can still clean up.
    pub fn cancellation_token(&self) -> CancellationToken {
        lock(&self.inner.cancel).clone()
    }

    /// Whether the spec has been cancelled.
    pub fn is_cancelled(&self) -> bool {
        lock(&self.inner.cancel).is_cancelled()
    }

    /// Completes when the spec is cancelled.
    pub async fn cancelled(&self) {
        let token = self.cancellation_token();
        token.cancelled().await
    }

    pub(crate) fn cancel(&self) {
        lock(&self.inner.cancel).cancel();
    }

    pub(crate) fn renew_token(&self) {
        *lock(&self.inner.cancel) = CancellationToken::new();
    }

    /// Whether the spec has failed so far (setup, body or an earlier teardown step). Teardown
    /// code reads it, e.g. to dump the namespace only for failed specs.
    pub fn failed(&self) -> bool {
        self.inner.failed.load(std::sync::atomic::Ordering::SeqCst)
    }

    pub(crate) fn mark_failed(&self) {
        self.inner
            .failed
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// Why the spec skipped itself ([`crate::spec::skip`]), once it has.
    pub fn skip_reason(&self) -> Option<String> {
        lock(&self.inner.skipped).clone()
    }

    pub(crate) fn mark_skipped(&self, reason: String) {
        lock(&self.inner.skipped).get_or_insert(reason);
    }

    /// Marks a step. Steps appear in the progress lines of long specs, in failure reports ("last
    /// step") and in the JSON report.
    pub fn by(&self, text: impl Into<String>) {
        let text = crate::report::redact::redact(&text.into());
        tracing::info!(parent: &self.inner.span, step = %text, "STEP");
        if self.inner.echo {
            eprintln!("STEP: {text} ({})", self.inner.name);
        }
        let at = self.inner.started.elapsed();
        lock(&self.inner.steps).push(Step { text, at });
    }

    /// Records a log line for this spec; it goes to `e2e.log` and the JSON report.
    pub fn log(&self, line: impl Into<String>) {
        let line = crate::report::redact::redact(&line.into());
        tracing::info!(parent: &self.inner.span, "{line}");
        if self.inner.echo {
            eprintln!("{line}");
        }
        lock(&self.inner.log).push(line);
    }

    /// Attaches a file or directory to this spec's result, e.g. the failure dump it wrote.
    /// `report.json` lists it; `report.html` shows the text files in it (their ends, passed
    /// through [`redact`](crate::report::redact::redact)). Paths under `--report-dir` stay
    /// readable when the directory is moved or merged.
    pub fn attach(&self, name: impl Into<String>, path: impl Into<std::path::PathBuf>) {
        lock(&self.inner.artifacts).push(Artifact {
            name: name.into(),
            path: path.into(),
        });
    }

    /// The current (last) step, if any.
    pub fn current_step(&self) -> Option<String> {
        lock(&self.inner.steps).last().map(|s| s.text.clone())
    }

    /// Registers a cleanup. Cleanups run after the `after_each` hooks, last registered first,
    /// whether the spec passed, failed, panicked, timed out or was interrupted. Cleanups
    /// registered in a `before_all` run after the ordered container's `after_all` hooks.
    #[track_caller]
    pub fn defer_cleanup<F, Fut>(&self, cleanup: F)
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        let location = Location::caller();
        let boxed: Box<dyn FnOnce() -> BoxFuture + Send> = Box::new(move || Box::pin(cleanup()));
        lock(&self.inner.cleanups).push((boxed, location));
    }

    /// Runs the registered cleanups now, last registered first, and returns their errors. The
    /// runner does this itself; this is for tools and benchmarks that drive a context by hand.
    pub async fn run_cleanups(&self) -> Vec<anyhow::Error> {
        let mut errors = Vec::new();
        while let Some((cleanup, _)) = self.pop_cleanup() {
            if let Err(e) = cleanup().await {
                errors.push(e);
            }
        }
        errors
    }

    pub(crate) fn pop_cleanup(&self) -> Option<Cleanup> {
        lock(&self.inner.cleanups).pop()
    }

    /// Inserts a typed value visible to this spec's later hooks and body.
    pub fn insert<T: Send + Sync + 'static>(&self, value: T) {
        lock(&self.inner.extensions).insert(value);
    }

    /// The typed value inserted by a hook (or an ordered container's `before_all`).
    pub fn get<T: Send + Sync + 'static>(&self) -> Option<Arc<T>> {
        lock(&self.inner.extensions).get::<T>()
    }

    /// The run's parameters (empty when the context was made by hand, outside a run).
    pub fn params(&self) -> Arc<crate::config::param::Params> {
        self.get::<crate::config::param::Params>()
            .unwrap_or_default()
    }

    /// The run's `--report-dir`, if one was given.
    pub fn report_dir(&self) -> Option<std::path::PathBuf> {
        self.get::<crate::report::dir::ReportDir>()
            .and_then(|d| d.0.clone())
    }

    /// A copy of the extension map.
    pub fn extensions(&self) -> Extensions {
        lock(&self.inner.extensions).clone()
    }

    /// The tracing span named after the spec; hooks and the body run inside it.
    pub fn span(&self) -> &tracing::Span {
        &self.inner.span
    }

    /// Time since this attempt of the spec started.
    pub fn elapsed(&self) -> Duration {
        self.inner.started.elapsed()
    }

    pub(crate) fn steps(&self) -> Vec<Step> {
        lock(&self.inner.steps).clone()
    }

    pub(crate) fn log_lines(&self) -> Vec<String> {
        lock(&self.inner.log).clone()
    }

    pub(crate) fn artifacts(&self) -> Vec<Artifact> {
        lock(&self.inner.artifacts).clone()
    }

    /// When this attempt started.
    pub(crate) fn started_at(&self) -> Instant {
        self.inner.started
    }
}

/// A handle to a [`SpecContext`] that does not keep it alive; for values stored inside the
/// context's own extensions (a strong handle there would be a reference cycle).
#[derive(Clone)]
pub struct WeakSpecContext {
    inner: std::sync::Weak<Inner>,
}

impl WeakSpecContext {
    /// The context, while its spec attempt is still alive.
    pub fn upgrade(&self) -> Option<SpecContext> {
        self.inner.upgrade().map(|inner| SpecContext { inner })
    }
}

impl std::fmt::Debug for WeakSpecContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WeakSpecContext").finish_non_exhaustive()
    }
}

impl SpecContext {
    /// A handle that does not keep the context alive.
    pub fn downgrade(&self) -> WeakSpecContext {
        WeakSpecContext {
            inner: Arc::downgrade(&self.inner),
        }
    }
}

impl std::fmt::Debug for SpecContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpecContext")
            .field("name", &self.inner.name)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extensions_are_typed_and_shared() {
        let mut ext = Extensions::default();
        ext.insert(42_u32);
        ext.insert(String::from("ns-1"));
        let cx = SpecContext::new("x", Labels::default(), ext);
        assert_eq!(*cx.get::<u32>().unwrap(), 42);
        assert_eq!(cx.get::<String>().unwrap().as_str(), "ns-1");
        assert!(cx.get::<i64>().is_none());
        cx.insert(7_i64);
        assert_eq!(*cx.clone().get::<i64>().unwrap(), 7);
    }

    #[test]
    fn steps_and_cleanups_are_recorded() {
        let cx = SpecContext::new("x", Labels::default(), Extensions::default());
        cx.by("one");
        cx.by("two");
        assert_eq!(cx.current_step().as_deref(), Some("two"));
        cx.defer_cleanup(|| async { Ok(()) });
        cx.defer_cleanup(|| async { Ok(()) });
        let (_, loc) = cx.pop_cleanup().unwrap();
        assert!(loc.file().ends_with("context.rs"));
        assert!(cx.pop_cleanup().is_some());
        assert!(cx.pop_cleanup().is_none());
    }
}
