use super::needs;
use crate::capability::Capability;
use crate::driver::PerTestConfig;
use crate::pattern::{VolType, patterns};
use crate::suite::{SuiteContext, TestSuite};
use crate::volume;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::storage::v1::CSINode;
use kube::api::{ListParams, PostParams};
use kube_e2e::prelude::*;

/// `volumeLimits`: kubelet publishes the driver's per-node volume limit in CSINode, and the
/// scheduler keeps a node within it.
pub fn volume_limits() -> TestSuite {
    TestSuite {
        name: "volumeLimits",
        tags: vec![],
        patterns: vec![
            patterns::fs_vol_mode_dynamic_pv(),
            patterns::default_fs_generic_ephemeral_volume(),
        ],
        skip: |d, _| needs(d, Capability::VolumeLimits, "per-node volume limits"),
        define,
    }
}

/// Above this many volumes the spec would take too long; it skips instead.
const MAX_TESTED_LIMIT: i32 = 50;

fn define(s: &mut Container, sc: &SuiteContext) {
    sc.it(s, "should support volume limits", move |cx, driver, pattern| async move {
            let config = volume::setup(&cx, &driver).await?;
            let limits = driver_limits(&config).await?;
            let (node, limit) = match &config.client_node.name {
                Some(n) => limits
                    .iter()
                    .find(|(name, _)| name == n)
                    .cloned()
                    .with_context(|| format!("driver {} is not on node {n}", config.driver_name))?,
                None => limits.first().cloned().context("no node runs the driver")?,
            };
            let limit = limit.with_context(|| {
                format!("CSINode {node} has no volume limit for driver {}", config.driver_name)
            })?;
            if limit > MAX_TESTED_LIMIT {
                return Err(skip(format!(
                    "the limit of driver {} on node {node} is {limit}; the spec fills at most {MAX_TESTED_LIMIT}",
                    config.driver_name
                )));
            }
            let mut config = config.clone();
            config.client_node.name = Some(node.clone());
            let pods = config.framework.api::<Pod>();
            cx.by(format!("filling node {node} with {limit} pods of one volume each"));
            // One claim template serves every pod (each gets a claim of its own).
            let template = if pattern.vol_type == VolType::GenericEphemeral {
                Some(volume::create_volume(driver.as_ref(), &config, &pattern).await?.source)
            } else {
                None
            };
            for i in 0..=limit {
                let name = format!("limit-{i}");
                let source = match &template {
                    Some(t) => t.clone(),
                    None => volume::create_named_volume(driver.as_ref(), &config, &pattern, &format!("claim-{i}")).await?.source,
                };
                let pod = volume::pod(&config, &name, &[("volume1", &source)], "sleep 3600")?;
                if i == limit {
                    cx.by(format!("waiting for all {limit} pods to run before the one too many"));
                    for j in 0..limit {
                        config.framework.wait_for_pod_running(&format!("limit-{j}")).await?;
                    }
                }
                pods.create(&PostParams::default(), &pod).await?;
            }
            let extra = format!("limit-{limit}");
            cx.by(format!("checking that pod {extra} cannot be scheduled"));
            volume::wait_unschedulable(&config, &extra, "max volume count").await?;
            Ok(())
        })
    .tag(Tag::Serial);

    sc.it(
        s,
        "should verify that all csinodes have volume limits",
        move |cx, driver, _| async move {
            let config = volume::setup(&cx, &driver).await?;
            let limits = driver_limits(&config).await?;
            expect(limits.is_empty())
                .described_as(format!("no node runs driver {}", config.driver_name))
                .to_equal(false)?;
            for (node, limit) in limits {
                expect(limit.is_some_and(|l| l > 0))
                    .described_as(format!(
                        "CSINode {node}: a positive volume limit for driver {} (got {limit:?})",
                        config.driver_name
                    ))
                    .to_equal(true)?;
            }
            Ok(())
        },
    );
}

/// Every node running the spec's driver, with the limit its CSINode publishes.
async fn driver_limits(config: &PerTestConfig) -> anyhow::Result<Vec<(String, Option<i32>)>> {
    let nodes = config
        .framework
        .api_all::<CSINode>()
        .list(&ListParams::default())
        .await?;
    Ok(nodes
        .items
        .into_iter()
        .filter_map(|n| {
            let d = n
                .spec
                .drivers
                .iter()
                .find(|d| d.name == config.driver_name)?;
            let limit = d.allocatable.as_ref().and_then(|a| a.count);
            Some((n.metadata.name.clone().unwrap_or_default(), limit))
        })
        .collect())
}
