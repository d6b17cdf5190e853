//! Registration: static spec functions and generators collected with `inventory`, flattened into
//! a sorted [`SpecSet`] after every definition error has been collected.
//!
//! Registrations are applied in (file, line) order so that the tree, and therefore everything
//! derived from it, is the same on every run (`inventory` itself guarantees no order).

use crate::config::param::Params;
use crate::spec::container::{Container, Hook, HookKind, Tree, Unregistered};
pub use crate::spec::info::SpecInfo;
use crate::spec::suite::SuiteHooks;
use crate::spec::tag::{Labels, Tag, reserved_tag_for};
use std::collections::{BTreeSet, HashMap};
use std::panic::Location;
use std::sync::Arc;

/// What a registration contributes.
#[derive(Clone, Copy)]
pub enum Define {
    /// A static spec function: runs before parameters are parsed and cannot read them.
    Specs(fn(&mut Container)),
    /// A generator: runs after parsing, may read parameters and fail.
    Generator(fn(&mut Container, &Params) -> anyhow::Result<()>),
    /// Suite-wide hooks: its root-level hooks wrap every spec of the suite (outside each
    /// registration's own hooks). This is where a `Framework` attaches itself. It may not
    /// define specs.
    Hooks(fn(&mut Container)),
}

/// One `inventory` entry; made by [`specs!`](crate::specs), [`generator!`](crate::generator) and
/// [`suite_hooks!`](crate::suite_hooks).
pub struct Registration {
    /// What to run.
    pub define: Define,
    /// `module_path!()` of the registration.
    pub module: &'static str,
    /// `file!()` of the registration.
    pub file: &'static str,
    /// `line!()` of the registration.
    pub line: u32,
}

inventory::collect!(Registration);

/// A feature name that `[Feature:X]` tags may use; see [`declare_feature!`](crate::declare_feature).
pub struct KnownFeature(pub &'static str);

inventory::collect!(KnownFeature);

/// A problem in how specs are defined. All of them are reported together before anything runs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DefinitionError {
    /// A spec's full name is empty.
    #[error("spec defined at {location} has an empty name")]
    EmptyName {
        /// `file:line`.
        location: String,
    },
    /// Two specs share a full name.
    #[error("duplicate spec name `{name}`, defined at {first} and {second}")]
    DuplicateName {
        /// The name.
        name: String,
        /// Where the first one is defined.
        first: String,
        /// Where the second one is defined.
        second: String,
    },
    /// A tag was written into a text by hand.
    #[error(
        "`{tag}` written by hand in `{text}` at {location}; add it with the typed tag helper so it is also a label"
    )]
    HandWrittenTag {
        /// The tag text, e.g. `[Conformance]`.
        tag: String,
        /// The container or spec text.
        text: String,
        /// `file:line`.
        location: String,
    },
    /// A tag's text is malformed.
    #[error("bad tag at {location}: {reason}")]
    BadTag {
        /// `file:line`.
        location: String,
        /// What is wrong.
        reason: String,
    },
    /// A `[Feature:X]` tag names an undeclared feature.
    #[error(
        "unknown feature `{feature}` at {location}; declare it with `declare_feature!(\"{feature}\")`{hint}"
    )]
    UnknownFeature {
        /// The feature name.
        feature: String,
        /// `file:line`.
        location: String,
        /// A "did you mean" hint, possibly empty.
        hint: String,
    },
    /// A hook is declared where it is not allowed.
    #[error("`{hook}` at {location} {reason}")]
    MisplacedHook {
        /// The hook kind.
        hook: HookKind,
        /// `file:line`.
        location: String,
        /// Why it is not allowed there.
        reason: String,
    },
    /// A `[Conformance]` spec has no (or bad) conformance metadata.
    #[error("conformance spec `{name}` at {location} {reason}")]
    Conformance {
        /// The full spec name.
        name: String,
        /// `file:line`.
        location: String,
        /// What is missing or wrong.
        reason: String,
    },
    /// A generator returned an error.
    /// Shown as the generator's own message (every line of it), then where the generator
    /// is registered: the message is what the user can fix.
    #[error("{}\n    (from the spec generator registered at {origin})", .message.lines().collect::<Vec<_>>().join("\n    "))]
    Generator {
        /// The registration (`module` at `file:line`).
        origin: String,
        /// The error, with its chain.
        message: String,
    },
}

/// All definition errors of a suite.
#[derive(Debug, thiserror::Error)]
#[error("{} definition error(s):\n{}", .0.len(), .0.iter().map(|e| format!("  - {e}")).collect::<Vec<_>>().join("\n"))]
pub struct DefinitionErrors(pub Vec<DefinitionError>);

fn loc(l: &Location<'_>) -> String {
    format!("{}:{}", l.file(), l.line())
}

/// The ordered-container a spec belongs to.
pub(crate) struct Group {
    pub name: String,
    pub before_all: Vec<Hook>,
    pub after_all: Vec<Hook>,
}

/// A registered spec ready to run.
#[derive(Clone)]
pub struct Spec {
    /// Name, labels and scheduling facts.
    pub info: SpecInfo,
    /// Setup hooks then the body, in run order.
    pub(crate) setup: Vec<Hook>,
    /// `just_after_each` then `after_each` hooks, in run order.
    pub(crate) teardown: Vec<Hook>,
    pub(crate) group: Option<(usize, Arc<Group>)>,
    /// Definition order, which ordered containers run in.
    pub(crate) position: usize,
}

/// The flattened, validated suite: specs sorted by name.
#[derive(Default)]
pub struct SpecSet {
    /// The specs, sorted by full name (the stable `--list` order).
    pub specs: Vec<Spec>,
    /// Suite-level hooks of every registration, in registration order.
    pub suite: SuiteHooks,
    /// Combinations generators chose not to register.
    pub unregistered: Vec<Unregistered>,
}

/// Collects registrations and builds the [`SpecSet`].
#[derive(Default)]
pub struct Registry {
    trees: Vec<Tree>,
    hooks: Vec<Tree>,
    features: BTreeSet<String>,
    errors: Vec<DefinitionError>,
}

impl Registry {
    /// An empty registry (no `inventory` entries); used by tools and benchmarks.
    pub fn new() -> Self {
        Registry::default()
    }

    /// A registry holding every `inventory` registration, generators run with `params`.
    pub fn from_inventory(params: &Params) -> Self {
        let mut r = Registry::new();
        for f in inventory::iter::<KnownFeature> {
            r.declare_feature(f.0);
        }
        let mut regs: Vec<&Registration> = inventory::iter::<Registration>.into_iter().collect();
        regs.sort_by_key(|r| (r.file, r.line));
        for reg in regs {
            let origin = format!("{} ({}:{})", reg.module, reg.file, reg.line);
            match reg.define {
                Define::Specs(f) => r.add(f),
                Define::Generator(f) => r.generate(origin, |c| f(c, params)),
                Define::Hooks(f) => r.suite_hooks(f),
            }
        }
        r
    }

    /// Declares a feature name usable in `[Feature:X]` tags.
    pub fn declare_feature(&mut self, name: &str) {
        self.features.insert(name.to_string());
    }

    /// Adds specs defined by `define`.
    #[track_caller]
    pub fn add(&mut self, define: impl FnOnce(&mut Container)) {
        let mut tree = Tree::new(Location::caller());
        define(&mut Container::root(&mut tree));
        self.trees.push(tree);
    }

    /// Adds specs from a generator that may fail; a failure is a definition error.
    #[track_caller]
    pub fn generate(
        &mut self,
        origin: impl Into<String>,
        define: impl FnOnce(&mut Container) -> anyhow::Result<()>,
    ) {
        let origin = origin.into();
        let mut tree = Tree::new(Location::caller());
        if let Err(e) = define(&mut Container::root(&mut tree)) {
            self.errors.push(DefinitionError::Generator {
                origin,
                message: format!("{e:#}"),
            });
        }
        self.trees.push(tree);
    }

    /// Adds suite-wide hooks (see [`Define::Hooks`]).
    #[track_caller]
    pub fn suite_hooks(&mut self, define: impl FnOnce(&mut Container)) {
        let mut tree = Tree::new(Location::caller());
        define(&mut Container::root(&mut tree));
        for node in tree.nodes.iter().skip(1) {
            self.errors.push(DefinitionError::MisplacedHook {
                hook: HookKind::Body,
                location: loc(node.location),
                reason: "is inside suite hooks; suite hooks may only declare top-level hooks"
                    .into(),
            });
        }
        self.hooks.push(tree);
    }

    /// Flattens and validates everything.
    ///
    /// # Errors
    ///
    /// Returns every [`DefinitionError`] found, not just the first.
    pub fn build(mut self) -> Result<SpecSet, DefinitionErrors> {
        let mut outer_before = Vec::new();
        let mut outer_after = Vec::new();
        for t in &self.hooks {
            for h in &t.nodes[0].hooks {
                match h.kind {
                    HookKind::BeforeEach => outer_before.push(h.clone()),
                    HookKind::JustAfterEach | HookKind::AfterEach => outer_after.push(h.clone()),
                    _ => self.errors.push(DefinitionError::MisplacedHook {
                        hook: h.kind,
                        location: loc(h.location),
                        reason: "is not allowed in suite hooks".into(),
                    }),
                }
            }
        }
        let mut set = SpecSet::default();
        for t in &self.hooks {
            set.suite.extend(&t.suite);
        }
        let mut groups = 0usize;
        for tree in &self.trees {
            set.unregistered.extend(tree.unregistered.iter().cloned());
            set.suite.extend(&tree.suite);
            for (hook, location) in &tree.misplaced_suite_hooks {
                self.errors.push(DefinitionError::MisplacedHook {
                    hook: *hook,
                    location: loc(location),
                    reason: "is inside a container; suite-level hooks belong at the root of a registration"
                        .into(),
                });
            }
            flatten(
                tree,
                &self.features,
                &outer_before,
                &outer_after,
                &mut groups,
                &mut set,
                &mut self.errors,
            );
        }
        set.specs.sort_by(|a, b| a.info.name.cmp(&b.info.name));
        let mut seen: HashMap<&str, &str> = HashMap::new();
        for s in &set.specs {
            if let Some(first) = seen.insert(&s.info.name, &s.info.location) {
                self.errors.push(DefinitionError::DuplicateName {
                    name: s.info.name.clone(),
                    first: first.to_string(),
                    second: s.info.location.clone(),
                });
            }
        }
        if self.errors.is_empty() {
            Ok(set)
        } else {
            Err(DefinitionErrors(self.errors))
        }
    }
}

fn render(text: &str, tags: &[Tag]) -> String {
    let mut parts: Vec<String> = tags
        .iter()
        .filter(|t| t.is_prefix())
        .map(Tag::to_string)
        .collect();
    if !text.trim().is_empty() {
        parts.push(text.trim().to_string());
    }
    parts.extend(tags.iter().filter(|t| !t.is_prefix()).map(Tag::to_string));
    parts.join(" ")
}

#[allow(clippy::too_many_arguments)]
fn flatten(
    tree: &Tree,
    features: &BTreeSet<String>,
    outer_before: &[Hook],
    outer_after: &[Hook],
    groups: &mut usize,
    set: &mut SpecSet,
    errors: &mut Vec<DefinitionError>,
) {
    let mut group_of: HashMap<usize, (usize, Arc<Group>)> = HashMap::new();
    for (idx, node) in tree.nodes.iter().enumerate() {
        if let Some(tag) = reserved_tag_for(&node.text) {
            errors.push(DefinitionError::HandWrittenTag {
                tag,
                text: node.text.clone(),
                location: loc(node.location),
            });
        }
        for tag in &node.tags {
            if let Err(reason) = tag.validate() {
                errors.push(DefinitionError::BadTag {
                    location: loc(node.location),
                    reason,
                });
            } else if let Tag::Feature(f) = tag
                && !features.contains(f)
            {
                let hint = crate::config::param::suggest(f, features.iter().map(String::as_str))
                    .map(|s| format!("; did you mean `{s}`?"))
                    .unwrap_or_default();
                errors.push(DefinitionError::UnknownFeature {
                    feature: f.clone(),
                    location: loc(node.location),
                    hint,
                });
            }
        }
        for h in &node.hooks {
            if matches!(h.kind, HookKind::BeforeAll | HookKind::AfterAll) && !node.ordered {
                errors.push(DefinitionError::MisplacedHook {
                    hook: h.kind,
                    location: loc(h.location),
                    reason: "must be declared directly in an ordered container".into(),
                });
            }
        }
        let Some(body) = &node.body else { continue };
        let mut chain = vec![idx];
        let mut cur = node.parent;
        while let Some(p) = cur {
            chain.push(p);
            cur = tree.nodes[p].parent;
        }
        chain.reverse();
        let mut names = Vec::new();
        let mut tags = Vec::new();
        let mut timeout = None;
        let mut setup: Vec<Hook> = outer_before.to_vec();
        let mut just_after = Vec::new();
        let mut after = Vec::new();
        let mut group_node = None;
        for &n in &chain {
            let nd = &tree.nodes[n];
            let piece = render(&nd.text, &nd.tags);
            if !piece.is_empty() {
                names.push(piece);
            }
            tags.extend(nd.tags.iter().cloned());
            timeout = nd.timeout.or(timeout);
            if nd.ordered && group_node.is_none() {
                group_node = Some((n, names.join(" ")));
            }
            for h in &nd.hooks {
                match h.kind {
                    HookKind::BeforeEach => setup.push(h.clone()),
                    HookKind::JustAfterEach => just_after.insert(0, h.clone()),
                    HookKind::AfterEach => after.insert(0, h.clone()),
                    _ => {}
                }
            }
        }
        setup.push(Hook {
            kind: HookKind::Body,
            body: body.clone(),
            location: node.location,
        });
        let mut teardown = just_after;
        teardown.extend(after);
        teardown.extend(outer_after.iter().rev().cloned());
        let name = names.join(" ");
        if node.text.trim().is_empty() {
            errors.push(DefinitionError::EmptyName {
                location: loc(node.location),
            });
        }
        let labels = Labels::new(tags.iter().map(Tag::label));
        let conformance_problem = match (&node.conformance, labels.contains("Conformance")) {
            (None, true) => Some(
                "has no conformance metadata; define it with `.conformance(ConformanceMeta { testname, description, release })`"
                    .to_string(),
            ),
            (Some(meta), _) => meta.problem().map(|p| format!("has bad metadata: {p}")),
            (None, false) => None,
        };
        if let Some(reason) = conformance_problem {
            errors.push(DefinitionError::Conformance {
                name: name.clone(),
                location: loc(node.location),
                reason,
            });
        }
        let serial = labels.contains("Serial") || labels.contains("Disruptive");
        let group = group_node.map(|(g, gname)| {
            group_of
                .entry(g)
                .or_insert_with(|| {
                    *groups += 1;
                    let hooks = &tree.nodes[g].hooks;
                    let pick = |k| hooks.iter().filter(|h| h.kind == k).cloned().collect();
                    (
                        *groups,
                        Arc::new(Group {
                            name: gname,
                            before_all: pick(HookKind::BeforeAll),
                            after_all: pick(HookKind::AfterAll),
                        }),
                    )
                })
                .clone()
        });
        set.specs.push(Spec {
            info: SpecInfo {
                name,
                labels,
                location: loc(node.location),
                timeout,
                serial,
                ordered_container: group.as_ref().map(|g| g.1.name.clone()),
                conformance: node.conformance,
            },
            setup,
            teardown,
            group,
            position: set.specs.len(),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::tag::{feature, label, sig};
    use std::time::Duration;

    fn ok(_: crate::SpecContext) -> std::future::Ready<anyhow::Result<()>> {
        std::future::ready(Ok(()))
    }

    #[test]
    fn names_and_labels_come_from_containers_and_tags() {
        let mut r = Registry::new();
        r.declare_feature("SELinux");
        r.add(|s| {
            s.describe("ConfigMap", |s| {
                s.it("should be consumable via environment variable", ok)
                    .conformance(crate::spec::conformance::ConformanceMeta {
                        testname: "ConfigMap, from environment field",
                        description: "A ConfigMap key MUST be readable from the environment.",
                        release: "v1.9",
                    });
                s.context("with SELinux", |s| {
                    s.it("mounts", ok);
                })
                .tag(feature("SELinux"));
            })
            .tag(sig("storage"));
        });
        let set = r.build().unwrap();
        let names: Vec<_> = set.specs.iter().map(|s| s.info.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "[sig-storage] ConfigMap should be consumable via environment variable [Conformance]",
                "[sig-storage] ConfigMap with SELinux [Feature:SELinux] mounts",
            ]
        );
        let labels: Vec<_> = set.specs[1].info.labels.iter().collect();
        assert_eq!(labels, ["Feature:SELinux", "sig-storage"]);
    }

    #[test]
    fn a_tagged_group_names_and_labels_specs_like_an_empty_describe() {
        fn group(s: &mut Container) {
            s.describe("Pods", |s| {
                s.it("run", ok);
                s.it("stop", ok).tag(Tag::Slow);
            });
            s.it("are listed", ok);
        }
        let facts = |define: fn(&mut Container)| {
            let mut r = Registry::new();
            r.add(|s| {
                define(s);
                s.it("stands alone", ok);
            });
            let set = r.build().unwrap();
            set.specs
                .iter()
                .map(|s| {
                    let labels: Vec<String> = s.info.labels.iter().map(str::to_string).collect();
                    (s.info.name.clone(), labels)
                })
                .collect::<Vec<_>>()
        };
        let old = facts(|s| {
            s.describe("", group).tag(sig("node")).tag(Tag::Serial);
        });
        let new = facts(|s| {
            s.tagged(sig("node"), group).tag(Tag::Serial);
        });
        assert_eq!(new, old);
        let names: Vec<_> = new.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "[sig-node] [Serial] Pods run",
                "[sig-node] [Serial] Pods stop [Slow]",
                "[sig-node] [Serial] are listed",
                "stands alone",
            ]
        );
        assert_eq!(new[1].1, ["Serial", "Slow", "sig-node"]);
        assert!(new[3].1.is_empty());
    }

    #[test]
    fn table_entries_take_their_own_tags_and_timeouts() {
        let mut r = Registry::new();
        r.add(|s| {
            s.table("parses", |_, _: u32| std::future::ready(Ok(())))
                .tag(Tag::LinuxOnly)
                .entry("one", 1)
                .tag(Tag::Slow)
                .timeout(Duration::from_secs(7))
                .entry("two", 2)
                .entry_tagged("three", [Tag::Serial], 3)
                .tags([label("size:large")]);
        });
        let set = r.build().unwrap();
        let facts: Vec<_> = set
            .specs
            .iter()
            .map(|s| {
                let labels: Vec<&str> = s.info.labels.iter().collect();
                (s.info.name.as_str(), labels, s.info.timeout)
            })
            .collect();
        assert_eq!(
            facts,
            [
                (
                    "parses [LinuxOnly] one [Slow]",
                    vec!["LinuxOnly", "Slow"],
                    Some(Duration::from_secs(7))
                ),
                (
                    "parses [LinuxOnly] three [Serial] [size:large]",
                    vec!["LinuxOnly", "Serial", "size:large"],
                    None
                ),
                ("parses [LinuxOnly] two", vec!["LinuxOnly"], None),
            ]
        );
        assert!(set.specs[1].info.serial);
    }

    #[test]
    fn every_definition_error_is_reported_together() {
        let mut r = Registry::new();
        r.declare_feature("SELinux");
        r.add(|s| {
            s.it("same", ok);
            s.it("same", ok);
            s.it("  ", ok);
            s.it("is conformance [Conformance]", ok);
            s.it("uses", ok).tag(feature("SELinx"));
            s.it("bad", ok).tag(crate::spec::tag::label("a|b"));
            s.before_all(ok);
        });
        r.generate("gen", |_| anyhow::bail!("driver file missing"));
        let errs = r.build().err().unwrap().0;
        let text: Vec<String> = errs.iter().map(ToString::to_string).collect();
        let all = text.join("\n");
        assert_eq!(errs.len(), 7, "{all}");
        assert!(all.contains("duplicate spec name `same`"), "{all}");
        assert!(all.contains("has an empty name"), "{all}");
        assert!(all.contains("`[Conformance]` written by hand"), "{all}");
        assert!(
            all.contains("unknown feature `SELinx`") && all.contains("did you mean `SELinux`?"),
            "{all}"
        );
        assert!(all.contains("reserved character `|`"), "{all}");
        assert!(
            all.contains("`before_all`") && all.contains("ordered container"),
            "{all}"
        );
        assert!(
            all.contains("driver file missing\n    (from the spec generator registered at gen)"),
            "{all}"
        );
    }

    #[test]
    fn disruptive_implies_serial_and_ordered_groups_are_shared() {
        let mut r = Registry::new();
        r.add(|s| {
            s.it("breaks nodes", ok).tag(Tag::Disruptive);
            s.ordered("lifecycle", |s| {
                s.before_all(ok);
                s.it("a", ok);
                s.it("b", ok);
            });
        });
        let set = r.build().unwrap();
        assert!(set.specs[0].info.serial);
        let (g1, g2) = (
            set.specs[1].group.as_ref().unwrap(),
            set.specs[2].group.as_ref().unwrap(),
        );
        assert_eq!(g1.0, g2.0);
        assert_eq!(g1.1.before_all.len(), 1);
        assert_eq!(
            set.specs[1].info.ordered_container.as_deref(),
            Some("lifecycle")
        );
    }

    #[test]
    fn suite_hooks_wrap_every_spec_and_may_not_define_specs() {
        let mut r = Registry::new();
        r.suite_hooks(|s| {
            s.before_each(ok);
            s.after_each(ok);
        });
        r.add(|s| {
            s.describe("a", |s| {
                s.before_each(ok);
                s.it("b", ok);
            });
        });
        let set = r.build().unwrap();
        let kinds: Vec<_> = set.specs[0].setup.iter().map(|h| h.kind).collect();
        assert_eq!(
            kinds,
            [HookKind::BeforeEach, HookKind::BeforeEach, HookKind::Body]
        );
        assert_eq!(set.specs[0].teardown.len(), 1);
        let mut r = Registry::new();
        r.suite_hooks(|s| {
            s.it("x", ok);
        });
        let err = r.build().err().unwrap().to_string();
        assert!(
            err.contains("suite hooks may only declare top-level hooks"),
            "{err}"
        );
    }
}
