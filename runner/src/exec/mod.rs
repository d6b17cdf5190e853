//! Execution: the run from arguments to exit code ([`run`]), the concurrent executor with its
//! timeouts and teardown ([`executor`]), and signal handling ([`interrupt`]).

pub mod executor;
pub mod interrupt;
pub mod run;
