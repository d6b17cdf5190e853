//! The images every local cluster imports: busybox and pause, and on a real node agnhost.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::agnhost::{AGNHOST_IMAGE, agnhost_image};
use super::archive::{ImageBuilder, ImageInfo, hex_of, image_error, sha256};
use super::{BUSYBOX, E2E_BUSYBOX_IMAGE, PAUSE_ENTRYPOINT, SANDBOX_IMAGE};
use crate::Asset;
use crate::{Error, Result};

/// A busybox image: `/bin/busybox` and a link per applet (so `/bin/echo`, `/bin/env`, …),
/// `/etc/passwd` and `/etc/group` with root and nobody (65534), `/etc/hosts`, `/tmp` (1777) and
/// the usual empty directories; `PATH=/bin:/usr/bin:/sbin:/usr/sbin`, command `sh`.
///
/// `sh` is this machine's bash ([`SHELL`], with the libraries it loads), which runs as a POSIX
/// shell under that name: Debian's busybox (1.35) shell drops environment variables whose
/// names are not identifiers (such as `p-data-1`, which `envFrom` with a prefix makes), while
/// upstream's e2e busybox (1.37) keeps them for the commands it runs, and upstream's tests
/// read them with `sh -c env`. Every other command is busybox's.
///
/// `busybox` must be statically linked (Debian's `busybox-static`).
///
/// # Errors
///
/// If `busybox` is unreadable, not a static ELF executable, or `busybox --list` fails.
pub fn busybox_image(busybox: &Path) -> Result<ImageBuilder> {
    let binary = fs::read(busybox).map_err(Error::io(busybox))?;
    if is_static_elf(&binary) != Some(true) {
        return Err(image_error(
            format!("use {} in an image", busybox.display()),
            "it is not a statically linked ELF executable; install Debian's `busybox-static`",
        ));
    }
    let output = Command::new(busybox)
        .arg("--list")
        .output()
        .map_err(|source| Error::Spawn {
            component: "busybox --list".into(),
            binary: busybox.to_path_buf(),
            source,
        })?;
    if !output.status.success() {
        return Err(image_error(
            format!("list the applets of {}", busybox.display()),
            format!(
                "{}: {}",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            ),
        ));
    }
    let mut image = ImageBuilder::new();
    for dir in ["bin", "dev", "etc", "home", "proc", "sys", "usr/bin", "var"] {
        image = image.dir(dir, 0o755);
    }
    image = image
        .dir("root", 0o700)
        .dir("tmp", 0o1777)
        .file("bin/busybox", binary, 0o755);
    for applet in String::from_utf8_lossy(&output.stdout).split_whitespace() {
        if applet != "busybox" && !applet.contains('/') {
            image = image.symlink(&format!("bin/{applet}"), "busybox");
        }
    }
    let image = super::host::host_program(image, Path::new(SHELL), "bin/bash", "bash")?;
    Ok(image
        .symlink("bin/sh", "bash")
        // For `#!/usr/bin/env sh` scripts.
        .symlink("usr/bin/env", "../../bin/busybox")
        .file(
            "etc/passwd",
            "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n",
            0o644,
        )
        .file("etc/group", "root:x:0:\nnogroup:x:65534:\n", 0o644)
        .file("etc/hosts", "127.0.0.1 localhost\n::1 localhost\n", 0o644)
        // glibc programs in images built on this one (getent, curl) look in files, then DNS.
        .file("etc/nsswitch.conf", "hosts: files dns\n", 0o644)
        .env("PATH", "/bin:/usr/bin:/sbin:/usr/sbin")
        .working_dir("/")
        .cmd(vec!["sh".into()]))
}

/// The shell the busybox image runs as `sh` (Debian's bash).
pub const SHELL: &str = "/usr/bin/bash";

/// The sandbox image: [`busybox_image`] running [`PAUSE_ENTRYPOINT`].
///
/// # Errors
///
/// As [`busybox_image`].
pub fn pause_image(busybox: &Path) -> Result<ImageBuilder> {
    Ok(busybox_image(busybox)?
        .entrypoint(PAUSE_ENTRYPOINT.iter().map(|s| s.to_string()).collect())
        .cmd(Vec::new()))
}

/// An image the local cluster provides, imported under every name manifests use for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LocalImage {
    /// [`busybox_image`], standing in for upstream busybox images.
    Busybox,
    /// [`pause_image`], the pod sandbox.
    Pause,
    /// [`agnhost_image`](super::agnhost::agnhost_image), upstream's test server (needs the
    /// agnhost and coredns binaries in the asset cache).
    Agnhost,
    /// [`coredns_image`]: the cluster's DNS server (needs the coredns binary in the asset
    /// cache).
    Coredns,
    /// [`httpd_image`](super::debian::httpd_image): upstream's httpd test image, from
    /// Debian's Apache.
    Httpd,
    /// [`nginx_image`](super::debian::nginx_image): upstream's nginx test image, from Debian's
    /// nginx.
    Nginx,
    /// [`jessie_dnsutils_image`](super::agnhost::jessie_dnsutils_image): the DNS query
    /// image of upstream's DNS tests.
    JessieDnsutils,
}

/// An archive in the cache, built by [`build_standard`] or [`LocalImage::build`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuiltImage {
    /// Which image.
    pub image: LocalImage,
    /// The OCI archive, for [`import`](super::import).
    pub archive: PathBuf,
    /// Its digests and names.
    pub info: ImageInfo,
}

/// The images made from busybox alone.
pub fn standard_images() -> [LocalImage; 2] {
    [LocalImage::Busybox, LocalImage::Pause]
}

/// Every image the local cluster imports into its real node.
pub fn node_images() -> [LocalImage; 7] {
    [
        LocalImage::Busybox,
        LocalImage::Pause,
        LocalImage::Agnhost,
        LocalImage::Coredns,
        LocalImage::Httpd,
        LocalImage::Nginx,
        LocalImage::JessieDnsutils,
    ]
}

/// CoreDNS's image, as upstream's: the `coredns` binary as entrypoint and nothing else but
/// `/etc/passwd` and `/etc/group`.
///
/// # Errors
///
/// If `coredns` is not a file.
pub fn coredns_image(coredns: &Path) -> Result<ImageBuilder> {
    if !coredns.is_file() {
        return Err(Error::MissingTool {
            tool: coredns.display().to_string(),
            hint: "build it with `kube-e2e-cluster assets --all`".into(),
        });
    }
    Ok(ImageBuilder::new()
        .host_file("coredns", coredns, 0o755)
        .file(
            "etc/passwd",
            "root:x:0:0:root:/:/sbin/nologin
",
            0o644,
        )
        .file(
            "etc/group",
            "root:x:0:
",
            0o644,
        )
        .dir("tmp", 0o1777)
        .entrypoint(vec!["/coredns".into()]))
}

impl LocalImage {
    /// A short name, used for archive file names.
    pub fn short_name(self) -> &'static str {
        match self {
            LocalImage::Busybox => "busybox",
            LocalImage::Pause => "pause",
            LocalImage::Agnhost => "agnhost",
            LocalImage::Coredns => "coredns",
            LocalImage::Httpd => "httpd",
            LocalImage::Nginx => "nginx",
            LocalImage::JessieDnsutils => "jessie-dnsutils",
        }
    }

    /// Every name the image is imported under. None is tagged `latest`: kubelet always
    /// pulls those.
    pub fn names(self) -> &'static [&'static str] {
        match self {
            LocalImage::Busybox => &[
                E2E_BUSYBOX_IMAGE,
                "docker.io/library/busybox:1.37",
                "docker.io/library/busybox:1.36",
                "localhost/kube-e2e/busybox:1.37",
            ],
            LocalImage::Pause => &[
                SANDBOX_IMAGE,
                "registry.k8s.io/pause:3.10",
                "localhost/kube-e2e/pause:3.10.1",
            ],
            LocalImage::Agnhost => &[AGNHOST_IMAGE],
            LocalImage::Coredns => &[crate::dns::COREDNS_IMAGE],
            LocalImage::Httpd => super::debian::HTTPD_IMAGES,
            LocalImage::Nginx => super::debian::NGINX_IMAGES,
            LocalImage::JessieDnsutils => &[super::agnhost::JESSIE_DNSUTILS_IMAGE],
        }
    }

    /// The image's contents, built around the static `busybox`; agnhost's binary is taken
    /// from the asset cache at `cache_dir` (its `bin/`), its key pair kept in `images/`.
    ///
    /// # Errors
    ///
    /// As [`busybox_image`] and [`agnhost_image`](super::agnhost::agnhost_image).
    pub fn builder(self, busybox: &Path, cache_dir: &Path) -> Result<ImageBuilder> {
        match self {
            LocalImage::Busybox => busybox_image(busybox),
            LocalImage::Pause => pause_image(busybox),
            LocalImage::Agnhost => agnhost_image(
                busybox,
                &cache_dir.join("bin").join(Asset::Agnhost.binary_name()),
                &cache_dir.join("bin").join(Asset::Coredns.binary_name()),
                &cache_dir.join("images"),
            ),
            LocalImage::Coredns => {
                coredns_image(&cache_dir.join("bin").join(Asset::Coredns.binary_name()))
            }
            LocalImage::Httpd => super::debian::httpd_image(busybox, cache_dir),
            LocalImage::Nginx => super::debian::nginx_image(busybox, cache_dir),
            LocalImage::JessieDnsutils => super::agnhost::jessie_dnsutils_image(busybox),
        }
    }

    /// Builds the image's archive into `<cache_dir>/images/<short name>-<digest>.tar`, where the
    /// digest covers the whole archive; an archive already there is reused.
    ///
    /// # Errors
    ///
    /// As [`busybox_image`] and [`ImageBuilder::write_oci_archive`].
    pub fn build(self, busybox: &Path, cache_dir: &Path) -> Result<BuiltImage> {
        let names: Vec<String> = self.names().iter().map(|s| s.to_string()).collect();
        let oci = self.builder(busybox, cache_dir)?.assemble(&names)?;
        let index_digest = sha256(&oci.index);
        let key = &hex_of(&index_digest)[..16];
        let archive = cache_dir
            .join("images")
            .join(format!("{}-{key}.tar", self.short_name()));
        if !archive.is_file() {
            oci.write(&archive)?;
        }
        Ok(BuiltImage {
            image: self,
            archive,
            info: oci.info,
        })
    }
}

/// Builds (or reuses from `cache_dir`) the archives of [`standard_images`] from [`BUSYBOX`].
///
/// # Errors
///
/// If busybox-static is not installed, or an archive cannot be written.
pub fn build_standard(cache_dir: &Path) -> Result<Vec<BuiltImage>> {
    build_all(&standard_images(), cache_dir)
}

/// Builds (or reuses from the asset cache at `cache_dir`) the archives of [`node_images`].
///
/// # Errors
///
/// As [`build_standard`], and if agnhost or a tool its image carries is missing.
pub fn build_node_images(cache_dir: &Path) -> Result<Vec<BuiltImage>> {
    build_all(&node_images(), cache_dir)
}

fn build_all(wanted: &[LocalImage], cache_dir: &Path) -> Result<Vec<BuiltImage>> {
    let busybox = Path::new(BUSYBOX);
    if !busybox.is_file() {
        return Err(Error::MissingTool {
            tool: BUSYBOX.into(),
            hint: "install it with `apt-get install busybox-static`".into(),
        });
    }
    wanted
        .iter()
        .map(|image| image.build(busybox, cache_dir))
        .collect()
}

/// Whether an x86-64/aarch64 style ELF file has no program interpreter (`None`: not ELF64 LE).
pub(super) fn is_static_elf(bytes: &[u8]) -> Option<bool> {
    if bytes.get(..6)? != b"\x7fELF\x02\x01" {
        return None;
    }
    let u64_at = |at: usize| Some(u64::from_le_bytes(bytes.get(at..at + 8)?.try_into().ok()?));
    let u16_at = |at: usize| Some(u16::from_le_bytes(bytes.get(at..at + 2)?.try_into().ok()?));
    let program_headers = usize::try_from(u64_at(0x20)?).ok()?;
    let (size, count) = (usize::from(u16_at(0x36)?), usize::from(u16_at(0x38)?));
    for i in 0..count {
        let at = program_headers + i * size;
        const PT_INTERP: u32 = 3;
        if u32::from_le_bytes(bytes.get(at..at + 4)?.try_into().ok()?) == PT_INTERP {
            return Some(false);
        }
    }
    Some(true)
}
