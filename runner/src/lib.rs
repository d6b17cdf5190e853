//! `kube-e2e-runner`: the spec runner of kube-e2e, with no Kubernetes in it. Specs are written
//! like Ginkgo's, registered with `inventory`, and run by `cargo test` or `cargo nextest` through
//! libtest-mimic.
//!
//! ```no_run
//! // tests/e2e.rs, with `[[test]] name = "e2e" harness = false` in Cargo.toml
//! use kube_e2e_runner::prelude::*;
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
//! kube_e2e_runner::specs!(config_maps);
//!
//! kube_e2e_runner::main!();
//! ```
//!
//! This registers `[sig-node] ConfigMap should be consumable via environment variable
//! [Conformance]`, with the labels `sig-node` and `Conformance`. `cargo test --test e2e --
//! --label-filter Conformance` runs it; `--help` lists every flag and parameter.
//!
//! The pieces, by folder: [`spec`] (the spec model: containers, context, tags, registration,
//! skips), [`select`] (label filter, focus, shards, order), [`exec`] (the run, the executor,
//! interrupts), [`report`] (JUnit, JSON, HTML, `e2e.log`, merging shards, Sonobuoy), [`config`]
//! (flags, parameters, config file), [`expect`] (`expect`, `eventually`), [`conformance`]
//! (`--list-conformance` and run modes).
//!
//! A framework takes part in a run through two documented extension points: typed values in
//! every spec's context ([`SpecContext::get`], [`Extensions`]) and suite-level hooks
//! ([`RunExtension`], passed to [`run_with`]). The `kube-e2e` crate is such a framework.

pub mod config;
pub mod conformance;
pub mod exec;
pub mod expect;
pub mod report;
pub mod select;
pub mod spec;

pub use config::param::Params;
pub use exec::executor::{Board, ExecOptions, execute};
pub use exec::run::{RunExtension, Runner, SuiteRun, run, run_main, run_with};
pub use report::outcome::ReportDir;
pub use select::filter::LabelFilter;
pub use spec::container::Container;
pub use spec::context::{Extensions, SpecContext};
pub use spec::registry::{Registry, SpecSet};
pub use spec::tag::Tag;

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
    pub use crate::spec::conformance::ConformanceMeta;
    pub use crate::spec::container::Container;
    pub use crate::spec::context::SpecContext;
    pub use crate::spec::skip::{skip, skip_if};
    pub use crate::spec::tag::{Tag, feature, label, sig};
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
            $crate::spec::registry::Registration {
                define: $crate::spec::registry::Define::Specs($f),
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
            $crate::spec::registry::Registration {
                define: $crate::spec::registry::Define::Generator($f),
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
            $crate::spec::registry::Registration {
                define: $crate::spec::registry::Define::Hooks($f),
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
        $crate::__private::inventory::submit! { $crate::spec::registry::KnownFeature($name) }
    };
}

/// Registers a parameter: `param!("my.count", Int, Some("1"), "how many pods to start");`.
/// The kind is a [`ParamKind`](config::param::ParamKind) variant; the default is an
/// `Option<&str>` parsed with it.
#[macro_export]
macro_rules! param {
    ($name:literal, $kind:ident, $default:expr, $help:literal) => {
        $crate::__private::inventory::submit! {
            $crate::config::param::ParamDef {
                name: $name,
                kind: $crate::config::param::ParamKind::$kind,
                default: $default,
                help: $help,
            }
        }
    };
}

/// Defines `fn main()` for a `harness = false` test target: runs the specs registered in the
/// binary with the process's arguments and exits with the runner's code. (`kube_e2e::main!`
/// does the same with the Kubernetes framework taking part.)
#[macro_export]
macro_rules! main {
    () => {
        fn main() {
            $crate::run_main()
        }
    };
}
