//! A small all-passing suite: run by `cargo test` like any test target, and by
//! `tests/runner.rs` under `cargo nextest` (process per spec).

use kube_e2e_runner::prelude::*;

/// Appends a line to the file named by `NEXTEST_SYNC_LOG`, if set (the runner test reads it).
fn log_event(line: &str) {
    if let Some(path) = std::env::var_os("NEXTEST_SYNC_LOG") {
        use std::io::Write as _;
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .expect("sync log opens");
        writeln!(f, "{line} {}", std::process::id()).expect("sync log writes");
    }
}

fn specs(s: &mut Container) {
    s.synchronized_before_suite(
        |_| async {
            log_event("first");
            Ok(b"from-first".to_vec())
        },
        |suite, data| async move {
            log_event("all");
            suite.insert(String::from_utf8(data)?);
            Ok(())
        },
    );
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
            ensure!(
                cx.get::<String>().as_deref().map(String::as_str) == Some("from-first"),
                "synchronized before_suite data missing"
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
