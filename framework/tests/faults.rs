//! The fault matrix: each cell runs the `cluster-fixture` example as a child process again and
//! again while something goes wrong — a spec fails, panics or outlives its timeout, the run
//! gets SIGINT or SIGTERM at a random moment, the API server is killed, etcd is restarted,
//! kubelet is killed under a running pod, or the cluster cannot be reached at all — and after
//! every run asserts that nothing of it is left: no namespace or cluster-scoped object with its
//! run label once the deletions have settled, no process of the run (the child and anything it
//! started carry a marker in their environment), no new mount under the cluster's state
//! directory, the expected exit code, and no panic or hang (each child is killed after a hard
//! timeout and counted as a crash).
//!
//! Needs root and what the local cluster needs: the test starts a cluster of its own (one real
//! node, two simulated ones) in a temporary state directory and stops it at the end, also when
//! an assertion fails. Any other cluster on the machine is left alone.
//!
//! `KUBE_E2E_FAULT_REPEAT` sets the runs per cell (default 5); `KUBE_E2E_FAULT_SEED` replays the
//! random signal and disruption times of an earlier run (the seed is printed first). A soak:
//! `KUBE_E2E_FAULT_REPEAT=20 cargo test -p kube-e2e --test faults -- --nocapture`.
//! `KUBE_E2E_FAULT_CELLS` (comma-separated cell names, as printed in the summary, for example
//! `etcd restarted,SIGINT`) runs only those cells.

mod support;

use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Pod};
use kube::api::{Api, PostParams};
use kube_e2e::session::random_run_id;
use kube_e2e_cluster::node::real::mounts_under;
use kube_e2e_cluster::process::ProcessState;
use kube_e2e_cluster::{ClusterOptions, LocalCluster, NodeMode, readiness};
use nix::sys::signal::Signal;
use rand::{RngExt as _, SeedableRng as _};
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};
use support::{fixture, labelled, try_leftovers};

/// A child still running after this is killed and counted as a hang.
const HARD_TIMEOUT: Duration = Duration::from_secs(180);
/// How long a run's namespaces, objects, processes and mounts get to go away after it ended.
const SETTLE: Duration = Duration::from_secs(120);
/// The same after the control plane lost a component: kube-controller-manager's controllers
/// (namespace deletion, PVC protection) back off exponentially while the API server is away,
/// and a namespace's deletion can then take minutes (seen: up to about 4 in a 20-run soak). The
/// bound is upstream's own for a namespace's deletion (`DefaultNamespaceDeletionTimeout`).
const SETTLE_AFTER_OUTAGE: Duration = Duration::from_secs(600);
/// Environment variable naming the run, inherited by everything the child starts.
const MARKER: &str = "KUBE_E2E_FAULT_RUN";

const FAILS: &str = "Fixture fails on purpose";
const PANICS: &str = "Fixture panics on purpose";
const OUTLIVES: &str = "Fixture outlives its timeout";
const RIDES_OUT: &str = "Fixture rides out a control-plane restart";
const KUBELET_AWAY: &str = "Fixture runs a pod on the real node while its kubelet goes away";
const PANIC_TEXT: &str = "the fixture panics on purpose";

/// The test's own cluster, stopped when dropped.
struct OwnCluster {
    state_dir: PathBuf,
    options: ClusterOptions,
    _base: tempfile::TempDir,
}

impl OwnCluster {
    async fn up() -> Self {
        let base = tempfile::tempdir().expect("temp dir");
        let state_dir = base.path().join("cluster");
        let mut options = ClusterOptions::new()
            .state_dir(&state_dir)
            .simulated_nodes(2);
        options.nodes = NodeMode::Real;
        options.ready_timeout = Duration::from_secs(300);
        let own = OwnCluster {
            state_dir,
            options,
            _base: base,
        };
        if let Err(e) = LocalCluster::up(&own.options, &mut |l| eprintln!("{l}")).await {
            panic!("the fault matrix's cluster did not start: {e}");
        }
        own
    }

    fn load(&self) -> LocalCluster {
        LocalCluster::load(&self.state_dir)
            .expect("the cluster's state")
            .expect("the cluster is up")
    }

    fn kubeconfig(&self) -> PathBuf {
        self.load().kubeconfig_path()
    }

    async fn client(&self) -> kube::Client {
        self.load().client().await.expect("a client")
    }

    /// Components that are not running (after a disruption, none should be).
    fn exited(&self) -> Vec<String> {
        self.load()
            .status()
            .into_iter()
            .filter(|s| s.state == ProcessState::Exited)
            .map(|s| s.name)
            .collect()
    }

    /// Kills component `name` with SIGKILL (its record's process group, by PID) and waits
    /// until it has exited; returns its PID.
    fn kill(&self, name: &str) -> i32 {
        let cluster = self.load();
        let record = cluster.component(name).expect("component").clone();
        record.signal(Signal::SIGKILL).expect("SIGKILL");
        let deadline = Instant::now() + Duration::from_secs(10);
        while record.state() != ProcessState::Exited {
            assert!(Instant::now() < deadline, "{name} survived SIGKILL");
            std::thread::sleep(Duration::from_millis(20));
        }
        record.pid
    }

    fn start(&self, name: &str) {
        let started = self.load().start_component(name).expect("start");
        assert!(started, "{name} was still running");
    }

    /// Stops component `name` the way `down` does (SIGTERM, SIGKILL after a grace period).
    fn stop(&self, name: &str) {
        self.load().stop_component(name).expect("stop");
    }

    /// Waits until the API server answers `/readyz` (which includes etcd).
    async fn wait_ready(&self) {
        let cluster = self.load();
        let client = cluster.client().await.expect("client");
        let deadline = Instant::now() + Duration::from_secs(120);
        readiness::wait_for_readyz(&client, &cluster.state().components, deadline)
            .await
            .expect("the API server is ready again");
    }
}

impl Drop for OwnCluster {
    fn drop(&mut self) {
        if let Err(e) = LocalCluster::down(&self.state_dir) {
            eprintln!("stopping the fault matrix's cluster failed: {e}");
        }
    }
}

/// How a run must end.
#[derive(Clone, Copy, Debug)]
enum Expect {
    Code(i32),
    /// Exit 130, or killed by the signal itself when it came before the handlers were set.
    Interrupted(Signal),
}

/// One fixture child.
struct Launch {
    id: String,
    child: Child,
    output: PathBuf,
    started: Instant,
}

impl Launch {
    fn start(logs: &Path, id: &str, kubeconfig: &Path, state_dir: &Path, args: &[&str]) -> Self {
        let output = logs.join(format!("{id}.log"));
        let file = std::fs::File::create(&output).expect("log file");
        let child = Command::new(fixture())
            .args(args)
            .args(["--framework.run-id", id])
            .env("KUBECONFIG", kubeconfig)
            .env("KUBE_E2E_STATE_DIR", state_dir)
            .env(MARKER, id)
            .env("RUST_BACKTRACE", "0")
            .env_remove("KUBE_E2E_FOCUS")
            .env_remove("KUBE_E2E_LABEL_FILTER")
            .stdin(Stdio::null())
            .stdout(file.try_clone().expect("log file"))
            .stderr(file)
            .spawn()
            .expect("the fixture starts");
        Launch {
            id: id.to_string(),
            child,
            output,
            started: Instant::now(),
        }
    }

    fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    fn signal(&self, signal: Signal) {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::kill(pid, signal);
    }

    /// Waits for the child, killing it after [`HARD_TIMEOUT`]; `None` means it hung.
    async fn finish(mut self) -> Finished {
        let status = loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                break Some(status);
            }
            if self.started.elapsed() > HARD_TIMEOUT {
                self.signal(Signal::SIGKILL);
                let _ = self.child.wait();
                break None;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        Finished {
            status,
            took: self.started.elapsed(),
            output: std::fs::read_to_string(&self.output).unwrap_or_default(),
        }
    }
}

struct Finished {
    status: Option<ExitStatus>,
    took: Duration,
    output: String,
}

/// What a cell counted.
#[derive(Default)]
struct Tally {
    runs: u32,
    leaks: u32,
    crashes: u32,
    wrong_exits: u32,
    slowest: Duration,
    /// The longest a run's namespaces and objects took to go after the run ended.
    slowest_cleanup: Duration,
    /// The cell's runs and its wait for mounts to go.
    wall: Duration,
}

/// Problems found by one run's checks, by kind.
#[derive(Default)]
struct Problems {
    leaks: Vec<String>,
    crash: Option<String>,
    wrong_exit: Option<String>,
    other: Vec<String>,
}

struct Matrix {
    cluster: OwnCluster,
    client: kube::Client,
    kubeconfig: PathBuf,
    logs: tempfile::TempDir,
    rng: ChaCha8Rng,
    seed: u64,
    repeat: u32,
    tallies: Vec<(&'static str, Tally)>,
    failures: Vec<String>,
    pending: Vec<Pending>,
    /// Cells to run (`KUBE_E2E_FAULT_CELLS`, comma-separated names); all when `None`.
    cells: Option<Vec<String>>,
}

/// A run whose namespaces and objects are still being checked for.
struct Pending {
    cell: &'static str,
    id: String,
    tail: String,
    settle: Duration,
    leftovers: tokio::task::JoinHandle<(Vec<String>, Duration)>,
}

impl Matrix {
    fn launch(&self, id: &str, args: &[&str]) -> Launch {
        Launch::start(
            self.logs.path(),
            id,
            &self.kubeconfig,
            &self.cluster.state_dir,
            args,
        )
    }

    fn mounts(&self) -> BTreeSet<PathBuf> {
        mounts_under(&self.cluster.state_dir).into_iter().collect()
    }

    /// Checks how one run ended and that no process of it is left, records it under `cell`,
    /// and starts the check for its namespaces and objects.
    async fn record(
        &mut self,
        cell: &'static str,
        id: &str,
        finished: Finished,
        expect: Expect,
        mut problems: Problems,
    ) {
        let output = &finished.output;
        match finished.status {
            None => {
                problems.crash = Some(format!(
                    "hung: still running after {}s, killed",
                    HARD_TIMEOUT.as_secs()
                ))
            }
            Some(status) => {
                use std::os::unix::process::ExitStatusExt as _;
                let ok = match expect {
                    Expect::Code(code) => status.code() == Some(code),
                    Expect::Interrupted(signal) => {
                        status.code() == Some(130) || status.signal() == Some(signal as i32)
                    }
                };
                if let Some(signal) = status.signal() {
                    if !ok {
                        problems.crash = Some(format!("killed by signal {signal}"));
                    }
                } else if !ok {
                    problems.wrong_exit =
                        Some(format!("exit status {status}, expected {expect:?}"));
                }
            }
        }
        // A panic is a crash unless it is the one the fixture makes on purpose.
        let unexpected_panic = output.match_indices("panicked at").any(|(at, _)| {
            let after: String = output[at..].chars().take(400).collect();
            !after.contains(PANIC_TEXT)
        });
        if unexpected_panic && problems.crash.is_none() {
            problems.crash = Some("a panic in the output".into());
        }
        problems.leaks.extend(
            settled(Duration::from_secs(10), || processes_of(id))
                .await
                .iter()
                .map(|p| format!("process {p}")),
        );
        let exited = self.cluster.exited();
        if !exited.is_empty() {
            problems.other.push(format!(
                "cluster components exited after the run: {exited:?}"
            ));
            let _ = LocalCluster::up(&self.cluster.options, &mut |l| eprintln!("{l}")).await;
        }

        let tally = self.tally(cell);
        tally.runs += 1;
        tally.slowest = tally.slowest.max(finished.took);
        tally.leaks += u32::from(!problems.leaks.is_empty());
        tally.crashes += u32::from(problems.crash.is_some());
        tally.wrong_exits += u32::from(problems.wrong_exit.is_some());
        let mut found: Vec<String> = problems
            .leaks
            .iter()
            .map(|l| format!("leak: {l}"))
            .collect();
        found.extend(problems.crash.map(|c| format!("crash: {c}")));
        found.extend(problems.wrong_exit);
        found.extend(problems.other);
        eprintln!(
            "[{cell}] run {id}: {} in {:.1}s{}",
            finished
                .status
                .map_or("hung".to_string(), |s| s.to_string()),
            finished.took.as_secs_f64(),
            if found.is_empty() {
                String::new()
            } else {
                format!(" — {}", found.join("; "))
            }
        );
        let tail = tail_of(output);
        if !found.is_empty() {
            self.fail(cell, id, &found.join("; "), &tail);
        }
        // The run's namespaces and objects go while the next runs go on; `settle` collects.
        let (client, run) = (self.client.clone(), id.to_string());
        let settle = match cell {
            "API server killed" | "etcd restarted" => SETTLE_AFTER_OUTAGE,
            _ => SETTLE,
        };
        self.pending.push(Pending {
            cell,
            id: id.to_string(),
            tail,
            settle,
            leftovers: tokio::spawn(async move { settled_leftovers(&client, &run, settle).await }),
        });
    }

    /// Whether cell `name` is to run.
    fn wants(&self, name: &str) -> bool {
        self.cells
            .as_ref()
            .is_none_or(|cells| cells.iter().any(|c| c.eq_ignore_ascii_case(name)))
    }

    fn fail(&mut self, cell: &str, id: &str, what: &str, tail: &str) {
        self.failures.push(format!(
            "[{cell}] run {id} (seed {}): {what}\n--- output (last 40 lines) ---\n{tail}",
            self.seed
        ));
        // Leave nothing to the next runs.
        let _ = Command::new(fixture())
            .args(["--framework.cleanup", id])
            .env("KUBECONFIG", &self.kubeconfig)
            .output();
    }

    fn tally(&mut self, cell: &'static str) -> &mut Tally {
        let at = match self.tallies.iter().position(|(name, _)| *name == cell) {
            Some(at) => at,
            None => {
                self.tallies.push((cell, Tally::default()));
                self.tallies.len() - 1
            }
        };
        &mut self.tallies[at].1
    }

    /// Ends a cell that began at `started`: waits (up to 60 s) for the mounts under the state
    /// directory to be `mounts_before` again — kubelet unmounts a deleted pod's volumes within
    /// seconds of its deletion. The runs' leftover checks go on beside the next cells.
    async fn settle(
        &mut self,
        cell: &'static str,
        mounts_before: &BTreeSet<PathBuf>,
        started: Instant,
    ) {
        let new_mounts = settled(Duration::from_secs(60), || {
            self.mounts()
                .difference(mounts_before)
                .map(|m| m.display().to_string())
                .collect()
        })
        .await;
        if !new_mounts.is_empty() {
            self.tally(cell).leaks += 1;
            let what = format!("leak: mounts left under the state directory: {new_mounts:?}");
            self.fail(cell, "(all runs of the cell)", &what, "");
        }
        self.tally(cell).wall = started.elapsed();
    }

    /// Waits for the leftover checks of every run so far.
    async fn collect_leftovers(&mut self) {
        for pending in std::mem::take(&mut self.pending) {
            let (left, took) = pending.leftovers.await.expect("the leftover check");
            let tally = self.tally(pending.cell);
            tally.slowest_cleanup = tally.slowest_cleanup.max(took);
            if !left.is_empty() {
                eprintln!(
                    "[{}] run {}: left behind {left:?}",
                    pending.cell, pending.id
                );
                self.tally(pending.cell).leaks += 1;
                let states = namespace_states(&self.client, &left).await;
                let said = controller_lines(&self.cluster.state_dir, &left);
                let what = format!(
                    "leak: left behind after {}s: {left:?}; namespaces: {states}\n\
                     --- what kube-controller-manager logged about them ---\n{said}",
                    pending.settle.as_secs()
                );
                self.fail(pending.cell, &pending.id, &what, &pending.tail);
            }
        }
    }

    /// Runs `args` [`Matrix::repeat`] times with nothing else going wrong, checking each run.
    async fn plain(&mut self, cell: &'static str, args: &[&str], expect: Expect) {
        let (before, started) = (self.mounts(), Instant::now());
        for _ in 0..self.repeat {
            let id = random_run_id();
            let finished = self.launch(&id, args).finish().await;
            let mut problems = Problems::default();
            if cell == "panicking spec" && !finished.output.contains(PANIC_TEXT) {
                problems
                    .other
                    .push("the failure does not show the panic message".into());
            }
            self.record(cell, &id, finished, expect, problems).await;
        }
        self.settle(cell, &before, started).await;
    }

    async fn signal_at_random_moments(&mut self, cell: &'static str, signal: Signal) {
        let (before, started) = (self.mounts(), Instant::now());
        for _ in 0..self.repeat {
            // From before the handlers exist, through connecting and creating namespaces and
            // storage classes, to specs waiting.
            let delay = Duration::from_millis(self.rng.random_range(0..4000));
            let id = random_run_id();
            let mut launch = self.launch(
                &id,
                &["--focus", "waits to be interrupted", "--test-threads", "4"],
            );
            tokio::time::sleep(delay).await;
            let mut problems = Problems::default();
            if launch.running() {
                launch.signal(signal);
            } else {
                problems
                    .other
                    .push(format!("ended before the signal at {delay:?}"));
            }
            eprintln!("[{cell}] run {id}: {signal} after {}ms", delay.as_millis());
            let finished = launch.finish().await;
            self.record(cell, &id, finished, Expect::Interrupted(signal), problems)
                .await;
        }
        self.settle(cell, &before, started).await;
    }

    /// Runs [`RIDES_OUT`] while the cluster loses `component` at a random moment for a random
    /// while: etcd is stopped (SIGTERM) and started again, anything else killed (SIGKILL) and
    /// started again. The spec goes on once the test has
    /// created ConfigMap `go-on` in its namespace: odd runs lose the component during the
    /// spec's body, even ones right after `go-on`, so during its cleanup and teardown.
    async fn control_plane_restart(&mut self, cell: &'static str, component: &str) {
        let (before, started) = (self.mounts(), Instant::now());
        for n in 0..self.repeat {
            let id = random_run_id();
            let mut launch = self.launch(&id, &["--exact", RIDES_OUT]);
            let mut problems = Problems::default();
            match self.namespace_of(&mut launch).await {
                None => problems
                    .other
                    .push("the run ended or stalled before its namespace existed".into()),
                Some(ns) => {
                    let in_teardown = n % 2 == 1;
                    if in_teardown {
                        self.go_on(&ns).await;
                    }
                    // The spec sees `go-on` within its 500 ms poll and its teardown takes
                    // moments: a shorter range lands in it more often.
                    let within = if in_teardown { 600 } else { 1500 };
                    let delay = Duration::from_millis(self.rng.random_range(0..within));
                    tokio::time::sleep(delay).await;
                    let down_for = Duration::from_millis(self.rng.random_range(0..2000));
                    eprintln!(
                        "[{cell}] run {id}: {} after {}ms, down for {}ms",
                        if in_teardown {
                            "in teardown"
                        } else {
                            "in the body"
                        },
                        delay.as_millis(),
                        down_for.as_millis()
                    );
                    let cluster = &self.cluster;
                    tokio::task::block_in_place(|| {
                        if component == "etcd" {
                            cluster.stop(component);
                        } else {
                            cluster.kill(component);
                        }
                        std::thread::sleep(down_for);
                        cluster.start(component);
                    });
                    self.cluster.wait_ready().await;
                    if !in_teardown {
                        self.go_on(&ns).await;
                    }
                }
            }
            let finished = launch.finish().await;
            self.record(cell, &id, finished, Expect::Code(0), problems)
                .await;
        }
        self.settle(cell, &before, started).await;
    }

    /// Kills kubelet while the spec's pod runs on the real node; the run must end on its own
    /// (its namespace deletion is issued, not awaited) and, once kubelet is back, the pod,
    /// the namespace and the pod's mounts must go.
    async fn kubelet_killed(&mut self) {
        let cell = "kubelet killed";
        let (before, started) = (self.mounts(), Instant::now());
        for _ in 0..self.repeat {
            let id = random_run_id();
            let mut launch = self.launch(&id, &["--exact", KUBELET_AWAY]);
            let mut problems = Problems::default();
            let ns = self.namespace_of(&mut launch).await;
            let running = match &ns {
                Some(ns) => self.pod_running(&mut launch, ns, "on-real-node").await,
                None => false,
            };
            if let (Some(ns), true) = (&ns, running) {
                let delay = Duration::from_millis(self.rng.random_range(0..1000));
                tokio::time::sleep(delay).await;
                tokio::task::block_in_place(|| self.cluster.kill("kubelet"));
                eprintln!(
                    "[{cell}] run {id}: kubelet killed {}ms after the pod ran",
                    delay.as_millis()
                );
                self.go_on(ns).await;
            } else {
                problems
                    .other
                    .push("the run ended or stalled before its pod ran".into());
            }
            let finished = launch.finish().await;
            if finished.took > Duration::from_secs(120) {
                problems.other.push(format!(
                    "the run took {:.0}s with kubelet away",
                    finished.took.as_secs_f64()
                ));
            }
            if running {
                tokio::task::block_in_place(|| self.cluster.start("kubelet"));
            }
            self.record(cell, &id, finished, Expect::Code(0), problems)
                .await;
        }
        self.settle(cell, &before, started).await;
    }

    /// A kubeconfig whose server is a closed port: exit 2 at once, one error naming the
    /// server, nothing created.
    async fn unreachable_cluster(&mut self) {
        let cell = "unreachable cluster";
        let closed = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
            listener.local_addr().expect("address").port()
        };
        let original = std::fs::read_to_string(&self.kubeconfig).expect("kubeconfig");
        let server = original
            .lines()
            .find_map(|l| l.trim().strip_prefix("server:"))
            .expect("a server in the kubeconfig")
            .trim()
            .to_string();
        let unreachable = format!("https://127.0.0.1:{closed}");
        let path = self.logs.path().join("unreachable-kubeconfig");
        std::fs::write(&path, original.replace(&server, &unreachable)).expect("write");
        let (before, started) = (self.mounts(), Instant::now());
        for _ in 0..self.repeat {
            let id = random_run_id();
            let launch = Launch::start(
                self.logs.path(),
                &id,
                &path,
                &self.cluster.state_dir,
                &["--exact", FAILS],
            );
            let finished = launch.finish().await;
            let mut problems = Problems::default();
            let errors: Vec<&str> = finished
                .output
                .lines()
                .filter(|l| l.to_lowercase().contains("error"))
                .collect();
            let named = format!("127.0.0.1:{closed}");
            if errors.len() != 1
                || !errors[0].contains(&named)
                || !errors[0].contains("is not reachable")
            {
                problems.other.push(format!(
                    "expected one error line saying {named} is not reachable, got {errors:?}"
                ));
            }
            if finished.took > Duration::from_secs(60) {
                problems.other.push(format!(
                    "took {:.0}s to give up",
                    finished.took.as_secs_f64()
                ));
            }
            self.record(cell, &id, finished, Expect::Code(2), problems)
                .await;
        }
        self.settle(cell, &before, started).await;
    }

    /// The run's namespace, once it exists; `None` if the run ended or 120 s passed first.
    async fn namespace_of(&self, launch: &mut Launch) -> Option<String> {
        let deadline = Instant::now() + Duration::from_secs(120);
        while Instant::now() < deadline && launch.running() {
            let names = labelled(Api::<Namespace>::all(self.client.clone()), &launch.id).await;
            if let Some(name) = names.into_iter().next() {
                return Some(name);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        None
    }

    async fn pod_running(&self, launch: &mut Launch, ns: &str, name: &str) -> bool {
        let api = Api::<Pod>::namespaced(self.client.clone(), ns);
        let deadline = Instant::now() + Duration::from_secs(120);
        while Instant::now() < deadline && launch.running() {
            let phase = api
                .get_opt(name)
                .await
                .ok()
                .flatten()
                .and_then(|p| p.status)
                .and_then(|s| s.phase);
            if phase.as_deref() == Some("Running") {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        false
    }

    /// Creates ConfigMap `go-on` in `ns`, retrying while the API server comes back.
    async fn go_on(&self, ns: &str) {
        let api = Api::<ConfigMap>::namespaced(self.client.clone(), ns);
        let cm: ConfigMap =
            serde_json::from_value(serde_json::json!({"metadata": {"name": "go-on"}}))
                .expect("config map");
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            match api.create(&PostParams::default(), &cm).await {
                Ok(_) => return,
                Err(kube::Error::Api(s)) if s.code == 409 => return,
                Err(e) => assert!(Instant::now() < deadline, "creating go-on in {ns}: {e}"),
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    fn summary(&self) -> String {
        let mut lines = vec![format!(
            "fault matrix (seed {}, {} run(s) per cell):",
            self.seed, self.repeat
        )];
        lines.push(format!(
            "  {:<22} {:>5} {:>6} {:>8} {:>11} {:>12} {:>16} {:>7}",
            "cell",
            "runs",
            "leaks",
            "crashes",
            "wrong exit",
            "slowest run",
            "slowest cleanup",
            "cell"
        ));
        for (name, t) in &self.tallies {
            lines.push(format!(
                "  {:<22} {:>5} {:>6} {:>8} {:>11} {:>11.1}s {:>15.1}s {:>6.0}s",
                name,
                t.runs,
                t.leaks,
                t.crashes,
                t.wrong_exits,
                t.slowest.as_secs_f64(),
                t.slowest_cleanup.as_secs_f64(),
                t.wall.as_secs_f64()
            ));
        }
        lines.join("\n")
    }
}

/// The run's labelled objects still there once their deletion has had `settle`, and how long
/// the check took.
async fn settled_leftovers(
    client: &kube::Client,
    id: &str,
    settle: Duration,
) -> (Vec<String>, Duration) {
    let started = Instant::now();
    loop {
        // A list fails while the API server is away (another cell's run may have it down).
        let left = try_leftovers(client, id)
            .await
            .unwrap_or_else(|e| vec![format!("(list failed: {e})")]);
        if left.is_empty() || started.elapsed() > settle {
            return (left, started.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// The last 40 lines of a run's output.
fn tail_of(output: &str) -> String {
    let lines: Vec<&str> = output.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

/// PIDs of live processes whose environment carries the run's marker.
fn processes_of(id: &str) -> Vec<String> {
    let needle = format!("{MARKER}={id}\0");
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_str()
                .is_some_and(|n| n.parse::<u32>().is_ok())
        })
        .filter(|e| {
            std::fs::read(e.path().join("environ"))
                .is_ok_and(|env| String::from_utf8_lossy(&env).contains(&needle))
        })
        .map(|e| e.file_name().to_string_lossy().to_string())
        .collect()
}

/// `probe` once it returns nothing, or what it still returns after `within` of retries.
async fn settled<F: FnMut() -> Vec<String>>(within: Duration, mut probe: F) -> Vec<String> {
    let deadline = Instant::now() + within;
    loop {
        let found = probe();
        if found.is_empty() || Instant::now() > deadline {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_fault_leaves_nothing_behind() {
    let seed = std::env::var("KUBE_E2E_FAULT_SEED")
        .ok()
        .map(|s| {
            s.trim()
                .parse::<u64>()
                .expect("KUBE_E2E_FAULT_SEED is a number")
        })
        .unwrap_or_else(rand::random);
    let repeat = std::env::var("KUBE_E2E_FAULT_REPEAT")
        .ok()
        .map(|s| {
            s.trim()
                .parse::<u32>()
                .expect("KUBE_E2E_FAULT_REPEAT is a number")
        })
        .unwrap_or(5);
    eprintln!(
        "fault matrix: seed {seed} (KUBE_E2E_FAULT_SEED={seed} replays it), {repeat} run(s) per cell"
    );
    let started = Instant::now();
    let cluster = OwnCluster::up().await;
    eprintln!("cluster up in {:.0}s", started.elapsed().as_secs_f64());
    let mut matrix = Matrix {
        client: cluster.client().await,
        kubeconfig: cluster.kubeconfig(),
        cluster,
        logs: tempfile::tempdir().expect("temp dir"),
        rng: ChaCha8Rng::seed_from_u64(seed),
        seed,
        repeat,
        tallies: Vec::new(),
        failures: Vec::new(),
        pending: Vec::new(),
        cells: std::env::var("KUBE_E2E_FAULT_CELLS")
            .ok()
            .map(|s| s.split(',').map(|c| c.trim().to_string()).collect()),
    };
    if matrix.wants("unreachable cluster") {
        matrix.unreachable_cluster().await;
    }
    let outlives = ["--exact", OUTLIVES, "--grace-period", "2s"];
    let suite_timeout = [
        "--focus",
        "waits to be interrupted",
        "--suite-timeout",
        "4s",
        "--grace-period",
        "5s",
    ];
    let plain_cells: [(&'static str, &[&str], Expect); 4] = [
        ("failing spec", &["--exact", FAILS], Expect::Code(101)),
        ("panicking spec", &["--exact", PANICS], Expect::Code(101)),
        ("spec timeout", &outlives, Expect::Code(101)),
        ("suite timeout", &suite_timeout, Expect::Code(101)),
    ];
    for (cell, args, expect) in plain_cells {
        if matrix.wants(cell) {
            matrix.plain(cell, args, expect).await;
        }
    }
    for (cell, signal) in [("SIGINT", Signal::SIGINT), ("SIGTERM", Signal::SIGTERM)] {
        if matrix.wants(cell) {
            matrix.signal_at_random_moments(cell, signal).await;
        }
    }
    for (cell, component) in [
        ("API server killed", "kube-apiserver"),
        ("etcd restarted", "etcd"),
    ] {
        if matrix.wants(cell) {
            matrix.control_plane_restart(cell, component).await;
        }
    }
    if matrix.wants("kubelet killed") {
        matrix.kubelet_killed().await;
    }
    matrix.collect_leftovers().await;
    eprintln!(
        "{}\nfault matrix took {:.0}s",
        matrix.summary(),
        started.elapsed().as_secs_f64()
    );
    assert!(
        matrix.failures.is_empty(),
        "{} failure(s) (seed {seed}):\n\n{}",
        matrix.failures.len(),
        matrix.failures.join("\n\n")
    );
}

/// For a leak report: each leftover namespace's phase, whether its deletion was issued, and its
/// conditions (what the namespace controller says still holds it).
async fn namespace_states(client: &kube::Client, names: &[String]) -> String {
    let api = Api::<Namespace>::all(client.clone());
    let mut out = Vec::new();
    for name in names {
        let text = match api.get_opt(name).await {
            Ok(Some(ns)) => {
                let status = ns.status.unwrap_or_default();
                let conditions: Vec<String> = status
                    .conditions
                    .unwrap_or_default()
                    .into_iter()
                    .map(|c| format!("{}={} {}", c.type_, c.status, c.message.unwrap_or_default()))
                    .collect();
                format!(
                    "{name}: phase {:?}, deletion issued: {}, conditions {conditions:?}",
                    status.phase,
                    ns.metadata.deletion_timestamp.is_some()
                )
            }
            Ok(None) => format!("{name}: gone by now"),
            Err(e) => format!("{name}: {e}"),
        };
        out.push(text);
    }
    out.join("; ")
}

/// The last 20 lines of kube-controller-manager's log that name one of `names`.
fn controller_lines(state_dir: &Path, names: &[String]) -> String {
    let log = kube_e2e_cluster::layout::Layout::new(state_dir).log("kube-controller-manager");
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| names.iter().any(|n| l.contains(n.as_str())))
        .collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}
