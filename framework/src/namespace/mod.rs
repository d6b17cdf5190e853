//! The namespace lifecycle of a spec: creation with the run's labels and pod-security levels,
//! the wait for the default ServiceAccount, deletion, leftovers of earlier runs
//! ([`lifecycle`]); the session's shared readiness watch ([`readiness`]); namespaces made
//! ahead for the specs still to come ([`spares`]); and the failure dump of a failed spec's
//! namespaces ([`dump`]).

pub mod dump;
pub mod lifecycle;
pub mod readiness;
pub mod spares;

pub use lifecycle::*;
