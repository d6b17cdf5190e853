//! Benchmarks of `kube-e2e` on the cluster; the code lives in `benches/` (the runner's own
//! benchmark, which needs no cluster, is `runner/benches/runner.rs`). This library builds the suites the
//! benchmarks measure, so tests can check them too.

pub mod junit;

use kube_e2e::Registry;
use kube_e2e::prelude::*;

/// A registry of `n` specs that each get a [`kube_e2e::Framework`] (a namespace of their own)
/// and do nothing else: the framework's per-spec cost, end to end.
pub fn framework_suite(n: usize) -> Registry {
    let mut r = Registry::new();
    r.add(move |s| {
        s.describe("framework", |s| {
            s.framework("bench");
            for i in 0..n {
                s.it(format!("gets a namespace {i:03}"), |cx| async move {
                    ensure!(!cx.framework()?.namespace().is_empty(), "no namespace");
                    Ok(())
                });
            }
        });
    });
    r
}

#[cfg(test)]
mod tests {
    #[test]
    fn suite_has_the_requested_size() {
        assert_eq!(super::framework_suite(5).build().unwrap().specs.len(), 5);
    }
}
