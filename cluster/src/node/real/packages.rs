//! The Debian packages the real node needs, installed with `apt-get` when missing.

use std::path::Path;
use std::process::{Command, Stdio};

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
    // Tools the agnhost image carries (see `images::AGNHOST_TOOLS`).
    ("curl", "/usr/bin/curl"),
    ("bind9-dnsutils", "/usr/bin/dig"),
    ("netcat-openbsd", "/usr/bin/nc.openbsd"),
];

/// Install the Debian packages the real node needs, when any is missing.
///
/// The package lists and the packages are fetched as recorded build steps, so an interrupted
/// `up` stops them ([`crate::process::stop_build_steps`]); the install from the fetched files
/// that follows is left to finish (seconds, no network) so that dpkg's database is never left
/// half-written.
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
    apt_get(&["update", "-q"], true)?;
    let mut args = vec!["install", "-y", "-q", "--no-install-recommends"];
    args.extend(&missing);
    let mut download = args.clone();
    download.push("--download-only");
    apt_get(&download, true)?;
    apt_get(&args, false)
}

/// Runs `apt-get args…`; as a recorded build step (stopped by an interrupt) when
/// `interruptible`.
fn apt_get(args: &[&str], interruptible: bool) -> Result<()> {
    let mut command = Command::new("apt-get");
    command
        .env("DEBIAN_FRONTEND", "noninteractive")
        .args(args)
        .stdin(Stdio::null());
    let output = if interruptible {
        crate::process::build_step_output(&mut command)
    } else {
        command.output()
    }
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
