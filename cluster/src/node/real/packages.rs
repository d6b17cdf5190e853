//! The Debian packages the real node needs, installed with `apt-get` when missing.

use std::path::Path;
use std::process::Command;

use super::command::run;
use crate::error::{Error, Result};

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
