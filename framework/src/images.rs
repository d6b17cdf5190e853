//! Logical test images and the registry mapping file (`--framework.image-repo-list`, else
//! `KUBE_TEST_REPO_LIST`), which rewrites image registries to mirrors as upstream's does.
//!
//! The mapping file is YAML. Upstream's keys work (`e2eRegistry`, `promoterE2eRegistry`,
//! `gcRegistry`, `sigStorageRegistry`, `dockerLibraryRegistry`), plus a general map from any
//! registry prefix to its replacement:
//!
//! ```yaml
//! gcRegistry: mirror.example.com/k8s            # registry.k8s.io/...
//! registries:
//!   registry.k8s.io/e2e-test-images: mirror.example.com/e2e
//! ```
//!
//! The longest matching prefix wins, and only whole path segments match.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Errors of the mapping file.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// The file cannot be read.
    #[error("failed to read image mapping file {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid YAML or has unknown keys.
    #[error("failed to parse image mapping file {path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong, with line and column.
        message: String,
    },
}

/// The logical images tests use. The local cluster imports exactly these references.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Image {
    /// busybox from upstream's e2e test images.
    Busybox,
    /// The pause container.
    Pause,
}

impl Image {
    /// Every logical image.
    pub const ALL: [Image; 2] = [Image::Busybox, Image::Pause];

    /// The reference before mapping.
    pub fn default_reference(self) -> &'static str {
        match self {
            Image::Busybox => "registry.k8s.io/e2e-test-images/busybox:1.37.0-1",
            Image::Pause => "registry.k8s.io/pause:3.10.1",
        }
    }

    /// The short name (`busybox`, `pause`).
    pub fn name(self) -> &'static str {
        match self {
            Image::Busybox => "busybox",
            Image::Pause => "pause",
        }
    }
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct MappingFile {
    e2e_registry: Option<String>,
    promoter_e2e_registry: Option<String>,
    gc_registry: Option<String>,
    sig_storage_registry: Option<String>,
    docker_library_registry: Option<String>,
    #[serde(default)]
    registries: BTreeMap<String, String>,
}

/// Registry prefix → replacement.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImageMap {
    prefixes: BTreeMap<String, String>,
}

impl ImageMap {
    /// Reads a mapping file.
    ///
    /// # Errors
    ///
    /// [`ImageError`] naming the file (and line for YAML errors).
    pub fn load(path: &Path) -> Result<Self, ImageError> {
        // Only a regular file: a FIFO would block the run forever.
        let text =
            crate::config::param::read_regular_file(path).map_err(|source| ImageError::Read {
                path: path.to_path_buf(),
                source,
            })?;
        ImageMap::parse(&text).map_err(|message| ImageError::Parse {
            path: path.to_path_buf(),
            message,
        })
    }

    /// Parses mapping-file text.
    ///
    /// # Errors
    ///
    /// The parser's message.
    pub fn parse(text: &str) -> Result<Self, String> {
        if text.trim().is_empty() {
            return Ok(ImageMap::default());
        }
        let file: MappingFile = serde_saphyr::from_str(text).map_err(|e| e.to_string())?;
        let mut prefixes = BTreeMap::new();
        let known = [
            ("registry.k8s.io/e2e-test-images", &file.e2e_registry),
            (
                "registry.k8s.io/e2e-test-images",
                &file.promoter_e2e_registry,
            ),
            ("registry.k8s.io", &file.gc_registry),
            ("registry.k8s.io/sig-storage", &file.sig_storage_registry),
            ("docker.io/library", &file.docker_library_registry),
        ];
        for (from, to) in known {
            if let Some(to) = to {
                prefixes.insert(from.to_string(), to.trim_end_matches('/').to_string());
            }
        }
        for (from, to) in file.registries {
            prefixes.insert(
                from.trim_end_matches('/').to_string(),
                to.trim_end_matches('/').to_string(),
            );
        }
        Ok(ImageMap { prefixes })
    }

    /// A logical image's reference after mapping.
    pub fn reference(&self, image: Image) -> String {
        self.map(image.default_reference())
    }

    /// Any image reference after mapping (unchanged when no prefix matches).
    pub fn map(&self, reference: &str) -> String {
        self.prefixes
            .iter()
            .filter(|(from, _)| {
                reference
                    .strip_prefix(from.as_str())
                    .is_some_and(|rest| rest.starts_with('/'))
            })
            .max_by_key(|(from, _)| from.len())
            .map(|(from, to)| format!("{to}{}", &reference[from.len()..]))
            .unwrap_or_else(|| reference.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_imported_images() {
        let m = ImageMap::default();
        assert_eq!(
            m.reference(Image::Busybox),
            "registry.k8s.io/e2e-test-images/busybox:1.37.0-1"
        );
        assert_eq!(m.reference(Image::Pause), "registry.k8s.io/pause:3.10.1");
    }

    #[test]
    fn longest_prefix_wins_on_segment_boundaries() {
        let m = ImageMap::parse(
            "gcRegistry: mirror.local/k8s\nregistries:\n  registry.k8s.io/e2e-test-images: mirror.local/e2e/\n",
        )
        .unwrap();
        assert_eq!(
            m.reference(Image::Busybox),
            "mirror.local/e2e/busybox:1.37.0-1"
        );
        assert_eq!(m.reference(Image::Pause), "mirror.local/k8s/pause:3.10.1");
        assert_eq!(m.map("registry.k8s.iox/a:1"), "registry.k8s.iox/a:1");
        assert_eq!(m.map("docker.io/library/nginx"), "docker.io/library/nginx");
    }

    #[test]
    fn unknown_keys_are_errors_with_a_location() {
        let e = ImageMap::parse("gcRegistri: x\n").unwrap_err();
        assert!(e.contains("gcRegistri"), "{e}");
    }
}
