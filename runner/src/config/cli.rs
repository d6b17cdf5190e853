//! Command-line flags: libtest's (parsed by `libtest-mimic`, so `cargo test` and nextest work
//! unchanged) plus the framework's own, each also settable through a `KUBE_E2E_*` environment
//! variable (nextest passes only libtest flags) or a `runner.<flag>` key in the config file.

use crate::config::param::{parse_duration, quote};
use std::path::PathBuf;
use std::time::Duration;

/// All flags of a suite binary.
#[derive(clap::Parser, Debug, Clone)]
#[command(
    about = "A kube-e2e suite. Runs specs like `cargo test`; framework flags can also be set with KUBE_E2E_* environment variables or a --config file.",
    args_override_self = true,
    allow_negative_numbers = true,
    disable_version_flag = true
)]
pub struct Cli {
    /// libtest's flags (`--list`, `--exact`, `--ignored`, `--test-threads`, `--format`, filter...).
    #[command(flatten)]
    pub libtest: libtest_mimic::Arguments,
    /// The framework's flags.
    #[command(flatten)]
    pub run: RunFlags,
}

impl Cli {
    /// Parses flags (without parameters or a config file; see [`crate::config::file::parse`] for those).
    ///
    /// # Errors
    ///
    /// Unknown flags and bad values, as clap reports them.
    pub fn try_from_args<I, T>(args: I) -> Result<Self, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        <Cli as clap::Parser>::try_parse_from(args)
    }
}

/// `--shard I/N`: the I-th of N deterministic slices of the selected specs (1-based).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// 1-based shard index.
    pub index: usize,
    /// Number of shards.
    pub total: usize,
}

/// The longest duration any flag takes (a year): longer ones are typos, and would overflow
/// the clock's arithmetic.
pub const MAX_DURATION: Duration = Duration::from_secs(365 * 24 * 3600);

fn bounded(s: &str, min: Duration) -> Result<Duration, String> {
    let d = parse_duration(s)?;
    if d < min {
        return Err(format!("must be at least {min:?}, found {}", quote(s)));
    }
    if d > MAX_DURATION {
        return Err(format!("must be at most 365 days, found {}", quote(s)));
    }
    Ok(d)
}

/// A timeout: more than zero, at most [`MAX_DURATION`].
fn parse_timeout(s: &str) -> Result<Duration, String> {
    bounded(s, Duration::from_millis(1))
}

/// A grace period: zero or more, at most [`MAX_DURATION`].
fn parse_grace(s: &str) -> Result<Duration, String> {
    bounded(s, Duration::ZERO)
}

/// A reporting interval: at least 100ms (zero would print on every check).
fn parse_interval(s: &str) -> Result<Duration, String> {
    bounded(s, Duration::from_millis(100))
}

fn parse_shard(s: &str) -> Result<Shard, String> {
    let bad = || {
        format!(
            "expected `I/N` with 1 <= I <= N, such as `2/4`, found {}",
            quote(s)
        )
    };
    let (i, n) = s.split_once('/').ok_or_else(bad)?;
    let (index, total) = (
        i.trim().parse().map_err(|_| bad())?,
        n.trim().parse().map_err(|_| bad())?,
    );
    if index == 0 || total == 0 || index > total {
        return Err(bad());
    }
    Ok(Shard { index, total })
}

/// The framework's own flags.
#[derive(clap::Args, Debug, Clone)]
#[command(next_help_heading = "Framework")]
pub struct RunFlags {
    /// Run only specs whose full name matches REGEX (repeatable; any may match).
    #[arg(long, env = "KUBE_E2E_FOCUS", value_name = "REGEX")]
    pub focus: Vec<String>,
    /// Skip specs whose full name matches REGEX (repeatable; any may match).
    #[arg(long = "skip-regex", env = "KUBE_E2E_SKIP_REGEX", value_name = "REGEX")]
    pub skip_regex: Vec<String>,
    /// Run only specs whose labels match EXPR (Ginkgo's label-filter grammar).
    #[arg(long, env = "KUBE_E2E_LABEL_FILTER", value_name = "EXPR")]
    pub label_filter: Option<String>,
    /// Do not fail when the focus, skip, label filter or shard select no spec.
    #[arg(long, env = "KUBE_E2E_ALLOW_EMPTY")]
    pub allow_empty: bool,
    /// Default time a spec's setup and body may take.
    #[arg(long, env = "KUBE_E2E_SPEC_TIMEOUT", default_value = "15m", value_parser = parse_timeout, allow_hyphen_values = true)]
    pub spec_timeout: Duration,
    /// Time cleanup gets after a timeout or interrupt (and at least, otherwise).
    #[arg(long, env = "KUBE_E2E_GRACE_PERIOD", default_value = "30s", value_parser = parse_grace, allow_hyphen_values = true)]
    pub grace_period: Duration,
    /// Time the whole run may take; then running specs are cancelled and cleaned up.
    #[arg(long, env = "KUBE_E2E_SUITE_TIMEOUT", default_value = "1h", value_parser = parse_timeout, allow_hyphen_values = true)]
    pub suite_timeout: Duration,
    /// Attempts per failing spec; a spec that passes on a retry is reported flaky.
    #[arg(
        long,
        env = "KUBE_E2E_FLAKE_ATTEMPTS",
        default_value_t = 1,
        value_name = "N"
    )]
    pub flake_attempts: u32,
    /// Run the selection N more times, stopping at the first failing iteration.
    #[arg(long, env = "KUBE_E2E_REPEAT", default_value_t = 0, value_name = "N")]
    pub repeat: u32,
    /// Run the selection again and again until an iteration fails.
    #[arg(long, env = "KUBE_E2E_UNTIL_IT_FAILS")]
    pub until_it_fails: bool,
    /// Start no new spec after the first failure.
    #[arg(long, env = "KUBE_E2E_FAIL_FAST")]
    pub fail_fast: bool,
    /// Shuffle the spec order (ordered containers keep theirs; serial specs stay last).
    #[arg(long, env = "KUBE_E2E_RANDOMIZE")]
    pub randomize: bool,
    /// Seed for `--randomize`; given alone it implies `--randomize`.
    #[arg(long, env = "KUBE_E2E_SEED")]
    pub seed: Option<u64>,
    /// Walk what would run, without running anything; also lists unregistered combinations.
    #[arg(long, env = "KUBE_E2E_DRY_RUN")]
    pub dry_run: bool,
    /// Run only the I-th of N deterministic slices of the selection, e.g. `2/4`.
    #[arg(long, env = "KUBE_E2E_SHARD", value_name = "I/N", value_parser = parse_shard)]
    pub shard: Option<Shard>,
    /// Print what a spec is doing once it has run this long, and again every such interval.
    #[arg(long, env = "KUBE_E2E_PROGRESS_AFTER", default_value = "1m", value_parser = parse_interval, allow_hyphen_values = true)]
    pub progress_after: Duration,
    /// Write `junit_01.xml`, `e2e.log`, `report.json` and `report.html` (the run as one
    /// self-contained page with a timeline) into DIR.
    #[arg(long, env = "KUBE_E2E_REPORT_DIR", value_name = "DIR")]
    pub report_dir: Option<PathBuf>,
    /// Print the conformance specs' metadata (testname, codename, description, release, file)
    /// as YAML, like upstream's `conformance.yaml`, and run nothing.
    #[arg(long, env = "KUBE_E2E_LIST_CONFORMANCE")]
    pub list_conformance: bool,
    /// A preset selection, as Sonobuoy's: `certified-conformance` (every `[Conformance]`
    /// spec), `non-disruptive-conformance` (without `[Disruptive]`) or `quick` (one spec).
    #[arg(long, env = "KUBE_E2E_MODE", value_name = "MODE", value_parser = crate::conformance::parse_mode)]
    pub mode: Option<crate::conformance::Mode>,
    /// Run as a Sonobuoy plugin: write the reports into the results directory, pack them into
    /// `results.tar.gz` and write its path into the `done` file there.
    #[arg(long, env = "SONOBUOY")]
    pub sonobuoy: bool,
    /// The Sonobuoy results directory (default: `SONOBUOY_RESULTS_DIR`, else `RESULTS_DIR`,
    /// else `/tmp/sonobuoy/results`).
    #[arg(long, value_name = "DIR")]
    pub sonobuoy_results_dir: Option<PathBuf>,
    /// YAML config file with `runner.<flag>` and parameter keys.
    #[arg(long, env = "KUBE_E2E_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Stream steps and spec logs to stderr as they happen.
    #[arg(long, short = 'v', env = "KUBE_E2E_VERBOSE")]
    pub verbose: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[test]
    fn durations_are_range_checked_where_they_are_parsed() {
        assert_eq!(parse_timeout("5m"), Ok(Duration::from_secs(300)));
        assert!(parse_timeout("0s").unwrap_err().contains("at least"));
        assert_eq!(parse_grace("0s"), Ok(Duration::ZERO));
        assert!(parse_interval("0s").unwrap_err().contains("at least 100ms"));
        let e = parse_timeout("10000000000000000000s").unwrap_err();
        assert!(e.contains("at most 365 days"), "{e}");
        for flag in ["--suite-timeout", "--spec-timeout", "--grace-period"] {
            let e = Cli::try_parse_from(["suite", flag, "10000000000000000000s"]).unwrap_err();
            assert!(e.to_string().contains("at most 365 days"), "{flag}: {e}");
        }
    }

    #[test]
    fn a_negative_duration_is_a_bad_value_of_its_flag() {
        let e = Cli::try_parse_from(["suite", "--spec-timeout", "-5s"])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("'--spec-timeout <SPEC_TIMEOUT>'") && e.contains("found `-5s`"),
            "{e}"
        );
    }

    #[test]
    fn a_negative_number_is_a_bad_value_not_a_stray_argument() {
        let e = Cli::try_parse_from(["suite", "--seed", "-1"])
            .unwrap_err()
            .to_string();
        assert!(e.contains("invalid value '-1'"), "{e}");
        assert!(!e.contains("-- -1"), "no misleading tip: {e}");
    }

    #[test]
    fn shard_parses() {
        assert_eq!(parse_shard("2/4"), Ok(Shard { index: 2, total: 4 }));
        assert!(parse_shard("0/4").is_err());
        assert!(parse_shard("5/4").is_err());
        assert!(parse_shard("x").unwrap_err().contains("expected `I/N`"));
    }

    #[test]
    fn libtest_and_framework_flags_mix() {
        let cli = Cli::try_parse_from([
            "suite",
            "--exact",
            "a b",
            "--test-threads",
            "3",
            "--focus",
            "x",
            "--focus",
            "y",
            "--label-filter",
            "Conformance",
            "--shard",
            "1/2",
        ])
        .unwrap();
        assert!(cli.libtest.exact);
        assert_eq!(cli.libtest.filter.as_deref(), Some("a b"));
        assert_eq!(cli.libtest.test_threads, Some(3));
        assert_eq!(cli.run.focus, ["x", "y"]);
        assert_eq!(cli.run.shard, Some(Shard { index: 1, total: 2 }));
        assert_eq!(cli.run.spec_timeout, Duration::from_secs(900));
    }
}
