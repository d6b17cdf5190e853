use crate::capability::Capability;
use crate::driver::PerTestConfig;
use crate::pattern::{VolMode, VolType, patterns};
use crate::suite::{SuiteContext, TestSuite};
use crate::volume;
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod};
use kube::api::PostParams;
use kube_e2e::prelude::*;
use serde_json::{Value, json};

/// `volumeMode`: volumes are used in the mode they were made with, and only where a container
/// uses them. Block patterns stay registered for drivers without block support: their specs
/// check that a block claim is refused.
pub fn volume_mode() -> TestSuite {
    TestSuite {
        name: "volumeMode",
        tags: vec![],
        patterns: vec![
            patterns::fs_vol_mode_preprovisioned_pv(),
            patterns::fs_vol_mode_dynamic_pv(),
            patterns::block_vol_mode_preprovisioned_pv(),
            patterns::block_vol_mode_dynamic_pv(),
        ],
        skip: |d, p| {
            (p.vol_mode == VolMode::Block && d.driver_info().has(Capability::Block)).then(|| {
                "block volumes are not implemented yet in kube-e2e-storage (the driver supports them)"
                    .into()
            })
        },
        define,
    }
}

fn define(s: &mut Container, sc: &SuiteContext) {
    let block = sc.pattern.vol_mode == VolMode::Block;
    let dynamic = sc.pattern.vol_type == VolType::DynamicPv;
    let name = sc.driver.driver_info().name.clone();

    let text = "should fail in binding dynamic provisioned PV to PVC";
    if !(block && dynamic) {
        sc.drop_spec(
            s,
            text,
            "only for dynamic block volumes of a driver without block support",
        );
    } else {
        sc.it(s, text, move |cx, driver, pattern| async move {
            let (config, vol) = volume::setup_volume(&cx, &driver, &pattern).await?;
            let claim = vol.claim.context("a dynamic PV pattern makes a claim")?;
            cx.by("waiting for the provisioner to refuse the block claim");
            let message = volume::wait_for_event(
                &config,
                &claim,
                "ProvisioningFailed",
                "",
                config.framework.timeouts().claim_provision,
            )
            .await?;
            cx.by(format!("provisioning failed: {message}"));
            let pvc = config
                .framework
                .api::<PersistentVolumeClaim>()
                .get(&claim)
                .await?;
            expect(pvc.status.and_then(|s| s.phase))
                .described_as("phase of the refused block claim")
                .to_equal(Some("Pending".to_string()))?;
            Ok(())
        })
        .tag(Tag::Slow)
        .tag(Tag::LinuxOnly);
    }

    if block {
        // The other specs need a block volume, which the driver cannot make.
        for text in [
            "should fail to use a volume in a pod with mismatched mode",
            "should not mount / map unused volumes in a pod",
        ] {
            sc.drop_spec(
                s,
                text,
                format!("driver {name} does not support block volumes (capability `block`)"),
            );
        }
        return;
    }

    sc.it(
        s,
        "should fail to use a volume in a pod with mismatched mode",
        move |cx, driver, pattern| async move {
            let (config, vol) = volume::setup_volume(&cx, &driver, &pattern).await?;
            let pod = volume::pod(
                &config,
                "mismatched",
                &[("volume1", &vol.source)],
                "sleep 3600",
            )?;
            // The file system volume asked for as a raw device.
            let mut value = serde_json::to_value(&pod)?;
            let container = &mut value["spec"]["containers"][0];
            container
                .as_object_mut()
                .context("container is an object")?
                .remove("volumeMounts");
            container["volumeDevices"] = json!([{"name": "volume1", "devicePath": "/dev/volume1"}]);
            let pod: Pod = serde_json::from_value(value)?;
            config
                .framework
                .api::<Pod>()
                .create(&PostParams::default(), &pod)
                .await?;
            cx.by("waiting for kubelet to refuse the volume");
            volume::wait_for_event(
                &config,
                "mismatched",
                "",
                "has volumeMode Filesystem, but is specified in volumeDevices",
                config.framework.timeouts().pod_start,
            )
            .await?;
            let p = config.framework.api::<Pod>().get("mismatched").await?;
            expect(p.status.and_then(|s| s.phase))
                .described_as("phase of the pod with the mismatched volume")
                .to_equal(Some("Pending".to_string()))?;
            Ok(())
        },
    )
    .tag(Tag::Slow);

    sc.it(
        s,
        "should not mount / map unused volumes in a pod",
        move |cx, driver, pattern| async move {
            let (config, vol) = volume::setup_volume(&cx, &driver, &pattern).await?;
            let pods = config.framework.api::<Pod>();
            let user = volume::pod(&config, "user", &[("volume1", &vol.source)], "sleep 3600")?;
            pods.create(&PostParams::default(), &user).await?;
            config.framework.wait_for_pod_running("user").await?;
            let mut unused =
                volume::pod(&config, "unused", &[("volume1", &vol.source)], "sleep 3600")?;
            if let Some(spec) = unused.spec.as_mut() {
                spec.containers[0].volume_mounts = None;
            }
            pods.create(&PostParams::default(), &unused).await?;
            config.framework.wait_for_pod_running("unused").await?;
            let uid_of = |p: Pod| p.metadata.uid.unwrap_or_default();
            let user_uid = uid_of(pods.get("user").await?);
            let unused_uid = uid_of(pods.get("unused").await?);
            cx.by("listing the node's CSI volume mounts of both pods");
            let mounts = node_csi_mounts(&cx, &config, &[&user_uid, &unused_uid]).await?;
            expect(mounts.iter().any(|m| m.contains(&user_uid)))
                .described_as(format!(
                    "a CSI mount for pod user ({user_uid}) among {mounts:?}"
                ))
                .to_equal(true)?;
            expect(
                mounts
                    .iter()
                    .filter(|m| m.contains(&unused_uid))
                    .cloned()
                    .collect::<Vec<_>>(),
            )
            .described_as("CSI mounts of pod unused, whose container does not use the volume")
            .to(be_empty())?;
            Ok(())
        },
    )
    .tag(Tag::LinuxOnly);
}

/// The node's mount points of CSI volumes of the pods `uids`, read by a privileged pod that
/// shares the node's PID namespace (so `/proc/1/mountinfo` is the node's mount table).
async fn node_csi_mounts(
    cx: &SpecContext,
    config: &PerTestConfig,
    uids: &[&str],
) -> anyhow::Result<Vec<String>> {
    let patterns: Vec<String> = uids
        .iter()
        .map(|u| format!("-e '{u}/volumes/kubernetes.io~csi/'"))
        .collect();
    let script = format!(
        "grep -F {} /proc/1/mountinfo | cut -d' ' -f5 || true",
        patterns.join(" ")
    );
    let pod = volume::pod(config, "inspect-mounts", &[], &script)?;
    let mut value = serde_json::to_value(&pod)?;
    value["spec"]["hostPID"] = Value::Bool(true);
    value["spec"]["containers"][0]["securityContext"] = json!({"privileged": true});
    let out = volume::run_pod(cx, config, serde_json::from_value(value)?).await?;
    Ok(out
        .lines()
        .map(str::to_string)
        .filter(|l| !l.is_empty())
        .collect())
}
