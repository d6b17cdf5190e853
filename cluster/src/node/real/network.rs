//! The real node's network: a network namespace joined to the host by a veth pair.
//!
//! The host end of the pair carries the address the API server advertises, the node end (named
//! `eth0` inside the namespace) the node's. Names are derived from the state directory and the
//! /30 and the node's pod range from the first free index, so clusters with different state
//! directories do not collide.
//!
//! The host routes the node's pod range to the node, so the control plane reaches pods: the
//! API server calls admission and conversion webhooks and aggregated API servers that run as
//! pods at their endpoints' addresses (`--enable-aggregator-routing`). The route goes with
//! the veth pair, that is when the namespace is deleted. The Service range is not routed:
//! every cluster has the same one, and kube-proxy's rules live in the node's namespace.

use std::fs;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::{Deserialize, Serialize};

use super::command::{run, run_output};
use crate::error::{Error, Result};

/// The most real nodes one cluster can have.
pub const MAX_REAL_NODES: u32 = 9;

/// The network and cgroup identity of a real node.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct NodeNetwork {
    /// The node's name: [`NODE_NAME`](super::NODE_NAME) for the first, `kube-e2e-node-N` for
    /// the N-th.
    #[serde(default = "default_name")]
    pub name: String,
    /// 1 for the first real node, 2 for the second, …
    #[serde(default = "default_ordinal")]
    pub ordinal: u32,
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
    /// The node's pod range, routed from the host to the node.
    #[serde(default = "default_pod_cidr")]
    pub pod_cidr: String,
}

fn default_pod_cidr() -> String {
    super::NODE_POD_CIDR.to_string()
}

fn default_name() -> String {
    super::NODE_NAME.to_string()
}

fn default_ordinal() -> u32 {
    1
}

impl NodeNetwork {
    /// Networks for the `count` real nodes of the cluster in `state_dir`: names derived from
    /// the directory and the node's ordinal; for each node the next index `i` whose /30
    /// (172.30.`i`.0/30) has no address on this host and whose pod range (10.244.`128+i`.0/24)
    /// no route, of 128.
    ///
    /// # Errors
    /// `count` is 0 or above [`MAX_REAL_NODES`], `ip` fails, or no index is free.
    pub fn choose(state_dir: &Path, count: u32) -> Result<Vec<Self>> {
        if count == 0 || count > MAX_REAL_NODES {
            return Err(Error::Unsupported(format!(
                "run {count} real nodes: between 1 and {MAX_REAL_NODES} are supported"
            )));
        }
        let id = short_id(state_dir);
        let used = run_output("ip", &["-o", "-4", "addr", "show"])?;
        let routes = run_output("ip", &["-4", "route", "show"])?;
        let mut free = (0u8..128).filter(|i| {
            !used.contains(&format!("172.30.{i}."))
                && !routes.contains(&format!("10.244.{}.", 128 + i))
        });
        (1..=count)
            .map(|ordinal| {
                let index = free.next().ok_or_else(|| {
                    Error::Unsupported(
                        "find a free 172.30.x.0/30 and 10.244.(128+x).0/24 for a real node".into(),
                    )
                })?;
                Ok(Self {
                    name: node_name(ordinal),
                    ordinal,
                    netns: format!("kube-e2e-{id}{}", suffix(ordinal)),
                    host_link: match ordinal {
                        1 => format!("ke2e{id}"),
                        n => format!("ke2e{id}{n}"),
                    },
                    host_ip: Ipv4Addr::new(172, 30, index, 1),
                    node_ip: Ipv4Addr::new(172, 30, index, 2),
                    cgroup_root: cgroup_root_of(state_dir, ordinal),
                    pod_cidr: format!("10.244.{}.0/24", 128 + index),
                })
            })
            .collect()
    }

    /// What the node's component names end with: nothing for the first node, `-N` for the
    /// N-th (`kubelet-2`).
    pub fn component_suffix(&self) -> String {
        suffix(self.ordinal)
    }

    /// Where the node's own files live: the state directory itself for the first node (as
    /// before there were more), `n<N>/` inside it for the N-th — its PKI leaf certificates,
    /// kubeconfigs, logs, containerd, kubelet and CNI directories.
    pub fn layout(&self, cluster: &crate::layout::Layout) -> crate::layout::Layout {
        match self.ordinal {
            1 => cluster.clone(),
            n => crate::layout::Layout::new(&cluster.root().join(format!("n{n}"))),
        }
    }

    /// The namespace's file.
    pub fn netns_path(&self) -> PathBuf {
        PathBuf::from("/run/netns").join(&self.netns)
    }

    /// Create the namespace, the veth pair, addresses, routes (the node's default route to the
    /// host, the host's route to the node's pod range) and sysctls. With `forward`, the host
    /// forwards what arrives on its end of the pair (to the other nodes' pod ranges): set on
    /// this link only, and gone with it.
    ///
    /// # Errors
    /// Fails if an `ip` or `sysctl` command fails; the command and its output are in the error.
    pub fn create(&self, forward: bool) -> Result<()> {
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
        let node_ip = self.node_ip.to_string();
        run(
            "ip",
            &[
                "route",
                "add",
                &self.pod_cidr,
                "via",
                &node_ip,
                "dev",
                &self.host_link,
            ],
        )?;
        if forward {
            run(
                "sysctl",
                &[
                    "-qw",
                    &format!("net.ipv4.conf.{}.forwarding=1", self.host_link),
                ],
            )?;
        }
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
}

/// The pod cgroup of real node `ordinal` of the cluster in `state_dir` (what
/// [`NodeNetwork::choose`] names it), so that a cleanup without the saved state still finds
/// the nodes' cgroups.
pub fn cgroup_root_of(state_dir: &Path, ordinal: u32) -> String {
    format!("/kube-e2e-{}{}", short_id(state_dir), suffix(ordinal))
}

/// The name of real node `ordinal`.
pub fn node_name(ordinal: u32) -> String {
    match ordinal {
        1 => super::NODE_NAME.to_string(),
        n => format!("{}-{n}", super::NODE_NAME),
    }
}

fn suffix(ordinal: u32) -> String {
    match ordinal {
        1 => String::new(),
        n => format!("-{n}"),
    }
}

/// Six hex digits identifying a state directory.
fn short_id(state_dir: &Path) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(state_dir.to_string_lossy().as_bytes());
    crate::assets::hex(&digest[..3])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_fit_linux_limits_and_are_stable_per_state_dir() {
        let a = short_id(Path::new("/a/cluster"));
        assert_eq!(a, short_id(Path::new("/a/cluster")));
        assert_ne!(a, short_id(Path::new("/b/cluster")));
        let link = format!("ke2e{a}{MAX_REAL_NODES}n");
        assert!(
            link.len() <= 15,
            "interface names are limited to 15 bytes: {link}"
        );
        assert_eq!(node_name(1), "kube-e2e-node");
        assert_eq!(node_name(2), "kube-e2e-node-2");
        assert_ne!(
            cgroup_root_of(Path::new("/a/cluster"), 1),
            cgroup_root_of(Path::new("/a/cluster"), 2)
        );
    }
}
