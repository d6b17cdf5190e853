#![allow(missing_docs)] // criterion_group! generates an undocumented public fn
//! Runner overhead: register, filter and run 10,000 no-op specs, and list them.
//! Goal: well under a second in total.

use criterion::{Criterion, criterion_group, criterion_main};
use kube_e2e_runner::config::cli::Cli;
use kube_e2e_runner::exec::interrupt::Interrupts;
use kube_e2e_runner::prelude::*;
use kube_e2e_runner::report::outcome::Transcript;
use kube_e2e_runner::select::selection::select;
use kube_e2e_runner::{Board, ExecOptions, Registry, execute};

/// A registry of `n` no-op specs in containers of 100, every tenth one tagged `[Slow]`.
fn no_op_suite(n: usize) -> Registry {
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
use std::hint::black_box;
use std::io::Write;
use std::sync::Arc;

const N: usize = 10_000;

fn flags(args: &[&str]) -> Cli {
    let mut v = vec!["bench"];
    v.extend(args);
    Cli::try_from_args(v).expect("valid flags")
}

fn run_all(rt: &tokio::runtime::Runtime) -> usize {
    let set = no_op_suite(N).build().expect("valid suite");
    let cli = flags(&["--label-filter", "!Flaky"]);
    let sel = select(&set, &cli.run).expect("selection");
    let board = Arc::new(Board::default());
    let opts = ExecOptions {
        concurrency: 8,
        ..ExecOptions::default()
    };
    let units = sel.units.clone();
    rt.block_on(execute(
        Arc::new(set.specs),
        units,
        opts,
        Arc::new(Interrupts::new()),
        board.clone(),
        Arc::new(Transcript::default()),
    ));
    board.take().len()
}

fn list_all() -> usize {
    let set = no_op_suite(N).build().expect("valid suite");
    let sel = select(&set, &flags(&[]).run).expect("selection");
    let mut out = std::io::sink();
    let mut n = 0;
    for i in sel.order() {
        writeln!(out, "{}: test", set.specs[i].info.name).expect("sink");
        n += 1;
    }
    n
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    assert_eq!(run_all(&rt), N);
    assert_eq!(list_all(), N);
    let mut g = c.benchmark_group("10k no-op specs");
    g.sample_size(20);
    g.bench_function("register", |b| b.iter(|| black_box(no_op_suite(N))));
    g.bench_function("register + build + filter", |b| {
        b.iter(|| {
            let set = no_op_suite(N).build().expect("valid suite");
            black_box(
                select(&set, &flags(&["--label-filter", "!Slow"]).run)
                    .expect("selection")
                    .len(),
            )
        })
    });
    g.bench_function("register + filter + run", |b| {
        b.iter(|| black_box(run_all(&rt)))
    });
    g.bench_function("register + list", |b| b.iter(|| black_box(list_all())));
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
