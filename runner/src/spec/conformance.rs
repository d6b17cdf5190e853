//! [`ConformanceMeta`]: what a `[Conformance]` spec promises, checked when the suite is built.
//! The `--list-conformance` document and the run modes are in [`crate::conformance`].

/// What a conformance spec promises, in upstream's terms.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ConformanceMeta {
    /// A short human-readable title, e.g. `ConfigMap, from environment field`.
    pub testname: &'static str,
    /// What the spec checks, with RFC 2119 words (MUST, MUST NOT).
    pub description: &'static str,
    /// The release the behaviour became conformance-tested, e.g. `v1.9` (or `v1.9, v1.21`).
    pub release: &'static str,
}

impl ConformanceMeta {
    /// What is wrong with the metadata, if anything.
    pub(crate) fn problem(&self) -> Option<String> {
        if self.testname.trim().is_empty() {
            return Some("conformance testname is empty".into());
        }
        if self.description.trim().is_empty() {
            return Some(format!(
                "conformance description of `{}` is empty",
                self.testname
            ));
        }
        let release_ok = |r: &str| {
            r.strip_prefix('v').is_some_and(|v| {
                let mut parts = v.split('.');
                let (major, minor) = (parts.next(), parts.next());
                parts.next().is_none()
                    && [major, minor].iter().all(|p| {
                        p.is_some_and(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
                    })
            })
        };
        if !self.release.split(',').all(|r| release_ok(r.trim())) {
            return Some(format!(
                "conformance release `{}` of `{}` is not `vX.Y` (or a list such as `v1.9, v1.21`)",
                self.release, self.testname
            ));
        }
        None
    }
}
