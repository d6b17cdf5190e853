//! Component processes: started detached with a log file, found again by PID, stopped.
//!
//! Components outlive the command that started them (so `up` can return), each in its own
//! process group. A PID alone is not trusted: before signalling, the process's executable is
//! compared with the component's binary, so a recycled PID is never killed. Processes are found
//! only by recorded PID (or, for the real node, by cgroup membership) — never by what their
//! command line mentions, which any unrelated process can contain.
//!
//! Builds (`go build`, `apt-get`) are children of the calling process instead, waited for by
//! [`run_build_step`]: their PIDs are recorded while they run, so that an interrupted start
//! ends them ([`stop_build_steps`]) instead of leaving them behind.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::report::tail_of_file;

/// How a component is started; saved so that `up` can restart it the same way.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ComponentSpec {
    /// The component's name, e.g. `kube-apiserver`.
    pub name: String,
    /// The binary.
    pub binary: PathBuf,
    /// Its arguments.
    pub args: Vec<String>,
    /// Extra environment variables.
    #[serde(default)]
    pub env: Vec<(String, String)>,
    /// Log file (stdout and stderr).
    pub log: PathBuf,
    /// The network namespace to run in (entered with `nsenter --net`, which — unlike
    /// `ip netns exec` — leaves the mount namespace and so the cgroup mounts alone).
    #[serde(default)]
    pub netns: Option<PathBuf>,
    /// Cgroup directories (one per hierarchy) the process joins as soon as it has started.
    /// Its children inherit them, so processes it starts but does not wait for (containerd's
    /// shims) are still found, by membership, when the cluster is taken down.
    #[serde(default)]
    pub cgroups: Vec<PathBuf>,
}

/// A started component.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ComponentRecord {
    /// How it was started.
    pub spec: ComponentSpec,
    /// Its process ID.
    pub pid: i32,
}

/// What is known about a component's process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProcessState {
    /// Running with this PID.
    Running(i32),
    /// Gone (or a zombie, or the PID now belongs to another program).
    Exited,
}

impl ComponentSpec {
    /// Start the component detached, appending to its log file.
    ///
    /// A thread waits for the child, so that an exit is written to the log and no zombie
    /// stays behind while this process lives.
    ///
    /// # Errors
    /// Fails if the log cannot be opened or the binary cannot be executed.
    pub fn spawn(&self) -> Result<ComponentRecord> {
        use std::io::Write;
        use std::os::unix::process::CommandExt;
        if let Some(dir) = self.log.parent() {
            fs::create_dir_all(dir).map_err(Error::io(dir))?;
        }
        let mut log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .map_err(Error::io(&self.log))?;
        let _ = writeln!(log, "==> {} {}", self.binary.display(), self.args.join(" "));
        let mut command = match &self.netns {
            Some(netns) => {
                let mut command = Command::new("nsenter");
                command
                    .arg(format!("--net={}", netns.display()))
                    .arg("--")
                    .arg(&self.binary);
                command
            }
            None => Command::new(&self.binary),
        };
        command
            .args(&self.args)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(Error::io(&self.log))?)
            .stderr(log)
            .process_group(0);
        let mut child = command.spawn().map_err(|source| Error::Spawn {
            component: self.name.clone(),
            binary: self.binary.clone(),
            source,
        })?;
        let pid = child.id() as i32;
        // Joined before the component can have started anything (containerd starts shims
        // only when asked to run a pod), so nothing it starts escapes the cgroups.
        for dir in &self.cgroups {
            let procs = dir.join("cgroup.procs");
            if let Err(source) = fs::write(&procs, pid.to_string()) {
                let _ = child.kill();
                let _ = child.wait();
                return Err(Error::Io {
                    path: procs,
                    source,
                });
            }
        }
        wait_for_exec(pid);
        let log_path = self.log.clone();
        std::thread::Builder::new()
            .name(format!("reap-{}", self.name))
            .spawn(move || {
                if let Ok(status) = child.wait()
                    && let Ok(mut log) = fs::OpenOptions::new().append(true).open(&log_path)
                {
                    let _ = writeln!(log, "==> exited: {status}");
                }
            })
            .map_err(Error::io(&self.log))?;
        Ok(ComponentRecord {
            spec: self.clone(),
            pid,
        })
    }
}

impl ComponentRecord {
    /// Whether the process still runs the component's binary.
    pub fn state(&self) -> ProcessState {
        // Until `nsenter` has exec'd the component, the process still runs `nsenter`.
        let entering = self.spec.netns.is_some() && process_runs_named(self.pid, "nsenter");
        if entering || process_runs(self.pid, &self.spec.binary) {
            ProcessState::Running(self.pid)
        } else {
            ProcessState::Exited
        }
    }

    /// The error describing this component's exit, with the last lines of its log.
    pub fn exited_error(&self) -> Error {
        let tail = tail_of_file(&self.spec.log, 20);
        let status = tail
            .lines()
            .rev()
            .find_map(|l| l.strip_prefix("==> exited: "))
            .unwrap_or("status unknown")
            .to_string();
        Error::ComponentExited {
            component: self.spec.name.clone(),
            status,
            log: self.spec.log.clone(),
            tail,
        }
    }

    /// Stop the component: SIGTERM to its process group, SIGKILL after `grace`.
    ///
    /// # Errors
    /// Fails only if a signal cannot be delivered for a reason other than the process being gone.
    pub fn stop(&self, grace: Duration) -> Result<()> {
        if self.state() == ProcessState::Exited {
            return Ok(());
        }
        self.signal(Signal::SIGTERM)?;
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if self.state() == ProcessState::Exited {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.signal(Signal::SIGKILL)?;
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline && self.state() != ProcessState::Exited {
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }

    /// Send `signal` to the component's process group (and the process itself).
    ///
    /// # Errors
    /// Fails if the signal cannot be delivered for a reason other than the process being gone.
    pub fn signal(&self, signal: Signal) -> Result<()> {
        let pid = Pid::from_raw(self.pid);
        let map = |source| Error::Signal {
            pid: self.pid,
            component: self.spec.name.clone(),
            source,
        };
        match killpg(pid, signal) {
            Ok(()) | Err(nix::Error::ESRCH) => {}
            Err(e) => return Err(map(e)),
        }
        match kill(pid, signal) {
            Ok(()) | Err(nix::Error::ESRCH) => Ok(()),
            Err(e) => Err(map(e)),
        }
    }
}

/// Waits (briefly) until the child `pid` no longer runs this program: `spawn` can return
/// before the child has exec'd, and until then its command line and executable are ours, so
/// `state()` and sweeps would misjudge it.
fn wait_for_exec(pid: i32) {
    let Ok(me) = fs::read_link("/proc/self/exe") else {
        return;
    };
    let deadline = Instant::now() + Duration::from_secs(2);
    while Instant::now() < deadline {
        match fs::read_link(format!("/proc/{pid}/exe")) {
            Ok(exe) if exe == me => std::thread::sleep(Duration::from_millis(2)),
            _ => return,
        }
    }
}

/// Whether `pid` is a live (not zombie) process executing `binary`.
pub fn process_runs(pid: i32, binary: &Path) -> bool {
    let proc_dir = PathBuf::from(format!("/proc/{pid}"));
    let Ok(stat) = fs::read_to_string(proc_dir.join("stat")) else {
        return false;
    };
    // The state follows the parenthesised command name, which may itself contain spaces.
    let state = stat
        .rsplit_once(')')
        .and_then(|(_, rest)| rest.split_whitespace().next());
    if matches!(state, Some("Z") | Some("X") | None) {
        return false;
    }
    match fs::read_link(proc_dir.join("exe")) {
        Ok(exe) => {
            let exe = exe.to_string_lossy();
            let exe = exe.trim_end_matches(" (deleted)");
            Path::new(exe) == binary || fs::canonicalize(binary).is_ok_and(|b| Path::new(exe) == b)
        }
        Err(_) => false,
    }
}

/// Whether `pid` is a live process whose executable's file name is `name`.
fn process_runs_named(pid: i32, name: &str) -> bool {
    match fs::read_link(format!("/proc/{pid}/exe")) {
        Ok(exe) if exe.file_name().is_some_and(|n| n == name) => process_runs(pid, &exe),
        _ => false,
    }
}

/// PIDs of build steps this process started and has not reaped yet (so none is recycled).
static BUILD_STEPS: std::sync::Mutex<Vec<u32>> = std::sync::Mutex::new(Vec::new());

fn build_steps() -> std::sync::MutexGuard<'static, Vec<u32>> {
    BUILD_STEPS.lock().unwrap_or_else(|p| p.into_inner())
}

/// Runs `command` to completion as a recorded build step: while it runs,
/// [`stop_build_steps`] can end it.
///
/// # Errors
/// The command could not be started or waited for.
pub fn run_build_step(command: &mut Command) -> std::io::Result<std::process::ExitStatus> {
    let mut child = command.spawn()?;
    let pid = child.id();
    build_steps().push(pid);
    let status = child.wait();
    build_steps().retain(|p| *p != pid);
    status
}

/// [`run_build_step`] with its output captured.
///
/// # Errors
/// The command could not be started or waited for.
pub fn build_step_output(command: &mut Command) -> std::io::Result<std::process::Output> {
    let child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let pid = child.id();
    build_steps().push(pid);
    let output = child.wait_with_output();
    build_steps().retain(|p| *p != pid);
    output
}

/// Sends SIGTERM to every build step still running (an interrupted `up`); returns how many
/// were signalled. Only recorded, unreaped children are signalled: their PIDs cannot have been
/// recycled.
pub fn stop_build_steps() -> usize {
    let pids = build_steps().clone();
    for pid in &pids {
        if let Ok(pid) = i32::try_from(*pid) {
            let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
        }
    }
    pids.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sleeper(dir: &Path) -> ComponentSpec {
        ComponentSpec {
            name: "sleeper".into(),
            binary: PathBuf::from("/bin/sleep"),
            args: vec!["30".into()],
            env: vec![],
            log: dir.join("logs/sleeper.log"),
            netns: None,
            cgroups: Vec::new(),
        }
    }

    #[test]
    fn a_spawned_component_runs_until_stopped_and_its_exit_is_logged() {
        let dir = tempfile::tempdir().unwrap();
        let record = sleeper(dir.path()).spawn().unwrap();
        assert_eq!(record.state(), ProcessState::Running(record.pid));
        record.stop(Duration::from_secs(5)).unwrap();
        assert_eq!(record.state(), ProcessState::Exited);
        // The reaper thread writes the exit line shortly after.
        let deadline = Instant::now() + Duration::from_secs(5);
        while !tail_of_file(&record.spec.log, 5).contains("==> exited") {
            assert!(Instant::now() < deadline, "no exit line in the log");
            std::thread::sleep(Duration::from_millis(20));
        }
        let error = record.exited_error().to_string();
        assert!(error.contains("sleeper"), "{error}");
        assert!(error.contains("signal"), "{error}");
    }

    #[test]
    fn a_recycled_pid_running_another_program_is_not_ours() {
        let me = std::process::id() as i32;
        assert!(!process_runs(me, Path::new("/bin/sleep")));
        assert!(!process_runs(i32::MAX, Path::new("/bin/sleep")));
    }

    #[test]
    fn a_missing_binary_is_a_spawn_error_naming_the_component() {
        let dir = tempfile::tempdir().unwrap();
        let mut spec = sleeper(dir.path());
        spec.binary = dir.path().join("nope");
        let error = spec.spawn().unwrap_err().to_string();
        assert!(error.contains("start sleeper"), "{error}");
    }
}
