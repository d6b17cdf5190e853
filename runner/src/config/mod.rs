//! Settings: command-line flags ([`cli`]), registered parameters ([`param`]), and the YAML
//! config file that feeds both ([`file`]).

pub mod cli;
pub mod file;
pub mod param;
