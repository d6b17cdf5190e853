//! A small all-passing suite: run by `cargo test` like any test target, and by
//! `tests/runner.rs` under `cargo nextest` (process per spec).

use kube_e2e_runner::prelude::*;

fn specs(s: &mut Container) {
    s.describe("nextest", |s| {
        s.before_each(|cx| async move {
            cx.insert(7_u32);
            Ok(())
        });
        s.it("runs a spec in its own process", |cx| async move {
            ensure!(
                cx.get::<u32>().as_deref() == Some(&7),
                "before_each value missing"
            );
            Ok(())
        });
        s.it("runs another", |cx| async move {
            cx.by("sleeping briefly");
            tokio::time::sleep(Duration::from_millis(10)).await;
            Ok(())
        })
        .tag(Tag::Serial);
        s.it("is excluded by default", |_| async {
            bail!("flaky specs do not run by default")
        })
        .tag(Tag::Flaky);
    });
}
kube_e2e_runner::specs!(specs);

kube_e2e_runner::main!();
