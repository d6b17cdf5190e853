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
//! The pieces: [`spec`] (authoring), [`tag`] (typed tags), [`registry`] (registration and
//! definition errors), [`filter`] (the label-filter grammar), [`select`] (focus, skip, shard,
//! order), [`runner`] (execution and exit codes), [`report`] (JUnit, JSON, `e2e.log`),
//! [`param`] and [`config`] (settings), [`interrupt`] (signals), [`conformance`] (metadata,
//! `--list-conformance`, modes), [`sonobuoy`] (the plugin contract), [`merge`] (sharded reports).
//!
//! On the cluster: [`framework`] (the per-spec [`Framework`]: client, namespaces, teardown),
//! [`session`] and [`provider`] (connection, `local` cluster), [`namespace`], [`dump`],
//! [`timeouts`], [`skip`], [`expect`], [`eventually`], [`conditions`], [`manifest`] and [`patch`],
//! [`testfiles`], [`images`]. See `docs/framework.md`.

pub mod cli;
pub mod conditions;
pub mod config;
pub mod conformance;
pub mod context;
pub mod dump;
pub mod eventually;
mod exec;
pub mod expect;
pub mod filter;
pub mod framework;
pub mod images;
pub mod interrupt;
pub mod manifest;
pub mod merge;
pub mod namespace;
pub mod param;
pub mod patch;
pub mod provider;
pub mod registry;
pub mod report;
pub mod runner;
pub mod select;
pub mod session;
pub mod skip;
pub mod sonobuoy;
pub mod spec;
pub mod tag;
pub mod testfiles;
pub mod timeouts;

pub use context::{Extensions, SpecContext};
pub use exec::{Board, ExecOptions, execute};
pub use filter::LabelFilter;
pub use framework::{DeletePolicy, Framework, FrameworkError, FrameworkOptions};
pub use param::Params;
pub use registry::{Registry, SpecSet};
pub use runner::{Runner, run, run_main};
pub use session::Session;
pub use spec::Container;
pub use tag::Tag;
pub use timeouts::Timeouts;

/// Re-exported for spec bodies (`anyhow::Result` is what bodies return).
pub use anyhow;

/// Everything a spec file needs, in one `use`.
pub mod prelude {
    pub use crate::conformance::ConformanceMeta;
    pub use crate::context::SpecContext;
    pub use crate::eventually::{consistently, eventually, stop_trying};
    pub use crate::expect::{
        be_empty, be_some, be_true, contain_element, contain_substring, equal, equal_object,
        expect, have_len, match_regex, satisfy,
    };
    pub use crate::framework::{DeletePolicy, Framework, FrameworkOptions};
    pub use crate::images::Image;
    pub use crate::namespace::PodSecurity;
    pub use crate::param::Params;
    pub use crate::skip::{
        skip, skip_if, skip_unless_feature_gate, skip_unless_node_count_at_least,
        skip_unless_server_version_at_least,
    };
    pub use crate::spec::Container;
    pub use crate::tag::{Tag, feature, label, sig};
    pub use anyhow::{Context as _, bail, ensure};
    pub use std::time::Duration;
}

#[doc(hidden)]
pub mod __private {
    pub use inventory;
}

/// Registers a spec function `fn(&mut Container)`; it runs at start-up, before parameters are
/// parsed.
#[macro_export]
macro_rules! specs {
    ($f:path) => {
        $crate::__private::inventory::submit! {
            $crate::registry::Registration {
                define: $crate::registry::Define::Specs($f),
                module: module_path!(),
                file: file!(),
                line: line!(),
            }
        }
    };
}

/// Registers a spec generator `fn(&mut Container, &Params) -> anyhow::Result<()>`: it runs after
/// parameters are parsed and adds specs known only then (drivers from files, for example).
#[macro_export]
macro_rules! generator {
    ($f:path) => {
        $crate::__private::inventory::submit! {
            $crate::registry::Registration {
                define: $crate::registry::Define::Generator($f),
                module: module_path!(),
                file: file!(),
                line: line!(),
            }
        }
    };
}

/// Registers suite-wide hooks `fn(&mut Container)`: its top-level `before_each`, `after_each`
/// and `just_after_each` wrap every spec in the binary.
#[macro_export]
macro_rules! suite_hooks {
    ($f:path) => {
        $crate::__private::inventory::submit! {
            $crate::registry::Registration {
                define: $crate::registry::Define::Hooks($f),
                module: module_path!(),
                file: file!(),
                line: line!(),
            }
        }
    };
}

/// Declares a feature name usable in `[Feature:X]` tags: `declare_feature!("SELinux");`.
#[macro_export]
macro_rules! declare_feature {
    ($name:literal) => {
        $crate::__private::inventory::submit! { $crate::registry::KnownFeature($name) }
    };
}

/// Registers a parameter: `param!("my.count", Int, Some("1"), "how many pods to start");`.
/// The kind is a [`param::ParamKind`] variant; the default is an `Option<&str>` parsed with it.
#[macro_export]
macro_rules! param {
    ($name:literal, $kind:ident, $default:expr, $help:literal) => {
        $crate::__private::inventory::submit! {
            $crate::param::ParamDef {
                name: $name,
                kind: $crate::param::ParamKind::$kind,
                default: $default,
                help: $help,
            }
        }
    };
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
