//! The standard images against a real containerd: they import under every name a manifest
//! uses, containerd's CRI plugin manages them, and they run.
//!
//! Needs root, containerd 1.6 (`/usr/bin/containerd`, `/usr/bin/ctr`), runc and busybox-static.
//! The containerd is private to the test — its own root, state, socket, runc root and cgroup —
//! and is stopped and cleaned up even when the test fails.

mod support;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use kube_e2e_cluster::images::{self, E2E_BUSYBOX_IMAGE, SANDBOX_IMAGE};
use kube_e2e_cluster::layout::containerd_socket_in;
use kube_e2e_cluster::node::real::containerd_config;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use support::processes_mentioning;

const CONTAINERD: &str = "/usr/bin/containerd";
const CTR: &str = "/usr/bin/ctr";
const SHIM_RUN_DIR: &str = "/run/containerd";

/// A containerd of the test's own, under a directory on a disk filesystem (overlayfs does not
/// stack on every tmpfs), with cgroups under `/<cgroup>`.
struct Containerd {
    child: Child,
    dir: Option<tempfile::TempDir>,
    socket: PathBuf,
    log: PathBuf,
    cgroup: String,
    /// Whether `/run/containerd` existed before: containerd 1.6 shims always put their sockets
    /// in `/run/containerd/s`, whatever the config says.
    had_run_dir: bool,
}

impl Containerd {
    fn start() -> Containerd {
        assert!(
            nix::unistd::geteuid().is_root(),
            "this test runs containerd and needs root"
        );
        assert!(
            Path::new(CONTAINERD).is_file() && Path::new(CTR).is_file(),
            "this test needs Debian's containerd package ({CONTAINERD}, {CTR})"
        );
        let dir = tempfile::Builder::new()
            .prefix("containerd-")
            .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
            .unwrap();
        // The config the real node's containerd gets, pointed at this test's directory.
        let config = containerd_config(dir.path(), &dir.path().join("net.d"), SANDBOX_IMAGE);
        fs::write(dir.path().join("config.toml"), config).unwrap();
        let log = dir.path().join("containerd.log");
        let child = Command::new(CONTAINERD)
            .arg("--config")
            .arg(dir.path().join("config.toml"))
            .stdin(Stdio::null())
            .stdout(fs::File::create(&log).unwrap())
            .stderr(fs::File::create(&log).unwrap())
            .spawn()
            .unwrap_or_else(|e| panic!("{CONTAINERD} did not start: {e}"));
        let mut containerd = Containerd {
            had_run_dir: Path::new(SHIM_RUN_DIR).exists(),
            child,
            socket: containerd_socket_in(dir.path()),
            log,
            cgroup: format!("kube-e2e-images-{}", std::process::id()),
            dir: Some(dir),
        };
        containerd.wait_until_serving();
        containerd
    }

    fn dir(&self) -> &Path {
        self.dir.as_ref().unwrap().path()
    }

    fn wait_until_serving(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!(
                    "containerd exited ({status}) while starting:\n{}",
                    self.log_tail()
                );
            }
            if self.socket.exists() && self.ctr(&["version"]).status.success() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "containerd did not serve on {} within 30s:\n{}",
                self.socket.display(),
                self.log_tail()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// `ctr` against this containerd, in the CRI namespace.
    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(CTR);
        command
            .arg("--address")
            .arg(&self.socket)
            .args(["--namespace", images::CRI_NAMESPACE])
            .args(args)
            .stdin(Stdio::null());
        command
    }

    fn ctr(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    /// `ctr run --rm` arguments keeping runc state, FIFOs and cgroups private to this test.
    fn run_args(&self, image: &str, id: &str) -> Vec<String> {
        let d = self.dir().display();
        ["run", "--rm"]
            .into_iter()
            .map(String::from)
            .chain([
                format!("--runc-root={d}/runc"),
                format!("--fifo-dir={d}/fifo"),
                format!("--cgroup=/{}/{id}", self.cgroup),
                image.to_string(),
                id.to_string(),
            ])
            .collect()
    }

    fn log_tail(&self) -> String {
        let log = fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    /// This test's cgroup in every hierarchy, deepest first.
    fn cgroup_dirs(&self) -> Vec<PathBuf> {
        let mut dirs = Vec::new();
        let mut pending: Vec<PathBuf> = fs::read_dir("/sys/fs/cgroup")
            .into_iter()
            .flatten()
            .flatten()
            .map(|hierarchy| hierarchy.path().join(&self.cgroup))
            .filter(|dir| dir.is_dir())
            .collect();
        while let Some(dir) = pending.pop() {
            pending.extend(
                fs::read_dir(&dir)
                    .into_iter()
                    .flatten()
                    .flatten()
                    .map(|e| e.path())
                    .filter(|p| p.is_dir()),
            );
            dirs.push(dir);
        }
        dirs.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
        dirs
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        // Containers a failed test left running, then containerd, then shims (which outlive it).
        for dir in self.cgroup_dirs() {
            let procs = fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
            for pid in procs.lines().filter_map(|p| p.parse().ok()) {
                let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
            }
        }
        let pid = Pid::from_raw(self.child.id() as i32);
        let _ = kill(pid, Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.child.try_wait().ok().flatten().is_none() {
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let dir = self.dir().to_path_buf();
        for shim in processes_mentioning(&dir.display().to_string()) {
            let _ = kill(Pid::from_raw(shim), Signal::SIGKILL);
        }
        for mount in mounts_under(&dir) {
            if let Err(e) = nix::mount::umount2(&mount, nix::mount::MntFlags::MNT_DETACH) {
                eprintln!("cleanup: could not unmount {}: {e}", mount.display());
            }
        }
        for cgroup in self.cgroup_dirs() {
            let _ = fs::remove_dir(&cgroup);
        }
        if !self.had_run_dir {
            // Only if still empty, so another containerd's shims are left alone.
            let _ = fs::remove_dir(Path::new(SHIM_RUN_DIR).join("s"));
            let _ = fs::remove_dir(SHIM_RUN_DIR);
        }
        if let Some(Err(e)) = self.dir.take().map(tempfile::TempDir::close) {
            eprintln!("cleanup: could not remove {}: {e}", dir.display());
        }
    }
}

/// Mount points at or under `dir`, deepest first.
fn mounts_under(dir: &Path) -> Vec<PathBuf> {
    let mountinfo = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut mounts: Vec<PathBuf> = mountinfo
        .lines()
        .filter_map(|line| line.split(' ').nth(4))
        .map(|point| PathBuf::from(unescape_octal(point)))
        .filter(|point| point.starts_with(dir))
        .collect();
    mounts.sort_by_key(|m| std::cmp::Reverse(m.components().count()));
    mounts
}

/// Undoes mountinfo's `\040`-style escapes of space, tab, newline and backslash.
fn unescape_octal(field: &str) -> String {
    let mut out = String::new();
    let mut rest = field;
    while let Some(at) = rest.find('\\') {
        out.push_str(&rest[..at]);
        let code = rest
            .get(at + 1..at + 4)
            .and_then(|o| u8::from_str_radix(o, 8).ok());
        match code {
            Some(byte) => {
                out.push(char::from(byte));
                rest = &rest[at + 4..];
            }
            None => {
                out.push('\\');
                rest = &rest[at + 1..];
            }
        }
    }
    out + rest
}

fn text(output: &Output) -> String {
    format!(
        "{}\nstdout: {}\nstderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stdout).trim(),
        String::from_utf8_lossy(&output.stderr).trim()
    )
}

#[test]
fn standard_images_import_under_every_name_and_run() {
    let containerd = Containerd::start();
    let (ctr, socket) = (Path::new(CTR), containerd.socket.as_path());

    let started = Instant::now();
    let built = images::build_standard(&containerd.dir().join("cache")).unwrap();
    eprintln!("built {} archives in {:?}", built.len(), started.elapsed());
    for image in &built {
        let started = Instant::now();
        images::import(ctr, socket, &image.archive).unwrap();
        eprintln!(
            "imported {:?} ({}) in {:?}",
            image.image,
            fs::metadata(&image.archive).unwrap().len(),
            started.elapsed()
        );
    }

    let listed = images::list(ctr, socket).unwrap();
    for image in &built {
        for name in image.image.names() {
            assert!(
                listed.iter().any(|l| l == name),
                "{name} is not in {listed:?}"
            );
        }
        // The CRI plugin adds an ID reference for each image it manages: kubelet will see it.
        assert!(
            listed.contains(&image.info.config_digest),
            "the CRI plugin did not pick up {:?} (no {} in {listed:?})",
            image.image,
            image.info.config_digest
        );
    }

    let started = Instant::now();
    let mut args = containerd.run_args(E2E_BUSYBOX_IMAGE, "echo");
    args.extend(["/bin/echo".into(), "hello".into()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let echo = containerd.ctr(&args);
    assert!(echo.status.success(), "ctr run failed: {}", text(&echo));
    assert_eq!(String::from_utf8_lossy(&echo.stdout).trim(), "hello");
    eprintln!("ran {E2E_BUSYBOX_IMAGE} in {:?}", started.elapsed());

    pause_exits_cleanly_on_sigterm(&containerd);
}

/// The sandbox container runs until told to stop, then exits 0 at once.
fn pause_exits_cleanly_on_sigterm(containerd: &Containerd) {
    let args = containerd.run_args(SANDBOX_IMAGE, "pause");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut pause = containerd
        .command(&args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Two processes (the shell and its sleep) mean the trap is set.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let ps = containerd.ctr(&["task", "ps", "pause"]);
        if String::from_utf8_lossy(&ps.stdout).lines().skip(1).count() >= 2 {
            break;
        }
        if Instant::now() > deadline || pause.try_wait().unwrap().is_some() {
            let _ = pause.kill();
            panic!(
                "the pause container did not start: {}",
                text(&pause.wait_with_output().unwrap())
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let killed = containerd.ctr(&["task", "kill", "--signal", "SIGTERM", "pause"]);
    assert!(
        killed.status.success(),
        "ctr task kill failed: {}",
        text(&killed)
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while pause.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = pause.kill();
            panic!("the pause container ignored SIGTERM for 10s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let output = pause.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "pause did not exit 0 on SIGTERM: {}",
        text(&output)
    );
}
