//! `kube-e2e-cluster`: start, inspect and stop the local cluster; build its binaries.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::{Parser, Subcommand, ValueEnum};
use kube_e2e_cluster::assets::{Asset, AssetCache, KUBERNETES_VERSION};
use kube_e2e_cluster::images;
use kube_e2e_cluster::process::ProcessState;
use kube_e2e_cluster::report::{format_duration, shown_path};
use kube_e2e_cluster::{ClusterOptions, LocalCluster, NodeMode, UpOutcome, default_state_dir};

/// `println!` that ignores a closed stdout (`kube-e2e-cluster status | head`) instead of
/// panicking.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

/// A local Kubernetes cluster on this machine: a real control plane with nodes simulated by
/// kwok and, optionally, one real node; built from package registries.
#[derive(Debug, Parser)]
#[command(name = "kube-e2e-cluster", version)]
struct Cli {
    /// The cluster's state directory (PKI, kubeconfigs, logs, etcd data).
    #[arg(long, global = true, env = "KUBE_E2E_STATE_DIR")]
    state_dir: Option<PathBuf>,
    /// Where built binaries are cached (a directory per Kubernetes version inside).
    #[arg(long, global = true, env = "KUBE_E2E_CACHE_DIR")]
    cache_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Nodes {
    /// Nodes simulated by kwok.
    Simulated,
    /// A real kubelet with containerd.
    Real,
}

#[derive(Debug, clap::Args)]
struct UpArgs {
    /// The kind of nodes.
    #[arg(long, value_enum, default_value = "simulated")]
    nodes: Nodes,
    /// How many simulated nodes, at most 1000 (default: 2 with simulated nodes, 0 beside a
    /// real node).
    #[arg(long, allow_negative_numbers = true, value_parser = clap::value_parser!(u32).range(0..=1000))]
    simulated_nodes: Option<u32>,
    /// How many real nodes, 1 to 9 (with `--nodes real`; default 1): each has its own network
    /// namespace, containerd, kubelet and kube-proxy, and pods reach each other across them.
    #[arg(long, allow_negative_numbers = true, value_parser = clap::value_parser!(u32).range(1..=9))]
    real_nodes: Option<u32>,
    /// Seconds to wait for the cluster to become ready (1 to 86400: a deadline past a day is a
    /// typo, and one past the clock's range would end the process).
    #[arg(
        long,
        default_value_t = 180,
        allow_negative_numbers = true,
        value_parser = clap::value_parser!(u64).range(1..=86_400)
    )]
    timeout: u64,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Start the cluster, or report on it when it already runs (restarting exited components).
    Up(UpArgs),
    /// Stop the cluster and remove its state directory; does nothing when none runs.
    Down,
    /// Show each component's state; exits 1 when one has exited, 3 when no cluster exists.
    Status,
    /// Print the administrator kubeconfig's path (as the last line).
    Kubeconfig,
    /// Build missing binaries; with --verify, re-hash and check the cached ones.
    Assets {
        /// Check checksums and versions of the cached binaries.
        #[arg(long)]
        verify: bool,
        /// Include the real-node binaries (kubelet, kube-proxy, agnhost).
        #[arg(long)]
        all: bool,
    },
    /// Build the registry-free images (busybox, pause, and agnhost once its binary is built)
    /// and list their names; with a running real node, import them into its containerd and
    /// list what it holds.
    Images,
    /// Start a cluster, run a command with KUBECONFIG pointing at it, then stop the cluster
    /// (only if this command started it). Exits with the command's status.
    Run {
        #[command(flatten)]
        up: UpArgs,
        /// The command and its arguments.
        #[arg(trailing_var_arg = true, required = true)]
        command: Vec<String>,
    },
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(&e),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(2)
        }
    }
}

/// Prints clap's message, with each word of it longer than 200 characters cut (clap repeats a
/// pasted value whole), and naming the environment variable the bad value came from when the
/// flag was not given.
fn usage_error(e: &clap::Error) -> ExitCode {
    let mut text = e.render().to_string();
    let blamed = blamed_variable(e);
    if let Some(var) = &blamed {
        text = format!(
            "error: environment variable `{var}`: {}",
            text.trim_start_matches("error: ")
        );
    }
    if blamed.is_none() && text.split(' ').all(|w| w.chars().count() <= 200) {
        let _ = e.print();
    } else {
        let cut: Vec<String> = text
            .split(' ')
            .map(|w| match w.chars().count() {
                n if n > 200 => format!(
                    "{}…({n} characters)",
                    w.chars().take(200).collect::<String>()
                ),
                _ => w.to_string(),
            })
            .collect();
        eprint!("{}", cut.join(" "));
    }
    ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2))
}

/// The environment variable of the flag `e` is about, when that variable is set and the flag
/// is not on the command line.
fn blamed_variable(e: &clap::Error) -> Option<String> {
    use clap::CommandFactory as _;
    use clap::error::{ContextKind, ContextValue};
    let Some(ContextValue::String(shown)) = e.get(ContextKind::InvalidArg) else {
        return None;
    };
    let long = shown.trim_start_matches("--").split([' ', '=']).next()?;
    let flag = format!("--{long}");
    let given = std::env::args()
        .skip(1)
        .any(|a| a == flag || a.starts_with(&format!("{flag}=")));
    let var = Cli::command()
        .get_arguments()
        .find(|a| a.get_long() == Some(long))?
        .get_env()?
        .to_string_lossy()
        .into_owned();
    (!given && std::env::var_os(&var).is_some()).then_some(var)
}

fn options(cli: &Cli, up: &UpArgs) -> anyhow::Result<ClusterOptions> {
    if up.real_nodes.is_some() && matches!(up.nodes, Nodes::Simulated) {
        anyhow::bail!("--real-nodes needs --nodes real (the default is --nodes simulated)");
    }
    let mut options = ClusterOptions::new();
    options.state_dir = state_dir(cli);
    options.cache = cache(cli);
    options.nodes = match up.nodes {
        Nodes::Simulated => NodeMode::Simulated,
        Nodes::Real => NodeMode::Real,
    };
    options.simulated_nodes = up.simulated_nodes.unwrap_or(match up.nodes {
        Nodes::Simulated => 2,
        Nodes::Real => 0,
    });
    options.real_nodes = up.real_nodes.unwrap_or(1);
    options.ready_timeout = Duration::from_secs(up.timeout);
    Ok(options)
}

fn state_dir(cli: &Cli) -> PathBuf {
    cli.state_dir.clone().unwrap_or_else(default_state_dir)
}

fn cache(cli: &Cli) -> AssetCache {
    match &cli.cache_dir {
        Some(dir) => AssetCache::new(dir),
        None => AssetCache::at_default_location(),
    }
}

fn progress(line: &str) {
    eprintln!("kube-e2e-cluster: {line}");
}

async fn up(options: &ClusterOptions) -> anyhow::Result<(LocalCluster, bool)> {
    let started = Instant::now();
    let mut interrupts = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?;
    let mut terminations =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    // An interrupt abandons the start: a build still running is stopped (dropping the start
    // does that); components already started stay, for `down` or the next `up`.
    let mut report = |l: &str| progress(l);
    let (cluster, outcome) = tokio::select! {
        up = LocalCluster::up(options, &mut report) => up.with_context(|| {
            format!(
                "failed to start the cluster in {}",
                shown_path(&options.state_dir)
            )
        })?,
        _ = interrupts.recv() => anyhow::bail!(
            "interrupted while starting the cluster in {}; `down` removes what was started",
            options.state_dir.display()
        ),
        _ = terminations.recv() => anyhow::bail!(
            "terminated while starting the cluster in {}; `down` removes what was started",
            options.state_dir.display()
        ),
    };
    let fresh = matches!(outcome, UpOutcome::Started { .. });
    match outcome {
        UpOutcome::Started {
            api_ready,
            nodes_ready,
        } => progress(&format!(
            "cluster up in {} (API ready {}, nodes Ready {})",
            format_duration(started.elapsed()),
            format_duration(api_ready),
            format_duration(nodes_ready)
        )),
        UpOutcome::AlreadyRunning => progress("cluster already running; nothing to do"),
        UpOutcome::Restarted(names) => progress(&format!("restarted {}", names.join(", "))),
    }
    Ok((cluster, fresh))
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match &cli.command {
        Command::Up(args) => {
            let options = options(&cli, args)?;
            let (cluster, _) = up(&options).await?;
            print_status(&cluster);
            out!("{}", cluster.kubeconfig_path().display());
            Ok(ExitCode::SUCCESS)
        }
        Command::Down => {
            let dir = state_dir(&cli);
            let started = Instant::now();
            let stopped = LocalCluster::down(&dir)
                .with_context(|| format!("failed to stop the cluster in {}", shown_path(&dir)))?;
            if stopped.is_empty() {
                progress(&format!("no cluster running in {}", shown_path(&dir)));
            } else {
                progress(&format!(
                    "stopped {} and removed {} in {}",
                    stopped.join(", "),
                    dir.display(),
                    format_duration(started.elapsed())
                ));
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Status => {
            let dir = state_dir(&cli);
            let Some(cluster) = LocalCluster::load(&dir)? else {
                out!("no cluster in {}", shown_path(&dir));
                return Ok(ExitCode::from(3));
            };
            Ok(if print_status(&cluster) {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Command::Kubeconfig => {
            let dir = state_dir(&cli);
            let Some(cluster) = LocalCluster::load(&dir)? else {
                anyhow::bail!(
                    "no cluster in {}; start one with `kube-e2e-cluster up`",
                    shown_path(&dir)
                );
            };
            out!("{}", cluster.kubeconfig_path().display());
            Ok(ExitCode::SUCCESS)
        }
        Command::Assets { verify, all } => {
            let cache = cache(&cli);
            let wanted: &[Asset] = if *all { &Asset::ALL } else { &Asset::SIMULATED };
            cache.ensure(wanted, &mut |l| progress(l))?;
            if *verify {
                for line in cache.verify(wanted)? {
                    out!("{line}");
                }
            } else {
                for asset in wanted {
                    let record = cache.record(*asset);
                    let built = record
                        .map(|r| {
                            format!(
                                "{} (built in {})",
                                r.version,
                                format_duration(Duration::from_secs_f64(r.build_seconds))
                            )
                        })
                        .unwrap_or_default();
                    out!("{:<24} {built}", asset.binary_name());
                }
            }
            out!("{}", cache.bin_dir().display());
            Ok(ExitCode::SUCCESS)
        }
        Command::Images => {
            let cache = cache(&cli);
            // agnhost's image once its binary is built (`up --nodes real` or `assets --all`).
            let built = if cache.is_cached(Asset::Agnhost) {
                images::build_node_images(cache.root())?
            } else {
                images::build_standard(cache.root())?
            };
            for image in &built {
                out!(
                    "{:<8} {} {}",
                    image.image.short_name(),
                    &image.info.config_digest,
                    image.archive.display()
                );
                for name in &image.info.names {
                    out!("         {name}");
                }
            }
            let dir = state_dir(&cli);
            if let Some(cluster) = LocalCluster::load(&dir)?
                && cluster.state().network.is_some()
            {
                let ctr = std::path::Path::new("/usr/bin/ctr");
                for socket in cluster.containerd_sockets() {
                    for image in &built {
                        images::import(ctr, &socket, &image.archive)?;
                    }
                }
                let socket = cluster.containerd_socket();
                out!(
                    "imported into every real node's containerd; the first's ({}) holds:",
                    socket.display()
                );
                for name in images::list(ctr, &socket)? {
                    if !name.starts_with("sha256:") {
                        out!("  {name}");
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Run { up: args, command } => {
            let options = options(&cli, args)?;
            let (cluster, fresh) = up(&options).await?;
            let status = run_child(&cluster, command).await;
            if fresh {
                let started = Instant::now();
                LocalCluster::down(cluster.state_dir())?;
                progress(&format!(
                    "cluster down in {}",
                    format_duration(started.elapsed())
                ));
            }
            let code = status?;
            Ok(ExitCode::from(code))
        }
    }
}

/// Run `command` with KUBECONFIG set; interrupts go to the child, and this process stays
/// alive to stop the cluster afterwards.
async fn run_child(cluster: &LocalCluster, command: &[String]) -> anyhow::Result<u8> {
    let mut child = tokio::process::Command::new(&command[0])
        .args(&command[1..])
        .env("KUBECONFIG", cluster.kubeconfig_path())
        .env("KUBE_E2E_STATE_DIR", cluster.state_dir())
        .spawn()
        .with_context(|| format!("failed to run `{}`", command.join(" ")))?;
    let mut interrupts = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?;
    let mut terminations =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    loop {
        tokio::select! {
            status = child.wait() => {
                let status = status?;
                return Ok(status.code().map(|c| c.clamp(0, 255) as u8).unwrap_or(1));
            }
            _ = interrupts.recv() => progress("interrupted; waiting for the command to finish, then stopping the cluster"),
            _ = terminations.recv() => {
                progress("terminated; stopping the command and the cluster");
                let _ = child.start_kill();
            }
        }
    }
}

/// Print a line per component; returns whether all run.
fn print_status(cluster: &LocalCluster) -> bool {
    out!(
        "cluster {} (Kubernetes {KUBERNETES_VERSION}) at {}",
        cluster.state_dir().display(),
        cluster.server_url()
    );
    let mut healthy = true;
    for component in cluster.status() {
        match component.state {
            ProcessState::Running(pid) => out!("  {:<24} running (pid {pid})", component.name),
            ProcessState::Exited => {
                healthy = false;
                out!(
                    "  {:<24} EXITED; log {}",
                    component.name,
                    component.log.display()
                );
                for line in component.log_tail.unwrap_or_default().lines() {
                    out!("    | {line}");
                }
            }
        }
    }
    healthy
}
