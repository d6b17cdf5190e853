//! Execution: the run from arguments to exit code ([`run`]), the concurrent executor with its
//! timeouts and teardown ([`executor`]), signal handling ([`interrupt`]), where `cargo
//! nextest` is ([`nextest`]), the count of specs yet to start ([`queue`]) and the timed-step
//! log on stderr ([`trace`]).

pub mod executor;
pub mod interrupt;
pub mod nextest;
pub mod queue;
pub mod run;
pub mod trace;
