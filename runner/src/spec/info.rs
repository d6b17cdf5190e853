//! The facts about a spec that reports show: its [`SpecInfo`], the [`HookKind`] a failure
//! happened in, the [`Step`]s it marked and the [`Artifact`]s it attached. A leaf of the spec model, so that reports can
//! depend on it without depending on how specs are built.

use crate::spec::conformance::ConformanceMeta;
use crate::spec::tag::Labels;
use std::fmt;
use std::time::Duration;

/// Durations in reports: seconds, as a float.
pub(crate) fn ser_duration<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

/// Optional durations in reports: seconds as a float, or `null`.
pub(crate) fn ser_opt_duration<S: serde::Serializer>(
    d: &Option<Duration>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.serialize_f64(d.as_secs_f64()),
        None => s.serialize_none(),
    }
}

/// Public facts about a registered spec.
#[derive(Clone, Debug, serde::Serialize)]
pub struct SpecInfo {
    /// The full name: container texts, spec text and tags.
    pub name: String,
    /// Labels from every tag on the spec and its containers.
    pub labels: Labels,
    /// `file:line` of the `it` (or table entry).
    pub location: String,
    /// Per-spec timeout override.
    #[serde(skip)]
    pub timeout: Option<Duration>,
    /// `[Serial]` or `[Disruptive]`: runs alone, after the parallel specs.
    pub serial: bool,
    /// Name of the ordered container, if in one.
    pub ordered_container: Option<String>,
    /// Conformance metadata (`[Conformance]` specs only).
    pub conformance: Option<ConformanceMeta>,
}

/// Which kind of node a hook (or body) is; names the phase in failure messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HookKind {
    /// Runs before each spec of its container.
    BeforeEach,
    /// The spec body (`it`).
    Body,
    /// Runs right after each spec's body, before `after_each`; the place to collect diagnostics.
    JustAfterEach,
    /// Runs after each spec of its container.
    AfterEach,
    /// Runs once before the first spec of an ordered container.
    BeforeAll,
    /// Runs once after the last spec of an ordered container.
    AfterAll,
    /// A cleanup registered with [`SpecContext::defer_cleanup`].
    Cleanup,
    /// Runs once per process before the first spec ([`Container::before_suite`]).
    BeforeSuite,
    /// Runs once per process after the last spec ([`Container::after_suite`]).
    AfterSuite,
    /// Runs with the finished report ([`Container::report_after_suite`]).
    ReportAfterSuite,
}

impl fmt::Display for HookKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            HookKind::BeforeEach => "before_each",
            HookKind::Body => "spec body",
            HookKind::JustAfterEach => "just_after_each",
            HookKind::AfterEach => "after_each",
            HookKind::BeforeAll => "before_all",
            HookKind::AfterAll => "after_all",
            HookKind::Cleanup => "defer_cleanup",
            HookKind::BeforeSuite => "before_suite",
            HookKind::AfterSuite => "after_suite",
            HookKind::ReportAfterSuite => "report_after_suite",
        })
    }
}

/// A step marked with [`SpecContext::by`](crate::SpecContext::by), as it appears in reports.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Step {
    /// The step text.
    pub text: String,
    /// Time since the spec attempt started.
    #[serde(serialize_with = "ser_duration")]
    pub at: Duration,
}

/// A file or directory a spec attached with
/// [`SpecContext::attach`](crate::SpecContext::attach), such as a failure dump; `report.json`
/// holds its path and `report.html` shows its text files.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Artifact {
    /// What it is, e.g. `namespace dump`.
    pub name: String,
    /// Where it is, as the spec gave it.
    pub path: std::path::PathBuf,
}
