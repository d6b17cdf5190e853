//! Suites and their registration: each suite is defined once and registered for every driver
//! × pattern it supports. Unsupported combinations are decided here, at registration, and
//! recorded with their reason (`--dry-run` lists them); they cost nothing at run time.

use crate::driver::{TestDriver, skip_invalid_driver_pattern};
use crate::pattern::TestPattern;
use kube_e2e::prelude::*;
use kube_e2e::spec::container::NodeHandle;
use kube_e2e::{SpecContext, Tag};
use std::future::Future;
use std::sync::Arc;

/// What a suite's `define` gets: the driver, the pattern, and the name prefix for specs it
/// leaves out.
pub struct SuiteContext {
    /// The driver.
    pub driver: Arc<dyn TestDriver>,
    /// The pattern.
    pub pattern: TestPattern,
    /// `<containers> [Driver: d] [Testpattern: p] <suite>`, for [`SuiteContext::drop_spec`].
    pub name: String,
}

impl SuiteContext {
    /// Registers nothing for spec `text`, recording `reason` (a capability the driver lacks).
    pub fn drop_spec(&self, s: &mut Container, text: &str, reason: impl Into<String>) {
        s.not_registered(format!("{} {text}", self.name), reason);
    }

    /// Adds spec `text`; its body gets the spec context, the driver and the pattern.
    #[track_caller]
    pub fn it<'s, F, Fut>(&self, s: &'s mut Container, text: &str, body: F) -> NodeHandle<'s>
    where
        F: Fn(SpecContext, Arc<dyn TestDriver>, TestPattern) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        let (driver, pattern) = (self.driver.clone(), self.pattern.clone());
        s.it(text, move |cx| body(cx, driver.clone(), pattern.clone()))
    }

    /// [`SuiteContext::it`] — or, when `missing` is a reason (e.g. from a capability check),
    /// the spec left out with it. Returns the spec's handle when it was added.
    #[track_caller]
    pub fn it_unless<'s, F, Fut>(
        &self,
        s: &'s mut Container,
        text: &str,
        missing: Option<String>,
        body: F,
    ) -> Option<NodeHandle<'s>>
    where
        F: Fn(SpecContext, Arc<dyn TestDriver>, TestPattern) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        match missing {
            Some(reason) => {
                self.drop_spec(s, text, reason);
                None
            }
            None => Some(self.it(s, text, body)),
        }
    }
}

/// A storage test suite.
pub struct TestSuite {
    /// Name, e.g. `provisioning`.
    pub name: &'static str,
    /// Tags for every spec of the suite.
    pub tags: Vec<Tag>,
    /// The patterns it runs with.
    pub patterns: Vec<TestPattern>,
    /// Why the suite cannot run with a driver and pattern (checked after the driver checks).
    pub skip: fn(&dyn TestDriver, &TestPattern) -> Option<String>,
    /// Adds the specs.
    pub define: fn(&mut Container, &SuiteContext),
}

impl TestSuite {
    /// The same suite with other patterns (upstream's `InitCustomXxxTestSuite`).
    pub fn with_patterns(mut self, patterns: Vec<TestPattern>) -> Self {
        self.patterns = patterns;
        self
    }
}

/// Registers every suite × pattern for `driver` under the container `s` (whose name so far is
/// `prefix`, used in the names of dropped combinations).
pub fn define_test_suites(
    s: &mut Container,
    prefix: &str,
    driver: &Arc<dyn TestDriver>,
    suites: &[TestSuite],
) {
    let name = &driver.driver_info().name;
    for suite in suites {
        for pattern in &suite.patterns {
            let full = format!(
                "{prefix} [Driver: {name}] [Testpattern: {}] {}",
                pattern.name, suite.name
            );
            let reason = skip_invalid_driver_pattern(driver.as_ref(), pattern)
                .or_else(|| (suite.skip)(driver.as_ref(), pattern));
            if let Some(reason) = reason {
                s.not_registered(full, reason);
                continue;
            }
            let cx = SuiteContext {
                driver: driver.clone(),
                pattern: pattern.clone(),
                name: full,
            };
            s.context(format!("[Testpattern: {}]", pattern.name), |s| {
                s.describe(suite.name, |s| (suite.define)(s, &cx))
                    .tags(suite.tags.clone());
            })
            .tags(pattern.tags.clone());
        }
    }
}

/// Registers `driver` with `suites` the way upstream's `csi_volumes.go` and `external.go` do:
/// `[sig-storage] <group> [Driver: <name>]`, with a framework whose namespaces allow the
/// privileged pods storage tests need, and the driver's timeouts.
pub fn register_driver(
    s: &mut Container,
    group: &str,
    driver: Arc<dyn TestDriver>,
    suites: &[TestSuite],
) {
    let name = driver.driver_info().name.clone();
    let mut options = FrameworkOptions::new("storage").pod_security(PodSecurity::Privileged);
    if let Some(t) = driver.timeouts() {
        options = options.timeouts(t);
    }
    s.describe(group, |s| {
        s.describe(format!("[Driver: {name}]"), |s| {
            s.framework(options);
            define_test_suites(s, &format!("[sig-storage] {group}"), &driver, suites);
        });
    })
    .tag(sig("storage"));
}
