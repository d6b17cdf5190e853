//! `report.html` in a real browser: the fixture suite runs with `--report-dir`, then headless
//! Chromium (Debian's `chromium` package, installed with apt-get when it is missing) opens the
//! page in its self-test mode (`report.html#selftest`), which checks its own lanes, bars,
//! click and hover, table and failures and records every error; this test reads the outcome
//! from the dumped DOM and takes a screenshot. A missing or broken Chromium fails the test.

use kube_e2e_runner::report::html;
use kube_e2e_runner::report::merge::{ShardReport, merge};
use serde_json::Value;
use std::io::Read;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// How long one Chromium run may take before it is killed.
const BROWSER_TIMEOUT: Duration = Duration::from_secs(90);

mod support;

use support::fixture;

fn on_path(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// Chromium, installed from Debian's packages when it is not on `PATH`. Panics when it cannot
/// be had: this test never passes without a browser.
fn chromium() -> PathBuf {
    static BROWSER: OnceLock<PathBuf> = OnceLock::new();
    BROWSER
        .get_or_init(|| {
            if let Some(p) = on_path("chromium") {
                return p;
            }
            let started = Instant::now();
            eprintln!("chromium is not installed: installing Debian's `chromium` package");
            let install = || {
                run_with_timeout(
                    Command::new("apt-get")
                        .args(["install", "-y", "chromium", "fonts-liberation"])
                        .env("DEBIAN_FRONTEND", "noninteractive"),
                    Duration::from_secs(900),
                )
            };
            let mut out = install();
            if !out.status.success() {
                // Stale package lists are the usual reason: refresh them once.
                let update = run_with_timeout(
                    Command::new("apt-get").arg("update"),
                    Duration::from_secs(300),
                );
                assert!(
                    update.status.success(),
                    "apt-get update failed: {}",
                    text(&update)
                );
                out = install();
            }
            assert!(
                out.status.success(),
                "apt-get install chromium failed: {}",
                text(&out)
            );
            let path = on_path("chromium").expect("chromium on PATH after installing it");
            eprintln!(
                "installed chromium in {:.1}s",
                started.elapsed().as_secs_f64()
            );
            path
        })
        .clone()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Runs `cmd` in a process group of its own and kills the whole group when it outlives
/// `limit` (then panics) or leaves helpers behind.
fn run_with_timeout(cmd: &mut Command, limit: Duration) -> Output {
    use nix::sys::signal::{Signal, killpg};
    use nix::unistd::Pid;
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .unwrap_or_else(|e| panic!("failed to start {cmd:?}: {e}"));
    let group = Pid::from_raw(child.id() as i32);
    let mut stdout = child.stdout.take().expect("piped stdout");
    let mut stderr = child.stderr.take().expect("piped stderr");
    let out_reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = stdout.read_to_end(&mut v);
        v
    });
    let err_reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = stderr.read_to_end(&mut v);
        v
    });
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().expect("waiting for the child") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = killpg(group, Signal::SIGKILL);
            let _ = child.wait();
            panic!("{cmd:?} did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    // Browser helpers that outlive the main process would keep the pipes open.
    let _ = killpg(group, Signal::SIGKILL);
    Output {
        status,
        stdout: out_reader.join().unwrap_or_default(),
        stderr: err_reader.join().unwrap_or_default(),
    }
}

/// A headless Chromium command with a profile of its own under `profile`.
fn browser(profile: &Path) -> Command {
    let mut c = Command::new(chromium());
    c.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-extensions",
        "--disable-dev-shm-usage",
        "--hide-scrollbars",
        "--enable-logging=stderr",
        "--v=0",
        "--window-size=1400,1200",
    ])
    .arg(format!("--user-data-dir={}", profile.display()));
    c
}

fn file_url(path: &Path, fragment: &str) -> String {
    format!("file://{}{fragment}", path.display())
}

/// Opens `page` with `#selftest` and returns the page's verdict; fails on any console message.
fn self_test(page: &Path, work: &Path) -> Value {
    let out = run_with_timeout(
        browser(&work.join("profile-selftest"))
            .arg("--virtual-time-budget=5000")
            .arg("--dump-dom")
            .arg(file_url(page, "#selftest")),
        BROWSER_TIMEOUT,
    );
    assert!(out.status.success(), "chromium failed: {}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let console: Vec<&str> = stderr.lines().filter(|l| l.contains(":CONSOLE")).collect();
    assert!(
        console.is_empty(),
        "the page wrote to the console: {console:#?}"
    );
    let dom = String::from_utf8_lossy(&out.stdout);
    let start = dom
        .find(r#"<pre id="selftest">"#)
        .unwrap_or_else(|| panic!("no visible #selftest result in the DOM:\n{dom}"));
    let rest = &dom[start + r#"<pre id="selftest">"#.len()..];
    let end = rest.find("</pre>").expect("end of #selftest");
    let json = rest[..end]
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&nbsp;", "\u{a0}")
        .replace("&amp;", "&");
    let verdict: Value = serde_json::from_str(&json)
        .unwrap_or_else(|e| panic!("#selftest is not JSON ({e}): {json}"));
    let failed: Vec<&Value> = verdict["checks"]
        .as_array()
        .map(|c| c.iter().filter(|c| c["ok"] != true).collect())
        .unwrap_or_default();
    assert!(
        verdict["ok"] == true && failed.is_empty(),
        "self-test failed: {failed:#?}\n{verdict:#}"
    );
    assert_eq!(verdict["errors"], serde_json::json!([]), "{verdict:#}");
    verdict
}

/// Takes a screenshot of `page` into `png` and checks it is a real, non-blank PNG.
fn screenshot(page: &Path, png: &Path, work: &Path) {
    let out = run_with_timeout(
        browser(&work.join("profile-shot"))
            .arg(format!("--screenshot={}", png.display()))
            .arg(file_url(page, "")),
        BROWSER_TIMEOUT,
    );
    assert!(out.status.success(), "chromium failed: {}", text(&out));
    let bytes = std::fs::read(png).expect("chromium wrote the screenshot");
    assert!(
        bytes.starts_with(b"\x89PNG\r\n\x1a\n") && &bytes[12..16] == b"IHDR",
        "not a PNG"
    );
    let width = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
    let height = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
    assert_eq!((width, height), (1400, 1200), "screenshot size");
    // A blank or nearly blank page of that size compresses to a few kilobytes.
    assert!(
        bytes.len() > 30_000,
        "screenshot is only {} bytes",
        bytes.len()
    );
    // `REPORT_HTML_SCREENSHOTS=DIR` keeps them (how docs/report-html.png is made).
    if let Some(keep) = std::env::var_os("REPORT_HTML_SCREENSHOTS") {
        let keep = PathBuf::from(keep);
        std::fs::create_dir_all(&keep).expect("screenshot directory");
        let name = png.file_name().expect("screenshot file name");
        std::fs::copy(png, keep.join(name)).expect("copy the screenshot");
    }
}

fn run_fixture(dir: &Path, extra: &[&str]) -> Output {
    let mut c = Command::new(fixture());
    c.args([
        "--focus",
        "^report |^scheduling |^retries |^ordered |^table |^cleanup after failure|is slow",
        "--flake-attempts",
        "2",
        "--test-threads",
        "3",
        "--seed",
        "7",
        "--label-filter",
        "!interrupt",
        "--report-dir",
    ])
    .arg(dir)
    .args(extra)
    .env("KUBE_E2E_FIXTURE", "1")
    .env("FIXTURE_SUITE_HOOKS", "1")
    .env("FIXTURE_EVENTS", dir.with_extension("events"))
    .env("RUST_BACKTRACE", "0")
    .env_remove("KUBE_E2E_FOCUS")
    .env_remove("KUBE_E2E_LABEL_FILTER");
    c.output().expect("fixture runs")
}

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

#[test]
fn report_html_renders_and_passes_its_self_test_in_chromium() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("reports");
    let out = run_fixture(&dir, &[]);
    assert_eq!(
        out.status.code(),
        Some(101),
        "two specs fail: {}",
        text(&out)
    );

    // report.json carries what the page needs
    let json = read_json(&dir.join("report.json"));
    let specs = json["specs"].as_array().unwrap();
    assert!(
        specs
            .iter()
            .all(|s| s["start"].is_number() && s["lane"].is_number())
    );
    assert!(
        specs.iter().all(|s| s["lane"].as_u64().unwrap() < 3),
        "3 workers"
    );
    assert_eq!(json["seed"], 7);
    assert_eq!(json["workers"], 3);
    assert_eq!(json["filter"]["label_filter"], "!interrupt");
    let kinds: Vec<&str> = json["hooks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["kind"].as_str().unwrap())
        .collect();
    for kind in ["before_suite", "after_suite", "before_all", "after_all"] {
        assert!(kinds.contains(&kind), "{kind} missing from {kinds:?}");
    }
    let before = json["hooks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["kind"] == "before_suite")
        .unwrap();
    assert!(before["duration"].as_f64().unwrap() >= 0.1, "{before}");
    assert!(
        json["specs_start"].as_f64().unwrap() >= 0.1,
        "specs start after the set-up"
    );
    let dumped = specs
        .iter()
        .find(|s| s["name"] == "report attaches a dump and fails [report]")
        .unwrap();
    assert_eq!(dumped["steps"].as_array().unwrap().len(), 2);
    assert_eq!(dumped["artifacts"][0]["name"], "namespace dump");

    // the page is one file with nothing to fetch and no way out of its data
    let page = dir.join("report.html");
    let html = std::fs::read_to_string(&page).expect("report.html written");
    assert!(!html.contains("http://") && !html.contains("https://"));
    assert_eq!(
        html.matches("</script>").count(),
        3,
        "only the page's own scripts end"
    );
    assert!(!html.contains("<img src=x") && html.contains("\\u003cimg src=x"));
    assert!(
        html.contains("address already in use"),
        "the dump's log is shown"
    );
    assert!(
        html.contains("Back-off restarting failed container"),
        "the dump's events"
    );
    assert!(
        !html.contains("s3cr3t-t0ken-value"),
        "a token reached report.html"
    );
    assert!(html.contains("token: [REDACTED]"));

    let verdict = self_test(&page, work.path());
    assert_eq!(verdict["specs"].as_u64(), Some(specs.len() as u64));
    assert_eq!(verdict["failed"], 2);
    let lanes: Vec<&str> = verdict["lanes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect();
    assert_eq!(lanes[0], "suite", "{lanes:?}");
    assert!(
        lanes.len() >= 3 && lanes[1..].iter().all(|l| l.starts_with("worker ")),
        "{lanes:?}"
    );
    let clicked = &verdict["clicked"];
    let spec = specs.iter().find(|s| s["name"] == clicked["name"]).unwrap();
    assert_eq!(
        spec["state"], "failed",
        "the self-test clicks a failed spec's bar"
    );
    let detail = clicked["detail"].as_str().unwrap();
    let failure = &spec["failure"];
    for part in [
        failure["message"].as_str().unwrap(),
        failure["step"].as_str().unwrap(),
        failure["location"].as_str().unwrap(),
    ] {
        assert!(
            detail.contains(part),
            "detail panel lacks `{part}`: {detail}"
        );
    }

    // The same report with its data deflated (as large reports embed it): the page's own
    // decoder must give the same page.
    let json_text = std::fs::read_to_string(dir.join("report.json")).unwrap();
    let run = html::HtmlRun::from_json("fixture", &json_text, &dir).unwrap();
    let options = html::RenderOptions {
        compress_above: 0,
        ..Default::default()
    };
    let compressed = html::render_with("fixture", &[run], options);
    assert!(compressed.contains(r#"{"encoding":"deflate-base64","#));
    assert!(
        !compressed.contains("cleanup after failure"),
        "the data is not in plain text"
    );
    let packed = work.path().join("compressed.html");
    std::fs::write(&packed, &compressed).unwrap();
    let again = self_test(&packed, work.path());
    for key in ["specs", "failed", "lanes", "bars", "hooks", "clicked"] {
        assert_eq!(again[key], verdict[key], "{key} differs once compressed");
    }

    let png = work.path().join("report.png");
    screenshot(&page, &png, work.path());
}

#[test]
fn merged_shard_report_has_one_lane_per_shard() {
    let work = tempfile::tempdir().unwrap();
    let mut shards = Vec::new();
    for i in 1..=2 {
        let dir = work.path().join(format!("shard-{i}"));
        let out = run_fixture(&dir, &["--shard", &format!("{i}/2")]);
        assert!(matches!(out.status.code(), Some(0 | 101)), "{}", text(&out));
        let read = |f: &str| std::fs::read_to_string(dir.join(f)).unwrap();
        shards.push(ShardReport {
            shard: format!("shard {i}/2"),
            junit: read("junit_01.xml"),
            e2e_log: read("e2e.log"),
            report_json: Some(read("report.json")),
            dir: Some(dir.clone()),
        });
    }
    let merged = merge("fixture", &shards).unwrap();
    assert!(merged.duplicates().is_empty());
    let out_dir = work.path().join("merged");
    merged.write(&out_dir).unwrap();
    let page = out_dir.join("report.html");
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.contains("<title>fixture (2 shards)</title>"));
    let verdict = self_test(&page, work.path());
    assert_eq!(
        verdict["lanes"],
        serde_json::json!(["shard 1/2", "shard 2/2"])
    );
    let total: usize = shards
        .iter()
        .map(|s| {
            serde_json::from_str::<Value>(s.report_json.as_deref().unwrap()).unwrap()["specs"]
                .as_array()
                .unwrap()
                .len()
        })
        .sum();
    assert_eq!(verdict["specs"].as_u64(), Some(total as u64));
    screenshot(&page, &work.path().join("merged.png"), work.path());
}

/// What nextest does: one process per spec (`--exact NAME`), several at once, all with the same
/// `NEXTEST_RUN_ID` and report directory. The page must show every process, packed into lanes.
#[test]
fn process_per_spec_report_packs_processes_into_lanes() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("reports");
    let run_id = format!("report-html-{}", std::process::id());
    let command = |args: &[&str]| {
        let mut c = Command::new(fixture());
        c.args(args)
            .env("KUBE_E2E_FIXTURE", "1")
            .env("FIXTURE_SUITE_HOOKS", "1")
            .env("FIXTURE_EVENTS", work.path().join("events"))
            .env("KUBE_E2E_REPORT_DIR", &dir)
            .env("NEXTEST_RUN_ID", &run_id)
            .env("RUST_BACKTRACE", "0")
            .env_remove("KUBE_E2E_SYNC_ID")
            .env_remove("KUBE_E2E_LABEL_FILTER")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        c
    };
    let list = command(&[
        "--list",
        "--format",
        "terse",
        "--focus",
        "^scheduling parallel|^table |^report ",
    ])
    .stdout(Stdio::piped())
    .output()
    .unwrap();
    let names: Vec<String> = String::from_utf8_lossy(&list.stdout)
        .lines()
        .map(|l| l.trim_end_matches(": test").to_string())
        .collect();
    assert_eq!(names.len(), 8, "{names:?}");
    for batch in names.chunks(3) {
        let children: Vec<_> = batch
            .iter()
            .map(|n| command(&["--exact", n]).spawn().unwrap())
            .collect();
        for mut c in children {
            let status = c.wait().unwrap();
            assert!(matches!(status.code(), Some(0 | 101)), "{status}");
        }
    }
    let recorded = std::fs::read_dir(dir.join("processes").join(&run_id))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "json"))
        })
        .count();
    assert_eq!(recorded, 8, "one report per process");
    let page = dir.join("report.html");
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(
        html.contains("<title>fixture-suite (8 processes)</title>"),
        "{}",
        &html[..400]
    );
    let verdict = self_test(&page, work.path());
    assert_eq!(verdict["specs"], 8);
    assert_eq!(verdict["failed"], 1);
    let lanes = verdict["lanes"].as_array().unwrap();
    assert!(
        (1..=3).contains(&lanes.len())
            && lanes
                .iter()
                .all(|l| l.as_str().unwrap().starts_with("process slot ")),
        "at most 3 processes ran at once: {lanes:?}"
    );
    screenshot(&page, &work.path().join("processes.png"), work.path());
}
