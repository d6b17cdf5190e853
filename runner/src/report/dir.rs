//! [`ReportDir`]: where a run writes its reports, as a typed value every spec's context holds.

use std::path::PathBuf;

/// The run's `--report-dir`, as a typed context value of every spec
/// ([`SpecContext::report_dir`](crate::SpecContext::report_dir)); where failure dumps go.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReportDir(pub Option<PathBuf>);
