//! Upstream's agnhost test image, built here: the `agnhost` binary of the Kubernetes release
//! (built from `k8s.io/kubernetes/test/images/agnhost` with the other binaries) on the busybox
//! image, with the tools upstream's image carries and its tests call, copied from this
//! machine's Debian packages together with the shared libraries they load.
//!
//! What it has, as upstream's: `/agnhost` (entrypoint, default command `pause`), the
//! `/agnhost-2` link, `/coredns`, `/uploads`, a self-signed `/localhost.crt` and `/localhost.key` for
//! `porter`, the user `user-defined-in-image` (1000) in group `group-defined-in-image` (50000),
//! and `curl`, `dig`, `nslookup`, `nc`, `ip`, `getent` and `bash` (the base image's `sh`). What differs:
//! the base is busybox on glibc, not Alpine; `/bin/sh` is bash, not busybox's shell (see
//! [`busybox_image`]; Debian's busybox shell would also run its own `nc`, `ip` and `nslookup`
//! before the real ones on `PATH`); `/coredns` is the cluster's
//! CoreDNS release (upstream's image has 1.6.2) with the cluster DNS plugins; `iperf` is
//! missing.

use std::fs;
use std::path::{Path, PathBuf};

use super::archive::{ImageBuilder, image_error};
use super::catalogue::busybox_image;
use super::host::host_program;
use crate::{Error, Result};

/// The name upstream's e2e image manifest gives agnhost in Kubernetes 1.34.
pub const AGNHOST_IMAGE: &str = "registry.k8s.io/e2e-test-images/agnhost:2.56";

/// Host programs the image carries: where they are on this machine, where they go in the
/// image (Alpine's places, as in upstream's image), and the Debian package that has them.
pub const AGNHOST_TOOLS: &[(&str, &str, &str)] = &[
    ("/usr/bin/curl", "/usr/bin/curl", "curl"),
    ("/usr/bin/dig", "/usr/bin/dig", "bind9-dnsutils"),
    ("/usr/bin/nslookup", "/usr/bin/nslookup", "bind9-dnsutils"),
    ("/usr/bin/nc.openbsd", "/usr/bin/nc", "netcat-openbsd"),
    ("/usr/sbin/ip", "/sbin/ip", "iproute2"),
    // Upstream's DNS specs read `/etc/hosts` entries with it.
    ("/usr/bin/getent", "/usr/bin/getent", "libc-bin"),
];

/// The agnhost image: [`busybox_image`] plus `agnhost` (the built binary), `coredns` as
/// `/coredns` (upstream's image has one, which DNS tests start), the porter key pair in
/// `cert_dir` (made once, then reused so the image stays the same) and [`AGNHOST_TOOLS`].
///
/// # Errors
///
/// If busybox or agnhost is unusable, a tool is missing (the error names its Debian package),
/// `ldd` fails on one, or the key pair cannot be written.
pub fn agnhost_image(
    busybox: &Path,
    agnhost: &Path,
    coredns: &Path,
    cert_dir: &Path,
) -> Result<ImageBuilder> {
    for binary in [agnhost, coredns] {
        if !binary.is_file() {
            return Err(Error::MissingTool {
                tool: binary.display().to_string(),
                hint: "build it with `kube-e2e-cluster assets --all`".into(),
            });
        }
    }
    let (crt, key) = porter_key_pair(cert_dir)?;
    let mut image = busybox_image(busybox)?
        .host_file("agnhost", agnhost, 0o755)
        .symlink("agnhost-2", "agnhost")
        .host_file("coredns", coredns, 0o755)
        .dir("uploads", 0o777)
        .host_file("localhost.crt", &crt, 0o644)
        .host_file("localhost.key", &key, 0o644)
        .file(
            "etc/passwd",
            "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n\
             user-defined-in-image:x:1000:1000::/home/user-defined-in-image:/bin/sh\n",
            0o644,
        )
        .file(
            "etc/group",
            "root:x:0:\nnogroup:x:65534:\nuser-defined-in-image:x:1000:\n\
             group-defined-in-image:x:50000:user-defined-in-image\n",
            0o644,
        )
        .dir("home/user-defined-in-image", 0o755)
        // The real tools come before busybox's applets of the same name.
        .env(
            "PATH",
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        )
        .entrypoint(vec!["/agnhost".into()])
        .cmd(vec!["pause".into()]);
    for (host, in_image, package) in AGNHOST_TOOLS {
        image = host_program(image, Path::new(host), in_image, package)?;
    }
    Ok(image)
}

/// The name upstream's e2e image manifest gives the DNS query image (Debian jessie with
/// dnsutils) in Kubernetes 1.34.
pub const JESSIE_DNSUTILS_IMAGE: &str = "registry.k8s.io/e2e-test-images/jessie-dnsutils:1.7";

/// Upstream's DNS query image, as its DNS tests use it: [`busybox_image`] with this machine's
/// `dig`, `nslookup` and `getent` (Debian bookworm's, not jessie's). The tests run shell loops
/// of `dig +search …`, `getent hosts …` and `hostname -i` in it.
///
/// # Errors
///
/// As [`busybox_image`], and if a tool is missing (the error names its Debian package).
pub fn jessie_dnsutils_image(busybox: &Path) -> Result<ImageBuilder> {
    let mut image = busybox_image(busybox)?.env(
        "PATH",
        "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    );
    for (host, in_image, package) in [
        ("/usr/bin/dig", "/usr/bin/dig", "bind9-dnsutils"),
        ("/usr/bin/nslookup", "/usr/bin/nslookup", "bind9-dnsutils"),
        ("/usr/bin/getent", "/usr/bin/getent", "libc-bin"),
    ] {
        image = host_program(image, Path::new(host), in_image, package)?;
    }
    Ok(image)
}

/// The self-signed `localhost` certificate and key porter serves TLS with, made in `dir` once.
fn porter_key_pair(dir: &Path) -> Result<(PathBuf, PathBuf)> {
    let (crt, key) = (dir.join("localhost.crt"), dir.join("localhost.key"));
    if crt.is_file() && key.is_file() {
        return Ok((crt, key));
    }
    fs::create_dir_all(dir).map_err(Error::io(dir))?;
    let pair = rcgen::generate_simple_self_signed(vec!["localhost".to_string()])
        .map_err(|e| image_error("make porter's localhost certificate", e))?;
    let tmp_key = dir.join("localhost.key.tmp");
    fs::write(&tmp_key, pair.signing_key.serialize_pem()).map_err(Error::io(&tmp_key))?;
    fs::write(&crt, pair.cert.pem()).map_err(Error::io(&crt))?;
    fs::rename(&tmp_key, &key).map_err(Error::io(&key))?;
    Ok((crt, key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_porter_key_pair_is_made_once() {
        let dir = tempfile::tempdir().unwrap();
        let (crt, _) = porter_key_pair(dir.path()).unwrap();
        let first = fs::read(&crt).unwrap();
        porter_key_pair(dir.path()).unwrap();
        assert_eq!(fs::read(&crt).unwrap(), first);
        assert!(
            String::from_utf8(first)
                .unwrap()
                .contains("BEGIN CERTIFICATE")
        );
    }
}
