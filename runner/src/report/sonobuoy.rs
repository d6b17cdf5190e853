//! The Sonobuoy plugin contract: with `--sonobuoy` (or `SONOBUOY=true`, which Sonobuoy's
//! worker sets), the reports go into the plugin's results directory; when the run ends, they are
//! packed into `results.tar.gz` there and that file's path is written into `done`, which the
//! Sonobuoy worker sidecar waits for before it uploads the tarball to the aggregator.
//!
//! This is what upstream's conformance image does around `e2e.test` (its `go-runner`). The
//! plugin definition the project ships is `testing-manifests/conformance/sonobuoy-plugin.yaml`.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

/// The name of the tarball written into the results directory.
pub const TARBALL: &str = "results.tar.gz";
/// The name of the file the worker waits for.
pub const DONE: &str = "done";
/// Sonobuoy's default results directory for plugins.
pub const DEFAULT_RESULTS_DIR: &str = "/tmp/sonobuoy/results";

/// The results directory: `flag`, else `SONOBUOY_RESULTS_DIR`, else `RESULTS_DIR` (the variable
/// upstream's conformance image reads), else [`DEFAULT_RESULTS_DIR`].
pub fn results_dir(flag: Option<&Path>) -> PathBuf {
    flag.map(Path::to_path_buf)
        .or_else(|| std::env::var_os("SONOBUOY_RESULTS_DIR").map(PathBuf::from))
        .or_else(|| std::env::var_os("RESULTS_DIR").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from(DEFAULT_RESULTS_DIR))
}

/// Packs every file of `dir` (recursively; the tarball and `done` excepted) into
/// `dir/results.tar.gz`, then writes that path into `dir/done`. Returns the tarball's path.
///
/// # Errors
///
/// The directory cannot be read or a file cannot be written; the error names the path.
pub fn finish(dir: &Path) -> io::Result<PathBuf> {
    let named =
        |path: &Path, e: io::Error| io::Error::new(e.kind(), format!("{}: {e}", path.display()));
    std::fs::create_dir_all(dir).map_err(|e| named(dir, e))?;
    let tarball = dir.join(TARBALL);
    let partial = dir.join(format!(".{TARBALL}.partial"));
    let file = File::create(&partial).map_err(|e| named(&partial, e))?;
    let gz = flate2::write::GzEncoder::new(file, flate2::Compression::default());
    let mut tar = tar::Builder::new(gz);
    let mut entries: Vec<PathBuf> = Vec::new();
    collect(dir, dir, &mut entries).map_err(|e| named(dir, e))?;
    entries.sort();
    for rel in entries {
        let name = rel.to_string_lossy();
        if name == TARBALL || name == DONE || name.starts_with(&format!(".{TARBALL}")) {
            continue;
        }
        tar.append_path_with_name(dir.join(&rel), &rel)
            .map_err(|e| named(&dir.join(&rel), e))?;
    }
    tar.into_inner()
        .and_then(|gz| gz.finish())
        .map_err(|e| named(&partial, e))?;
    std::fs::rename(&partial, &tarball).map_err(|e| named(&tarball, e))?;
    let done = dir.join(DONE);
    std::fs::write(&done, tarball.to_string_lossy().as_bytes()).map_err(|e| named(&done, e))?;
    Ok(tarball)
}

fn collect(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) -> io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            collect(root, &path, out)?;
        } else if let Ok(rel) = path.strip_prefix(root) {
            out.push(rel.to_path_buf());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn finish_packs_reports_and_writes_done() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("junit_01.xml"), "<testsuites/>").unwrap();
        std::fs::write(dir.path().join("e2e.log"), "Ran 1 spec").unwrap();
        std::fs::create_dir_all(dir.path().join("namespaces/x")).unwrap();
        std::fs::write(dir.path().join("namespaces/x/events.txt"), "e").unwrap();
        let tarball = finish(dir.path()).unwrap();
        // A second call (a re-run into the same directory) must not pack the old tarball.
        let tarball = finish(tarball.parent().unwrap()).unwrap();
        let done = std::fs::read_to_string(dir.path().join(DONE)).unwrap();
        assert_eq!(done, tarball.to_string_lossy());
        let mut names = Vec::new();
        let gz = flate2::read::GzDecoder::new(File::open(&tarball).unwrap());
        let mut archive = tar::Archive::new(gz);
        for e in archive.entries().unwrap() {
            let mut e = e.unwrap();
            let mut text = String::new();
            e.read_to_string(&mut text).unwrap();
            names.push(e.path().unwrap().to_string_lossy().into_owned());
        }
        assert_eq!(
            names,
            ["e2e.log", "junit_01.xml", "namespaces/x/events.txt"]
        );
    }

    #[test]
    fn results_dir_prefers_the_flag() {
        assert_eq!(results_dir(Some(Path::new("/r"))), PathBuf::from("/r"));
    }
}
