//! Suite-level hooks, as Ginkgo has them: code that runs once around all specs of a process
//! rather than around each spec.
//!
//! Declared on the root container of a registration (`s.before_suite(...)` inside a `describe`
//! is a definition error):
//!
//! - `before_suite`: once per process, before the first spec, outside every spec's time. Values
//!   it puts into its [`SuiteContext`] (`suite.insert(...)`) are in every spec's context.
//! - `synchronized_before_suite(first, all)`: `first` runs once for the whole run — even when
//!   `cargo nextest` runs every spec in a process of its own — and returns bytes; `all` runs in
//!   every process with those bytes. Processes of one run find each other through
//!   `NEXTEST_RUN_ID` (set by nextest) or `KUBE_E2E_SYNC_ID` (set it yourself for other
//!   process-per-spec runners); without either, the process is the whole run.
//! - `after_suite`: once per process, after the last spec.
//! - `report_after_suite`: with the finished [`RunReport`], before it is written.
//!
//! A failing `before_suite` (or `first`, in every process that shares it) ends the run before
//! any spec with exit code 101 and the error; a failing `after_suite` or report hook fails the
//! run.
//!
//! ```no_run
//! use kube_e2e_runner::prelude::*;
//!
//! #[derive(Debug)]
//! struct Endpoint(String);
//!
//! fn specs(s: &mut Container) {
//!     s.before_suite(|suite| async move {
//!         suite.insert(Endpoint("http://127.0.0.1:8080".into()));
//!         Ok(())
//!     });
//!     s.it("sees the endpoint", |cx| async move {
//!         ensure!(cx.get::<Endpoint>().is_some(), "no endpoint");
//!         Ok(())
//!     });
//! }
//! kube_e2e_runner::specs!(specs);
//! kube_e2e_runner::main!();
//! ```

use crate::config::param::Params;
use crate::report::outcome::RunReport;
use crate::spec::context::Extensions;
use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio_util::sync::CancellationToken;

type Fut<T> = Pin<Box<dyn Future<Output = anyhow::Result<T>> + Send>>;
/// A `before_suite` or `after_suite` hook.
pub(crate) type SuiteBody = Arc<dyn Fn(SuiteContext) -> Fut<()> + Send + Sync>;
/// The `first` half of a synchronized `before_suite`.
pub(crate) type FirstBody = Arc<dyn Fn(SuiteContext) -> Fut<Vec<u8>> + Send + Sync>;
/// The `all` half of a synchronized `before_suite`.
pub(crate) type AllBody = Arc<dyn Fn(SuiteContext, Vec<u8>) -> Fut<()> + Send + Sync>;
/// A `report_after_suite` hook.
pub(crate) type ReportBody = Arc<dyn Fn(&RunReport) -> anyhow::Result<()> + Send + Sync>;

/// One `before_suite`-like hook, in declaration order.
#[derive(Clone)]
pub(crate) enum Setup {
    /// Every process runs it.
    Each(SuiteBody),
    /// `first` once per run, `all` in every process.
    Synchronized(FirstBody, AllBody),
}

/// The suite-level hooks of a suite, in declaration order.
#[derive(Clone, Default)]
pub struct SuiteHooks {
    pub(crate) setup: Vec<(Setup, &'static Location<'static>)>,
    pub(crate) teardown: Vec<(SuiteBody, &'static Location<'static>)>,
    pub(crate) report: Vec<(ReportBody, &'static Location<'static>)>,
}

impl SuiteHooks {
    /// Whether no hook was declared.
    pub fn is_empty(&self) -> bool {
        self.setup.is_empty() && self.teardown.is_empty() && self.report.is_empty()
    }

    pub(crate) fn extend(&mut self, other: &SuiteHooks) {
        self.setup.extend(other.setup.iter().cloned());
        self.teardown.extend(other.teardown.iter().cloned());
        self.report.extend(other.report.iter().cloned());
    }
}

impl std::fmt::Debug for SuiteHooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SuiteHooks")
            .field("setup", &self.setup.len())
            .field("teardown", &self.teardown.len())
            .field("report", &self.report.len())
            .finish()
    }
}

struct Inner {
    extensions: Mutex<Extensions>,
    lines: Mutex<Vec<String>>,
    cancel: CancellationToken,
}

/// What a suite-level hook receives: the run's typed values (parameters, report directory,
/// whatever a framework added) and a place for its own, which every spec then sees.
#[derive(Clone)]
pub struct SuiteContext {
    inner: Arc<Inner>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl SuiteContext {
    /// A context starting with `extensions`, cancelled with `cancel`.
    pub fn new(extensions: Extensions, cancel: CancellationToken) -> Self {
        SuiteContext {
            inner: Arc::new(Inner {
                extensions: Mutex::new(extensions),
                lines: Mutex::default(),
                cancel,
            }),
        }
    }

    /// The run's parameters.
    pub fn params(&self) -> Arc<Params> {
        self.get::<Params>().unwrap_or_default()
    }

    /// A typed value of the run (or one an earlier suite hook inserted).
    pub fn get<T: Send + Sync + 'static>(&self) -> Option<Arc<T>> {
        lock(&self.inner.extensions).get::<T>()
    }

    /// Inserts a typed value into every spec's context.
    pub fn insert<T: Send + Sync + 'static>(&self, value: T) {
        lock(&self.inner.extensions).insert(value);
    }

    /// Prints a progress line on stderr and keeps it for `e2e.log`.
    pub fn log(&self, line: impl Into<String>) {
        let line = line.into();
        eprintln!("{line}");
        lock(&self.inner.lines).push(line);
    }

    /// Cancelled at the first interrupt or when the suite timeout passes.
    pub fn cancellation_token(&self) -> CancellationToken {
        self.inner.cancel.clone()
    }

    /// The values every spec starts with.
    pub fn extensions(&self) -> Extensions {
        lock(&self.inner.extensions).clone()
    }

    pub(crate) fn take_lines(&self) -> Vec<String> {
        std::mem::take(&mut *lock(&self.inner.lines))
    }
}

impl std::fmt::Debug for SuiteContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SuiteContext").finish_non_exhaustive()
    }
}

/// Runs `first` once among the processes of one run and returns its bytes to every process.
pub(crate) mod sync {
    use super::{FirstBody, SuiteContext};
    use std::fs::{self, File, OpenOptions};
    use std::io::Write as _;
    use std::path::{Path, PathBuf};

    /// The id shared by the processes of one run, if the run has several.
    pub(crate) fn run_key() -> Option<String> {
        ["KUBE_E2E_SYNC_ID", "NEXTEST_RUN_ID"]
            .iter()
            .filter_map(|v| std::env::var(v).ok())
            .map(|v| v.trim().to_string())
            .find(|v| !v.is_empty())
            .map(|v| {
                v.chars()
                    .map(|c| {
                        if c.is_ascii_alphanumeric() || c == '-' {
                            c
                        } else {
                            '_'
                        }
                    })
                    .take(100)
                    .collect()
            })
    }

    fn dir(key: &str) -> PathBuf {
        std::env::temp_dir().join("kube-e2e-sync").join(key)
    }

    const FAILED: &[u8] = b"kube-e2e: synchronized before_suite failed: ";

    /// `first`'s bytes: computed here if no process of run `key` has done it yet, else read.
    /// Several such hooks of one suite are told apart by `slot`.
    pub(crate) async fn first_once(
        key: Option<&str>,
        suite: &str,
        slot: usize,
        first: &FirstBody,
        cx: &SuiteContext,
    ) -> anyhow::Result<Vec<u8>> {
        let Some(key) = key else {
            return first(cx.clone()).await;
        };
        let dir = dir(key);
        fs::create_dir_all(&dir)
            .map_err(|e| anyhow::anyhow!("failed to create {}: {e}", dir.display()))?;
        let base = dir.join(format!("{suite}-{slot}"));
        let lock_path = base.with_extension("lock");
        let data_path = base.with_extension("data");
        let lock_file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| anyhow::anyhow!("failed to open {}: {e}", lock_path.display()))?;
        let lock_file = tokio::task::spawn_blocking(move || lock_file.lock().map(|()| lock_file))
            .await?
            .map_err(|e| anyhow::anyhow!("failed to lock {}: {e}", lock_path.display()))?;
        let result = match fs::read(&data_path) {
            Ok(bytes) => decode(bytes),
            Err(_) => {
                let outcome = first(cx.clone()).await;
                let stored = match &outcome {
                    Ok(bytes) => bytes.clone(),
                    Err(e) => [FAILED, format!("{e:#}").as_bytes()].concat(),
                };
                write_atomically(&data_path, &stored)?;
                outcome
            }
        };
        drop(lock_file);
        result
    }

    fn decode(bytes: Vec<u8>) -> anyhow::Result<Vec<u8>> {
        match bytes.strip_prefix(FAILED) {
            Some(msg) => anyhow::bail!(
                "in another process of this run: {}",
                String::from_utf8_lossy(msg)
            ),
            None => Ok(bytes),
        }
    }

    fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
        let tmp = path.with_extension("tmp");
        let mut f = File::create(&tmp)
            .map_err(|e| anyhow::anyhow!("failed to create {}: {e}", tmp.display()))?;
        f.write_all(bytes)
            .and_then(|()| f.sync_all())
            .and_then(|()| fs::rename(&tmp, path))
            .map_err(|e| anyhow::anyhow!("failed to write {}: {e}", path.display()))
    }
}
