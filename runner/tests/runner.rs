//! End-to-end tests of the runner: each runs the `fixture-suite` example as a child process and
//! checks what a user would see: exit codes, output, events recorded by hooks, report files.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

mod support;

use support::{fixture, target_dir};

struct Run {
    dir: tempfile::TempDir,
}

impl Run {
    fn new() -> Self {
        Run {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    fn events_path(&self) -> PathBuf {
        self.dir.path().join("events")
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(fixture());
        c.args(args)
            .env("KUBE_E2E_FIXTURE", "1")
            .env("FIXTURE_EVENTS", self.events_path())
            .env("RUST_BACKTRACE", "0")
            .env_remove("KUBE_E2E_FOCUS")
            .env_remove("KUBE_E2E_LABEL_FILTER");
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("fixture runs")
    }

    fn events(&self) -> Vec<String> {
        std::fs::read_to_string(self.events_path())
            .unwrap_or_default()
            .lines()
            .map(String::from)
            .collect()
    }

    fn report_dir(&self) -> PathBuf {
        self.dir.path().join("reports")
    }
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn hooks_run_in_ginkgo_order_and_cleanups_lifo() {
    let r = Run::new();
    let out = r.run(&["--focus", "^hooks "]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(
        r.events(),
        [
            "outer before_each",
            "inner before_each",
            "body",
            "inner just_after_each",
            "outer just_after_each",
            "inner after_each",
            "outer after_each",
            "cleanup 2",
            "cleanup 1",
        ]
    );
}

#[test]
fn the_step_log_times_each_spec_when_asked_and_a_bad_filter_only_warns() {
    let r = Run::new();
    let out = r
        .command(&["--focus", "^hooks "])
        .env("KUBE_E2E_LOG", "kube_e2e_runner=info")
        .env("NO_COLOR", "1")
        .output()
        .expect("fixture runs");
    let all = text(&out);
    assert_eq!(out.status.code(), Some(0), "{all}");
    let closed: Vec<&str> = all
        .lines()
        .filter(|l| l.contains("spec{name=hooks") && l.contains("close time.busy="))
        .collect();
    assert_eq!(closed.len(), 1, "one timed line for the one spec:\n{all}");
    let quiet = r.run(&["--focus", "^hooks "]);
    assert!(!text(&quiet).contains("time.busy"), "no log unless asked");
    let bad = r
        .command(&["--focus", "^hooks "])
        .env("KUBE_E2E_LOG", "kube_e2e=[[[")
        .output()
        .expect("fixture runs");
    assert_eq!(bad.status.code(), Some(0), "{}", text(&bad));
    assert!(
        text(&bad).contains("warning: KUBE_E2E_LOG"),
        "{}",
        text(&bad)
    );
}

#[test]
fn cleanups_run_lifo_after_failure_panic_and_timeout() {
    let r = Run::new();
    let started = Instant::now();
    let out = r.run(&[
        "--focus",
        "^cleanup ",
        "--grace-period",
        "1s",
        "--report-dir",
        r.report_dir().to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(101), "{}", text(&out));
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "timeout did not cut the spec short"
    );
    let ev = r.events();
    for kind in ["failure", "panic", "timeout"] {
        let b = ev
            .iter()
            .position(|e| *e == format!("{kind} cleanup B"))
            .unwrap_or_else(|| panic!("{kind} cleanup B missing: {ev:?}"));
        let a = ev
            .iter()
            .position(|e| *e == format!("{kind} cleanup A"))
            .unwrap_or_else(|| panic!("{kind} cleanup A missing: {ev:?}"));
        assert!(
            b < a,
            "{kind}: cleanups must run last-registered first: {ev:?}"
        );
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("the thing failed (last step: doing the failing thing)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("panicked: spec panicked on purpose"),
        "{stdout}"
    );
    assert!(
        stdout.contains("timed out after 300ms (last step: waiting for a pod that never starts)"),
        "{stdout}"
    );
    let log = std::fs::read_to_string(r.report_dir().join("e2e.log")).unwrap();
    assert!(log.contains("[FAILED] cleanup after timeout"), "{log}");
}

#[test]
fn serial_specs_run_alone_after_parallel_ones() {
    let r = Run::new();
    let out = r.run(&["--focus", "^scheduling ", "--test-threads", "4"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let ev = r.events();
    let last_parallel_end = ev
        .iter()
        .rposition(|e| e.starts_with("parallel") && e.ends_with("end"))
        .unwrap();
    let first_serial = ev.iter().position(|e| !e.starts_with("parallel")).unwrap();
    assert!(
        last_parallel_end < first_serial,
        "serial specs must start after every parallel one ended: {ev:?}"
    );
    let serial: Vec<&String> = ev.iter().filter(|e| !e.starts_with("parallel")).collect();
    for pair in serial.chunks(2) {
        let (a, b) = (pair[0], pair[1]);
        assert_eq!(
            a.trim_end_matches(" start"),
            b.trim_end_matches(" end"),
            "serial specs overlapped: {ev:?}"
        );
    }
    let starts_before_first_end = ev.iter().take_while(|e| !e.ends_with("end")).count();
    assert!(
        starts_before_first_end > 1,
        "parallel specs should overlap with --test-threads 4: {ev:?}"
    );
}

#[test]
fn retries_are_reported_flaky_in_junit_and_json() {
    let r = Run::new();
    let dir = r.report_dir();
    let out = r.run(&[
        "--focus",
        "^retries ",
        "--flake-attempts",
        "2",
        "--report-dir",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).contains("flaky: `retries passes on the second attempt`"),
        "{}",
        text(&out)
    );
    let xml = std::fs::read_to_string(dir.join("junit_01.xml")).unwrap();
    let report = quick_junit::Report::deserialize_from_str(&xml).expect("junit parses");
    let case = &report.test_suites[0].test_cases[0];
    assert_eq!(case.name.as_str(), "retries passes on the second attempt");
    match &case.status {
        quick_junit::TestCaseStatus::Success { flaky_runs } => {
            assert_eq!(flaky_runs.len(), 1);
            assert!(
                flaky_runs[0]
                    .message
                    .as_ref()
                    .unwrap()
                    .as_str()
                    .contains("first attempt fails")
            );
        }
        other => panic!("expected success with a flaky run, got {other:?}"),
    }
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("report.json")).unwrap()).unwrap();
    let spec = &json["specs"][0];
    assert_eq!(spec["state"], "passed");
    assert_eq!(spec["flaky"], true);
    assert_eq!(spec["attempts"], 2);
    assert!(
        std::fs::read_to_string(dir.join("e2e.log"))
            .unwrap()
            .contains("[FLAKY] retries passes on the second attempt")
    );
    let out = r.run(&["--focus", "^retries "]);
    assert_eq!(
        out.status.code(),
        Some(101),
        "without retries the spec fails: {}",
        text(&out)
    );
}

#[test]
fn junit_reports_failures_and_skips() {
    let r = Run::new();
    let dir = r.report_dir();
    let out = r.run(&[
        "--focus",
        "^cleanup after failure",
        "--focus",
        "^table",
        "--report-dir",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(101), "{}", text(&out));
    let xml = std::fs::read_to_string(dir.join("junit_01.xml")).unwrap();
    let report = quick_junit::Report::deserialize_from_str(&xml).expect("junit parses");
    let suite = &report.test_suites[0];
    assert_eq!(suite.test_cases.len(), 3);
    assert_eq!(suite.failures, 1);
    let failed = suite
        .test_cases
        .iter()
        .find(|c| c.name.as_str() == "cleanup after failure")
        .unwrap();
    match &failed.status {
        quick_junit::TestCaseStatus::NonSuccess { message, .. } => assert!(
            message
                .as_ref()
                .unwrap()
                .as_str()
                .contains("the thing failed")
        ),
        other => panic!("expected a failure, got {other:?}"),
    }
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("report.json")).unwrap()).unwrap();
    let failed = json["specs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["state"] == "failed")
        .unwrap();
    assert_eq!(failed["failure"]["phase"], "body");
    assert_eq!(failed["steps"][0]["text"], "doing the failing thing");
}

#[test]
fn ordered_containers_share_before_all_state_and_tables_expand() {
    let r = Run::new();
    let out = r.run(&["--focus", "^ordered ", "--focus", "^table "]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let ev = r.events();
    let ordered: Vec<&String> = ev.iter().filter(|e| !e.starts_with("table")).collect();
    assert_eq!(
        ordered,
        [
            "before_all",
            "first sees shared",
            "second",
            "after_all",
            "before_all cleanup"
        ]
    );
    assert!(
        ev.contains(&"table 1+1".to_string()) && ev.contains(&"table 2+2".to_string()),
        "{ev:?}"
    );
}

#[test]
fn list_is_stable_marks_default_exclusions_ignored_and_exact_runs_one() {
    let r = Run::new();
    let a = r.run(&["--list", "--format", "terse"]);
    let b = r.run(&["--list", "--format", "terse"]);
    assert_eq!(a.stdout, b.stdout, "--list order must be stable");
    let list = String::from_utf8_lossy(&a.stdout);
    assert!(list.lines().all(|l| l.ends_with(": test")), "{list}");
    assert!(list.contains("greets [Conformance]: test"), "{list}");
    let ignored =
        String::from_utf8_lossy(&r.run(&["--list", "--format", "terse", "--ignored"]).stdout)
            .to_string();
    assert_eq!(
        ignored.lines().collect::<Vec<_>>(),
        ["is flaky [Flaky]: test", "needs a gpu [Feature:Gpu]: test"]
    );
    let out = r.run(&["--exact", "table one plus one", "--nocapture"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(r.events(), ["table 1+1"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 passed"));
}

#[test]
fn label_filter_selects_and_lifts_default_exclusion() {
    let r = Run::new();
    let out = r.run(&["--label-filter", "Flaky || Feature: containsAny {gpu}"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let mut ev = r.events();
    ev.sort();
    assert_eq!(ev, ["flaky ran", "gpu ran"]);
    let out = r.run(&["--label-filter", "Conformance && (Slow"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out).contains("invalid label filter `Conformance && (Slow`: missing `)`"),
        "{}",
        text(&out)
    );
}

#[test]
fn env_vars_config_file_and_params() {
    let r = Run::new();
    let cfg = r.dir.path().join("e2e.yaml");
    std::fs::write(
        &cfg,
        "fixture:\n  greeting: hi\nrunner:\n  focus: ^greets\n",
    )
    .unwrap();
    let out = r
        .command(&["--config", cfg.to_str().unwrap()])
        .env("KUBE_E2E_FIXTURE_COUNT", "5")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(r.events(), ["greeting hi 5"]);
    let out = r
        .command(&["--fixture.greeting", "flag"])
        .env("KUBE_E2E_FOCUS", "^greets")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(r.events().last().unwrap(), "greeting flag 1");

    std::fs::write(&cfg, "fixture:\n  greting: hi\n").unwrap();
    let out = r.run(&["--config", cfg.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out);
    assert!(
        err.contains("unknown key `fixture.greting`")
            && err.contains("e2e.yaml:2")
            && err.contains("did you mean `fixture.greeting`?"),
        "{err}"
    );
    std::fs::write(&cfg, "fixture.count: lots\n").unwrap();
    let err = text(&r.run(&["--config", cfg.to_str().unwrap()]));
    assert!(
        err.contains("wrong value for `fixture.count`") && err.contains("expected an integer"),
        "{err}"
    );
    let help = text(&r.run(&["--help"]));
    assert!(
        help.contains("--fixture.greeting")
            && help.contains("what the greeting spec logs")
            && help.contains("KUBE_E2E_FIXTURE_GREETING"),
        "{help}"
    );
    assert!(
        help.contains("--label-filter") && help.contains("KUBE_E2E_LABEL_FILTER"),
        "{help}"
    );
}

#[test]
fn definition_and_selection_errors_exit_2_with_every_problem() {
    let r = Run::new();
    let out = r.command(&[]).env("FIXTURE_BROKEN", "1").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out);
    assert!(err.contains("3 definition error(s)"), "{err}");
    assert!(err.contains("duplicate spec name `twice`"), "{err}");
    assert!(err.contains("`[Serial]` written by hand"), "{err}");
    assert!(
        err.contains("unknown feature `Gpuu`") && err.contains("did you mean `Gpu`?"),
        "{err}"
    );
    assert!(
        r.events().is_empty(),
        "nothing may run after definition errors"
    );
    let out = r.run(&["--focus", "no such spec"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out).contains("selected none of the"),
        "{}",
        text(&out)
    );
    assert_eq!(
        r.run(&["--focus", "no such spec", "--allow-empty"])
            .status
            .code(),
        Some(0)
    );
    assert_eq!(r.run(&["--no-such-flag"]).status.code(), Some(2));
}

#[test]
fn dry_run_and_fail_fast_skip_without_running() {
    let r = Run::new();
    let out = r.run(&["--dry-run", "--focus", "^hooks"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        r.events().is_empty(),
        "dry run ran something: {:?}",
        r.events()
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("ignored (dry run)"),
        "{}",
        text(&out)
    );
    let out = r.run(&[
        "--fail-fast",
        "--test-threads",
        "1",
        "--focus",
        "^cleanup after failure",
        "--focus",
        "^table",
    ]);
    assert_eq!(out.status.code(), Some(101));
    assert!(
        !r.events().iter().any(|e| e.starts_with("table")),
        "fail-fast still ran later specs: {:?}",
        r.events()
    );
    assert!(
        text(&out).contains("--fail-fast after an earlier failure"),
        "{}",
        text(&out)
    );
}

#[test]
fn shards_split_the_run() {
    let r = Run::new();
    for i in 1..=3 {
        let out = r.run(&[
            "--focus",
            "^scheduling parallel|^table",
            "--shard",
            &format!("{i}/3"),
        ]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    }
    let mut ev: Vec<String> = r
        .events()
        .into_iter()
        .filter(|e| !e.ends_with(" end"))
        .collect();
    ev.sort();
    assert_eq!(
        ev,
        [
            "parallel 0 start",
            "parallel 1 start",
            "parallel 2 start",
            "parallel 3 start",
            "table 1+1",
            "table 2+2"
        ]
    );
}

#[test]
fn progress_is_printed_for_long_specs() {
    let r = Run::new();
    let out = r.run(&["--focus", "is slow", "--progress-after", "500ms"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("PROGRESS: `is slow [Slow]` has been running for"),
        "{}",
        text(&out)
    );
}

#[test]
fn sigint_cancels_runs_cleanup_and_writes_reports() {
    use nix::sys::signal::{Signal, kill};
    use nix::unistd::Pid;
    let r = Run::new();
    let dir = r.report_dir();
    let child = r
        .command(&[
            "--label-filter",
            "interrupt",
            "--grace-period",
            "2s",
            "--report-dir",
            dir.to_str().unwrap(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !r.events().contains(&"interruptible started".to_string()) {
        assert!(Instant::now() < deadline, "spec never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    kill(Pid::from_raw(child.id() as i32), Signal::SIGINT).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        r.events().contains(&"interrupt cleanup".to_string()),
        "cleanup did not run: {:?}",
        r.events()
    );
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("report.json")).unwrap()).unwrap();
    assert_eq!(json["specs"][0]["state"], "failed");
    assert_eq!(json["specs"][0]["failure"]["kind"], "interrupted");
    assert!(json["interrupted"].as_str().unwrap().contains("SIGINT"));
    assert!(dir.join("junit_01.xml").exists() && dir.join("e2e.log").exists());
}

/// Runs the `nextest_suite` target the way nextest drives a custom harness: list, then one
/// process per spec with `--exact NAME --nocapture`. Then, when `cargo nextest` is installed,
/// runs it under the real thing.
#[test]
fn nextest_protocol_and_real_nextest() {
    let suite = std::fs::read_dir(target_dir().join("deps"))
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            let n = p.file_name().unwrap().to_string_lossy();
            n.starts_with("nextest_suite-") && p.extension().is_none()
        })
        .max_by_key(|p| p.metadata().and_then(|m| m.modified()).ok())
        .expect("nextest_suite binary is built by cargo test");
    let list = Command::new(&suite)
        .args(["--list", "--format", "terse"])
        .output()
        .unwrap();
    let names: Vec<String> = String::from_utf8_lossy(&list.stdout)
        .lines()
        .map(|l| l.trim_end_matches(": test").to_string())
        .collect();
    assert_eq!(names.len(), 3);
    let ignored = Command::new(&suite)
        .args(["--list", "--format", "terse", "--ignored"])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&ignored.stdout).trim(),
        "nextest is excluded by default [Flaky]: test"
    );
    for name in names.iter().filter(|n| !n.contains("[Flaky]")) {
        let out = Command::new(&suite)
            .args(["--exact", name, "--nocapture"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{name}: {}", text(&out));
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("1 passed"),
            "{name}: {}",
            text(&out)
        );
    }

    let nextest = kube_e2e_runner::exec::nextest::cargo_nextest().expect("cargo-nextest");
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let sync_log = tempfile::NamedTempFile::new().unwrap();
    let out = Command::new("cargo")
        .env("PATH", kube_e2e_runner::exec::nextest::path_with(&nextest))
        .env("NEXTEST_SYNC_LOG", sync_log.path())
        .args([
            "nextest",
            "run",
            "-p",
            "kube-e2e-runner",
            "--test",
            "nextest_suite",
            "--no-fail-fast",
        ])
        .current_dir(workspace)
        .env(
            "CARGO_TARGET_DIR",
            target_dir().parent().unwrap().join("nextest"),
        )
        .output()
        .unwrap();
    let all = text(&out);
    assert_eq!(out.status.code(), Some(0), "{all}");
    assert!(
        all.contains("2 tests run: 2 passed") && all.contains("1 skipped"),
        "{all}"
    );
    // A process per spec, and the synchronized before_suite's first half ran in one of them.
    let log = std::fs::read_to_string(sync_log.path()).unwrap();
    let firsts = log.lines().filter(|l| l.starts_with("first ")).count();
    let alls: std::collections::BTreeSet<&str> =
        log.lines().filter_map(|l| l.strip_prefix("all ")).collect();
    assert_eq!(firsts, 1, "first ran once for the run: {log}");
    assert_eq!(alls.len(), 2, "all ran in each spec's own process: {log}");
}

#[test]
fn an_unwritable_report_dir_fails_before_any_spec() {
    let r = Run::new();
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("file");
    std::fs::write(&file, "").unwrap();
    let bad = file.join("reports");
    let out = r.run(&["--focus", "is slow", "--report-dir", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let all = text(&out);
    assert!(
        all.contains(&format!(
            "error: --report-dir `{}`: Not a directory",
            bad.display()
        )),
        "{all}"
    );
    assert!(!all.contains("test result"), "no spec ran: {all}");
}

#[test]
fn out_of_range_values_are_refused_before_any_spec() {
    let r = Run::new();
    for (args, expected) in [
        (
            &["--suite-timeout", "10000000000000000000s"][..],
            "must be at most 365 days",
        ),
        (&["--progress-after", "0s"][..], "must be at least 100ms"),
        (
            &["--test-threads", "0"][..],
            "--test-threads must be at least 1",
        ),
        (&["--seed", "-1"][..], "invalid value '-1'"),
    ] {
        let out = r.run(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out));
        assert!(text(&out).contains(expected), "{args:?}: {}", text(&out));
    }
    let deep = format!("{}a{}", "(".repeat(5000), ")".repeat(5000));
    let out = r.run(&["--label-filter", &deep]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("nest deeper than 100 levels"),
        "{}",
        text(&out)
    );
}
