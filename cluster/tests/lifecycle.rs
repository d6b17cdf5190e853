//! The `kube-e2e-cluster` command on a cluster of its own, beside any other cluster:
//! `up` is idempotent, a killed component shows in `status` and is restarted by `up`,
//! and `down` leaves no process, port or directory behind.

mod support;

use std::net::TcpStream;
use std::path::Path;
use std::process::Command;

use kube_e2e_cluster::LocalCluster;
use kube_e2e_cluster::process::ProcessState;
use support::{cli, processes_mentioning, text};

#[test]
fn up_is_idempotent_a_killed_component_shows_and_down_leaves_nothing() {
    let base = tempfile::tempdir().unwrap();
    let state_dir = base.path().join("second-cluster");

    let status = cli(&state_dir, &["status"]);
    assert_eq!(
        status.status.code(),
        Some(3),
        "no cluster yet: {}",
        text(&status)
    );

    let first = cli(&state_dir, &["up", "--simulated-nodes", "1"]);
    assert!(first.status.success(), "up failed: {}", text(&first));
    let kubeconfig = String::from_utf8_lossy(&first.stdout)
        .lines()
        .last()
        .unwrap()
        .to_string();
    assert!(
        Path::new(&kubeconfig).is_file(),
        "up prints the kubeconfig path last: {kubeconfig}"
    );
    let cluster = LocalCluster::load(&state_dir)
        .unwrap()
        .expect("state saved");
    let pids: Vec<i32> = cluster.state().components.iter().map(|c| c.pid).collect();
    let ports = cluster.state().ports.clone();
    only_its_owner_reaches_etcd_and_the_api(&state_dir, &ports);

    let second = cli(&state_dir, &["up", "--simulated-nodes", "1"]);
    assert!(second.status.success(), "{}", text(&second));
    assert!(
        text(&second).contains("already running"),
        "{}",
        text(&second)
    );
    let again = LocalCluster::load(&state_dir).unwrap().unwrap();
    let pids_again: Vec<i32> = again.state().components.iter().map(|c| c.pid).collect();
    assert_eq!(pids, pids_again, "a second `up` must not restart anything");

    let printed = cli(&state_dir, &["kubeconfig"]);
    assert_eq!(
        String::from_utf8_lossy(&printed.stdout).lines().last(),
        Some(kubeconfig.as_str())
    );

    let scheduler = cluster
        .state()
        .components
        .iter()
        .find(|c| c.spec.name == "kube-scheduler")
        .unwrap();
    scheduler.signal(nix::sys::signal::Signal::SIGKILL).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while scheduler.state() != ProcessState::Exited {
        assert!(
            std::time::Instant::now() < deadline,
            "SIGKILL did not stop the scheduler"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let status = cli(&state_dir, &["status"]);
    let report = text(&status);
    assert_eq!(
        status.status.code(),
        Some(1),
        "status must fail with a dead component: {report}"
    );
    assert!(
        report.contains("kube-scheduler") && report.contains("EXITED"),
        "{report}"
    );
    assert!(
        report.contains("kube-scheduler.log"),
        "status names the log: {report}"
    );

    let repaired = cli(&state_dir, &["up"]);
    assert!(repaired.status.success(), "{}", text(&repaired));
    assert!(
        text(&repaired).contains("restarted kube-scheduler"),
        "{}",
        text(&repaired)
    );
    assert_eq!(cli(&state_dir, &["status"]).status.code(), Some(0));

    let down = cli(&state_dir, &["down"]);
    assert!(down.status.success(), "{}", text(&down));
    let needle = state_dir.to_string_lossy().to_string();
    assert!(
        processes_mentioning(&needle).is_empty(),
        "processes of the cluster survived `down`"
    );
    for pid in pids {
        assert!(
            !Path::new(&format!("/proc/{pid}")).exists()
                || std::fs::read_to_string(format!("/proc/{pid}/stat"))
                    .is_ok_and(|s| s.contains(") Z")),
            "process {pid} still runs"
        );
    }
    for port in ports.all() {
        assert!(
            TcpStream::connect(("127.0.0.1", port)).is_err(),
            "port {port} still accepts connections after `down`"
        );
    }
    assert!(
        !state_dir.exists(),
        "`down` must remove the state directory"
    );
    let twice = cli(&state_dir, &["down"]);
    assert!(
        twice.status.success(),
        "down is idempotent: {}",
        text(&twice)
    );
}

/// Runs `args` as user and group 65534 (nobody), without supplementary groups.
fn as_nobody(args: &[&str]) -> std::process::Output {
    Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .args(args)
        .output()
        .expect("setpriv runs")
}

/// etcd asks for a client certificate that only root can read; the API server gives an
/// unauthenticated user nothing.
fn only_its_owner_reaches_etcd_and_the_api(
    state_dir: &Path,
    ports: &kube_e2e_cluster::control_plane::components::Ports,
) {
    let pki = state_dir.join("pki");
    let file = |name: &str| pki.join(name).display().to_string();
    let health = format!("https://127.0.0.1:{}/health", ports.etcd_client);
    let other = as_nobody(&["curl", "-sS", "-k", "--max-time", "5", &health]);
    assert!(
        !other.status.success(),
        "another user reached etcd without a certificate: {}",
        text(&other)
    );
    let owner = Command::new("curl")
        .args(["-sS", "--max-time", "5", "--cacert", &file("ca.crt")])
        .args(["--cert", &file("apiserver-etcd-client.crt")])
        .args(["--key", &file("apiserver-etcd-client.key"), &health])
        .output()
        .expect("curl runs");
    assert!(
        owner.status.success() && String::from_utf8_lossy(&owner.stdout).contains("health"),
        "the API server's certificate reaches etcd: {}",
        text(&owner)
    );
    for key in ["apiserver-etcd-client.key", "etcd-server.key", "ca.key"] {
        let read = as_nobody(&["cat", &file(key)]);
        assert!(!read.status.success(), "another user read {key}");
    }
    let secrets = format!("https://127.0.0.1:{}/api/v1/secrets", ports.apiserver);
    let api = as_nobody(&[
        "curl",
        "-sS",
        "-k",
        "--max-time",
        "5",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        &secrets,
    ]);
    let code = String::from_utf8_lossy(&api.stdout).to_string();
    assert!(
        code == "401" || code == "403",
        "an unauthenticated user gets no secrets from the API server: HTTP {code} {}",
        text(&api)
    );
}

#[test]
fn bad_arguments_are_clear_errors() {
    let base = tempfile::tempdir().unwrap();
    let output = cli(base.path(), &["up", "--simulated-nodes", "two"]);
    assert_eq!(output.status.code(), Some(2));
    let message = text(&output);
    assert!(message.contains("--simulated-nodes"), "{message}");
    let output = cli(base.path(), &["kubeconfig"]);
    assert!(!output.status.success());
    assert!(text(&output).contains("no cluster in"), "{}", text(&output));
}
