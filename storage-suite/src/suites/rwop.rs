use super::needs;
use crate::capability::Capability;
use crate::pattern::patterns;
use crate::suite::{SuiteContext, TestSuite};
use crate::volume;
use k8s_openapi::api::core::v1::Pod;
use kube::api::PostParams;
use kube_e2e::prelude::*;

/// `read-write-once-pod`: a ReadWriteOncePod claim serves one pod at a time.
pub fn read_write_once_pod() -> TestSuite {
    TestSuite {
        name: "read-write-once-pod",
        tags: vec![label("MinimumKubeletVersion:1.27")],
        patterns: vec![patterns::default_fs_dynamic_pv()],
        skip: |d, _| {
            needs(
                d,
                Capability::ReadWriteOncePod,
                "the ReadWriteOncePod access mode",
            )
        },
        define,
    }
}

fn define(s: &mut Container, sc: &SuiteContext) {
    sc.it(
        s,
        "should block a second pod from using an in-use ReadWriteOncePod volume on the same node",
        move |cx, driver, pattern| async move {
            let config = volume::setup(&cx, &driver).await?;
            let f = config.framework.clone();
            let sc = volume::create_storage_class(driver.as_ref(), &config, &pattern, None).await?;
            let class = sc.metadata.name.unwrap_or_default();
            let claim = volume::Claim::new("rwop")
                .storage_class(class)
                .access_modes(["ReadWriteOncePod"])
                .size(driver.driver_info().claim_size())
                .build()?;
            volume::create_claim(&config, &claim).await?;
            let source = serde_json::json!({"persistentVolumeClaim": {"claimName": "rwop"}});
            let pods = f.api::<Pod>();
            let first = volume::pod(&config, "first", &[("volume1", &source)], "sleep 3600")?;
            pods.create(&PostParams::default(), &first).await?;
            f.wait_for_pod_running("first").await?;
            // Without nodeName the scheduler decides, and it is what enforces RWOP.
            let mut second =
                volume::pod(&config, "second", &[("volume1", &source)], "echo second")?;
            if let Some(spec) = second.spec.as_mut() {
                spec.node_name = None;
                if let Some(node) = &config.client_node.name {
                    spec.node_selector
                        .get_or_insert_with(Default::default)
                        .insert("kubernetes.io/hostname".into(), node.clone());
                }
            }
            pods.create(&PostParams::default(), &second).await?;
            cx.by("waiting for the scheduler to refuse the second pod");
            volume::wait_unschedulable(&config, "second", "ReadWriteOncePod").await?;
            cx.by("deleting the first pod frees the volume for the second");
            volume::delete_pod(&config, "first").await?;
            f.wait_for_pod_succeeded("second").await?;
            Ok(())
        },
    );
}
