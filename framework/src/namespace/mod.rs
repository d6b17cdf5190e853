//! The namespace lifecycle of a spec: creation with the run's labels and pod-security levels,
//! the wait for the default ServiceAccount, deletion, leftovers of earlier runs
//! ([`lifecycle`]); and the failure dump of a failed spec's namespaces ([`dump`]).

pub mod dump;
pub mod lifecycle;
pub mod readiness;

pub use lifecycle::*;
