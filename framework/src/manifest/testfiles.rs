//! Test files (manifests and other fixtures), looked up in ordered sources: the directory given by
//! `--framework.repo-root`, then the repository's `testing-manifests/` tree embedded in the binary
//! at build time — so a built test binary runs anywhere. A miss lists what every source offers.
//!
//! Paths are relative to `testing-manifests/` (e.g. `quickstart/app.yaml`); with a repo root
//! they are tried both as `<root>/<path>` and `<root>/testing-manifests/<path>`.

use std::path::{Path, PathBuf};

static EMBEDDED: &[(&str, &[u8])] = include!(concat!(env!("OUT_DIR"), "/embedded.rs"));

/// Errors of test-file lookup.
#[derive(Debug, thiserror::Error)]
pub enum TestFileError {
    /// No source has the file.
    #[error("test file `{path}` not found; {sources}")]
    NotFound {
        /// The path asked for.
        path: String,
        /// What each source offers.
        sources: String,
    },
    /// The file exists but cannot be read.
    #[error("failed to read test file {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// The ordered test-file sources.
#[derive(Clone, Debug, Default)]
pub struct TestFiles {
    repo_root: Option<PathBuf>,
}

impl TestFiles {
    /// Sources: `repo_root` (if any), then the embedded files.
    pub fn new(repo_root: Option<PathBuf>) -> Self {
        TestFiles { repo_root }
    }

    /// The paths of every embedded file.
    pub fn embedded() -> impl Iterator<Item = &'static str> {
        EMBEDDED.iter().map(|(p, _)| *p)
    }

    fn candidates(&self, path: &str) -> Vec<PathBuf> {
        match &self.repo_root {
            Some(root) if Path::new(path).is_absolute() => vec![root.join(path)],
            Some(root) => vec![root.join(path), root.join("testing-manifests").join(path)],
            None if Path::new(path).is_absolute() => vec![PathBuf::from(path)],
            None => Vec::new(),
        }
    }

    /// Reads `path`; returns the contents and where they came from (for error messages).
    ///
    /// # Errors
    ///
    /// [`TestFileError::NotFound`] listing every source, or a read error.
    pub fn read(&self, path: &str) -> Result<(Vec<u8>, String), TestFileError> {
        for candidate in self.candidates(path) {
            match std::fs::read(&candidate) {
                Ok(bytes) => return Ok((bytes, candidate.display().to_string())),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(source) => {
                    return Err(TestFileError::Read {
                        path: candidate,
                        source,
                    });
                }
            }
        }
        let key = path
            .trim_start_matches("./")
            .trim_start_matches("testing-manifests/");
        if let Some((p, bytes)) = EMBEDDED.iter().find(|(p, _)| *p == key) {
            return Ok((bytes.to_vec(), format!("testing-manifests/{p} (embedded)")));
        }
        Err(TestFileError::NotFound {
            path: path.to_string(),
            sources: self.describe(),
        })
    }

    /// Reads `path` as UTF-8 text (lossy).
    ///
    /// # Errors
    ///
    /// As [`TestFiles::read`].
    pub fn read_to_string(&self, path: &str) -> Result<(String, String), TestFileError> {
        let (bytes, from) = self.read(path)?;
        Ok((String::from_utf8_lossy(&bytes).into_owned(), from))
    }

    /// Whether any source has `path`.
    pub fn exists(&self, path: &str) -> bool {
        self.read(path).is_ok()
    }

    /// What every source offers, for error messages.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(root) = &self.repo_root {
            parts.push(format!("looked in repo root {}", root.display()));
        }
        let embedded: Vec<&str> = Self::embedded().collect();
        parts.push(if embedded.is_empty() {
            "no embedded files".to_string()
        } else {
            format!("embedded testing-manifests/ has: {}", embedded.join(", "))
        });
        parts.join("; ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repo_root_comes_first_and_misses_list_sources() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("testing-manifests/x")).unwrap();
        std::fs::write(dir.path().join("testing-manifests/x/a.yaml"), "kind: A").unwrap();
        let files = TestFiles::new(Some(dir.path().to_path_buf()));
        let (text, from) = files.read_to_string("x/a.yaml").unwrap();
        assert_eq!(text, "kind: A");
        assert!(from.ends_with("testing-manifests/x/a.yaml"));
        let e = files.read("x/missing.yaml").unwrap_err().to_string();
        assert!(
            e.contains("`x/missing.yaml` not found") && e.contains("repo root"),
            "{e}"
        );
    }

    #[test]
    fn embedded_files_are_found_without_a_root() {
        let files = TestFiles::new(None);
        let first = TestFiles::embedded()
            .next()
            .expect("testing-manifests/ is embedded");
        let (_, from) = files.read(first).unwrap();
        assert!(from.ends_with("(embedded)"));
    }
}
