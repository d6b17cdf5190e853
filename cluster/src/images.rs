//! Container images built locally, without a registry.
//!
//! The local cluster never pulls: every image a manifest names is built here as a single-layer
//! OCI image-layout archive and imported into the node's containerd (namespace `k8s.io`, where
//! the CRI plugin, and so kubelet, sees it) under the exact names the manifests use.
//! Archives are deterministic — mtime 0, owner root, sorted entries, a fixed `created` time —
//! so the same inputs always give the same image ID.
//!
//! ```no_run
//! use std::path::Path;
//! use kube_e2e_cluster::images::{self, ImageBuilder};
//!
//! # fn run() -> kube_e2e_cluster::Result<()> {
//! let driver = images::busybox_image(Path::new(images::BUSYBOX))?
//!     .host_file("/bin/hostpath-plugin", Path::new("/opt/csi/hostpath-plugin"), 0o755)
//!     .entrypoint(vec!["/bin/hostpath-plugin".into()]);
//! let names = ["localhost/kube-e2e/hostpath-plugin:1.0".to_string()];
//! let info = driver.write_oci_archive(&names, Path::new("/var/tmp/hostpath-plugin.tar"))?;
//! images::import(Path::new("/usr/bin/ctr"), Path::new("/run/node/containerd.sock"),
//!     Path::new("/var/tmp/hostpath-plugin.tar"))?;
//! println!("imported {} as {}", info.config_digest, names[0]);
//! # Ok(()) }
//! ```
//!
//! Everything here is synchronous and fast (a busybox image builds in well under a second);
//! from async code, call it through `tokio::task::spawn_blocking` if that matters.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::{Error, Result};

/// Where Debian's `busybox-static` installs busybox.
pub const BUSYBOX: &str = "/bin/busybox";

/// The sandbox ("pause") image; containerd's `sandbox_image` and kubelet should name this.
pub const SANDBOX_IMAGE: &str = "registry.k8s.io/pause:3.10.1";

/// The busybox image the upstream e2e tests use.
pub const E2E_BUSYBOX_IMAGE: &str = "registry.k8s.io/e2e-test-images/busybox:1.37.0-1";

/// The containerd namespace of the CRI plugin: images imported elsewhere are invisible to kubelet.
pub const CRI_NAMESPACE: &str = "k8s.io";

/// The pause image's entrypoint: sleeps forever and exits 0 on SIGTERM or SIGINT (as PID 1,
/// a signal without a handler would be ignored).
pub const PAUSE_ENTRYPOINT: [&str; 3] = [
    "/bin/sh",
    "-c",
    "trap 'exit 0' TERM INT; while :; do sleep 3600 & wait; done",
];

const CREATED: &str = "1970-01-01T00:00:00Z";
const MANIFEST_MEDIA_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
const CONFIG_MEDIA_TYPE: &str = "application/vnd.oci.image.config.v1+json";
const LAYER_MEDIA_TYPE: &str = "application/vnd.oci.image.layer.v1.tar";

/// One node of the root filesystem.
#[derive(Debug, Clone)]
enum Node {
    Dir { mode: u32 },
    File { content: Content, mode: u32 },
    Symlink { target: String },
}

#[derive(Debug, Clone)]
enum Content {
    Bytes(Vec<u8>),
    Host(PathBuf),
}

/// A single-layer container image: a root filesystem and an image config.
///
/// Paths in the image may be written with or without the leading `/`. Adding a path twice
/// replaces the first entry; missing parent directories are created with mode 0755. Host files
/// are read, and paths checked, only by [`write_oci_archive`](Self::write_oci_archive).
#[derive(Debug, Clone, Default)]
pub struct ImageBuilder {
    nodes: BTreeMap<String, Node>,
    problems: Vec<String>,
    entrypoint: Vec<String>,
    cmd: Vec<String>,
    env: Vec<(String, String)>,
    working_dir: Option<String>,
    user: Option<String>,
}

/// What identifies a written image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageInfo {
    /// `sha256:…` of the manifest (what `ctr images ls` shows as the digest).
    pub manifest_digest: String,
    /// `sha256:…` of the image config: the image ID that kubelet and `crictl images` show.
    pub config_digest: String,
    /// The names the archive carries.
    pub names: Vec<String>,
}

impl ImageBuilder {
    /// An empty image: no files, no entrypoint, no command.
    pub fn new() -> Self {
        Self::default()
    }

    /// A directory with `mode` (for example `0o1777` for `/tmp`).
    pub fn dir(self, path: &str, mode: u32) -> Self {
        self.insert(path, Node::Dir { mode })
    }

    /// A regular file holding `bytes`.
    pub fn file(self, path: &str, bytes: impl Into<Vec<u8>>, mode: u32) -> Self {
        let content = Content::Bytes(bytes.into());
        self.insert(path, Node::File { content, mode })
    }

    /// A copy of the host file `host_path` (for example a Go-built CSI driver), with `mode`
    /// regardless of the host file's own.
    pub fn host_file(self, path_in_image: &str, host_path: &Path, mode: u32) -> Self {
        let content = Content::Host(host_path.to_path_buf());
        self.insert(path_in_image, Node::File { content, mode })
    }

    /// A symbolic link at `path` pointing to `target` (relative targets resolve from the link's
    /// directory, as usual).
    pub fn symlink(self, path: &str, target: &str) -> Self {
        let target = target.to_string();
        self.insert(path, Node::Symlink { target })
    }

    /// The config's `Entrypoint`.
    pub fn entrypoint(mut self, argv: Vec<String>) -> Self {
        self.entrypoint = argv;
        self
    }

    /// The config's `Cmd` (the default arguments; a pod's `args` replace them).
    pub fn cmd(mut self, argv: Vec<String>) -> Self {
        self.cmd = argv;
        self
    }

    /// Sets the environment variable `key`, replacing an earlier value.
    pub fn env(mut self, key: &str, value: &str) -> Self {
        match self.env.iter_mut().find(|(k, _)| k == key) {
            Some(entry) => entry.1 = value.to_string(),
            None => self.env.push((key.to_string(), value.to_string())),
        }
        self
    }

    /// The config's `WorkingDir`.
    pub fn working_dir(mut self, dir: &str) -> Self {
        self.working_dir = Some(dir.to_string());
        self
    }

    /// The config's `User` (`name`, `uid` or `uid:gid`).
    pub fn user(mut self, user: &str) -> Self {
        self.user = Some(user.to_string());
        self
    }

    fn insert(mut self, path: &str, node: Node) -> Self {
        match normalize(path) {
            Some(path) => {
                self.nodes.insert(path, node);
            }
            None => self.problems.push(format!(
                "`{path}` is not a usable path in an image (expected `/dir/name`, without `.` or `..`)"
            )),
        }
        self
    }

    /// Writes an OCI image-layout archive that containerd imports under every one of `names`
    /// (fully qualified and tagged, like `registry.k8s.io/pause:3.10.1`). The archive is written
    /// next to `out` and renamed into place, so `out` is never half-written.
    ///
    /// # Errors
    ///
    /// A name that is not fully qualified or has no tag (or the tag `latest`, which kubelet
    /// always pulls), an unusable path, a directory needed where a file or link is, an unreadable
    /// host file, or an unwritable `out`.
    pub fn write_oci_archive(&self, names: &[String], out: &Path) -> Result<ImageInfo> {
        let archive = self.assemble(names)?;
        archive.write(out)?;
        Ok(archive.info)
    }

    fn assemble(&self, names: &[String]) -> Result<OciArchive> {
        if names.is_empty() {
            return Err(image_error("build an image", "no image names given"));
        }
        let tags = names
            .iter()
            .map(|name| tag_of(name))
            .collect::<Result<Vec<_>>>()?;
        let layer = self.layer(&format!("build the image {}", names[0]))?;
        let layer_digest = sha256(&layer);
        let config = self.config(&layer_digest).to_string().into_bytes();
        let config_digest = sha256(&config);
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": MANIFEST_MEDIA_TYPE,
            "config": descriptor(CONFIG_MEDIA_TYPE, &config_digest, config.len()),
            "layers": [descriptor(LAYER_MEDIA_TYPE, &layer_digest, layer.len())],
        })
        .to_string()
        .into_bytes();
        let manifest_digest = sha256(&manifest);
        let entries: Vec<Value> = names
            .iter()
            .zip(&tags)
            .map(|(name, tag)| {
                let mut entry = descriptor(MANIFEST_MEDIA_TYPE, &manifest_digest, manifest.len());
                entry["platform"] = json!({"architecture": architecture(), "os": "linux"});
                entry["annotations"] = json!({
                    "io.containerd.image.name": name,
                    "org.opencontainers.image.ref.name": tag,
                });
                entry
            })
            .collect();
        let index = json!({"schemaVersion": 2, "manifests": entries})
            .to_string()
            .into_bytes();
        let mut blobs = BTreeMap::new();
        blobs.insert(layer_digest, layer);
        blobs.insert(config_digest.clone(), config);
        blobs.insert(manifest_digest.clone(), manifest);
        Ok(OciArchive {
            blobs,
            index,
            info: ImageInfo {
                manifest_digest,
                config_digest,
                names: names.to_vec(),
            },
        })
    }

    fn config(&self, layer_digest: &str) -> Value {
        let mut config = serde_json::Map::new();
        if !self.entrypoint.is_empty() {
            config.insert("Entrypoint".into(), json!(self.entrypoint));
        }
        if !self.cmd.is_empty() {
            config.insert("Cmd".into(), json!(self.cmd));
        }
        let env: Vec<String> = self.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
        if !env.is_empty() {
            config.insert("Env".into(), json!(env));
        }
        if let Some(dir) = &self.working_dir {
            config.insert("WorkingDir".into(), json!(dir));
        }
        if let Some(user) = &self.user {
            config.insert("User".into(), json!(user));
        }
        json!({
            "created": CREATED,
            "architecture": architecture(),
            "os": "linux",
            "config": config,
            "rootfs": {"type": "layers", "diff_ids": [layer_digest]},
        })
    }

    /// The uncompressed layer tar.
    fn layer(&self, what: &str) -> Result<Vec<u8>> {
        if let Some(problem) = self.problems.first() {
            return Err(image_error(what, problem));
        }
        let mut tar = tar::Builder::new(Vec::new());
        for (path, node) in self.with_parents(what)? {
            let failed = |e: io::Error| image_error(format!("add /{path} to the layer"), e);
            match node {
                Node::Dir { mode } => {
                    let mut header = header(tar::EntryType::Directory, *mode, 0);
                    tar.append_data(&mut header, path, io::empty())
                        .map_err(failed)?;
                }
                Node::File {
                    content: Content::Bytes(bytes),
                    mode,
                } => {
                    let mut header = header(tar::EntryType::Regular, *mode, bytes.len() as u64);
                    tar.append_data(&mut header, path, bytes.as_slice())
                        .map_err(failed)?;
                }
                Node::File {
                    content: Content::Host(host),
                    mode,
                } => {
                    let file = fs::File::open(host).map_err(Error::io(host))?;
                    let size = file.metadata().map_err(Error::io(host))?.len();
                    let mut header = header(tar::EntryType::Regular, *mode, size);
                    tar.append_data(&mut header, path, file)
                        .map_err(Error::io(host))?;
                }
                Node::Symlink { target } => {
                    let mut header = header(tar::EntryType::Symlink, 0o777, 0);
                    tar.append_link(&mut header, path, target).map_err(failed)?;
                }
            }
        }
        tar.into_inner()
            .map_err(|e| image_error("finish the layer", e))
    }

    /// The nodes plus every missing parent directory, checking that no parent is a file or link.
    fn with_parents(&self, what: &str) -> Result<BTreeMap<&str, &Node>> {
        static IMPLICIT_DIR: Node = Node::Dir { mode: 0o755 };
        let mut nodes: BTreeMap<&str, &Node> =
            self.nodes.iter().map(|(p, n)| (p.as_str(), n)).collect();
        for path in self.nodes.keys() {
            for (at, _) in path.match_indices('/') {
                let parent = &path[..at];
                match nodes.get(parent) {
                    None => {
                        nodes.insert(parent, &IMPLICIT_DIR);
                    }
                    Some(Node::Dir { .. }) => {}
                    Some(_) => {
                        return Err(image_error(
                            what,
                            format!(
                                "/{parent} is a file or symlink, but /{path} needs it to be a directory"
                            ),
                        ));
                    }
                }
            }
        }
        Ok(nodes)
    }
}

/// The blobs and `index.json` of an image, ready to be written.
struct OciArchive {
    /// By digest, so the archive's entries are sorted.
    blobs: BTreeMap<String, Vec<u8>>,
    index: Vec<u8>,
    info: ImageInfo,
}

impl OciArchive {
    fn write(&self, out: &Path) -> Result<()> {
        if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
            fs::create_dir_all(parent).map_err(Error::io(parent))?;
        }
        let mut partial = out.as_os_str().to_owned();
        partial.push(format!(".partial-{}", std::process::id()));
        let partial = PathBuf::from(partial);
        let file = fs::File::create(&partial).map_err(Error::io(&partial))?;
        let mut tar = tar::Builder::new(io::BufWriter::new(file));
        let mut add = |path: &str, bytes: &[u8]| {
            let mut header = header(tar::EntryType::Regular, 0o644, bytes.len() as u64);
            tar.append_data(&mut header, path, bytes)
        };
        let written = self
            .blobs
            .iter()
            .try_for_each(|(digest, blob)| add(&format!("blobs/sha256/{}", hex_of(digest)), blob))
            .and_then(|()| add("index.json", &self.index))
            .and_then(|()| add("oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#))
            .and_then(|()| tar.into_inner()?.into_inner().map_err(|e| e.into_error()))
            .and_then(|file| file.sync_all());
        if let Err(e) = written.and_then(|()| fs::rename(&partial, out)) {
            let _ = fs::remove_file(&partial);
            return Err(Error::io(out)(e));
        }
        tracing::debug!(archive = %out.display(), id = %self.info.config_digest, "wrote image archive");
        Ok(())
    }
}

/// A busybox image: `/bin/busybox` and a link per applet (so `/bin/sh`, `/bin/echo`, …),
/// `/etc/passwd` and `/etc/group` with root and nobody (65534), `/etc/hosts`, `/tmp` (1777) and
/// the usual empty directories; `PATH=/bin:/usr/bin:/sbin:/usr/sbin`, command `sh`.
///
/// `busybox` must be statically linked (Debian's `busybox-static`): the image has no libc.
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
    Ok(image
        .symlink("bin/sh", "busybox")
        // For `#!/usr/bin/env sh` scripts.
        .symlink("usr/bin/env", "../../bin/busybox")
        .file(
            "etc/passwd",
            "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n",
            0o644,
        )
        .file("etc/group", "root:x:0:\nnogroup:x:65534:\n", 0o644)
        .file("etc/hosts", "127.0.0.1 localhost\n::1 localhost\n", 0o644)
        .env("PATH", "/bin:/usr/bin:/sbin:/usr/sbin")
        .working_dir("/")
        .cmd(vec!["sh".into()]))
}

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
}

/// An archive in the cache, built by [`build_standard`] or [`LocalImage::build`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuiltImage {
    /// Which image.
    pub image: LocalImage,
    /// The OCI archive, for [`import`].
    pub archive: PathBuf,
    /// Its digests and names.
    pub info: ImageInfo,
}

/// Every image the local cluster imports into its node.
pub fn standard_images() -> [LocalImage; 2] {
    [LocalImage::Busybox, LocalImage::Pause]
}

impl LocalImage {
    /// A short name, used for archive file names.
    pub fn short_name(self) -> &'static str {
        match self {
            LocalImage::Busybox => "busybox",
            LocalImage::Pause => "pause",
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
        }
    }

    /// The image's contents, built around the static `busybox`.
    ///
    /// # Errors
    ///
    /// As [`busybox_image`].
    pub fn builder(self, busybox: &Path) -> Result<ImageBuilder> {
        match self {
            LocalImage::Busybox => busybox_image(busybox),
            LocalImage::Pause => pause_image(busybox),
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
        let oci = self.builder(busybox)?.assemble(&names)?;
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
    let busybox = Path::new(BUSYBOX);
    if !busybox.is_file() {
        return Err(Error::MissingTool {
            tool: BUSYBOX.into(),
            hint: "install it with `apt-get install busybox-static`".into(),
        });
    }
    standard_images()
        .into_iter()
        .map(|image| image.build(busybox, cache_dir))
        .collect()
}

/// Imports `archive` into the CRI namespace of the containerd at `containerd_socket`, under
/// the names it carries, and unpacks it into the default snapshotter. The CRI plugin must be
/// running for kubelet to see the image.
///
/// # Errors
///
/// If `ctr` cannot be started or fails; the error carries its stderr.
pub fn import(ctr: &Path, containerd_socket: &Path, archive: &Path) -> Result<()> {
    let what = format!(
        "import {} into the containerd at {}",
        archive.display(),
        containerd_socket.display()
    );
    let args = [
        "images".as_ref(),
        "import".as_ref(),
        "--all-platforms".as_ref(),
        archive.as_os_str(),
    ];
    run_ctr(ctr, containerd_socket, &args, what).map(drop)
}

/// The image references in the CRI namespace of the containerd at `containerd_socket`: the
/// names, plus the `sha256:<image ID>` references the CRI plugin adds for images it manages.
///
/// # Errors
///
/// If `ctr` cannot be started or fails; the error carries its stderr.
pub fn list(ctr: &Path, containerd_socket: &Path) -> Result<Vec<String>> {
    let what = format!(
        "list images in the containerd at {}",
        containerd_socket.display()
    );
    let out = run_ctr(
        ctr,
        containerd_socket,
        &["images".as_ref(), "ls".as_ref(), "-q".as_ref()],
        what,
    )?;
    Ok(out
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect())
}

fn run_ctr(ctr: &Path, socket: &Path, args: &[&std::ffi::OsStr], what: String) -> Result<String> {
    let output = Command::new(ctr)
        .arg("--address")
        .arg(socket)
        .args(["--namespace", CRI_NAMESPACE])
        .args(args)
        .output()
        .map_err(|source| Error::Spawn {
            component: "ctr".into(),
            binary: ctr.to_path_buf(),
            source,
        })?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        return Err(image_error(
            what,
            format!("ctr {}: {}", output.status, stderr.trim()),
        ));
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// `path` relative to the image root, or `None` if it is the root or has `.` or `..`.
fn normalize(path: &str) -> Option<String> {
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    let usable = !parts.is_empty() && parts.iter().all(|p| *p != "." && *p != "..");
    usable.then(|| parts.join("/"))
}

/// The tag of a fully qualified, tagged image name.
fn tag_of(name: &str) -> Result<&str> {
    let problem = |message: String| image_error(format!("use `{name}` as an image name"), message);
    let (domain, rest) = name.split_once('/').unwrap_or(("", name));
    if !(domain.contains('.') || domain.contains(':') || domain == "localhost") {
        return Err(problem(format!(
            "kubelet asks containerd for fully qualified names; write `docker.io/{}`",
            if name.contains('/') {
                name.to_string()
            } else {
                format!("library/{name}")
            }
        )));
    }
    let last = rest.rsplit('/').next().unwrap_or(rest);
    let Some((_, tag)) = last.split_once(':') else {
        return Err(problem("it has no tag (like `:1.0`)".into()));
    };
    let valid = tag.len() <= 128
        && tag
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
        && !tag.starts_with(['.', '-']);
    if !valid || tag.is_empty() {
        return Err(problem(format!("`{tag}` is not a valid tag")));
    }
    if tag == "latest" {
        return Err(problem(
            "kubelet always pulls `latest` images and the local cluster cannot pull; use a version tag".into(),
        ));
    }
    Ok(tag)
}

/// Whether an x86-64/aarch64 style ELF file has no program interpreter (`None`: not ELF64 LE).
fn is_static_elf(bytes: &[u8]) -> Option<bool> {
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

fn header(kind: tar::EntryType, mode: u32, size: u64) -> tar::Header {
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(kind);
    header.set_mode(mode);
    header.set_size(size);
    header.set_uid(0);
    header.set_gid(0);
    header.set_mtime(0);
    header
}

fn descriptor(media_type: &str, digest: &str, size: usize) -> Value {
    json!({"mediaType": media_type, "digest": digest, "size": size})
}

/// The OCI name of this host's architecture: images carry host binaries.
fn architecture() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

fn sha256(bytes: &[u8]) -> String {
    let hex: String = Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256:{hex}")
}

fn hex_of(digest: &str) -> &str {
    digest.strip_prefix("sha256:").unwrap_or(digest)
}

fn image_error(what: impl Into<String>, message: impl ToString) -> Error {
    Error::Image {
        what: what.into(),
        message: message.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::io::Read;

    use super::*;

    /// The entries of a tar archive: path → (header, contents).
    type Entries = BTreeMap<String, (tar::Header, Vec<u8>)>;

    fn entries(tar_bytes: &[u8]) -> Entries {
        let mut archive = tar::Archive::new(tar_bytes);
        let mut out = BTreeMap::new();
        for entry in archive.entries().unwrap() {
            let mut entry = entry.unwrap();
            let path = entry.path().unwrap().to_string_lossy().into_owned();
            let mut bytes = Vec::new();
            entry.read_to_end(&mut bytes).unwrap();
            out.insert(path, (entry.header().clone(), bytes));
        }
        out
    }

    fn blob<'a>(archive: &'a Entries, digest: &str) -> &'a [u8] {
        let path = format!("blobs/sha256/{}", hex_of(digest));
        &archive
            .get(&path)
            .unwrap_or_else(|| panic!("{path} is missing"))
            .1
    }

    fn json_of(bytes: &[u8]) -> Value {
        serde_json::from_slice(bytes).unwrap()
    }

    fn names(names: &[&str]) -> Vec<String> {
        names.iter().map(|n| n.to_string()).collect()
    }

    /// Writes `image` and returns the archive's entries and the image's layer entries.
    fn written(image: &ImageBuilder, image_names: &[String]) -> (ImageInfo, Entries, Entries) {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("image.tar");
        let info = image.write_oci_archive(image_names, &out).unwrap();
        let archive = entries(&fs::read(&out).unwrap());
        let manifest = json_of(blob(&archive, &info.manifest_digest));
        let layer_digest = manifest["layers"][0]["digest"].as_str().unwrap();
        let layer = entries(blob(&archive, layer_digest));
        (info, archive, layer)
    }

    #[test]
    fn the_same_inputs_give_the_same_archive_and_digests() {
        let image = busybox_image(Path::new(BUSYBOX)).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let image_names = names(LocalImage::Busybox.names());
        let (a, b) = (dir.path().join("a.tar"), dir.path().join("b.tar"));
        let first = image.write_oci_archive(&image_names, &a).unwrap();
        let second = image.clone().write_oci_archive(&image_names, &b).unwrap();
        assert_eq!(first, second, "building twice gave different digests");
        assert!(
            fs::read(&a).unwrap() == fs::read(&b).unwrap(),
            "building twice gave different archives"
        );
    }

    #[test]
    fn the_index_names_every_image_with_its_tag() {
        let image_names = names(LocalImage::Pause.names());
        let (info, archive, _) = written(&pause_image(Path::new(BUSYBOX)).unwrap(), &image_names);
        assert_eq!(info.names, image_names);
        assert_eq!(
            archive["oci-layout"].1,
            br#"{"imageLayoutVersion":"1.0.0"}"#
        );
        let index = json_of(&archive["index.json"].1);
        let listed: Vec<(String, String)> = index["manifests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                assert_eq!(m["digest"], info.manifest_digest.as_str());
                let a = &m["annotations"];
                (
                    a["io.containerd.image.name"].as_str().unwrap().to_string(),
                    a["org.opencontainers.image.ref.name"]
                        .as_str()
                        .unwrap()
                        .to_string(),
                )
            })
            .collect();
        assert_eq!(
            listed,
            [
                (SANDBOX_IMAGE.to_string(), "3.10.1".to_string()),
                ("registry.k8s.io/pause:3.10".to_string(), "3.10".to_string()),
                (
                    "localhost/kube-e2e/pause:3.10.1".to_string(),
                    "3.10.1".to_string()
                ),
            ]
        );
    }

    #[test]
    fn the_busybox_layer_has_busybox_its_applets_and_a_sticky_tmp() {
        let image = busybox_image(Path::new(BUSYBOX)).unwrap();
        let (_, _, layer) = written(&image, &names(&[E2E_BUSYBOX_IMAGE]));
        let (header, bytes) = &layer["bin/busybox"];
        assert_eq!(bytes, &fs::read(BUSYBOX).unwrap());
        assert_eq!(header.mode().unwrap(), 0o755);
        for applet in ["sh", "echo", "sleep", "wget"] {
            let (header, _) = &layer[&format!("bin/{applet}")];
            assert_eq!(header.entry_type(), tar::EntryType::Symlink, "bin/{applet}");
            assert_eq!(header.link_name().unwrap().unwrap(), Path::new("busybox"));
        }
        assert!(!layer.contains_key("bin/bin/busybox"));
        let (tmp, _) = &layer["tmp"];
        assert_eq!(tmp.entry_type(), tar::EntryType::Directory);
        assert_eq!(tmp.mode().unwrap(), 0o1777);
        assert!(
            layer["etc/passwd"]
                .1
                .ends_with(b"nobody:x:65534:65534:nobody:/home:/bin/false\n")
        );
        for (path, (header, _)) in &layer {
            assert_eq!(
                (
                    header.mtime().unwrap(),
                    header.uid().unwrap(),
                    header.gid().unwrap()
                ),
                (0, 0, 0),
                "{path} is not owned by root with mtime 0"
            );
        }
        let paths: Vec<&String> = layer.keys().collect();
        assert!(paths.is_sorted(), "layer entries are not sorted");
    }

    #[test]
    fn the_config_points_at_the_layer_and_is_the_image_id() {
        let image = pause_image(Path::new(BUSYBOX))
            .unwrap()
            .env("PATH", "/bin")
            .env("MODE", "test")
            .user("65534");
        let (info, archive, _) = written(&image, &names(&[SANDBOX_IMAGE]));
        let manifest = json_of(blob(&archive, &info.manifest_digest));
        let layer_digest = manifest["layers"][0]["digest"].as_str().unwrap();
        assert_eq!(sha256(blob(&archive, layer_digest)), layer_digest);
        let config_bytes = blob(&archive, &info.config_digest);
        assert_eq!(sha256(config_bytes), info.config_digest);
        assert_eq!(manifest["config"]["digest"], info.config_digest.as_str());
        let config = json_of(config_bytes);
        assert_eq!(config["rootfs"]["diff_ids"], json!([layer_digest]));
        assert_eq!(config["architecture"], architecture());
        assert_eq!(config["created"], CREATED);
        assert_eq!(config["config"]["Entrypoint"], json!(PAUSE_ENTRYPOINT));
        assert_eq!(config["config"].get("Cmd"), None);
        assert_eq!(config["config"]["Env"], json!(["PATH=/bin", "MODE=test"]));
        assert_eq!(config["config"]["User"], "65534");
    }

    #[test]
    fn a_missing_host_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("csi-driver");
        let err = ImageBuilder::new()
            .host_file("/bin/driver", &missing, 0o755)
            .write_oci_archive(
                &names(&["localhost/driver:1.0"]),
                &dir.path().join("out.tar"),
            )
            .unwrap_err();
        assert!(
            err.to_string().contains(&missing.display().to_string()),
            "{err}"
        );
        assert!(!dir.path().join("out.tar").exists());
    }

    #[test]
    fn host_files_and_missing_parents_end_up_in_the_layer() {
        let dir = tempfile::tempdir().unwrap();
        let host = dir.path().join("driver");
        fs::write(&host, b"#!/bin/sh\n").unwrap();
        let image = ImageBuilder::new().host_file("/usr/local/bin/driver", &host, 0o700);
        let (_, _, layer) = written(&image, &names(&["localhost/driver:1.0"]));
        assert_eq!(layer["usr/local/bin/driver"].1, b"#!/bin/sh\n");
        assert_eq!(layer["usr/local/bin/driver"].0.mode().unwrap(), 0o700);
        for parent in ["usr", "usr/local", "usr/local/bin"] {
            assert_eq!(
                layer[parent].0.entry_type(),
                tar::EntryType::Directory,
                "{parent}"
            );
        }
    }

    #[test]
    fn a_file_under_a_symlink_or_an_unusable_path_is_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out.tar");
        let image_names = names(&["localhost/x:1.0"]);
        let under_link = ImageBuilder::new()
            .symlink("/lib", "usr/lib")
            .file("/lib/x", "x", 0o644);
        let err = under_link
            .write_oci_archive(&image_names, &out)
            .unwrap_err();
        assert!(
            err.to_string().contains("/lib is a file or symlink"),
            "{err}"
        );
        let escaping = ImageBuilder::new().file("/etc/../x", "x", 0o644);
        let err = escaping.write_oci_archive(&image_names, &out).unwrap_err();
        assert!(err.to_string().contains("`/etc/../x`"), "{err}");
    }

    #[test]
    fn names_must_be_fully_qualified_and_carry_a_version_tag() {
        assert_eq!(tag_of("registry.k8s.io/pause:3.10.1").unwrap(), "3.10.1");
        assert_eq!(tag_of("localhost:5000/a/b:v1").unwrap(), "v1");
        let err = tag_of("busybox:1.37").unwrap_err().to_string();
        assert!(
            err.contains("write `docker.io/library/busybox:1.37`"),
            "{err}"
        );
        let err = tag_of("localhost/kube-e2e/busybox")
            .unwrap_err()
            .to_string();
        assert!(err.contains("no tag"), "{err}");
        let err = tag_of("localhost:5000/busybox").unwrap_err().to_string();
        assert!(err.contains("no tag"), "{err}");
        let err = tag_of("docker.io/library/busybox:latest")
            .unwrap_err()
            .to_string();
        assert!(err.contains("kubelet always pulls"), "{err}");
    }

    #[test]
    fn the_catalogue_names_the_sandbox_and_e2e_busybox_and_never_latest() {
        let all: Vec<&str> = standard_images()
            .iter()
            .flat_map(|i| i.names())
            .copied()
            .collect();
        assert!(all.contains(&SANDBOX_IMAGE) && all.contains(&E2E_BUSYBOX_IMAGE));
        for name in all {
            tag_of(name).unwrap_or_else(|e| panic!("{e}"));
        }
    }

    #[test]
    fn a_dynamically_linked_busybox_is_refused() {
        let dynamic = Path::new("/bin/ls");
        let err = busybox_image(dynamic).unwrap_err().to_string();
        assert!(err.contains("busybox-static"), "{err}");
        assert_eq!(is_static_elf(b"#!/bin/sh\n"), None);
    }

    #[test]
    fn standard_archives_are_cached_by_content() {
        let cache = tempfile::tempdir().unwrap();
        let first = build_standard(cache.path()).unwrap();
        let modified: Vec<_> = first
            .iter()
            .map(|b| fs::metadata(&b.archive).unwrap().modified().unwrap())
            .collect();
        let second = build_standard(cache.path()).unwrap();
        assert_eq!(first, second);
        for (built, before) in second.iter().zip(modified) {
            let name = built.archive.file_name().unwrap().to_string_lossy();
            assert!(name.starts_with(built.image.short_name()) && name.ends_with(".tar"));
            assert_eq!(
                fs::metadata(&built.archive).unwrap().modified().unwrap(),
                before
            );
        }
        assert_eq!(
            fs::read_dir(cache.path().join("images")).unwrap().count(),
            2
        );
    }
}
