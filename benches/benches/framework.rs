#![allow(missing_docs)] // criterion_group! generates an undocumented public fn
//! Framework overhead on the local cluster: a spec's namespace made ready and
//! its teardown issued, against a bare loop making the same API calls (goal: at most 1.2×); and
//! 50 framework specs run with `--test-threads 1` against `--test-threads 8`.
//!
//! Needs a cluster: `KUBECONFIG`, else the local cluster is started or reused.
//! `cargo bench -p kube-e2e-benches --bench framework`

use criterion::{Criterion, criterion_group, criterion_main};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, ServiceAccount};
use kube::api::{Api, DeleteParams, ObjectMeta, PostParams, PropagationPolicy};
use kube::runtime::wait::{await_condition, conditions::is_created};
use kube_e2e::namespace::{NamespaceSpec, PodSecurity, namespace_labels, namespace_name};
use kube_e2e::session::{Session, Settings};
use kube_e2e::spec::context::Extensions;
use kube_e2e::spec::tag::Labels;
use kube_e2e::{Framework, FrameworkOptions, Params, Runner, SpecContext};
use kube_e2e_benches::framework_suite;
use std::sync::Arc;
use std::time::Duration;

async fn framework_spec(session: &Arc<Session>) {
    let cx = SpecContext::new("bench", Labels::default(), Extensions::default());
    Framework::attach(&cx, session.clone(), FrameworkOptions::new("bench"))
        .await
        .expect("namespace ready");
    let errors = cx.run_cleanups().await;
    assert!(errors.is_empty(), "{errors:?}");
}

/// What the framework does per spec, written out by hand: the same API calls, nothing else.
async fn bare_spec(client: &kube::Client, run_id: &str) {
    let spec = NamespaceSpec {
        base: "bench".into(),
        run_id: run_id.into(),
        enforce: PodSecurity::Restricted,
        warn: PodSecurity::Restricted,
        audit: PodSecurity::Restricted,
        labels: Default::default(),
    };
    let api = Api::<Namespace>::all(client.clone());
    // The framework draws a new name when one is taken; so does the bare loop.
    let name = loop {
        let name = namespace_name("bench");
        let ns = Namespace {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                labels: Some(namespace_labels(&spec)),
                ..Default::default()
            },
            ..Default::default()
        };
        match api.create(&PostParams::default(), &ns).await {
            Ok(_) => break name,
            Err(kube::Error::Api(s)) if s.code == 409 => continue,
            Err(e) => panic!("create: {e}"),
        }
    };
    let sa = await_condition(
        Api::<ServiceAccount>::namespaced(client.clone(), &name),
        "default",
        is_created(),
    );
    let ca = await_condition(
        Api::<ConfigMap>::namespaced(client.clone(), &name),
        "kube-root-ca.crt",
        is_created(),
    );
    sa.await.expect("service account");
    ca.await.expect("root CA");
    let dp = DeleteParams {
        propagation_policy: Some(PropagationPolicy::Background),
        ..Default::default()
    };
    api.delete(&name, &dp).await.expect("delete");
}

fn overhead(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let session = rt.block_on(async {
        let settings = Settings::from_params(&Params::default()).expect("settings");
        Arc::new(Session::connect(settings).await.expect("a cluster"))
    });
    let mut g = c.benchmark_group("per spec");
    g.sample_size(30).measurement_time(Duration::from_secs(10));
    g.bench_function("bare API calls", |b| {
        b.iter(|| rt.block_on(bare_spec(session.client(), session.run_id())))
    });
    g.bench_function("framework (namespace ready + teardown issued)", |b| {
        b.iter(|| rt.block_on(framework_spec(&session)))
    });
    g.finish();
    rt.block_on(session.await_deletions());
}

fn fifty_specs(c: &mut Criterion) {
    let mut g = c.benchmark_group("50 framework specs");
    g.sample_size(10).measurement_time(Duration::from_secs(60));
    for threads in ["1", "8"] {
        g.bench_function(format!("--test-threads {threads}"), |b| {
            b.iter(|| {
                let runner =
                    Runner::from_args(["bench", "--test-threads", threads, "-q"]).expect("flags");
                assert_eq!(runner.run(framework_suite(50)), 0);
            })
        });
    }
    g.finish();
}

criterion_group!(benches, overhead, fifty_specs);
criterion_main!(benches);
