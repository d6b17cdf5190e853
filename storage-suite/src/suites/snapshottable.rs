use super::needs;
use crate::capability::Capability;
use crate::driver::PerTestConfig;
use crate::pattern::{SnapshotType, patterns};
use crate::suite::{SuiteContext, TestSuite};
use crate::volume::{self, snapshot_resource};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, DynamicObject, PostParams};
use kube_e2e::conditions::{self, Progress};
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
                .or_else(|| {
                    d.as_snapshottable()
                        .is_none()
                        .then(|| format!("driver {} has no snapshot class", d.driver_info().name))
                })
                .or_else(|| {
                    (p.snapshot_type.is_none()).then(|| "the pattern has no snapshot type".into())
                })
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
                let snap = if pattern.snapshot_type == Some(SnapshotType::Ephemeral) {
                    // The claim of a running pod's generic ephemeral volume is snapshotted.
                    let writer = volume::pod(
                        &config,
                        "writer",
                        &[("volume1", &vol.source)],
                        &format!(
                            "{} && sleep 3600",
                            volume::write_file("data", "snapshotted")
                        ),
                    )?;
                    f.api::<Pod>()
                        .create(&PostParams::default(), &writer)
                        .await?;
                    f.wait_for_pod_running("writer").await?;
                    volume::create_snapshot(&cx, driver.as_ref(), &config, "writer-volume1", policy)
                        .await?
                } else {
                    let claim = vol.claim.clone().context("claim")?;
                    volume::run_script(
                        &cx,
                        &config,
                        "writer",
                        &vol.source,
                        &volume::write_file("data", "snapshotted"),
                    )
                    .await?;
                    if pattern.snapshot_type == Some(SnapshotType::Preprovisioned) {
                        let taken = volume::create_snapshot(
                            &cx,
                            driver.as_ref(),
                            &config,
                            &claim,
                            "Retain",
                        )
                        .await?;
                        preprovision(&cx, &config, &taken, policy).await?
                    } else {
                        volume::create_snapshot(&cx, driver.as_ref(), &config, &claim, policy)
                            .await?
                    }
                };
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
                let source = volume::snapshot_source(&snap_name);
                let out =
                    volume::read_new_claim(&cx, driver.as_ref(), &config, &vol, "restored", source)
                        .await?;
                expect(out)
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

/// Turns a dynamically taken snapshot (Retain policy) into a pre-provisioned one, as an
/// administrator importing an existing snapshot would: the snapshot and its content are
/// deleted (the snapshot on the storage stays), then a VolumeSnapshotContent naming the
/// snapshot handle and a VolumeSnapshot bound to it are created. Returns the new snapshot,
/// ready to use.
async fn preprovision(
    cx: &SpecContext,
    config: &PerTestConfig,
    taken: &DynamicObject,
    policy: &str,
) -> anyhow::Result<DynamicObject> {
    let f = &config.framework;
    let snapshots: Api<DynamicObject> = Api::namespaced_with(
        f.client().clone(),
        f.namespace(),
        &snapshot_resource("VolumeSnapshot"),
    );
    let contents: Api<DynamicObject> = Api::all_with(
        f.client().clone(),
        &snapshot_resource("VolumeSnapshotContent"),
    );
    let taken_name = taken.metadata.name.clone().unwrap_or_default();
    let taken_content = taken.data["status"]["boundVolumeSnapshotContentName"]
        .as_str()
        .context("snapshot without bound content")?
        .to_string();
    let handle = contents.get(&taken_content).await?.data["status"]["snapshotHandle"]
        .as_str()
        .context("content without snapshot handle")?
        .to_string();
    cx.by(format!(
        "releasing snapshot handle {handle} from {taken_name}"
    ));
    snapshots
        .delete(&taken_name, &DeleteParams::default())
        .await?;
    f.wait_for_deleted(&snapshots, &taken_name).await?;
    contents
        .delete(&taken_content, &DeleteParams::default())
        .await?;
    f.wait_for_deleted(&contents, &taken_content).await?;
    let name = "pre-provisioned";
    let content_name = format!("{name}-{}", f.namespace());
    cx.by(format!(
        "importing it as content {content_name} and snapshot {name}"
    ));
    let mut content =
        DynamicObject::new(&content_name, &snapshot_resource("VolumeSnapshotContent"));
    content.data = serde_json::json!({"spec": {
        "deletionPolicy": policy,
        "driver": config.driver_name,
        "source": {"snapshotHandle": handle},
        "volumeSnapshotRef": {"name": name, "namespace": f.namespace()},
    }});
    contents.create(&PostParams::default(), &content).await?;
    let mut snap = DynamicObject::new(name, &snapshot_resource("VolumeSnapshot"));
    snap.data =
        serde_json::json!({"spec": {"source": {"volumeSnapshotContentName": content_name}}});
    snapshots.create(&PostParams::default(), &snap).await?;
    let ready = conditions::wait_for(
        &snapshots,
        name,
        &format!("pre-provisioned snapshot {name} to be ready to use"),
        f.timeouts().snapshot_create,
        Some(cx.cancellation_token()),
        |s: Option<&DynamicObject>| match s {
            Some(s) if s.data["status"]["readyToUse"].as_bool() == Some(true) => Progress::Done,
            Some(s) => Progress::Waiting(format!("status {}", s.data["status"])),
            None => Progress::Waiting("not found".into()),
        },
    )
    .await?;
    ready.context("the snapshot vanished")
}
