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
    sc.it(
        s,
        "should provision storage with defaults",
        move |cx, driver, pattern| async move {
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
            cx.by("writing and reading data through two pods");
            volume::write_volume(&cx, &config, "writer", &vol, "provisioned").await?;
            let out = volume::read_volume(&cx, &config, "reader", &vol).await?;
            expect(out).to_equal("provisioned".to_string())?;
            Ok(())
        },
    );

    let text = "should provision storage with snapshot data source";
    // A driver that leaves out the snapshot patterns cannot restore a snapshot either.
    let snapshots_refused = sc
        .driver
        .skip_unsupported(&patterns::dynamic_snapshot_delete());
    let missing = snapshots_refused
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
        });
    sc.it_unless(s, text, missing, move |cx, driver, pattern| async move {
        let (config, vol) = volume::setup_volume(&cx, &driver, &pattern).await?;
        let claim = vol.claim.clone().context("claim")?;
        volume::write_volume(&cx, &config, "writer", &vol, "before-snapshot").await?;
        let snap = volume::create_snapshot(&cx, driver.as_ref(), &config, &claim, "Delete").await?;
        let snap_name = snap.metadata.name.clone().unwrap_or_default();
        cx.by("changing the source after the snapshot");
        volume::write_volume(&cx, &config, "changer", &vol, "after-snapshot").await?;
        let source = volume::snapshot_source(&snap_name);
        let out =
            volume::read_new_claim(&cx, driver.as_ref(), &config, &vol, "restored", source).await?;
        expect(out)
            .described_as("data in the restored claim")
            .to_equal("before-snapshot".to_string())?;
        Ok(())
    });

    let text = "should provision storage with pvc data source";
    let missing = needs(
        sc.driver.as_ref(),
        Capability::PvcDataSource,
        "cloning from a PVC",
    );
    sc.it_unless(s, text, missing, move |cx, driver, pattern| async move {
        let (config, vol) = volume::setup_volume(&cx, &driver, &pattern).await?;
        let claim = vol.claim.clone().context("claim")?;
        volume::write_volume(&cx, &config, "writer", &vol, "cloned-data").await?;
        let source = volume::claim_source(&claim);
        let out =
            volume::read_new_claim(&cx, driver.as_ref(), &config, &vol, "clone", source).await?;
        expect(out)
            .described_as("data in the clone")
            .to_equal("cloned-data".to_string())?;
        Ok(())
    });

    let text = "should provision storage with mount options";
    let missing = if info.supported_mount_options.is_empty() {
        Some(format!(
            "driver {} declares no supported mount options",
            info.name
        ))
    } else if block {
        Some("mount options apply to file system volumes only".to_string())
    } else {
        None
    };
    sc.it_unless(s, text, missing, move |cx, driver, pattern| async move {
        let config = volume::setup(&cx, &driver).await?;
        let info = driver.driver_info();
        let options: Vec<String> = info
            .supported_mount_options
            .union(&info.required_mount_options)
            .cloned()
            .collect();
        cx.by(format!("provisioning with mount options {options:?}"));
        let class =
            volume::create_adjusted_storage_class(driver.as_ref(), &config, &pattern, None, |sc| {
                sc.mount_options = Some(options.clone())
            })
            .await?;
        let class = class.metadata.name.unwrap_or_default();
        let claim = volume::Claim::for_driver("mount-options", info)
            .storage_class(class)
            .build()?;
        volume::create_claim(&config, &claim).await?;
        let source = serde_json::json!({"persistentVolumeClaim": {"claimName": "mount-options"}});
        let out = volume::run_script(
            &cx,
            &config,
            "mount-options",
            &source,
            &format!(
                "{} && cat {MOUNT_PATH}/data && grep ' {MOUNT_PATH} ' /proc/mounts",
                volume::write_file("data", "with-options")
            ),
        )
        .await?;
        let mut lines = out.lines();
        expect(lines.next().map(str::to_string))
            .described_as("data read back through the mount")
            .to_equal(Some("with-options".to_string()))?;
        let mount = lines.next().unwrap_or_default().to_string();
        let flags: Vec<&str> = mount
            .split_whitespace()
            .nth(3)
            .unwrap_or_default()
            .split(',')
            .collect();
        for option in &options {
            expect(flags.contains(&option.as_str()))
                .described_as(format!("option {option} in the pod's mount `{mount}`"))
                .to_equal(true)?;
        }
        let pvc = volume::wait_bound(&config, "mount-options").await?;
        let pv_name = pvc
            .spec
            .and_then(|s| s.volume_name)
            .context("no volume name")?;
        let pv = config
            .framework
            .api_all::<PersistentVolume>()
            .get(&pv_name)
            .await?;
        expect(pv.spec.and_then(|s| s.mount_options))
            .described_as(format!("mount options of volume {pv_name}"))
            .to_equal(Some(options.clone()))?;
        Ok(())
    });
}
