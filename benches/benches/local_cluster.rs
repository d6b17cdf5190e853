#![allow(missing_docs)]
//! The local cluster's start and stop times, from a warm binary cache.
//!
//! `cargo bench -p kube-e2e-benches --bench local_cluster` measures, each in a fresh state
//! directory beside any running cluster:
//! - `up/simulated`: `up` with one simulated node, until nodes are Ready and the default
//!   ServiceAccount exists;
//! - `down/simulated`: stopping that cluster and removing its directory (printed as mean and
//!   maximum over the clusters the `up` samples started);
//! - `up/real-node-first-pod` (root only): `up --nodes real` until a busybox pod is Running;
//! - `down/real-node`: stopping it with all mounts, cgroups and the network namespace.

use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::api::PostParams;
use kube_e2e_cluster::{ClusterOptions, LocalCluster, NodeMode};

fn options(dir: &std::path::Path, nodes: NodeMode) -> ClusterOptions {
    let mut options = ClusterOptions::new().state_dir(dir.join("cluster"));
    options.nodes = nodes;
    options.simulated_nodes = u32::from(nodes == NodeMode::Simulated);
    options
}

async fn first_pod_running(cluster: &LocalCluster) {
    let pods: Api<Pod> = Api::namespaced(cluster.client().await.unwrap(), "default");
    let pod: Pod = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "first"},
        "spec": {"containers": [{"name": "c", "image": "registry.k8s.io/e2e-test-images/busybox:1.37.0-1",
                                 "command": ["sleep", "3600"]}],
                 "terminationGracePeriodSeconds": 0}
    }))
    .unwrap();
    pods.create(&PostParams::default(), &pod).await.unwrap();
    loop {
        let pod = pods.get("first").await.unwrap();
        if pod.status.and_then(|s| s.phase).as_deref() == Some("Running") {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn cycle(c: &mut Criterion, nodes: NodeMode, up_name: &str, down_name: &str) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let mut group = c.benchmark_group("local_cluster");
    group
        .sample_size(10)
        .sampling_mode(criterion::SamplingMode::Flat)
        .warm_up_time(Duration::from_millis(1))
        .measurement_time(Duration::from_secs(30));
    let downs = std::cell::RefCell::new(Vec::new());
    group.bench_function(up_name, |b| {
        b.iter_custom(|iterations| {
            let mut total = Duration::ZERO;
            for _ in 0..iterations {
                let dir = tempfile::tempdir().unwrap();
                let options = options(dir.path(), nodes);
                let started = Instant::now();
                runtime.block_on(async {
                    let (cluster, _) = LocalCluster::up(&options, &mut |_| {}).await.unwrap();
                    if nodes == NodeMode::Real {
                        first_pod_running(&cluster).await;
                    }
                });
                total += started.elapsed();
                let stopping = Instant::now();
                LocalCluster::down(&options.state_dir).unwrap();
                downs.borrow_mut().push(stopping.elapsed());
            }
            total
        })
    });
    group.finish();
    // `down` is timed on every cluster the `up` samples started.
    let downs = downs.borrow();
    if !downs.is_empty() {
        let mean = downs.iter().sum::<Duration>() / downs.len() as u32;
        let max = downs.iter().max().copied().unwrap_or_default();
        println!(
            "local_cluster/{down_name}: mean {mean:.2?}, max {max:.2?} over {} runs",
            downs.len()
        );
    }
}

fn simulated(c: &mut Criterion) {
    cycle(c, NodeMode::Simulated, "up/simulated", "down/simulated");
}

fn real_node(c: &mut Criterion) {
    if !nix_is_root() {
        eprintln!("skipping the real-node benchmark: it needs root");
        return;
    }
    cycle(
        c,
        NodeMode::Real,
        "up/real-node-first-pod",
        "down/real-node",
    );
}

fn nix_is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .map(|s| {
            s.lines()
                .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

criterion_group!(benches, simulated, real_node);
criterion_main!(benches);
