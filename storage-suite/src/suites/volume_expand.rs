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

/// Bytes of a binary-suffixed quantity (`2Mi`); `None` for other forms.
fn bytes_of(size: &str) -> Option<u64> {
    let split = size.find(|c: char| !c.is_ascii_digit())?;
    let n: u64 = size[..split].parse().ok()?;
    let unit = match &size[split..] {
        "Ki" => 1 << 10,
        "Mi" => 1 << 20,
        "Gi" => 1 << 30,
        "Ti" => 1u64 << 40,
        _ => return None,
    };
    Some(n * unit)
}

/// Reads the data back in a new pod; for a block volume also checks that the device has
/// grown to `size`.
async fn check_after_resize(
    cx: &SpecContext,
    config: &crate::driver::PerTestConfig,
    vol: &volume::TestVolume,
    size: &str,
    expected: &str,
) -> anyhow::Result<()> {
    let mut script = volume::read_data(vol.mode);
    if vol.mode == VolMode::Block {
        script.push_str(&format!(" && blockdev --getsize64 {MOUNT_PATH}"));
    }
    let out = volume::run_on(cx, config, "reader", vol, &script).await?;
    let mut lines = out.lines().map(str::trim);
    expect(lines.next().map(str::to_string))
        .described_as("data after the resize")
        .to_equal(Some(expected.to_string()))?;
    if vol.mode == VolMode::Block {
        let bytes = lines.next().and_then(|l| l.parse::<u64>().ok());
        expect(bytes)
            .described_as(format!("size of the block device after growing to {size}"))
            .to_equal(bytes_of(size))?;
    }
    Ok(())
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
    wait_resized(config, name, size, false).await.map(|_| ())
}

/// Waits until claim `name` reports capacity `size` — or, when `or_pending`, until the
/// controller side is done and the node side waits for a pod (`FileSystemResizePending`; the
/// driver asked for node expansion, which happens when a pod next uses the volume). Returns
/// whether the node side is pending.
async fn wait_resized(
    config: &crate::driver::PerTestConfig,
    name: &str,
    size: &str,
    or_pending: bool,
) -> anyhow::Result<bool> {
    let api: Api<PersistentVolumeClaim> = config.framework.api();
    let pending = std::sync::atomic::AtomicBool::new(false);
    volume::poll_until(
        &format!("claim {name} to report capacity {size}"),
        config.framework.timeouts().claim_provision,
        || async {
            let status = api.get(name).await?.status.unwrap_or_default();
            let waits_for_node = status
                .conditions
                .iter()
                .flatten()
                .any(|c| c.type_ == "FileSystemResizePending" && c.status == "True");
            let cap = status.capacity.and_then(|c| c.get("storage").cloned());
            if or_pending && waits_for_node {
                pending.store(true, std::sync::atomic::Ordering::Relaxed);
                return Ok(());
            }
            ensure!(
                cap == Some(Quantity(size.to_string())),
                "capacity is {cap:?}"
            );
            Ok(())
        },
    )
    .await?;
    Ok(pending.into_inner())
}

fn define(s: &mut Container, sc: &SuiteContext) {
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
    let missing = needs(
        sc.driver.as_ref(),
        Capability::OfflineExpansion,
        "offline expansion",
    );
    sc.it_unless(s, offline, missing, move |cx, driver, pattern| async move {
        let (config, vol) = volume::setup_volume(&cx, &driver, &pattern).await?;
        let claim = vol.claim.clone().context("claim")?;
        volume::write_volume(&cx, &config, "writer", &vol, "before-resize").await?;
        let bigger = grow(&driver.driver_info().claim_size());
        cx.by(format!(
            "expanding claim {claim} to {bigger} while no pod uses it"
        ));
        resize(&config.framework.api(), &claim, &bigger).await?;
        let pending = wait_resized(&config, &claim, &bigger, true).await?;
        check_after_resize(&cx, &config, &vol, &bigger, "before-resize").await?;
        if pending {
            cx.by("the node side of the resize ran when the reader used the volume");
            wait_capacity(&config, &claim, &bigger).await?;
        }
        Ok(())
    });
    let online = "should resize volume when PVC is edited while pod is using it";
    let missing = needs(
        sc.driver.as_ref(),
        Capability::OnlineExpansion,
        "online expansion",
    );
    sc.it_unless(s, online, missing, move |cx, driver, pattern| async move {
        let (config, vol) = volume::setup_volume(&cx, &driver, &pattern).await?;
        let claim = vol.claim.clone().context("claim")?;
        let f = config.framework.clone();
        let pod = volume::pod_with_modes(
            &config,
            "user",
            &[("volume1", &vol.source, vol.mode)],
            &format!("{} && sleep 3600", volume::write_data(vol.mode, "in-use")),
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
        check_after_resize(&cx, &config, &vol, &bigger, "in-use").await
    });
}

#[cfg(test)]
mod tests {
    #[test]
    fn growing_keeps_the_unit() {
        assert_eq!(super::grow("1Mi"), "2Mi");
        assert_eq!(super::grow("5Gi"), "10Gi");
        assert_eq!(super::bytes_of("2Mi"), Some(2 << 20));
        assert_eq!(super::bytes_of("2M"), None);
    }
}
