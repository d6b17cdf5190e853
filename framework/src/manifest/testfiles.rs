//! Test files (manifests and other fixtures), looked up in ordered sources: the directory given by
//! `--framework.repo-root`, then every directory a crate of the binary embedded with
//! [`embed_test_files!`](crate::embed_test_files) — so a built test binary runs anywhere. A miss
//! lists what every source offers.
//!
//! A crate embeds a directory of its own, relative to its `Cargo.toml`:
//!
//! ```
//! // anywhere in the crate (a library, a test target, a binary)
//! kube_e2e::embed_test_files!("$CARGO_MANIFEST_DIR/tests/fixtures/testfiles");
//!
//! use kube_e2e::manifest::testfiles::TestFiles;
//! let files = TestFiles::new(None);
//! let (text, from) = files.read_to_string("docs/configmap.yaml").unwrap();
//! assert!(text.contains("kind: ConfigMap"));
//! assert!(from.starts_with("kube-e2e: tests/fixtures/testfiles/"), "{from}");
//! ```
//!
//! Paths are relative to the embedded directory (e.g. `quickstart/app.yaml` for the
//! repository's `testing-manifests/quickstart/app.yaml`); a leading `./` or `testing-manifests/`
//! is ignored. With a repo root they are tried both as `<root>/<path>` and
//! `<root>/testing-manifests/<path>`, and win over every embedded file.
//!
//! Every embedded source is searched. When two hold the same path with the same contents (one
//! directory embedded twice, say), either does; with different contents the lookup fails with
//! [`TestFileError::Conflict`], naming both sources — no silent pick.

use std::path::{Path, PathBuf};

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
    /// Embedded sources disagree about a file.
    #[error(
        "test file `{path}` is embedded with different contents by {}; remove or rename one of them",
        sources.join(" and ")
    )]
    Conflict {
        /// The path asked for.
        path: String,
        /// Each source holding it (`crate: directory/`), with the size of its copy.
        sources: Vec<String>,
    },
}

/// A directory of test files embedded into the binary by one crate; registered by
/// [`embed_test_files!`](crate::embed_test_files), found by every [`TestFiles`].
pub struct EmbeddedSource {
    crate_name: &'static str,
    dir: &'static str,
    root: &'static include_dir::Dir<'static>,
}

crate::__private::inventory::collect!(EmbeddedSource);

impl EmbeddedSource {
    /// Used by [`embed_test_files!`](crate::embed_test_files); not a stable interface.
    #[doc(hidden)]
    pub const fn __new(
        crate_name: &'static str,
        dir: &'static str,
        root: &'static include_dir::Dir<'static>,
    ) -> Self {
        EmbeddedSource {
            crate_name,
            dir,
            root,
        }
    }

    /// Every source registered in this binary, ordered by crate and directory.
    pub fn all() -> Vec<&'static EmbeddedSource> {
        let mut all: Vec<&'static EmbeddedSource> =
            crate::__private::inventory::iter::<EmbeddedSource>
                .into_iter()
                .collect();
        all.sort_by_key(|s| (s.crate_name, s.dir));
        all
    }

    /// The crate that embedded the directory (its package name).
    pub fn crate_name(&self) -> &'static str {
        self.crate_name
    }

    /// The directory, relative to the crate's `Cargo.toml` (as given to the macro, without
    /// `$CARGO_MANIFEST_DIR/`).
    pub fn dir(&self) -> &'static str {
        let dir = self.dir.trim_start_matches("$CARGO_MANIFEST_DIR");
        dir.trim_start_matches('/')
    }

    /// `crate: directory/`, as error messages name the source.
    pub fn name(&self) -> String {
        format!("{}: {}/", self.crate_name, self.dir().trim_end_matches('/'))
    }

    /// The contents of the file at `path` (relative to the directory), if embedded.
    pub fn get(&self, path: &str) -> Option<&'static [u8]> {
        self.root.get_file(path).map(|f| f.contents())
    }

    /// The paths of every file in the directory, sorted.
    pub fn paths(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        collect_paths(self.root, &mut out);
        out.sort_unstable();
        out
    }
}

/// The crate, the directory and how many files — not the files' bytes.
impl std::fmt::Debug for EmbeddedSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedSource")
            .field("crate_name", &self.crate_name)
            .field("dir", &self.dir())
            .field("files", &self.paths().len())
            .finish()
    }
}

fn collect_paths(dir: &'static include_dir::Dir<'static>, out: &mut Vec<&'static str>) {
    for file in dir.files() {
        if let Some(p) = file.path().to_str() {
            out.push(p);
        }
    }
    for sub in dir.dirs() {
        collect_paths(sub, out);
    }
}

/// The ordered test-file sources.
#[derive(Clone, Debug)]
pub struct TestFiles {
    repo_root: Option<PathBuf>,
    embedded: Vec<&'static EmbeddedSource>,
}

impl Default for TestFiles {
    fn default() -> Self {
        TestFiles::new(None)
    }
}

impl TestFiles {
    /// Sources: `repo_root` (if any), then every directory embedded in this binary
    /// ([`EmbeddedSource::all`]).
    pub fn new(repo_root: Option<PathBuf>) -> Self {
        TestFiles::with_sources(repo_root, EmbeddedSource::all())
    }

    /// The directory searched first (`--framework.repo-root`), if any.
    pub fn repo_root(&self) -> Option<&std::path::Path> {
        self.repo_root.as_deref()
    }

    /// Sources: `repo_root` (if any), then exactly `embedded`, searched together.
    pub fn with_sources(
        repo_root: Option<PathBuf>,
        embedded: Vec<&'static EmbeddedSource>,
    ) -> Self {
        TestFiles {
            repo_root,
            embedded,
        }
    }

    /// The embedded sources searched, ordered by crate and directory.
    pub fn sources(&self) -> &[&'static EmbeddedSource] {
        &self.embedded
    }

    /// The paths of every embedded file, sorted, each once.
    pub fn embedded(&self) -> Vec<&'static str> {
        let mut all: Vec<&'static str> = self.embedded.iter().flat_map(|s| s.paths()).collect();
        all.sort_unstable();
        all.dedup();
        all
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
    /// [`TestFileError::NotFound`] listing every source, [`TestFileError::Conflict`] when
    /// embedded sources disagree about the file, or a read error.
    pub fn read(&self, path: &str) -> Result<(Vec<u8>, String), TestFileError> {
        for candidate in self.candidates(path) {
            // Only a regular file: reading a FIFO would block the run forever.
            let read = crate::config::param::ensure_regular_file(&candidate)
                .and_then(|()| std::fs::read(&candidate));
            match read {
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
        let hits: Vec<(&EmbeddedSource, &'static [u8])> = self
            .embedded
            .iter()
            .filter_map(|s| s.get(key).map(|bytes| (*s, bytes)))
            .collect();
        let Some(&(first, bytes)) = hits.first() else {
            return Err(TestFileError::NotFound {
                path: path.to_string(),
                sources: self.describe(),
            });
        };
        if hits.iter().any(|(_, other)| *other != bytes) {
            return Err(TestFileError::Conflict {
                path: path.to_string(),
                sources: hits
                    .iter()
                    .map(|(s, b)| format!("{} ({} bytes)", s.name(), b.len()))
                    .collect(),
            });
        }
        Ok((bytes.to_vec(), format!("{}{key} (embedded)", first.name())))
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

    /// Whether any source has `path` (a conflict counts as having it).
    pub fn exists(&self, path: &str) -> bool {
        matches!(self.read(path), Ok(_) | Err(TestFileError::Conflict { .. }))
    }

    /// What every source offers, for error messages.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(root) = &self.repo_root {
            parts.push(format!("looked in repo root {}", root.display()));
        }
        if self.embedded.is_empty() {
            parts.push(
                "nothing embedded (a crate embeds a directory with kube_e2e::embed_test_files!)"
                    .to_string(),
            );
        }
        for source in &self.embedded {
            parts.push(format!(
                "embedded {} has: {}",
                source.name(),
                source.paths().join(", ")
            ));
        }
        parts.join("; ")
    }
}

/// Whether `path` starts with `$CARGO_MANIFEST_DIR`; checked at compile time by
/// [`embed_test_files!`](crate::embed_test_files).
#[doc(hidden)]
pub const fn __is_manifest_relative(path: &str) -> bool {
    let (path, prefix) = (path.as_bytes(), b"$CARGO_MANIFEST_DIR/");
    if path.len() < prefix.len() {
        return false;
    }
    let mut i = 0;
    while i < prefix.len() {
        if path[i] != prefix[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// Embeds a directory of test files into the binary and registers it, so every
/// [`TestFiles`](crate::manifest::testfiles::TestFiles) — and so
/// [`Framework::manifests`](crate::Framework::manifests) — finds its files by their path inside
/// the directory.
///
/// The path starts with `$CARGO_MANIFEST_DIR/` (the embedding crate's directory; anything else
/// is a compile error), and is read when the crate compiles:
///
/// ```
/// kube_e2e::embed_test_files!("$CARGO_MANIFEST_DIR/tests/fixtures/testfiles");
/// # fn main() {}
/// ```
///
/// Invoke it once per directory in any crate linked into the test binary — a library whose
/// code ships manifests, or the test target itself. Editing an embedded file rebuilds the
/// crate; a file *added* to the directory is seen when the crate next compiles (a build script
/// printing `cargo:rerun-if-changed=<dir>` makes that automatic).
#[macro_export]
macro_rules! embed_test_files {
    ($dir:tt) => {
        const _: () = {
            ::core::assert!(
                $crate::manifest::testfiles::__is_manifest_relative($dir),
                "kube_e2e::embed_test_files!: the path must start with `$CARGO_MANIFEST_DIR/`"
            );
            use $crate::__private::include_dir;
            static DIR: $crate::__private::include_dir::Dir<'static> =
                $crate::__private::include_dir::include_dir!($dir);
            $crate::__private::inventory::submit! {
                $crate::manifest::testfiles::EmbeddedSource::__new(
                    ::core::env!("CARGO_PKG_NAME"),
                    $dir,
                    &DIR,
                )
            }
        };
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    static FIRST: include_dir::Dir<'static> =
        include_dir::include_dir!("$CARGO_MANIFEST_DIR/tests/fixtures/testfiles");
    static SAME: include_dir::Dir<'static> =
        include_dir::include_dir!("$CARGO_MANIFEST_DIR/tests/fixtures/testfiles");
    static OTHER: include_dir::Dir<'static> =
        include_dir::include_dir!("$CARGO_MANIFEST_DIR/tests/fixtures/testfiles-other");
    static FIRST_SOURCE: EmbeddedSource =
        EmbeddedSource::__new("first", "$CARGO_MANIFEST_DIR/fixtures", &FIRST);
    static SAME_SOURCE: EmbeddedSource = EmbeddedSource::__new("same", "copy", &SAME);
    static OTHER_SOURCE: EmbeddedSource = EmbeddedSource::__new("other", "elsewhere", &OTHER);

    #[test]
    fn repo_root_comes_first_and_misses_list_sources() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("testing-manifests/docs")).unwrap();
        std::fs::write(
            dir.path().join("testing-manifests/docs/configmap.yaml"),
            "kind: A",
        )
        .unwrap();
        let files = TestFiles::with_sources(Some(dir.path().to_path_buf()), vec![&FIRST_SOURCE]);
        let (text, from) = files.read_to_string("docs/configmap.yaml").unwrap();
        assert_eq!(text, "kind: A", "the repo root wins over the embedded copy");
        assert!(from.ends_with("testing-manifests/docs/configmap.yaml"));
        let e = files.read("x/missing.yaml").unwrap_err().to_string();
        assert!(
            e.contains("`x/missing.yaml` not found")
                && e.contains("repo root")
                && e.contains("embedded first: fixtures/ has: docs/configmap.yaml"),
            "{e}"
        );
    }

    #[test]
    fn embedded_files_are_found_without_a_root() {
        let files = TestFiles::with_sources(None, vec![&FIRST_SOURCE]);
        let (text, from) = files
            .read_to_string("testing-manifests/docs/configmap.yaml")
            .unwrap();
        assert!(text.contains("kind: ConfigMap"), "{text}");
        assert_eq!(from, "first: fixtures/docs/configmap.yaml (embedded)");
        assert!(files.exists("docs/nested/deeper/secret.yaml"));
        assert_eq!(
            files.embedded(),
            ["docs/configmap.yaml", "docs/nested/deeper/secret.yaml"]
        );
    }

    #[test]
    fn the_same_file_in_two_sources_is_fine_when_identical() {
        let files = TestFiles::with_sources(None, vec![&FIRST_SOURCE, &SAME_SOURCE]);
        let (text, from) = files.read_to_string("docs/configmap.yaml").unwrap();
        assert!(text.contains("kind: ConfigMap"));
        assert!(from.starts_with("first: "), "{from}");
        assert_eq!(files.embedded().len(), 2, "paths are listed once");
    }

    #[test]
    fn different_contents_under_one_path_are_an_error_naming_both_sources() {
        let files = TestFiles::with_sources(None, vec![&FIRST_SOURCE, &OTHER_SOURCE]);
        let e = files.read("docs/configmap.yaml").unwrap_err();
        assert!(matches!(e, TestFileError::Conflict { .. }), "{e:?}");
        let e = e.to_string();
        assert!(
            e.contains("`docs/configmap.yaml` is embedded with different contents")
                && e.contains("first: fixtures/")
                && e.contains("other: elsewhere/"),
            "{e}"
        );
        assert!(files.exists("docs/configmap.yaml"));
        // A path only one source has is unaffected.
        let (_, from) = files.read("only-other.yaml").unwrap();
        assert_eq!(from, "other: elsewhere/only-other.yaml (embedded)");
    }

    #[test]
    fn debug_output_names_the_source_without_its_bytes() {
        let files = TestFiles::with_sources(None, vec![&FIRST_SOURCE]);
        let debug = format!("{files:?}");
        assert!(
            debug.contains(r#"EmbeddedSource { crate_name: "first", dir: "fixtures", files: 2 }"#),
            "{debug}"
        );
        assert!(!debug.contains("ConfigMap"), "{debug}");
    }

    #[test]
    fn nothing_embedded_says_how_to_embed() {
        let files = TestFiles::with_sources(None, Vec::new());
        let e = files.read("a.yaml").unwrap_err().to_string();
        assert!(e.contains("embed_test_files!"), "{e}");
    }

    crate::embed_test_files!("$CARGO_MANIFEST_DIR/tests/fixtures/testfiles");

    #[test]
    fn the_macro_registers_the_directory_under_the_crate_name() {
        let source = EmbeddedSource::all()
            .into_iter()
            .find(|s| s.dir() == "tests/fixtures/testfiles")
            .expect("registered by embed_test_files!");
        assert_eq!(source.crate_name(), "kube-e2e");
        assert_eq!(source.name(), "kube-e2e: tests/fixtures/testfiles/");
        let (_, from) = TestFiles::new(None).read("docs/configmap.yaml").unwrap();
        assert_eq!(
            from,
            "kube-e2e: tests/fixtures/testfiles/docs/configmap.yaml (embedded)"
        );
    }

    #[test]
    fn only_manifest_relative_paths_pass_the_macro_check() {
        assert!(__is_manifest_relative("$CARGO_MANIFEST_DIR/x"));
        assert!(!__is_manifest_relative("testing-manifests"));
        assert!(!__is_manifest_relative("$CARGO_MANIFEST_DIRX"));
    }
}
