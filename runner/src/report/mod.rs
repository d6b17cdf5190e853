//! Reports: per-spec results and the files under `--report-dir` ([`outcome`]), the
//! self-contained HTML report ([`html`]), merging sharded runs ([`merge`]), the HTML report of
//! a process-per-spec run ([`processes`]), redaction of credentials ([`redact`]), and the
//! Sonobuoy plugin contract ([`sonobuoy`]).

pub mod dir;
pub mod html;
pub mod merge;
pub mod outcome;
pub mod processes;
pub mod redact;
pub mod sonobuoy;
