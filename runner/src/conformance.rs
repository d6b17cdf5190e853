//! Conformance: the metadata every `[Conformance]` spec carries, the `--list-conformance`
//! document (upstream's `conformance.yaml`), and Sonobuoy's run modes.
//!
//! Upstream keeps a conformance test's metadata in a comment above `framework.ConformanceIt`
//! and parses the sources to build `test/conformance/testdata/conformance.yaml`. Here the
//! metadata is a typed value given to the spec when it is defined:
//!
//! ```no_run
//! use kube_e2e_runner::prelude::*;
//!
//! fn specs(s: &mut Container) {
//!     s.describe("ConfigMap", |s| {
//!         s.it("should be consumable via the environment", |_cx| async { Ok(()) })
//!             .conformance(ConformanceMeta {
//!                 testname: "ConfigMap, from environment field",
//!                 description: "A pod's environment variable taken from a ConfigMap key MUST \
//!                               hold the key's value.",
//!                 release: "v1.9",
//!             });
//!     })
//!     .tag(sig("node"));
//! }
//! kube_e2e_runner::specs!(specs);
//! ```
//!
//! `.conformance(...)` adds the `[Conformance]` tag too. A spec labelled `Conformance` (by
//! `.tag(Tag::Conformance)` on it or on a container) without metadata is a definition error, as
//! is metadata with an empty field or a release that is not `vX.Y` (several may be listed:
//! `v1.9, v1.21`). The `file` of each entry is where the spec's `it` is written.

pub use crate::spec::conformance::ConformanceMeta;
use crate::spec::registry::{SpecInfo, SpecSet};
use std::fmt;

/// One entry of the `--list-conformance` document, with upstream's `conformance.yaml` fields.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ConformanceEntry {
    /// Human-readable title.
    pub testname: String,
    /// The full spec name, `[sig-x]` and `[Conformance]` included.
    pub codename: String,
    /// What the spec checks.
    pub description: String,
    /// The release(s), e.g. `v1.9`.
    pub release: String,
    /// The source file the spec is written in.
    pub file: String,
}

impl ConformanceEntry {
    fn of(info: &SpecInfo) -> Option<Self> {
        let meta = info.conformance?;
        let file = info
            .location
            .rsplit_once(':')
            .map_or(info.location.as_str(), |(f, _)| f);
        Some(ConformanceEntry {
            testname: meta.testname.to_string(),
            codename: info.name.clone(),
            description: meta.description.to_string(),
            release: meta.release.to_string(),
            file: file.to_string(),
        })
    }
}

/// The conformance entries of a suite, in spec-name order.
pub fn entries(set: &SpecSet) -> Vec<ConformanceEntry> {
    set.specs
        .iter()
        .filter_map(|s| ConformanceEntry::of(&s.info))
        .collect()
}

/// `entries` as the YAML `--list-conformance` prints: a list of maps, as upstream's
/// `conformance.yaml`.
pub fn to_yaml(entries: &[ConformanceEntry]) -> String {
    serde_saphyr::to_string(&entries).expect("conformance entries serialize to YAML")
}

/// A run mode, as Sonobuoy's `--mode`: a preset selection ANDed with the other filters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Every `[Conformance]` spec, disruptive ones included: what a CNCF submission needs.
    CertifiedConformance,
    /// Every `[Conformance]` spec except `[Disruptive]` ones (and, as Sonobuoy,
    /// `NoExecuteTaintManager`): safe on a cluster in use. Sonobuoy's default.
    NonDisruptiveConformance,
    /// One spec, `Pods should be submitted and removed`: a smoke test.
    Quick,
}

/// The spec `quick` mode runs (Sonobuoy's `E2E_FOCUS` for it).
pub const QUICK_FOCUS: &str = "Pods should be submitted and removed";

impl Mode {
    /// Every mode, in the order `--help` lists them.
    pub const ALL: [Mode; 3] = [
        Mode::CertifiedConformance,
        Mode::NonDisruptiveConformance,
        Mode::Quick,
    ];

    /// The mode's name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Mode::CertifiedConformance => "certified-conformance",
            Mode::NonDisruptiveConformance => "non-disruptive-conformance",
            Mode::Quick => "quick",
        }
    }

    /// Parses a mode name.
    ///
    /// # Errors
    ///
    /// An unknown name; the message lists the known ones.
    pub fn parse(name: &str) -> Result<Self, String> {
        Mode::ALL
            .into_iter()
            .find(|m| m.name() == name.trim())
            .ok_or_else(|| {
                let known: Vec<&str> = Mode::ALL.iter().map(|m| m.name()).collect();
                format!(
                    "unknown mode `{name}`; expected one of {}",
                    known.join(", ")
                )
            })
    }

    /// Whether the mode selects the spec.
    pub fn selects(self, info: &SpecInfo) -> bool {
        let conformance = info.labels.contains("Conformance");
        match self {
            Mode::CertifiedConformance => conformance,
            Mode::NonDisruptiveConformance => {
                conformance
                    && !info.labels.contains("Disruptive")
                    && !info.name.contains("NoExecuteTaintManager")
            }
            Mode::Quick => conformance && info.name.contains(QUICK_FOCUS),
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

pub(crate) fn parse_mode(s: &str) -> Result<Mode, String> {
    Mode::parse(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Registry;
    use crate::spec::tag::{Tag, sig};

    fn ok(_: crate::SpecContext) -> std::future::Ready<anyhow::Result<()>> {
        std::future::ready(Ok(()))
    }

    const META: ConformanceMeta = ConformanceMeta {
        testname: "Pods, submit and remove",
        description: "A pod MUST be created and then removed.",
        release: "v1.9",
    };

    #[test]
    fn metadata_is_checked() {
        assert_eq!(META.problem(), None);
        let several = ConformanceMeta {
            release: "v1.9, v1.21",
            ..META
        };
        assert_eq!(several.problem(), None);
        let bad = ConformanceMeta {
            release: "1.9",
            ..META
        };
        assert!(bad.problem().unwrap().contains("is not `vX.Y`"));
        let empty = ConformanceMeta {
            testname: " ",
            ..META
        };
        assert!(empty.problem().unwrap().contains("testname is empty"));
    }

    #[test]
    fn conformance_tag_without_metadata_is_a_definition_error() {
        let mut r = Registry::new();
        r.add(|s| {
            s.describe("Pods", |s| {
                s.it("should be submitted and removed", ok)
                    .conformance(META);
                s.it("bare", ok).tag(Tag::Conformance);
                s.it("bad release", ok).conformance(ConformanceMeta {
                    release: "latest",
                    ..META
                });
            })
            .tag(sig("node"));
        });
        let errs = r.build().err().unwrap().to_string();
        assert!(
            errs.contains("2 definition error(s)")
                && errs.contains("`[sig-node] Pods bare [Conformance]`")
                && errs.contains("has no conformance metadata")
                && errs.contains("`latest`"),
            "{errs}"
        );
    }

    #[test]
    fn list_and_modes() {
        let mut r = Registry::new();
        r.add(|s| {
            s.describe("Pods", |s| {
                s.it("should be submitted and removed", ok)
                    .conformance(META);
                s.it("should survive a node reboot", ok)
                    .conformance(ConformanceMeta {
                        testname: "Pods, reboot",
                        ..META
                    })
                    .tag(Tag::Disruptive);
                s.it("plain", ok);
            })
            .tag(sig("node"));
        });
        let set = r.build().unwrap();
        let list = entries(&set);
        assert_eq!(list.len(), 2);
        assert_eq!(
            list[0].codename,
            "[sig-node] Pods should be submitted and removed [Conformance]"
        );
        assert!(list[0].file.ends_with("conformance.rs"), "{:?}", list[0]);
        let yaml = to_yaml(&list);
        let back: Vec<ConformanceEntry> = serde_saphyr::from_str(&yaml).unwrap();
        assert_eq!(back, list, "{yaml}");
        let picked = |m: Mode| {
            set.specs
                .iter()
                .filter(|s| m.selects(&s.info))
                .map(|s| s.info.name.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(picked(Mode::CertifiedConformance).len(), 2);
        assert_eq!(
            picked(Mode::NonDisruptiveConformance),
            ["[sig-node] Pods should be submitted and removed [Conformance]"]
        );
        assert_eq!(picked(Mode::Quick).len(), 1);
        assert!(Mode::parse("fast").unwrap_err().contains("quick"));
    }
}
