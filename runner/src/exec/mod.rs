//! Execution: the run from arguments to exit code ([`run`]), the concurrent executor with its
//! timeouts and teardown ([`executor`]), signal handling ([`interrupt`]), and where `cargo
//! nextest` is ([`nextest`]).

pub mod executor;
pub mod interrupt;
pub mod nextest;
pub mod run;
