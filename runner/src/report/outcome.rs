//! Results and reports: per-spec results, the `e2e.log` transcript, and the files written to
//! `--report-dir`: `junit_01.xml` (compact: no output for passed specs), `e2e.log`,
//! `report.json` (every spec's name, labels, state, timing, lane, attempts, failure and steps;
//! the run's suite-level hook timings, seed and selection) and `report.html` (the same data as
//! one self-contained page: see [`crate::report::html`]).

use crate::spec::info::{Artifact, HookKind, SpecInfo, Step, ser_duration, ser_opt_duration};
use crate::spec::tag::Labels;
use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestRerun, TestSuite};
use std::panic::Location;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

/// Writing a report failed.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// A file could not be written.
    #[error("failed to write report file `{path}`")]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// JUnit serialization failed.
    #[error("failed to serialize the JUnit report")]
    Junit(#[source] Box<quick_junit::SerializeError>),
    /// `report.json` serialization failed.
    #[error("failed to serialize report.json")]
    Json(#[source] serde_json::Error),
    /// `report.html` could not be built.
    #[error("failed to build report.html")]
    Html(#[source] crate::report::html::HtmlError),
}

/// How a spec ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Passed (possibly on a retry: see [`SpecResult::flaky`]).
    Passed,
    /// Failed, timed out, panicked or was interrupted.
    Failed,
    /// Not run (fail-fast, interrupt, dry run, earlier failure in an ordered container).
    Skipped,
}

/// What kind of failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// A hook or body returned an error.
    Error,
    /// A hook or body panicked.
    Panic,
    /// The deadline passed.
    Timeout,
    /// The run was interrupted (signal or suite timeout).
    Interrupted,
}

/// A failure, with where it happened.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Failure {
    /// The phase (hook kind) that failed.
    pub phase: HookKind,
    /// `file:line` of the hook, body or cleanup.
    pub location: String,
    /// What kind of failure.
    pub kind: FailureKind,
    /// The error, panic message or timeout text.
    pub message: String,
    /// The last `by` step before the failure: what the spec was waiting on.
    pub step: Option<String>,
    /// Further failures in teardown after this one.
    pub also: Vec<String>,
}

impl Failure {
    /// The failure with credential material removed from its texts (see
    /// [`redact`](crate::report::redact::redact)).
    pub(crate) fn redacted(mut self) -> Self {
        use crate::report::redact::redact;
        self.message = redact(&self.message);
        self.also = self.also.iter().map(|a| redact(a)).collect();
        self.step = self.step.as_deref().map(redact);
        self
    }

    pub(crate) fn new(
        phase: HookKind,
        loc: &Location<'_>,
        kind: FailureKind,
        message: String,
        step: Option<String>,
    ) -> Self {
        Failure {
            phase,
            location: format!("{}:{}", loc.file(), loc.line()),
            kind,
            message,
            step,
            also: Vec::new(),
        }
    }

    /// One line: phase, location, message, step.
    pub fn headline(&self) -> String {
        let step = self
            .step
            .as_ref()
            .map(|s| format!(" (last step: {s})"))
            .unwrap_or_default();
        format!(
            "{} at {}: {}{step}",
            self.phase, self.location, self.message
        )
    }

    /// The full text shown for a failed spec.
    pub fn detail(&self) -> String {
        let mut out = self.headline();
        for a in &self.also {
            out.push_str("\nthen ");
            out.push_str(a);
        }
        out
    }
}

/// The result of one spec.
#[derive(Clone, Debug, serde::Serialize)]
pub struct SpecResult {
    /// Full name.
    pub name: String,
    /// Labels.
    pub labels: Labels,
    /// `file:line`.
    pub location: String,
    /// How it ended.
    pub state: State,
    /// Why it was skipped.
    pub skip_reason: Option<String>,
    /// Wall time over all attempts.
    #[serde(serialize_with = "ser_duration")]
    pub duration: Duration,
    /// Attempts made (0 when not run).
    pub attempts: u32,
    /// Passed only on a retry.
    pub flaky: bool,
    /// The failure of the last attempt.
    pub failure: Option<Failure>,
    /// Failures of earlier attempts.
    pub earlier_failures: Vec<Failure>,
    /// Steps of the last attempt.
    pub steps: Vec<Step>,
    /// Log lines of the last attempt.
    pub log: Vec<String>,
    /// When the spec's first attempt started, as time since the run began
    /// ([`RunReport::started_at`]); `null` for a spec that never started.
    #[serde(serialize_with = "ser_opt_duration")]
    pub start: Option<Duration>,
    /// Time from [`start`](Self::start) to the start of the last attempt, from which
    /// [`Step::at`] counts (0 unless the spec was retried).
    #[serde(serialize_with = "ser_duration")]
    pub attempt_start: Duration,
    /// The worker (0-based) of the process that ran it: specs of one lane never overlap;
    /// `null` for a spec that never started.
    pub lane: Option<usize>,
    /// Files the last attempt attached ([`SpecContext::attach`](crate::SpecContext::attach)).
    pub artifacts: Vec<Artifact>,
}

impl SpecResult {
    pub(crate) fn skipped(info: &SpecInfo, reason: String) -> Self {
        SpecResult {
            name: info.name.clone(),
            labels: info.labels.clone(),
            location: info.location.clone(),
            state: State::Skipped,
            skip_reason: Some(reason),
            duration: Duration::ZERO,
            attempts: 0,
            flaky: false,
            failure: None,
            earlier_failures: Vec::new(),
            steps: Vec::new(),
            log: Vec::new(),
            start: None,
            attempt_start: Duration::ZERO,
            lane: None,
            artifacts: Vec::new(),
        }
    }

    pub(crate) fn ran(
        info: &SpecInfo,
        failure: Option<Failure>,
        steps: Vec<Step>,
        log: Vec<String>,
        attempts: u32,
    ) -> Self {
        let mut r = SpecResult::skipped(info, String::new());
        r.skip_reason = None;
        r.state = if failure.is_some() {
            State::Failed
        } else {
            State::Passed
        };
        r.failure = failure.map(Failure::redacted);
        r.steps = steps;
        r.log = log;
        r.attempts = attempts;
        r
    }

    pub(crate) fn add_failure(&mut self, f: Failure) {
        self.state = State::Failed;
        let f = f.redacted();
        match &mut self.failure {
            Some(first) => first.also.push(f.headline()),
            None => self.failure = Some(f),
        }
    }
}

pub use crate::report::dir::ReportDir;

/// The `e2e.log` transcript: one line per spec result, failure detail, progress and summary.
#[derive(Debug, Default)]
pub struct Transcript {
    text: Mutex<String>,
}

impl Transcript {
    /// Appends a line.
    pub fn line(&self, line: &str) {
        let line = crate::report::redact::redact(line);
        let mut t = self.text.lock().unwrap_or_else(|p| p.into_inner());
        t.push_str(&line);
        t.push('\n');
    }

    /// Appends a spec's result line (and its failure detail).
    pub fn result(&self, r: &SpecResult) {
        let secs = r.duration.as_secs_f64();
        let line = match (r.state, r.flaky) {
            (State::Passed, false) => format!("[PASSED] {} ({secs:.3}s)", r.name),
            (State::Passed, true) => format!(
                "[FLAKY] {} passed on attempt {} ({secs:.3}s)",
                r.name, r.attempts
            ),
            (State::Failed, _) => format!("[FAILED] {} ({secs:.3}s)", r.name),
            (State::Skipped, _) => format!(
                "[SKIPPED] {}: {}",
                r.name,
                r.skip_reason.as_deref().unwrap_or("")
            ),
        };
        let mut block = line;
        for s in &r.steps {
            block.push_str(&format!("\n  STEP {:.3}s: {}", s.at.as_secs_f64(), s.text));
        }
        for l in &r.log {
            block.push_str(&format!("\n  {l}"));
        }
        if let Some(f) = &r.failure {
            for l in f.detail().lines() {
                block.push_str(&format!("\n  {l}"));
            }
        }
        self.line(&block);
    }

    /// The text so far.
    pub fn text(&self) -> String {
        self.text.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// A suite-level (or container-level) set-up or tear-down that ran outside every spec's time:
/// `before_suite`, `after_suite`, `report_after_suite`, a run extension's hooks, and an ordered
/// container's `before_all` and `after_all`.
#[derive(Clone, Debug, serde::Serialize)]
pub struct HookTiming {
    /// Which kind of hook (`before_suite`, `after_suite`, `report_after_suite`, `before_all`,
    /// `after_all`).
    pub kind: HookKind,
    /// What ran: the hook's `file:line`, the extension's name, or the ordered container's name.
    pub name: String,
    /// When it started, as time since the run began.
    #[serde(serialize_with = "ser_duration")]
    pub start: Duration,
    /// How long it took.
    #[serde(serialize_with = "ser_duration")]
    pub duration: Duration,
    /// The worker it ran on (container hooks); `null` for suite-level hooks, which run before
    /// or after every worker.
    pub lane: Option<usize>,
    /// Its error, if it failed.
    pub error: Option<String>,
}

/// What selected the run's specs: the flags to pass again to rerun the same selection.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct RunFilter {
    /// `--label-filter`.
    pub label_filter: Option<String>,
    /// `--focus` (any may match).
    pub focus: Vec<String>,
    /// `--skip-regex`.
    pub skip_regex: Vec<String>,
    /// `--shard I/N`.
    pub shard: Option<String>,
    /// `--mode`.
    pub mode: Option<String>,
    /// libtest's name filter (the positional argument).
    pub name: Option<String>,
    /// libtest's `--exact`.
    pub exact: bool,
}

impl RunFilter {
    /// The flags that select the same specs again (with `--seed` from the report, the same
    /// order).
    pub fn args(&self) -> Vec<String> {
        let mut args = Vec::new();
        if let Some(f) = &self.label_filter {
            args.extend(["--label-filter".to_string(), f.clone()]);
        }
        for f in &self.focus {
            args.extend(["--focus".to_string(), f.clone()]);
        }
        for f in &self.skip_regex {
            args.extend(["--skip-regex".to_string(), f.clone()]);
        }
        if let Some(s) = &self.shard {
            args.extend(["--shard".to_string(), s.clone()]);
        }
        if let Some(m) = &self.mode {
            args.extend(["--mode".to_string(), m.clone()]);
        }
        if self.exact {
            args.push("--exact".to_string());
        }
        if let Some(n) = &self.name {
            args.push(n.clone());
        }
        args
    }
}

/// The whole run, as written to `report.json`.
#[derive(Debug, serde::Serialize)]
pub struct RunReport {
    /// Suite (binary) name.
    pub suite: String,
    /// Shuffle seed, if shuffled.
    pub seed: Option<u64>,
    /// Why the run stopped early, if it did.
    pub interrupted: Option<String>,
    /// Wall time of this iteration of the specs (suite-level set-up before it not included).
    #[serde(serialize_with = "ser_duration")]
    pub duration: Duration,
    /// Results in run order.
    pub specs: Vec<SpecResult>,
    /// When the run began, in seconds since the Unix epoch; every `start` in the report counts
    /// from it.
    pub started_at: f64,
    /// When this iteration of the specs began, as time since the run began (after the
    /// suite-level set-up).
    #[serde(serialize_with = "ser_duration")]
    pub specs_start: Duration,
    /// Workers: specs running at once in the parallel phase.
    pub workers: usize,
    /// The process id of the run (under nextest, each spec's own process).
    pub process: u32,
    /// What selected the specs.
    pub filter: RunFilter,
    /// Suite- and container-level set-up and tear-down, in the order they started.
    pub hooks: Vec<HookTiming>,
    /// The `--report-dir` the run wrote to, if any.
    pub report_dir: Option<PathBuf>,
}

impl RunReport {
    /// The JUnit form: one suite, one test case per spec; flaky attempts as `flakyFailure`.
    pub fn junit(&self) -> Report {
        let mut suite = TestSuite::new(self.suite.clone());
        suite.set_time(self.duration);
        for r in &self.specs {
            let status = match r.state {
                State::Passed => {
                    let mut st = TestCaseStatus::success();
                    for f in &r.earlier_failures {
                        let mut rerun = TestRerun::new(NonSuccessKind::Failure);
                        rerun.set_message(f.headline()).set_description(f.detail());
                        st.add_rerun(rerun);
                    }
                    st
                }
                State::Failed => {
                    let mut st = TestCaseStatus::non_success(NonSuccessKind::Failure);
                    if let Some(f) = &r.failure {
                        st.set_message(f.headline())
                            .set_type(format!("{:?}", f.kind).to_lowercase())
                            .set_description(f.detail());
                    }
                    st
                }
                State::Skipped => {
                    let mut st = TestCaseStatus::skipped();
                    if let Some(reason) = &r.skip_reason {
                        st.set_message(reason.clone());
                    }
                    st
                }
            };
            let mut case = TestCase::new(r.name.clone(), status);
            case.set_classname(self.suite.clone()).set_time(r.duration);
            suite.add_test_case(case);
        }
        let mut report = Report::new(self.suite.clone());
        report.set_time(self.duration).add_test_suite(suite);
        report
    }

    /// Writes `junit_01.xml`, `e2e.log`, `report.json` and `report.html` into `dir`, creating
    /// it.
    ///
    /// # Errors
    ///
    /// Names the file that could not be written.
    pub fn write(&self, dir: &Path, transcript: &str) -> Result<(), ReportError> {
        let write = |name: &str, bytes: &[u8]| {
            let path = dir.join(name);
            std::fs::create_dir_all(dir)
                .and_then(|()| std::fs::write(&path, bytes))
                .map_err(|source| ReportError::Write { path, source })
        };
        let xml = self
            .junit()
            .to_string()
            .map_err(|e| ReportError::Junit(Box::new(e)))?;
        write("junit_01.xml", xml.as_bytes())?;
        write("e2e.log", transcript.as_bytes())?;
        let json = serde_json::to_vec_pretty(self).map_err(ReportError::Json)?;
        write("report.json", &json)?;
        let run =
            crate::report::html::HtmlRun::from_report(self, dir).map_err(ReportError::Html)?;
        let page = crate::report::html::render(&self.suite, &[run]);
        write(crate::report::html::FILE, page.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(name: &str) -> SpecInfo {
        SpecInfo {
            name: name.into(),
            labels: Labels::new(["Slow".to_string()]),
            location: "a.rs:1".into(),
            timeout: None,
            serial: false,
            ordered_container: None,
            conformance: None,
        }
    }

    #[test]
    fn junit_round_trips_with_flaky_and_failures() {
        let loc = Location::caller();
        let f = Failure::new(
            HookKind::Body,
            loc,
            FailureKind::Error,
            "boom".into(),
            Some("creating pod".into()),
        );
        let mut flaky = SpecResult::ran(&info("flaky one"), None, vec![], vec![], 2);
        flaky.flaky = true;
        flaky.earlier_failures.push(f.clone());
        let failed = SpecResult::ran(&info("bad one"), Some(f), vec![], vec![], 1);
        let skipped = SpecResult::skipped(&info("later"), "not run: --fail-fast".into());
        let run = RunReport {
            suite: "s".into(),
            seed: Some(1),
            interrupted: None,
            duration: Duration::from_secs(1),
            specs: vec![flaky, failed, skipped],
            started_at: 0.0,
            specs_start: Duration::ZERO,
            workers: 1,
            process: 1,
            filter: RunFilter::default(),
            hooks: Vec::new(),
            report_dir: None,
        };
        let xml = run.junit().to_string().unwrap();
        let back = Report::deserialize_from_str(&xml).unwrap();
        let cases = &back.test_suites[0].test_cases;
        assert_eq!(cases.len(), 3);
        assert!(
            matches!(&cases[0].status, TestCaseStatus::Success { flaky_runs } if flaky_runs.len() == 1)
        );
        match &cases[1].status {
            TestCaseStatus::NonSuccess { message, .. } => {
                let m = message.as_ref().unwrap().to_string();
                assert!(
                    m.contains("spec body at")
                        && m.contains("boom")
                        && m.contains("last step: creating pod"),
                    "{m}"
                );
            }
            other => panic!("expected failure, got {other:?}"),
        }
        assert!(matches!(&cases[2].status, TestCaseStatus::Skipped { .. }));
        assert!(
            !xml.contains("system-out"),
            "compact: no output for passed specs"
        );
    }
}
