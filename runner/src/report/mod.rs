//! Reports: per-spec results and the files under `--report-dir` ([`outcome`]), merging sharded
//! runs ([`merge`]), and the Sonobuoy plugin contract ([`sonobuoy`]).

pub mod dir;
pub mod merge;
pub mod outcome;
pub mod sonobuoy;
