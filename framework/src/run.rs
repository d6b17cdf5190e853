//! How the Kubernetes framework takes part in a run: [`FrameworkRun`], the runner's
//! [`RunExtension`] for this crate, and [`run_main`], which [`main!`](crate::main) expands to.
//!
//! - The `framework.*` parameters are checked once, before anything runs (exit 2 on a bad value).
//! - `--framework.cleanup RUN_ID|all` turns the binary into a cleanup tool: it removes leftovers
//!   of earlier runs (by run label) and runs no spec.
//! - Before the first spec (and outside every spec's time) the process connects to the cluster —
//!   starting, even building, the local cluster when that is the provider — and reports
//!   namespaces of earlier runs still Terminating past `--framework.stuck-namespace-after`,
//!   with the finalizers and content that keep them.
//! - After the specs the run ends once their namespace deletions are issued, as upstream's
//!   framework does; `--framework.wait-for-deletions` waits for them (bounded by the
//!   namespace-delete timeout) and fails the run with the names of those that hang.
//! - When the run ends, the process-wide [`Session`] is released.

use crate::error::error_chain;
use crate::namespace::{RunSelector, cleanup_leftovers, stuck_namespaces};
use crate::session::{Session, Settings};
use kube_e2e_runner::exec::run::{EXIT_CONFIG_ERROR, EXIT_FAILED, EXIT_SUCCESS, SuiteFuture};
use kube_e2e_runner::{Params, RunExtension, SuiteRun};
use std::ffi::OsString;
use std::sync::{Arc, OnceLock};
use std::time::Instant;
use tracing::Instrument as _;

/// The framework's suite-level hooks.
#[derive(Debug, Default)]
pub struct FrameworkRun {
    params: OnceLock<Params>,
    /// The look for stuck namespaces of earlier runs, running beside the specs.
    stuck_report: std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl RunExtension for FrameworkRun {
    fn configure(&self, params: &Params) -> anyhow::Result<Option<i32>> {
        Settings::from_params(params).map_err(|e| anyhow::anyhow!("{}", error_chain(&e)))?;
        let _ = self.params.set(params.clone());
        let which = params
            .string("framework.cleanup")
            .filter(|s| !s.trim().is_empty());
        Ok(which.map(|which| cleanup(params, &which)))
    }

    fn before_suite<'a>(&'a self, suite: &'a SuiteRun) -> SuiteFuture<'a> {
        Box::pin(async move {
            let params = self.params.get().cloned().unwrap_or_default();
            let started = Instant::now();
            let session = Session::global(&params)
                .await
                .map_err(|e| anyhow::anyhow!("{}", error_chain(&e)))?;
            suite.progress(&format!(
                "Connected to {} in {:.1}s (run {})",
                session.cluster(),
                started.elapsed().as_secs_f64(),
                session.run_id()
            ));
            // Off the specs' path: its lines appear when the list returns, and the suite's end
            // waits for it.
            let report = {
                let suite = suite.clone();
                async move { report_stuck_namespaces(&session, &suite).await }
                    .instrument(tracing::info_span!("report_stuck_namespaces"))
            };
            *self.stuck_report.lock().unwrap_or_else(|p| p.into_inner()) =
                Some(tokio::spawn(report));
            Ok(())
        })
    }

    fn after_suite<'a>(&'a self, suite: &'a SuiteRun) -> SuiteFuture<'a> {
        Box::pin(async move {
            let report = self
                .stuck_report
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .take();
            if let Some(report) = report {
                let _ = tokio::time::timeout(STUCK_REPORT_GRACE, report).await;
            }
            if let Some(session) = Session::global_if_connected() {
                session.release_spares().await;
            }
            await_namespace_deletions(suite).await
        })
    }

    fn end_run(&self) {
        Session::disconnect_global();
    }
}

/// How long the end of a suite waits for the stuck-namespace report still running.
const STUCK_REPORT_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

/// Runs the suite registered in this binary with the process's arguments and the framework
/// taking part, then exits. A `--in-cluster-shards N` argument runs the suite inside the
/// cluster instead (see [`crate::in_cluster`]).
pub fn run_main() -> ! {
    let args: Vec<OsString> = std::env::args_os().collect();
    #[cfg(feature = "local")]
    match crate::in_cluster::Request::from_args(&args) {
        Ok(Some(request)) => std::process::exit(request.run()),
        Ok(None) => {}
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::exit(EXIT_CONFIG_ERROR)
        }
    }
    std::process::exit(run(args))
}

/// Runs the suite registered in this binary with `args` and the framework taking part; returns
/// the exit code.
pub fn run(args: Vec<OsString>) -> i32 {
    kube_e2e_runner::run_with(args, vec![Arc::new(FrameworkRun::default())])
}

/// `--framework.cleanup RUN_ID|all`: removes leftovers of earlier runs, runs no spec.
fn cleanup(params: &Params, which: &str) -> i32 {
    let selector = match which.trim() {
        "all" => RunSelector::All,
        id => RunSelector::Run(id.to_string()),
    };
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: failed to start the tokio runtime: {e}");
            return EXIT_CONFIG_ERROR;
        }
    };
    rt.block_on(async {
        let session = match Settings::from_params(params) {
            Ok(settings) => Session::connect(settings).await,
            Err(e) => Err(e),
        };
        let session = match session {
            Ok(s) => s,
            Err(e) => {
                eprintln!("error: {}", error_chain(&e));
                return EXIT_CONFIG_ERROR;
            }
        };
        match cleanup_leftovers(session.client(), &selector).await {
            Ok(removed) => {
                for r in &removed {
                    println!("deleted {r}");
                }
                println!(
                    "cleanup: {} object(s) with `{}` deleted",
                    removed.len(),
                    selector.label_selector()
                );
                EXIT_SUCCESS
            }
            Err(e) => {
                eprintln!("error: {}", error_chain(&e));
                EXIT_FAILED
            }
        }
    })
}

/// Namespaces of earlier runs stuck in Terminating, reported (never a failure: a report).
async fn report_stuck_namespaces(session: &Session, suite: &SuiteRun) {
    let older_than = session.settings().stuck_namespace_after;
    match stuck_namespaces(session.client(), session.run_id(), older_than).await {
        Ok(stuck) => {
            for ns in &stuck {
                suite.progress(&format!("warning: {ns}"));
            }
            if !stuck.is_empty() {
                suite.progress(&format!(
                    "warning: {} namespace(s) of earlier runs are stuck; `--framework.cleanup all` re-issues their deletion",
                    stuck.len()
                ));
            }
        }
        Err(e) => suite.progress(&format!(
            "warning: could not look for stuck namespaces: {}",
            error_chain(&e)
        )),
    }
}

/// With `--framework.wait-for-deletions`, waits for the namespace deletions the specs issued
/// (unless a second interrupt asked to skip cleanup) and fails with the names of those that
/// hang; otherwise notes how many were issued.
async fn await_namespace_deletions(suite: &SuiteRun) -> anyhow::Result<()> {
    let Some(session) = Session::global_if_connected() else {
        return Ok(());
    };
    if session.deletions.is_empty() || suite.interrupts() >= 2 {
        return Ok(());
    }
    let pending = session.deletions.len();
    if !session.settings().wait_for_deletions {
        suite.line(&format!(
            "Issued the deletion of {pending} namespace(s); not waiting for it (--framework.wait-for-deletions waits)"
        ));
        return Ok(());
    }
    let started = Instant::now();
    let token = suite.cleanup_token();
    let hanging = tokio::select! {
        h = session.await_deletions() => h,
        _ = token.cancelled() => Vec::new(),
    };
    if hanging.is_empty() {
        suite.line(&format!(
            "Deleted {pending} namespace(s) in {:.1}s",
            started.elapsed().as_secs_f64()
        ));
        Ok(())
    } else {
        anyhow::bail!(
            "namespace deletion hangs after {:.0}s: {}",
            started.elapsed().as_secs_f64(),
            hanging.join(", ")
        )
    }
}
