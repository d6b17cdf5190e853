//! The runner: parse settings, build and validate the suite, select, execute, report.
//!
//! Execution and presentation are split. The executor runs specs concurrently on one tokio
//! runtime and posts results on a board; libtest-mimic presents them, one trial per selected spec
//! in run order, each trial waiting for its spec's result. So the console output, `--list`,
//! `--format`, `--exact`, `--ignored` and libtest's name filter are exactly libtest-mimic's (what
//! `cargo test` and nextest expect), while scheduling (serial last, ordered containers, fail-fast,
//! retries, timeouts, interrupts) is the framework's.

use crate::cli::Cli;
use crate::config::{self, ConfigError};
use crate::exec::{Board, ExecOptions, execute};
use crate::interrupt::{EXIT_INTERRUPTED, Interrupts};
use crate::param::{ParamDef, Params};
use crate::registry::{Registry, SpecSet};
use crate::report::{RunReport, SpecResult, State, Transcript};
use crate::select::{Selection, Unit, select};
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

/// Runs the suite registered in this binary with the process's arguments, then exits.
/// This is what [`main!`](crate::main) expands to.
pub fn run_main() -> ! {
    std::process::exit(run(std::env::args_os().collect()))
}

/// Runs the suite registered in this binary with `args` (`args[0]` is the program name);
/// returns the exit code.
pub fn run(args: Vec<OsString>) -> i32 {
    let mut defs: Vec<&'static ParamDef> = inventory::iter::<ParamDef>.into_iter().collect();
    defs.sort_by_key(|d| d.name);
    let (cli, params) = match config::parse(args, &defs) {
        Ok(v) => v,
        Err(e) => return config_error(e),
    };
    Params::set_global(params.clone());
    if let Some(which) = params
        .string("framework.cleanup")
        .filter(|s| !s.trim().is_empty())
    {
        return cleanup(&params, &which);
    }
    let registry = Registry::from_inventory(&params);
    Runner::new(cli).run(registry)
}

/// `--framework.cleanup RUN_ID|all`: removes leftovers of earlier runs, runs no spec.
fn cleanup(params: &Params, which: &str) -> i32 {
    use crate::namespace::{RunSelector, cleanup_leftovers};
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
        let session = match crate::session::Settings::from_params(params) {
            Ok(settings) => crate::session::Session::connect(settings).await,
            Err(e) => Err(e),
        };
        let session = match session {
            Ok(s) => s,
            Err(e) => {
                eprintln!("error: {}", crate::framework::error_chain(&e));
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
                eprintln!("error: {}", crate::framework::error_chain(&e));
                EXIT_FAILED
            }
        }
    })
}

fn config_error(e: ConfigError) -> i32 {
    match e {
        ConfigError::Cli(e) => {
            let _ = e.print();
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
        Runner { cli }
    }

    /// A runner from command-line arguments (no parameters, no config file).
    ///
    /// # Errors
    ///
    /// Bad flags.
    pub fn from_args<I: IntoIterator<Item = T>, T: Into<OsString> + Clone>(
        args: I,
    ) -> Result<Self, clap::Error> {
        Ok(Runner {
            cli: Cli::try_parse_from(args)?,
        })
    }

    /// Builds, selects, runs and reports; returns the exit code. With `--sonobuoy` the reports
    /// go to the plugin's results directory, which is packed and announced in its `done` file
    /// whatever the outcome.
    pub fn run(mut self, registry: Registry) -> i32 {
        if !self.cli.run.sonobuoy {
            return self.run_suite(registry);
        }
        let dir = crate::sonobuoy::results_dir(self.cli.run.sonobuoy_results_dir.as_deref());
        self.cli.run.report_dir = Some(dir.clone());
        let code = self.run_suite(registry);
        match crate::sonobuoy::finish(&dir) {
            Ok(tarball) => {
                eprintln!("sonobuoy: results in {}", tarball.display());
                code
            }
            Err(e) => {
                eprintln!("error: failed to hand the results to Sonobuoy: {e}");
                EXIT_FAILED
            }
        }
    }

    fn run_suite(self, registry: Registry) -> i32 {
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

    fn trial(set: &SpecSet, sel: &Selection, i: usize) -> Trial {
        Trial::test(set.specs[i].info.name.clone(), || Ok(()))
            .with_ignored_flag(sel.default_excluded[i])
    }

    fn execute(self, set: SpecSet, sel: Selection) -> i32 {
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
        crate::report::set_report_dir(flags.report_dir.clone());
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
        let opts = ExecOptions {
            concurrency: args
                .test_threads
                .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, Into::into)),
            spec_timeout: flags.spec_timeout,
            grace: flags.grace_period,
            flake_attempts: flags.flake_attempts,
            fail_fast: flags.fail_fast,
            progress_after: flags.progress_after,
            verbose: flags.verbose,
        };
        let specs = Arc::new(set.specs);
        let iterations = if flags.until_it_fails {
            u64::MAX
        } else {
            u64::from(flags.repeat) + 1
        };
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
            let hanging = await_namespace_deletions(&rt, &interrupts, &transcript);
            let mut results = board.take();
            let report = RunReport {
                suite: suite_name(),
                seed: sel.seed,
                interrupted: interrupts.reason(),
                duration: started.elapsed(),
                specs: will_run.iter().filter_map(|i| results.remove(i)).collect(),
            };
            let failed = report
                .specs
                .iter()
                .filter(|r| r.state == State::Failed)
                .count();
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
            if let Some(dir) = &flags.report_dir
                && let Err(e) = report.write(dir, &transcript.text())
            {
                eprintln!(
                    "error: {e}: {}",
                    std::error::Error::source(&e)
                        .map(ToString::to_string)
                        .unwrap_or_default()
                );
                code = EXIT_FAILED;
            }
            if interrupts.count() > 0
                && interrupts
                    .reason()
                    .is_some_and(|r| !r.starts_with("suite timeout"))
            {
                code = EXIT_INTERRUPTED;
            } else if failed > 0 || interrupts.count() > 0 || hanging > 0 {
                code = EXIT_FAILED;
            }
            if code != EXIT_SUCCESS {
                break;
            }
        }
        crate::session::Session::disconnect_global();
        rt.shutdown_timeout(std::time::Duration::from_millis(100));
        code
    }
}

/// Waits for the namespace deletions the specs issued (unless a second interrupt asked to skip
/// cleanup); reports those that hang. Returns how many hang.
fn await_namespace_deletions(
    rt: &tokio::runtime::Runtime,
    interrupts: &Interrupts,
    transcript: &Transcript,
) -> usize {
    let Some(session) = crate::session::Session::global_if_connected() else {
        return 0;
    };
    if session.deletions.is_empty() || interrupts.count() >= 2 {
        return 0;
    }
    let pending = session.deletions.len();
    let started = Instant::now();
    let hanging = rt.block_on(async {
        tokio::select! {
            h = session.await_deletions() => h,
            _ = interrupts.cleanup_token().cancelled() => Vec::new(),
        }
    });
    let line = if hanging.is_empty() {
        format!(
            "Deleted {pending} namespace(s) in {:.1}s",
            started.elapsed().as_secs_f64()
        )
    } else {
        let l = format!(
            "Namespace deletion hangs after {:.0}s: {}",
            started.elapsed().as_secs_f64(),
            hanging.join(", ")
        );
        eprintln!("{l}");
        l
    };
    transcript.line(&line);
    hanging.len()
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
