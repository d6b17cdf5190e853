//! The manifest pipeline: test files looked up in ordered sources ([`testfiles`]), multi-document
//! YAML parsed ([`load::parse_documents`]), kinds resolved through discovery and objects written
//! ([`target`]), patched for the spec on the way ([`patch`]).
//!
//! Two entry points share it:
//!
//! - [`Framework::manifests`](crate::Framework::manifests) ([`load`]) for a spec: test files,
//!   patched into the spec's namespace, created with a cleanup each, waits bound to the spec.
//! - [`Target`] ([`target`]) without a `Framework`, for suite-level deployments that outlive a
//!   spec: a client, an optional namespace and parsed documents, created or server-side applied
//!   (idempotent) with the same discovery, no patching and no cleanups.
//!
//! ```no_run
//! # async fn run(client: kube::Client) -> anyhow::Result<()> {
//! use kube_e2e::manifest::{Target, parse_documents};
//!
//! let yaml = std::fs::read_to_string("controller.yaml")?;
//! Target::new(client)
//!     .namespace("kube-e2e-storage")
//!     .server_side_apply("kube-e2e-storage")
//!     .write(parse_documents("controller.yaml", &yaml)?)
//!     .await?;
//! # Ok(()) }
//! ```

pub mod document;
pub mod load;
pub mod patch;
pub mod target;
pub mod testfiles;

#[cfg(test)]
mod fuzz;

pub use load::*;
pub use target::{Created, Resolved, Target, WriteMode};
