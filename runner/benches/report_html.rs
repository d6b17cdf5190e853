#![allow(missing_docs)] // criterion_group! generates an undocumented public fn
//! `report.html` for a 10,000-spec run: how long the runner takes to build it (criterion), how
//! big it is, and how long headless Chromium takes to open it (goal: under 5 MB, open in under
//! 2 s).
//!
//! ```sh
//! cargo bench -p kube-e2e-runner --bench report_html
//! ```
//!
//! Measured on 2026-12-03 on the project's 2-core machine (shared with other builds), Chromium
//! 156: the page is 0.76 MB (its report.json 10.8 MB); it is ready 440 ms after navigation
//! starts (median of 5; 372 ms of script, 178 ms of it inflating the data), and Chromium's
//! `--dump-dom` takes 580 ms longer than for an empty page; building the page takes 450 ms
//! (release); the page's self-test passes at this size.
//!
//! The run is synthetic but shaped like a real e2e run: Kubernetes-style spec names with
//! labels, 8 workers, 3 to 5 steps and a log line per spec, one spec in 50 failing with a
//! multi-line message, one in 100 flaky, a few skipped, suite-level set-up and tear-down. The
//! page is written to `target/report-html-bench/report.html`. When `chromium` is on `PATH`
//! the bench also opens the page (see `open_in_chromium`): the page's own timing (from
//! navigation start to the end of its first render, parse of the file included) and
//! Chromium's wall time against an empty page's, and it runs the page's self-test at that
//! size.

use criterion::{Criterion, criterion_group, criterion_main};
use kube_e2e_runner::report::html::{self, HtmlRun};
use kube_e2e_runner::report::outcome::{
    Failure, FailureKind, HookTiming, RunFilter, RunReport, SpecResult, State,
};
use kube_e2e_runner::spec::context::Step;
use kube_e2e_runner::spec::info::HookKind;
use kube_e2e_runner::spec::tag::Labels;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const N: usize = 10_000;
const WORKERS: usize = 8;

/// A small deterministic generator, so every run of the bench measures the same report.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn synthetic_run(n: usize) -> RunReport {
    let mut rng = Lcg(17);
    let sigs = [
        "sig-storage",
        "sig-node",
        "sig-network",
        "sig-apps",
        "sig-api-machinery",
    ];
    let things = [
        "ConfigMap",
        "Secrets",
        "Pods",
        "Services",
        "Deployment",
        "StatefulSet",
        "CSI Volumes",
    ];
    let set_up = Duration::from_millis(4_200);
    let mut lanes = [set_up; WORKERS];
    let mut specs = Vec::with_capacity(n);
    for i in 0..n {
        let sig = sigs[i % sigs.len()];
        let thing = things[(i / 7) % things.len()];
        let mut labels = vec![sig.to_string()];
        let mut name = format!(
            "[{sig}] {thing} [Testpattern: Dynamic PV (default fs)] should be consumable from pods in volume with mappings and mode set case {i:05}"
        );
        if i % 3 == 0 {
            name.push_str(" [Conformance]");
            labels.push("Conformance".into());
        }
        if i % 10 == 0 {
            name.push_str(" [Slow]");
            labels.push("Slow".into());
        }
        let lane = (0..WORKERS).min_by_key(|&l| lanes[l]).unwrap_or(0);
        let start = lanes[lane] + Duration::from_millis(rng.below(5));
        let duration =
            Duration::from_millis(200 + rng.below(if i % 10 == 0 { 60_000 } else { 6_000 }));
        lanes[lane] = start + duration;
        let steps: Vec<Step> = (0..3 + rng.below(3))
            .map(|s| Step {
                text: format!("creating a pod in namespace e2e-{:05}-{s}", i),
                at: duration.mul_f64(s as f64 / 5.0),
            })
            .collect();
        let mut failure = None;
        let mut state = State::Passed;
        let mut skip_reason = None;
        if i % 50 == 7 {
            state = State::Failed;
            failure = Some(Failure {
                phase: HookKind::Body,
                location: "storage-suite/src/testsuites/subpath.rs:412".into(),
                kind: FailureKind::Error,
                message: format!(
                    "timed out after 5m0s waiting for pod pod-subpath-{i:05} to be Running\n  last seen: phase Pending, container test-container waiting: ContainerCreating\n  events: FailedMount MountVolume.SetUp failed for volume \"pvc-{i:05}\""
                ),
                step: steps.last().map(|s| s.text.clone()),
                also: Vec::new(),
            });
        } else if i % 97 == 5 {
            state = State::Skipped;
            skip_reason = Some("driver does not support the Block volume mode".into());
        }
        let flaky = i % 100 == 3;
        specs.push(SpecResult {
            name,
            labels: Labels::new(labels),
            location: format!("storage-suite/src/testsuites/volumes.rs:{}", 100 + i % 900),
            state,
            skip_reason,
            duration,
            attempts: if flaky { 2 } else { 1 },
            flaky,
            failure,
            earlier_failures: Vec::new(),
            steps,
            log: vec![format!("namespace e2e-{i:05} created")],
            start: Some(start),
            attempt_start: Duration::ZERO,
            lane: Some(lane),
            artifacts: Vec::new(),
        });
    }
    let end = lanes.iter().max().copied().unwrap_or_default();
    let hook = |kind, name: &str, start, duration| HookTiming {
        kind,
        name: name.into(),
        start,
        duration,
        lane: None,
        error: None,
    };
    RunReport {
        suite: "e2e".into(),
        seed: Some(1234),
        interrupted: None,
        duration: end - set_up,
        specs,
        started_at: 1_780_000_000.0,
        specs_start: set_up,
        workers: WORKERS,
        process: 1,
        filter: RunFilter {
            label_filter: Some("Conformance || sig-storage".into()),
            ..RunFilter::default()
        },
        hooks: vec![
            hook(
                HookKind::BeforeSuite,
                "kube_e2e::Framework",
                Duration::ZERO,
                set_up,
            ),
            hook(
                HookKind::AfterSuite,
                "kube_e2e::Framework",
                end,
                Duration::from_millis(900),
            ),
        ],
        report_dir: None,
    }
}

fn page(report: &RunReport) -> String {
    let run = HtmlRun::from_report(report, Path::new(".")).expect("report converts");
    html::render(&report.suite, &[run])
}

fn on_path(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// Chromium's `--dump-dom` of `url`, its wall time, and the body's `data-*` timings.
fn dump(chromium: &Path, url: &str, profile: &Path, extra: &[&str]) -> (String, Duration) {
    // The DOM of a large page is megabytes: into a file, as a pipe nobody reads would fill up
    // and stall the browser.
    let out_path = profile.with_extension("dom");
    let out_file = std::fs::File::create(&out_path).expect("DOM output file");
    let started = Instant::now();
    let mut child = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--window-size=1400,1000")
        .args(extra)
        .arg("--dump-dom")
        .arg(url)
        .stdout(out_file)
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("chromium starts");
    let deadline = Instant::now() + Duration::from_secs(120);
    while child.try_wait().ok().flatten().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("chromium did not finish within 120 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let wall = started.elapsed();
    let dom = std::fs::read(&out_path).expect("DOM output");
    (String::from_utf8_lossy(&dom).into_owned(), wall)
}

fn attr(dom: &str, name: &str) -> Option<f64> {
    let key = format!("{name}=\"");
    let at = dom.find(&key)? + key.len();
    dom[at..].split('"').next()?.parse().ok()
}

/// Opens the page five times (median) and an empty page as the browser's own start-up cost.
fn open_in_chromium(path: &Path) {
    let Some(chromium) = on_path("chromium") else {
        println!("chromium is not on PATH: open time not measured (apt-get install chromium)");
        return;
    };
    let dir = path.parent().expect("page directory");
    let empty = dir.join("empty.html");
    std::fs::write(&empty, "<!DOCTYPE html><title>empty</title>").expect("write empty page");
    let profile = dir.join("profile");
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (mut load, mut render, mut decode) = (vec![], vec![], vec![]);
    let (mut wall, mut base) = (vec![], vec![]);
    for _ in 0..5 {
        let (dom, w) = dump(
            &chromium,
            &format!("file://{}", path.display()),
            &profile,
            &[],
        );
        load.push(attr(&dom, "data-load-ms").expect("the page recorded its load time"));
        render.push(attr(&dom, "data-render-ms").expect("the page recorded its render time"));
        decode.push(attr(&dom, "data-decode-ms").expect("the page recorded its decode time"));
        wall.push(w.as_secs_f64() * 1000.0);
        let (_, b) = dump(
            &chromium,
            &format!("file://{}", empty.display()),
            &profile,
            &[],
        );
        base.push(b.as_secs_f64() * 1000.0);
    }
    println!(
        "open in headless Chromium (median of 5): page ready {:.0} ms after navigation start \
         (script {:.0} ms, of which decoding the data {:.0} ms); chromium wall {:.0} ms vs \
         {:.0} ms for an empty page (+{:.0} ms)",
        median(load),
        median(render),
        median(decode),
        median(wall.clone()),
        median(base.clone()),
        median(wall) - median(base)
    );
    let (dom, _) = dump(
        &chromium,
        &format!("file://{}#selftest", path.display()),
        &profile,
        &["--virtual-time-budget=5000"],
    );
    let verdict = dom
        .split("<pre id=\"selftest\">")
        .nth(1)
        .and_then(|r| r.split("</pre>").next())
        .unwrap_or("no self-test result");
    let ok = verdict.starts_with("{\"ok\":true");
    println!(
        "self-test at 10,000 specs: {}",
        if ok { "passed" } else { verdict }
    );
}

fn bench(c: &mut Criterion) {
    let report = synthetic_run(N);
    let html = page(&report);
    let json = serde_json::to_vec_pretty(&report).expect("report.json");
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/report-html-bench");
    std::fs::create_dir_all(&dir).expect("bench output directory");
    let path = dir.join("report.html");
    std::fs::write(&path, &html).expect("write report.html");
    println!(
        "report.html for {N} specs: {:.2} MB (report.json: {:.2} MB) at {}",
        html.len() as f64 / 1e6,
        json.len() as f64 / 1e6,
        path.display()
    );
    open_in_chromium(&path.canonicalize().expect("page path"));
    let mut g = c.benchmark_group("report_html");
    g.sample_size(10);
    g.bench_function("build report.html, 10k specs", |b| {
        b.iter(|| page(std::hint::black_box(&report)).len())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
