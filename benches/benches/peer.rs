//! The peer benchmark: the same ConfigMap specs written with `sigs.k8s.io/e2e-framework` v0.7.0
//! (`peer/e2e-framework/`, Go) and with kube-e2e (`peer/kube_e2e_suite.rs`), run against the
//! same cluster, whole processes timed.
//!
//! ```sh
//! KUBECONFIG=... cargo bench -p kube-e2e-benches --bench peer
//! ```
//!
//! Each spec gets a fresh namespace, waits for its `default` ServiceAccount, creates, gets,
//! updates and deletes a ConfigMap there, and has its namespace deletion issued (not awaited).
//! Rows, each run `PEER_BENCH_REPEAT` times (default 5), Go and Rust alternating:
//! 1. one spec per process;
//! 2. 50 specs in one process, serially (`-test.parallel 1` / `--test-threads 1`);
//! 3. 50 specs in one process, 8 at a time (`-test.parallel 8` / `--test-threads 8`);
//! 4. 50 specs, a process per spec, 8 at a time: `cargo nextest run -j 8` on a build it reuses
//!    (`--binaries-metadata`), and for Go 50 runs of the compiled test binary with
//!    `-test.run '^TestConfigMap$/^crud-NN$'`, started 8 at a time by this driver.
//!
//! Between runs the driver waits until the namespaces of the last run are gone, so no run pays
//! for another's cleanup. The cluster is the one in `KUBECONFIG`, else the local cluster
//! (started or reused, as the `local` provider does). Needs `go`; `cargo-nextest` is found or
//! installed as the runner's tests do. Prints a table and writes `<target>/peer-bench.json`.

use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, ListParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube_e2e::anyhow::{self, Context as _, Result, bail, ensure};
use kube_e2e::exec::nextest::{cargo_nextest, path_with};
use kube_e2e_cluster::{ClusterOptions, LocalCluster};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const SPECS: usize = 50;
const WORKERS: usize = 8;
/// Both suites name their namespaces after this base.
const NAMESPACE_PREFIX: &str = "peer";
const SETTLE_TIMEOUT: Duration = Duration::from_secs(180);

#[derive(Clone, Copy, Debug)]
enum Row {
    OneSpec,
    Serial,
    Parallel,
    ProcessPerSpec,
}

impl Row {
    const ALL: [Row; 4] = [
        Row::OneSpec,
        Row::Serial,
        Row::Parallel,
        Row::ProcessPerSpec,
    ];

    fn title(self) -> &'static str {
        match self {
            Row::OneSpec => "1 spec per process",
            Row::Serial => "50 specs, serial",
            Row::Parallel => "50 specs, 8 workers",
            Row::ProcessPerSpec => "50 specs, process per spec, 8 at a time",
        }
    }
}

#[derive(Clone, Copy, Debug)]
enum Side {
    E2eFramework,
    KubeE2e,
}

/// Everything the runs need, built before the first one.
struct Setup {
    kubeconfig: PathBuf,
    go_test: PathBuf,
    nextest: NextestBuild,
    workspace: PathBuf,
}

impl Setup {
    fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = Command::new(program);
        c.env("KUBECONFIG", &self.kubeconfig);
        c
    }

    fn go(&self, specs: usize, args: &[&str]) -> Command {
        let mut c = self.command(&self.go_test);
        c.env("PEER_SPECS", specs.to_string())
            .args(["-test.count", "1"])
            .args(args);
        c
    }

    fn suite(&self, specs: usize, args: &[&str]) -> Command {
        let mut c = self.command(&self.nextest.suite);
        c.env("KUBE_E2E_PEER_SPECS", specs.to_string()).args(args);
        c
    }

    fn nextest(&self) -> Command {
        let mut c = self.command(cargo());
        c.current_dir(&self.workspace)
            .env("PATH", &self.nextest.path)
            .env("KUBE_E2E_PEER_SPECS", SPECS.to_string())
            .args(["nextest", "run", "--binaries-metadata"])
            .arg(&self.nextest.binaries_metadata)
            .arg("--cargo-metadata")
            .arg(&self.nextest.cargo_metadata)
            .args(["-j", &WORKERS.to_string(), "--no-fail-fast"]);
        c
    }

    /// One timed run of `row` on `side`.
    fn run(&self, row: Row, side: Side) -> Result<Duration> {
        match (row, side) {
            (Row::OneSpec, Side::E2eFramework) => timed(&mut self.go(1, &[])),
            (Row::OneSpec, Side::KubeE2e) => timed(&mut self.suite(1, &[])),
            (Row::Serial, Side::E2eFramework) => {
                timed(&mut self.go(SPECS, &["-test.parallel", "1"]))
            }
            (Row::Serial, Side::KubeE2e) => timed(&mut self.suite(SPECS, &["--test-threads", "1"])),
            (Row::Parallel, Side::E2eFramework) => {
                timed(&mut self.go(SPECS, &["-test.parallel", &WORKERS.to_string()]))
            }
            (Row::Parallel, Side::KubeE2e) => {
                timed(&mut self.suite(SPECS, &["--test-threads", &WORKERS.to_string()]))
            }
            (Row::ProcessPerSpec, Side::E2eFramework) => self.go_process_per_spec(),
            (Row::ProcessPerSpec, Side::KubeE2e) => timed(&mut self.nextest()),
        }
    }

    /// 50 processes of the Go test binary, one subtest each, 8 running at any time.
    fn go_process_per_spec(&self) -> Result<Duration> {
        let next = AtomicUsize::new(0);
        let started = Instant::now();
        let results: Vec<Result<()>> = std::thread::scope(|s| {
            let workers: Vec<_> = (0..WORKERS)
                .map(|_| {
                    s.spawn(|| {
                        loop {
                            let i = next.fetch_add(1, Ordering::Relaxed);
                            if i >= SPECS {
                                return Ok(());
                            }
                            let filter = format!("^TestConfigMap$/^crud-{i:02}$");
                            timed(&mut self.go(SPECS, &["-test.run", &filter]))?;
                        }
                    })
                })
                .collect();
            workers
                .into_iter()
                .map(|w| w.join().expect("a worker thread panicked"))
                .collect()
        });
        let elapsed = started.elapsed();
        results.into_iter().collect::<Result<Vec<()>>>()?;
        Ok(elapsed)
    }
}

/// Runs `cmd` to completion and returns its wall time; a failure carries its output.
fn timed(cmd: &mut Command) -> Result<Duration> {
    let started = Instant::now();
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("starting {cmd:?}"))?;
    let elapsed = started.elapsed();
    if !out.status.success() {
        bail!(
            "{cmd:?} failed ({}):\n--- stdout\n{}\n--- stderr\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(elapsed)
}

/// Runs a build step, its stderr shown, and returns its stdout.
fn build_step(cmd: &mut Command) -> Result<String> {
    let out = cmd
        .stderr(Stdio::inherit())
        .output()
        .with_context(|| format!("starting {cmd:?}"))?;
    ensure!(out.status.success(), "{cmd:?} failed ({})", out.status);
    String::from_utf8(out.stdout).context("build output is not UTF-8")
}

fn cargo() -> OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}

/// The target directory this bench was built in: `<target>/<profile>/deps/peer-<hash>`.
fn target_dir() -> Result<PathBuf> {
    let exe = std::env::current_exe().context("finding this executable")?;
    exe.ancestors()
        .nth(3)
        .map(Path::to_path_buf)
        .context("this executable is not in <target>/<profile>/deps")
}

fn build_go(target: &Path) -> Result<PathBuf> {
    let out = target.join("peer-e2e-framework.test");
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("peer/e2e-framework");
    build_step(
        Command::new("go")
            .current_dir(&dir)
            .args(["test", "-c", "-o"])
            .arg(&out),
    )
    .context("building the e2e-framework suite (is `go` on PATH?)")?;
    Ok(out)
}

/// How `cargo nextest run` runs the kube-e2e suite without building it.
struct NextestBuild {
    /// `PATH` with `cargo-nextest` on it.
    path: OsString,
    binaries_metadata: PathBuf,
    cargo_metadata: PathBuf,
    /// The suite's test binary (rows 1–3 run it directly).
    suite: PathBuf,
}

/// Builds the kube-e2e suite in release mode (`go test -c` optimises too) through
/// `cargo nextest list`, keeping the metadata that lets `cargo nextest run` skip cargo.
fn build_suite(target: &Path, workspace: &Path) -> Result<NextestBuild> {
    let nextest = cargo_nextest().map_err(|e| anyhow::anyhow!("{e}"))?;
    let path = path_with(&nextest);
    let dir = target.join("peer-bench");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let listed = build_step(
        Command::new(cargo())
            .current_dir(workspace)
            .env("PATH", &path)
            .env("CARGO_TARGET_DIR", target)
            .args(["nextest", "list", "--release", "-p", "kube-e2e-benches"])
            .args(["--test", "peer-suite", "--list-type", "binaries-only"])
            .args(["--message-format", "json"]),
    )
    .context("building the kube-e2e suite with `cargo nextest list`")?;
    let binaries: serde_json::Value =
        serde_json::from_str(&listed).context("reading cargo nextest's binary list")?;
    let suite = binaries["rust-binaries"]
        .as_object()
        .and_then(|b| b.values().find(|b| b["binary-name"] == "peer-suite"))
        .and_then(|b| b["binary-path"].as_str())
        .map(PathBuf::from)
        .context("cargo nextest listed no `peer-suite` binary")?;
    let binaries_metadata = dir.join("binaries-metadata.json");
    std::fs::write(&binaries_metadata, listed)
        .with_context(|| format!("writing {}", binaries_metadata.display()))?;
    let metadata = build_step(Command::new(cargo()).current_dir(workspace).args([
        "metadata",
        "--format-version",
        "1",
        "--no-deps",
    ]))?;
    let cargo_metadata = dir.join("cargo-metadata.json");
    std::fs::write(&cargo_metadata, metadata)
        .with_context(|| format!("writing {}", cargo_metadata.display()))?;
    Ok(NextestBuild {
        path,
        binaries_metadata,
        cargo_metadata,
        suite,
    })
}

/// `KUBECONFIG`, else the local cluster's kubeconfig (the cluster started if it is not up).
fn kubeconfig(rt: &tokio::runtime::Runtime) -> Result<PathBuf> {
    if let Some(path) = std::env::var_os("KUBECONFIG").filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(path));
    }
    let options = ClusterOptions::new();
    let (cluster, _) = rt
        .block_on(LocalCluster::up(&options, &mut |l| {
            eprintln!("local cluster: {l}")
        }))
        .with_context(|| {
            format!(
                "starting the local cluster in {}",
                options.state_dir.display()
            )
        })?;
    Ok(cluster.kubeconfig_path())
}

/// Waits until no namespace of either suite is left, and returns how long that took.
fn settle(rt: &tokio::runtime::Runtime, namespaces: &Api<Namespace>) -> Result<Duration> {
    let started = Instant::now();
    rt.block_on(async {
        loop {
            let list = namespaces
                .list_metadata(&ListParams::default())
                .await
                .context("listing namespaces")?;
            let left = list
                .items
                .iter()
                .filter_map(|n| n.metadata.name.as_deref())
                .filter(|n| n.starts_with(NAMESPACE_PREFIX))
                .count();
            if left == 0 {
                return Ok(started.elapsed());
            }
            if started.elapsed() > SETTLE_TIMEOUT {
                bail!("{left} test namespace(s) still exist {SETTLE_TIMEOUT:?} after a run");
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    })
}

/// Median, minimum and maximum in seconds.
fn summary(samples: &[Duration]) -> (f64, f64, f64) {
    let mut s: Vec<f64> = samples.iter().map(Duration::as_secs_f64).collect();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    let median = if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    };
    (median, s[0], s[n - 1])
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn main() -> Result<()> {
    // `cargo bench` passes `--bench`; this driver takes no arguments.
    let repeat: usize = match std::env::var("PEER_BENCH_REPEAT") {
        Ok(v) => v
            .parse()
            .ok()
            .filter(|&n| n > 0)
            .with_context(|| format!("PEER_BENCH_REPEAT={v:?}: expected a positive number"))?,
        Err(_) => 5,
    };
    let rt = tokio::runtime::Runtime::new().context("starting a tokio runtime")?;
    let target = target_dir()?;
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .context("the benches crate has no parent directory")?
        .to_path_buf();

    eprintln!("peer: building the e2e-framework and kube-e2e suites");
    let go_test = build_go(&target)?;
    let nextest = build_suite(&target, &workspace)?;
    let kubeconfig = kubeconfig(&rt)?;
    let client = rt.block_on(async {
        let config = kube::Config::from_custom_kubeconfig(
            Kubeconfig::read_from(&kubeconfig)?,
            &KubeConfigOptions::default(),
        )
        .await?;
        anyhow::Ok(kube::Client::try_from(config)?)
    });
    let namespaces: Api<Namespace> = Api::all(
        client.with_context(|| format!("connecting with kubeconfig {}", kubeconfig.display()))?,
    );
    let setup = Setup {
        kubeconfig,
        go_test,
        nextest,
        workspace,
    };

    let load_before = load_average();
    eprintln!("peer: warming up (one untimed run of each side), load average {load_before}");
    settle(&rt, &namespaces)?;
    for side in [Side::E2eFramework, Side::KubeE2e] {
        setup.run(Row::OneSpec, side)?;
        settle(&rt, &namespaces)?;
    }
    let mut samples = vec![(Vec::new(), Vec::new()); Row::ALL.len()];
    let mut settling = Duration::ZERO;
    for r in 0..repeat {
        for (i, row) in Row::ALL.into_iter().enumerate() {
            // Alternate which side goes first, so neither always follows the other.
            let order = if (r + i) % 2 == 0 {
                [Side::E2eFramework, Side::KubeE2e]
            } else {
                [Side::KubeE2e, Side::E2eFramework]
            };
            for side in order {
                let took = setup
                    .run(row, side)
                    .with_context(|| format!("row `{}`, {side:?}", row.title()))?;
                eprintln!(
                    "peer: run {}/{repeat} {:<42} {side:?}: {took:.2?}",
                    r + 1,
                    row.title()
                );
                match side {
                    Side::E2eFramework => samples[i].0.push(took),
                    Side::KubeE2e => samples[i].1.push(took),
                }
                settling += settle(&rt, &namespaces)?;
            }
        }
    }
    let load_after = load_average();

    println!(
        "\n{:<42} {:>24} {:>24} {:>8}",
        "row", "e2e-framework", "kube-e2e", "ratio"
    );
    let mut rows = Vec::new();
    for (row, (go, rust)) in Row::ALL.into_iter().zip(&samples) {
        let (gm, gmin, gmax) = summary(go);
        let (rm, rmin, rmax) = summary(rust);
        let ratio = rm / gm;
        println!(
            "{:<42} {:>24} {:>24} {:>8.2}",
            row.title(),
            format!("{gm:.2}s ({gmin:.2}–{gmax:.2})"),
            format!("{rm:.2}s ({rmin:.2}–{rmax:.2})"),
            ratio
        );
        let side = |median, min, max, s: &Vec<Duration>| {
            serde_json::json!({
                "median_s": median, "min_s": min, "max_s": max,
                "samples_s": s.iter().map(Duration::as_secs_f64).collect::<Vec<_>>(),
            })
        };
        rows.push(serde_json::json!({
            "row": row.title(),
            "e2e_framework": side(gm, gmin, gmax, go),
            "kube_e2e": side(rm, rmin, rmax, rust),
            "ratio_kube_e2e_over_e2e_framework": ratio,
        }));
    }
    let runs = 2 * repeat * Row::ALL.len();
    println!(
        "\n{repeat} runs per row and side; load average {load_before} before, {load_after} after; \
         {:.1}s mean wait for namespaces to go between runs",
        settling.as_secs_f64() / runs as f64
    );
    let go_version = build_step(Command::new("go").arg("version")).unwrap_or_default();
    let report = serde_json::json!({
        "go": go_version.trim(),
        "repeat": repeat,
        "specs": SPECS,
        "workers": WORKERS,
        "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        "load_average_before": load_before,
        "load_average_after": load_after,
        "rows": rows,
    });
    let path = target.join("peer-bench.json");
    std::fs::write(&path, serde_json::to_string_pretty(&report)?)
        .with_context(|| format!("writing {}", path.display()))?;
    println!("written to {}", path.display());
    Ok(())
}
