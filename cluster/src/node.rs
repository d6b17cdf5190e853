//! The real node: containerd, kubelet and kube-proxy in a network namespace of their own.
//!
//! The node lives in a network namespace joined to the host by a veth pair: the host end
//! carries the API server's advertised address, the node end the node's address. Everything
//! the node changes — bridge, iptables rules, sysctls — stays inside that namespace, and
//! deleting the namespace removes it. Pods run in a cgroup subtree of their own, so `down` can
//! find and remove every process and cgroup the node created.

use std::fs;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::{Deserialize, Serialize};

use crate::assets::{Asset, AssetCache};
use crate::cluster::Layout;
use crate::components::POD_CIDR;
use crate::error::{Error, Result};
use crate::process::ComponentSpec;

/// The name of the real node.
pub const NODE_NAME: &str = "kube-e2e-node";
/// The node's pod range (inside [`POD_CIDR`]).
pub const NODE_POD_CIDR: &str = "10.244.128.0/24";

/// Debian packages the real node needs, with a binary that shows each is installed.
pub const PACKAGES: &[(&str, &str)] = &[
    ("containerd", "/usr/bin/containerd"),
    ("runc", "/usr/sbin/runc"),
    ("containernetworking-plugins", "/usr/lib/cni/bridge"),
    ("iptables", "/usr/sbin/iptables"),
    ("conntrack", "/usr/sbin/conntrack"),
    ("busybox-static", "/bin/busybox"),
    ("iproute2", "/usr/sbin/ip"),
];

/// The network and cgroup identity of a real node.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct NodeNetwork {
    /// The network namespace's name (under `/run/netns`).
    pub netns: String,
    /// The host end of the veth pair.
    pub host_link: String,
    /// The host's address on the link (the API server advertises it).
    pub host_ip: Ipv4Addr,
    /// The node's address.
    pub node_ip: Ipv4Addr,
    /// The cgroup (in every hierarchy) that holds the node's pods.
    pub cgroup_root: String,
}

impl NodeNetwork {
    /// A network for the cluster in `state_dir`: names derived from the directory, and the
    /// first free /30 in 172.30.0.0/16.
    pub fn choose(state_dir: &Path) -> Result<Self> {
        let id = short_id(state_dir);
        let used = run_output("ip", &["-o", "-4", "addr", "show"])?;
        let index = (0u8..=255)
            .find(|i| !used.contains(&format!("172.30.{i}.")))
            .ok_or_else(|| Error::Unsupported("find a free 172.30.x.0/30 for the node".into()))?;
        Ok(Self {
            netns: format!("kube-e2e-{id}"),
            host_link: format!("ke2e{id}"),
            host_ip: Ipv4Addr::new(172, 30, index, 1),
            node_ip: Ipv4Addr::new(172, 30, index, 2),
            cgroup_root: format!("/kube-e2e-{id}"),
        })
    }

    /// The namespace's file.
    pub fn netns_path(&self) -> PathBuf {
        PathBuf::from("/run/netns").join(&self.netns)
    }

    /// Create the namespace, the veth pair, addresses, routes and sysctls.
    ///
    /// # Errors
    /// Fails if an `ip` or `sysctl` command fails; the command and its output are in the error.
    pub fn create(&self) -> Result<()> {
        let ns = self.netns.as_str();
        let node_link = format!("{}n", self.host_link);
        let host_cidr = format!("{}/30", self.host_ip);
        let node_cidr = format!("{}/30", self.node_ip);
        let host_ip = self.host_ip.to_string();
        run("ip", &["netns", "add", ns])?;
        run(
            "ip",
            &[
                "link",
                "add",
                &self.host_link,
                "type",
                "veth",
                "peer",
                "name",
                &node_link,
            ],
        )?;
        run("ip", &["link", "set", &node_link, "netns", ns])?;
        run("ip", &["addr", "add", &host_cidr, "dev", &self.host_link])?;
        run("ip", &["link", "set", &self.host_link, "up"])?;
        run("ip", &["-n", ns, "link", "set", "lo", "up"])?;
        run("ip", &["-n", ns, "link", "set", &node_link, "name", "eth0"])?;
        run("ip", &["-n", ns, "addr", "add", &node_cidr, "dev", "eth0"])?;
        run("ip", &["-n", ns, "link", "set", "eth0", "up"])?;
        run(
            "ip",
            &["-n", ns, "route", "add", "default", "via", &host_ip],
        )?;
        let netns = format!("--net={}", self.netns_path().display());
        for setting in [
            "net.ipv4.ip_forward=1",
            "net.ipv4.conf.all.route_localnet=1",
        ] {
            run("nsenter", &[&netns, "sysctl", "-qw", setting])?;
        }
        Ok(())
    }

    /// Whether the namespace exists.
    pub fn exists(&self) -> bool {
        self.netns_path().exists()
    }

    /// Delete the namespace (and with it the veth pair, bridge and iptables rules).
    pub fn delete(&self) {
        if self.exists() {
            let _ = run("ip", &["netns", "delete", &self.netns]);
        }
        let _ = Command::new("ip")
            .args(["link", "delete", &self.host_link])
            .output();
        // `ip netns add` made /run/netns a mount point; undo that when no namespace is left.
        let netns_dir = Path::new("/run/netns");
        if fs::read_dir(netns_dir).is_ok_and(|mut d| d.next().is_none()) {
            let _ = nix::mount::umount2(netns_dir, nix::mount::MntFlags::MNT_DETACH);
            let _ = fs::remove_dir(netns_dir);
        }
    }

    /// Create the pod cgroup in every v1 hierarchy (kubelet requires `cgroupRoot` to exist).
    ///
    /// # Errors
    /// Fails if a directory cannot be created or cpuset cannot be initialised.
    pub fn create_cgroups(&self) -> Result<()> {
        let v1 = cgroup_hierarchies()
            .into_iter()
            .filter(|h| !h.ends_with("unified"));
        for hierarchy in v1 {
            let dir = hierarchy.join(self.cgroup_root.trim_start_matches('/'));
            fs::create_dir_all(&dir).map_err(Error::io(&dir))?;
            if hierarchy.ends_with("cpuset") {
                // A new cpuset starts empty; tasks cannot join it until it has CPUs and nodes.
                for file in ["cpuset.cpus", "cpuset.mems"] {
                    let parent = fs::read_to_string(hierarchy.join(file))
                        .map_err(Error::io(hierarchy.join(file)))?;
                    fs::write(dir.join(file), parent.trim()).map_err(Error::io(dir.join(file)))?;
                }
            }
        }
        Ok(())
    }

    /// PIDs of every process in the node's cgroups.
    pub fn cgroup_pids(&self) -> Vec<i32> {
        let mut pids = Vec::new();
        for hierarchy in cgroup_hierarchies() {
            let dir = hierarchy.join(self.cgroup_root.trim_start_matches('/'));
            collect_pids(&dir, &mut pids);
        }
        pids.sort_unstable();
        pids.dedup();
        pids
    }

    /// Remove the node's cgroup directories, deepest first. Returns those that could not be
    /// removed (still holding processes).
    pub fn remove_cgroups(&self) -> Vec<PathBuf> {
        let mut left = Vec::new();
        for hierarchy in cgroup_hierarchies() {
            let dir = hierarchy.join(self.cgroup_root.trim_start_matches('/'));
            if dir.exists() {
                remove_cgroup_tree(&dir, &mut left);
            }
        }
        left
    }

    /// Whether any of the node's cgroup directories exists.
    pub fn cgroups_exist(&self) -> bool {
        cgroup_hierarchies()
            .iter()
            .any(|h| h.join(self.cgroup_root.trim_start_matches('/')).exists())
    }
}

/// The cgroup hierarchies: every v1 hierarchy and, on a hybrid host, the unified one, where
/// kubelet also creates the pod cgroups.
pub fn cgroup_hierarchies() -> Vec<PathBuf> {
    let Ok(mounts) = fs::read_to_string("/proc/self/mounts") else {
        return Vec::new();
    };
    mounts
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            (fields.len() > 2 && (fields[2] == "cgroup" || fields[2] == "cgroup2"))
                .then(|| PathBuf::from(fields[1]))
        })
        .collect()
}

/// The shim sockets containerd 1.6 keeps outside its state directory for the sandboxes under
/// `containerd_dir`: `/run/containerd/s/<sha256 of "<socket>/<namespace>/<sandbox id>">`.
pub fn shim_sockets(containerd_dir: &Path) -> Vec<PathBuf> {
    use sha2::{Digest, Sha256};
    let socket = containerd_dir.join("containerd.sock");
    let tasks = containerd_dir
        .join("state")
        .join("io.containerd.runtime.v2.task");
    let mut sockets = Vec::new();
    let Ok(namespaces) = fs::read_dir(&tasks) else {
        return sockets;
    };
    for namespace in namespaces.flatten() {
        let Ok(ids) = fs::read_dir(namespace.path()) else {
            continue;
        };
        for id in ids.flatten() {
            let key = socket
                .join(namespace.file_name())
                .join(id.file_name())
                .to_string_lossy()
                .to_string();
            let digest = Sha256::digest(key.as_bytes());
            sockets.push(Path::new("/run/containerd/s").join(crate::assets::hex(&digest)));
        }
    }
    sockets
}

/// Remove the [`shim_sockets`] of `containerd_dir`, then the directories when nothing else
/// uses them.
pub fn remove_shim_sockets(containerd_dir: &Path) {
    for socket in shim_sockets(containerd_dir) {
        let _ = fs::remove_file(socket);
    }
    let _ = fs::remove_dir("/run/containerd/s");
    let _ = fs::remove_dir("/run/containerd");
}

fn collect_pids(dir: &Path, pids: &mut Vec<i32>) {
    if let Ok(text) = fs::read_to_string(dir.join("cgroup.procs")) {
        pids.extend(text.lines().filter_map(|l| l.trim().parse::<i32>().ok()));
    }
    if let Ok(entries) = fs::read_dir(dir) {
        for entry in entries.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                collect_pids(&entry.path(), pids);
            }
        }
    }
}

fn remove_cgroup_tree(dir: &Path, left: &mut Vec<PathBuf>) {
    if let Ok(entries) = fs::read_dir(dir) {
        for entry in entries.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                remove_cgroup_tree(&entry.path(), left);
            }
        }
    }
    if fs::remove_dir(dir).is_err() {
        left.push(dir.to_path_buf());
    }
}

/// Eight hex digits identifying a state directory.
fn short_id(state_dir: &Path) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(state_dir.to_string_lossy().as_bytes());
    crate::assets::hex(&digest[..3])
}

fn run(program: &str, args: &[&str]) -> Result<()> {
    run_output(program, args).map(|_| ())
}

fn run_output(program: &str, args: &[&str]) -> Result<String> {
    let output = Command::new(program)
        .args(args)
        .output()
        .map_err(Error::io(program))?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        Err(Error::Command {
            command: format!("{program} {}", args.join(" ")),
            status: output.status.to_string(),
            output: String::from_utf8_lossy(&output.stderr).trim().to_string(),
        })
    }
}

/// Install the Debian packages the real node needs, when any is missing.
///
/// # Errors
/// Fails if `apt-get` fails (the error carries its output).
pub fn ensure_packages(progress: &mut dyn FnMut(&str)) -> Result<()> {
    let missing: Vec<&str> = PACKAGES
        .iter()
        .filter(|(_, binary)| !Path::new(binary).exists())
        .map(|(package, _)| *package)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    progress(&format!(
        "installing Debian packages: {}",
        missing.join(" ")
    ));
    run("apt-get", &["update", "-q"])?;
    let mut args = vec!["install", "-y", "-q", "--no-install-recommends"];
    args.extend(&missing);
    let output = Command::new("apt-get")
        .env("DEBIAN_FRONTEND", "noninteractive")
        .args(&args)
        .output()
        .map_err(Error::io("apt-get"))?;
    if !output.status.success() {
        return Err(Error::Command {
            command: format!("apt-get {}", args.join(" ")),
            status: output.status.to_string(),
            output: String::from_utf8_lossy(&output.stderr).trim().to_string(),
        });
    }
    Ok(())
}

/// Files and directories of the node inside the state directory.
pub struct NodeLayout<'a> {
    layout: &'a Layout,
}

impl<'a> NodeLayout<'a> {
    /// The node files of `layout`.
    pub fn new(layout: &'a Layout) -> Self {
        Self { layout }
    }

    fn root(&self) -> &Path {
        self.layout.root()
    }

    /// containerd's directory.
    pub fn containerd(&self) -> PathBuf {
        self.root().join("containerd")
    }

    /// containerd's socket.
    pub fn containerd_socket(&self) -> PathBuf {
        self.containerd().join("containerd.sock")
    }

    /// kubelet's root directory.
    pub fn kubelet_root(&self) -> PathBuf {
        self.root().join("kubelet")
    }

    /// CNI configuration directory.
    pub fn cni_conf(&self) -> PathBuf {
        self.root().join("cni").join("net.d")
    }

    /// Pod log directory.
    pub fn pod_logs(&self) -> PathBuf {
        self.root().join("pod-logs")
    }

    /// Configuration files of kubelet and kube-proxy.
    pub fn config(&self, name: &str) -> PathBuf {
        self.root().join("config").join(name)
    }
}

/// Write the node's configuration files (containerd, CNI, kubelet, kube-proxy).
///
/// # Errors
/// Fails if a file cannot be written.
pub fn write_configs(layout: &Layout, network: &NodeNetwork, sandbox_image: &str) -> Result<()> {
    let node = NodeLayout::new(layout);
    let pki = layout.pki();
    let containerd = node.containerd();
    let socket = node.containerd_socket();
    let containerd_config = format!(
        r#"version = 2
root = "{root}"
state = "{state}"
[grpc]
  address = "{socket}"
[ttrpc]
  address = "{socket}.ttrpc"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{sandbox_image}"
  enable_unprivileged_ports = false
  # This VM lacks CAP_SYS_RESOURCE: never try to lower oom_score_adj below containerd's own.
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        BinaryName = "/usr/sbin/runc"
        Root = "{runc_root}"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "{cni_conf}"
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = ""
"#,
        root = containerd.join("root").display(),
        state = containerd.join("state").display(),
        socket = socket.display(),
        runc_root = containerd.join("runc").display(),
        cni_conf = node.cni_conf().display(),
    );
    write(&containerd.join("config.toml"), &containerd_config)?;

    let cni = serde_json::json!({
        "cniVersion": "0.4.0",
        "name": "kube-e2e",
        "plugins": [
            {
                "type": "bridge",
                "bridge": "cni0",
                "isGateway": true,
                "ipMasq": true,
                "hairpinMode": true,
                "ipam": {
                    "type": "host-local",
                    "ranges": [[{"subnet": NODE_POD_CIDR}]],
                    "routes": [{"dst": "0.0.0.0/0"}],
                    "dataDir": layout.root().join("cni").join("ipam").display().to_string()
                }
            },
            {"type": "portmap", "capabilities": {"portMappings": true}}
        ]
    });
    write(
        &node.cni_conf().join("10-kube-e2e.conflist"),
        &serde_json::to_string_pretty(&cni).expect("json"),
    )?;

    let kubelet = format!(
        r#"apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
failCgroupV1: false
cgroupDriver: cgroupfs
cgroupsPerQOS: true
cgroupRoot: {cgroup_root}
containerRuntimeEndpoint: unix://{socket}
imageServiceEndpoint: unix://{socket}
runtimeRequestTimeout: 2m
address: {node_ip}
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
authentication:
  anonymous:
    enabled: false
  webhook:
    enabled: true
  x509:
    clientCAFile: {ca}
authorization:
  mode: Webhook
tlsCertFile: {serving_cert}
tlsPrivateKeyFile: {serving_key}
clusterDomain: cluster.local
resolvConf: /etc/resolv.conf
failSwapOn: false
oomScoreAdj: 0
protectKernelDefaults: false
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard:
  memory.available: 100Mi
  nodefs.available: 1%
  nodefs.inodesFree: 1%
  imagefs.available: 1%
nodeStatusUpdateFrequency: 10s
serializeImagePulls: false
podLogsDir: {pod_logs}
volumePluginDir: {plugins}
registerNode: true
podCIDR: {pod_cidr}
"#,
        cgroup_root = network.cgroup_root,
        socket = socket.display(),
        node_ip = network.node_ip,
        ca = pki.ca_cert().display(),
        serving_cert = pki.cert("kubelet-serving").display(),
        serving_key = pki.key("kubelet-serving").display(),
        pod_logs = node.pod_logs().display(),
        plugins = layout.root().join("volume-plugins").display(),
        pod_cidr = NODE_POD_CIDR,
    );
    write(&node.config("kubelet.yaml"), &kubelet)?;

    let proxy = format!(
        r#"apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection:
  kubeconfig: {kubeconfig}
hostnameOverride: {NODE_NAME}
mode: iptables
clusterCIDR: {POD_CIDR}
bindAddress: {node_ip}
conntrack:
  maxPerCore: 0
  min: 0
  tcpEstablishedTimeout: 0s
  tcpCloseWaitTimeout: 0s
metricsBindAddress: 127.0.0.1:10249
healthzBindAddress: 127.0.0.1:10256
"#,
        kubeconfig = layout.kubeconfig("kube-proxy").display(),
        node_ip = network.node_ip,
    );
    write(&node.config("kube-proxy.yaml"), &proxy)?;
    Ok(())
}

fn write(path: &Path, contents: &str) -> Result<()> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).map_err(Error::io(dir))?;
    }
    fs::write(path, contents).map_err(Error::io(path))
}

/// The node's processes, in start order: containerd, then (after images are imported)
/// kubelet and kube-proxy. All run in the node's network namespace.
pub fn containerd_spec(layout: &Layout, network: &NodeNetwork) -> ComponentSpec {
    let node = NodeLayout::new(layout);
    ComponentSpec {
        name: "containerd".into(),
        binary: PathBuf::from("/usr/bin/containerd"),
        args: vec![
            "--config".into(),
            node.containerd().join("config.toml").display().to_string(),
        ],
        env: Vec::new(),
        log: layout.log("containerd"),
        netns: Some(network.netns_path()),
    }
}

/// kubelet and kube-proxy.
pub fn agent_specs(
    cache: &AssetCache,
    layout: &Layout,
    network: &NodeNetwork,
) -> Vec<ComponentSpec> {
    let node = NodeLayout::new(layout);
    vec![
        ComponentSpec {
            name: "kubelet".into(),
            binary: cache.path(Asset::Kubelet),
            args: vec![
                format!("--config={}", node.config("kubelet.yaml").display()),
                format!("--kubeconfig={}", layout.kubeconfig("kubelet").display()),
                format!("--hostname-override={NODE_NAME}"),
                format!("--node-ip={}", network.node_ip),
                format!("--root-dir={}", node.kubelet_root().display()),
                "--v=1".into(),
            ],
            env: Vec::new(),
            log: layout.log("kubelet"),
            netns: Some(network.netns_path()),
        },
        ComponentSpec {
            name: "kube-proxy".into(),
            binary: cache.path(Asset::KubeProxy),
            args: vec![format!(
                "--config={}",
                node.config("kube-proxy.yaml").display()
            )],
            env: Vec::new(),
            log: layout.log("kube-proxy"),
            netns: Some(network.netns_path()),
        },
    ]
}

/// Unmount everything mounted under `dir` (deepest first). Returns the mount points left.
pub fn unmount_under(dir: &Path) -> Vec<PathBuf> {
    let mut left = Vec::new();
    for _ in 0..3 {
        let mut points = mounts_under(dir);
        if points.is_empty() {
            return Vec::new();
        }
        points.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
        left.clear();
        for point in points {
            if nix::mount::umount2(&point, nix::mount::MntFlags::MNT_DETACH).is_err() {
                left.push(point);
            }
        }
    }
    left
}

/// Mount points at or below `dir`.
pub fn mounts_under(dir: &Path) -> Vec<PathBuf> {
    let Ok(text) = fs::read_to_string("/proc/self/mountinfo") else {
        return Vec::new();
    };
    let prefix = dir.to_string_lossy().to_string();
    text.lines()
        .filter_map(|line| line.split_whitespace().nth(4))
        .map(|p| p.replace("\\040", " "))
        .filter(|p| p == &prefix || p.starts_with(&format!("{prefix}/")))
        .map(PathBuf::from)
        .collect()
}

/// Remove the CNI network namespaces (`/run/netns/cni-*`) that belong to `pids`' processes:
/// a namespace file is an nsfs bind mount whose inode is the namespace's.
pub fn remove_pod_netns(pids: &[i32]) -> Vec<PathBuf> {
    use std::os::unix::fs::MetadataExt;
    let inodes: Vec<u64> = pids
        .iter()
        .filter_map(|pid| fs::metadata(format!("/proc/{pid}/ns/net")).ok())
        .map(|m| m.ino())
        .collect();
    let mut removed = Vec::new();
    let Ok(entries) = fs::read_dir("/run/netns") else {
        return removed;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let is_cni = entry.file_name().to_string_lossy().starts_with("cni-");
        if is_cni && fs::metadata(&path).is_ok_and(|m| inodes.contains(&m.ino())) {
            let _ = nix::mount::umount2(&path, nix::mount::MntFlags::MNT_DETACH);
            let _ = fs::remove_file(&path);
            removed.push(path);
        }
    }
    removed
}

/// Remove symlinks in `/var/log/containers` that point into `dir` (kubelet writes them there).
pub fn remove_container_log_links(dir: &Path) {
    let Ok(entries) = fs::read_dir("/var/log/containers") else {
        return;
    };
    for entry in entries.flatten() {
        if fs::read_link(entry.path()).is_ok_and(|target| target.starts_with(dir)) {
            let _ = fs::remove_file(entry.path());
        }
    }
    let _ = fs::remove_dir("/var/log/containers");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_fit_linux_limits_and_are_stable_per_state_dir() {
        let a = short_id(Path::new("/a/cluster"));
        assert_eq!(a, short_id(Path::new("/a/cluster")));
        assert_ne!(a, short_id(Path::new("/b/cluster")));
        let link = format!("ke2e{a}n");
        assert!(
            link.len() <= 15,
            "interface names are limited to 15 bytes: {link}"
        );
    }

    #[test]
    fn node_configs_point_into_the_state_dir() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::new(dir.path());
        let network = NodeNetwork {
            netns: "kube-e2e-x".into(),
            host_link: "ke2ex".into(),
            host_ip: Ipv4Addr::new(172, 30, 9, 1),
            node_ip: Ipv4Addr::new(172, 30, 9, 2),
            cgroup_root: "/kube-e2e-x".into(),
        };
        write_configs(&layout, &network, "registry.k8s.io/pause:3.10.1").unwrap();
        let node = NodeLayout::new(&layout);
        let kubelet = fs::read_to_string(node.config("kubelet.yaml")).unwrap();
        assert!(kubelet.contains("failCgroupV1: false"));
        assert!(kubelet.contains("cgroupRoot: /kube-e2e-x"));
        assert!(kubelet.contains(&format!("podLogsDir: {}", node.pod_logs().display())));
        let containerd = fs::read_to_string(node.containerd().join("config.toml")).unwrap();
        assert!(containerd.contains("restrict_oom_score_adj = true"));
        assert!(containerd.contains("sandbox_image = \"registry.k8s.io/pause:3.10.1\""));
        let cni = fs::read_to_string(node.cni_conf().join("10-kube-e2e.conflist")).unwrap();
        let cni: serde_json::Value = serde_json::from_str(&cni).unwrap();
        assert_eq!(
            cni["plugins"][0]["ipam"]["ranges"][0][0]["subnet"],
            NODE_POD_CIDR
        );
    }

    #[test]
    fn mounts_under_matches_whole_path_components() {
        assert!(mounts_under(Path::new("/proc")).contains(&PathBuf::from("/proc")));
        assert!(
            mounts_under(Path::new("/pro")).is_empty(),
            "a prefix of a name is not a parent"
        );
        assert!(mounts_under(Path::new("/nonexistent-kube-e2e")).is_empty());
    }
}
