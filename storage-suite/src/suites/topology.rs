use super::capacity::driver_segments;
use super::needs;
use crate::capability::Capability;
use crate::driver::{PerTestConfig, TestDriver};
use crate::pattern::{TestPattern, patterns};
use crate::suite::{SuiteContext, TestSuite};
use crate::volume;
use k8s_openapi::api::core::v1::{Node, PersistentVolume, Pod};
use kube::api::{Api, PostParams};
use kube_e2e::prelude::*;
use serde_json::json;
use std::collections::BTreeMap;

/// `topology`: a class's `allowedTopologies` decide where a volume is provisioned and so
/// where its pods run.
pub fn topology() -> TestSuite {
    TestSuite {
        name: "topology",
        tags: vec![],
        patterns: vec![patterns::topology_immediate(), patterns::topology_delayed()],
        skip: |d, _| {
            needs(d, Capability::Topology, "topology-aware provisioning").or_else(|| {
                d.driver_info()
                    .topology_keys
                    .is_empty()
                    .then(|| format!("driver {} names no topology keys", d.driver_info().name))
            })
        },
        define,
    }
}

/// `allowedTopologies` of a class restricted to `segment`.
fn allowed(segment: &BTreeMap<String, String>) -> serde_json::Value {
    let expressions: Vec<_> = segment
        .iter()
        .map(|(k, v)| json!({"key": k, "values": [v]}))
        .collect();
    json!([{"matchLabelExpressions": expressions}])
}

/// Creates claim `name` of a class whose `allowedTopologies` is `segment`.
async fn claim_in_segment(
    driver: &dyn TestDriver,
    config: &PerTestConfig,
    pattern: &TestPattern,
    name: &str,
    segment: &BTreeMap<String, String>,
) -> anyhow::Result<()> {
    let topologies = serde_json::from_value(allowed(segment))?;
    let sc = volume::create_adjusted_storage_class(driver, config, pattern, None, |sc| {
        sc.allowed_topologies = Some(topologies);
    })
    .await?;
    let class = sc.metadata.name.unwrap_or_default();
    let claim = volume::Claim::for_driver(name, driver.driver_info())
        .storage_class(class)
        .volume_mode(pattern.vol_mode)
        .build()?;
    volume::create_claim(config, &claim).await?;
    Ok(())
}

fn define(s: &mut Container, sc: &SuiteContext) {
    sc.it(
        s,
        "should provision a volume and schedule a pod with AllowedTopologies",
        move |cx, driver, pattern| async move {
            let mut config = volume::setup(&cx, &driver).await?;
            let keys = driver.driver_info().topology_keys.clone();
            let segments = driver_segments(&config, &keys).await?;
            let segment = segments[0].clone();
            cx.by(format!("restricting the class to {segment:?}"));
            let f = config.framework.clone();
            claim_in_segment(driver.as_ref(), &config, &pattern, "topology", &segment).await?;
            // The scheduler places the pod; the class's topology must lead it there.
            config.client_node.name = None;
            let source = json!({"persistentVolumeClaim": {"claimName": "topology"}});
            let pod = volume::pod(&config, "topology", &[("volume1", &source)], "sleep 3600")?;
            f.api::<Pod>().create(&PostParams::default(), &pod).await?;
            f.wait_for_pod_running("topology").await?;
            let pod = f.api::<Pod>().get("topology").await?;
            let node_name = pod
                .spec
                .and_then(|s| s.node_name)
                .context("pod without node")?;
            let labels = f
                .api_all::<Node>()
                .get(&node_name)
                .await?
                .metadata
                .labels
                .unwrap_or_default();
            for (k, v) in &segment {
                expect(labels.get(k).cloned())
                    .described_as(format!("label {k} of node {node_name}, where the pod runs"))
                    .to_equal(Some(v.clone()))?;
            }
            let pvc = volume::wait_bound(&config, "topology").await?;
            let pv_name = pvc
                .spec
                .and_then(|s| s.volume_name)
                .context("no volume name")?;
            let pv: PersistentVolume = Api::all(f.client().clone()).get(&pv_name).await?;
            let terms = pv
                .spec
                .and_then(|s| s.node_affinity)
                .and_then(|a| a.required)
                .map(|r| r.node_selector_terms)
                .unwrap_or_default();
            let within = terms.iter().any(|t| {
                segment.iter().all(|(k, v)| {
                    t.match_expressions
                        .iter()
                        .flatten()
                        .any(|e| &e.key == k && e.values.iter().flatten().any(|x| x == v))
                })
            });
            expect(within)
                .described_as(format!(
                    "node affinity of volume {pv_name} within {segment:?}: {terms:?}"
                ))
                .to_equal(true)?;
            Ok(())
        },
    );

    sc.it(
        s,
        "should fail to schedule a pod which has topologies that conflict with AllowedTopologies",
        move |cx, driver, pattern| async move {
            let config = volume::setup(&cx, &driver).await?;
            let keys = driver.driver_info().topology_keys.clone();
            let segments = driver_segments(&config, &keys).await?;
            let [allowed_segment, other, ..] = segments.as_slice() else {
                return Err(skip(format!(
                    "needs nodes of driver {} in two topology segments, the cluster has {}",
                    config.driver_name,
                    segments.len()
                )));
            };
            let f = config.framework.clone();
            claim_in_segment(
                driver.as_ref(),
                &config,
                &pattern,
                "conflict",
                allowed_segment,
            )
            .await?;
            let mut c = config.clone();
            c.client_node.name = None;
            c.client_node.selector = other.clone();
            let source = json!({"persistentVolumeClaim": {"claimName": "conflict"}});
            let pod = volume::pod(&c, "conflict", &[("volume1", &source)], "sleep 3600")?;
            f.api::<Pod>().create(&PostParams::default(), &pod).await?;
            volume::wait_unschedulable(&config, "conflict", "").await?;
            Ok(())
        },
    );
}
