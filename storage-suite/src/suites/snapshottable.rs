use super::needs;
use crate::capability::Capability;
use crate::pattern::{SnapshotType, VolMode, patterns};
use crate::suite::{SuiteContext, TestSuite};
use crate::volume::{self, MOUNT_PATH, snapshot_resource};
use kube::api::{Api, DeleteParams, DynamicObject};
use kube_e2e::prelude::*;

/// `snapshottable`: snapshots are created, restored and deleted as their policy says.
pub fn snapshottable() -> TestSuite {
    TestSuite {
        name: "snapshottable",
        tags: vec![],
        patterns: vec![
            patterns::dynamic_snapshot_delete(),
            patterns::dynamic_snapshot_retain(),
            patterns::preprovisioned_snapshot_delete(),
            patterns::preprovisioned_snapshot_retain(),
            patterns::ephemeral_snapshot_delete(),
            patterns::ephemeral_snapshot_retain(),
        ],
        skip: |d, p| {
            needs(d, Capability::SnapshotDataSource, "snapshots")
                .or_else(|| d.as_snapshottable().is_none().then(|| format!("driver {} has no snapshot class", d.driver_info().name)))
                .or_else(|| (p.snapshot_type != Some(SnapshotType::Dynamic)).then(|| "pre-provisioned and ephemeral snapshots are not implemented yet in kube-e2e-storage".into()))
        },
        define,
    }
}

fn define(s: &mut Container, sc: &SuiteContext) {
    let (driver, pattern) = (sc.driver.clone(), sc.pattern.clone());
    s.it(
        "should check snapshot fields, check restore correctly works, check deletion",
        move |cx| {
            let (driver, pattern) = (driver.clone(), pattern.clone());
            async move {
                let policy = pattern
                    .snapshot_deletion_policy
                    .map(|p| p.as_str())
                    .unwrap_or("Delete");
                let config = volume::setup(&cx, &driver).await?;
                let f = config.framework.clone();
                let vol = volume::create_volume(driver.as_ref(), &config, &pattern).await?;
                let claim = vol.claim.clone().context("claim")?;
                volume::run_script(
                    &cx,
                    &config,
                    "writer",
                    &vol.source,
                    &volume::write_file("data", "snapshotted"),
                )
                .await?;
                let snap =
                    volume::create_snapshot(&cx, driver.as_ref(), &config, &claim, policy).await?;
                let snap_name = snap.metadata.name.clone().unwrap_or_default();
                cx.by("checking the snapshot's content");
                let content_name = snap.data["status"]["boundVolumeSnapshotContentName"]
                    .as_str()
                    .context("snapshot without bound content")?
                    .to_string();
                let contents: Api<DynamicObject> = Api::all_with(
                    f.client().clone(),
                    &snapshot_resource("VolumeSnapshotContent"),
                );
                let content = contents.get(&content_name).await?;
                expect(content.data["spec"]["deletionPolicy"].as_str()).to_equal(Some(policy))?;
                expect(content.data["spec"]["driver"].as_str())
                    .to_equal(Some(config.driver_name.as_str()))?;
                expect(
                    content.data["status"]["snapshotHandle"]
                        .as_str()
                        .is_some_and(|h| !h.is_empty()),
                )
                .described_as("content has a snapshot handle")
                .to_equal(true)?;
                cx.by("restoring the snapshot into a new claim");
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
                    .to_equal("snapshotted".to_string())?;
                cx.by(format!("deleting the snapshot ({policy} policy)"));
                let snapshots: Api<DynamicObject> = Api::namespaced_with(
                    f.client().clone(),
                    f.namespace(),
                    &snapshot_resource("VolumeSnapshot"),
                );
                snapshots
                    .delete(&snap_name, &DeleteParams::default())
                    .await?;
                f.wait_for_deleted(&snapshots, &snap_name).await?;
                if policy == "Delete" {
                    f.wait_for_deleted(&contents, &content_name).await?;
                } else {
                    volume::poll_until(
                        "the retained content to stay",
                        f.timeouts().poll * 3,
                        || async {
                            let c = contents.get(&content_name).await?;
                            ensure!(
                                c.metadata.deletion_timestamp.is_none(),
                                "content is being deleted"
                            );
                            Ok(())
                        },
                    )
                    .await?;
                    contents
                        .delete(&content_name, &DeleteParams::default())
                        .await?;
                    f.wait_for_deleted(&contents, &content_name).await?;
                }
                Ok(())
            }
        },
    );
}
