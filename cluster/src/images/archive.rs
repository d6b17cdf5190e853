//! The OCI image-layout archive: a single-layer root filesystem and its config.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::{Error, Result};

pub(super) const CREATED: &str = "1970-01-01T00:00:00Z";
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

    pub(super) fn assemble(&self, names: &[String]) -> Result<OciArchive> {
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
pub(super) struct OciArchive {
    /// By digest, so the archive's entries are sorted.
    blobs: BTreeMap<String, Vec<u8>>,
    pub(super) index: Vec<u8>,
    pub(super) info: ImageInfo,
}

impl OciArchive {
    pub(super) fn write(&self, out: &Path) -> Result<()> {
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

/// `path` relative to the image root, or `None` if it is the root or has `.` or `..`.
pub(super) fn normalize(path: &str) -> Option<String> {
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    let usable = !parts.is_empty() && parts.iter().all(|p| *p != "." && *p != "..");
    usable.then(|| parts.join("/"))
}

/// The tag of a fully qualified, tagged image name.
pub(super) fn tag_of(name: &str) -> Result<&str> {
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

pub(super) fn header(kind: tar::EntryType, mode: u32, size: u64) -> tar::Header {
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(kind);
    header.set_mode(mode);
    header.set_size(size);
    header.set_uid(0);
    header.set_gid(0);
    header.set_mtime(0);
    header
}

pub(super) fn descriptor(media_type: &str, digest: &str, size: usize) -> Value {
    json!({"mediaType": media_type, "digest": digest, "size": size})
}

/// The OCI name of this host's architecture: images carry host binaries.
pub(super) fn architecture() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

pub(super) fn sha256(bytes: &[u8]) -> String {
    let hex: String = Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256:{hex}")
}

pub(super) fn hex_of(digest: &str) -> &str {
    digest.strip_prefix("sha256:").unwrap_or(digest)
}

pub(super) fn image_error(what: impl Into<String>, message: impl ToString) -> Error {
    Error::Image {
        what: what.into(),
        message: message.to_string(),
    }
}
