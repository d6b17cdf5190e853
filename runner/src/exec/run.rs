//! The runner: parse settings, build and validate the suite, select, execute, report.
//!
//! Execution and presentation are split. The executor runs specs concurrently on one tokio
//! runtime and posts results on a board; libtest-mimic presents them, one trial per selected spec
//! in run order, each trial waiting for its spec's result. So the console output, `--list`,
//! `--format`, `--exact`, `--ignored` and libtest's name filter are exactly libtest-mimic's (what
//! `cargo test` and nextest expect), while scheduling (serial last, ordered containers, fail-fast,
//! retries, timeouts, interrupts) is the framework's.

use crate::config::cli::Cli;
use crate::config::file::{self, ConfigError};
use crate::config::param::{ParamDef, Params};
use crate::exec::executor::{Board, ExecOptions, execute};
use crate::exec::interrupt::{EXIT_INTERRUPTED, Interrupts};
use crate::report::outcome::{
    HookTiming, ReportDir, RunFilter, RunReport, SpecResult, State, Transcript,
};
use crate::spec::container::HookKind;
use crate::spec::context::Extensions;
use crate::spec::registry::{Registry, SpecSet};
use crate::spec::suite::{Setup, SuiteContext, SuiteHooks, sync};
use std::future::Future;
use std::pin::Pin;

/// The future of a suite-level hook; it may borrow the extension and the [`SuiteRun`].
pub type SuiteFuture<'a> = Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send + 'a>>;
use crate::select::selection::{Selection, Unit, select};
use clap::Parser;
use libtest_mimic::{Completion, Failed, Trial};
use std::ffi::OsString;
use std::sync::Arc;
use std::time::Instant;

/// Exit code: every selected spec passed or was skipped.
pub const EXIT_SUCCESS: i32 = 0;
/// Exit code: definition or configuration error (bad flag, config file, filter, empty selection).
pub const EXIT_CONFIG_ERROR: i32 = 2;
/// Exit code: at least one spec failed (libtest's code).
pub const EXIT_FAILED: i32 = 101;

/// A suite-level extension: how a framework (the Kubernetes side, for one) takes part in a run
/// without the runner knowing it. Every method has a default that does nothing.
///
/// Order: [`configure`](RunExtension::configure) once the parameters are parsed;
/// [`extensions`](RunExtension::extensions) before the first spec; after the specs of each
/// iteration [`after_suite`](RunExtension::after_suite); when the run ends
/// [`end_run`](RunExtension::end_run).
pub trait RunExtension: Send + Sync {
    /// Called with the parsed parameters before the suite is built. `Ok(Some(code))` ends the
    /// run with that exit code instead of running specs (a tool mode such as
    /// `--framework.cleanup`); an error is a configuration error (exit 2).
    ///
    /// # Errors
    ///
    /// A parameter value the extension cannot use.
    fn configure(&self, params: &Params) -> anyhow::Result<Option<i32>> {
        let _ = params;
        Ok(None)
    }

    /// Runs once on the run's runtime before the first spec starts, outside every spec's time
    /// (Ginkgo's `BeforeSuite`), and only when specs will run (not for `--list` or
    /// `--dry-run`). Lines given to `suite` go to `e2e.log` (and with
    /// [`SuiteRun::progress`] to stderr). An error ends the run
    /// before any spec with exit code 2: nothing could run.
    fn before_suite<'a>(&'a self, suite: &'a SuiteRun) -> SuiteFuture<'a> {
        let _ = suite;
        Box::pin(async { Ok(()) })
    }

    /// Adds typed values to every spec's context.
    fn extensions(&self, extensions: &mut Extensions) {
        let _ = extensions;
    }

    /// Runs on the run's runtime after the specs of an iteration ended and before the reports
    /// are written. Lines given to `suite` go to `e2e.log`; an error fails the run (exit 101).
    fn after_suite<'a>(&'a self, suite: &'a SuiteRun) -> SuiteFuture<'a> {
        let _ = suite;
        Box::pin(async { Ok(()) })
    }

    /// Called once when the run ends, whatever its outcome (release connections here).
    fn end_run(&self) {}

    /// The extension's name in reports (the timeline's set-up and tear-down bars); the type's
    /// name unless overridden.
    fn name(&self) -> String {
        std::any::type_name::<Self>().to_string()
    }
}

/// What a suite-level hook ([`RunExtension::before_suite`], [`RunExtension::after_suite`]) can
/// see and do. Cloning it is cheap; a clone moved into a task can report while specs run.
#[derive(Clone)]
pub struct SuiteRun {
    transcript: Arc<Transcript>,
    interrupts: Arc<Interrupts>,
}

impl SuiteRun {
    /// Appends a line to `e2e.log`.
    pub fn line(&self, line: &str) {
        self.transcript.line(line);
    }

    /// Prints a progress line on stderr and appends it to `e2e.log`.
    pub fn progress(&self, line: &str) {
        eprintln!("{line}");
        self.transcript.line(line);
    }

    /// Cancelled at the first interrupt or when the suite timeout passes; set-up waits stop on
    /// it.
    pub fn stop_token(&self) -> tokio_util::sync::CancellationToken {
        self.interrupts.stop_token().clone()
    }

    /// Cancelled when the user asks to abandon cleanup (a second interrupt); long waits stop on
    /// it.
    pub fn cleanup_token(&self) -> tokio_util::sync::CancellationToken {
        self.interrupts.cleanup_token().clone()
    }

    /// How many interrupts the run received so far.
    pub fn interrupts(&self) -> u32 {
        self.interrupts.count()
    }
}

/// Runs the suite registered in this binary with the process's arguments, then exits.
/// This is what [`main!`](crate::main) expands to.
pub fn run_main() -> ! {
    std::process::exit(run(std::env::args_os().collect()))
}

/// Runs the suite registered in this binary with `args` (`args[0]` is the program name);
/// returns the exit code.
pub fn run(args: Vec<OsString>) -> i32 {
    run_with(args, Vec::new())
}

/// [`run`] with suite-level extensions.
pub fn run_with(args: Vec<OsString>, extensions: Vec<Arc<dyn RunExtension>>) -> i32 {
    super::trace::install_subscriber();
    let mut defs: Vec<&'static ParamDef> = inventory::iter::<ParamDef>.into_iter().collect();
    defs.sort_by_key(|d| d.name);
    let (cli, params) = match file::parse(args, &defs) {
        Ok(v) => v,
        Err(e) => return config_error(e),
    };
    if cli.libtest.test_threads == Some(0) {
        eprintln!("error: --test-threads must be at least 1, found `0`");
        return EXIT_CONFIG_ERROR;
    }
    for ext in &extensions {
        match ext.configure(&params) {
            Ok(None) => {}
            Ok(Some(code)) => return code,
            Err(e) => {
                eprintln!("error: {e:#}");
                return EXIT_CONFIG_ERROR;
            }
        }
    }
    let registry = Registry::from_inventory(&params);
    Runner::new(cli)
        .with_params(params)
        .with_extensions(extensions)
        .run(registry)
}

fn config_error(e: ConfigError) -> i32 {
    match e {
        ConfigError::Cli(e) => {
            match file::cut_clap_error(&e) {
                Some(text) => eprint!("{text}"),
                None => {
                    let _ = e.print();
                }
            }
            if e.use_stderr() {
                EXIT_CONFIG_ERROR
            } else {
                EXIT_SUCCESS
            }
        }
        e => {
            let mut msg = format!("error: {e}");
            let mut src = std::error::Error::source(&e);
            while let Some(s) = src {
                msg.push_str(&format!(": {s}"));
                src = s.source();
            }
            eprintln!("{msg}");
            EXIT_CONFIG_ERROR
        }
    }
}

/// Runs a [`Registry`] with parsed flags; for suites that build their registry by hand (tools,
/// benchmarks, tests of the runner itself).
pub struct Runner {
    cli: Cli,
    params: Params,
    extensions: Vec<Arc<dyn RunExtension>>,
}

fn suite_name() -> String {
    let exe = std::env::args().next().unwrap_or_default();
    let stem = std::path::Path::new(&exe)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    match stem.rsplit_once('-') {
        Some((base, hash)) if hash.len() == 16 && hash.chars().all(|c| c.is_ascii_hexdigit()) => {
            base.to_string()
        }
        _ => stem,
    }
}

impl Runner {
    /// A runner for already parsed flags.
    pub fn new(cli: Cli) -> Self {
        Runner {
            cli,
            params: Params::default(),
            extensions: Vec::new(),
        }
    }

    /// The parameters every spec sees through its context.
    pub fn with_params(mut self, params: Params) -> Self {
        self.params = params;
        self
    }

    /// Suite-level extensions taking part in the run.
    pub fn with_extensions(mut self, extensions: Vec<Arc<dyn RunExtension>>) -> Self {
        self.extensions = extensions;
        self
    }

    /// A runner from command-line arguments (no parameters, no config file).
    ///
    /// # Errors
    ///
    /// Bad flags.
    pub fn from_args<I: IntoIterator<Item = T>, T: Into<OsString> + Clone>(
        args: I,
    ) -> Result<Self, clap::Error> {
        Ok(Runner::new(Cli::try_parse_from(args)?))
    }

    /// Builds, selects, runs and reports; returns the exit code. With `--sonobuoy` the reports
    /// go to the plugin's results directory, which is packed and announced in its `done` file
    /// whatever the outcome.
    pub fn run(mut self, registry: Registry) -> i32 {
        if !self.cli.run.sonobuoy {
            return self.run_suite(registry);
        }
        let dir =
            crate::report::sonobuoy::results_dir(self.cli.run.sonobuoy_results_dir.as_deref());
        self.cli.run.report_dir = Some(dir.clone());
        let code = self.run_suite(registry);
        match crate::report::sonobuoy::finish(&dir) {
            Ok(tarball) => {
                eprintln!("sonobuoy: results in {}", tarball.display());
                code
            }
            Err(e) => {
                eprintln!("error: failed to hand the results to Sonobuoy: {e}");
                // A configuration error found first (a bad results directory) keeps its code.
                if code == EXIT_SUCCESS {
                    EXIT_FAILED
                } else {
                    code
                }
            }
        }
    }

    fn run_suite(self, registry: Registry) -> i32 {
        // An unwritable report directory is found now, not after the whole run.
        if let Some(dir) = &self.cli.run.report_dir
            && !self.cli.libtest.list
            && let Err(e) = crate::report::dir::probe(dir)
        {
            eprintln!(
                "error: --report-dir {}: {e}",
                crate::config::param::quote(&dir.display().to_string())
            );
            return EXIT_CONFIG_ERROR;
        }
        let set = match registry.build() {
            Ok(s) => s,
            Err(e) => {
                eprintln!("error: {e}");
                return EXIT_CONFIG_ERROR;
            }
        };
        if self.cli.run.list_conformance {
            print!(
                "{}",
                crate::conformance::to_yaml(&crate::conformance::entries(&set))
            );
            return EXIT_SUCCESS;
        }
        let sel = match select(&set, &self.cli.run) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("error: {e}");
                return EXIT_CONFIG_ERROR;
            }
        };
        self.execute(set, sel)
    }

    /// Ends a run that stopped before its specs: extensions are told, the runtime stops, and the
    /// exit code is `code` unless a signal stopped it.
    fn end_early(&self, rt: tokio::runtime::Runtime, interrupts: &Interrupts, code: i32) -> i32 {
        for ext in &self.extensions {
            ext.end_run();
        }
        rt.shutdown_timeout(std::time::Duration::from_millis(100));
        if interrupts.signalled() {
            EXIT_INTERRUPTED
        } else {
            code
        }
    }

    fn base_extensions(&self) -> Extensions {
        let mut ext = Extensions::default();
        ext.insert(self.params.clone());
        ext.insert(ReportDir(self.cli.run.report_dir.clone()));
        for e in &self.extensions {
            e.extensions(&mut ext);
        }
        ext
    }

    fn trial(set: &SpecSet, sel: &Selection, i: usize) -> Trial {
        Trial::test(set.specs[i].info.name.clone(), || Ok(()))
            .with_ignored_flag(sel.default_excluded[i])
    }

    /// The selection flags of the run, for the report's rerun hint.
    fn filter(&self) -> RunFilter {
        let (args, flags) = (&self.cli.libtest, &self.cli.run);
        RunFilter {
            label_filter: flags.label_filter.clone(),
            focus: flags.focus.clone(),
            skip_regex: flags.skip_regex.clone(),
            shard: flags.shard.map(|s| format!("{}/{}", s.index, s.total)),
            mode: flags.mode.map(|m| m.to_string()),
            name: args.filter.clone(),
            exact: args.exact,
        }
    }

    fn execute(self, set: SpecSet, sel: Selection) -> i32 {
        let origin = Instant::now();
        let started_at = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        let args = &self.cli.libtest;
        let flags = &self.cli.run;
        if args.list {
            let _ = libtest_mimic::run(
                args,
                sel.order().map(|i| Self::trial(&set, &sel, i)).collect(),
            );
            return EXIT_SUCCESS;
        }
        let will_run: Vec<usize> = sel
            .order()
            .filter(|&i| {
                let t = Self::trial(&set, &sel, i);
                !args.is_filtered_out(&t) && !args.is_ignored(&t)
            })
            .collect();
        let mut runs = vec![false; set.specs.len()];
        will_run.iter().for_each(|&i| runs[i] = true);
        let units: Vec<Unit> = sel
            .units
            .iter()
            .map(|u| Unit {
                specs: u.specs.iter().copied().filter(|&i| runs[i]).collect(),
                serial: u.serial,
            })
            .filter(|u| !u.specs.is_empty())
            .collect();
        if flags.dry_run {
            for u in &set.unregistered {
                eprintln!("not registered: {}: {}", u.name, u.reason);
            }
        }
        if let Some(seed) = sel.seed {
            eprintln!("Random seed: {seed} (pass --seed {seed} to repeat this order)");
        }
        let rt = match tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
        {
            Ok(rt) => rt,
            Err(e) => {
                eprintln!("error: failed to start the tokio runtime: {e}");
                return EXIT_CONFIG_ERROR;
            }
        };
        let interrupts = Arc::new(Interrupts::new());
        {
            let _guard = rt.enter();
            interrupts.listen();
            let i = interrupts.clone();
            let limit = flags.suite_timeout;
            rt.spawn(async move {
                tokio::time::sleep(limit).await;
                i.trigger(&format!("suite timeout ({limit:?}) reached"));
            });
        }
        let mut opts = ExecOptions {
            concurrency: args
                .test_threads
                .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, Into::into)),
            spec_timeout: flags.spec_timeout,
            grace: flags.grace_period,
            flake_attempts: flags.flake_attempts,
            fail_fast: flags.fail_fast,
            progress_after: flags.progress_after,
            verbose: flags.verbose,
            extensions: self.base_extensions(),
            origin,
        };
        let suite_hooks = set.suite;
        let specs = Arc::new(set.specs);
        let iterations = if flags.until_it_fails {
            u64::MAX
        } else {
            u64::from(flags.repeat) + 1
        };
        let setup = Arc::new(Transcript::default());
        let suite_cx = SuiteContext::new(opts.extensions.clone(), interrupts.stop_token().clone());
        let runs_specs = !flags.dry_run && !will_run.is_empty();
        // Suite-level set-up timings, reported with the first iteration.
        let mut set_up: Vec<HookTiming> = Vec::new();
        if runs_specs {
            let suite_run = SuiteRun {
                transcript: setup.clone(),
                interrupts: interrupts.clone(),
            };
            for ext in &self.extensions {
                let started = Instant::now();
                let result = rt.block_on(until_stopped(ext.before_suite(&suite_run), &interrupts));
                set_up.push(timing(
                    HookKind::BeforeSuite,
                    ext.name(),
                    origin,
                    started,
                    None,
                ));
                if let Err(e) = result {
                    eprintln!(
                        "error: before the suite (after {:.1}s), no spec ran: {e:#}",
                        started.elapsed().as_secs_f64()
                    );
                    return self.end_early(rt, &interrupts, EXIT_CONFIG_ERROR);
                }
            }
            let result = rt.block_on(run_setup(
                &suite_hooks,
                &suite_cx,
                &interrupts,
                origin,
                &mut set_up,
            ));
            for line in suite_cx.take_lines() {
                setup.line(&line);
            }
            if let Err(e) = result {
                eprintln!("error: {e:#}; no spec ran");
                let _ = rt.block_on(run_teardown(&suite_hooks, &suite_cx, origin, &mut set_up));
                return self.end_early(rt, &interrupts, EXIT_FAILED);
            }
            opts.extensions = suite_cx.extensions();
        }
        let mut code = EXIT_SUCCESS;
        for iteration in 1..=iterations {
            if iterations > 1 {
                eprintln!("iteration {iteration}");
            }
            let started = Instant::now();
            let board = Arc::new(Board::default());
            let transcript = Arc::new(Transcript::default());
            transcript.line(&format!(
                "Running Suite: {} ({} of {} specs)",
                suite_name(),
                will_run.len(),
                specs.len()
            ));
            if let Some(seed) = sel.seed {
                transcript.line(&format!("Random seed: {seed}"));
            }
            if iteration == 1 {
                for line in setup.text().lines() {
                    transcript.line(line);
                }
            }
            let exec = if flags.dry_run {
                for &i in &will_run {
                    transcript.line(&format!("[DRY-RUN] {}", specs[i].info.name));
                    let r = SpecResult::skipped(&specs[i].info, "dry run".into());
                    board.put(i, r);
                }
                None
            } else {
                Some(rt.spawn(execute(
                    specs.clone(),
                    units.clone(),
                    opts.clone(),
                    interrupts.clone(),
                    board.clone(),
                    transcript.clone(),
                )))
            };
            let trials = sel
                .order()
                .map(|i| {
                    let b = board.clone();
                    Trial::ignorable_test(specs[i].info.name.clone(), move || present(b.wait(i)))
                        .with_ignored_flag(sel.default_excluded[i])
                })
                .collect();
            let mut pargs = args.clone();
            pargs.test_threads = Some(1);
            let _ = libtest_mimic::run(&pargs, trials);
            if let Some(handle) = exec {
                let _ = rt.block_on(handle);
            }
            let mut results = board.take();
            let mut hooks = std::mem::take(&mut set_up);
            hooks.extend(board.take_hooks());
            let mut report = RunReport {
                suite: suite_name(),
                seed: sel.seed,
                interrupted: interrupts.reason(),
                duration: started.elapsed(),
                specs: will_run.iter().filter_map(|i| results.remove(i)).collect(),
                started_at,
                specs_start: started.saturating_duration_since(origin),
                workers: opts.concurrency.max(1),
                process: std::process::id(),
                filter: self.filter(),
                hooks,
                report_dir: flags.report_dir.clone(),
            };
            let failed = report
                .specs
                .iter()
                .filter(|r| r.state == State::Failed)
                .count();
            let last = iteration == iterations || failed > 0 || interrupts.count() > 0;
            let mut suite_failed = false;
            if runs_specs && last {
                let errors = rt.block_on(run_teardown(
                    &suite_hooks,
                    &suite_cx,
                    origin,
                    &mut report.hooks,
                ));
                for line in suite_cx.take_lines() {
                    transcript.line(&line);
                }
                for e in errors {
                    let line = format!("error: {e:#}");
                    eprintln!("{line}");
                    transcript.line(&line);
                    suite_failed = true;
                }
            }
            let suite_run = SuiteRun {
                transcript: transcript.clone(),
                interrupts: interrupts.clone(),
            };
            for ext in &self.extensions {
                let ext_started = Instant::now();
                let result = rt.block_on(ext.after_suite(&suite_run));
                let error = result.as_ref().err().map(|e| format!("{e:#}"));
                report.hooks.push(timing(
                    HookKind::AfterSuite,
                    ext.name(),
                    origin,
                    ext_started,
                    error,
                ));
                if let Err(e) = result {
                    let line = format!("error: after the suite: {e:#}");
                    eprintln!("{line}");
                    transcript.line(&line);
                    suite_failed = true;
                }
            }
            report.duration = started.elapsed();
            let mut report_hooks = Vec::new();
            for (hook, location) in &suite_hooks.report {
                let hook_started = Instant::now();
                let result = hook(&report);
                let error = result.as_ref().err().map(|e| format!("{e:#}"));
                report_hooks.push(timing(
                    HookKind::ReportAfterSuite,
                    location.to_string(),
                    origin,
                    hook_started,
                    error,
                ));
                if let Err(e) = result {
                    let line = format!("error: report_after_suite ({location}) failed: {e:#}");
                    eprintln!("{line}");
                    transcript.line(&line);
                    suite_failed = true;
                }
            }
            report.hooks.extend(report_hooks);
            let flaky: Vec<&str> = report
                .specs
                .iter()
                .filter(|r| r.flaky)
                .map(|r| r.name.as_str())
                .collect();
            for name in &flaky {
                eprintln!("flaky: `{name}` failed at first and passed on a retry");
            }
            transcript.line(&format!(
                "Ran {} specs in {:.3}s: {} passed ({} flaky), {failed} failed, {} skipped",
                report.specs.iter().filter(|r| r.attempts > 0).count(),
                report.duration.as_secs_f64(),
                report
                    .specs
                    .iter()
                    .filter(|r| r.state == State::Passed)
                    .count(),
                flaky.len(),
                report
                    .specs
                    .iter()
                    .filter(|r| r.state == State::Skipped)
                    .count(),
            ));
            let report_error = |e: &dyn std::error::Error| {
                eprintln!(
                    "error: {e}: {}",
                    e.source().map(ToString::to_string).unwrap_or_default()
                );
            };
            if let Some(dir) = &flags.report_dir
                && let Err(e) = report.write(dir, &transcript.text())
            {
                report_error(&e);
                code = EXIT_FAILED;
            }
            // One process of a process-per-spec run (nextest): report.html shows them all.
            if let Some(dir) = &flags.report_dir
                && let Some(key) = sync::run_key()
                && let Err(e) = crate::report::processes::write(dir, &key, &report)
            {
                report_error(&e);
                code = EXIT_FAILED;
            }
            if interrupts.signalled() {
                code = EXIT_INTERRUPTED;
            } else if failed > 0 || interrupts.count() > 0 || suite_failed {
                code = EXIT_FAILED;
            }
            if code != EXIT_SUCCESS {
                break;
            }
        }
        for ext in &self.extensions {
            ext.end_run();
        }
        rt.shutdown_timeout(std::time::Duration::from_millis(100));
        code
    }
}

fn present(r: SpecResult) -> Result<Completion, Failed> {
    match r.state {
        State::Passed => Ok(Completion::Completed),
        State::Skipped => Ok(Completion::ignored_with(r.skip_reason.unwrap_or_default())),
        State::Failed => {
            let detail = r
                .failure
                .map(|f| f.detail())
                .unwrap_or_else(|| "failed".into());
            let steps: Vec<String> = r
                .steps
                .iter()
                .map(|s| format!("  STEP {:.3}s: {}", s.at.as_secs_f64(), s.text))
                .collect();
            let mut msg = format!("{detail}\n  at {}", r.location);
            if !steps.is_empty() {
                msg.push_str(&format!("\nsteps:\n{}", steps.join("\n")));
            }
            Err(msg.into())
        }
    }
}

/// `work`, or an error naming the interrupt (or suite timeout) that stopped it first.
async fn until_stopped<T>(
    work: impl std::future::Future<Output = anyhow::Result<T>>,
    interrupts: &Interrupts,
) -> anyhow::Result<T> {
    tokio::select! {
        r = work => r,
        _ = interrupts.stop_token().cancelled() => Err(anyhow::anyhow!(
            "{}",
            interrupts.reason().unwrap_or_else(|| "interrupted".into())
        )),
    }
}

/// The timing of a suite-level hook that started at `started` and just ended.
fn timing(
    kind: HookKind,
    name: String,
    origin: Instant,
    started: Instant,
    error: Option<String>,
) -> HookTiming {
    HookTiming {
        kind,
        name,
        start: started.saturating_duration_since(origin),
        duration: started.elapsed(),
        lane: None,
        error,
    }
}

/// Runs the suite's `before_suite` hooks in declaration order, each stopped by an interrupt;
/// records their timings into `timings`.
async fn run_setup(
    hooks: &SuiteHooks,
    cx: &SuiteContext,
    interrupts: &Interrupts,
    origin: Instant,
    timings: &mut Vec<HookTiming>,
) -> anyhow::Result<()> {
    let key = sync::run_key();
    for (slot, (setup, location)) in hooks.setup.iter().enumerate() {
        let started = Instant::now();
        let run = async {
            match setup {
                Setup::Each(body) => body(cx.clone()).await,
                Setup::Synchronized(first, all) => {
                    let data =
                        sync::first_once(key.as_deref(), &suite_name(), slot, first, cx).await?;
                    all(cx.clone(), data).await
                }
            }
        };
        let result = until_stopped(run, interrupts).await;
        let error = result.as_ref().err().map(|e| format!("{e:#}"));
        timings.push(timing(
            HookKind::BeforeSuite,
            location.to_string(),
            origin,
            started,
            error,
        ));
        result.map_err(|e| {
            e.context(format!(
                "before_suite ({location}) failed after {:.1}s",
                started.elapsed().as_secs_f64()
            ))
        })?;
        cx.log(format!(
            "before_suite ({location}) took {:.3}s",
            started.elapsed().as_secs_f64()
        ));
    }
    Ok(())
}

/// Runs every `after_suite` hook (all of them, even after a failure); returns their errors and
/// records their timings into `timings`.
async fn run_teardown(
    hooks: &SuiteHooks,
    cx: &SuiteContext,
    origin: Instant,
    timings: &mut Vec<HookTiming>,
) -> Vec<anyhow::Error> {
    let mut errors = Vec::new();
    for (body, location) in &hooks.teardown {
        let started = Instant::now();
        let result = body(cx.clone()).await;
        let error = result.as_ref().err().map(|e| format!("{e:#}"));
        timings.push(timing(
            HookKind::AfterSuite,
            location.to_string(),
            origin,
            started,
            error,
        ));
        if let Err(e) = result {
            errors.push(e.context(format!("after_suite ({location}) failed")));
        }
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[derive(Default)]
    struct Recorder {
        events: Mutex<Vec<String>>,
        fail_before: bool,
        fail_after: bool,
    }

    impl Recorder {
        fn events(&self) -> Vec<String> {
            self.events.lock().unwrap().clone()
        }
        fn push(&self, e: &str) {
            self.events.lock().unwrap().push(e.to_string());
        }
    }

    struct Shared(Arc<Recorder>);

    impl RunExtension for Shared {
        fn before_suite<'a>(&'a self, suite: &'a SuiteRun) -> SuiteFuture<'a> {
            Box::pin(async move {
                self.0.push("before_suite");
                suite.line("set up");
                anyhow::ensure!(!self.0.fail_before, "no cluster");
                Ok(())
            })
        }
        fn extensions(&self, ext: &mut Extensions) {
            ext.insert(self.0.clone());
        }
        fn after_suite<'a>(&'a self, _: &'a SuiteRun) -> SuiteFuture<'a> {
            Box::pin(async move {
                self.0.push("after_suite");
                anyhow::ensure!(!self.0.fail_after, "a namespace hangs");
                Ok(())
            })
        }
        fn end_run(&self) {
            self.0.push("end_run");
        }
    }

    fn run_with_recorder(rec: Recorder, extra: &[&str]) -> (i32, Vec<String>) {
        let rec = Arc::new(rec);
        let mut registry = Registry::new();
        registry.add(|s| {
            s.it("records", |cx| async move {
                let rec = cx.get::<Arc<Recorder>>().expect("extension value");
                rec.push("spec");
                Ok(())
            });
        });
        let mut args = vec!["suite", "--quiet"];
        args.extend_from_slice(extra);
        let code = Runner::from_args(args)
            .unwrap()
            .with_extensions(vec![Arc::new(Shared(rec.clone()))])
            .run(registry);
        let events = rec.events();
        (code, events)
    }

    #[test]
    fn hooks_wrap_the_specs_and_their_values_reach_the_context() {
        let (code, events) = run_with_recorder(Recorder::default(), &[]);
        assert_eq!(code, EXIT_SUCCESS);
        assert_eq!(events, ["before_suite", "spec", "after_suite", "end_run"]);
    }

    #[test]
    fn a_failed_before_suite_runs_no_spec_and_exits_2() {
        let rec = Recorder {
            fail_before: true,
            ..Default::default()
        };
        let (code, events) = run_with_recorder(rec, &[]);
        assert_eq!(code, EXIT_CONFIG_ERROR);
        assert_eq!(events, ["before_suite", "end_run"]);
    }

    #[test]
    fn a_failed_after_suite_fails_the_run() {
        let rec = Recorder {
            fail_after: true,
            ..Default::default()
        };
        let (code, events) = run_with_recorder(rec, &[]);
        assert_eq!(code, EXIT_FAILED);
        assert_eq!(events, ["before_suite", "spec", "after_suite", "end_run"]);
    }

    #[test]
    fn listing_and_dry_runs_need_no_set_up() {
        for flag in ["--list", "--dry-run"] {
            let (code, events) = run_with_recorder(Recorder::default(), &[flag]);
            assert_eq!(code, EXIT_SUCCESS, "{flag}");
            assert!(
                !events.contains(&"before_suite".to_string()),
                "{flag}: {events:?}"
            );
        }
    }

    #[test]
    fn suite_hooks_run_once_around_the_specs_and_hand_values_to_them() {
        let events: Arc<Mutex<Vec<String>>> = Arc::default();
        let ev = |e: &Arc<Mutex<Vec<String>>>, s: &str| e.lock().unwrap().push(s.to_string());
        let mut registry = Registry::new();
        let (e1, e2, e3, e4, e5, e6) = (
            events.clone(),
            events.clone(),
            events.clone(),
            events.clone(),
            events.clone(),
            events.clone(),
        );
        registry.add(move |s| {
            s.before_suite(move |suite| {
                let e = e1.clone();
                async move {
                    ev(&e, "before_suite");
                    suite.insert(41_u32);
                    Ok(())
                }
            });
            s.synchronized_before_suite(
                move |_| {
                    let e = e2.clone();
                    async move {
                        ev(&e, "first");
                        Ok(b"shared".to_vec())
                    }
                },
                move |suite, data| {
                    let e = e3.clone();
                    async move {
                        ev(&e, &format!("all {}", String::from_utf8_lossy(&data)));
                        suite.insert(String::from_utf8(data)?);
                        Ok(())
                    }
                },
            );
            s.after_suite(move |_| {
                let e = e4.clone();
                async move {
                    ev(&e, "after_suite");
                    Ok(())
                }
            });
            s.report_after_suite(move |report| {
                ev(&e5, &format!("report {} specs", report.specs.len()));
                Ok(())
            });
            for i in 0..2 {
                let e = e6.clone();
                s.it(format!("spec {i}"), move |cx| {
                    let e = e.clone();
                    async move {
                        let n = cx.get::<u32>().expect("value from before_suite");
                        let d = cx.get::<String>().expect("value from synchronized all");
                        ev(&e, &format!("spec {n} {d}"));
                        Ok(())
                    }
                });
            }
        });
        let code = Runner::from_args(["suite", "--quiet", "--test-threads", "1"])
            .unwrap()
            .run(registry);
        assert_eq!(code, EXIT_SUCCESS);
        assert_eq!(
            *events.lock().unwrap(),
            [
                "before_suite",
                "first",
                "all shared",
                "spec 41 shared",
                "spec 41 shared",
                "after_suite",
                "report 2 specs"
            ]
        );
    }

    #[test]
    fn specs_get_lanes_that_never_overlap_and_suite_hooks_are_timed() {
        type Seen = (
            Vec<(Option<usize>, f64, f64, usize)>,
            Vec<(HookKind, f64)>,
            f64,
        );
        let seen: Arc<Mutex<Option<Seen>>> = Arc::default();
        let keep = seen.clone();
        let mut registry = Registry::new();
        registry.add(move |s| {
            s.before_suite(|_| async {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                Ok(())
            });
            s.after_suite(|_| async { Ok(()) });
            for i in 0..6 {
                s.it(format!("spec {i}"), |cx| async move {
                    cx.by("sleeping");
                    tokio::time::sleep(std::time::Duration::from_millis(30)).await;
                    Ok(())
                });
            }
            let keep = keep.clone();
            s.report_after_suite(move |report| {
                let specs = report
                    .specs
                    .iter()
                    .map(|r| {
                        let start = r.start.unwrap_or_default().as_secs_f64();
                        (
                            r.lane,
                            start,
                            start + r.duration.as_secs_f64(),
                            r.steps.len(),
                        )
                    })
                    .collect();
                let hooks = report
                    .hooks
                    .iter()
                    .map(|h| (h.kind, h.duration.as_secs_f64()))
                    .collect();
                *keep.lock().unwrap() = Some((specs, hooks, report.specs_start.as_secs_f64()));
                Ok(())
            });
        });
        let code = Runner::from_args(["suite", "--quiet", "--test-threads", "2"])
            .unwrap()
            .run(registry);
        assert_eq!(code, EXIT_SUCCESS);
        let (specs, hooks, specs_start) = seen.lock().unwrap().take().expect("report seen");
        assert!(
            specs_start >= 0.05,
            "specs start after before_suite: {specs_start}"
        );
        assert_eq!(hooks[0].0, HookKind::BeforeSuite);
        assert!(hooks[0].1 >= 0.05, "{hooks:?}");
        assert_eq!(hooks[1].0, HookKind::AfterSuite);
        for (i, a) in specs.iter().enumerate() {
            assert!(matches!(a.0, Some(0 | 1)), "2 workers: {specs:?}");
            assert!(a.1 >= specs_start && a.3 == 1, "{specs:?}");
            for b in &specs[i + 1..] {
                if a.0 == b.0 {
                    assert!(a.2 <= b.1 || b.2 <= a.1, "overlap on one lane: {specs:?}");
                }
            }
        }
        assert!(
            specs.iter().any(|s| s.0 == Some(1)),
            "both lanes used: {specs:?}"
        );
    }

    #[test]
    fn a_failing_before_suite_runs_no_spec_but_runs_after_suite() {
        let events: Arc<Mutex<Vec<String>>> = Arc::default();
        let (e1, e2) = (events.clone(), events.clone());
        let mut registry = Registry::new();
        registry.add(move |s| {
            s.before_suite(|_| async { anyhow::bail!("no database") });
            s.after_suite(move |_| {
                let e = e1.clone();
                async move {
                    e.lock().unwrap().push("after_suite".into());
                    Ok(())
                }
            });
            s.it("never runs", move |_| {
                let e = e2.clone();
                async move {
                    e.lock().unwrap().push("spec".into());
                    Ok(())
                }
            });
        });
        let code = Runner::from_args(["suite", "--quiet"])
            .unwrap()
            .run(registry);
        assert_eq!(code, EXIT_FAILED);
        assert_eq!(*events.lock().unwrap(), ["after_suite"]);
    }

    #[test]
    fn suite_hooks_inside_a_container_are_definition_errors() {
        let mut registry = Registry::new();
        registry.add(|s| {
            s.describe("inner", |s| {
                s.before_suite(|_| async { Ok(()) });
                s.it("x", |_| async { Ok(()) });
            });
        });
        let err = registry
            .build()
            .err()
            .expect("definition error")
            .to_string();
        assert!(
            err.contains("before_suite") && err.contains("belong at the root"),
            "{err}"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn synchronized_first_runs_once_per_run_key_and_failures_reach_every_process() {
        use crate::spec::suite::FirstBody;
        use std::sync::atomic::{AtomicU32, Ordering};
        let key = format!("unit-{}-{}", std::process::id(), rand::random::<u32>());
        let calls = Arc::new(AtomicU32::new(0));
        let c = calls.clone();
        let first: FirstBody = Arc::new(move |_| {
            let c = c.clone();
            Box::pin(async move {
                c.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                Ok(b"data".to_vec())
            })
        });
        let cx = SuiteContext::new(Extensions::default(), Default::default());
        let (a, b) = tokio::join!(
            sync::first_once(Some(&key), "s", 0, &first, &cx),
            sync::first_once(Some(&key), "s", 0, &first, &cx)
        );
        assert_eq!(a.unwrap(), b"data");
        assert_eq!(b.unwrap(), b"data");
        assert_eq!(calls.load(Ordering::SeqCst), 1, "first ran once");
        let failing: FirstBody = Arc::new(|_| Box::pin(async { anyhow::bail!("no cluster") }));
        let e1 = sync::first_once(Some(&key), "s", 1, &failing, &cx).await;
        let e2 = sync::first_once(Some(&key), "s", 1, &first, &cx).await;
        assert!(e1.unwrap_err().to_string().contains("no cluster"));
        let e2 = e2.unwrap_err().to_string();
        assert!(
            e2.contains("in another process of this run") && e2.contains("no cluster"),
            "{e2}"
        );
        assert_eq!(
            calls.load(Ordering::SeqCst),
            1,
            "a failed first is not retried"
        );
        let _ = std::fs::remove_dir_all(std::env::temp_dir().join("kube-e2e-sync").join(&key));
    }
}
