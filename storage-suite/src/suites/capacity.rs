use crate::capability::Capability;
use crate::pattern::{BindingMode, VolType, patterns};
use crate::suite::{SuiteContext, TestSuite};
use crate::volume;
use k8s_openapi::api::core::v1::Node;
use k8s_openapi::api::storage::v1::{CSIDriver, CSINode, CSIStorageCapacity};
use kube::api::ListParams;
use kube_e2e::prelude::*;
use std::collections::BTreeMap;

/// `capacity`: a driver that claims `capacity` publishes CSIStorageCapacity objects for its
/// late-binding classes, one per topology segment of its nodes, and says so in its CSIDriver.
/// As upstream, the suite is not registered for a driver without the capability.
pub fn capacity() -> TestSuite {
    TestSuite {
        name: "capacity",
        tags: vec![],
        patterns: vec![patterns::default_fs_dynamic_pv()],
        skip: |d, p| {
            let info = d.driver_info();
            if !info.has(Capability::Capacity) {
                return Some(format!(
                    "driver {} does not publish storage capacity (capability `capacity`)",
                    info.name
                ));
            }
            (p.vol_type != VolType::DynamicPv).then(|| "capacity needs dynamic PVs".into())
        },
        define,
    }
}

fn define(s: &mut Container, sc: &SuiteContext) {
    sc.it(
        s,
        "provides storage capacity information",
        move |cx, driver, pattern| async move {
            let config = volume::setup(&cx, &driver).await?;
            let f = config.framework.clone();
            let info = driver.driver_info();
            let claims_capacity = info.has(Capability::Capacity);
            let csi_driver = f.api_all::<CSIDriver>().get(&config.driver_name).await?;
            expect(csi_driver.spec.storage_capacity.unwrap_or(false))
                .described_as(format!(
                    "CSIDriver {}: storageCapacity (the driver {} capability `capacity`)",
                    config.driver_name,
                    if claims_capacity {
                        "claims"
                    } else {
                        "does not claim"
                    }
                ))
                .to_equal(claims_capacity)?;
            // The provisioner publishes capacity for late-binding classes only.
            let mut late = pattern.clone();
            late.binding_mode = Some(BindingMode::WaitForFirstConsumer);
            let class = volume::create_storage_class(driver.as_ref(), &config, &late, None).await?;
            let class = class.metadata.name.unwrap_or_default();
            let capacities = f.api_all::<CSIStorageCapacity>();
            let of_class = || async {
                Ok::<_, anyhow::Error>(
                    capacities
                        .list(&ListParams::default())
                        .await?
                        .items
                        .into_iter()
                        .filter(|c| c.storage_class_name == class)
                        .collect::<Vec<_>>(),
                )
            };
            if !claims_capacity {
                cx.by("checking that no capacity is published for the class");
                consistently(
                    format!("no CSIStorageCapacity for class {class}"),
                    || async {
                        let found = of_class().await?;
                        ensure!(found.is_empty(), "found {found:?}");
                        Ok(())
                    },
                )
                .duration(Duration::from_secs(10))
                .await?;
                return Ok(());
            }
            let segments = driver_segments(&config, &info.topology_keys).await?;
            cx.by(format!(
                "waiting for capacity of class {class} in segments {segments:?}"
            ));
            volume::poll_until(
                &format!("CSIStorageCapacity objects of class {class} for every node segment"),
                f.timeouts().claim_provision,
                || async {
                    let found = of_class().await?;
                    for segment in &segments {
                        let hit = found.iter().find(|c| {
                            c.node_topology
                                .as_ref()
                                .and_then(|t| t.match_labels.as_ref())
                                .is_some_and(|m| m == segment)
                        });
                        let cap = hit.and_then(|c| c.capacity.as_ref());
                        ensure!(
                            cap.is_some_and(|q| q.0 != "0"),
                            "segment {segment:?}: {hit:?}"
                        );
                    }
                    Ok(())
                },
            )
            .await?;
            Ok(())
        },
    );
}

/// The topology segments (label values for `keys`) of the nodes that run the spec's driver.
pub(crate) async fn driver_segments(
    config: &crate::driver::PerTestConfig,
    keys: &[String],
) -> anyhow::Result<Vec<BTreeMap<String, String>>> {
    let f = &config.framework;
    let csinodes = f.api_all::<CSINode>().list(&ListParams::default()).await?;
    let nodes = f.api_all::<Node>();
    let mut segments = Vec::new();
    for csinode in csinodes.items {
        if !csinode
            .spec
            .drivers
            .iter()
            .any(|d| d.name == config.driver_name)
        {
            continue;
        }
        let name = csinode.metadata.name.unwrap_or_default();
        let labels = nodes.get(&name).await?.metadata.labels.unwrap_or_default();
        let segment: BTreeMap<String, String> = keys
            .iter()
            .filter_map(|k| labels.get(k).map(|v| (k.clone(), v.clone())))
            .collect();
        ensure!(
            segment.len() == keys.len(),
            "node {name} lacks some of the topology labels {keys:?} (has {labels:?})"
        );
        if !segments.contains(&segment) {
            segments.push(segment);
        }
    }
    ensure!(
        !segments.is_empty(),
        "no node runs driver {}",
        config.driver_name
    );
    Ok(segments)
}
