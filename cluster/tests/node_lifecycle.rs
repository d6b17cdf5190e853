//! A second cluster with a real node, started and stopped by the command: after `down`, no
//! process, mount, network namespace, cgroup or veth link of it is left. Needs root.

mod support;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use kube_e2e_cluster::LocalCluster;
use kube_e2e_cluster::node::real::{cgroup_hierarchies, mounts_under, shim_sockets};
use support::{cli, processes_mentioning, text};

#[test]
fn down_removes_every_trace_of_a_real_node() {
    let base = tempfile::tempdir().unwrap();
    let state_dir = base.path().join("real-node");
    let up = cli(&state_dir, &["up", "--nodes", "real"]);
    assert!(up.status.success(), "up --nodes real failed: {}", text(&up));
    let cluster = LocalCluster::load(&state_dir).unwrap().unwrap();
    let network = cluster
        .state()
        .network
        .clone()
        .expect("a real node has a network");
    let kubeconfig = cluster.kubeconfig_path();
    let kubectl =
        kube_e2e_cluster::AssetCache::at_default_location().path(kube_e2e_cluster::Asset::Kubectl);

    // A pod with a volume gives the node mounts, a sandbox network namespace and cgroups.
    let run = Command::new(&kubectl)
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .args([
            "run",
            "sleeper",
            "--restart=Never",
            "--image=registry.k8s.io/e2e-test-images/busybox:1.37.0-1",
            "--",
            "sleep",
            "3600",
        ])
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", text(&run));
    let wait = Command::new(&kubectl)
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .args([
            "wait",
            "--for=condition=Ready",
            "pod/sleeper",
            "--timeout=120s",
        ])
        .output()
        .unwrap();
    assert!(
        wait.status.success(),
        "the pod did not start: {}",
        text(&wait)
    );
    assert!(
        !network.cgroup_pids().is_empty(),
        "the pod runs in the node's cgroups"
    );
    assert!(
        !mounts_under(&state_dir).is_empty(),
        "the running pod has mounts under the state dir"
    );
    assert!(network.netns_path().exists());
    let port = cluster.state().ports.apiserver;
    assert_eq!(
        listening_addresses(port),
        vec![network.host_ip.to_string()],
        "the API server (port {port}) listens on the host end of the node's veth pair only"
    );

    let route = route_to(&network.pod_cidr);
    assert!(
        route.contains(&format!("via {}", network.node_ip)) && route.contains(&network.host_link),
        "the host routes the node's pod range {} to the node: {route:?}",
        network.pod_cidr
    );

    // Other clusters may run pods at the same time: check this cluster's own shim sockets.
    let sockets = shim_sockets(&state_dir.join("containerd"));
    assert!(
        !sockets.is_empty(),
        "the running pod has a containerd shim socket"
    );
    let down = cli(&state_dir, &["down"]);
    assert!(down.status.success(), "{}", text(&down));
    let needle = state_dir.to_string_lossy().to_string();
    // `down` has returned once every process was signalled; the last ones may take a moment
    // to be gone. Wait for that (bounded), then check.
    let gone = || processes_mentioning(&needle).is_empty() && network.cgroup_pids().is_empty();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !gone() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        processes_mentioning(&needle),
        Vec::<i32>::new(),
        "processes survived `down`"
    );
    assert!(
        network.cgroup_pids().is_empty(),
        "pod processes survived `down`"
    );
    assert_eq!(
        mounts_under(&state_dir),
        Vec::<std::path::PathBuf>::new(),
        "mounts survived `down`"
    );
    assert!(
        !network.netns_path().exists(),
        "network namespace {} survived",
        network.netns
    );
    let netns_mounts = mounts_under(Path::new("/run/netns"));
    assert!(
        netns_mounts
            .iter()
            .all(|m| !m.to_string_lossy().contains(&network.netns)),
        "the namespace's mount survived: {netns_mounts:?}"
    );
    assert!(
        !network.cgroups_exist(),
        "cgroup {} survived in {:?}",
        network.cgroup_root,
        cgroup_hierarchies()
    );
    let links = Command::new("ip")
        .args(["-o", "link", "show"])
        .output()
        .unwrap();
    assert!(
        !String::from_utf8_lossy(&links.stdout).contains(&network.host_link),
        "veth {} survived",
        network.host_link
    );
    assert_eq!(
        route_to(&network.pod_cidr),
        "",
        "the route to the pod range {} survived",
        network.pod_cidr
    );
    assert!(!state_dir.exists(), "the state directory survived");
    let left: Vec<_> = sockets.iter().filter(|s| s.exists()).collect();
    assert!(
        left.is_empty(),
        "containerd shim sockets survived: {left:?}"
    );
}

/// The addresses with a socket listening on `port`, from `/proc/net/tcp` and `tcp6` (an
/// address there is hex in the kernel's byte order; state `0A` is LISTEN). An IPv6 listener
/// (a wildcard `[::]` bind included) shows up as its hex text.
fn listening_addresses(port: u16) -> Vec<String> {
    let mut found = Vec::new();
    for (file, v4) in [("/proc/net/tcp", true), ("/proc/net/tcp6", false)] {
        let table = std::fs::read_to_string(file).unwrap_or_default();
        for line in table.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let Some((addr, p)) = fields.get(1).and_then(|f| f.split_once(':')) else {
                continue;
            };
            if fields.get(3) != Some(&"0A") || u16::from_str_radix(p, 16) != Ok(port) {
                continue;
            }
            match u32::from_str_radix(addr, 16) {
                Ok(ip) if v4 => found.push(std::net::Ipv4Addr::from(ip.swap_bytes()).to_string()),
                _ => found.push(format!("[{addr}]")),
            }
        }
    }
    found
}

/// The host's route for exactly `cidr` (`ip route show`), empty when there is none.
fn route_to(cidr: &str) -> String {
    let out = Command::new("ip")
        .args(["-4", "route", "show", cidr])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}
