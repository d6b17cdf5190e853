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
/// uses them. Block patterns stay registered for drivers without block support: their one
/// spec checks that a block claim is refused.
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
        skip: |_, _| None,
        define,
    }
}

fn define(s: &mut Container, sc: &SuiteContext) {
    let block = sc.pattern.vol_mode == VolMode::Block;
    let dynamic = sc.pattern.vol_type == VolType::DynamicPv;
    let name = sc.driver.driver_info().name.clone();

    let has_block = sc.driver.driver_info().has(Capability::Block);
    let text = "should fail in binding dynamic provisioned PV to PVC";
    let missing = if has_block {
        Some(format!("driver {name} supports block volumes"))
    } else if !(block && dynamic) {
        Some("only for dynamic block volumes of a driver without block support".to_string())
    } else {
        None
    };
    let refused = sc.it_unless(s, text, missing, move |cx, driver, pattern| async move {
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
    });
    if let Some(spec) = refused {
        spec.tag(Tag::Slow).tag(Tag::LinuxOnly);
    }

    // The other specs need a block volume, which the driver cannot make.
    let no_block = || {
        (block && !has_block)
            .then(|| format!("driver {name} does not support block volumes (capability `block`)"))
    };
    let mismatched = sc.it_unless(
        s,
        "should fail to use a volume in a pod with mismatched mode",
        no_block(),
        move |cx, driver, pattern| async move {
            let (config, vol) = volume::setup_volume(&cx, &driver, &pattern).await?;
            // A file system volume asked for as a raw device, or the other way round.
            let (other, message) = match vol.mode {
                VolMode::Filesystem => (
                    VolMode::Block,
                    "has volumeMode Filesystem, but is specified in volumeDevices",
                ),
                VolMode::Block => (
                    VolMode::Filesystem,
                    "has volumeMode Block, but is specified in volumeMounts",
                ),
            };
            let pod = volume::pod_with_modes(
                &config,
                "mismatched",
                &[("volume1", &vol.source, other)],
                "sleep 3600",
            )?;
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
                message,
                config.framework.timeouts().pod_start,
            )
            .await?;
            let p = config.framework.api::<Pod>().get("mismatched").await?;
            expect(p.status.and_then(|s| s.phase))
                .described_as("phase of the pod with the mismatched volume")
                .to_equal(Some("Pending".to_string()))?;
            Ok(())
        },
    );
    if let Some(spec) = mismatched {
        spec.tag(Tag::Slow);
    }

    let unused = sc.it_unless(
        s,
        "should not mount / map unused volumes in a pod",
        no_block(),
        move |cx, driver, pattern| async move {
            let (config, vol) = volume::setup_volume(&cx, &driver, &pattern).await?;
            let pods = config.framework.api::<Pod>();
            let volumes = [("volume1", &vol.source, vol.mode)];
            let user = volume::pod_with_modes(&config, "user", &volumes, "sleep 3600")?;
            pods.create(&PostParams::default(), &user).await?;
            config.framework.wait_for_pod_running("user").await?;
            let mut unused = volume::pod_with_modes(&config, "unused", &volumes, "sleep 3600")?;
            if let Some(spec) = unused.spec.as_mut() {
                spec.containers[0].volume_mounts = None;
                spec.containers[0].volume_devices = None;
            }
            pods.create(&PostParams::default(), &unused).await?;
            config.framework.wait_for_pod_running("unused").await?;
            let uid_of = |p: Pod| p.metadata.uid.unwrap_or_default();
            let user_uid = uid_of(pods.get("user").await?);
            let unused_uid = uid_of(pods.get("unused").await?);
            cx.by("listing the node's CSI volume mounts of both pods");
            let mounts = node_csi_mounts(&cx, &config, vol.mode, &[&user_uid, &unused_uid]).await?;
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
    );
    if let Some(spec) = unused {
        spec.tag(Tag::LinuxOnly);
    }
}

/// The node's mount points of CSI volumes (file systems or block devices, as `mode` says) of
/// the pods `uids`, read by a privileged pod that shares the node's PID namespace (so
/// `/proc/1/mountinfo` is the node's mount table).
async fn node_csi_mounts(
    cx: &SpecContext,
    config: &PerTestConfig,
    mode: VolMode,
    uids: &[&str],
) -> anyhow::Result<Vec<String>> {
    // kubelet mounts a file system volume at pods/<uid>/volumes/kubernetes.io~csi/<pv>/mount;
    // a block volume is published and mapped under plugins/kubernetes.io/csi/volumeDevices/,
    // in paths ending in the pod's UID.
    let marker = match mode {
        VolMode::Filesystem => "/volumes/kubernetes.io~csi/",
        VolMode::Block => "/kubernetes.io/csi/volumeDevices/",
    };
    let patterns: Vec<String> = uids.iter().map(|u| format!("-e '{u}'")).collect();
    let script = format!(
        "grep -F {} /proc/1/mountinfo | grep -F '{marker}' | cut -d' ' -f5 || true",
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
