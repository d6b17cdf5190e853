//! What one test process shares between its specs: the [`Session`] (client, run id, settings,
//! image mapping, test files, deletions in flight) in [`connect`], and where the cluster comes
//! from in [`provider`], with the client built in [`client`].

pub mod client;
pub mod connect;
pub mod provider;

pub use connect::*;
