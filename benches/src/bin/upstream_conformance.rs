//! `upstream-conformance`: upstream's own conformance specs on the local cluster.
//!
//! Builds upstream's `e2e.test` (`go test -c k8s.io/kubernetes/test/e2e`, the release the
//! cluster runs) and the ginkgo CLI from the Go module proxy, cached beside the cluster's
//! binaries; starts a local cluster of its own with real nodes (state in
//! `/tmp/kube-e2e-upstream`, short for unix socket paths); runs the specs that match `--focus`
//! (default `[Conformance]`) in parallel with ginkgo; writes ginkgo's JUnit and
//! `summary.md` into `--out`: specs run, passed, failed, skipped at run time, and each
//! failure with its cause class — image missing, needs more nodes, timed out, or other (a
//! cluster or test bug to look into). Stops the cluster unless `--keep-cluster`.
//!
//! ```text
//! cargo run --release -p kube-e2e-benches --bin upstream-conformance -- --out /tmp/conformance
//! ```

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use clap::Parser;
use kube_e2e_benches::junit::{Outcome, classify, parse_junit};
use kube_e2e_cluster::{AssetCache, ClusterOptions, LocalCluster, NodeMode};

/// The wrapper module that builds `e2e.test` and ginkgo.
const MODULE: &[(&str, &str)] = &[
    ("go.mod", include_str!("../../upstream/go.mod")),
    ("go.sum", include_str!("../../upstream/go.sum")),
    ("tools.go", include_str!("../../upstream/tools.go")),
];

/// Upstream's conformance specs on the local cluster.
#[derive(Debug, Parser)]
#[command(name = "upstream-conformance")]
struct Args {
    /// Run the specs whose full text matches this regular expression.
    #[arg(long, default_value = r"\[Conformance\]")]
    focus: String,
    /// Leave out the specs whose full text matches this regular expression.
    #[arg(long, default_value = "")]
    skip: String,
    /// Parallel ginkgo processes (`[Serial]` specs run alone at the end).
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=32))]
    procs: u32,
    /// Real nodes of the cluster.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=9))]
    real_nodes: u32,
    /// Where the JUnit, ginkgo's output and `summary.md` go.
    #[arg(long, default_value = "upstream-conformance")]
    out: PathBuf,
    /// The cluster's state directory (kept short: unix socket paths are limited).
    #[arg(long, default_value = "/tmp/kube-e2e-upstream")]
    state_dir: PathBuf,
    /// Leave the cluster running afterwards.
    #[arg(long)]
    keep_cluster: bool,
    /// Overall limit for the ginkgo run.
    #[arg(long, default_value = "3h")]
    timeout: String,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    regex::Regex::new(&args.focus).with_context(|| format!("--focus `{}`", args.focus))?;
    regex::Regex::new(&args.skip).with_context(|| format!("--skip `{}`", args.skip))?;
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating --out {}", args.out.display()))?;
    let out = std::fs::canonicalize(&args.out)?;
    let cache = AssetCache::at_default_location();
    let (e2e, ginkgo) = build(&cache)?;

    let mut options = ClusterOptions::new()
        .state_dir(&args.state_dir)
        .simulated_nodes(0)
        .real_nodes(args.real_nodes);
    options.nodes = NodeMode::Real;
    options.ready_timeout = Duration::from_secs(600);
    let started = Instant::now();
    let (cluster, _) = LocalCluster::up(&options, &mut |l| eprintln!("cluster: {l}"))
        .await
        .context("starting the local cluster")?;
    eprintln!("cluster up in {:.0}s", started.elapsed().as_secs_f64());
    let result = run_ginkgo(&args, &out, &e2e, &ginkgo, &cluster.kubeconfig_path());
    if !args.keep_cluster {
        LocalCluster::down(&args.state_dir).context("stopping the local cluster")?;
    }
    let took = result?;
    let junit = out.join("junit.xml");
    let text = std::fs::read_to_string(&junit)
        .with_context(|| format!("reading ginkgo's report {}", junit.display()))?;
    let summary = summarize(&parse_junit(&text), took, &args);
    std::fs::write(out.join("summary.md"), &summary)?;
    println!("{summary}");
    Ok(())
}

/// Builds (or finds cached) `e2e.test` and ginkgo; their paths.
fn build(cache: &AssetCache) -> anyhow::Result<(PathBuf, PathBuf)> {
    let dir = cache.root().join("upstream");
    let src = dir.join("src");
    std::fs::create_dir_all(&src)?;
    for (name, text) in MODULE {
        std::fs::write(src.join(name), text)?;
    }
    let (e2e, ginkgo) = (dir.join("e2e.test"), dir.join("ginkgo"));
    let go = |args: &[&str]| -> anyhow::Result<()> {
        eprintln!("go {} (minutes when cold)", args.join(" "));
        let status = Command::new("go")
            .args(args)
            .current_dir(&src)
            .env("GOTOOLCHAIN", "local")
            .env("GOFLAGS", "-mod=mod")
            .env("CGO_ENABLED", "0")
            .stdin(Stdio::null())
            .status()
            .context("running go (is Go installed?)")?;
        if !status.success() {
            bail!("go {} failed ({status})", args.join(" "));
        }
        Ok(())
    };
    if !e2e.is_file() {
        let target = e2e.display().to_string();
        go(&["test", "-c", "-o", &target, "k8s.io/kubernetes/test/e2e"])?;
    }
    if !ginkgo.is_file() {
        let target = ginkgo.display().to_string();
        go(&["build", "-o", &target, "github.com/onsi/ginkgo/v2/ginkgo"])?;
    }
    Ok((e2e, ginkgo))
}

/// Runs ginkgo over `e2e` against the cluster; how long it took.
fn run_ginkgo(
    args: &Args,
    out: &Path,
    e2e: &Path,
    ginkgo: &Path,
    kubeconfig: &Path,
) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let log = std::fs::File::create(out.join("ginkgo.log"))?;
    let mut command = Command::new(ginkgo);
    command
        .arg(format!("--procs={}", args.procs))
        .arg(format!("--focus={}", args.focus))
        .arg(format!("--timeout={}", args.timeout))
        .arg("--junit-report=junit.xml")
        .arg(format!("--output-dir={}", out.display()))
        .arg("--no-color");
    if !args.skip.is_empty() {
        command.arg(format!("--skip={}", args.skip));
    }
    command
        .arg(e2e)
        .arg("--")
        .arg(format!("--kubeconfig={}", kubeconfig.display()))
        .arg("--provider=skeleton")
        .arg(format!("--report-dir={}", out.join("e2e").display()))
        .arg("--disable-log-dump")
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log);
    eprintln!(
        "running ginkgo ({} processes, focus {:?}); output in {}",
        args.procs,
        args.focus,
        out.join("ginkgo.log").display()
    );
    let status = command.status().context("running ginkgo")?;
    eprintln!(
        "ginkgo ended ({status}) after {:.0}s",
        started.elapsed().as_secs_f64()
    );
    Ok(started.elapsed())
}

/// The Markdown summary: counts, then each failure with its cause class.
fn summarize(cases: &[kube_e2e_benches::junit::Case], took: Duration, args: &Args) -> String {
    let count = |o: Outcome| cases.iter().filter(|c| c.outcome == o).count();
    let (passed, failed) = (count(Outcome::Passed), count(Outcome::Failed));
    let skipped = count(Outcome::SkippedAtRunTime);
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# Upstream conformance on the local cluster\n\nfocus `{}`, skip `{}`, {} ginkgo processes, {} real nodes; wall time {:.0} min\n",
        args.focus,
        args.skip,
        args.procs,
        args.real_nodes,
        took.as_secs_f64() / 60.0
    );
    let _ = writeln!(
        s,
        "| ran | passed | failed | skipped at run time |\n|---|---|---|---|\n| {} | {passed} | {failed} | {skipped} |\n",
        passed + failed
    );
    if failed > 0 {
        let _ = writeln!(s, "| failed spec | cause class | message |\n|---|---|---|");
        for case in cases.iter().filter(|c| c.outcome == Outcome::Failed) {
            let first: String = case
                .message
                .lines()
                .next()
                .unwrap_or_default()
                .chars()
                .take(160)
                .collect();
            let _ = writeln!(
                s,
                "| {} | {} | {} |",
                case.name.replace('|', "\\|"),
                classify(&case.message),
                first.replace('|', "\\|")
            );
        }
    }
    s
}
