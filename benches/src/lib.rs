//! Benchmarks of `kube-e2e`; the code lives in `benches/`. This library builds the suites the
//! benchmarks measure, so tests can check them too.

use kube_e2e::Registry;
use kube_e2e::prelude::*;

/// A registry of `n` no-op specs in containers of 100, every tenth one tagged `[Slow]`.
pub fn no_op_suite(n: usize) -> Registry {
    let mut r = Registry::new();
    r.add(|s| {
        for c in 0..n.div_ceil(100) {
            s.describe(format!("container {c:04}"), |s| {
                s.before_each(|_| async { Ok(()) });
                for i in 0..100.min(n - c * 100) {
                    let h = s.it(format!("does nothing {i:03}"), |_| async { Ok(()) });
                    if i % 10 == 0 {
                        h.tag(Tag::Slow);
                    }
                }
            });
        }
    });
    r
}

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
        assert_eq!(super::no_op_suite(250).build().unwrap().specs.len(), 250);
        assert_eq!(super::framework_suite(5).build().unwrap().specs.len(), 5);
    }
}
