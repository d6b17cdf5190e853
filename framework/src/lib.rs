//! `kube-e2e`: end-to-end testing of Kubernetes and of what is built on it, the Rust way:
//! specs written like Ginkgo's, run by `cargo test` or `cargo nextest`.
//!
//! ```no_run
//! // tests/e2e.rs, with `[[test]] name = "e2e" harness = false` in Cargo.toml
//! use kube_e2e::prelude::*;
//!
//! fn config_maps(s: &mut Container) {
//!     s.describe("ConfigMap", |s| {
//!         s.before_each(|cx| async move {
//!             cx.by("creating a namespace");
//!             cx.insert(String::from("e2e-configmap-x1z9"));
//!             Ok(())
//!         });
//!         s.it("should be consumable via environment variable", |cx| async move {
//!             let ns = cx.get::<String>().expect("namespace from before_each");
//!             cx.by(format!("creating a configmap in {ns}"));
//!             cx.defer_cleanup(|| async { Ok(()) }); // runs even if the spec fails
//!             ensure!(!ns.is_empty(), "no namespace");
//!             Ok(())
//!         })
//!         .conformance(ConformanceMeta {
//!             testname: "ConfigMap, from environment field",
//!             description: "A ConfigMap key MUST be readable through an environment variable.",
//!             release: "v1.9",
//!         });
//!     })
//!     .tag(sig("node"));
//! }
//! kube_e2e::specs!(config_maps);
//!
//! kube_e2e::main!();
//! ```
//!
//! This registers `[sig-node] ConfigMap should be consumable via environment variable
//! [Conformance]`, with the labels `sig-node` and `Conformance`. `cargo test --test e2e --
//! --label-filter Conformance` runs it; `--help` lists every flag and parameter. See
//! `docs/runner.md` for flags, environment variables, exit codes, reports and parameters.
//!
//! `kube-e2e` is the facade: the runner ([`kube_e2e_runner`], re-exported here by folder:
//! [`spec`], [`select`], [`exec`], [`report`], [`config`], [`expect`], [`conformance`]) with the
//! Kubernetes framework on top. The framework's pieces: [`framework`] (the per-spec
//! [`Framework`]: client, namespaces, teardown), [`session`] (connection and providers),
//! [`namespace`] (lifecycle and failure dumps), [`manifest`] (test files — each crate embeds
//! its own with [`embed_test_files!`] —, loading, patching),
//! [`pod`] (pods the `restricted` pod-security level admits), [`conditions`], [`timeouts`],
//! [`skip`], [`images`], [`in_cluster`] (sharded runs inside the cluster) and [`run`] (how the
//! framework takes part in a run). See `docs/framework.md`.
//!
//! Cargo feature `local` (on by default): the `local` provider, which starts the project's own
//! cluster when no kubeconfig is given, and in-cluster runs (which build their image with it).
//! Without it, `kube-e2e-cluster` and its dependencies are not built.

pub use kube_e2e_runner::{config, conformance, exec, expect, report, select, spec};

pub mod conditions;
pub mod error;
pub mod framework;
pub mod images;
#[cfg(feature = "local")]
pub mod in_cluster;
pub mod manifest;
pub mod namespace;
pub mod pod;
mod retry;
pub mod run;
pub mod session;
pub mod skip;
pub mod timeouts;

pub use framework::{
    ContainerExt, DeletePolicy, Framework, FrameworkError, FrameworkOptions, SpecContextExt,
};
pub use kube_e2e_runner::{
    Container, Extensions, LabelFilter, Params, Registry, RunExtension, Runner, SpecContext,
    SpecSet, Tag,
};
pub use kube_e2e_runner::{declare_feature, generator, param, specs, suite_hooks};
pub use run::{FrameworkRun, run, run_main};
pub use session::Session;
pub use timeouts::Timeouts;

/// Re-exported for spec bodies (`anyhow::Result` is what bodies return).
pub use anyhow;

/// Everything a spec file needs, in one `use`.
pub mod prelude {
    pub use crate::config::param::Params;
    pub use crate::expect::eventually::{consistently, eventually, stop_trying};
    pub use crate::expect::matchers::{
        be_empty, be_some, be_true, contain_element, contain_substring, equal, equal_object,
        expect, have_len, match_regex, satisfy,
    };
    pub use crate::framework::{
        ContainerExt as _, DeletePolicy, Framework, FrameworkOptions, SpecContextExt as _,
    };
    pub use crate::images::Image;
    pub use crate::namespace::PodSecurity;
    pub use crate::pod::{PodBuilder, restricted_pod};
    pub use crate::skip::{
        skip, skip_if, skip_unless_feature_gate, skip_unless_node_count_at_least,
        skip_unless_real_nodes, skip_unless_server_version_at_least,
    };
    pub use crate::spec::conformance::ConformanceMeta;
    pub use crate::spec::container::Container;
    pub use crate::spec::context::SpecContext;
    pub use crate::spec::tag::{Tag, feature, label, sig};
    pub use anyhow::{Context as _, bail, ensure};
    pub use std::time::Duration;
}

/// What the crate's macros expand to; not a stable interface.
#[doc(hidden)]
pub mod __private {
    pub use include_dir;
    pub use inventory;
}

/// Defines `fn main()` for a `harness = false` test target: runs the specs registered in the
/// binary with the process's arguments and exits with the runner's code.
#[macro_export]
macro_rules! main {
    () => {
        fn main() {
            $crate::run_main()
        }
    };
}
