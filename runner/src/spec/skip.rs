//! Skips with a reason: a spec that cannot run says why and is reported as skipped (JUnit
//! `skipped`, `[SKIPPED] name: reason` in `e2e.log`), not passed and not dropped.
//!
//! A skip is a typed error value ([`Skip`]) returned from `before_each` or the body; the runner
//! recognises it (by type, never by text) and still runs the spec's teardown.
//!
//! ```
//! use kube_e2e_runner::spec::skip::{Skip, skip_if};
//! let nodes = 1;
//! let err = skip_if(nodes < 2, "needs two nodes").unwrap_err();
//! assert_eq!(err.downcast_ref::<Skip>().unwrap().reason(), "needs two nodes");
//! ```

/// The error a spec returns to skip itself; build it with [`skip`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("skipped: {reason}")]
pub struct Skip {
    reason: String,
}

impl Skip {
    /// Why the spec was skipped.
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

/// An error that skips the spec with `reason`: `return Err(skip("needs IPv6"));`.
pub fn skip(reason: impl Into<String>) -> anyhow::Error {
    Skip {
        reason: reason.into(),
    }
    .into()
}

/// Skips when `condition` holds: `skip_if(nodes < 2, "needs two nodes")?;`.
///
/// # Errors
///
/// The [`Skip`] when `condition` is true.
pub fn skip_if(condition: bool, reason: impl Into<String>) -> anyhow::Result<()> {
    if condition { Err(skip(reason)) } else { Ok(()) }
}

/// Parses `v1.34.4`, `1.34`, `1.34.0-rc.1+abc` into (major, minor, patch).
pub fn parse_version(text: &str) -> Option<(u64, u64, u64)> {
    let t = text.trim().trim_start_matches('v');
    let core = t.split(['-', '+']).next()?;
    let mut parts = core.split('.').map(|p| p.parse::<u64>().ok());
    let major = parts.next()??;
    let minor = parts.next().flatten().unwrap_or(0);
    let patch = parts.next().flatten().unwrap_or(0);
    Some((major, minor, patch))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse() {
        assert_eq!(parse_version("v1.34.4"), Some((1, 34, 4)));
        assert_eq!(parse_version("1.30"), Some((1, 30, 0)));
        assert_eq!(parse_version("v1.35.0-rc.1+abc"), Some((1, 35, 0)));
        assert_eq!(parse_version("x"), None);
        assert!(parse_version("v1.29.9") < parse_version("1.30"));
    }

    #[test]
    fn skips_carry_reasons() {
        let e = skip_if(true, "needs 3 nodes").unwrap_err();
        assert_eq!(e.downcast_ref::<Skip>().unwrap().reason(), "needs 3 nodes");
        assert!(skip_if(false, "x").is_ok());
    }
}
