//! Authoring: containers, specs, hooks and tables.
//!
//! A registration function receives a [`Container`] (the root) and builds a tree the way Ginkgo
//! does: `describe`/`context` nest, `it` adds a spec, hooks attach to the container they are
//! declared in. The closures passed to `describe` run immediately, at registration time; spec
//! bodies and hooks run later, when the runner executes the spec.
//!
//! Hook order for one spec: `before_each` from the outermost container inward, the body, then
//! `just_after_each` from the innermost container outward, `after_each` the same way, and finally
//! the cleanups registered with [`SpecContext::defer_cleanup`], last first. After a failure in a
//! `before_each` or the body, the remaining setup is skipped but every `just_after_each`,
//! `after_each` and cleanup still runs.

use crate::report::outcome::RunReport;
use crate::spec::conformance::ConformanceMeta;
use crate::spec::context::{BoxFuture, SpecContext};
pub use crate::spec::info::HookKind;
use crate::spec::suite::{AllBody, FirstBody, Setup, SuiteBody, SuiteContext, SuiteHooks};
use crate::spec::tag::Tag;
use std::future::Future;
use std::panic::Location;
use std::sync::Arc;
use std::time::Duration;

pub(crate) type Body = Arc<dyn Fn(SpecContext) -> BoxFuture + Send + Sync>;

#[derive(Clone)]
pub(crate) struct Hook {
    pub kind: HookKind,
    pub body: Body,
    pub location: &'static Location<'static>,
}

pub(crate) struct Node {
    pub parent: Option<usize>,
    pub text: String,
    pub tags: Vec<Tag>,
    pub location: &'static Location<'static>,
    /// `Some` for a spec (a leaf), `None` for a container.
    pub body: Option<Body>,
    pub ordered: bool,
    pub timeout: Option<Duration>,
    pub hooks: Vec<Hook>,
    pub conformance: Option<ConformanceMeta>,
}

/// A combination a generator decided not to register, with the reason; `--dry-run` lists them.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Unregistered {
    /// The name the spec (or group of specs) would have had.
    pub name: String,
    /// Why it was not registered, e.g. "driver does not support fs type xfs".
    pub reason: String,
}

/// The tree one registration function builds.
pub(crate) struct Tree {
    pub nodes: Vec<Node>,
    pub unregistered: Vec<Unregistered>,
    pub suite: SuiteHooks,
    /// Suite-level hooks declared below the root: definition errors.
    pub misplaced_suite_hooks: Vec<(HookKind, &'static Location<'static>)>,
}

impl Tree {
    pub(crate) fn new(location: &'static Location<'static>) -> Self {
        let root = Node {
            parent: None,
            text: String::new(),
            tags: Vec::new(),
            location,
            body: None,
            ordered: false,
            timeout: None,
            hooks: Vec::new(),
            conformance: None,
        };
        Tree {
            nodes: vec![root],
            unregistered: Vec::new(),
            suite: SuiteHooks::default(),
            misplaced_suite_hooks: Vec::new(),
        }
    }
}

fn boxed<F, Fut>(f: F) -> Body
where
    F: Fn(SpecContext) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
{
    Arc::new(move |cx| Box::pin(f(cx)))
}

/// A container under construction (`describe`/`context`, or the root of a registration).
pub struct Container<'a> {
    tree: &'a mut Tree,
    node: usize,
}

/// A just-added container or spec, to attach tags and a timeout to.
pub struct NodeHandle<'a> {
    tree: &'a mut Tree,
    node: usize,
}

impl NodeHandle<'_> {
    /// Adds a tag; it appears in the full name and in the labels of every spec below.
    pub fn tag(self, tag: Tag) -> Self {
        self.tree.nodes[self.node].tags.push(tag);
        self
    }

    /// Adds several tags.
    pub fn tags(self, tags: impl IntoIterator<Item = Tag>) -> Self {
        self.tree.nodes[self.node].tags.extend(tags);
        self
    }

    /// Marks a spec `[Conformance]` and attaches the metadata `--list-conformance` prints
    /// (see [`crate::conformance`]). A `[Conformance]` spec without it is a definition error.
    pub fn conformance(self, meta: ConformanceMeta) -> Self {
        let node = &mut self.tree.nodes[self.node];
        node.conformance = Some(meta);
        if !node.tags.contains(&Tag::Conformance) {
            node.tags.push(Tag::Conformance);
        }
        self
    }

    /// Overrides the per-spec timeout (setup and body) for this node and everything below it.
    pub fn timeout(self, timeout: Duration) -> Self {
        self.tree.nodes[self.node].timeout = Some(timeout);
        self
    }
}

impl<'a> Container<'a> {
    pub(crate) fn root(tree: &'a mut Tree) -> Self {
        Container { tree, node: 0 }
    }

    fn push(
        &mut self,
        text: String,
        body: Option<Body>,
        ordered: bool,
        loc: &'static Location<'static>,
    ) -> usize {
        self.tree.nodes.push(Node {
            parent: Some(self.node),
            text,
            tags: Vec::new(),
            location: loc,
            body,
            ordered,
            timeout: None,
            hooks: Vec::new(),
            conformance: None,
        });
        self.tree.nodes.len() - 1
    }

    #[track_caller]
    fn nest(
        &mut self,
        text: String,
        ordered: bool,
        define: impl FnOnce(&mut Container),
    ) -> NodeHandle<'_> {
        let node = self.push(text, None, ordered, Location::caller());
        define(&mut Container {
            tree: self.tree,
            node,
        });
        NodeHandle {
            tree: self.tree,
            node,
        }
    }

    /// A container: groups specs under a shared text and shared hooks.
    #[track_caller]
    pub fn describe(
        &mut self,
        text: impl Into<String>,
        define: impl FnOnce(&mut Container),
    ) -> NodeHandle<'_> {
        self.nest(text.into(), false, define)
    }

    /// Same as [`Container::describe`]; reads better for a situation ("when the pod is gone").
    #[track_caller]
    pub fn context(
        &mut self,
        text: impl Into<String>,
        define: impl FnOnce(&mut Container),
    ) -> NodeHandle<'_> {
        self.nest(text.into(), false, define)
    }

    /// A group of specs that share `tag` (and whatever else is chained on the returned handle)
    /// but add no text to their names: `s.tagged(sig("node"), |s| { … })` names its specs
    /// `[sig-node] Pods …`, exactly as if the tag were on each of their outermost containers.
    /// Hooks declared in the group apply to every spec in it, as in any container.
    #[track_caller]
    pub fn tagged(&mut self, tag: Tag, define: impl FnOnce(&mut Container)) -> NodeHandle<'_> {
        self.nest(String::new(), false, define).tag(tag)
    }

    /// An ordered container: its specs run one after another in definition order, never
    /// concurrently or shuffled; `before_all`/`after_all` may be declared directly in it; after a
    /// failure the remaining specs are skipped. The whole container is one scheduling unit (and
    /// one shard unit).
    #[track_caller]
    pub fn ordered(
        &mut self,
        text: impl Into<String>,
        define: impl FnOnce(&mut Container),
    ) -> NodeHandle<'_> {
        self.nest(text.into(), true, define)
    }

    /// A spec.
    #[track_caller]
    pub fn it<F, Fut>(&mut self, text: impl Into<String>, body: F) -> NodeHandle<'_>
    where
        F: Fn(SpecContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        let node = self.push(text.into(), Some(boxed(body)), false, Location::caller());
        NodeHandle {
            tree: self.tree,
            node,
        }
    }

    /// A table: one body, many entries, each entry a spec named by its description. Each
    /// [`Table::entry`] returns a [`TableEntry`] to tag or time out that entry, from which more
    /// entries can be chained: `.entry("a", 1).tag(Tag::Slow).entry("b", 2)`.
    #[track_caller]
    pub fn table<T, F, Fut>(&mut self, text: impl Into<String>, body: F) -> Table<'_, T>
    where
        T: Clone + Send + Sync + 'static,
        F: Fn(SpecContext, T) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        let node = self.push(text.into(), None, false, Location::caller());
        let body: Arc<dyn Fn(SpecContext, T) -> BoxFuture + Send + Sync> =
            Arc::new(move |cx, v| Box::pin(body(cx, v)));
        Table {
            container: Container {
                tree: self.tree,
                node,
            },
            body,
        }
    }

    fn hook<F, Fut>(&mut self, kind: HookKind, f: F)
    where
        F: Fn(SpecContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        let hook = Hook {
            kind,
            body: boxed(f),
            location: Location::caller(),
        };
        self.tree.nodes[self.node].hooks.push(hook);
    }

    /// Runs before each spec in this container (outer containers' first).
    #[track_caller]
    pub fn before_each<F, Fut>(&mut self, f: F)
    where
        F: Fn(SpecContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        self.hook(HookKind::BeforeEach, f)
    }

    /// Runs after each spec's body, before any `after_each` (inner containers' first).
    #[track_caller]
    pub fn just_after_each<F, Fut>(&mut self, f: F)
    where
        F: Fn(SpecContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        self.hook(HookKind::JustAfterEach, f)
    }

    /// Runs after each spec in this container (inner containers' first).
    #[track_caller]
    pub fn after_each<F, Fut>(&mut self, f: F)
    where
        F: Fn(SpecContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        self.hook(HookKind::AfterEach, f)
    }

    /// Runs once before the first selected spec of this ordered container. Values it
    /// [`insert`](SpecContext::insert)s are visible to every spec of the container.
    /// Declaring it outside an ordered container is a definition error.
    #[track_caller]
    pub fn before_all<F, Fut>(&mut self, f: F)
    where
        F: Fn(SpecContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        self.hook(HookKind::BeforeAll, f)
    }

    /// Runs once after the last selected spec of this ordered container, even after a failure.
    #[track_caller]
    pub fn after_all<F, Fut>(&mut self, f: F)
    where
        F: Fn(SpecContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        self.hook(HookKind::AfterAll, f)
    }

    /// Whether a suite-level hook may be declared here (only at the root); records the error
    /// otherwise.
    fn at_root(&mut self, kind: HookKind, location: &'static Location<'static>) -> bool {
        if self.node != 0 {
            self.tree.misplaced_suite_hooks.push((kind, location));
        }
        self.node == 0
    }

    /// Runs once per process before the first spec, outside every spec's time (Ginkgo's
    /// `BeforeSuite`; see [`crate::spec::suite`]). Only at the root of a registration.
    #[track_caller]
    pub fn before_suite<F, Fut>(&mut self, f: F)
    where
        F: Fn(SuiteContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        let location = Location::caller();
        if self.at_root(HookKind::BeforeSuite, location) {
            let body: SuiteBody = Arc::new(move |cx| Box::pin(f(cx)));
            self.tree.suite.setup.push((Setup::Each(body), location));
        }
    }

    /// `first` runs once for the whole run — also when every spec runs in a process of its
    /// own, as under `cargo nextest` — and its bytes are handed to `all`, which runs in every
    /// process before the first spec (Ginkgo's `SynchronizedBeforeSuite`). Only at the root.
    #[track_caller]
    pub fn synchronized_before_suite<F1, Fut1, F2, Fut2>(&mut self, first: F1, all: F2)
    where
        F1: Fn(SuiteContext) -> Fut1 + Send + Sync + 'static,
        Fut1: Future<Output = anyhow::Result<Vec<u8>>> + Send + 'static,
        F2: Fn(SuiteContext, Vec<u8>) -> Fut2 + Send + Sync + 'static,
        Fut2: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        let location = Location::caller();
        if self.at_root(HookKind::BeforeSuite, location) {
            let first: FirstBody = Arc::new(move |cx| Box::pin(first(cx)));
            let all: AllBody = Arc::new(move |cx, data| Box::pin(all(cx, data)));
            self.tree
                .suite
                .setup
                .push((Setup::Synchronized(first, all), location));
        }
    }

    /// Runs once per process after the last spec, whatever the outcome (Ginkgo's
    /// `AfterSuite`). Only at the root.
    #[track_caller]
    pub fn after_suite<F, Fut>(&mut self, f: F)
    where
        F: Fn(SuiteContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        let location = Location::caller();
        if self.at_root(HookKind::AfterSuite, location) {
            let body: SuiteBody = Arc::new(move |cx| Box::pin(f(cx)));
            self.tree.suite.teardown.push((body, location));
        }
    }

    /// Runs with the finished report of the run, before it is written (Ginkgo's
    /// `ReportAfterSuite`): for custom report formats or notifications. Only at the root.
    #[track_caller]
    pub fn report_after_suite<F>(&mut self, f: F)
    where
        F: Fn(&RunReport) -> anyhow::Result<()> + Send + Sync + 'static,
    {
        let location = Location::caller();
        if self.at_root(HookKind::ReportAfterSuite, location) {
            self.tree.suite.report.push((Arc::new(f), location));
        }
    }

    /// Records a spec (or group) that a generator chose not to register, with the reason.
    pub fn not_registered(&mut self, name: impl Into<String>, reason: impl Into<String>) {
        self.tree.unregistered.push(Unregistered {
            name: name.into(),
            reason: reason.into(),
        });
    }
}

/// A table under construction; see [`Container::table`].
pub struct Table<'a, T> {
    container: Container<'a>,
    body: Arc<dyn Fn(SpecContext, T) -> BoxFuture + Send + Sync>,
}

impl<'a, T: Clone + Send + Sync + 'static> Table<'a, T> {
    /// Adds an entry: a spec named `description` that runs the table body with `value`.
    #[track_caller]
    pub fn entry(&mut self, description: impl Into<String>, value: T) -> TableEntry<'_, 'a, T> {
        let f = self.body.clone();
        let body: Body = Arc::new(move |cx| f(cx, value.clone()));
        let node = self
            .container
            .push(description.into(), Some(body), false, Location::caller());
        TableEntry { table: self, node }
    }

    /// Adds an entry with tags of its own; the same as `entry(description, value).tags(tags)`.
    #[track_caller]
    pub fn entry_tagged(
        &mut self,
        description: impl Into<String>,
        tags: impl IntoIterator<Item = Tag>,
        value: T,
    ) -> TableEntry<'_, 'a, T> {
        self.entry(description, value).tags(tags)
    }

    /// Tags the whole table.
    pub fn tag(&mut self, tag: Tag) -> &mut Self {
        self.container.tree.nodes[self.container.node]
            .tags
            .push(tag);
        self
    }
}

/// A just-added table entry, to attach tags and a timeout to (like the [`NodeHandle`] of a
/// spec); further entries can be chained from it.
pub struct TableEntry<'t, 'a, T> {
    table: &'t mut Table<'a, T>,
    node: usize,
}

impl<'t, 'a, T: Clone + Send + Sync + 'static> TableEntry<'t, 'a, T> {
    fn handle(&mut self) -> NodeHandle<'_> {
        NodeHandle {
            tree: self.table.container.tree,
            node: self.node,
        }
    }

    /// Adds a tag to this entry only; it appears in the entry's full name and labels.
    pub fn tag(mut self, tag: Tag) -> Self {
        self.handle().tag(tag);
        self
    }

    /// Adds several tags to this entry.
    pub fn tags(mut self, tags: impl IntoIterator<Item = Tag>) -> Self {
        self.handle().tags(tags);
        self
    }

    /// Overrides the per-spec timeout (setup and body) for this entry.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.handle().timeout(timeout);
        self
    }

    /// Adds the next entry of the same table; see [`Table::entry`].
    #[track_caller]
    pub fn entry(self, description: impl Into<String>, value: T) -> TableEntry<'t, 'a, T> {
        self.table.entry(description, value)
    }

    /// Adds the next entry of the same table, with tags; see [`Table::entry_tagged`].
    #[track_caller]
    pub fn entry_tagged(
        self,
        description: impl Into<String>,
        tags: impl IntoIterator<Item = Tag>,
        value: T,
    ) -> TableEntry<'t, 'a, T> {
        self.table.entry_tagged(description, tags, value)
    }
}
