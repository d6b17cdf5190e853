use super::{block_needs_capability, needs};
use crate::capability::Capability;
use crate::pattern::{VolMode, VolType, patterns};
use crate::suite::{SuiteContext, TestSuite};
use crate::volume::{self, MOUNT_PATH};
use k8s_openapi::api::core::v1::PersistentVolume;
use kube_e2e::prelude::*;

/// `provisioning`: dynamic provisioning with defaults and from data sources, data checked
/// through pods.
pub fn provisioning() -> TestSuite {
    TestSuite {
        name: "provisioning",
        tags: vec![],
        patterns: vec![
            patterns::default_fs_dynamic_pv(),
            patterns::block_vol_mode_dynamic_pv(),
            patterns::ntfs_dynamic_pv(),
        ],
        skip: |d, p| {
            if p.vol_type != VolType::DynamicPv {
                return Some("provisioning needs dynamic PVs".into());
            }
            block_needs_capability(d, p)
        },
        define,
    }
}

fn define(s: &mut Container, sc: &SuiteContext) {
    let info = sc.driver.driver_info().clone();
    let block = sc.pattern.vol_mode == VolMode::Block;
    let (driver, pattern) = (sc.driver.clone(), sc.pattern.clone());
    s.it("should provision storage with defaults", move |cx| {
        let (driver, pattern) = (driver.clone(), pattern.clone());
        async move {
            let (config, vol) = volume::setup_volume(&cx, &driver, &pattern).await?;
            let claim = vol
                .claim
                .clone()
                .context("a dynamic PV pattern makes a claim")?;
            let pvc = volume::wait_bound(&config, &claim).await?;
            cx.by("checking the bound volume");
            let pv_name = pvc
                .spec
                .as_ref()
                .and_then(|s| s.volume_name.clone())
                .context("no volume name")?;
            let pv = config
                .framework
                .api_all::<PersistentVolume>()
                .get(&pv_name)
                .await?;
            let spec = pv.spec.context("PV without spec")?;
            expect(spec.storage_class_name.clone()).to_equal(
                vol.storage_class
                    .as_ref()
                    .and_then(|c| c.metadata.name.clone()),
            )?;
            expect(spec.csi.as_ref().map(|c| c.driver.clone()))
                .to_equal(Some(config.driver_name.clone()))?;
            expect(spec.access_modes.clone().unwrap_or_default())
                .to(contain_element(driver.driver_info().access_mode()))?;
            if pattern.vol_mode == VolMode::Filesystem {
                cx.by("writing and reading data through two pods");
                volume::run_script(
                    &cx,
                    &config,
                    "writer",
                    &vol.source,
                    &volume::write_file("data", "provisioned"),
                )
                .await?;
                let out = volume::run_script(
                    &cx,
                    &config,
                    "reader",
                    &vol.source,
                    &format!("cat {MOUNT_PATH}/data"),
                )
                .await?;
                expect(out.trim().to_string()).to_equal("provisioned".to_string())?;
            }
            Ok(())
        }
    });

    let text = "should provision storage with snapshot data source";
    // A driver that leaves out the snapshot patterns cannot restore a snapshot either.
    let snapshots_refused = sc
        .driver
        .skip_unsupported(&patterns::dynamic_snapshot_delete());
    if let Some(r) = snapshots_refused
        .or_else(|| {
            needs(
                sc.driver.as_ref(),
                Capability::SnapshotDataSource,
                "snapshots as data source",
            )
        })
        .or_else(|| {
            sc.driver
                .as_snapshottable()
                .is_none()
                .then(|| format!("driver {} has no snapshot class", info.name))
        })
        .or_else(|| block.then(|| "data is checked through a file system".to_string()))
    {
        sc.drop_spec(s, text, r);
    } else {
        let (driver, pattern) = (sc.driver.clone(), sc.pattern.clone());
        s.it(text, move |cx| {
            let (driver, pattern) = (driver.clone(), pattern.clone());
            async move {
                let (config, vol) = volume::setup_volume(&cx, &driver, &pattern).await?;
                let claim = vol.claim.clone().context("claim")?;
                volume::run_script(
                    &cx,
                    &config,
                    "writer",
                    &vol.source,
                    &volume::write_file("data", "before-snapshot"),
                )
                .await?;
                let snap = volume::create_snapshot(&cx, driver.as_ref(), &config, &claim, "Delete")
                    .await?;
                let snap_name = snap.metadata.name.clone().unwrap_or_default();
                cx.by("changing the source after the snapshot");
                volume::run_script(
                    &cx,
                    &config,
                    "changer",
                    &vol.source,
                    &volume::write_file("data", "after-snapshot"),
                )
                .await?;
                let class = vol
                    .storage_class
                    .and_then(|c| c.metadata.name)
                    .unwrap_or_default();
                let info = driver.driver_info();
                let restored = volume::claim(
                    "restored",
                    &class,
                    &info.access_mode(),
                    &info.claim_size(),
                    VolMode::Filesystem,
                    Some(volume::snapshot_source(&snap_name)),
                )?;
                volume::create_claim(&config, &restored).await?;
                let src = serde_json::json!({"persistentVolumeClaim": {"claimName": "restored"}});
                let out = volume::run_script(
                    &cx,
                    &config,
                    "restored-reader",
                    &src,
                    &format!("cat {MOUNT_PATH}/data"),
                )
                .await?;
                expect(out.trim().to_string())
                    .described_as("data in the restored claim")
                    .to_equal("before-snapshot".to_string())?;
                Ok(())
            }
        });
    }

    let text = "should provision storage with pvc data source";
    if let Some(r) = needs(
        sc.driver.as_ref(),
        Capability::PvcDataSource,
        "cloning from a PVC",
    )
    .or_else(|| block.then(|| "data is checked through a file system".to_string()))
    {
        sc.drop_spec(s, text, r);
    } else {
        let (driver, pattern) = (sc.driver.clone(), sc.pattern.clone());
        s.it(text, move |cx| {
            let (driver, pattern) = (driver.clone(), pattern.clone());
            async move {
                let (config, vol) = volume::setup_volume(&cx, &driver, &pattern).await?;
                let claim = vol.claim.clone().context("claim")?;
                volume::run_script(
                    &cx,
                    &config,
                    "writer",
                    &vol.source,
                    &volume::write_file("data", "cloned-data"),
                )
                .await?;
                let class = vol
                    .storage_class
                    .and_then(|c| c.metadata.name)
                    .unwrap_or_default();
                let info = driver.driver_info();
                let clone = volume::claim(
                    "clone",
                    &class,
                    &info.access_mode(),
                    &info.claim_size(),
                    VolMode::Filesystem,
                    Some(volume::claim_source(&claim)),
                )?;
                volume::create_claim(&config, &clone).await?;
                let src = serde_json::json!({"persistentVolumeClaim": {"claimName": "clone"}});
                let out = volume::run_script(
                    &cx,
                    &config,
                    "clone-reader",
                    &src,
                    &format!("cat {MOUNT_PATH}/data"),
                )
                .await?;
                expect(out.trim().to_string())
                    .described_as("data in the clone")
                    .to_equal("cloned-data".to_string())?;
                Ok(())
            }
        });
    }

    if info.supported_mount_options.is_empty() {
        sc.drop_spec(
            s,
            "should provision storage with mount options",
            format!("driver {} declares no supported mount options", info.name),
        );
    } else {
        sc.drop_spec(
            s,
            "should provision storage with mount options",
            "not implemented yet in kube-e2e-storage",
        );
    }
}
