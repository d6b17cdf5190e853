//! `report.html` for a run whose specs run in processes of their own: `cargo nextest` (one
//! process per spec, all sharing `NEXTEST_RUN_ID`) or another runner that sets
//! `KUBE_E2E_SYNC_ID`. Each process writes the usual files into `--report-dir`, so the last one
//! to finish would leave a report of its own spec only. Each process therefore also keeps its
//! `report.json` as `processes/<run id>/<pid>.json` there and, under a lock, rewrites
//! `report.html` from every process of the run found so far: after the last process ends, the
//! page shows them all, packed into timeline lanes of processes that ran one after another.

use crate::report::html::{self, HtmlError, HtmlRun, RenderOptions};
use crate::report::outcome::RunReport;
use std::fs::{self, OpenOptions};
use std::path::{Path, PathBuf};

/// Writing the combined report failed.
#[derive(Debug, thiserror::Error)]
pub enum ProcessReportError {
    /// A file or directory could not be written, read or locked.
    #[error("failed to {action} `{path}`")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// This process's report did not convert to JSON.
    #[error("failed to serialize the report of process {process}")]
    Json {
        /// The process id.
        process: u32,
        /// Why.
        #[source]
        source: serde_json::Error,
    },
}

fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> ProcessReportError {
    let path = path.to_path_buf();
    move |source| ProcessReportError::Io {
        action,
        path,
        source,
    }
}

/// Writes `bytes` to `path` through a temporary file and a rename, so that readers see the
/// old or the new file, never half of one.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), ProcessReportError> {
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    fs::write(&tmp, bytes).map_err(io("write", &tmp))?;
    fs::rename(&tmp, path).map_err(io("rename into place", path))
}

/// Records `report` (this process's) under `dir/processes/<run_key>/` and rewrites
/// `dir/report.html` from every process of the run recorded there. Returns the number of
/// processes the page shows. Unreadable process files are left out with a warning.
///
/// # Errors
///
/// The file or directory that could not be written, read or locked.
pub fn write(dir: &Path, run_key: &str, report: &RunReport) -> Result<usize, ProcessReportError> {
    let runs_dir = dir.join("processes").join(run_key);
    fs::create_dir_all(&runs_dir).map_err(io("create", &runs_dir))?;
    let own = serde_json::to_vec(report).map_err(|source| ProcessReportError::Json {
        process: report.process,
        source,
    })?;
    write_atomically(&runs_dir.join(format!("{}.json", report.process)), &own)?;
    let lock_path = runs_dir.join(".lock");
    let lock = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(io("open", &lock_path))?;
    lock.lock().map_err(io("lock", &lock_path))?;
    let mut files: Vec<PathBuf> = fs::read_dir(&runs_dir)
        .map_err(io("read", &runs_dir))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    let mut runs: Vec<(f64, HtmlRun)> = Vec::new();
    for f in &files {
        let label = format!(
            "pid {}",
            f.file_stem()
                .map(|s| s.to_string_lossy())
                .unwrap_or_default()
        );
        let run = fs::read_to_string(f)
            .map_err(HtmlErrorOrIo::Io)
            .and_then(|text| HtmlRun::from_json(&label, &text, dir).map_err(HtmlErrorOrIo::Html));
        match run {
            Ok(run) => {
                let at = run.report["started_at"].as_f64().unwrap_or(0.0);
                runs.push((at, run));
            }
            Err(e) => eprintln!("warning: leaving {} out of report.html: {e}", f.display()),
        }
    }
    runs.sort_by(|a, b| a.0.total_cmp(&b.0));
    let runs: Vec<HtmlRun> = runs.into_iter().map(|(_, r)| r).collect();
    let title = format!("{} ({} processes)", report.suite, runs.len());
    let options = RenderOptions {
        processes: true,
        ..RenderOptions::default()
    };
    let page = html::render_with(&title, &runs, options);
    write_atomically(&dir.join(html::FILE), page.as_bytes())?;
    drop(lock);
    Ok(runs.len())
}

/// Why one process file was left out.
#[derive(Debug, thiserror::Error)]
enum HtmlErrorOrIo {
    #[error("{0}")]
    Io(std::io::Error),
    #[error("{0}")]
    Html(HtmlError),
}
