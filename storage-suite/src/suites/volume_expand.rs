use super::{block_needs_capability, needs};
use crate::capability::Capability;
use crate::pattern::{VolMode, patterns};
use crate::suite::{SuiteContext, TestSuite};
use crate::volume::{self, MOUNT_PATH};
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube_e2e::prelude::*;
use serde_json::json;

/// `volume-expand`: claims grow offline and online where allowed, and refuse to otherwise.
pub fn volume_expand() -> TestSuite {
    TestSuite {
        name: "volume-expand",
        tags: vec![],
        patterns: vec![
            patterns::default_fs_dynamic_pv(),
            patterns::block_vol_mode_dynamic_pv(),
            patterns::default_fs_dynamic_pv_allow_expansion(),
            patterns::block_vol_mode_dynamic_pv_allow_expansion(),
            patterns::ntfs_dynamic_pv(),
            patterns::ntfs_dynamic_pv_allow_expansion(),
        ],
        skip: |d, p| {
            needs(d, Capability::ControllerExpansion, "volume expansion")
                .or_else(|| block_needs_capability(d, p))
        },
        define,
    }
}

fn grow(size: &str) -> String {
    // Doubling the quantity's number keeps its unit: 1Mi -> 2Mi, 5Gi -> 10Gi.
    let split = size
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(size.len());
    let n: u64 = size[..split].parse().unwrap_or(1);
    format!("{}{}", n * 2, &size[split..])
}

async fn resize(
    api: &Api<PersistentVolumeClaim>,
    name: &str,
    size: &str,
) -> Result<PersistentVolumeClaim, kube::Error> {
    api.patch(
        name,
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"resources": {"requests": {"storage": size}}}})),
    )
    .await
}

async fn wait_capacity(
    config: &crate::driver::PerTestConfig,
    name: &str,
    size: &str,
) -> anyhow::Result<()> {
    let api: Api<PersistentVolumeClaim> = config.framework.api();
    volume::poll_until(
        &format!("claim {name} to report capacity {size}"),
        config.framework.timeouts().claim_provision,
        || async {
            let pvc = api.get(name).await?;
            let cap = pvc
                .status
                .and_then(|s| s.capacity)
                .and_then(|c| c.get("storage").cloned());
            ensure!(
                cap == Some(Quantity(size.to_string())),
                "capacity is {cap:?}"
            );
            Ok(())
        },
    )
    .await
}

fn define(s: &mut Container, sc: &SuiteContext) {
    let fs = sc.pattern.vol_mode == VolMode::Filesystem;
    if !sc.pattern.allow_expansion {
        sc.it(s, "should not allow expansion of pvcs without AllowVolumeExpansion property", move |cx, driver, pattern| async move {
                let (config, vol) = volume::setup_volume(&cx, &driver, &pattern).await?;
                let claim = vol.claim.clone().context("claim")?;
                volume::wait_bound(&config, &claim).await?;
                let api: Api<PersistentVolumeClaim> = config.framework.api();
                let bigger = grow(&driver.driver_info().claim_size());
                match resize(&api, &claim, &bigger).await {
                    Err(kube::Error::Api(e)) => {
                        expect(e.message).to(contain_substring("only dynamically provisioned pvc can be resized and the storageclass that provisions the pvc must support resize"))?;
                    }
                    other => bail!("expanding a claim of a class without allowVolumeExpansion was not refused: {other:?}"),
                }
                Ok(())
            });
        return;
    }
    let offline = "Verify if offline PVC expansion works";
    if let Some(r) = needs(
        sc.driver.as_ref(),
        Capability::OfflineExpansion,
        "offline expansion",
    )
    .or_else(|| {
        (!fs).then(|| "block expansion is not implemented yet in kube-e2e-storage".to_string())
    }) {
        sc.drop_spec(s, offline, r);
    } else {
        sc.it(s, offline, move |cx, driver, pattern| async move {
            let (config, vol) = volume::setup_volume(&cx, &driver, &pattern).await?;
            let claim = vol.claim.clone().context("claim")?;
            volume::run_script(
                &cx,
                &config,
                "writer",
                &vol.source,
                &volume::write_file("data", "before-resize"),
            )
            .await?;
            let bigger = grow(&driver.driver_info().claim_size());
            cx.by(format!(
                "expanding claim {claim} to {bigger} while no pod uses it"
            ));
            resize(&config.framework.api(), &claim, &bigger).await?;
            wait_capacity(&config, &claim, &bigger).await?;
            let out = volume::run_script(
                &cx,
                &config,
                "reader",
                &vol.source,
                &format!("cat {MOUNT_PATH}/data"),
            )
            .await?;
            expect(out.trim().to_string())
                .described_as("data after the resize")
                .to_equal("before-resize".to_string())?;
            Ok(())
        });
    }
    let online = "should resize volume when PVC is edited while pod is using it";
    if let Some(r) = needs(
        sc.driver.as_ref(),
        Capability::OnlineExpansion,
        "online expansion",
    )
    .or_else(|| {
        (!fs).then(|| "block expansion is not implemented yet in kube-e2e-storage".to_string())
    }) {
        sc.drop_spec(s, online, r);
    } else {
        sc.it(s, online, move |cx, driver, pattern| async move {
            let (config, vol) = volume::setup_volume(&cx, &driver, &pattern).await?;
            let claim = vol.claim.clone().context("claim")?;
            let f = config.framework.clone();
            let pod = volume::pod(
                &config,
                "user",
                &[("volume1", &vol.source)],
                &format!("echo in-use > {MOUNT_PATH}/data && sync && sleep 3600"),
            )?;
            f.api::<Pod>().create(&PostParams::default(), &pod).await?;
            f.wait_for_pod_running("user").await?;
            let bigger = grow(&driver.driver_info().claim_size());
            cx.by(format!(
                "expanding claim {claim} to {bigger} while pod `user` uses it"
            ));
            resize(&f.api(), &claim, &bigger).await?;
            wait_capacity(&config, &claim, &bigger).await?;
            let running = f.api::<Pod>().get("user").await?;
            expect(running.status.and_then(|s| s.phase))
                .described_as("phase of the pod using the claim")
                .to_equal(Some("Running".to_string()))?;
            volume::delete_pod(&config, "user").await?;
            let out = volume::run_script(
                &cx,
                &config,
                "reader",
                &vol.source,
                &format!("cat {MOUNT_PATH}/data"),
            )
            .await?;
            expect(out.trim().to_string()).to_equal("in-use".to_string())?;
            Ok(())
        });
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn growing_keeps_the_unit() {
        assert_eq!(super::grow("1Mi"), "2Mi");
        assert_eq!(super::grow("5Gi"), "10Gi");
    }
}
