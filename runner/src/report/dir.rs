//! [`ReportDir`]: where a run writes its reports, as a typed value every spec's context holds.

use std::path::PathBuf;

/// The run's `--report-dir`, as a typed context value of every spec
/// ([`SpecContext::report_dir`](crate::SpecContext::report_dir)); where failure dumps go.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReportDir(pub Option<PathBuf>);

/// Creates `dir` (and its parents) and checks that a file can be written in it, so that a bad
/// `--report-dir` fails the run before any spec, not after the last.
///
/// # Errors
///
/// The directory cannot be created or written.
pub fn probe(dir: &std::path::Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let probe = dir.join(format!(".kube-e2e-probe-{}", std::process::id()));
    std::fs::write(&probe, b"")?;
    std::fs::remove_file(&probe)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_directory_that_cannot_be_written_is_found_up_front() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("file");
        std::fs::write(&file, "").unwrap();
        let e = probe(&file.join("reports")).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(20), "not a directory: {e}");
        let fresh = tmp.path().join("a/b/reports");
        probe(&fresh).unwrap();
        assert!(fresh.is_dir());
        assert_eq!(
            std::fs::read_dir(&fresh).unwrap().count(),
            0,
            "the probe is removed"
        );
    }
}
